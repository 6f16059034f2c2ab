"""What a sweep will cost before it starts: its size and a memory estimate, and a refusal of
what cannot fit.

The estimate counts the large arrays of one chunk's program (private data, α, the parameters
the solver carries, one round's synthetic samples and their statistics, the traces) and the
host-side results of every point (a row and two traces each). It is an estimate — XLA's own
temporaries come on top — and errs on the side of refusing only what clearly cannot fit.
"""

from __future__ import annotations

import os
from typing import Any

from gtgen.sweep.config import DENSE_MAX, SweepConfig, shape_key

_STATS = {
    "gaussian": lambda d: 2 * d,
    "gaussian-full": lambda d: d + d * d,
    "bernoulli": lambda d: d,
    "poisson": lambda d: d,
    "categorical": lambda d: d,
}
ROW_BYTES = 2_000  # one result row as Python objects
PARAM_COPIES = 8  # parameters, average, best response, Anderson history … per player


def point_bytes(s: dict[str, Any]) -> int:
    """Device memory of one point's program (bytes, float32)."""
    n, d, size = s["players"], s["dim"], s["data_size"]
    stats = _STATS.get(s["family"])
    if stats is None:  # neural players: small, fixed-size models on the embedded digits
        return 64 * 2**20
    k = stats(d)
    event = 1 if s["family"] == "categorical" else d
    alpha = n * n if n <= DENSE_MAX else n * 8
    data = n * size * (event + 1)
    params = PARAM_COPIES * n * k * max(1, s["memory"] if s["method"] == "anderson" else 1)
    sampled = n * s["samples"] * (event + k) if s["method"] == "sampled" else 0
    own = n * size * k  # the own-data statistics, formed once
    return 4 * (alpha + data + params + sampled + own + 2 * s["rounds"])


def estimate(cfg: SweepConfig) -> dict[str, int]:
    """``points``, ``shapes``, ``chunk_bytes`` (the largest chunk's program) and
    ``results_bytes`` (every point's row and traces on the host)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for p in cfg.points:
        groups.setdefault(shape_key(p.settings), []).append(p.settings)
    chunk = max(min(len(g), cfg.batch) * point_bytes(g[0]) for g in groups.values())
    one = max(point_bytes(g[0]) for g in groups.values())
    results = sum(ROW_BYTES + 2 * 8 * p.settings["rounds"] for p in cfg.points)
    return {
        "points": len(cfg.points),
        "shapes": len(groups),
        "chunk_bytes": int(chunk),
        "point_bytes": int(one),
        "results_bytes": int(results),
    }


def available_bytes() -> int | None:
    """Memory this machine can still give (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def describe(est: dict[str, int]) -> str:
    return (
        f"sweep: {est['points']:,} points in {est['shapes']} shape"
        f"{'s' if est['shapes'] != 1 else ''}; memory ≈ {_size(est['chunk_bytes'])} per "
        f"chunk and {_size(est['results_bytes'])} for the results"
    )


def check_fits(est: dict[str, int], available: int | None = None) -> None:
    """ValueError when the estimate exceeds the memory available."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    if est["point_bytes"] > available:
        raise ValueError(
            f"dim: one point alone needs ≈ {_size(est['point_bytes'])}, more than "
            f"the {_size(available)} available; reduce dim, players, data_size or "
            "samples"
        )
    need = est["chunk_bytes"] + est["results_bytes"]
    if need > available:
        which = (
            "batch (fewer points per chunk)"
            if est["chunk_bytes"] > est["results_bytes"]
            else "seeds or the grid (fewer points)"
        )
        raise ValueError(
            f"{which.split()[0]}: {describe(est)[7:]}, more than the "
            f"{_size(available)} available; reduce {which}"
        )


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"

"""Sweep settings: read a TOML file or keyword arguments, validate, expand into points.

A sweep is one flat table of settings. A setting given as a list is a grid axis; the sweep is the
Cartesian product of all axes (``seeds = 32`` is the axis 0 … 31). ``[[points]]`` tables instead
list sub-grids, each overriding the top-level settings; the sweep is then their union.

Every problem is one ``ValueError`` whose message starts with the offending field
(``a[3]: …``, ``points[1].players: …``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gtgen.exchange import ROUTINGS
from gtgen.files import read_toml
from gtgen.solvers.solve import METHODS
from gtgen.sweep.kinds import FAMILY_NAMES, kind_of

ALPHA_FAMILIES = ("uniform", "dirichlet", "ring", "star", "small-world")

# Above this many players a point uses the structured (sparse) α and the O(N·m) round of
# gtgen.sweep.structured: a dense α for 10^5 players would take 40 GB.
DENSE_MAX = 1024
# Most points of one sweep: each keeps a result row and a distance trace in memory.
MAX_POINTS = 1_000_000

# Synthetic poisson rates exp(spread/2 · g) stay below ~1e17 for |g| ≤ 5.
POISSON_MAX_SPREAD = 16.0


def _int(low: int, high: int | None = None) -> Callable[[str, Any], int]:
    def check(field: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{field}: must be an integer, got {v!r}")  # noqa: TRY004 - bad settings are ValueErrors
        if v < low or (high is not None and v > high):
            span = f"≥ {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"{field}: must be an integer {span}, got {v}")
        return int(v)

    return check


def _float(low: float, high: float = math.inf, *, open_low: bool = False) -> Callable:
    def check(field: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{field}: must be a number, got {v!r}")  # noqa: TRY004 - bad settings are ValueErrors
        v = float(v)
        bad = not math.isfinite(v) or v > high or (v <= low if open_low else v < low)
        if bad:
            left = "(" if open_low else "["
            right = "]" if math.isfinite(high) else ")"
            raise ValueError(
                f"{field}: must be a number in {left}{low:g}, {high:g}{right}, got {v!r}"
            )
        return v

    return check


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(field: str, v: Any) -> str:
        if not isinstance(v, str) or v not in options:
            raise ValueError(f"{field}: unknown value {v!r}; choose one of {', '.join(options)}")
        return v

    return check


def _optional(inner: Callable) -> Callable:
    def check(field: str, v: Any):
        return None if v is None else inner(field, v)

    return check


# name -> (validator, default, help). Order is the grid's nesting order (seed varies fastest).
SETTINGS: dict[str, tuple[Callable[[str, Any], Any], Any, str]] = {
    "family": (
        _choice(FAMILY_NAMES),
        "gaussian",
        "exponential family of every player, or vae (neural players on the digits)",
    ),
    "dim": (_int(1, 4096), 2, "sample dimension (number of classes for categorical)"),
    "players": (_int(2, 10_000_000), 8, "number of players N"),
    "alpha": (_choice(ALPHA_FAMILIES), "uniform", "how the weight 1 - a is spread over others"),
    "a": (_float(0.0, 1.0), 0.5, "self-weight α_ii of every player"),
    "concentration": (_float(0.0, open_low=True), 1.0, "Dirichlet concentration (dirichlet)"),
    "neighbors": (_int(1), 2, "neighbours per player on the ring (ring, small-world)"),
    "rewire": (_float(0.0, 1.0), 0.1, "rewiring probability (small-world)"),
    "data_size": (_int(1, 100_000_000), 100, "private samples per player (synthetic data)"),
    "spread": (_float(0.0, 1e6), 2.0, "scale of the players' differences (synthetic data)"),
    "method": (_choice(METHODS), "sampled", "solver: sampled, exact or anderson"),
    "routing": (_choice(ROUTINGS), "expected", "routing of synthetic samples (sampled method)"),
    "rounds": (_int(1, 10_000_000), 200, "most rounds per solve"),
    "samples": (_int(1, 100_000_000), 1000, "synthetic samples per player per round"),
    "damping": (_float(0.0, 1.0, open_low=True), 1.0, "step λ in μ ← μ + λ(BR(μ) − μ)"),
    "burn_in": (_optional(_int(0)), None, "rounds before iterate averaging (default rounds // 2)"),
    "tol": (_float(0.0, open_low=True), 1e-2, "distance to the closed form counted as reached"),
    "stop_tol": (_float(0.0), 1e-6, "exact / anderson: stop once the relative step is below"),
    "memory": (_int(1, 100), 5, "Anderson history length"),
    "seed": (_int(0, 2**32 - 1), 0, "seed of the data, α (random families) and the solver"),
}
GRID_KEYS = tuple(SETTINGS)
# Keys that are not grid axes.
OTHER_KEYS = ("seeds", "data_file", "batch", "points")
KNOWN_KEYS = tuple(k for k in GRID_KEYS if k != "seed") + OTHER_KEYS

# Settings that fix the shapes of the compiled program (besides the data's shape).
SHAPE_KEYS = ("family", "dim", "players", "method", "routing", "rounds", "samples", "memory")


class Point(NamedTuple):
    """One sweep point: its index and the full, validated settings."""

    index: int
    settings: dict[str, Any]


class SweepConfig(NamedTuple):
    points: tuple[Point, ...]
    batch: int  # most points per compiled call (and per resumable chunk)
    data_file: Path | None
    axes: tuple[str, ...]  # settings that vary across the points
    raw: dict[str, Any]  # the settings as given, JSON-ready


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep TOML file (a relative ``data_file`` is taken from its folder)."""
    path = Path(path)
    return parse_config(read_toml(path, "config"), base=path.parent)


def parse_config(raw: dict[str, Any], base: str | Path = ".") -> SweepConfig:
    """Validate a mapping of settings and expand it into points (see module docstring)."""
    if not isinstance(raw, dict):
        raise ValueError(f"config: must be a table of settings, got {type(raw).__name__}")  # noqa: TRY004 - bad settings are ValueErrors
    _reject_unknown(raw, "")
    batch = _int(1, 1_000_000)("batch", raw.get("batch", 256))
    data_file = raw.get("data_file")
    if data_file is not None:
        if not isinstance(data_file, (str, Path)) or not str(data_file):
            raise ValueError("data_file: must be the path of an .npz file")
        data_file = (Path(base) / data_file).resolve()
        if data_file.is_dir():
            raise ValueError(f"data_file: {data_file} is a folder, not an .npz file")
        if not data_file.is_file():
            raise ValueError(f"data_file: file {data_file} not found")
    top = {k: v for k, v in raw.items() if k not in ("batch", "data_file", "points")}
    if "points" in raw:
        entries = raw["points"]
        if not isinstance(entries, list) or not entries:
            raise ValueError("points: must be a non-empty list of tables ([[points]])")
        settings: list[dict[str, Any]] = []
        for j, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ValueError(f"points[{j}]: must be a table of settings")  # noqa: TRY004 - bad settings are ValueErrors
            _reject_unknown(entry, f"points[{j}].", allow_other=False)
        _check_size([({**top, **e}, f"points[{j}].") for j, e in enumerate(entries)])
        for j, entry in enumerate(entries):
            settings += _expand({**top, **entry}, f"points[{j}].")
    else:
        _check_size([(top, "")])
        settings = _expand(top, "")
    if data_file is None:
        _check_synthetic(settings)
    points = tuple(Point(i, s) for i, s in enumerate(settings))
    axes = tuple(k for k in GRID_KEYS if len({_hashable(p.settings[k]) for p in points}) > 1)
    return SweepConfig(points, batch, data_file, axes, _jsonable(raw))


def _reject_unknown(raw: dict[str, Any], prefix: str, allow_other: bool = True) -> None:
    known = (
        KNOWN_KEYS if allow_other else tuple(k for k in KNOWN_KEYS if k in GRID_KEYS) + ("seeds",)
    )
    for key in raw:
        if key not in known:
            hint = " (use seeds)" if key == "seed" else ""
            raise ValueError(
                f"{prefix}{key}: unknown setting{hint}; known settings are {', '.join(known)}"
            )


def grid_size(values: dict[str, Any]) -> tuple[int, str]:
    """Points of one table's grid and its longest axis, counted without expanding it."""
    size, longest, top = 1, "seeds", 0
    for key in GRID_KEYS:
        name = "seeds" if key == "seed" else key
        given = values.get(name)
        if key == "seed" and isinstance(given, int) and not isinstance(given, bool):
            n = max(given, 1)
        elif isinstance(given, list):
            n = max(len(given), 1)
        else:
            n = 1
        size *= n
        if n > top:
            longest, top = name, n
    return size, longest


def _check_size(tables: list[tuple[dict[str, Any], str]]) -> None:
    total = 0
    for values, prefix in tables:
        size, longest = grid_size(values)
        total += size
        if total > MAX_POINTS:
            raise ValueError(
                f"{prefix}{longest}: the sweep would have {total:,} points or more, above the "
                f"limit of {MAX_POINTS:,} per sweep; split it into several sweeps (each resumes "
                "on its own)"
            )


def _expand(values: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """The grid of one table: validated values per axis, then every combination, then checks."""
    axes: dict[str, list[Any]] = {}
    for key in GRID_KEYS:
        name = "seeds" if key == "seed" else key
        validate, default, _ = SETTINGS[key]
        given = values.get(name, default if key != "seed" else 1)
        if key == "seed" and not isinstance(given, list):
            count = _int(1, MAX_POINTS)(prefix + name, given)
            axes[key] = list(range(count))
            continue
        if isinstance(given, list):
            if not given:
                raise ValueError(f"{prefix}{name}: empty list, so the sweep has no points")
            axes[key] = [validate(f"{prefix}{name}[{i}]", v) for i, v in enumerate(given)]
            if len({_hashable(v) for v in axes[key]}) != len(axes[key]):
                raise ValueError(f"{prefix}{name}: lists a value twice")
        else:
            axes[key] = [validate(prefix + name, given)]
    out = []
    for combo in itertools.product(*axes.values()):
        s = dict(zip(axes, combo))
        _check_point(s, prefix)
        out.append(s)
    return out


def _check_point(s: dict[str, Any], prefix: str) -> None:
    """Checks that involve several settings of one point."""
    n, kind = s["players"], s["alpha"]
    if s["a"] == 0.0:
        raise ValueError(
            f"{prefix}a: 0 leaves every player without its own data, so ρ(B) = 1 and the "
            "equilibrium is not unique; use a > 0"
        )
    if kind in ("ring", "small-world") and s["neighbors"] > n - 1:
        raise ValueError(
            f"{prefix}neighbors: {s['neighbors']} neighbours need more than {n} players"
        )
    if s["burn_in"] is not None and s["burn_in"] > s["rounds"]:
        raise ValueError(f"{prefix}burn_in: {s['burn_in']} is more than rounds = {s['rounds']}")
    if s["family"] == "poisson" and s["spread"] > POISSON_MAX_SPREAD:
        raise ValueError(
            f"{prefix}spread: poisson rates are exp(spread/2 · g), g ~ N(0, 1); above "
            f"{POISSON_MAX_SPREAD:g} the counts overflow, got {s['spread']:g}"
        )
    if s["family"] == "categorical" and s["dim"] < 2:
        raise ValueError(f"{prefix}dim: a categorical player needs at least 2 classes")
    if s["method"] == "sampled" and s["routing"] == "meanfield" and kind != "uniform":
        raise ValueError(
            f'{prefix}routing: meanfield needs alpha = "uniform" (equal off-diagonal weights), '
            f"not {kind!r}"
        )
    kind_of(s["family"]).check(s, prefix)
    if n > DENSE_MAX:
        where = f"with {n} players (more than {DENSE_MAX}) α is kept sparse and"
        if kind == "dirichlet":
            raise ValueError(
                f"{prefix}alpha: dirichlet rows are dense; {where} needs ring, star, small-world "
                "or uniform"
            )
        if s["method"] == "anderson":
            raise ValueError(f"{prefix}method: {where} supports sampled and exact, not anderson")
        if s["method"] == "sampled" and s["routing"] == "sampled":
            raise ValueError(f"{prefix}routing: {where} supports expected and meanfield routing")


def _check_synthetic(settings: list[dict[str, Any]]) -> None:
    """Synthetic data that a family cannot use: a full covariance needs more samples than dims."""
    for s in settings:
        if s["family"] == "gaussian-full" and s["data_size"] <= s["dim"]:
            raise ValueError(
                f"data_size: {s['data_size']} samples in {s['dim']} dimensions give every "
                "gaussian-full player a singular covariance (no density); use data_size > dim"
            )


def shape_key(settings: dict[str, Any]) -> tuple:
    """What fixes the compiled program's shapes: points with equal keys share one program (the
    statistic draw takes the sample count as a traced input: key 0 for every m)."""
    structured = settings["players"] > DENSE_MAX
    kind = settings["alpha"] if structured else "dense"
    traced_m = kind_of(settings["family"]).draw(settings) != "samples"
    values = tuple(0 if traced_m and k == "samples" else settings[k] for k in SHAPE_KEYS)
    return values + (settings["data_size"], kind)


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v

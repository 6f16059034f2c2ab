"""A sweep's output folder: results.csv, results.parquet, sweep.json and the standard plots.

Every file is written to a temporary name and renamed into place, so an interrupted write never
leaves a half-written result (the resumable state lives in ``chunks/``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

PLOTS = ("distance_vs_rounds.png", "rate_vs_a.png", "error_vs_samples.png")
NEURAL_PLOT = "loss_vs_a.png"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if _plain(v) is None else _plain(v) for k, v in row.items()})
    _atomic_write(path, buf.getvalue().encode())


def table(rows: list[dict[str, Any]], traces: list[np.ndarray]):
    """The results as a pyarrow Table, with each point's distance trace as a list column."""
    import pyarrow as pa

    columns = {k: [_plain(r[k]) for r in rows] for k in rows[0]}
    columns["trace_distance"] = [[_plain(float(x)) for x in t] for t in traces]
    return pa.table(columns)


def write_parquet(path: Path, rows: list[dict[str, Any]], traces: list[np.ndarray]) -> str | None:
    """Write results.parquet; returns why it was skipped (pyarrow missing), else None."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return "pyarrow is not installed"
    sink = io.BytesIO()
    pq.write_table(table(rows, traces), sink)
    _atomic_write(path, sink.getvalue())
    return None


def write_json(path: Path, meta: dict[str, Any]) -> None:
    _atomic_write(path, (json.dumps(meta, indent=2, default=_plain) + "\n").encode())


# --- plots --------------------------------------------------------------------------------


def _figure():
    from matplotlib.figure import Figure  # no pyplot: no global state, any backend

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    return fig, fig.add_subplot()


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _atomic_write(path, buf.getvalue())


def _groups(rows, keys):
    out: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        out.setdefault(tuple(r[k] for k in keys), []).append(i)
    return out


def _nanmedians(rows, members, field: str, by: str, values) -> list:
    """For each of ``values``: the NaN-ignoring median of ``field`` over the ``members`` whose
    ``by`` equals it (NaN, without a warning, where all of them are NaN)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [np.nanmedian([rows[i][field] for i in members if rows[i][by] == v]) for v in values]


def plot_distance_vs_rounds(rows, traces, path: Path) -> None:
    """Median distance to the closed form after each round, one line per (method, α, a)."""
    fig, ax = _figure()
    groups = _groups(rows, ("method", "alpha", "a", "players"))
    colors = _colormap(len(groups))
    for (key, members), color in zip(sorted(groups.items(), key=lambda kv: str(kv[0])), colors):
        length = max(len(traces[i]) for i in members)
        stack = np.full((len(members), length), np.nan)
        for j, i in enumerate(members):
            stack[j, : len(traces[i])] = traces[i]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(stack, axis=0) if np.isfinite(stack).any() else stack[0]
        method, alpha, a, n = key
        ax.plot(
            np.arange(1, length + 1),
            med,
            color=color,
            lw=1.2,
            label=f"{method}, {alpha}, a={a:g}, N={n}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("max |μ − μ*| (median over seeds)")
    ax.set_title("Distance to the closed-form equilibrium")
    if len(groups) <= 12:
        ax.legend(fontsize=7)
    _save(fig, path)


def plot_rate_vs_a(rows, path: Path) -> None:
    """ρ(B) against the self-weight a per α family, with the rate observed in the traces."""
    fig, ax = _figure()
    for (alpha, method), members in sorted(_groups(rows, ("alpha", "method")).items()):
        a = np.array([rows[i]["a"] for i in members])
        order = np.unique(a)
        rho = [np.mean([rows[i]["rate"] for i in members if rows[i]["a"] == v]) for v in order]
        ax.plot(order, rho, "o-", label=f"ρ(B), {alpha}", ms=4)
        seen = _nanmedians(rows, members, "observed_rate", "a", order)
        if method != "sampled" and np.isfinite(seen).any():
            ax.plot(order, seen, "x", label=f"observed, {alpha}, {method}")
    grid = np.linspace(0, 1, 50)
    ax.plot(grid, 1 - grid, ":", color="gray", lw=1, label="1 − a")
    ax.set_xlabel("self-weight a")
    ax.set_ylabel("rate per round")
    ax.set_title("Convergence rate against self-weight")
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_error_vs_samples(rows, path: Path) -> None:
    """Final distance against synthetic samples per round (log-log), with a 1/√m guide."""
    fig, ax = _figure()
    for (method, alpha), members in sorted(_groups(rows, ("method", "alpha")).items()):
        m = np.array([rows[i]["samples"] for i in members])
        xs = np.unique(m)
        ys = _nanmedians(rows, members, "distance", "samples", xs)
        ax.plot(xs, ys, "o-", ms=4, label=f"{method}, {alpha}")
        if method == "sampled" and np.isfinite(ys[0]) and ys[0] > 0:
            ax.plot(xs, ys[0] * np.sqrt(xs[0] / xs), ":", color="gray", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("synthetic samples per player per round m")
    ax.set_ylabel("final max |μ̂ − μ*| (median)")
    ax.set_title("Error against samples (dotted: ∝ 1/√m)")
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_loss_vs_a(rows, path: Path) -> None:
    """Neural players: final training loss against the self-weight a (median over seeds)."""
    fig, ax = _figure()
    for (family, alpha, n), members in sorted(
        _groups(rows, ("family", "alpha", "players")).items()
    ):
        a = np.array([rows[i]["a"] for i in members])
        xs = np.unique(a)
        ys = [np.median([rows[i]["final_loss"] for i in members if rows[i]["a"] == v]) for v in xs]
        ax.plot(xs, ys, "o-", ms=4, label=f"{family}, {alpha}, N={n}")
    ax.set_xlabel("self-weight a")
    ax.set_ylabel("final training loss (median over seeds)")
    ax.set_title("Neural players: loss on own + synthetic data against a")
    ax.legend(fontsize=7)
    _save(fig, path)


def _colormap(n: int):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.9, max(n, 1))]

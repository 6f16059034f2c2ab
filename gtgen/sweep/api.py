"""``sweep(...)``: the entry point (see gtgen.sweep for the settings and the output folder)."""

from __future__ import annotations

import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from gtgen import xla_options
from gtgen.files import make_out_dir, read_toml
from gtgen.sweep import budget, output
from gtgen.sweep.config import GRID_KEYS, SweepConfig, load_config, parse_config
from gtgen.sweep.kinds import kind_of, write_plots
from gtgen.sweep.runner import (
    ChunkStore,
    DataFile,
    Placement,
    _shape_dict,
    chunk_inputs,
    compile_count,
    done_mask,
    observed_rate,
    plan,
    rounds_to_tol,
    structure_width,
    to_device_list,
)
from gtgen.sweep.watchdog import Watchdog

# Compiled programs of earlier sweeps in this process (a rerun or resume compiles nothing).
_PROGRAM_CACHE: dict[tuple, Any] = {}
_PROGRAM_CACHE_SIZE = 32

RESULT_COLUMNS = (
    "rate",
    "observed_rate",
    "rounds_run",
    "rounds_to_tol",
    "distance",
    "residual",
    "nash_gap_max",
    "nash_gap_mean",
    "final_loss",
    "wall_s",
)

# What a stored chunk must hold (one entry per point) to be reused on resume.
STORED_ARRAYS = (*RESULT_COLUMNS, "trace_distance", "trace_step")


class SweepResult(NamedTuple):
    """One row per point (settings, then RESULT_COLUMNS), distance traces, and the metadata."""

    rows: list[dict[str, Any]]
    traces: list[np.ndarray]  # per point: distance to the closed form after each round
    meta: dict[str, Any]  # what sweep.json holds
    out: Path | None

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    def table(self):
        """The rows as a pyarrow Table (needs pyarrow)."""
        return output.table(self.rows, self.traces)

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"SweepResult({m['points']} points, {m['distinct_shapes']} shapes, "
            f"{m['compilations']} compilations, {m['wall_s']:.2f} s)"
        )


def sweep(
    config: str | Path | dict[str, Any] | SweepConfig | None = None,
    /,
    *,
    out: str | Path | None = None,
    progress: bool = False,
    devices: Any = "all",
    plots: bool = True,
    on_chunk: Callable[[dict[str, Any]], None] | None = None,
    announce: Callable[[str], None] | None = None,
    watchdog: float | None = 300.0,
    stall_timeout: float | None = None,
    **settings: Any,
) -> SweepResult:
    """Solve every point of a grid of games, one compiled program per distinct shape.

    Args:
      config: a TOML file, a mapping of settings, or a parsed ``SweepConfig``; keyword
        ``settings`` are merged over it (``sweep(a=[0.2, 0.5], seeds=8)``).
      out: folder for results.csv / results.parquet / sweep.json / plots and the resumable
        ``chunks/``; rerunning with the same folder skips finished chunks. None keeps nothing.
      progress: show a progress bar (rich) on stderr.
      devices: ``"all"`` (every device JAX sees, all processes), a list of devices, or None for
        the default device only.
      plots: write the PNG plots into ``out``.
      on_chunk: called after each chunk with a small dict (group, points, resumed, wall_s).
      announce: called once before the work starts with a line stating the sweep's size and
        memory estimate (gtgen.sweep.budget); a sweep that cannot fit is refused before that.
      watchdog: while one compilation or chunk runs longer than this many seconds, write a line
        naming it to stderr (again every as many seconds); None: never (gtgen.sweep.watchdog).
      stall_timeout: end the process (exit status 3, one line naming the program) once one
        compilation or chunk has run this many seconds; None (default): wait.
    Raises:
      ValueError: a bad setting, naming the field.
    """
    dog = Watchdog(watchdog, stall_timeout)
    cfg = _resolve(config, settings)
    xla_options.compiler_options()  # probes the backend once (a compile not of this sweep)
    start = time.perf_counter()
    compiles0 = compile_count()
    if cfg.data_file is not None and any(
        not kind_of(p.settings["family"]).data_file for p in cfg.points
    ):
        raise ValueError(
            'data_file: neural players (family = "vae") train on the embedded '
            "digits; a data_file holds exponential-family data"
        )
    data_file = DataFile(cfg.data_file) if cfg.data_file is not None else None
    if data_file is not None:
        cfg = data_file.check(cfg)
    for p in cfg.points:
        kind_of(p.settings["family"])
    cost = budget.estimate(cfg)
    budget.check_fits(cost)
    if announce is not None:
        announce(budget.describe(cost))
    device_list = to_device_list(devices)
    if jax.process_count() > 1 and device_list is None:
        device_list = list(jax.devices())
    n_dev = len(device_list) if device_list else 1
    keys, chunks = plan(cfg, n_dev, data_file.digest if data_file else "synthetic")
    lead = jax.process_index() == 0
    out_dir = None if out is None else Path(out)
    created = out_dir is not None and lead and not out_dir.exists()
    if out_dir is not None and lead:
        make_out_dir(out_dir)
    store = ChunkStore(out_dir, writer=lead)
    done = done_mask(store, chunks)

    results: dict[int, dict[str, Any]] = {}
    traces: dict[int, np.ndarray] = {}
    shapes_meta = []
    bar = _Progress(len(cfg.points), enabled=progress and lead)
    programs = 0
    damaged = 0
    compile_s = 0.0
    try:
        for g, key in enumerate(keys):
            shape = _shape_dict(key)
            mine = [c for c in chunks if c.group == g]
            placement = Placement(shape, device_list)
            pad_k = None
            if shape["structure"] != "dense":
                pad_k = structure_width(p for c in mine for p in c.points)
            compiled, names, group_compile = None, None, 0.0
            for c, chunk in ((i, chunks[i]) for i in range(len(chunks)) if chunks[i].group == g):
                t0 = time.perf_counter()
                arrays = None
                if done[c]:
                    arrays = store.load(chunk.digest, len(chunk.points), STORED_ARRAYS)
                    if arrays is None:
                        damaged += 1
                        done[c] = False
                        print(
                            f"gtgen: warning: sweep: stored chunk {chunk.digest}.npz is damaged; "
                            "recomputing it",
                            file=sys.stderr,
                        )
                if arrays is not None:
                    resumed = True
                else:
                    resumed = False
                    inputs, host = chunk_inputs(shape, chunk.points, chunk.size, data_file, pad_k)
                    if compiled is None:
                        batch_fn, names = kind_of(shape["family"]).program(shape)
                        args = placement.put(inputs, names)
                        cache_key = (
                            key,
                            placement.description,
                            _device_ids(device_list),
                            tuple((n, a.shape, str(a.dtype)) for n, a in zip(names, args)),
                        )
                        compiled = _PROGRAM_CACHE.get(cache_key)
                        if compiled is None:
                            bar.describe(f"compiling shape {g + 1}/{len(keys)}")
                            tc = time.perf_counter()
                            with dog.watch(f"compiling {_program_name(g, len(keys), shape)}"):
                                compiled = placement.program(batch_fn, names).lower(*args).compile()
                            group_compile = time.perf_counter() - tc
                            compile_s += group_compile
                            programs += 1
                            _PROGRAM_CACHE[cache_key] = compiled
                            while len(_PROGRAM_CACHE) > _PROGRAM_CACHE_SIZE:
                                _PROGRAM_CACHE.pop(next(iter(_PROGRAM_CACHE)))
                    else:
                        args = placement.put(inputs, names)
                    jax.block_until_ready(args)
                    bar.describe(f"shape {g + 1}/{len(keys)}")
                    tr = time.perf_counter()
                    what = (
                        f"{_program_name(g, len(keys), shape)}, chunk {mine.index(chunk) + 1}/"
                        f"{len(mine)} on {placement.description}"
                    )
                    with dog.watch(what):
                        fetched = placement.fetch(jax.block_until_ready(compiled(*args)))
                    run_s = time.perf_counter() - tr
                    arrays = _chunk_arrays(chunk, fetched, host, run_s)
                    store.save(chunk.digest, arrays)
                for j, p in enumerate(chunk.points):
                    results[p.index] = _row_values(arrays, j)
                    traces[p.index] = arrays["trace_distance"][j]
                bar.advance(len(chunk.points))
                if on_chunk is not None:
                    on_chunk(
                        {
                            "group": g,
                            "points": len(chunk.points),
                            "resumed": resumed,
                            "wall_s": time.perf_counter() - t0,
                        }
                    )
            shapes_meta.append(
                {
                    **{k: v for k, v in shape.items()},
                    "points": sum(len(c.points) for c in mine),
                    "chunks": len(mine),
                    "chunk_size": mine[0].size,
                    "placement": placement.description,
                    "compile_s": group_compile,
                }
            )
    except BaseException:
        if created and not any((out_dir / "chunks").glob("*.npz")):
            shutil.rmtree(out_dir, ignore_errors=True)  # a failed start leaves nothing behind
        raise
    finally:
        bar.close()

    rows = []
    for p in cfg.points:
        row = {"point": p.index, **{k: p.settings[k] for k in GRID_KEYS}}
        if row["burn_in"] is None and row["method"] == "sampled":
            row["burn_in"] = row["rounds"] // 2
        row["shape"] = keys.index(_shape_key_of(p))
        row["draw"] = kind_of(p.settings["family"]).draw(p.settings)
        row.update(results[p.index])
        rows.append(row)
    trace_list = [traces[p.index] for p in cfg.points]
    wall = time.perf_counter() - start
    meta = {
        "points": len(cfg.points),
        "distinct_shapes": len(keys),
        "compilations": compile_count() - compiles0,
        "programs_compiled": programs,
        "wall_s": wall,
        "compile_s": compile_s,
        "computed_points": int(sum(len(c.points) for c, d in zip(chunks, done) if not d)),
        "resumed_points": int(sum(len(c.points) for c, d in zip(chunks, done) if d)),
        "chunks": len(chunks),
        "memory_estimate": cost,
        "recomputed_damaged_chunks": damaged,
        "axes": list(cfg.axes),
        "devices": n_dev,
        "processes": jax.process_count(),
        "backend": jax.default_backend(),
        "nonfinite_points": int(sum(not np.isfinite(_outcome(r)) for r in rows)),
        "shapes": shapes_meta,
        "config": cfg.raw,
        "versions": {"jax": jax.__version__, "python": platform.python_version()},
    }
    if out_dir is not None and lead:
        output.write_csv(out_dir / "results.csv", rows)
        skipped = output.write_parquet(out_dir / "results.parquet", rows, trace_list)
        meta["files"] = ["results.csv"] + ([] if skipped else ["results.parquet"])
        if skipped:
            meta["parquet_skipped"] = skipped
        if plots:
            meta["files"] += write_plots(out_dir, rows, trace_list)
        meta["files"].append("sweep.json")
        output.write_json(out_dir / "sweep.json", meta)
    return SweepResult(rows, trace_list, meta, out_dir)


def _program_name(g: int, count: int, shape: dict[str, Any]) -> str:
    """How the watchdog names a group's program: its index and the settings that shape it."""
    keys = ("family", "dim", "players", "method", "rounds", "samples")
    return f"shape {g + 1}/{count} ({', '.join(f'{k}={shape[k]}' for k in keys)})"


def _outcome(row: dict[str, Any]) -> float:
    """The number a point is judged by: final loss (neural players), else the distance."""
    return row[kind_of(row["family"]).outcome]


def _device_ids(devices) -> tuple:
    return tuple(d.id for d in devices) if devices else ()


def _resolve(config, settings) -> SweepConfig:
    if isinstance(config, SweepConfig):
        if settings:
            raise ValueError("settings: give either a parsed SweepConfig or settings, not both")
        return config
    if config is None:
        return parse_config(dict(settings))
    if isinstance(config, (str, Path)):
        if not settings:
            return load_config(config)
        path = Path(config)
        return parse_config({**read_toml(path, "config"), **settings}, base=path.parent)
    if isinstance(config, dict):
        return parse_config({**config, **settings})
    raise TypeError(f"config: expected a TOML path or a mapping, got {type(config).__name__}")


def _shape_key_of(p):
    from gtgen.sweep.config import shape_key

    return shape_key(p.settings)


def _chunk_arrays(chunk, fetched, host, run_s) -> dict[str, np.ndarray]:
    n = len(chunk.points)
    traces = fetched["trace_distance"][:n]
    tols = [p.settings["tol"] for p in chunk.points]
    return {
        "rate": host["rate"],
        "observed_rate": np.array(
            [  # the noise floor hides it in the sampled exchange
                observed_rate(t, s) if p.settings["method"] != "sampled" else np.nan
                for t, s, p in zip(traces, host["start_distance"], chunk.points)
            ]
        ),
        "rounds_run": fetched["rounds_run"][:n].astype(np.int64),
        "rounds_to_tol": np.array([rounds_to_tol(t, tol) for t, tol in zip(traces, tols)]),
        "distance": fetched["distance"][:n].astype(np.float64),
        "residual": fetched["residual"][:n].astype(np.float64),
        "nash_gap_max": _kl(fetched["gap_max"][:n]),
        "nash_gap_mean": _kl(fetched["gap_mean"][:n]),
        "final_loss": fetched["final_loss"][:n].astype(np.float64),
        "wall_s": np.full(n, run_s / n),
        "trace_distance": traces,
        "trace_step": fetched["trace_step"][:n],
    }


# float32 KLs (differences of log-normalisers) may come out this far below zero by rounding.
KL_ROUNDING32 = 1e-4


def _kl(values: np.ndarray) -> np.ndarray:
    """Rounding-level negative KLs become 0; a clearly negative one is invalid, so NaN."""
    v = values.astype(np.float64)
    return np.where(v < -KL_ROUNDING32, np.nan, np.maximum(v, 0.0))


def _row_values(arrays, j) -> dict[str, Any]:
    row = {}
    for k in RESULT_COLUMNS:
        v = arrays[k][j]
        row[k] = int(v) if k in ("rounds_run", "rounds_to_tol") else float(v)
    return row


class _Progress:
    """A rich progress bar over points, or nothing."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]sweep[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("points"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task("", total=total)
        self.bar.start()

    def describe(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

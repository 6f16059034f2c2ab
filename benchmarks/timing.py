"""Timing helpers: warm up once, then the median of repeats (machines are noisy)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()``, blocking on JAX results; ``warmup`` calls are not timed."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int = 9) -> dict[str, float]:
    """Median wall time of each ``fns[name]()``, timed in turns (one call of each per pass) so
    that a change in the machine's load during the run reaches every side alike; each is called
    once untimed first (compilation)."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def one_core_child(module: str, *args: str) -> dict | None:
    """``python -m module *args`` in a child process that calls ``pin_to_bench_core()`` before
    JAX starts (XLA sizes its thread pool from the cores it may use then, so the program runs on
    one thread, as a PyTorch loop at ``set_num_threads(1)`` does); its last stdout line, parsed as
    JSON. None where there is one core only or no affinity call (nothing to compare)."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None
    core = min(os.sched_getaffinity(0))
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, GTGEN_BENCH_CORE=str(core))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} one-core child process failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pin_to_bench_core() -> None:
    """In a ``one_core_child``: this process on the core its parent named (before JAX starts)."""
    core = os.environ.get("GTGEN_BENCH_CORE")
    if core is not None:
        os.sched_setaffinity(0, {int(core)})


def loop_repeats(sizes: dict, threads: int) -> int:
    """Repeats of a PyTorch baseline loop at ``threads`` threads: ``sizes["repeats"]`` at one
    thread, ``sizes["all_cores_repeats"]`` (default the same) at more: --quick times the
    oversubscribed all-core loop (tens of times slower on a shared 2-core machine) once."""
    return sizes["repeats"] if threads == 1 else sizes.get("all_cores_repeats", sizes["repeats"])


def baseline_loop(seconds_at: Callable[[int], float], t_round: float) -> dict:
    """A PyTorch baseline timed at one thread and at all cores (``seconds_at(threads)``: seconds
    per round), the faster taken as the baseline: the ``loop_*`` fields and ``ratio_vs_loop``
    against gtgen's ``t_round`` seconds."""
    cores = os.cpu_count() or 1
    loop = {t: seconds_at(t) for t in sorted({1, cores})}
    best = min(loop, key=loop.get)
    return {
        "loop_round_ms": 1e3 * loop[best],
        "loop_threads": best,
        "loop_round_ms_1_thread": 1e3 * loop[1],
        "loop_round_ms_all_cores": 1e3 * loop[cores],
        "ratio_vs_loop": loop[best] / t_round,
    }

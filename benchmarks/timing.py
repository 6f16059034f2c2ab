"""Timing helpers: warm up once, then the median of repeats (machines are noisy)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
    once untimed first (compilation, side by side: ``warm_all``)."""
    warm_all(fns)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def warm_all(fns: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Each ``fns[name]()`` once, untimed, on a thread per CPU core, blocking on every result:
    the first calls of jitted functions, whose XLA compiles (which release the GIL) then run
    side by side instead of one after another. Nothing is timed here, so the timings that
    follow are those of one call at a time, as before."""
    if len(fns) < 2:
        return {name: jax.block_until_ready(fn()) for name, fn in fns.items()}
    with ThreadPoolExecutor(max_workers=min(len(fns), os.cpu_count() or 1)) as pool:
        futures = {
            name: pool.submit(lambda f=fn: jax.block_until_ready(f())) for name, fn in fns.items()
        }
        return {name: f.result() for name, f in futures.items()}

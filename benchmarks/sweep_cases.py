"""Sweep benchmark cases: many games in one compiled program, and games with many players.

``sweep_1000``: 1000 Gaussian games (10 values of a × 100 seeds, N = 8, d = 2, 200 rounds) as one
``gtgen.sweep`` against the same 1000 solves one after another (``gtgen.solve`` on prebuilt games,
compiled once, in the same process). The case runs in a child process that gives JAX one CPU
device per core (``gtgen.sweep.use_cpu_cores``, what ``gtgen sweep`` does); the loop runs on the
default device, as a user's loop would. Figures:
- ``ratio_vs_loop``: exact best response, 200 rounds each (no early stop): loop time / sweep run
  time, the sweep sharded over every device (compilation excluded on both sides: the loop is
  timed after a warm-up solve, the sweep after a warm-up sweep);
- ``ratio_vs_loop_one_device``: the same sweep on the default device only;
- ``ratio_vs_loop_end_to_end``: the same with the sweep's compilation, data synthesis and closed
  forms counted;
- ``sampled_ratio_vs_loop``: the paper's sampled exchange (m synthetic samples per player per
  round, drawn as their mean statistics from the exact law, as both ``gtgen.solve`` and
  ``gtgen.sweep`` do) on the first ``sampled_points`` games. ``sampled_loop_ceiling`` is loop
  time / the time to draw all m samples of every round as normals in one call (the bound of the
  samples draw; the statistic draw draws far fewer numbers and can pass it).
``quick`` keeps all 1000 exact games but times the loop on 100 of them (scaled by 10) and the
sweep on 5 passes, runs the sampled part on 20 games, and does not time the normals floor (on so
few games the loop of statistic draws takes less time than drawing the normals, so the ceiling
would bound nothing).

``sweep_peer``: the 1000 games of sweep-1000's grid (N = 8 diagonal Gaussians, d = 2, 100 data
points each, ten values of a × 100 seeds), exact best response to tol 1e-6 on the default (one)
CPU device, every side starting from the data: gtgen's batched exact and Anderson solvers
(``make_solver(..., batched=True)``, with no trace and with the full trace) against optimistix's
``fixed_point`` (FixedPointIteration) under ``jax.vmap``, and against the floor, the plain einsum
of the moments plus a vmapped direct solve of the closed form μ* = (I − B)⁻¹ D m, at round caps
20 and 1000. Each baseline is timed under plain ``jax.jit`` and under gtgen's compiler options and
credited with the faster. Figures: ``*_vs_optimistix`` (optimistix time / gtgen time) and
``*_vs_floor`` (gtgen time / floor time), and ``optimistix_cap*_over_floor`` (optimistix time /
floor time): the ceiling of ``*_vs_optimistix`` for any side that does the floor's work (one
pass over the data, then the closed form); where it is below 2, "≥ 2x optimistix" needs a
reduction of the data faster than the einsum. Skipped, with a note, without optimistix (the
``[reference]`` extra).

``scale_players``: time per round of the sampled exchange from N = 10 to 10^6 Gaussian players
(uniform α kept structured at every N, O(N·m) memory; gtgen.sweep.structured), the exponent of
the log-log fit (time per round = (T(12 rounds) − T(2 rounds)) / 10, both from one program of
at most 12 rounds run for a traced round count, without the per-round trace), and memory:
``program_memory_mb``, XLA's own accounting of the compiled program (arguments + outputs +
temporaries) per size and per player (``program_bytes_per_player``: flat for O(N·K)
memory), and ``peak_rss_mb``, the process's resident high-water mark after each
size (it never goes down, so it includes whatever ran earlier in the process); ``setup_s``, the
host-side construction of each size's inputs (synthetic data, moments, closed form).
"""

from __future__ import annotations

import functools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

import gtgen
from benchmarks.timing import interleaved_medians, median_seconds
from gtgen import xla_options
from gtgen.sweep import alpha_matrix, parse_config, sweep, synthetic_data
from gtgen.sweep.distributed import cpu_core_count
from gtgen.sweep.programs import expfam_program
from gtgen.sweep.runner import _shape_dict, chunk_inputs, plan


def _games(cfg):
    games = []
    for p in cfg.points:
        s = p.settings
        player = gtgen.expfam.family(s["family"], s["dim"])
        games.append(
            (
                gtgen.Game([player] * s["players"], alpha_matrix(s), list(synthetic_data(s))),
                s["seed"],
            )
        )
    return games


# Timed passes of each side; the figures use their medians. An exact sweep pass takes ~10 ms and a
# loop pass ~0.5 s, so the exact sweep gets more passes for an equally steady median.
LOOP_REPEATS, SWEEP_REPEATS, SAMPLED_SWEEP_REPEATS = 3, 9, 3
QUICK_SWEEP_REPEATS = 5  # --quick: the exact sweep's passes (each ~5 ms: a median of 5 holds)


def _loop_seconds(games, **solve_args) -> float:
    """Median over LOOP_REPEATS passes of the solves one after another, after a warm-up solve."""
    game, seed = games[0]
    jax.block_until_ready(gtgen.solve(game, jax.random.key(seed), **solve_args).state)  # compile
    passes = []
    for _ in range(LOOP_REPEATS):
        start = time.perf_counter()
        for game, seed in games:
            jax.block_until_ready(gtgen.solve(game, jax.random.key(seed), **solve_args).state)
        passes.append(time.perf_counter() - start)
    return statistics.median(passes)


def _warm_sweep(settings: dict, devices, repeats: int = SWEEP_REPEATS) -> tuple[Any, float]:
    """(first sweep, median run seconds of ``repeats`` more): the first compiles, the others reuse
    its program and are timed warm, as the loop is timed after a warm-up solve."""
    first = sweep(**settings, devices=devices)
    runs = [
        sum(r["wall_s"] for r in sweep(**settings, devices=devices).rows) for _ in range(repeats)
    ]
    return first, statistics.median(runs)


def _sweep_1000_here(quick: bool) -> dict:
    a = [round(0.1 * i, 1) for i in range(1, 11)]
    base = {"family": "gaussian", "dim": 2, "players": 8, "a": a, "rounds": 200, "batch": 1000}
    exact = dict(base, seeds=100, method="exact", stop_tol=0.0)
    repeats = QUICK_SWEEP_REPEATS if quick else SWEEP_REPEATS
    first, run_s = _warm_sweep(exact, "all", repeats)
    _, one_device_s = _warm_sweep(exact, None, repeats)
    cfg = parse_config(exact)
    timed = cfg.points[::10] if quick else cfg.points
    loop_s = _loop_seconds(_games(cfg._replace(points=timed)), method="exact", rounds=200, tol=0.0)
    loop_s *= len(cfg.points) / len(timed)

    m = 100
    sampled_seeds = 2 if quick else 20
    sampled = dict(base, seeds=sampled_seeds, method="sampled", samples=m)
    s_first, s_run = _warm_sweep(sampled, "all", SAMPLED_SWEEP_REPEATS)
    s_cfg = parse_config(sampled)
    s_loop = _loop_seconds(_games(s_cfg), method="sampled", rounds=200, samples=m)
    n_s = len(s_cfg.points)
    floor_s = None  # --quick: not timed (see the module docstring)
    if not quick:
        draw = xla_options.jit(lambda k: jax.random.normal(k, (n_s, 200, 8, m, 2)))
        floor_s = median_seconds(lambda: draw(jax.random.key(0)), repeats=3)
    return {
        "name": "sweep-1000",
        "points": first.meta["points"],
        "players": 8,
        "dim": 2,
        "rounds": 200,
        "devices": first.meta["devices"],
        "distinct_shapes": first.meta["distinct_shapes"],
        "compilations": first.meta["compilations"],
        "compile_s": first.meta["compile_s"],
        "sweep_run_s": run_s,
        "sweep_run_s_one_device": one_device_s,
        "sweep_wall_s": first.meta["wall_s"],
        "loop_s": loop_s,
        "loop_points_timed": len(timed),
        "ratio_vs_loop": loop_s / run_s,
        "ratio_vs_loop_one_device": loop_s / one_device_s,
        "ratio_vs_loop_end_to_end": loop_s / first.meta["wall_s"],
        "sampled_points": n_s,
        "sampled_samples": m,
        "sampled_run_s": s_run,
        "sampled_loop_s": s_loop,
        "sampled_ratio_vs_loop": s_loop / s_run,
        "sampled_floor_s": floor_s,
        "sampled_loop_ceiling": None if floor_s is None else s_loop / floor_s,
        "sampled_compilations": s_first.meta["compilations"],
        "targets": {"ratio_vs_loop": 50},
    }


def sweep_1000(quick: bool = False) -> dict:
    """Runs in a child process with one JAX CPU device per core, as ``gtgen sweep`` runs (JAX
    fixes its devices at start-up, and the other cases use the default device only)."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(cpu_core_count()))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "benchmarks.sweep_cases", "sweep-1000"] + (
        ["--quick"] if quick else []
    )
    done = subprocess.run(args, env=env, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sweep-1000 child process failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def _scale_inputs(n: int, m: int, d: int, data_size: int):
    """The shape and device inputs of one scale-players size (12 rounds, burn-in 1 so that the
    2-round program takes the same inputs): the data is built once per size."""
    settings = {
        "players": n,
        "dim": d,
        "a": 0.5,
        "alpha": "uniform",
        "routing": "meanfield",
        "method": "sampled",
        "samples": m,
        "rounds": 12,
        "burn_in": 1,
        "data_size": data_size,
    }
    cfg = parse_config(settings)
    keys, chunks = plan(cfg, 1, "synthetic")
    shape = {**_shape_dict(keys[0]), "structure": "uniform"}  # sparse α at every N
    inputs, _ = chunk_inputs(shape, chunks[0].points, chunks[0].size, None, None)
    return shape, inputs


def scale_players(quick: bool = False) -> dict:
    sizes = [1000, 10_000] if quick else [10, 100, 1000, 10_000, 100_000, 1_000_000]
    m, d, data_size = 100, 2, 16
    round_ms, xla_mb, rss_mb, setup_s = [], [], [], []
    for n in sizes:
        start = time.perf_counter()
        shape, inputs = _scale_inputs(n, m, d, data_size)
        setup_s.append(time.perf_counter() - start)
        repeats = 1 if n >= 1_000_000 else 3  # a 12-round call takes ~10-40 s there
        # one program of at most 12 rounds, run for 2 and for 12 (its traced round count)
        fn, names = expfam_program({**shape, "rounds": 12, "trace": 0})
        args = [inputs[k] for k in names]
        compiled = jax.jit(fn).lower(*args, np.int32(12)).compile()
        calls = {r: functools.partial(compiled, *args, np.int32(r)) for r in (2, 12)}
        times = interleaved_medians(calls, repeats)
        mem = compiled.memory_analysis()
        xla_mb.append(
            (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes) / 2**20
            if mem
            else math.nan
        )
        round_ms.append(1e3 * max(times[12] - times[2], 1e-9) / 10)
        rss_mb.append(_peak_rss_mb())
    slope = float(np.polyfit(np.log(sizes), np.log(round_ms), 1)[0])
    large = [i for i, n in enumerate(sizes) if n >= 1000]
    slope_large = float(
        np.polyfit(np.log([sizes[i] for i in large]), np.log([round_ms[i] for i in large]), 1)[0]
    )
    return {
        "name": "scale-players",
        "dim": d,
        "samples": m,
        "alpha": "uniform (structured)",
        "routing": "meanfield",
        "players": sizes,
        "round_ms": round_ms,
        "exponent": slope,
        "exponent_large_n": slope_large,
        "program_memory_mb": xla_mb,
        "peak_rss_mb": rss_mb,
        "setup_s": setup_s,
        "peak_memory_mb_largest": xla_mb[-1],
        # O(N·K) memory: the program's bytes per player stay flat as N grows
        "program_bytes_per_player": [mb * 2**20 / n for mb, n in zip(xla_mb, sizes)],
        "targets": {"exponent_large_n": 1.05},
    }


# --- sweep-peer: the batched exact solvers against optimistix and against the floor -----------

PEER_CAPS = (20, 1000)
NO_OPTIMISTIX = "optimistix not installed (pip install 'gtgen[reference]'): case skipped"


def _peer_games(seeds: int):
    """The games of gtgen.sweep's grid (10 values of a × ``seeds`` seeds; N = 8 diagonal
    Gaussians, d = 2, 100 data points each) as stacked arrays: α [G, N, N], data [G, N, n, d],
    weights [G, N, n]."""
    from gtgen.sweep.families import synthetic_data_batch

    a = [round(0.1 * i, 1) for i in range(1, 11)]
    cfg = parse_config({"family": "gaussian", "dim": 2, "players": 8, "a": a, "seeds": seeds})
    settings = [p.settings for p in cfg.points]
    alpha = np.stack([alpha_matrix(s) for s in settings]).astype(np.float32)
    data = synthetic_data_batch(settings).astype(np.float32)
    return jax.numpy.asarray(alpha), jax.numpy.asarray(data), jax.numpy.ones(data.shape[:3])


def _plain_moments(x, w):
    """The plain reduction: one einsum per statistic over the data (x and x²)."""
    jnp = jax.numpy
    w = w / jnp.sum(w, axis=-1, keepdims=True)
    return jnp.concatenate(
        [jnp.einsum("...n,...nk->...k", w, x), jnp.einsum("...n,...nk->...k", w, x * x)], -1
    )


def _closed_form(alpha, own):
    """One game's μ* = (I − B)⁻¹ D m by a direct solve."""
    jnp = jax.numpy
    a = jnp.diagonal(alpha)
    return jnp.linalg.solve(jnp.eye(alpha.shape[0]) - (alpha - jnp.diag(a)), a[:, None] * own)


def _optimistix_solver(cap: int, tol: float):
    """What a user of optimistix writes: per game, the moments from the data and
    ``fixed_point`` of the exact best response μ ↦ D m + B μ (FixedPointIteration), vmapped."""
    import optimistix as optx

    jnp = jax.numpy

    def one(alpha, x, w):
        own = _plain_moments(x, w)
        a = jnp.diagonal(alpha)
        off = alpha - jnp.diag(a)
        solver = optx.FixedPointIteration(rtol=tol, atol=tol)
        sol = optx.fixed_point(
            lambda mu, _: a[:, None] * own + off @ mu, solver, own, max_steps=cap, throw=False
        )
        return sol.value

    return jax.vmap(one)


def _both_jits(fn, *args, quick: bool = False):
    """``fn`` under plain ``jax.jit`` and under gtgen's compiler options: a baseline is timed
    both ways and credited with the faster (XLA CPU's default YNNPACK fusions help some
    programs and hurt others; gtgen.xla_options). ``quick``: gtgen's options only (the faster
    for every baseline in the full runs of RESULTS.md), to halve the compiles."""
    tuned = xla_options.jit(fn)
    ways = {"gtgen_options": lambda: tuned(*args)}
    if not quick:
        plain = jax.jit(fn)
        ways["plain_jit"] = lambda: plain(*args)
    return ways


def sweep_peer(quick: bool = False) -> dict:
    """gtgen's batched exact and Anderson solvers against optimistix's ``fixed_point`` under
    ``jax.vmap`` on the same games from the same data, and against the floor (the plain einsum
    of the moments + a vmapped direct solve of the closed form), at round caps 20 and 1000, on
    the default (one) CPU device. Every side starts from the data; tol 1e-6."""
    try:
        import optimistix  # noqa: F401
    except ImportError:
        return {"name": "sweep-peer", "note": NO_OPTIMISTIX}
    from gtgen.game import Group
    from gtgen.solvers import make_solver

    jnp = jax.numpy
    tol = 1e-6
    alpha, data, weights = _peer_games(100)
    games, players = alpha.shape[0], alpha.shape[1]
    groups = (Group(gtgen.expfam.family("gaussian", 2), tuple(range(players))),)
    keys = jax.random.split(jax.random.key(0), games)
    damping, burn_in = jnp.ones(games), jnp.zeros(games, jnp.int32)
    tols = jnp.full(games, tol)

    def gtgen_side(method, cap, trace):
        run = xla_options.jit(
            make_solver(groups, method, "expected", cap, 1, batched=True, trace=trace)
        )

        def call():
            state, _, t = run(keys, alpha, ({"x": data},), (weights,), damping, burn_in, tols, None)
            return state.params[0], t

        return call

    def floor(al, x, w):
        return jax.vmap(_closed_form)(al, _plain_moments(x, w))

    baselines = {"floor": _both_jits(floor, alpha, data, weights, quick=quick)}
    sides = {}
    traced = (
        [("exact", 1000)] if quick else [(m, c) for m in ("exact", "anderson") for c in PEER_CAPS]
    )
    for cap in PEER_CAPS:
        baselines[f"optimistix_cap{cap}"] = _both_jits(
            _optimistix_solver(cap, tol), alpha, data, weights, quick=quick
        )
        for method in ("exact", "anderson"):
            sides[f"{method}_cap{cap}"] = gtgen_side(method, cap, 0)
            if (method, cap) in traced:
                sides[f"{method}_cap{cap}_traced"] = gtgen_side(method, cap, None)
    for name, ways in baselines.items():
        for way, fn in ways.items():
            sides[f"{name}_{way}"] = fn
    star = np.asarray(sides["floor_gtgen_options"]())
    errors = {}
    for name, fn in sides.items():
        out = fn()
        value = out[0] if isinstance(out, tuple) else out
        errors[name] = float(np.max(np.abs(np.asarray(value) - star)))
    ms = {k: 1e3 * v for k, v in interleaved_medians(sides, 5 if quick else 15).items()}
    out = {"name": "sweep-peer", "games": games, "players": players, "dim": 2, "tol": tol}
    for name, ways in baselines.items():  # each baseline credited with its faster jit
        best = min(ways, key=lambda way, n=name: ms[f"{n}_{way}"])
        ms[name] = ms[f"{name}_{best}"]
        out[f"{name}_jit"] = best
    out.update({f"{k}_ms": v for k, v in ms.items()})
    for cap in PEER_CAPS:
        for method in ("exact", "anderson"):
            for suffix in ("", "_traced") if (method, cap) in traced else ("",):
                side = f"{method}_cap{cap}{suffix}"
                out[f"{side}_vs_optimistix"] = ms[f"optimistix_cap{cap}"] / ms[side]
                out[f"{side}_vs_floor"] = ms[side] / ms["floor"]
    for cap in PEER_CAPS:  # the most any side doing the floor's work can lead optimistix by
        out[f"optimistix_cap{cap}_over_floor"] = ms[f"optimistix_cap{cap}"] / ms["floor"]
    out["max_error_vs_closed_form"] = max(errors.values())
    out["targets"] = {"vs_optimistix": ">= 2 (untraced)", "vs_floor": "<= 2"}
    return out


CASES = [sweep_1000, sweep_peer, scale_players]

if __name__ == "__main__":  # the child process of sweep_1000
    if sys.argv[1:2] == ["sweep-1000"]:
        print(json.dumps(_sweep_1000_here(quick="--quick" in sys.argv)))

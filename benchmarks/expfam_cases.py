"""Exponential-family benchmark cases: gtgen's compiled round against the paper-style loop.

``expfam_gaussian_n64``: 64 diagonal Gaussian players, d = 16, 1000 synthetic samples per player
per round, sampled exchange. Figures, all measured in one run on the same machine:
- ``rounds_per_s``: gtgen's compiled rounds (a ``solve`` of R rounds, compile excluded);
- ``ratio_vs_loop``: against benchmarks/reference/numpy_loop.py on the same inputs;
- ``fraction_of_floor``: drawing the same N·m·d normal samples in one jitted call, divided by
  the time of a gtgen round (1.0 would mean the round costs no more than its samples);
- ``loop_ceiling``: loop time / floor time, the highest ratio any implementation that draws
  the same samples with this generator could reach on this machine;
- ``statistics_*``: the same with the statistic draw (the default: each receiver's statistics
  drawn from their exact law, cost independent of m), at m = 1000 and m = 10^6 (the loop timed
  at 10^6 on one round); its floor is one call drawing the same N·K normals.

``expfam_scaling``: time per round for N = 10 … 10^4 players in the mean-field game (uniform
off-diagonal α, ``meanfield`` routing: each player needs only the pooled mixture, O(N·m) per
round) and the exponent of the log-log fit of time against N; ``fraction_of_floor`` at the
largest N against drawing the same normals in one call.

``expfam_anderson``: rounds to tolerance, exact best response against Anderson acceleration,
on a slowly mixing game (self-weights uniform in [0, 0.02], random Dirichlet rows: ρ(B) ≈ 0.99).
"""

from __future__ import annotations

import functools
import math
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import gtgen
from benchmarks.reference import numpy_loop
from benchmarks.timing import median_seconds
from gtgen import xla_options
from gtgen.solvers.solve import make_solver


def gaussian_game(
    n: int,
    d: int,
    self_weight: float = 0.5,
    seed: int = 0,
    n_data: int = 200,
    dirichlet: bool = False,
) -> gtgen.Game:
    """N diagonal Gaussian players with shifted private data; α has self-weight ``self_weight``
    and uniform (or, with ``dirichlet``, random Dirichlet) off-diagonal rows."""
    rng = np.random.default_rng(seed)
    data = [
        rng.normal(rng.normal(0, 2, d), rng.uniform(0.5, 2, d), (n_data, d)).astype(np.float32)
        for _ in range(n)
    ]
    rows = (
        rng.dirichlet(np.full(n - 1, 0.5), size=n)
        if dirichlet
        else np.full((n, n - 1), 1.0 / (n - 1))
    )
    weights = np.broadcast_to(np.asarray(self_weight, np.float64), (n,))
    alpha = np.zeros((n, n))
    alpha[~np.eye(n, dtype=bool)] = (rows * (1.0 - weights)[:, None]).ravel()
    np.fill_diagonal(alpha, weights)
    return gtgen.Game([gtgen.expfam.gaussian(d)] * n, alpha, data)


@functools.cache
def _counted_solver(groups, routing: str, rounds: int, samples: int, draw: str):
    """The sampled solve of at most ``rounds`` rounds with the round count a traced input (no
    trace kept): one program for T(rounds) and T(1)."""
    solver = make_solver(groups, "sampled", routing, rounds, samples, draw=draw, trace=0)
    return xla_options.jit(solver)


def _round_seconds(
    game: gtgen.Game, samples: int, rounds: int, routing: str, repeats: int, draw: str = "samples"
) -> float:
    """Seconds per round: (T(rounds) − T(1)) / (rounds − 1), so that the per-solve set-up (own
    moments, the O(N²) routing plan, transfers) is not counted as round time. Both counts run
    one compiled program (gtgen.solve's, with the round count traced and no trace recorded)."""
    call = _counted_call(game, samples, rounds, routing, draw)

    def timed(r):
        return median_seconds(lambda: call(r), repeats=repeats)

    return max(timed(rounds) - timed(1), 1e-9) / (rounds - 1)


def _paired_round_seconds(programs: dict, loop, repeats: int) -> dict:
    """Per-round seconds of each of ``programs`` (name -> (call(r), rounds)) and of ``loop``
    (a call -> seconds per round), timed in turns: each pass times every program at ``rounds``
    and at 1 round, then the loop, so that a change in the machine's load reaches every side
    alike. Returns, per program, the median over passes of (T(rounds) − T(1)) / (rounds − 1)
    and the median over passes of that pass's loop time / that pass's round time (``ratio``,
    each pass's two sides measured seconds apart), and the loop's median per-round time."""
    for call, rounds in programs.values():  # compile / warm up both counts
        jax.block_until_ready(call(rounds))
        jax.block_until_ready(call(1))
    rows = {name: [] for name in programs}
    loops = []
    for _ in range(repeats):
        per = {}
        for name, (call, rounds) in programs.items():
            t = []
            for r in (rounds, 1):
                start = time.perf_counter()
                jax.block_until_ready(call(r))
                t.append(time.perf_counter() - start)
            per[name] = max(t[0] - t[1], 1e-9) / (rounds - 1)
        loops.append(loop())
        for name in programs:
            rows[name].append((per[name], loops[-1] / per[name]))
    out = {
        name: {
            "round_s": statistics.median(p for p, _ in rs),
            "ratio": statistics.median(q for _, q in rs),
        }
        for name, rs in rows.items()
    }
    out["loop_s"] = statistics.median(loops)
    return out


def _counted_call(game: gtgen.Game, samples: int, rounds: int, routing: str, draw: str):
    """``call(r)``: the counted program (``_counted_solver``) on ``game`` for r rounds."""
    key = jax.random.key(1)
    program = _counted_solver(
        game.groups, routing, rounds, 0 if draw == "statistics" else samples, draw
    )
    alpha = jnp.asarray(game.alpha, jnp.float32)

    def call(r):
        args = (key, alpha, game.data, game.weights, jnp.float32(1.0), jnp.int32(r // 2))
        tail = (jnp.float32(-1.0), None, jnp.float32(samples), jnp.int32(r))
        return program(*args, *tail)[0]

    return call


def expfam_gaussian_n64(quick: bool = False) -> dict:
    """The sample path, the statistic path at m = 1000 and the loop are timed in turns
    (``_paired_round_seconds``): on a shared machine a swing in load between timing one side
    and the other moved ``statistics_ratio_vs_loop`` between 48 and 297 (benchmarks/RESULTS.md);
    each ratio is the median over passes of the loop time over the round time of the same pass.
    The statistic path runs ``stat_rounds`` rounds per timed call (both m), the sample path
    ``rounds``; the loop's work is the same as before (``loop_rounds`` rounds per call)."""
    n, d, m = 64, 16, 1000
    rounds = 10 if quick else 50
    # the statistic round takes ~0.2 ms against ~1 ms for T(1) (set-up, dispatch): 200 rounds
    # per timed call, so that T(1) and its noise are a few percent of T(rounds), not half
    stat_rounds = 200
    repeats, passes = (2, 3) if quick else (5, 7)
    game = gaussian_game(n, d)
    own = np.asarray(game.own_moments()[0], np.float64)
    rng = np.random.default_rng(0)
    loop_rounds = 5 if quick else 10

    def loop() -> float:
        start = time.perf_counter()
        numpy_loop.solve(rng, own, game.alpha, m, loop_rounds)
        return (time.perf_counter() - start) / loop_rounds

    paired = _paired_round_seconds(
        {
            "samples": (_counted_call(game, m, rounds, "expected", "samples"), rounds),
            "statistics": (
                _counted_call(game, m, stat_rounds, "expected", "statistics"),
                stat_rounds,
            ),
        },
        loop,
        passes,
    )
    t_round, t_stat = paired["samples"]["round_s"], paired["statistics"]["round_s"]
    t_loop = paired["loop_s"]

    floor = jax.jit(lambda k: jax.random.normal(k, (n, m, d)))
    t_floor = median_seconds(lambda: floor(jax.random.key(2)), repeats=repeats * 3)

    # the statistic draw (the default): cost independent of m; the loop timed at 10^6 on 1 round
    big = 1_000_000
    t_stat_big = _round_seconds(game, big, stat_rounds, "expected", repeats, draw="statistics")
    loop_m = big // 100 if quick else big  # --quick: the loop (linear in m) at 10^4, scaled
    t_loop_big = (
        median_seconds(
            lambda: numpy_loop.solve(rng, own, game.alpha, loop_m, 1), repeats=1, warmup=0
        )
        * big
        / loop_m
    )
    k = 2 * d  # the N·K variates of one statistic draw
    stat_floor = jax.jit(lambda key: jax.random.normal(key, (n, k)))
    t_stat_floor = median_seconds(lambda: stat_floor(jax.random.key(2)), repeats=repeats * 3)
    return {
        "name": "expfam-gaussian-N64",
        "players": n,
        "dim": d,
        "samples": m,
        "routing": "expected",
        "rounds_per_s": 1.0 / t_round,
        "round_ms": 1e3 * t_round,
        "loop_round_ms": 1e3 * t_loop,
        "floor_ms": 1e3 * t_floor,
        "ratio_vs_loop": paired["samples"]["ratio"],
        "fraction_of_floor": t_floor / t_round,
        "loop_ceiling": t_loop / t_floor,
        "statistics_round_ms": 1e3 * t_stat,
        "statistics_ratio_vs_loop": paired["statistics"]["ratio"],
        "timed_passes": passes,
        "statistics_rounds_timed": stat_rounds,
        "statistics_round_ms_m1e6": 1e3 * t_stat_big,
        "loop_round_ms_m1e6": 1e3 * t_loop_big,
        "statistics_ratio_vs_loop_m1e6": t_loop_big / t_stat_big,
        "statistics_fraction_of_floor": t_stat_floor / t_stat,
        "loop_m_timed": loop_m,
        "targets": {
            "ratio_vs_loop": 100,
            "fraction_of_floor": 0.5,
            "statistics_ratio_vs_loop": 100,
            "statistics_ratio_vs_loop_m1e6": 10_000,
        },
    }


def expfam_scaling(quick: bool = False) -> dict:
    d = 16
    sizes = [10, 100, 1000] if quick else [10, 100, 1000, 10_000]
    m = 100 if quick else 1000
    times = []
    for n in sizes:
        rounds = 10 if n * m <= 1_000_000 else 3
        game = gaussian_game(n, d, n_data=50)
        repeats = 2 if quick or n >= 10_000 else 3
        times.append(_round_seconds(game, m, rounds, "meanfield", repeats=repeats))
    floor = jax.jit(lambda k: jax.random.normal(k, (sizes[-1], m, d)))
    t_floor = median_seconds(lambda: floor(jax.random.key(3)), repeats=2 if quick else 3)
    slope = float(np.polyfit(np.log(sizes), np.log(times), 1)[0])
    # Above ~1e5 samples per round the cost is the samples themselves: the fit on the large end.
    big = [i for i, n in enumerate(sizes) if n * m >= 100_000]
    slope_large = (
        float(np.polyfit(np.log([sizes[i] for i in big]), np.log([times[i] for i in big]), 1)[0])
        if len(big) >= 2
        else math.nan
    )
    return {
        "name": "expfam-scaling",
        "dim": d,
        "samples": m,
        "routing": "meanfield",
        "players": sizes,
        "round_ms": [1e3 * t for t in times],
        "fraction_of_floor_largest": t_floor / times[-1],
        "exponent": slope,
        "exponent_large_n": slope_large,
        "targets": {"exponent": 1.1},
    }


def expfam_scaling_m(quick: bool = False) -> dict:
    """The statistic draw's round time against m = 10 … 10^6 (64 players, d = 16, expected
    routing): the log-log exponent of time in m (0 = independent of m), one program for all m."""
    game = gaussian_game(64, 16)
    sizes = [10, 1000, 100_000, 1_000_000]
    # the rounds of expfam-gaussian-N64 in the same mode: its compiled programs are reused
    rounds, repeats = (10, 3) if quick else (50, 5)
    times = [_round_seconds(game, m, rounds, "expected", repeats, draw="statistics") for m in sizes]
    return {
        "name": "expfam-scaling-m",
        "players": 64,
        "dim": 16,
        "routing": "expected",
        "draw": "statistics",
        "samples": sizes,
        "round_ms": [1e3 * t for t in times],
        "exponent": float(np.polyfit(np.log(sizes), np.log(times), 1)[0]),
        "targets": {"exponent": "≤ 0.05"},
    }


def expfam_anderson(quick: bool = False) -> dict:
    n, d = (16, 4) if quick else (64, 8)
    # Unequal self-weights: with equal ones the error never excites the slow (Perron) mode.
    weights = np.random.default_rng(1).uniform(0.0, 0.02, n)
    game = gaussian_game(n, d, self_weight=weights, dirichlet=True)
    key = jax.random.key(0)
    out = {
        "name": "expfam-anderson",
        "players": n,
        "dim": d,
        "rate": gtgen.spectral_radius(game.alpha),
    }
    for method in ("exact", "anderson"):
        sol = gtgen.solve(game, key, method=method, rounds=20_000, tol=1e-6)
        t = median_seconds(
            lambda m=method: gtgen.solve(game, key, method=m, rounds=20_000, tol=1e-6).state,
            repeats=3,
        )
        out[f"{method}_rounds"] = sol.rounds_run
        out[f"{method}_ms"] = 1e3 * t
        out[f"{method}_distance"] = gtgen.check(game, sol).distance
    out["rounds_ratio"] = out["exact_rounds"] / max(out["anderson_rounds"], 1)
    return out


CASES = [expfam_gaussian_n64, expfam_scaling, expfam_scaling_m, expfam_anderson]

"""The tie to the exchange game: the uniform exchange game is a mean-field game.

With α_ii = a_i and α_ij = (1 − a_i)/(N − 1) (PAPERS.md §1), player i's best response is
μ_i = a_i m_i + (1 − a_i)/(N − 1) Σ_{j≠i} μ_j: it needs only the population's pooled moments.
Its decentralised (mean-field) equilibrium lets every player respond to the population mean μ̄
instead of to the others:

    μ_i = a_i m_i + (1 − a_i) μ̄,   μ̄ = Σ_i a_i m_i / Σ_i a_i   (consistency of μ̄),

O(N·K) in closed form. For a common a it differs from the exact N-player equilibrium
μ* = (I − B)⁻¹ D m by exactly a(1 − a)/(N − a) · (m_i − m̄): the distance shrinks like 1/N.
The sampled exchange of such a game runs at 10^6 players in one program on gtgen's structured
O(N·K) round (``gtgen.sweep.structured``, the pooled mean-field sum of statistics drawn from their
exact law; no [N, N] α anywhere).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np

from gtgen.players.expfam import gaussian
from gtgen.solvers.equilibrium import nash_equilibrium
from gtgen.sweep.families import Structure
from gtgen.sweep.structured import closed_form, make_structured_solver
from gtgen.xla_options import jit

DENSE_MAX = (
    2000  # players up to which the exact equilibrium is gtgen.solvers.equilibrium's dense solve
)


class Scaling(NamedTuple):
    players: np.ndarray  # [P]
    distance: np.ndarray  # [P] max_i |μ_MF,i − μ*_i|
    predicted: np.ndarray  # [P] a(1 − a)/(N − a) · max_i |m_i − m̄|
    slope: float  # fitted log-log slope of distance against N


class ExchangeRun(NamedTuple):
    players: int
    rounds: int
    samples: int
    distance: float  # max_i |μ_i − μ_MF,i| after the run (iterate average)
    rms_distance: float
    meanfield_bias: float  # max_i |μ_MF,i − μ*_i|, the exact O(1/N) part
    noise_scale: float  # (1 − a)/a · sd(T) / sqrt(N·m·averaged rounds): the pooled sampling noise
    trace: np.ndarray  # [rounds] max_i |μ_t − μ_MF| after each round
    wall_s: float  # the compiled program's run, compile excluded


def _self_weights(a, n: int) -> np.ndarray:
    a = np.broadcast_to(np.asarray(a, np.float64), (n,))
    if not np.all(np.isfinite(a)) or np.any(a <= 0) or np.any(a > 1):
        raise ValueError("a: self-weights must be in (0, 1]")
    return a.copy()


def _moments(own) -> np.ndarray:
    own = np.asarray(own, np.float64)
    if own.ndim != 2 or own.shape[0] < 2:
        raise ValueError(f"own: must be [N, K] moments of N >= 2 players, got shape {own.shape}")
    if not np.all(np.isfinite(own)):
        raise ValueError("own: contains NaN or infinite values")
    return own


def meanfield_equilibrium(own, a) -> np.ndarray:
    """μ_i = a_i m_i + (1 − a_i) μ̄ with μ̄ = Σ a_i m_i / Σ a_i: [N, K] in O(N·K)."""
    own = _moments(own)
    a = _self_weights(a, own.shape[0])
    mean = (a @ own) / a.sum()
    return a[:, None] * own + (1.0 - a)[:, None] * mean[None, :]


def uniform_alpha(n: int, a) -> np.ndarray:
    """The dense uniform α: α_ii = a_i, α_ij = (1 − a_i)/(N − 1)."""
    a = _self_weights(a, n)
    alpha = np.repeat(((1.0 - a) / (n - 1))[:, None], n, axis=1)
    np.fill_diagonal(alpha, a)
    return alpha


def nplayer_equilibrium(own, a) -> np.ndarray:
    """The exact N-player equilibrium of the uniform game: gtgen.solvers.equilibrium.nash_equilibrium
    (dense) up to DENSE_MAX players, the structured closed form (O(N·K)) above."""
    own = _moments(own)
    n = own.shape[0]
    if n <= DENSE_MAX:
        return nash_equilibrium(uniform_alpha(n, a), own)
    empty = (np.zeros((n, 0), np.int32), np.zeros((n, 0)))
    return closed_form(Structure("uniform", _self_weights(a, n), *empty), own)


def distance_scaling(players, a: float = 0.5, dim: int = 2, seed: int = 0) -> Scaling:
    """max_i |μ_MF − μ*| for each N in ``players`` (own moments m_i ~ N(0, I_K)), with the exact
    prediction a(1 − a)/(N − a) max_i |m_i − m̄| and the fitted log-log slope."""
    players = np.asarray(players, np.int64)
    if players.ndim != 1 or players.size < 2 or np.any(players < 2):
        raise ValueError("players: need at least two population sizes, each >= 2")
    a = float(_self_weights(a, 1)[0])
    rng = np.random.default_rng(seed)
    dist, pred = [], []
    for n in players:
        own = rng.standard_normal((int(n), dim))
        dist.append(np.max(np.abs(meanfield_equilibrium(own, a) - nplayer_equilibrium(own, a))))
        pred.append(a * (1 - a) / (n - a) * np.max(np.abs(own - own.mean(axis=0))))
    dist, pred = np.array(dist), np.array(pred)
    slope = float(np.polyfit(np.log(players), np.log(dist), 1)[0])
    return Scaling(players, dist, pred, slope)


def _program(dim: int, rounds: int):
    run = make_structured_solver(gaussian(dim), "uniform", "sampled", rounds)
    return jit(lambda key, *args: run(key[None], *(x[None] for x in args)))


def sampled_exchange(
    players: int = 1_000_000,
    a: float = 0.5,
    *,
    dim: int = 1,
    data_per_player: int = 4,
    rounds: int = 40,
    samples: int = 8,
    seed: int = 0,
) -> ExchangeRun:
    """The paper's sampled exchange of the uniform game at ``players`` players, in one program.

    Player i holds ``data_per_player`` points from N(c_i, I), c_i ~ N(0, 4 I); every round each
    player's mean statistics of ``samples`` synthetic points are drawn from their exact law (the
    statistic draw, O(N·K) whatever m) and every player refits
    on a·own + (1 − a)·pooled others (damping 1, iterate averaging after rounds // 2). Reports
    the distance to the mean-field closed form, whose own distance to the exact equilibrium is
    the O(1/N) ``meanfield_bias``.
    """
    for name, value, low in (
        ("players", players, 2),
        ("rounds", rounds, 2),
        ("samples", samples, 1),
        ("dim", dim, 1),
        ("data_per_player", data_per_player, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")
    a = float(_self_weights(a, 1)[0])
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((players, 1, dim))
    data = (centres + rng.standard_normal((players, data_per_player, dim))).astype(np.float32)
    weights = np.ones((players, data_per_player), np.float32)
    own = np.concatenate([data.mean(axis=1), (data.astype(np.float64) ** 2).mean(axis=1)], axis=1)
    mf = meanfield_equilibrium(own, a)
    exact = nplayer_equilibrium(own, a)
    stats = np.concatenate([data, data.astype(np.float64) ** 2], axis=2).reshape(-1, 2 * dim)
    averaged = rounds - rounds // 2
    noise = (1.0 - a) / a * float(stats.std(axis=0).max()) / np.sqrt(players * samples * averaged)
    program = _program(dim, rounds)
    args = (
        np.full(players, a, np.float32),
        np.zeros((players, 0), np.int32),
        np.zeros((players, 0), np.float32),
        data,
        weights,
        np.float32(1.0),
        np.int32(rounds // 2),
        np.float32(-1.0),
        mf.astype(np.float32),
        np.float32(samples),
    )
    key = jax.random.key(seed)
    compiled = program.lower(key, *args).compile()
    start = time.perf_counter()
    params, trace, _ = jax.block_until_ready(compiled(key, *args))
    wall = time.perf_counter() - start
    params = np.asarray(params[0], np.float64)
    gap = np.abs(params - mf)
    return ExchangeRun(
        players,
        rounds,
        samples,
        float(gap.max()),
        float(np.sqrt(np.mean(gap**2))),
        float(np.max(np.abs(mf - exact))),
        noise,
        np.asarray(trace.distance[0]),
        wall,
    )

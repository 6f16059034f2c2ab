"""Closed-form equilibria and the checks any solver run can be held against.

For exponential-family players the Nash equilibrium solves μ = D m + B μ (PAPERS.md §1), with
D = diag(α_ii), B = α − D, m the players' own-data moments:

    μ* = (I − B)^{-1} D m,

unique iff ρ(B) < 1, i.e. iff every player reaches, in the graph of α, a player with α_ii > 0.

Heterogeneous games (players of different families on one sample space) satisfy the *projected*
moment equations μ_i = α_ii m_i + Σ_j α_ij P_ij(μ_j), where P_ij(μ_j) = E_{p_j}[T_i] is player i's
statistics under player j's model (``gtgen.players.expfam.cross_moments``). For the Gaussians the
P_ij are polynomial: a diagonal Gaussian takes (mean, diagonal of the second moment) from anyone,
a full one sees a diagonal sender's second moment as diag(var) + m mᵀ. The system is block
triangular — the means solve a linear system of their own, and given the means the second
moments are linear — so Newton's method on F(μ) = μ − G(μ) (Jacobian by jax.jacfwd, float64)
reaches the exact solution in two steps. We run it to a residual below 1e-12.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gtgen.exchange import Context, RoundSpec, make_round
from gtgen.exchange.routing import routing_plan
from gtgen.game import Game, validate_alpha

EXACT = RoundSpec(samples=1, routing="expected", draw="expected")


def exact_best_response(groups, alpha, own, params) -> tuple:
    """Every player's exact best response to the others' parameters: the exchange round with
    closed-form statistics and no damping (the map whose fixed point is the equilibrium)."""
    context = Context(
        routing_plan(alpha, "expected"), tuple(own), jnp.ones((), jnp.asarray(alpha).dtype)
    )
    best, _ = make_round(groups, EXACT)(None, tuple(params), context)
    return best


def reaches_real_data(alpha: np.ndarray) -> np.ndarray:
    """Bool [N]: whether each player reaches, along α_ij > 0, a player with α_jj > 0."""
    a = np.asarray(alpha) > 0
    anchored = np.diagonal(a).copy()
    while True:
        grown = anchored | (a & anchored[None, :]).any(axis=1)
        if np.array_equal(grown, anchored):
            return anchored
        anchored = grown


DENSE_EIGEN_MAX = 2000  # above this many players ρ(B) is bracketed instead of solved densely


def spectral_radius(alpha: Any, iterations: int = 300) -> float:
    """ρ(B) for B the off-diagonal part of α: the linear rate of best-response iteration.

    Exact (dense eigenvalues) up to ``DENSE_EIGEN_MAX`` players. Above, the Collatz–Wielandt upper
    bound max_i (Bv)_i / v_i ≥ ρ(B), with v > 0 from ``iterations`` power steps on (I + B)/2;
    it is tight when the iteration has converged, and stays a valid bound when it has not (a
    cyclic α, whose leading eigenvalues share one modulus, defeats power iteration and ARPACK).
    """
    a = validate_alpha(alpha)
    off = a.copy()
    np.fill_diagonal(off, 0.0)
    if not off.any():
        return 0.0
    if a.shape[0] <= DENSE_EIGEN_MAX:
        return float(np.max(np.abs(np.linalg.eigvals(off))))
    v = np.ones(a.shape[0])
    upper = np.inf
    for _ in range(iterations):
        bv = off @ v
        ratios = bv / v
        upper = min(upper, float(ratios.max()))
        if upper - float(ratios.min()) < 1e-12:
            break
        v = 0.5 * (v + bv)
        v /= v.max()
    return upper


def _require_unique(alpha: np.ndarray) -> None:
    stuck = np.flatnonzero(~reaches_real_data(alpha))
    if stuck.size:
        raise ValueError(
            "alpha: the equilibrium is not unique (ρ(B) = 1): players "
            f"{', '.join(map(str, stuck))} form a closed group that never looks at real data"
        )


def nash_equilibrium(alpha: Any, own_moments: Any) -> np.ndarray:
    """Equilibrium mean parameters μ* = (I − B)^{-1} D m, shape [N, K], by one linear solve.

    Args:
      alpha: row-stochastic [N, N] trust matrix.
      own_moments: [N, K] expected sufficient statistics of each player's own data.
    Raises:
      ValueError: bad α or moments, or a non-unique equilibrium (ρ(B) = 1).
    """
    a = validate_alpha(alpha)
    m = np.asarray(own_moments, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != a.shape[0]:
        raise ValueError(f"own_moments: must be [N, K] with N = {a.shape[0]}, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("own_moments: contains NaN or infinite values")
    _require_unique(a)
    d = np.diagonal(a)
    off = a - np.diag(d)
    return np.linalg.solve(np.eye(a.shape[0]) - off, d[:, None] * m)


@functools.lru_cache(maxsize=32)
def _newton_functions(groups):
    """Jitted residual F(μ) = μ − G(μ) and its Jacobian for one game structure (cached)."""

    def residual(x, alpha, own):
        _, unflatten = ravel_pytree(own)
        return x - ravel_pytree(exact_best_response(groups, alpha, own, unflatten(x)))[0]

    return jax.jit(residual), jax.jit(jax.jacfwd(residual))


def game_equilibrium(game: Game) -> tuple[np.ndarray, ...]:
    """The game's Nash equilibrium, per group ``[n_g, K_g]`` (float64), in closed form."""
    game.require_expfam("game")
    _require_unique(game.alpha)
    own = list(game.own_moments64)
    if game.homogeneous:
        return (nash_equilibrium(game.alpha, own[0]),)
    with jax.enable_x64(True):
        alpha = jnp.asarray(game.alpha, jnp.float64)
        own64 = tuple(jnp.asarray(m, jnp.float64) for m in own)
        x, unflatten = ravel_pytree(own64)
        res, jac = _newton_functions(game.groups)
        for _ in range(50):
            f = res(x, alpha, own64)
            if float(jnp.max(jnp.abs(f))) < 1e-12:
                break
            x = x - jnp.linalg.solve(jac(x, alpha, own64), f)
        return tuple(np.asarray(p) for p in unflatten(x))


EXACT_COUNT_BUDGET = 2e10  # most multiply-adds spent counting exact rounds before estimating


def rounds_to_tolerance(game: Game, tol: float, rate: float, star) -> int:
    """Rounds of exact best response from the own-data fits until max |μ − μ*| ≤ tol.

    Counted by running the iteration in float64 (its error need not shrink by ρ every round: a
    chain of followers has ρ(B) = 0 yet needs N − 1 rounds); estimated from ρ(B) only when
    counting would cost more than ``EXACT_COUNT_BUDGET`` multiply-adds.
    """
    own = game.own_moments64
    start_error = max(float(np.max(np.abs(m - s))) for m, s in zip(own, star))
    estimate = predicted_rounds(rate, start_error, tol)
    work = game.n_players**2 * sum(g.player.num_stats for g in game.groups)
    if work * max(estimate, 1) > EXACT_COUNT_BUDGET:
        return estimate
    limit = int(max(2 * estimate + game.n_players + 10, 100))
    with jax.enable_x64(True):
        return int(
            _count_rounds(game.groups, limit)(
                jnp.asarray(game.alpha),
                tuple(jnp.asarray(m) for m in own),
                tuple(jnp.asarray(s) for s in star),
                jnp.float64(tol),
            )
        )


@functools.lru_cache(maxsize=32)
def _count_rounds(groups, limit: int):
    def count(alpha, own, star, tol):
        def error(mu):
            return jnp.max(jnp.stack([jnp.max(jnp.abs(m - s)) for m, s in zip(mu, star)]))

        def body(carry):
            t, mu = carry
            return t + 1, exact_best_response(groups, alpha, own, mu)

        def cond(carry):
            t, mu = carry
            return (error(mu) > tol) & (t < limit)

        return jax.lax.while_loop(cond, body, (jnp.int32(0), own))[0]

    return jax.jit(count)


class Report(NamedTuple):
    """What ``check`` measures; per-player lists are in player order."""

    residual: float  # max |μ − BR(μ)| over players and statistics
    distance: float  # max |μ − μ*|
    nash_gap: list[float]  # KL(p_BR_i ‖ p_i) per player, zero exactly at equilibrium
    rate: float  # ρ(B)
    rounds_to_tol: int  # rounds of exact best response from own data to reach ``tol`` (counted)
    tol: float
    closed_form: list[np.ndarray]  # μ* per player
    reached: list[np.ndarray]  # μ per player

    def to_dict(self) -> dict[str, Any]:
        return {
            "residual": self.residual,
            "distance": self.distance,
            "nash_gap": list(self.nash_gap),
            "rate": self.rate,
            "rounds_to_tol": self.rounds_to_tol,
            "tol": self.tol,
            "closed_form": [p.tolist() for p in self.closed_form],
            "reached": [p.tolist() for p in self.reached],
        }


def predicted_rounds(rate: float, initial_error: float, tol: float) -> int:
    """Rounds of the linear iteration e_{t+1} = B e_t needed to shrink ``initial_error`` to ``tol``."""
    if initial_error <= tol:
        return 0
    if rate <= 0.0:
        return 1
    return math.ceil(math.log(tol / initial_error) / math.log(rate))


# A KL computed as a difference of log-normalisers may come out this far below zero by rounding.
KL_ROUNDING = 1e-6


def _nonnegative_kl(values: np.ndarray, game: Game, group) -> np.ndarray:
    """KLs with rounding-level negatives set to 0; a clearly negative one is an error."""
    values = np.asarray(values, np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < -KL_ROUNDING))
    if bad.size:
        i = group.members[int(bad[0])]
        raise ValueError(
            f"nash_gap: player {i}'s KL(p_BR ‖ p_i) is {values[bad[0]]:.3g}, not a valid "
            "divergence: its distributions are degenerate (a singular covariance?); for "
            "gaussian-full set a ridge"
        )
    return np.maximum(values, 0.0)


def check(game: Game, solution: Any, tol: float = 1e-6) -> Report:
    """Residual, distance to the closed form, Nash gap and rate for a solver's answer.

    ``solution`` is a ``gtgen.Solution``, or per-group parameters as ``solve`` returns them.
    """
    game.require_expfam("game")
    if solution is None or isinstance(solution, (str, bytes, int, float)):
        raise TypeError(
            f"solution: expected a gtgen.Solution or per-group parameters, got "
            f"{type(solution).__name__}"
        )
    try:
        params = tuple(np.asarray(p, np.float64) for p in getattr(solution, "params", solution))
    except (TypeError, ValueError):
        raise ValueError("solution: parameters must be arrays of numbers, one per group") from None
    if len(params) != len(game.groups) or any(
        p.shape != (len(g.members), g.player.num_stats) for p, g in zip(params, game.groups)
    ):
        raise ValueError("solution: parameters do not match the game's players")
    for i, p in enumerate(game.per_player(params)):
        if not np.all(np.isfinite(p)):
            raise ValueError(
                f"solution: player {i}'s parameters are not finite (NaN or inf): the run "
                "diverged; check the data's scale, damping and, for gaussian-full, the ridge"
            )
    star = game_equilibrium(game)
    rate = spectral_radius(game.alpha)
    with jax.enable_x64(True):  # the Nash gap is a difference of log-normalisers: keep digits
        own = tuple(jnp.asarray(m) for m in game.own_moments64)
        best = exact_best_response(game.groups, jnp.asarray(game.alpha), own, params)
        gaps = [
            np.asarray(jax.vmap(g.player.kl)(b, jnp.asarray(p)))
            for g, b, p in zip(game.groups, best, params)
        ]
        best = [np.asarray(b) for b in best]
    gaps = [_nonnegative_kl(v, game, g) for v, g in zip(gaps, game.groups)]
    return Report(
        residual=max(float(np.max(np.abs(p - b))) for p, b in zip(params, best)),
        distance=max(float(np.max(np.abs(np.asarray(p) - s))) for p, s in zip(params, star)),
        nash_gap=[float(v[0]) for v in game.per_player([g[:, None] for g in gaps])],
        rate=rate,
        rounds_to_tol=rounds_to_tolerance(game, tol, rate, star),
        tol=tol,
        closed_form=game.per_player(star),
        reached=game.per_player(params),
    )

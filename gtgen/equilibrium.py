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

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gtgen.game import Game, validate_alpha
from gtgen.moments import exact_best_response


def reaches_real_data(alpha: np.ndarray) -> np.ndarray:
    """Bool [N]: whether each player reaches, along α_ij > 0, a player with α_jj > 0."""
    a = np.asarray(alpha) > 0
    anchored = np.diagonal(a).copy()
    while True:
        grown = anchored | (a & anchored[None, :]).any(axis=1)
        if np.array_equal(grown, anchored):
            return anchored
        anchored = grown


def spectral_radius(alpha: Any) -> float:
    """ρ(B) for B the off-diagonal part of α: the linear rate of best-response iteration."""
    a = validate_alpha(alpha)
    off = a - np.diag(np.diagonal(a))
    if a.shape[0] > 2000:  # power iteration on |B|, whose ρ equals ρ(B) for non-negative B
        v = np.ones(a.shape[0])
        for _ in range(2000):
            w = off @ v
            norm = np.linalg.norm(w)
            if norm == 0:
                return 0.0
            v_next = w / norm
            if np.allclose(v_next, v, atol=1e-12):
                break
            v = v_next
        return float(np.linalg.norm(off @ v) / np.linalg.norm(v))
    return float(np.max(np.abs(np.linalg.eigvals(off)))) if a.shape[0] else 0.0


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


def game_equilibrium(game: Game) -> tuple[np.ndarray, ...]:
    """The game's Nash equilibrium, per group ``[n_g, K_g]`` (float64), in closed form."""
    _require_unique(game.alpha)
    own = list(game.own_moments64)
    if game.homogeneous:
        return (nash_equilibrium(game.alpha, own[0]),)
    with jax.enable_x64(True):
        alpha = jnp.asarray(game.alpha, jnp.float64)
        own64 = tuple(jnp.asarray(m, jnp.float64) for m in own)
        x, unflatten = ravel_pytree(own64)

        def residual(x):
            return x - ravel_pytree(exact_best_response(game.groups, alpha, own64, unflatten(x)))[0]

        jac = jax.jit(jax.jacfwd(residual))
        res = jax.jit(residual)
        for _ in range(50):
            f = res(x)
            if float(jnp.max(jnp.abs(f))) < 1e-12:
                break
            x = x - jnp.linalg.solve(jac(x), f)
        return tuple(np.asarray(p) for p in unflatten(x))


class Report(NamedTuple):
    """What ``check`` measures; per-player lists are in player order."""

    residual: float  # max |μ − BR(μ)| over players and statistics
    distance: float  # max |μ − μ*|
    nash_gap: list[float]  # KL(p_BR_i ‖ p_i) per player, zero exactly at equilibrium
    rate: float  # ρ(B)
    rounds_to_tol: int  # rounds of exact best response predicted to reach ``tol`` from own data
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
    return int(math.ceil(math.log(tol / initial_error) / math.log(rate)))


def check(game: Game, solution: Any, tol: float = 1e-6) -> Report:
    """Residual, distance to the closed form, Nash gap and rate for a solver's answer.

    ``solution`` is a ``gtgen.Solution``, or per-group parameters as ``solve`` returns them.
    """
    params = tuple(np.asarray(p, np.float64) for p in getattr(solution, "params", solution))
    if len(params) != len(game.groups) or any(
        p.shape != (len(g.members), g.player.num_stats) for p, g in zip(params, game.groups)
    ):
        raise ValueError("solution: parameters do not match the game's players")
    star = game_equilibrium(game)
    rate = spectral_radius(game.alpha)
    with jax.enable_x64(True):  # the Nash gap is a difference of log-normalisers: keep digits
        own = tuple(jnp.asarray(m) for m in game.own_moments64)
        best = exact_best_response(game.groups, jnp.asarray(game.alpha), own, params)
        gaps = [np.asarray(jax.vmap(g.player.kl)(b, jnp.asarray(p)))
                for g, b, p in zip(game.groups, best, params)]
        best = [np.asarray(b) for b in best]
    start_error = max(float(np.max(np.abs(np.asarray(m) - s))) for m, s in zip(own, star))
    return Report(
        residual=max(float(np.max(np.abs(p - b))) for p, b in zip(params, best)),
        distance=max(float(np.max(np.abs(np.asarray(p) - s))) for p, s in zip(params, star)),
        nash_gap=[float(v[0]) for v in game.per_player([g[:, None] for g in gaps])],
        rate=rate,
        rounds_to_tol=predicted_rounds(rate, start_error, tol),
        tol=tol,
        closed_form=game.per_player(star),
        reached=game.per_player(params),
    )

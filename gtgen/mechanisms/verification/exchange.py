"""The tie to the exchange game: verification as a policy for the trust matrix α.

Players are 1-D Gaussian generative models (``gtgen.players.expfam.gaussian(1)``, mean
parameters (E x, E x²)); player j's own data follow P_j = N(μ_0 + b_j, σ_j²), the common target
is P_0 = N(μ_0, σ_0²), and a player's risk is KL(P_0 ‖ p_j) of the model it ends with. At the
game's Nash equilibrium the models are the closed form μ* = (I − B)⁻¹ D m
(``gtgen.solvers.equilibrium.nash_equilibrium``). A player in the exchange follows its α row; a player
that leaves sets α_ii = 1 and no one receives its samples.

Policies for α (rows of members; admitted senders share a row equally, the player included):

- ``"uniform"``: every member admits every member (α_ij = 1/|C|). Each player's equilibrium
  leans towards its own data, μ_i = (m_i + |C| m̄) / (|C| + 1), so the best player is pulled
  towards the worse ones: it is worse off than alone and leaves, then the next... (unravelling).
- ``"verified"``: player i admits j's synthetic samples (α_ij > 0) only if j passed the test
  (its samples, estimated against the trusted set, agree with its report within ε) and its
  reported quality is no worse than i's own (KL(P_0 ‖ P_j) ≤ KL(P_0 ‖ P_i)). Everyone's model
  then mixes only data at least as good as its own, no player is worse off than alone, and
  the game stays whole.

Leaving and joining follow the same best-response rounds as the aggregator's dynamics: a
member leaves when the equilibrium of the game it is in leaves it worse than alone, an
outsider joins when the game with it would leave it better off.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from gtgen.checks import integer
from gtgen.mechanisms.verification.dynamics import TIE_TOLERANCE
from gtgen.mechanisms.verification.model import (
    MIN_TEST_SAMPLES,
    Task,
    check_reports,
    estimate_types,
)
from gtgen.solvers.equilibrium import nash_equilibrium

POLICIES = ("uniform", "verified")
_estimate = jax.jit(estimate_types, static_argnums=0)


class ExchangeOutcome(NamedTuple):
    """The exchange game after the leave/join rounds.

    ``trajectory`` [rounds + 1, N] who is in the exchange after each round (row 0: everyone).
    ``alpha``      [N, N] the final trust matrix; ``moments`` [N, 2] its Nash equilibrium.
    ``risk``       [N] KL(P_0 ‖ p_i) at the end; ``alone`` [N] KL(P_0 ‖ own-data fit).
    ``grand_risk`` [N] KL(P_0 ‖ p_i) in the game with everyone in (before anyone moves).
    """

    trajectory: np.ndarray
    alpha: np.ndarray
    moments: np.ndarray
    risk: np.ndarray
    alone: np.ndarray
    grand_risk: np.ndarray

    @property
    def whole(self) -> bool:
        return bool(self.trajectory[-1].all())


def gaussian_moments(task: Task) -> np.ndarray:
    """[N, 2] mean parameters (E x, E x²) of every P_j of a mean-estimation task (μ_0 = 0)."""
    _require_mean(task)
    bias, noise = task.types[:, 0], task.types[:, 1]
    return np.stack([bias, bias**2 + noise**2], axis=1)


def kl_from_target(moments: np.ndarray, target_noise: float) -> np.ndarray:
    """KL(N(0, σ_0²) ‖ N(m, s²)) for every row (E x, E x²) of ``moments``."""
    mean = moments[:, 0]
    var = np.maximum(moments[:, 1] - mean**2, 1e-12)
    return 0.5 * np.log(var / target_noise**2) + (target_noise**2 + mean**2) / (2 * var) - 0.5


def trust_matrix(members: np.ndarray, admit: np.ndarray) -> np.ndarray:
    """α: each member's row uniform over the senders it admits (itself included); outsiders
    learn alone (α_ii = 1)."""
    n = members.size
    admit = (admit & members[:, None] & members[None, :]) | np.eye(n, dtype=bool)
    return admit / admit.sum(axis=1, keepdims=True)


def admission(
    policy: str, passes: np.ndarray, reported_alone: np.ndarray, alone: np.ndarray
) -> np.ndarray:
    """[N, N] whom each player admits, before membership is applied (see the module doc)."""
    n = alone.size
    if policy == "uniform":
        return np.ones((n, n), bool)
    no_worse = reported_alone[None, :] <= alone[:, None] * (1 + TIE_TOLERANCE) + 1e-12
    return (passes[None, :] & no_worse) | np.eye(n, dtype=bool)


def verification_passes(
    task: Task, key: jax.Array, eps: float, m: int, reports: Any = None
) -> np.ndarray:
    """[N] who passes the test: m samples of each player's own-data model and m trusted samples
    give estimates of its (bias, noise), compared with its report (default truthful)."""
    _require_mean(task)
    m = integer("verification_samples", m, MIN_TEST_SAMPLES)
    reports = task.types if reports is None else check_reports(task, reports)
    with jax.enable_x64(True):
        est = np.asarray(
            _estimate("mean", key, jax.numpy.asarray(task.types), task.scale, float(m))
        )
    return np.max(np.abs(est - reports), axis=1) <= eps


def play_exchange(
    task: Task,
    policy: str = "uniform",
    passes: Any = None,
    reports: Any = None,
    own_moments: Any = None,
    max_rounds: int | None = None,
) -> ExchangeOutcome:
    """Leave/join rounds of the exchange game under an α policy, in closed form.

    Args:
      task: a mean-estimation task (its bias / noise per player, σ_0 of the target).
      policy: ``"uniform"`` or ``"verified"``.
      passes: [N] bool, who passed the test (``verification_passes``); default: everyone.
      reports: [N, 2] reported (bias, noise); default truthful. Only ``"verified"`` uses them.
      own_moments: [N, 2] own-data moments (e.g. a ``Game``'s ``own_moments64`` from sampled
        data); default the population moments of the P_j.
      max_rounds: cap on the rounds (default 2N + 2).
    """
    _require_mean(task)
    if policy not in POLICIES:
        raise ValueError(f"policy: must be one of {POLICIES}, got {policy!r}")
    n = task.agents
    own = gaussian_moments(task) if own_moments is None else np.asarray(own_moments, np.float64)
    if own.shape != (n, 2):
        raise ValueError(f"own_moments: must be [{n}, 2] (E x, E x²) per player, got {own.shape}")
    alone = kl_from_target(own, task.scale)
    rep = task.types if reports is None else check_reports(task, reports)
    reported_alone = kl_from_target(gaussian_moments(task._replace(types=rep)), task.scale)
    passed = np.ones(n, bool) if passes is None else np.asarray(passes, bool).reshape(n)
    admit = admission(policy, passed, reported_alone, alone)
    rounds = 2 * n + 2 if max_rounds is None else integer("max_rounds", max_rounds)

    def risk_with(members: np.ndarray) -> np.ndarray:
        """KL of each player in the game of ``members`` with that player in."""
        out = np.empty(n)
        for i in range(n):  # N closed-form solves per round (N is small)
            inside = members.copy()
            inside[i] = True
            mu = nash_equilibrium(trust_matrix(inside, admit), own)
            out[i] = kl_from_target(mu[i : i + 1], task.scale)[0]
        return out

    members = np.ones(n, bool)
    trajectory = [members]
    grand = risk_with(members)
    for _ in range(rounds):
        r = risk_with(members)
        tol = TIE_TOLERANCE * np.abs(alone) + 1e-12
        new = np.where(members, r <= alone + tol, r < alone - tol)
        if np.array_equal(new, members):
            break
        members = new
        trajectory.append(members)
    alpha = trust_matrix(members, admit)
    mu = nash_equilibrium(alpha, own)
    return ExchangeOutcome(
        np.array(trajectory), alpha, mu, kl_from_target(mu, task.scale), alone, grand
    )


def _require_mean(task: Any) -> None:
    if not isinstance(task, Task) or task.kind != "mean":
        raise TypeError(
            "task: the exchange game needs a mean-estimation Task "
            "(gtgen.mechanisms.verification.mean_estimation(...))"
        )

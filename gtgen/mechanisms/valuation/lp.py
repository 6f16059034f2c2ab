"""The reward targets r_i = v* α_i^ρ: a linear program in (log v*, ρ), solved by HiGHS.

    maximise    log v* + 0.001 ρ                    (the small term breaks ties towards ρ = 1)
    subject to  log lower_i ≤ log v* + ρ log α_i ≤ log v(D_i ∪ G)   for every party i
                0 ≤ ρ ≤ 1                            (or ρ fixed by the caller)

with α_i = φ_i / max_j φ_j and lower_i = v(C_i), C_i = {j : φ_j ≤ φ_i} ("stable": no coalition of
weaker parties is better off alone; ties included, as the authors), or lower_i = v(D_i)
("rational": individually rational). Lower bounds ≤ 0 are raised to 1e-7, as the authors do.

What gtgen adds to the authors' ``opt_vstar``: the solver status is checked. Their code reads
``res.x`` whatever the status, and returns v* = 1, ρ = 0 when the stable program is infeasible
(PAPERS.md §2: at |D_i| = 200, |G| = 2000 on their GMM, v(N) = 0.51762 exceeds
v(D_top ∪ G) = 0.51754). gtgen then solves the individually rational program, says so in one line
(a ``StabilityFallback`` warning) and records it in the plan; it raises ValueError when that
program is infeasible too. Every returned plan is checked against every constraint.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy.optimize import linprog

from gtgen.mechanisms.valuation.kernel import KernelSums
from gtgen.mechanisms.valuation.shapley import values_of

CONDITIONS = ("stable", "rational")
LOWER_FLOOR = 1e-7  # lower bounds ≤ 0 are raised to this (the authors' value)
RHO_TIE_BREAK = 1e-3
CONSTRAINT_TOL = 1e-6  # on log r_i: HiGHS's primal feasibility tolerance is 1e-7


class StabilityFallback(UserWarning):
    """The stable program was infeasible; the individually rational one was solved instead."""


class RewardPlan(NamedTuple):
    """Reward targets and the program that produced them."""

    v_star: float
    rho: float
    targets: np.ndarray  # r_i = v* α_i^ρ
    alpha: np.ndarray  # φ / max φ
    lower: np.ndarray  # lower bounds on r_i of the program solved (after the 1e-7 floor)
    upper: np.ndarray  # v(D_i ∪ G)
    condition: str  # the program solved: "stable" or "rational"
    requested: str  # the program asked for
    note: str  # one line when the program solved is not the one requested, else ""

    @property
    def fallback(self) -> bool:
        return self.condition != self.requested


def normalised_alpha(phi: np.ndarray) -> np.ndarray:
    """α = φ / max φ, or ValueError when a Shapley value is not positive (log α undefined)."""
    phi = np.asarray(phi, np.float64)
    bad = np.flatnonzero(~(phi > 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"phi: party {i} has Shapley value {phi[i]:.3g} ≤ 0; ρ-Shapley rewards need every "
            "φ_i > 0 (a party that adds nothing to any coalition has nothing to be rewarded for)"
        )
    return phi / phi.max()


def lower_bounds(sums: KernelSums, phi: np.ndarray, condition: str) -> np.ndarray:
    """v(C_i) with C_i = {j : φ_j ≤ φ_i} ("stable") or v(D_i) ("rational"), floored at 1e-7."""
    n = sums.n_parties
    phi = np.asarray(phi, np.float64)
    if condition == "stable":
        members = (phi[None, :] <= phi[:, None]).astype(np.int64)  # row i: C_i
    else:
        members = np.eye(n, dtype=np.int64)
    return np.maximum(values_of(sums, sums.parties(members)), LOWER_FLOOR)


def upper_bounds(sums: KernelSums) -> np.ndarray:
    """v(D_i ∪ G) for every party: all of G added to its data (with disjoint shares, its share
    G_i: all a party could draw)."""
    return values_of(sums, sums.with_pool())


def solve_lp(
    alpha: np.ndarray, lower: np.ndarray, upper: np.ndarray, rho: float | None = None
) -> tuple[float, float] | None:
    """(log v*, ρ) of the program, or None when it is infeasible."""
    log_a = np.log(alpha)
    ones = np.ones_like(log_a)
    a_ub = np.concatenate([np.stack([ones, log_a], 1), -np.stack([ones, log_a], 1)])
    b_ub = np.concatenate([np.log(upper), -np.log(lower)])
    bounds = [(None, None), (0.0, 1.0) if rho is None else (float(rho), float(rho))]
    res = linprog(c=[-1.0, -RHO_TIE_BREAK], A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status == 2:
        return None
    if res.status != 0:
        raise ValueError(f"reward LP: HiGHS stopped without a solution ({res.message})")
    return float(res.x[0]), float(res.x[1])


def check_plan(plan: RewardPlan) -> None:
    """ValueError unless the plan satisfies every constraint of its program (in log r_i)."""
    log_r = np.log(plan.targets)
    low = np.flatnonzero(log_r < np.log(plan.lower) - CONSTRAINT_TOL)
    high = np.flatnonzero(log_r > np.log(plan.upper) + CONSTRAINT_TOL)
    if low.size or high.size or not -CONSTRAINT_TOL <= plan.rho <= 1 + CONSTRAINT_TOL:
        raise ValueError(
            f"reward LP: the solver's answer violates the constraints (parties "
            f"{sorted(set(low) | set(high))}, ρ = {plan.rho:g})"
        )


def reward_plan(
    sums: KernelSums, phi: np.ndarray, condition: str = "stable", rho: float | None = None
) -> RewardPlan:
    """Targets r_i = v* α_i^ρ from the LP; the stable program falls back to the individually
    rational one when infeasible (a ``StabilityFallback`` warning, and ``plan.note``)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition: must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    if rho is not None and not (isinstance(rho, int | float) and 0.0 <= rho <= 1.0):
        raise ValueError(f"rho: must be a number in [0, 1] (or None to optimise it), got {rho!r}")
    alpha = normalised_alpha(phi)
    upper = upper_bounds(sums)
    if np.any(upper <= 0):
        i = int(np.flatnonzero(upper <= 0)[0])
        raise ValueError(f"reward LP: v(D_{i} ∪ G) = {upper[i]:.3g} ≤ 0; no positive reward fits")
    note, used = "", condition
    lower = lower_bounds(sums, phi, condition)
    solution = solve_lp(alpha, lower, upper, rho)
    if solution is None and condition == "stable":
        grand = float(values_of(sums, sums.parties(np.ones(sums.n_parties))))
        top = int(np.argmax(alpha))
        pool = f"G_{top}" if sums.disjoint else "G"
        note = (
            f"reward LP: the stable program is infeasible (v(N) = {grand:.6g}, "
            f"v(D_{top} ∪ {pool}) = {upper[top]:.6g}); using individual rationality instead"
        )
        warnings.warn(note, StabilityFallback, stacklevel=2)
        used = "rational"
        lower = lower_bounds(sums, phi, used)
        solution = solve_lp(alpha, lower, upper, rho)
    if solution is None:
        worst = int(np.argmax(lower / upper))
        raise ValueError(
            f"reward LP: infeasible under {'stability and ' if used != condition else ''}"
            f"individual rationality{'' if rho is None else f' with ρ = {rho:g}'} (party "
            f"{worst}: lower bound {lower[worst]:.6g}, upper bound {upper[worst]:.6g})"
        )
    log_v, r = solution
    plan = RewardPlan(
        float(np.exp(log_v)),
        r,
        np.exp(log_v + r * np.log(alpha)),
        alpha,
        lower,
        upper,
        used,
        condition,
        note,
    )
    check_plan(plan)
    return plan

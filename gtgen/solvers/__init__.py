"""Exponential-family tools on top of the one exchange round: solvers, closed form, checks.

``solve`` runs the round (sampled, exact or Anderson-accelerated) in the loop every solver
shares (``loop``); ``equilibrium`` holds the closed form μ* = (I − B)⁻¹ D m, the projected moment
equations of heterogeneous games, and ``check`` (residual, distance, Nash gap, ρ(B)).
"""

from gtgen.solvers.equilibrium import (
    Report,
    check,
    exact_best_response,
    game_equilibrium,
    nash_equilibrium,
    spectral_radius,
)
from gtgen.solvers.loop import RoundInfo, run_rounds
from gtgen.solvers.solve import METHODS, Solution, State, make_solver, solve

__all__ = [
    "METHODS",
    "Report",
    "RoundInfo",
    "Solution",
    "State",
    "check",
    "exact_best_response",
    "game_equilibrium",
    "make_solver",
    "nash_equilibrium",
    "run_rounds",
    "solve",
    "spectral_radius",
]

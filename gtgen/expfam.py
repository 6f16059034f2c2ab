"""``gtgen.expfam``: exponential-family players and their closed-form equilibrium.

>>> player = gtgen.expfam.gaussian(dim=2)
>>> mu_star = gtgen.expfam.nash_equilibrium(alpha, own_moments)
"""

from gtgen.players.expfam import (
    FAMILIES,
    ExpFamPlayer,
    bernoulli,
    categorical,
    cross_moments,
    family,
    gaussian,
    gaussian_full,
    poisson,
)
from gtgen.solvers.equilibrium import nash_equilibrium

__all__ = [
    "FAMILIES",
    "ExpFamPlayer",
    "bernoulli",
    "categorical",
    "cross_moments",
    "family",
    "gaussian",
    "gaussian_full",
    "nash_equilibrium",
    "poisson",
]

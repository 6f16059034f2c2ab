"""gtgen: games of generative models that learn from each other's synthetic data.

import gtgen
player = gtgen.expfam.gaussian(dim=2)
game = gtgen.Game(players=[player] * 3, alpha=A, data=[x0, x1, x2])
result = gtgen.solve(game, jax.random.key(0), rounds=200, samples=1000)
report = gtgen.check(game, result)
rows = gtgen.sweep(a=[0.2, 0.5, 0.8], seeds=16, players=8, method="exact").rows
"""

from importlib import metadata as _metadata

from gtgen import expfam
from gtgen.exchange import ROUTINGS, RoundSpec, make_play, make_round
from gtgen.game import Game, validate_alpha
from gtgen.solvers import (
    METHODS,
    Report,
    RoundInfo,
    Solution,
    State,
    check,
    game_equilibrium,
    make_solver,
    nash_equilibrium,
    solve,
    spectral_radius,
)
from gtgen.sweep import (  # gtgen.sweep is the function; its package stays importable
    SweepResult,
    sweep,
)

try:  # one source: the version in pyproject.toml, as the installed package's metadata has it
    __version__ = _metadata.version("gtgen")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "METHODS",
    "ROUTINGS",
    "Game",
    "Report",
    "RoundInfo",
    "RoundSpec",
    "Solution",
    "State",
    "SweepResult",
    "check",
    "expfam",
    "game_equilibrium",
    "make_play",
    "make_round",
    "make_solver",
    "nash_equilibrium",
    "solve",
    "spectral_radius",
    "sweep",
    "validate_alpha",
]

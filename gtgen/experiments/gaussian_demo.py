"""Four 2-D Gaussian players moving from their own data to the Nash equilibrium.

Each player holds a small, differently shaped cloud of points. They play the paper's sampled
exchange (``gtgen.exchange.make_round``) with a uniform α = 1/4, for which the equilibrium has the closed
form p_i = (2 π_i + Σ_{j≠i} π_j) / 5 (PAPERS.md §1). The result holds every round's parameters,
so the picture can show the covariance ellipses travelling to the closed form.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options
from gtgen.exchange import RoundSpec, make_context, make_round
from gtgen.game import Game
from gtgen.players.expfam import gaussian_full
from gtgen.solvers.equilibrium import Report, check, game_equilibrium

CENTRES = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
SHAPES = np.array(
    [
        [[1.0, 0.8], [0.8, 1.0]],
        [[1.0, -0.6], [-0.6, 0.6]],
        [[2.0, 0.0], [0.0, 0.2]],
        [[0.3, 0.0], [0.0, 1.5]],
    ]
)


class DemoResult(NamedTuple):
    game: Game
    data: list[np.ndarray]
    path: np.ndarray  # [rounds + 1, N, K] parameters per round, round 0 = own-data fit
    closed_form: np.ndarray  # [N, K]
    report: Report


def make_game(seed: int = 0, n_per_player: int = 200) -> tuple[Game, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    data = [rng.multivariate_normal(c, s, size=n_per_player) for c, s in zip(CENTRES, SHAPES)]
    alpha = np.full((4, 4), 0.25)
    return Game([gaussian_full(2)] * 4, alpha, data), data


def run(seed: int = 0, rounds: int = 40, samples: int = 4000) -> DemoResult:
    """Play ``rounds`` sampled exchange rounds and check the average of the last half."""
    game, data = make_game(seed)
    spec = RoundSpec(samples)
    round_fn = make_round(game.groups, spec)
    alpha = jnp.asarray(game.alpha, jnp.float32)

    @xla_options.jit
    def play(key, data, weights):
        context = make_context(game.groups, alpha, data, weights, spec)

        def body(states, k):
            states, _ = round_fn(k, states, context)
            return states, states[0]

        return context.own[0], jax.lax.scan(body, context.own, jax.random.split(key, rounds))[1]

    own, path = play(jax.random.key(seed), game.data, game.weights)
    path = np.concatenate([np.asarray(own)[None], np.asarray(path)])
    average = path[1 + rounds // 2 :].mean(axis=0)
    return DemoResult(game, data, path, game_equilibrium(game)[0], check(game, (average,)))

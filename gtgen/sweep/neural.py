"""Neural players in a sweep: VAE players exchanging samples of the embedded digits.

``family = "vae"``: every player is the MLP VAE of gtgen.players.neural (Bernoulli decoder, 8×8
binarised digits). Player k of N holds the digits whose class c has c mod N = k (N ≤ 10; with
N = 2: even / odd digits). Per point, α is built from ``alpha`` and ``a`` as for exponential
families; the players are initialised from the point's seed and trained for ``rounds`` rounds of
the exchange round (gtgen.exchange) with batch ``samples`` (the authors' composition: round(samples·a) own
images, the rest synthetic from the others). All points of a shape train in one compiled,
vmapped program, α and seeds traced.

A neural game has no closed form: its rows report ρ(B) of α (the rate the exchange would have
for exponential-family players), the rounds run, ``final_loss`` (the players' mean training loss
over the last tenth of the rounds) and wall time; distance, residual and Nash gap are NaN.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.data import load_digits
from gtgen.data.partition import by_classes, stack_players
from gtgen.exchange import RoundSpec, init_states, make_train
from gtgen.game import Group
from gtgen.players.neural import VAEConfig, vae_player
from gtgen.sweep import families
from gtgen.sweep.structured import rate

NEURAL_FAMILIES = ("vae",)
MAX_PLAYERS = 10  # one digit class at least per player
NEURAL_INPUTS = ("seed", "alpha", "data", "counts")


@functools.cache
def digits_split(players: int) -> tuple[np.ndarray, np.ndarray]:
    """Binarised digits of class c to player c mod N: padded images [N, n_max, 8, 8], counts [N]."""
    ds = load_digits()
    parts = [
        ds.images[idx]
        for idx in by_classes(ds.labels, [list(range(k, 10, players)) for k in range(players)])
    ]
    padded, counts = stack_players(parts)
    return padded.astype(np.float32), counts


def final_loss(loss: jax.Array) -> jax.Array:
    """Mean over players of the training loss over the last tenth of the rounds: [rounds, N]."""
    tail = max(1, loss.shape[0] // 10)
    return jnp.mean(loss[-tail:])


def neural_program(shape: dict[str, Any]):
    """``(fn, input names)``: ``fn(seed, alpha, data, counts)`` over a leading axis of points
    returns each point's final loss [P]."""
    n, rounds, batch = shape["players"], shape["rounds"], shape["samples"]
    player = vae_player(VAEConfig())
    train = make_train(player, n, RoundSpec(batch, routing="sampled"))
    groups = (Group(player, tuple(range(n))),)

    def one(seed, alpha, data, counts):
        k_init, k_train = jax.random.split(jax.random.key(seed))
        (states,) = init_states(groups, k_init, (None,))
        _, info = train(k_train, states, data, counts, alpha, rounds)
        return final_loss(info.metrics[0]["loss"])  # from [rounds, N]

    return jax.vmap(one), NEURAL_INPUTS


def neural_inputs(settings: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Device inputs of these points (unpadded) and their ρ(B)."""
    n = settings[0]["players"]
    data, counts = digits_split(n)
    structs = [families.structure(s) for s in settings]
    alphas = np.stack([families.dense(st) for st in structs])
    rates = np.array([rate(st, al) for st, al in zip(structs, alphas)])
    inputs = {
        "seed": np.array([s["seed"] for s in settings], np.uint32),
        "alpha": alphas.astype(np.float32),
        "data": np.broadcast_to(data, (len(settings), *data.shape)),
        "counts": np.broadcast_to(counts, (len(settings), n)),
    }
    return inputs, rates

"""A data sender: a player that sends rows of a real data set and learns nothing.

IV-C's second setting gives player A real (c, s) pairs instead of a generator's samples. In gtgen
that is one more player of the same exchange round: its samples are ``n`` rows drawn uniformly
with replacement from the data it holds, and its learning step leaves it unchanged. What it sends
is real data, by construction and by name: the privacy boundary of the round (only samples cross)
holds, and this player's samples happen to be its data.

Its state holds the rows it sends and how many of them are real (``SenderState``, the rest is
padding, so that senders of different data sizes share one program): ``init(key)`` gives zeros
of the declared size, and ``sender_state(player, data)`` the state holding ``data`` (a state is
traced, so the data are not constants of the compiled program).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.checks import integer
from gtgen.players.base import Batch, Variables, check_variables
from gtgen.players.neural.common import NeuralPlayer


class SenderState(NamedTuple):
    """The rows the sender sends ``{name: [rows, *shape]}``; the first ``count`` are real."""

    rows: dict
    count: jax.Array


def data_sender(label: str, variables: Variables, rows: int) -> NeuralPlayer:
    """A player holding up to ``rows`` rows of ``variables``; it sends uniform draws (with
    replacement) from the rows its state holds."""
    rows = integer("data_sender: rows", rows)
    variables = tuple(variables)

    def init(key: jax.Array) -> SenderState:
        zeros = {n: jnp.zeros((rows, *v.shape), v.dtype) for n, v in variables}
        return SenderState(zeros, jnp.ones((), jnp.int32))

    def sample(key: jax.Array, state: SenderState, n: int) -> dict:
        pick = jax.random.randint(key, (n,), 0, state.count)
        return {name: x[pick] for name, x in state.rows.items()}

    def loss(key, state, items, weights) -> jax.Array:
        return jnp.zeros(())

    def learn(key, state, own: Batch, synthetic: Batch, shared_slots: bool = False):
        return state, {"loss": jnp.zeros(())}

    names = tuple(n for n, _ in variables)
    player = NeuralPlayer(
        f"data_sender({label}, rows={rows})",
        variables,
        names,
        label,
        init,
        sample,
        loss,
        learn,
        receives=False,
    )
    check_variables(player, f"data_sender({label!r})")
    return player


def sender_state(player: NeuralPlayer, data: dict) -> SenderState:
    """The state of ``player`` (a ``data_sender``) holding ``data`` ``{name: [n, ...]}``, n up to
    its ``rows`` (padded with zeros it never sends); ValueError names a variable that is missing
    or has the wrong shape, or data of more rows than it holds."""
    like = player.init(jax.random.key(0)).rows
    counts = {len(np.asarray(data[n])) for n in like if n in data}
    out = {}
    for name, var in player.variables:
        if name not in data:
            raise ValueError(f"data_sender: the data lack {name!r}")
        x = np.asarray(data[name])
        rows, shape = like[name].shape[0], tuple(like[name].shape[1:])
        if x.shape[1:] != shape or len(counts) != 1 or not 0 < len(x) <= rows:
            raise ValueError(
                f"data_sender: {name!r} has shape {x.shape}, expected 1 to {rows} rows of "
                f"{shape}, as many as the other variables"
            )
        pad = np.zeros((rows - len(x), *shape), x.dtype)
        out[name] = jnp.asarray(np.concatenate([x, pad]), var.dtype)
    return SenderState(out, jnp.asarray(counts.pop(), jnp.int32))

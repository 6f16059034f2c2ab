"""The exchange round for a group of neural players: sample → route by α → update, all vmapped.

The players of a group hold one stacked train state (leading axis = player). One round:

1. every player draws ``batch`` synthetic samples from its current state (before anyone
   updates: Jacobi order, as in the authors' code);
2. receiver i gets ``batch`` synthetic items; the source of each is drawn from row i of α
   without the diagonal (``gtgen.routing.draw_sources``), and item k of a receiver is sample k
   of its source, so each receiver sees independent draws of its mixture;
3. every player draws a minibatch of its own data (with replacement, from its padded rows)
   and takes one ``update`` on the mix.

Only the synthetic samples cross from one player to another; own data and parameters are
indexed per player inside the vmapped update, never gathered across players.

Batch composition (static choice, α itself is traced):
``"shares"``    the authors' scheme: self-weight a = α_ii gives ``round(B·a)`` own items and
                ``B − round(B·a)`` synthetic ones (``gtgen.routing.batch_shares``); the two sets
                fill complementary slots of one batch of B items.
``"weighted"``  the full own batch and the full synthetic batch, weighted α_ii and 1 − α_ii.

``make_train`` runs ``iterations`` rounds in one ``lax.scan`` and is jitted once per shape:
α, keys, data and states are traced, so a sweep over α neither recompiles nor leaves the
compiled program. Vmap ``train`` over a leading axis of (keys, states, α) to train a whole
sweep at once::

    train = make_train(player, n_players=2, batch=256)
    sweep = gtgen.xla_options.jit(
        jax.vmap(lambda k, s, a: train(k, s, data, counts, a, iterations=1000))
    )
    states, info = sweep(keys, stacked_states, alphas)   # alphas [S, 2, 2]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp

from gtgen import xla_options
from gtgen.players.neural.common import Metrics, NeuralPlayer, Samples, State
from gtgen.routing import batch_shares, draw_sources, off_diagonal_rows

Composition = Literal["shares", "weighted"]


class RoundInfo(NamedTuple):
    """Per-player diagnostics of one round (leaves ``[n_players]``; ``[T, n_players]`` in a trace)."""

    metrics: Metrics  # what the players' updates report
    own_weight: jax.Array  # total weight on own items (their count, for "shares")
    synthetic_weight: jax.Array  # total weight on synthetic items


def init_states(player: NeuralPlayer, key: jax.Array, n_players: int) -> State:
    """Independently initialised players, stacked along a leading axis."""
    return jax.vmap(player.init)(jax.random.split(key, n_players))


def own_minibatch(
    key: jax.Array, data: jax.Array, count: jax.Array, batch: int, flip_prob: float
) -> jax.Array:
    """``batch`` items drawn with replacement from the first ``count`` rows of ``data``.

    With ``flip_prob > 0`` every pixel is flipped with that probability (the authors'
    salt-and-pepper noise, as ``gtgen.data.flip_noise``), from the same uniform draw as the
    indices: one random call site, since each costs seconds of compile time under vmap.
    """
    pixels = math.prod(data.shape[1:]) if flip_prob > 0 else 0
    u = jax.random.uniform(key, (batch, 1 + pixels))
    idx = jnp.minimum((u[:, 0] * count).astype(jnp.int32), jnp.maximum(count - 1, 0))
    x = data[idx]
    if flip_prob > 0:
        x = jnp.where(u[:, 1:].reshape(x.shape) < flip_prob, 1 - x, x)
    return x


def route(key: jax.Array, samples: Samples, alpha: jax.Array, batch: int) -> Samples:
    """Synthetic items of every receiver ``[N, batch, ...]`` from the senders' ``[N, batch, ...]``."""
    src = draw_sources(key, alpha, batch)
    slot = jnp.arange(batch)[None, :]
    return jax.tree.map(lambda s: s[src, slot], samples)


def batch_weights(
    alpha: jax.Array, counts: jax.Array, batch: int, composition: Composition
) -> tuple[jax.Array, jax.Array]:
    """Weights ``(own [N, B], synthetic [N, B])`` that realise α as the chosen composition.

    Synthetic items of a player without off-diagonal mass, and own items of a player without
    data, get zero weight. For ``"shares"`` the synthetic mask is reversed so that it fills
    exactly the slots the own mask leaves free (items are exchangeable, so only the count
    matters).
    """
    a = jnp.diagonal(alpha)
    has_synth = (off_diagonal_rows(alpha).sum(axis=1) > 0)[:, None]
    has_own = (counts > 0)[:, None]
    if composition == "shares":
        own, synth = jax.vmap(batch_shares, in_axes=(0, None))(a, batch)
        synth = synth[:, ::-1]
    else:
        ones = jnp.ones((a.shape[0], batch), jnp.float32)
        own, synth = a[:, None] * ones, (1.0 - a)[:, None] * ones
    return own * has_own, synth * has_synth


def make_round(
    player: NeuralPlayer,
    n_players: int,
    batch: int,
    composition: Composition = "shares",
    flip_prob: float = 0.0,
) -> Callable[..., tuple[State, RoundInfo]]:
    """``round(key, states, own_data, own_counts, alpha) -> (states, RoundInfo)``, not jitted.

    ``own_data [N, n_max, *event_shape]`` (rows past ``own_counts[i]`` are padding),
    ``own_counts [N]`` int, ``alpha [N, N]`` row-stochastic. ``flip_prob`` is the
    salt-and-pepper noise on real binary images (the authors use 0.001).
    """
    if composition not in ("shares", "weighted"):
        raise ValueError(f"composition must be 'shares' or 'weighted', got {composition!r}")
    shared = composition == "shares"
    update = partial(player.update, shared_slots=shared)
    draw = partial(own_minibatch, batch=batch, flip_prob=flip_prob)

    def sample(key: jax.Array, state: Any) -> Samples:
        return player.sample(key, state, batch)

    def round_fn(
        key: jax.Array,
        states: State,
        own_data: jax.Array,
        own_counts: jax.Array,
        alpha: jax.Array,
    ) -> tuple[State, RoundInfo]:
        chex.assert_shape(alpha, (n_players, n_players))
        chex.assert_shape(own_counts, (n_players,))
        chex.assert_shape(own_data, (n_players, None, *player.event_shape))
        # One split for the whole round (every random call site costs compile time).
        keys = jax.random.split(key, 3 * n_players + 1)
        k_sample, k_own, k_update = keys[1:].reshape(3, n_players)
        samples = jax.vmap(sample)(k_sample, states)
        synth = route(keys[0], samples, alpha, batch)
        own = jax.vmap(draw)(k_own, own_data, own_counts)
        own_w, synth_w = batch_weights(alpha, own_counts, batch, composition)
        states, metrics = jax.vmap(update)(k_update, states, own, own_w, synth, synth_w)
        return states, RoundInfo(metrics, own_w.sum(axis=1), synth_w.sum(axis=1))

    return round_fn


def make_train(
    player: NeuralPlayer,
    n_players: int,
    batch: int,
    composition: Composition = "shares",
    flip_prob: float = 0.0,
) -> Callable[..., tuple[State, RoundInfo]]:
    """``train(key, states, own_data, own_counts, alpha, iterations) -> (states, trace)``.

    Jitted with ``iterations`` static; the trace is the stacked :class:`RoundInfo` of every
    round. Arguments as for :func:`make_round`.
    """
    round_fn = make_round(player, n_players, batch, composition, flip_prob)

    def train(
        key: jax.Array,
        states: State,
        own_data: jax.Array,
        own_counts: jax.Array,
        alpha: jax.Array,
        iterations: int,
    ) -> tuple[State, RoundInfo]:
        def body(states: State, k: jax.Array) -> tuple[State, RoundInfo]:
            return round_fn(k, states, own_data, own_counts, alpha)

        return jax.lax.scan(body, states, jax.random.split(key, iterations))

    return xla_options.jit(train, static_argnames="iterations")

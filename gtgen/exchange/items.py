"""What an item-reading receiver (a neural player) gets from the round: two weighted batches.

``own_batch`` draws the player's own items from its padded private data (a minibatch with
replacement, in proportion to the row weights, or the full batch), with the authors' noise on
real data. ``synthetic_batch`` routes the senders' named samples to every receiver, keeping only
the variables the receiver models:

``sampled``   receiver i's ``m`` slots draw their senders from row i of α without the diagonal
              (``gtgen.exchange.routing``); slot k of a receiver is sample k of its sender's pool,
              so a receiver never sees one sample twice.
``expected``  every receiver sees every other sender's whole pool, sample of sender j weighted
              α_ij / m (O(N²·m) items: for a handful of players, e.g. the authors' IV-B).

Composition (how α becomes weights; α itself stays traced):

``shares``    the authors' IV-A scheme: self-weight a = α_ii gives ``round(B·a)`` own items and
              ``B − round(B·a)`` synthetic ones in one batch of B slots (``batch_shares``); the
              synthetic mask is reversed so it fills exactly the slots the own mask leaves free.
``weighted``  own items weighted α_ii in total, synthetic items 1 − α_ii in total.

A player's loss is the weighted mean over its items; a player without own data, or without
anyone to learn from, gives those items weight 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from gtgen.exchange.routing import RoutingPlan, batch_shares
from gtgen.exchange.statistics import index, local_index
from gtgen.players.base import Batch, variable_map

COMPOSITIONS = ("shares", "weighted")


def own_batch(
    key: jax.Array,
    data: dict,
    weights: jax.Array,
    variables: dict,
    size: int | None,
    flip_prob: float = 0.0,
    noise_std: float = 0.0,
    strata: jax.Array | None = None,
) -> Batch:
    """One player's own items: ``size`` rows drawn with replacement in proportion to
    ``weights [n_max]`` (None: every row, weighted), as a :class:`Batch` whose weights sum to 1
    (0 for a player without data).

    ``strata`` (traced, k ≥ 1): systematic draws over the first k slots: slot j takes the row
    at position (j + U) / k of the weights' cumulative sum, one uniform U for the batch (slots
    past k repeat the positions). A contiguous block of rows holding a share w of the weight
    then gets ⌊k·w⌋ or ⌈k·w⌉ of those slots, so rows sorted by class give class-balanced
    batches (the authors' IV-A takes 200·a images of every digit); which rows of a block come
    is set by U alone. None draws every slot independently.

    With ``flip_prob > 0`` every binary pixel is flipped with that probability (the authors'
    salt-and-pepper noise) from the same uniform draw as the indices (one random call site: each
    costs compile time under vmap); ``noise_std > 0`` adds Gaussian noise to real variables (the
    authors' IV-B, σ = 0.01).
    """
    binary = [n for n in data if variables[n].kind == "binary"] if flip_prob > 0 else []
    sizes = [math.prod(data[n].shape[1:]) for n in binary]
    total = weights.sum()
    if size is None:
        items, w = dict(data), weights / jnp.where(total > 0, total, 1.0)
        n = weights.shape[0]
        u = jax.random.uniform(key, (n, sum(sizes))) if sizes else None
    else:
        u = jax.random.uniform(key, (size, 1 + sum(sizes)))
        cdf = jnp.cumsum(weights)
        position = u[:, 0]
        if strata is not None:
            k = jnp.maximum(jnp.asarray(strata, jnp.float32), 1.0)
            position = (jnp.mod(jnp.arange(size, dtype=jnp.float32), k) + position[0]) / k
        rows = jnp.searchsorted(cdf, position * cdf[-1], side="right")
        rows = jnp.clip(rows, 0, weights.shape[0] - 1)
        items = {name: x[rows] for name, x in data.items()}
        w = jnp.where(total > 0, 1.0 / size, 0.0) * jnp.ones((size,), jnp.float32)
        u = u[:, 1:]
    start = 0
    for name, width in zip(binary, sizes):
        x = items[name]
        flip = u[:, start : start + width].reshape(x.shape) < flip_prob
        items[name] = jnp.where(flip, 1 - x, x)
        start += width
    if noise_std > 0:
        real = [n for n in items if variables[n].kind == "real"]
        keys = jax.random.split(jax.random.fold_in(key, 1), max(len(real), 1))
        for k, name in zip(keys, real):
            x = items[name]
            items[name] = x + noise_std * jax.random.normal(k, x.shape, x.dtype)
    return Batch(items, w)


def _select(items: dict, names) -> dict:
    return {n: items[n] for n in names}


def source_groups(receiver, groups) -> list[int]:
    """Positions of the groups whose samples can reach ``receiver``: every other group, and its
    own when it has several members (no player receives its own samples); in a one-player game
    its own (the items then carry weight 0). Static: what α says about them is traced."""
    out = [p for p, h in enumerate(groups) if h is not receiver or len(h.members) > 1]
    return out or list(range(len(groups)))


def _sent_by(receiver, groups) -> tuple[list[str], list[int], dict[str, list[int]]]:
    """The receiver's variables, its source groups, and for each variable the source groups
    that send it (a variable some sender lacks is one the receiver completes itself: the Game
    checked that)."""
    names = [v for v, _ in receiver.player.variables]
    senders = source_groups(receiver, groups)
    sends = {v: [p for p in senders if v in variable_map(groups[p].player)] for v in names}
    return names, senders, sends


def _blank(receiver, name: str, shape: tuple[int, ...]) -> jax.Array:
    var = variable_map(receiver.player)[name]
    return jnp.zeros((*shape, *var.shape), var.dtype)


def sampled_batch(receiver, groups, pools, sources: jax.Array, n: int):
    """Items ``{name: [n_g, m, ...]}`` for every member of ``receiver`` and their presence masks
    (``Batch.present``; none for a variable every source group sends); slot k of receiver i is
    sample k of its sender ``sources[i, k]``; only the variables the receiver models are taken,
    and only the pools of its ``source_groups`` are read (the others may be None)."""
    src = sources[index(receiver)]
    slot = jnp.arange(src.shape[1])[None, :]
    names, senders, sends = _sent_by(receiver, groups)
    out, present = {}, {}
    for v in names:
        if not sends[v]:
            out[v], present[v] = _blank(receiver, v, src.shape), jnp.zeros(src.shape, bool)
            continue
        if len(senders) == 1:  # the one source group (another's source carries weight 0)
            local, _ = local_index(groups[senders[0]], n)
            out[v] = pools[senders[0]][v][jnp.asarray(local)[src], slot]
            continue
        acc, mask_acc = 0, False  # a bool mask (0 | bool would be an int mask)
        for p in sends[v]:
            local, member = local_index(groups[p], n)
            x = pools[p][v][jnp.asarray(local)[src], slot]
            mask = jnp.asarray(member)[src]
            acc = acc + jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - 2)), x, 0)
            mask_acc = mask_acc | mask
        out[v] = acc.astype(pools[sends[v][0]][v].dtype)
        if len(sends[v]) < len(senders):
            present[v] = mask_acc
    return out, present or None


def pooled_batch(receiver, groups, pools, plan: RoutingPlan):
    """Every other sender's whole pool, the same items for every receiver ``{name: [M, ...]}``,
    their presence masks, and each receiver's weights ``[n_g, M]``: α_ij / m on sender j's samples
    (0 on its own). A receiver alone in its group skips its own pool (it would weigh 0)."""
    names, senders, sends = _sent_by(receiver, groups)
    m = next(iter(pools[senders[0]].values())).shape[1]
    items, present = {}, {}
    for v in names:
        parts = [
            pools[p][v].reshape((-1, *pools[p][v].shape[2:]))
            if p in sends[v]
            else _blank(receiver, v, (len(groups[p].members) * m,))
            for p in senders
        ]
        items[v] = jnp.concatenate(parts)
        if len(sends[v]) < len(senders):
            present[v] = jnp.concatenate(
                [jnp.full((len(groups[p].members) * m,), p in sends[v]) for p in senders]
            )
    weights = jnp.concatenate(
        [
            jnp.repeat(plan.off[index(receiver)][:, index(groups[p])], m, axis=1) / m
            for p in senders
        ],
        axis=1,
    )
    return items, present or None, weights


def composition_weights(
    self_weight: jax.Array, own_base: jax.Array, slots: int, composition: str
) -> tuple[jax.Array, jax.Array]:
    """Weights ``(own [n_g, B_own], synthetic [n_g, slots])`` that realise α (sampled routing).

    ``own_base`` are the own batch's weights (``own_batch``: they sum to 1, 0 without data).
    ``shares``: weight 1 on round(B·a) own slots and on the B − round(B·a) others (a count: the
    loss is the weighted mean); ``weighted``: α_ii spread over the own items as ``own_base``,
    1 − α_ii evenly over the synthetic ones.
    """
    has_synth = (self_weight < 1.0)[:, None]
    if composition == "shares":
        own, synth = jax.vmap(batch_shares, in_axes=(0, None))(self_weight, slots)
        return own * (own_base > 0), synth[:, ::-1] * has_synth
    synth = jnp.broadcast_to(((1.0 - self_weight) / slots)[:, None], (self_weight.shape[0], slots))
    return self_weight[:, None] * own_base, synth * has_synth

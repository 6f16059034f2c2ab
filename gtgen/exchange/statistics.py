"""What a statistics-reading receiver (an exponential family) gets from the round.

An exponential-family receiver uses the synthetic samples only through its own sufficient
statistics, so the round hands it one array per player: ``received_i = Σ_{j≠i} α_ij s_ij``, where
``s_ij`` is receiver i's mean statistics of what sender j sent (the receiver applies its OWN
statistics to the sender's samples: parameters never cross). Every function here is pure,
jit-friendly and takes α through a ``RoutingPlan``; ``params[h]`` is sender group h's ``[n_h, K_h]``
mean parameters (or, for neural senders, their states: only their samples are used).

- ``expected_statistics``: s_ij = E_{p_j}[T_i] in closed form (``cross_moments``): the map whose
  fixed point is the Nash equilibrium, used by the exact and Anderson solvers.
- ``sampled_statistics``: s_ij from synthetic samples, with one of three routings (see
  gtgen.exchange.routing): ``expected`` (weigh each sender's pool by α_ij), ``sampled`` (draw each
  of the receiver's m items' sources from row i of α), ``meanfield`` (uniform off-diagonal α: the
  pooled mixture, O(N·K) with no [N, N] product).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.exchange.routing import RoutingPlan, draw_sources_from_cdf
from gtgen.players.expfam import cross_moments

ROUTINGS = ("expected", "sampled", "meanfield")
SMALL_MIX = 16  # senders per group up to which mixing is written as multiply-add, not a dot


def index(group) -> np.ndarray:
    return np.asarray(group.members, dtype=np.int32)


def block(matrix: jax.Array, rows, cols) -> jax.Array:
    """The [n_rows, n_cols] block of a player-indexed matrix (no gather for a single group)."""
    n = matrix.shape[0]
    r, c = index(rows), index(cols)
    if len(r) == n and len(c) == n and np.array_equal(r, np.arange(n)) and np.array_equal(c, r):
        return matrix
    return matrix[np.ix_(r, c)]


def mix(weights: jax.Array, stats: jax.Array) -> jax.Array:
    """Σ_j w_ij s_j for every receiver i: weights [n_g, n_h], stats [n_h, K] -> [n_g, K].

    A handful of senders is summed as broadcast multiply-add: batched over a sweep's games, XLA
    CPU runs the fused multiply-add ~5x faster than thousands of tiny dot products."""
    if weights.shape[-1] <= SMALL_MIX:
        return jnp.sum(weights[:, :, None] * stats[None, :, :], axis=1)
    return weights @ stats


def expected_statistics(receiver, groups: Sequence, plan: RoutingPlan, params) -> jax.Array:
    """Σ_{j≠i} α_ij E_{p_j}[T_i] for every member i of ``receiver``, in closed form."""
    acc = 0.0
    for h, p_h in zip(groups, params):
        seen = jax.vmap(lambda mu, h=h: cross_moments(receiver.player, h.player, mu))(p_h)
        acc = acc + mix(block(plan.off, receiver, h), seen)
    return acc


def mean_stats(receiver, samples: jax.Array) -> jax.Array:
    """Receiver's mean sufficient statistics over the last sample axis: [..., m, *event] -> [..., K]."""
    event_ndim = len(receiver.player.value.shape)
    flat = samples.reshape((-1, *samples.shape[samples.ndim - event_ndim :]))
    stats = jax.vmap(receiver.player.stats)(flat)
    return stats.reshape((*samples.shape[: samples.ndim - event_ndim], -1)).mean(axis=-2)


def local_index(group, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Global player id -> row within ``group`` (0 for non-members), and membership."""
    local = np.zeros(n, dtype=np.int32)
    member = np.zeros(n, dtype=bool)
    local[index(group)] = np.arange(len(group.members))
    member[index(group)] = True
    return local, member


def routed_items(groups, draw_items, sources, n, reduce):
    """``Σ_h reduce(h, items_h, member_h)`` over sender groups, for items whose senders are
    ``sources`` [n_g, m] (global ids). ``draw_items(h, local_rows)`` returns sender group h's items
    for those rows; ``member_h`` [n_g, m] marks the items that really come from group h."""
    acc = 0.0
    for h in range(len(groups)):
        local, member = local_index(groups[h], n)
        items = draw_items(h, jnp.asarray(local)[sources])
        acc = acc + reduce(h, items, jnp.asarray(member)[sources])
    return acc


def _routed_mean_stats(receiver, groups, draw_items, sources, n):
    """Mean receiver statistics over routed items (one variable: the receiver's)."""

    def reduce(h, items, member):
        x = items[receiver.player.variable]
        flat = x.reshape((-1, *x.shape[2:]))
        stats = jax.vmap(receiver.player.stats)(flat).reshape(sources.shape + (-1,))
        if len(groups) > 1:
            stats = stats * member[..., None]
        return stats.mean(axis=1)

    return routed_items(groups, draw_items, sources, n, reduce)


def sampled_statistics(
    receiver,
    position: int,
    groups: Sequence,
    plan: RoutingPlan,
    routing: str,
    params,
    pools,
    key: jax.Array,
    samples: int,
    sources: jax.Array | None = None,
) -> jax.Array:
    """Σ_{j≠i} α_ij s_ij from synthetic samples for every member i of ``receiver`` (see module doc).

    ``pools[h]`` are sender group h's named samples ``{name: [n_h, m, ...]}``, or None when every
    sender can draw each item straight from its source (``sample_each``) under sampled routing;
    ``sources`` [N, m] are the items' senders for sampled routing.
    """
    n = plan.self_weight.shape[0]
    var = receiver.player.variable
    a_g = plan.self_weight[index(receiver)][:, None]
    if routing == "sampled":
        src = sources[index(receiver)]
        if pools is None:  # every item a fresh draw from its source's current model
            keys = jax.random.split(jax.random.fold_in(key, position), len(groups))

            def draw_direct(h, rows):
                return {var: groups[h].player.sample_each(keys[h], params[h][rows])}

            synthetic = _routed_mean_stats(receiver, groups, draw_direct, src, n)
        else:  # item k of a receiver is sample k of its sender's pool: never one sample twice
            slot = jnp.arange(src.shape[1])[None, :]

            def draw_pooled(h, rows):
                return {var: pools[h][var][rows, slot]}

            synthetic = _routed_mean_stats(receiver, groups, draw_pooled, src, n)
        return (1.0 - a_g) * synthetic
    per_sender = [mean_stats(receiver, pool[var]) for pool in pools]  # [n_h, K_g] each
    if routing == "expected":
        return sum(mix(block(plan.off, receiver, h), s) for h, s in zip(groups, per_sender))
    # meanfield: uniform off-diagonal rows, so only the pooled mixture matters
    total = sum(s.sum(axis=0) for s in per_sender)
    own_pool = per_sender[position]
    return (1.0 - a_g) / (n - 1) * (total[None, :] - own_pool)


def draw_sources(key: jax.Array, plan: RoutingPlan, samples: int) -> jax.Array:
    """Senders of every receiver's ``samples`` items under sampled routing: int [N, m]."""
    return draw_sources_from_cdf(key, plan.cdf, samples)


# --- the statistic draw: each receiver's statistics drawn from their exact law ------------------
#
# The same stochastic process as drawing the samples and reducing them (gtgen.players.
# statistic_laws), at a cost independent of the sample count n (a traced scalar):
# ``expected`` / ``meanfield`` routing draw one statistic per sender (every receiver sees the same
# pool, as with samples); ``sampled`` routing draws each receiver's per-source counts from row i of
# α (multinomial) and then the statistic of that many fresh draws per (receiver, source) pair, as
# the sample path's fresh draws per item (``sample_each``) do. A game of several families (the two
# Gaussians) draws in their common representation and projects to each receiver's statistics.


def has_statistic_law(receiver, sender) -> bool:
    """Whether ``receiver``'s mean statistics of ``sender``'s samples have a law to draw from."""
    if (
        getattr(receiver, "reads", None) != "statistics"
        or getattr(sender, "reads", None) != "statistics"
    ):
        return False
    if receiver.name == sender.name:
        return sender.stats_law is not None
    return (
        receiver.space == sender.space
        and receiver.from_common is not None
        and sender.common_law is not None
    )


def is_mixed(groups: Sequence) -> bool:
    """Whether the game has players of more than one family (draws go through the common form)."""
    return len({g.player.name for g in groups}) > 1


def _pair_law(receiver, sender):
    """law(key, mu_sender, n) -> the receiver's mean statistics of n fresh draws from sender."""
    if receiver.name == sender.name:
        return sender.stats_law

    def law(key, mu, n):
        return receiver.from_common(sender.common_law(key, mu, n))

    return law


SENDER_BLOCK = 16_384  # senders drawn at once (gtgen.exchange.statistics.draw_group_statistics)


def draw_group_statistics(player, key: jax.Array, params: jax.Array, n, common: bool = False):
    """Every sender of one group draws the mean statistics of n samples of its own:
    ``[n_h, K]`` (or, ``common``, the common form ``(x̄ [n_h, d], second [n_h, d, d])``)."""
    law = player.common_law if common else player.stats_law
    keys = jax.random.split(key, params.shape[0])
    if params.shape[0] <= SENDER_BLOCK:
        return jax.vmap(law, in_axes=(0, 0, None))(keys, params, n)
    # Many senders: blocks of SENDER_BLOCK in turn (the same numbers: each sender has its own
    # key). One vmap over 10^6 senders streams every step of the laws' rejection loops (χ²)
    # through memory, ~3x slower and growing faster than N; a block's arrays stay in cache.
    return jax.lax.map(lambda kp: law(kp[0], kp[1], n), (keys, params), batch_size=SENDER_BLOCK)


def draw_sender_statistics(groups: Sequence, params, key: jax.Array, n) -> list:
    """One draw of n samples' statistics per sender: ``[n_h, K_h]`` per group, or in a game of
    several families the common form (``draw_group_statistics``)."""
    mixed = is_mixed(groups)
    keys = jax.random.split(key, len(groups))
    return [
        draw_group_statistics(h.player, k, p_h, n, mixed) for h, p_h, k in zip(groups, params, keys)
    ]


def draw_counts(key: jax.Array, plan: RoutingPlan, n) -> jax.Array:
    """Sampled routing: how many of each receiver's n items come from each source, [N, N] float,
    Multinomial(n, row i of α without its diagonal, renormalised). O(N²), independent of n."""
    rows = jnp.diff(plan.cdf, axis=1, prepend=0.0)
    mass = plan.cdf[:, -1:]
    p = jnp.where(mass > 0, rows, 1.0 / rows.shape[1])  # a receiver with no off mass: weight 0
    return jax.random.multinomial(key, n, p)


def drawn_statistics(
    receiver,
    position: int,
    groups: Sequence,
    plan: RoutingPlan,
    routing: str,
    params,
    drawn,
    key: jax.Array,
    n,
    counts: jax.Array | None = None,
) -> jax.Array:
    """Σ_{j≠i} α_ij s_ij with s_ij drawn from its exact law (see above), for every member i of
    ``receiver``: the statistic draw's counterpart of ``sampled_statistics``. ``drawn`` are the
    senders' draws (``draw_sender_statistics``; expected and meanfield routing), ``counts`` the
    [N, N] source counts (``draw_counts``; sampled routing)."""
    a_g = plan.self_weight[index(receiver)][:, None]
    if routing == "sampled":
        c = counts[index(receiver)]
        n_safe = jnp.maximum(jnp.asarray(n, jnp.float32), 1.0)
        keys = jax.random.split(jax.random.fold_in(key, position), len(groups))
        synthetic = 0.0
        for h, p_h, k in zip(groups, params, keys):
            c_h = c[:, index(h)]  # [n_g, n_h]
            law = _pair_law(receiver.player, h.player)
            pair_keys = jax.random.split(k, c_h.shape)
            per_sender = jax.vmap(law, in_axes=(0, 0, 0))  # over senders
            stats = jax.vmap(per_sender, in_axes=(0, None, 0))(pair_keys, p_h, c_h)
            synthetic = synthetic + jnp.einsum("ij,ijk->ik", c_h / n_safe, stats)
        return (1.0 - a_g) * synthetic
    if is_mixed(groups):
        per_sender = [jax.vmap(receiver.player.from_common)(d) for d in drawn]
    else:
        per_sender = drawn
    if routing == "expected":
        return sum(mix(block(plan.off, receiver, h), s) for h, s in zip(groups, per_sender))
    total = sum(s.sum(axis=0) for s in per_sender)
    n_all = plan.self_weight.shape[0]
    return (1.0 - a_g) / (n_all - 1) * (total[None, :] - per_sender[position])

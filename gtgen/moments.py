"""Best responses of exponential-family players, exact and from synthetic samples.

Every function here is pure and jit-friendly, takes α as a traced [N, N] array and works on the
per-group tuples that ``gtgen.game.Game`` builds (``params[g]`` is ``[n_g, K_g]``).

- ``exact_best_response``: μ_i ← α_ii m_i + Σ_{j≠i} α_ij E_{p_j}[T_i], the expectation in closed
  form (``cross_moments``). This is the map whose fixed point is the Nash equilibrium.
- ``sampled_best_response``: the same with E_{p_j} replaced by m synthetic samples, what black-box
  players do. Only samples cross from sender to receiver: the receiver applies its own
  sufficient statistics to them. Routings (see gtgen.routing):
  ``expected`` (weigh each sender's samples by α_ij), ``sampled`` (draw each item's source from
  row i of α), ``meanfield`` (uniform off-diagonal α: receivers need only the pooled mixture,
  O(N·m) with no [N, N] product).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.game import Group
from gtgen.players.expfam import cross_moments
from gtgen.routing import RoutingPlan, draw_sources_from_cdf, routing_plan

ROUTINGS = ("expected", "sampled", "meanfield")


def _index(group: Group) -> np.ndarray:
    return np.asarray(group.members, dtype=np.int32)


def _block(matrix: jax.Array, rows: Group, cols: Group) -> jax.Array:
    """The [n_rows, n_cols] block of a player-indexed matrix (no gather for a single group)."""
    n = matrix.shape[0]
    r, c = _index(rows), _index(cols)
    if len(r) == n and len(c) == n and np.array_equal(r, np.arange(n)) and np.array_equal(c, r):
        return matrix
    return matrix[np.ix_(r, c)]


SMALL_MIX = 16  # senders per group up to which mixing is written as multiply-add, not a dot


def _mix(weights: jax.Array, stats: jax.Array) -> jax.Array:
    """Σ_j w_ij s_j for every receiver i: weights [n_g, n_h], stats [n_h, K] -> [n_g, K].

    A handful of senders is summed as broadcast multiply-add: batched over a sweep's games, XLA
    CPU runs the fused multiply-add ~5x faster than thousands of tiny dot products."""
    if weights.shape[-1] <= SMALL_MIX:
        return jnp.sum(weights[:, :, None] * stats[None, :, :], axis=1)
    return weights @ stats


def _plan(alpha_or_plan, routing: str) -> RoutingPlan:
    if isinstance(alpha_or_plan, RoutingPlan):
        return alpha_or_plan
    return routing_plan(alpha_or_plan, routing)


def exact_best_response(
    groups: Sequence[Group],
    alpha: jax.Array | RoutingPlan,
    own: Sequence[jax.Array],
    params: Sequence[jax.Array],
) -> tuple[jax.Array, ...]:
    """Every player's exact best response to the others' current parameters.

    ``alpha`` is the [N, N] matrix or its precomputed ``routing_plan(alpha, "expected")``.
    """
    plan = _plan(alpha, "expected")
    self_weight, off = plan.self_weight, plan.off
    out = []
    for g, m_g in zip(groups, own):
        acc = self_weight[_index(g)][:, None] * m_g
        for h, p_h in zip(groups, params):
            seen = jax.vmap(lambda mu: cross_moments(g.player, h.player, mu))(p_h)
            acc = acc + _mix(_block(off, g, h), seen)
        out.append(g.player.best_response(acc))
    return tuple(out)


def _draw_pools(groups, params, key, m):
    """Each player draws m synthetic samples from its current parameters: [n_h, m, *event]."""
    pools = []
    for h, p_h, k in zip(groups, params, jax.random.split(key, len(groups))):
        keys = jax.random.split(k, len(h.members))
        pools.append(jax.vmap(h.player.sample, in_axes=(0, 0, None))(keys, p_h, m))
    return pools


def _mean_stats(receiver: Group, samples: jax.Array) -> jax.Array:
    """Receiver's mean sufficient statistics over the last sample axis: [..., m, *event] -> [..., K]."""
    event_ndim = len(receiver.player.event_shape)
    flat = samples.reshape((-1, *samples.shape[samples.ndim - event_ndim :]))
    stats = jax.vmap(receiver.player.stats)(flat)
    return stats.reshape((*samples.shape[: samples.ndim - event_ndim], -1)).mean(axis=-2)


def sampled_best_response(
    groups: Sequence[Group],
    alpha: jax.Array | RoutingPlan,
    own: Sequence[jax.Array],
    params: Sequence[jax.Array],
    key: jax.Array,
    samples: int,
    routing: str = "expected",
) -> tuple[jax.Array, ...]:
    """Every player's best response to ``samples`` synthetic samples per sender (see module doc).

    ``alpha`` is the [N, N] matrix or its precomputed ``routing_plan(alpha, routing)``.
    """
    if routing not in ROUTINGS:
        raise ValueError(f"routing: unknown routing {routing!r}; choose one of {ROUTINGS}")
    plan = _plan(alpha, routing)
    pool_key, route_key = jax.random.split(key)
    self_weight, off = plan.self_weight, plan.off
    n = self_weight.shape[0]
    if routing == "sampled":
        sources = draw_sources_from_cdf(route_key, plan.cdf, samples)
        direct = all(h.player.sample_each is not None for h in groups)
        if not direct:
            pools = _draw_pools(groups, params, pool_key, samples)
    else:
        pools = _draw_pools(groups, params, pool_key, samples)
    out = []
    for i, (g, m_g) in enumerate(zip(groups, own)):
        a_g = self_weight[_index(g)][:, None]
        if routing == "sampled":
            src = sources[_index(g)]
            synthetic = (
                _direct_mean_stats(g, groups, params, src, n, jax.random.fold_in(pool_key, i))
                if direct
                else _routed_mean_stats(g, groups, pools, src, n)
            )
            out.append(g.player.best_response(a_g * m_g + (1.0 - a_g) * synthetic))
            continue
        per_sender = [_mean_stats(g, pool) for pool in pools]  # [n_h, K_g] each
        if routing == "expected":
            acc = sum(_mix(_block(off, g, h), s) for h, s in zip(groups, per_sender))
        else:  # meanfield: uniform off-diagonal rows, so only the pooled mixture matters
            total = sum(s.sum(axis=0) for s in per_sender)
            own_pool = per_sender[groups.index(g)]
            acc = (1.0 - a_g) / (n - 1) * (total[None, :] - own_pool)
        out.append(g.player.best_response(a_g * m_g + acc))
    return tuple(out)


def _local_index(group: Group, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Global player id -> row within ``group`` (0 for non-members), and membership."""
    local = np.zeros(n, dtype=np.int32)
    member = np.zeros(n, dtype=bool)
    local[_index(group)] = np.arange(len(group.members))
    member[_index(group)] = True
    return local, member


def _routed_items_mean_stats(receiver, groups, draw_items, sources, n):
    """Mean receiver statistics over items whose senders are ``sources`` [n_g, m] (global ids).

    ``draw_items(h, local_rows)`` returns sender group h's items for those rows [n_g, m, *event];
    items of senders outside h are masked out when there are several groups.
    """
    acc = 0.0
    for h in range(len(groups)):
        local, member = _local_index(groups[h], n)
        items = draw_items(h, jnp.asarray(local)[sources])
        flat = items.reshape((-1, *items.shape[2:]))
        stats = jax.vmap(receiver.player.stats)(flat).reshape(sources.shape + (-1,))
        if len(groups) > 1:
            stats = stats * jnp.asarray(member)[sources][..., None]
        acc = acc + stats.mean(axis=1)
    return acc


def _direct_mean_stats(receiver, groups, params, sources, n, key):
    """Items drawn straight from their sources: every item is a fresh draw from its source's
    current model (``sample_each`` on gathered parameters); no sample pool is built, and the
    gathered table is small ([N, K]), so the work streams through memory once."""
    keys = jax.random.split(key, len(groups))
    return _routed_items_mean_stats(
        receiver,
        groups,
        lambda h, rows: groups[h].player.sample_each(keys[h], params[h][rows]),
        sources,
        n,
    )


def _routed_mean_stats(receiver, groups, pools, sources, n):
    """Items taken from sample pools: item k of a receiver is sample k of its sender's pool, so
    a receiver never sees one sample twice; work and memory O(n_g·m) per sender group."""
    k = jnp.arange(sources.shape[1])[None, :]
    return _routed_items_mean_stats(receiver, groups, lambda h, rows: pools[h][rows, k], sources, n)

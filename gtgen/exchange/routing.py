"""Routing synthetic samples by α: who learns from whose samples, and how much.

Two routings, shared by exponential-family and neural players:

``expected``  every sender draws ``m`` samples once; receiver ``i`` weighs sender ``j``'s samples by
              ``α_ij`` (and its own data by ``α_ii``). Work O(N·m) for sampling plus an [N, N]
              weighting of per-sender summaries.
``sampled``   receiver ``i`` gets ``m`` synthetic items whose sources are drawn from row ``i`` of α
              with the diagonal removed and renormalised (its own data keeps the exact share
              ``α_ii``). Work and memory O(N·m): no [N, N, m] tensor is ever built.

Everything here takes α as a traced array, so changing α never recompiles.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


def off_diagonal(alpha: jax.Array) -> jax.Array:
    """B = α − diag(α): the weights on other players' synthetic data (O(N) writes, no eye)."""
    idx = jnp.arange(alpha.shape[0])
    return alpha.at[idx, idx].set(0.0)


def off_diagonal_rows(alpha: jax.Array) -> jax.Array:
    """Row i of α without the diagonal, renormalised to sum to one.

    A row with no off-diagonal mass (α_ii = 1) is returned as zeros: that player never
    looks at synthetic data, and its synthetic items get zero weight downstream.
    """
    off = off_diagonal(alpha)
    mass = off.sum(axis=1, keepdims=True)
    return jnp.where(mass > 0, off / jnp.where(mass > 0, mass, 1.0), 0.0)


def source_cdf(alpha: jax.Array) -> jax.Array:
    """Cumulative off-diagonal rows [N, N]: computed once per solve, not once per round."""
    return jnp.cumsum(off_diagonal_rows(alpha), axis=1)


def draw_sources_from_cdf(key: jax.Array, cdf: jax.Array, m: int) -> jax.Array:
    """Source player of each of the ``m`` synthetic items of every receiver: int [N, m].

    Inverse-CDF sampling: O(N·m·log N) for the draws, never the O(N²·m) of a Gumbel-max
    categorical. A receiver with no off-diagonal mass gets an arbitrary source (its items carry
    zero weight downstream).
    """
    n = cdf.shape[0]
    u = jax.random.uniform(key, (n, m), dtype=cdf.dtype) * cdf[:, -1:]
    src = jax.vmap(lambda c, v: jnp.searchsorted(c, v, side="right"))(cdf, u)
    return jnp.clip(src, 0, n - 1)


def draw_sources(key: jax.Array, alpha: jax.Array, m: int) -> jax.Array:
    """``draw_sources_from_cdf`` straight from α (O(N²) for the cumulative sums)."""
    return draw_sources_from_cdf(key, source_cdf(alpha), m)


class RoutingPlan(NamedTuple):
    """What a round needs from α, computed once per solve (α is traced, so this is cheap to redo
    per sweep point but would be O(N²) per round if left inside the loop)."""

    self_weight: jax.Array  # [N] diag(α)
    off: jax.Array | None  # [N, N] B = α − diag(α)   (expected routing, exact best response)
    cdf: jax.Array | None  # [N, N] source CDFs         (sampled routing)


def routing_plan(alpha: jax.Array, routing: str = "expected") -> RoutingPlan:
    """The parts of α a round with this routing reads."""
    return RoutingPlan(
        self_weight=jnp.diagonal(alpha),
        off=off_diagonal(alpha) if routing == "expected" else None,
        cdf=source_cdf(alpha) if routing == "sampled" else None,
    )


def batch_shares(self_weight: jax.Array, batch: int) -> tuple[jax.Array, jax.Array]:
    """Masks that realise α as batch composition, as the authors' code does.

    With self-weight ``a`` and batch size ``B``, ``round(B·a)`` own items and ``B - round(B·a)``
    synthetic items are used. Shapes stay static (``B`` own slots and ``B`` synthetic slots),
    the traced ``a`` only switches slots on and off, so a sweep over ``a`` compiles once.
    Returns float masks ``(own [B], synthetic [B])``.
    """
    n_own = jnp.round(self_weight * batch)
    idx = jnp.arange(batch)
    own = (idx < n_own).astype(jnp.float32)
    synthetic = (idx < batch - n_own).astype(jnp.float32)
    return own, synthetic

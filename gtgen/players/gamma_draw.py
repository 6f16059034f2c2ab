"""Gamma(a, 1) variates drawn a whole array at a time: Marsaglia and Tsang's method, exact.

``jax.random.gamma`` runs one rejection loop per element, each with its own key: under a vmap
(a round of the statistic draw asks for one χ² per receiver, source and coordinate, 65,536 of
them in expfam-gaussian-N64) that is a ``while`` loop whose every trip splits and hashes a key per
element. Here each trip of the loop draws its proposals for the whole array from one key, keeps
each element's first accepted proposal and stops when every element has one.

Marsaglia & Tsang (2000), "A simple method for generating gamma variables": for a ≥ 1, with
d = a − 1/3 and c = 1/√(9d), propose v = (1 + c·x)³ from x ~ N(0, 1) and accept d·v when v > 0
and log u < x²/2 + d − d·v + d·log v, u ~ U(0, 1); the accepted value has the Gamma(a, 1) law
exactly (a rejection sampler). For a < 1, Gamma(a) = Gamma(a + 1)·u^(1/a) (u ~ U(0, 1)
independent). Each trip draws ``proposals`` candidates per element and takes the first accepted,
which is the sequential sampler's output: the law does not depend on ``proposals``, only the
number of trips does (acceptance is above 0.95 for every a ≥ 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def gamma(key: jax.Array, a: jax.Array, proposals: int = 2) -> jax.Array:
    """Gamma(a, 1) variates, one per element of ``a`` (traced; ``a``'s float dtype, float32 for
    integers). An element whose a is not a finite positive number gives NaN (it would never
    accept a proposal)."""
    a = jnp.asarray(a)
    a = a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(jnp.float32)
    if proposals < 1:
        raise ValueError(f"proposals: must be at least 1, got {proposals}")
    k_loop, k_boost = jax.random.split(key)
    valid = jnp.isfinite(a) & (a > 0)  # NaN, ±inf, a ≤ 0: NaN out, never a proposal loop
    a = jnp.where(valid, a, 1.0)
    boosted = a < 1.0
    d = jnp.where(boosted, a + 1.0, a) - 1.0 / 3.0
    c = lax.rsqrt(9.0 * d)

    def propose(key):
        """The first accepted of ``proposals`` candidates per element, and whether there is one."""
        k_x, k_u = jax.random.split(key)
        x = jax.random.normal(k_x, (proposals, *a.shape), a.dtype)
        u = jax.random.uniform(k_u, (proposals, *a.shape), a.dtype)
        v = (1.0 + c * x) ** 3
        log_v = jnp.log(jnp.where(v > 0, v, 1.0))
        ok = (v > 0) & (jnp.log(u) < 0.5 * x * x + d - d * v + d * log_v)
        first = jnp.argmax(ok, axis=0)
        value = jnp.take_along_axis(d * v, first[None], axis=0)[0]
        return value, jnp.any(ok, axis=0)

    def more(state):
        return ~jnp.all(state[2])

    def trip(state):
        key, value, done = state
        key, sub = jax.random.split(key)
        new, ok = propose(sub)
        return key, jnp.where(done, value, new), done | ok

    k_loop, k_first = jax.random.split(k_loop)
    value, done = propose(k_first)
    _, value, _ = lax.while_loop(more, trip, (k_loop, value, done))
    u = 1.0 - jax.random.uniform(k_boost, a.shape, a.dtype)  # in (0, 1]: u = 0 would give 0
    boost = jnp.exp(jnp.log(u) / jnp.where(boosted, a, 1.0))
    return jnp.where(valid, jnp.where(boosted, value * boost, value), jnp.nan)

"""Anderson acceleration (type II, Walker & Ni 2011) for fixed points x = G(x), in pure JAX.

The history of the last ``memory`` differences of iterates (ΔX) and residuals (ΔF) lives in
fixed-size circular buffers, so the step is jit- and while_loop-friendly. For a linear map such
as exact best response on moments, Anderson is equivalent to GMRES and needs far fewer rounds
than the plain iteration when ρ(B) is close to 1.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


def spd_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with a x = b for a small symmetric positive definite ``a`` [m, m] (m static): Gauss–Jordan
    elimination unrolled over the m pivots, no pivoting (stable for SPD matrices, as Cholesky
    is), one fused update of the augmented matrix per pivot. A LAPACK call per round costs more
    than the whole step on CPU when a sweep batches thousands of games (sweep-peer in
    benchmarks/sweep_cases.py)."""
    m = a.shape[0]
    aug = jnp.concatenate([a, b[:, None]], axis=1)
    rows = jnp.arange(m)[:, None]
    for i in range(m):
        pivot_row = aug[i] / aug[i, i]
        aug = jnp.where(rows == i, pivot_row[None, :], aug - aug[:, i : i + 1] * pivot_row[None, :])
    return aug[:, m]


class AndersonState(NamedTuple):
    dx: jax.Array  # [memory, n] past iterate differences
    df: jax.Array  # [memory, n] past residual differences
    x_prev: jax.Array  # [n]
    f_prev: jax.Array  # [n]
    count: jax.Array  # residuals seen so far


def anderson_init(x: jax.Array, memory: int) -> AndersonState:
    zeros = jnp.zeros((memory, x.shape[0]), x.dtype)
    return AndersonState(zeros, zeros, x, jnp.zeros_like(x), jnp.zeros((), jnp.int32))


def anderson_step(
    state: AndersonState, x: jax.Array, gx: jax.Array, mixing: jax.Array
) -> tuple[jax.Array, AndersonState]:
    """Next iterate from x and G(x); ``mixing`` (β) damps the plain part of the step."""
    memory = state.dx.shape[0]
    f = gx - x
    slot = jnp.mod(state.count - 1, memory)
    push = state.count > 0
    dx = jnp.where(push, state.dx.at[slot].set(x - state.x_prev), state.dx)
    df = jnp.where(push, state.df.at[slot].set(f - state.f_prev), state.df)
    filled = jnp.arange(memory) < jnp.minimum(state.count, memory)
    dfm = jnp.where(filled[:, None], df, 0.0)
    dxm = jnp.where(filled[:, None], dx, 0.0)
    # Least squares min_γ ‖f − ΔF γ‖ by regularised normal equations: memory is small.
    # products as fused multiply-sums, not dots: batched over a sweep's games, thousands of tiny
    # dot products cost more on CPU than the whole rest of the step
    gram = jnp.sum(dfm[:, None, :] * dfm[None, :, :], axis=-1)
    ridge = 1e-10 * (jnp.trace(gram) + 1e-30)
    gram = gram + jnp.diag(jnp.where(filled, ridge, 1.0))
    gamma = spd_solve(gram, jnp.sum(dfm * f, axis=-1))
    gamma = jnp.where(filled, gamma, 0.0)
    plain = x + mixing * f
    accelerated = plain - jnp.sum((dxm + mixing * dfm) * gamma[:, None], axis=0)
    x_next = jnp.where(jnp.all(jnp.isfinite(accelerated)), accelerated, plain)
    return x_next, AndersonState(dx, df, x, f, state.count + 1)

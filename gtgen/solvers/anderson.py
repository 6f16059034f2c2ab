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
    """x with a x = b for a small symmetric positive definite ``a`` [m, m] (m static)."""
    return spd_solve_augmented(jnp.concatenate([a, b[:, None]], axis=1))


def spd_solve_augmented(aug: jax.Array) -> jax.Array:
    """x with a x = b from the augmented matrix ``[a | b]`` [m, m + 1] of a small symmetric
    positive definite ``a`` (m static): Gauss–Jordan elimination unrolled over the m pivots, no
    pivoting (stable for SPD matrices, as Cholesky is), one fused update of the augmented matrix
    per pivot. A LAPACK call per round costs more than the whole step on CPU when a sweep
    batches thousands of games (sweep-peer in benchmarks/sweep_cases.py)."""
    m = aug.shape[0]
    rows = jnp.arange(m)[:, None]
    for i in range(m):
        pivot_row = aug[i] / aug[i, i]
        aug = jnp.where(rows == i, pivot_row[None, :], aug - aug[:, i : i + 1] * pivot_row[None, :])
    return aug[:, m]


class AndersonState(NamedTuple):
    dx: jax.Array  # [n, memory] past iterate differences, one per column (not yet written: 0)
    df: jax.Array  # [n, memory] past residual differences, one per column (not yet written: 0)
    x_prev: jax.Array  # [n]
    f_prev: jax.Array  # [n]
    count: jax.Array  # residuals seen so far


def anderson_init(x: jax.Array, memory: int) -> AndersonState:
    zeros = jnp.zeros((x.shape[0], memory), x.dtype)
    return AndersonState(zeros, zeros, x, jnp.zeros_like(x), jnp.zeros((), jnp.int32))


def anderson_step(
    state: AndersonState, x: jax.Array, gx: jax.Array, mixing: jax.Array
) -> tuple[jax.Array, AndersonState]:
    """Next iterate from x and G(x); ``mixing`` (β) damps the plain part of the step.

    Batched over a sweep's thousands of games the step's cost on CPU is its passes over the
    history, not its arithmetic, so: the new column is written in place (a dynamic update
    slice, which XLA materialises: written as a select over the whole buffer, the select was
    fused into the Gram products below and recomputed for each of them, 4x the time of the
    products themselves on sweep-peer's games), the history is laid out [n, memory] (the
    products reduce over the major axis), columns not yet written stay 0 (so they need no mask:
    their Gram rows and right-hand side are 0, and their diagonal 1 gives γ = 0 there), and
    the normal equations' matrix and right-hand side are one multiply-sum, [ΔFᵀΔF | ΔFᵀf], fed
    straight to the elimination."""
    memory = state.dx.shape[1]
    f = gx - x
    slot = jnp.mod(state.count - 1, memory)
    push = state.count > 0

    def write(history, column):  # in place; a stopped game's buffer (push False) unchanged
        new = jnp.where(push, column, history[:, slot])
        return jax.lax.dynamic_update_slice(history, new[:, None], (0, slot))

    dx = write(state.dx, x - state.x_prev)
    df = write(state.df, f - state.f_prev)
    filled = jnp.arange(memory) < jnp.minimum(state.count, memory)
    # Least squares min_γ ‖f − ΔF γ‖ by regularised normal equations: memory is small.
    # products as fused multiply-sums, not dots: batched over a sweep's games, thousands of tiny
    # dot products cost more on CPU than the whole rest of the step
    aug = jnp.sum(df[:, :, None] * jnp.concatenate([df, f[:, None]], axis=1)[:, None, :], axis=0)
    ridge = 1e-10 * (jnp.sum(jnp.diagonal(aug)) + 1e-30)
    aug = aug + jnp.eye(memory, memory + 1) * jnp.where(filled, ridge, 1.0)[:, None]
    gamma = spd_solve_augmented(aug)
    plain = x + mixing * f
    accelerated = plain - jnp.sum((dx + mixing * df) * gamma[None, :], axis=1)
    x_next = jnp.where(jnp.all(jnp.isfinite(accelerated)), accelerated, plain)
    return x_next, AndersonState(dx, df, x, f, state.count + 1)


def anderson_first_step(
    state: AndersonState, x: jax.Array, gx: jax.Array, mixing: jax.Array
) -> tuple[jax.Array, AndersonState]:
    """``anderson_step`` from the fresh state of ``anderson_init`` (no history yet: γ = 0, the
    plain step), the same numbers without the least-squares work."""
    f = gx - x
    return x + mixing * f, state._replace(x_prev=x, f_prev=f, count=state.count + 1)

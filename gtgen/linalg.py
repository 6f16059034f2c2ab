"""Dense linear algebra for gtgen's compiled programs, safe on CPU devices run side by side.

jaxlib 0.10's CPU LAPACK kernels (getrf, potrf, trsm, …) split a batch of matrices whose total
work (batch × cost per matrix) reaches 200 000 flops into tasks on XLA's intra-op thread pool
and then block until those tasks finish (``ParallelBatchMap`` in jaxlib/cpu/lapack_kernels.cc).
When every thread of that pool is itself inside such a kernel — a sweep sharded over per-core
CPU devices runs one program per core, and each reaches its batched ``inv`` or ``cholesky`` at
the same time — the tasks have no thread left to run on and the process waits forever, CPU
idle. (jax-ml/jax#36927; later jaxlib releases no longer parallelise LAPACK in open-source
builds.) This is what stalled ``gtgen sweep`` for ``family = "gaussian-full"``, dim ≥ 16 or so
with enough points per device.

The functions here are the ``jnp.linalg`` ones, with one difference on CPU: under ``vmap`` the
batch is handed to LAPACK in chunks small enough (chunk × d³ < 200 000) that the kernel runs
them inline on its own thread, so no kernel ever waits on the pool. Nested ``vmap`` s flatten
into one batch; forward and reverse differentiation are defined by their usual rules. On other
backends they are ``jnp.linalg`` itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

# jaxlib's kMinWorkPerTask: a LAPACK call whose batch × cost stays below it runs inline.
LAPACK_INLINE_WORK = 200_000


def chunk_size(dim: int) -> int:
    """Most d×d matrices per LAPACK call that keep it inline (LU, Cholesky, triangular solves
    all cost at most d³ per matrix in jaxlib's estimate)."""
    return max(1, (LAPACK_INLINE_WORK - 1) // max(1, dim) ** 3)


def _on_cpu() -> bool:
    return jax.default_backend() == "cpu"


def _chunked(op: Callable, n_core: tuple[int, ...]) -> Callable:
    """``op`` on arrays with any leading batch dims, fed to LAPACK ``chunk_size`` at a time.

    ``n_core[i]`` is the number of trailing (per-problem) dims of argument i; the leading dims
    of every argument are broadcast together and flattened into one batch."""

    def run(*args):
        lead = jnp.broadcast_shapes(*(a.shape[: a.ndim - k] for a, k in zip(args, n_core)))
        if not lead:
            return op(*args)
        flat = [
            jnp.broadcast_to(a, lead + a.shape[a.ndim - k :]).reshape(-1, *a.shape[a.ndim - k :])
            for a, k in zip(args, n_core)
        ]
        size = flat[0].shape[0]
        step = chunk_size(args[0].shape[-1])
        if size <= step:
            out = op(*flat)
        else:
            out = jax.lax.map(lambda xs: op(*xs), flat, batch_size=step)
        return jax.tree.map(lambda o: o.reshape(lead + o.shape[1:]), out)

    wrapped = custom_vmap(run)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, *args):
        # the new batch axis is one more leading dim: ``run`` flattens it with the others
        args = [
            a if b else jnp.broadcast_to(a, (axis_size, *a.shape)) for a, b in zip(args, in_batched)
        ]
        out = wrapped(*args)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


@functools.cache
def _cpu_ops() -> dict[str, Callable]:
    return {
        "inv": _chunked(jnp.linalg.inv, (2,)),
        "solve": _chunked(lambda a, b: jnp.linalg.solve(a, b[..., None])[..., 0], (2, 1)),
        "slogdet": _chunked(lambda a: tuple(jnp.linalg.slogdet(a)), (2,)),
        "cholesky": _chunked(jnp.linalg.cholesky, (2,)),
    }


def _raw(name: str) -> Callable:
    if _on_cpu():
        return _cpu_ops()[name]
    return {
        "inv": jnp.linalg.inv,
        "solve": lambda a, b: jnp.linalg.solve(a, b[..., None])[..., 0],
        "slogdet": lambda a: tuple(jnp.linalg.slogdet(a)),
        "cholesky": jnp.linalg.cholesky,
    }[name]


@jax.custom_jvp
def inv(a: jax.Array) -> jax.Array:
    """Inverse of a square matrix (``jnp.linalg.inv``)."""
    return _raw("inv")(a)


@inv.defjvp
def _inv_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    y = inv(a)
    return y, -y @ da @ y


@jax.custom_jvp
def solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with a x = b for a vector b (``jnp.linalg.solve``)."""
    return _raw("solve")(a, b)


@solve.defjvp
def _solve_jvp(primals, tangents):
    (a, b), (da, db) = primals, tangents
    x = solve(a, b)
    # the tangent must be linear in (da, db) through transposable ops: a⁻¹ is a primal value
    return x, (inv(a) @ (db - (da @ x[..., None])[..., 0])[..., None])[..., 0]


@jax.custom_jvp
def slogdet(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(sign, log |det a|) (``jnp.linalg.slogdet``)."""
    return _raw("slogdet")(a)


@slogdet.defjvp
def _slogdet_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    sign, logdet = slogdet(a)
    d_logdet = jnp.sum(jnp.swapaxes(inv(a), -1, -2) * da, axis=(-2, -1))
    return (sign, logdet), (jnp.zeros_like(sign), d_logdet)


@jax.custom_jvp
def cholesky(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor of a symmetric positive-definite matrix (``jnp.linalg.cholesky``)."""
    return _raw("cholesky")(a)


@cholesky.defjvp
def _cholesky_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    low = cholesky(a)
    low_inv = inv(low)
    inner = low_inv @ (0.5 * (da + jnp.swapaxes(da, -1, -2))) @ jnp.swapaxes(low_inv, -1, -2)
    phi = jnp.tril(inner) - 0.5 * jnp.eye(a.shape[-1], dtype=a.dtype) * inner
    return low, low @ phi

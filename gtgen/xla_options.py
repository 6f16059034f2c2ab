"""XLA compiler options for gtgen's compiled programs (solvers, neural rounds, sweeps).

On the CPU backend, XLA hands reductions and elementwise work to its experimental YNNPACK
fusions by default. For the reductions of an exchange round — max |μ_{t+1} − μ_t| over a game's
[N, K] parameters, Σ_j α_ij s_j over a handful of senders, the means and gradient sums of a neural
player's loss — that path is several times slower than XLA's own loop emitter (measured on this
machine: 40 µs against 8 µs per reduction over a [1000, 8, 4] batch; the neural-vae-N8 round
6.7 ms against 16.7 ms). gtgen's programs keep YNNPACK for dot products only. Where the option is
unknown (another backend, an XLA that renamed it), programs compile with XLA's defaults.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


@functools.cache
def compiler_options() -> dict[str, Any] | None:
    """``compiler_options`` for ``jax.jit`` on the default backend (None: XLA's defaults)."""
    if jax.default_backend() != "cpu":
        return None
    try:
        jax.jit(lambda x: x, compiler_options=CPU_OPTIONS).lower(0.0).compile()
    except jax.errors.JaxRuntimeError:  # an XLA without this option: XLA's defaults then
        return None
    return dict(CPU_OPTIONS)


class _Jitted:
    """A jitted function that compiles with gtgen's options when it is the top-level program,
    and as a plain ``jax.jit`` when called inside another trace (JAX accepts compiler options
    only at the top level; the outer program's options then apply)."""

    def __init__(self, fn, kwargs):
        self._fn, self._kwargs = fn, kwargs
        self._nested = jax.jit(fn, **kwargs)
        self._top = None  # built at the first top-level use: asking the backend starts JAX
        functools.update_wrapper(self, fn)

    def _pick(self, args, kwargs):
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((args, kwargs))):
            return self._nested
        if self._top is None:
            self._top = jax.jit(self._fn, compiler_options=compiler_options(), **self._kwargs)
        return self._top

    def __call__(self, *args, **kwargs):
        return self._pick(args, kwargs)(*args, **kwargs)

    def lower(self, *args, **kwargs):
        return self._pick(args, kwargs).lower(*args, **kwargs)

    def __getattr__(self, name):  # the rest of jax.jit's API, of the top-level program
        if name.startswith("__") or name in ("_fn", "_kwargs", "_nested", "_top"):
            raise AttributeError(name)
        return getattr(self._pick((), {}), name)


def jit(fn=None, **kwargs):
    """``jax.jit`` with gtgen's compiler options for the default backend (also a decorator)."""
    if fn is None:
        return functools.partial(jit, **kwargs)
    return _Jitted(fn, kwargs)

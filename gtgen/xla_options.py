"""XLA compiler options for gtgen's compiled programs (solvers, neural rounds, sweeps).

On the CPU backend, XLA hands reductions and elementwise work to its experimental YNNPACK
fusions by default. For the reductions of an exchange round — max |μ_{t+1} − μ_t| over a game's
[N, K] parameters, Σ_j α_ij s_j over a handful of senders, the means and gradient sums of a neural
player's loss — that path is several times slower than XLA's own loop emitter (measured on this
machine: 40 µs against 8 µs per reduction over a [1000, 8, 4] batch; the neural-vae-N8 round
6.7 ms against 16.7 ms). gtgen's programs keep YNNPACK for dot products only. Where an option is
unknown (another backend, an XLA that renamed or dropped it), programs compile with XLA's default
for it.

``effort`` trades a program's compile time against its kernels' speed (XLA CPU's compile time goes
into generating and optimising one LLVM kernel per fusion):

- ``"full"`` (the default): the options above;
- ``"light"``: LLVM at -O1, for a large program of many small kernels whose time goes into library
  dot products (IV-B's cooperative round of four different players: compile −14 % wall, −24 %
  CPU time, round time unchanged on a quiet machine, benchmarks/RESULTS.md; values agree to float rounding, not bit for
  bit);
- ``"once"``: a program that runs once (the players' initialisation), compiled for compile time.
  A flax initialisation of four players is hundreds of small fusions (a slice and a scale per
  parameter, a zero per Adam moment); XLA's elemental emitters without the MLIR fusion emitters
  and LLVM at -O0 compile it 10× faster (IV-B's four players: 19 s → 1.5 s, measured on this
  machine under load 8) and give the same bits for its arithmetic (tested; transcendental
  functions may differ in the last bit between emitters); the kernels run slower, once.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}
# what each compile effort adds on a CPU (see the module docstring)
CPU_EFFORT_OPTIONS = {
    "full": {},
    "light": {"xla_backend_optimization_level": 1},
    "once": {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0},
}
EFFORTS = tuple(CPU_EFFORT_OPTIONS)


@functools.cache
def compiler_options(effort: str = "full") -> dict[str, Any] | None:
    """``compiler_options`` for ``jax.jit`` on the default backend (None: XLA's defaults) at a
    compile ``effort`` (one of ``EFFORTS``)."""
    if effort not in CPU_EFFORT_OPTIONS:
        raise ValueError(f"effort: must be one of {', '.join(EFFORTS)}, got {effort!r}")
    if jax.default_backend() != "cpu":
        return None
    wanted = {**CPU_OPTIONS, **CPU_EFFORT_OPTIONS[effort]}
    out = {name: value for name, value in wanted.items() if accepted(name, value)}
    return out or None


@functools.cache
def accepted(name: str, value: Any) -> bool:
    """Whether this XLA compiles with the option ``name=value`` (one probe per option: an XLA
    that dropped one option, as jaxlib 0.12 dropped ``xla_cpu_use_fusion_emitters``, keeps the
    others)."""
    try:
        jax.jit(lambda x: x, compiler_options={name: value}).lower(0.0).compile()
    except jax.errors.JaxRuntimeError:  # an XLA without this option: its default then
        return False
    return True


class _Jitted:
    """A jitted function that compiles with gtgen's options when it is the top-level program,
    and as a plain ``jax.jit`` when called inside another trace (JAX accepts compiler options
    only at the top level; the outer program's options then apply)."""

    def __init__(self, fn, kwargs, effort="full"):
        self._fn, self._kwargs, self._effort = fn, kwargs, effort
        self._nested = jax.jit(fn, **kwargs)
        self._top = None  # built at the first top-level use: asking the backend starts JAX
        functools.update_wrapper(self, fn)

    def _pick(self, args, kwargs):
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves((args, kwargs))):
            return self._nested
        if self._top is None:
            options = compiler_options(self._effort)
            self._top = jax.jit(self._fn, compiler_options=options, **self._kwargs)
        return self._top

    def __call__(self, *args, **kwargs):
        return self._pick(args, kwargs)(*args, **kwargs)

    def lower(self, *args, **kwargs):
        return self._pick(args, kwargs).lower(*args, **kwargs)

    def __getattr__(self, name):  # the rest of jax.jit's API, of the top-level program
        if name.startswith("__") or name in ("_fn", "_kwargs", "_effort", "_nested", "_top"):
            raise AttributeError(name)
        return getattr(self._pick((), {}), name)


def jit(fn=None, *, effort: str = "full", **kwargs):
    """``jax.jit`` with gtgen's compiler options for the default backend (also a decorator);
    ``effort``: ``"full"``, ``"light"`` or ``"once"`` (see the module docstring)."""
    if effort not in CPU_EFFORT_OPTIONS:
        raise ValueError(f"effort: must be one of {', '.join(EFFORTS)}, got {effort!r}")
    if fn is None:
        return functools.partial(jit, effort=effort, **kwargs)
    return _Jitted(fn, kwargs, effort)

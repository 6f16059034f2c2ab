"""The benchmark runner's timing helpers: side-by-side warm-up calls give each function's own
result, and the compile clock counts the XLA compilations made while it is open."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.run import CompileClock
from benchmarks.timing import warm_all


def test_warm_all_returns_each_functions_own_result():
    fns = {k: (lambda k=k: jax.jit(lambda x: x * k + 1.0)(jnp.arange(4.0))) for k in range(5)}
    got = warm_all(fns)
    assert sorted(got) == list(range(5))
    for k, v in got.items():
        np.testing.assert_array_equal(np.asarray(v), np.arange(4.0) * k + 1.0)


def test_compile_clock_counts_the_compilations_made_while_open():
    x = np.arange(7.0, dtype=np.float32)  # numpy inputs: no eager op compiles on its own
    with CompileClock() as clock:
        jax.jit(lambda x: jnp.sin(x) * 3.0 + x)(x).block_until_ready()
        jax.jit(lambda x: jnp.cos(x) - x)(x).block_until_ready()
        inside = clock.count
        assert clock.seconds > 0.0
    jax.jit(lambda x: jnp.tan(x) + 2.0)(x).block_until_ready()
    assert inside == 2 and clock.count == 2  # closed: the third compile is not counted

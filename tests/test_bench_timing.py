"""The benchmark runner's compile clock counts the XLA compilations made while it is open."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.run import CompileClock


def test_compile_clock_counts_the_compilations_made_while_open():
    x = np.arange(7.0, dtype=np.float32)  # numpy inputs: no eager op compiles on its own
    with CompileClock() as clock:
        jax.jit(lambda x: jnp.sin(x) * 3.0 + x)(x).block_until_ready()
        jax.jit(lambda x: jnp.cos(x) - x)(x).block_until_ready()
        inside = clock.count
        assert clock.seconds > 0.0
    jax.jit(lambda x: jnp.tan(x) + 2.0)(x).block_until_ready()
    assert inside == 2 and clock.count == 2  # closed: the third compile is not counted


def test_loop_repeats_all_cores_only_where_given():
    from benchmarks.timing import loop_repeats

    assert loop_repeats({"repeats": 3}, 1) == 3
    assert loop_repeats({"repeats": 3}, 2) == 3
    assert loop_repeats({"repeats": 2, "all_cores_repeats": 1}, 1) == 2
    assert loop_repeats({"repeats": 2, "all_cores_repeats": 1}, 2) == 1

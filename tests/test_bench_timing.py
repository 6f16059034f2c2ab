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


def test_compile_cache_keeps_programs_for_a_second_process(tmp_path):
    """--compile-cache: the first process writes its programs into the folder (the child
    processes' environment too), a second one with the same folder loads them."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = (
        "import os, sys, jax, jax.numpy as jnp\n"
        "from benchmarks.run import use_compile_cache\n"
        "use_compile_cache(sys.argv[1])\n"
        "assert os.environ['JAX_COMPILATION_CACHE_DIR'] == sys.argv[1]\n"
        "hits = []\n"
        "jax.monitoring.register_event_listener(lambda e, **_: hits.append(e))\n"
        "jax.jit(lambda x: jnp.sin(x) * 3.0)(jnp.arange(5.0)).block_until_ready()\n"
        "print(len(os.listdir(sys.argv[1])), hits.count('/jax/compilation_cache/cache_hits'))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    folder = str(tmp_path / "cache")
    runs = [
        [
            int(v)
            for v in subprocess.run(
                [sys.executable, "-c", script, folder],
                env=env,
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        ]
        for _ in range(2)
    ]
    (files, hits), (files_again, hits_again) = runs
    assert files >= 1 and hits == 0  # the first process compiled and wrote its programs ...
    assert files_again == files and hits_again >= 1  # ... the second loaded them

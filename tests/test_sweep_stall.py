"""The sweep that hung (gaussian-full, dim 64, per-core CPU devices), gtgen.linalg that fixed it,
and the watchdog that names a stuck program."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gtgen import linalg
from gtgen.sweep import sweep
from gtgen.sweep.watchdog import STALL_EXIT_STATUS, Watchdog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _spd(rng, shape, d):
    a = rng.normal(size=(*shape, d, d))
    return a @ np.swapaxes(a, -1, -2) + d * np.eye(d)


def test_sweep_gaussian_full_dim64_on_per_core_devices_finishes(tmp_path):
    """The regression: this sweep waited forever on its per-core CPU devices (two programs each
    inside a batched LAPACK kernel that waits on the pool both occupy)."""
    cfg = tmp_path / "full64.toml"
    cfg.write_text(
        'family = "gaussian-full"\ndim = 64\nplayers = 2\nrounds = 5\nsamples = 100\n'
        "seeds = 2\ndata_size = 100\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    env["JAX_NUM_CPU_DEVICES"] = "2"  # two devices on any machine, as on a 2-core one
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gtgen.cli",
            "sweep",
            str(cfg),
            "--out",
            str(tmp_path / "out"),
            "--no-plots",
            "--no-progress",
            "--json",
            "--stall-timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"devices": 2' in proc.stdout
    assert '"nonfinite_points": 0' in proc.stdout


def test_batched_lapack_under_shard_map_on_two_cpu_devices_finishes():
    """The smallest program that deadlocked with jnp.linalg.inv (4 independent batched inverses
    per device, 8 matrices of 56×56 each) runs with gtgen.linalg.inv."""
    code = textwrap.dedent("""
        import jax, jax.numpy as jnp
        from jax.sharding import NamedSharding, PartitionSpec as P
        jax.config.update("jax_num_cpu_devices", 2)
        from gtgen import linalg
        mesh = jax.make_mesh((2,), ("s",), devices=jax.devices())
        def f(x):
            x = x[0]
            return sum(linalg.inv(x * (i + 1) + jnp.eye(56)).sum((1, 2)) for i in range(4))[None]
        g = jax.jit(jax.shard_map(f, mesh=mesh, in_specs=P("s"), out_specs=P("s")))
        x = jax.device_put(jnp.ones((2, 8, 56, 56)) * 1e-3, NamedSharding(mesh, P("s")))
        print(float(jax.block_until_ready(g(x)).sum()))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.isfinite(float(proc.stdout.split()[-1]))


@pytest.mark.parametrize("batch", [(), (3,), (2, 5)])
def test_linalg_matches_numpy_under_nested_vmap(batch):
    rng = np.random.default_rng(len(batch))
    d = 4
    a = _spd(rng, batch, d).astype(np.float32)
    b = rng.normal(size=(*batch, d)).astype(np.float32)

    def nest(f):
        for _ in batch:
            f = jax.vmap(f)
        return f

    got = {
        "inv": nest(linalg.inv)(a),
        "solve": nest(linalg.solve)(a, b),
        "logdet": nest(lambda m: linalg.slogdet(m)[1])(a),
        "cholesky": nest(linalg.cholesky)(a),
    }
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    want = {
        "inv": np.linalg.inv(a64),
        "solve": np.linalg.solve(a64, b64[..., None])[..., 0],
        "logdet": np.linalg.slogdet(a64)[1],
        "cholesky": np.linalg.cholesky(a64),
    }
    for k, v in want.items():
        np.testing.assert_allclose(
            np.asarray(got[k], np.float64), v, rtol=2e-5, atol=2e-5, err_msg=k
        )


def test_linalg_derivatives_match_jnp_linalg():
    rng = np.random.default_rng(1)
    d = 3
    a = jnp.asarray(_spd(rng, (), d), jnp.float32)
    b = jnp.asarray(rng.normal(size=d), jnp.float32)
    w = jnp.arange(d * d, dtype=jnp.float32).reshape(d, d)
    pairs = [
        (lambda m: (linalg.inv(m) * w).sum(), lambda m: (jnp.linalg.inv(m) * w).sum()),
        (lambda m: linalg.slogdet(m)[1], lambda m: jnp.linalg.slogdet(m)[1]),
        (lambda m: (linalg.solve(m, b) * b).sum(), lambda m: (jnp.linalg.solve(m, b) * b).sum()),
        (lambda m: (linalg.cholesky(m) * w).sum(), lambda m: (jnp.linalg.cholesky(m) * w).sum()),
    ]
    for mine, ref in pairs:
        np.testing.assert_allclose(jax.grad(mine)(a), jax.grad(ref)(a), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(jax.jacfwd(mine)(a), jax.jacfwd(ref)(a), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("d", [2, 16, 64])
def test_lapack_calls_stay_below_the_parallel_threshold(d):
    """Every LAPACK call of a vmapped inverse has batch × d³ < jaxlib's 200 000 (so it runs
    inline), whatever the batch."""
    batch = 3 * linalg.chunk_size(d) + 1
    x = jnp.broadcast_to(jnp.eye(d, dtype=jnp.float32), (batch, d, d))
    text = jax.jit(jax.vmap(linalg.inv)).lower(x).as_text()
    calls = re.findall(rf"lapack_sgetrf_ffi.*?tensor<(\d+)x{d}x{d}xf32>", text)
    assert calls, "no LAPACK LU call found"
    assert all(int(n) * d**3 < linalg.LAPACK_INLINE_WORK or int(n) == 1 for n in calls)
    np.testing.assert_allclose(jax.vmap(linalg.inv)(2 * x), 0.5 * np.asarray(x), rtol=1e-6)


def test_watchdog_warns_naming_the_call_and_stops_when_told():
    lines, stops = [], []
    dog = Watchdog(warn_s=0.05, stop_s=0.4, write=lines.append, stop=stops.append)
    with dog.watch("shape 1/1 (family=gaussian-full, dim=64), chunk 1/1"):
        time.sleep(0.6)
    assert stops == [STALL_EXIT_STATUS]
    assert any("warning" in x and "family=gaussian-full, dim=64" in x for x in lines)
    assert "stopped" in lines[-1] and "stall_timeout = 0.4 s" in lines[-1]
    quiet = Watchdog(warn_s=5.0, write=lines.append, stop=stops.append)
    n = len(lines)
    with quiet.watch("fast"):
        pass
    assert len(lines) == n and stops == [STALL_EXIT_STATUS]


@pytest.mark.parametrize("bad", [0, -1.0, True, "10"])
def test_watchdog_settings_are_checked(bad):
    with pytest.raises(ValueError, match="watchdog"):
        sweep(players=2, rounds=2, samples=8, watchdog=bad)


def test_sweep_names_a_slow_program_on_stderr(capsys):
    # a shape no other test compiles, so the compilation (well over 1 ms) is watched
    sweep(players=3, rounds=11, samples=13, devices=None, watchdog=1e-3)
    err = capsys.readouterr().err
    assert re.search(r"sweep: compiling shape 1/1 \(family=gaussian, dim=2, players=3", err)

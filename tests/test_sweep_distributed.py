"""Sweeps over several devices and processes, each run in a fresh Python (the device count and
the distributed runtime must be set before JAX starts)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gtgen.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "players": 6,
    "rounds": 25,
    "samples": 16,
    "data_size": 30,
    "a": [0.2, 0.6, 0.9],
    "alpha": ["uniform", "ring"],
    "seeds": 3,
    "method": "sampled",
}


def _assert_same(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """Equal up to float32 rounding: a device's slice of a chunk may be vectorised differently
    from the whole chunk, which can move the last bit of a reduction (most values are equal bit
    for bit); rounds_run is always equal."""
    if name == "rounds_run":
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.mean(actual == expected) > 0.5, name


def _python(code: str, env_extra: dict[str, str], timeout: float = 120):
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc, timeout: float = 180) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


REPORT = """
def report(result):
    import json
    print(json.dumps({
        "rows": [{k: r[k] for k in ("distance", "residual", "nash_gap_max", "rounds_run")}
                 for r in result.rows],
        "traces": [[None if x != x else float(x) for x in t] for t in result.traces],
        "meta": {k: result.meta[k] for k in ("devices", "processes", "compilations",
                                             "distinct_shapes", "points", "shapes")},
    }))
"""


def _columns(payload: dict) -> dict[str, np.ndarray]:
    rows = payload["rows"]
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}


def test_sharded_over_8_devices_equals_unsharded():
    code = (
        REPORT
        + f"""
import jax
from gtgen.sweep import sweep, config
assert jax.device_count() == 8
report(sweep(**{SETTINGS!r}))
config.DENSE_MAX = 16  # 32 players count as a large game: sparse α, player axis sharded
large = dict(players=32, rounds=12, samples=8, data_size=10, a=[0.4, 0.7], alpha="ring", seeds=2)
report(sweep(**large))
report(sweep(**large, devices=None))
"""
    )
    proc = _python(code, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    sharded, large_sharded, large_single = (json.loads(x) for x in out.strip().splitlines()[-3:])

    local = sweep(**SETTINGS, devices=None)
    assert sharded["meta"]["devices"] == 8
    assert sharded["meta"]["compilations"] == sharded["meta"]["distinct_shapes"] == 1
    assert {s["placement"] for s in sharded["meta"]["shapes"]} == {"sweep axis over 8 devices"}
    for key, col in _columns(sharded).items():
        _assert_same(col, local.column(key).astype(np.float64), key)
    _assert_same(
        np.array(sharded["traces"], dtype=float), np.array(local.traces, dtype=float), "traces"
    )

    assert {s["placement"] for s in large_sharded["meta"]["shapes"]} == {
        "player axis over 8 devices"
    }
    a, b = _columns(large_sharded), _columns(large_single)
    np.testing.assert_array_equal(a["rounds_run"], b["rounds_run"])
    for key in ("distance", "residual", "nash_gap_max"):  # sums over a sharded axis: a few ulps
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_split_one_sweep(tmp_path):
    port = _free_port()
    code = (
        REPORT
        + f"""
import sys
from gtgen.sweep import initialize, sweep
initialize("127.0.0.1:{port}", num_processes=2, process_id=int(sys.argv[1]))
import jax
assert jax.process_count() == 2 and jax.device_count() == 2
report(sweep(**{SETTINGS!r}, out={str(tmp_path / "out")!r}, plots=False))
jax.distributed.shutdown()
"""
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(rank)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    results = [_finish(p) for p in procs]
    local = sweep(**SETTINGS, devices=None)
    for res in results:
        assert res["meta"]["processes"] == 2 and res["meta"]["devices"] == 2
        for key, col in _columns(res).items():
            _assert_same(col, local.column(key).astype(np.float64), key)
    meta = json.loads((tmp_path / "out" / "sweep.json").read_text())  # written by process 0
    assert meta["processes"] == 2 and meta["points"] == len(local.rows)


def test_use_cpu_cores_gives_jax_one_device_per_core_and_the_cli_shards_over_them(tmp_path):
    """``use_cpu_cores(3)`` before JAX starts gives three CPU devices; ``gtgen sweep`` does it by
    itself (one per core) and reports the devices it sharded over."""
    probe = _python(
        """
        import json
        import jax
        from gtgen.sweep import use_cpu_cores
        n = use_cpu_cores(3)
        jax.numpy.ones(1)  # JAX starts here
        try:
            use_cpu_cores(2)
            late = "no error"
        except RuntimeError:
            late = "RuntimeError"
        print(json.dumps({"set": n, "devices": len(jax.devices("cpu")), "late": late}))
    """,
        {},
    )
    assert _finish(probe) == {"set": 3, "devices": 3, "late": "RuntimeError"}

    config = tmp_path / "s.toml"
    config.write_text('players = 4\nrounds = 10\nmethod = "exact"\na = [0.3, 0.6]\nseeds = 3\n')
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gtgen.cli",
            "sweep",
            str(config),
            "--out",
            str(tmp_path / "o"),
            "--json",
            "--no-plots",
        ],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    from gtgen.sweep.distributed import cpu_core_count

    assert json.loads(done.stdout.strip().splitlines()[-1])["devices"] == cpu_core_count()


def test_use_cpu_cores_rejects_a_bad_count():
    from gtgen.sweep import use_cpu_cores

    for bad in (0, -1, 2.5, True, "2"):
        with pytest.raises(ValueError, match="count"):
            use_cpu_cores(bad)

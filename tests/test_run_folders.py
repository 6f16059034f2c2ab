"""Run folders: resumes that match the run asked for, damaged folders, failed starts (issue 14,
failures 3 and 4)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gtgen.cli import main
from gtgen.experiments.runner import open_checkpoints, run_chunks
from gtgen.sweep import sweep


def _chunk(key, state):
    return {"x": state["x"] + 1.0}, {"loss": state["x"]}


def _state():
    return {"x": jnp.zeros(3)}


def test_resume_beyond_the_requested_length_is_refused(tmp_path):
    folder = tmp_path / "ck"
    state, _ = run_chunks(_chunk, _state(), jax.random.key(0), 4, folder, progress=False)
    assert float(state["x"][0]) == 4.0
    with pytest.raises(ValueError, match=r"holds a run of 4 chunks, more than the 2 asked for"):
        run_chunks(_chunk, _state(), jax.random.key(0), 2, folder, progress=False)
    with pytest.raises(ValueError, match=r"holds a run of 40 iterations, more than the 20 asked"):
        run_chunks(_chunk, _state(), jax.random.key(0), 2, folder, progress=False, per_chunk=10)
    # the same length resumes to the same state; a longer one continues
    same, done = run_chunks(_chunk, _state(), jax.random.key(0), 4, folder, progress=False)
    assert done == 4 and float(same["x"][0]) == 4.0
    longer, done = run_chunks(_chunk, _state(), jax.random.key(0), 6, folder, progress=False)
    assert done == 4 and float(longer["x"][0]) == 6.0


def test_mnist_split_resume_beyond_iterations_is_refused(tmp_path):
    from gtgen.experiments import mnist_split
    from gtgen.experiments.mnist_split.experiment import SMOKE_MODEL

    config = mnist_split.smoke_config(
        iterations=4, chunk=2, batch=8, alphas=(0.5,), baseline=False
    )._replace(model=SMOKE_MODEL)
    config = mnist_split.validate(config)
    data = mnist_split.load_data(config)
    mnist_split.train(config, data, tmp_path / "ck", progress=False)
    shorter = mnist_split.validate(config._replace(iterations=2))
    with pytest.raises(ValueError, match=r"holds a run of 4 iterations, more than the 2 asked"):
        mnist_split.train(shorter, data, tmp_path / "ck", progress=False)


def test_a_start_that_fails_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    folder = out / "checkpoints"
    open_checkpoints(folder, {"seed": 0})

    def broken(key, state):
        raise ValueError("model: boom")

    with pytest.raises(ValueError, match="boom"):
        run_chunks(broken, _state(), jax.random.key(0), 3, folder, progress=False)
    assert not folder.exists() and not out.exists()


def test_run_json_of_a_failed_start_does_not_block_the_corrected_command(tmp_path):
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"seed": 1}))  # left, no checkpoint saved
    open_checkpoints(folder, {"seed": 2})
    assert json.loads((folder / "run.json").read_text()) == {"seed": 2}


def test_a_folder_of_another_run_is_still_refused(tmp_path):
    folder = tmp_path / "ck"
    open_checkpoints(folder, {"seed": 1})
    run_chunks(_chunk, _state(), jax.random.key(0), 1, folder, progress=False)
    with pytest.raises(ValueError, match="holds a run with different seed"):
        open_checkpoints(folder, {"seed": 2})


@pytest.mark.parametrize("damage", ["garbage", "list", "utf16"])
def test_a_damaged_run_json_is_one_line(tmp_path, damage):
    folder = tmp_path / "ck"
    open_checkpoints(folder, {"seed": 1})
    run_chunks(_chunk, _state(), jax.random.key(0), 1, folder, progress=False)
    stamp = folder / "run.json"
    {
        "garbage": lambda: stamp.write_bytes(b"{\x00\xff not json"),
        "list": lambda: stamp.write_text("[1, 2]"),
        "utf16": lambda: stamp.write_text('{"seed": 1}', encoding="utf-16"),
    }[damage]()
    with pytest.raises(ValueError, match="checkpoint_dir: .*run.json"):
        open_checkpoints(folder, {"seed": 1})


def test_a_truncated_history_line_is_dropped(tmp_path):
    folder = tmp_path / "ck"
    open_checkpoints(folder, {"seed": 1})
    run_chunks(_chunk, _state(), jax.random.key(0), 2, folder, progress=False)
    (folder / "history.jsonl").write_text('{"chunk": 0, "loss": 1}\n{"chunk": 1, "lo')
    assert open_checkpoints(folder, {"seed": 1}) == [{"chunk": 0, "loss": 1}]


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    folder = tmp_path / "ck"
    run_chunks(_chunk, _state(), jax.random.key(0), 2, folder, progress=False)
    step = folder / "2"
    for f in step.rglob("*"):
        if f.is_file():
            f.write_bytes(b"damaged")
    with pytest.raises(
        ValueError, match="checkpoint_dir: the checkpoint of step 2 .* cannot be read"
    ):
        run_chunks(_chunk, _state(), jax.random.key(0), 3, folder, progress=False)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 truncated", "half", "wrong-arrays"])
def test_a_damaged_sweep_chunk_is_recomputed_and_said(tmp_path, capsys, damage):
    settings = {"players": 2, "rounds": 5, "samples": 16, "a": [0.3, 0.7], "batch": 1}
    first = sweep(out=tmp_path, devices=None, plots=False, **settings)
    chunks = sorted((tmp_path / "chunks").glob("*.npz"))
    assert len(chunks) == 2
    if damage == "half":
        blob = chunks[0].read_bytes()
        chunks[0].write_bytes(blob[: len(blob) // 2])
    elif damage == "wrong-arrays":
        np.savez(chunks[0], rate=np.zeros(1))
    else:
        chunks[0].write_bytes(damage)
    capsys.readouterr()
    again = sweep(out=tmp_path, devices=None, plots=False, **settings)
    err = capsys.readouterr().err
    assert f"stored chunk {chunks[0].name} is damaged; recomputing it" in err
    assert again.meta["recomputed_damaged_chunks"] == 1 and again.meta["resumed_points"] == 1
    np.testing.assert_array_equal(again.column("distance"), first.column("distance"))


def test_sweep_cli_resume_of_a_damaged_chunk_exits_0(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text("players = 2\nrounds = 4\nsamples = 8\n")
    args = [
        "sweep",
        str(cfg),
        "--out",
        str(tmp_path / "o"),
        "--single-device",
        "--no-plots",
        "--no-progress",
    ]
    assert main(args) == 0
    for f in (tmp_path / "o" / "chunks").glob("*.npz"):
        f.write_bytes(b"\x00" * 10)
    capsys.readouterr()
    assert main(args) == 0
    assert "damaged; recomputing" in capsys.readouterr().err


def test_a_sweep_that_fails_at_start_leaves_no_folder(tmp_path, monkeypatch):
    api = importlib.import_module("gtgen.sweep.api")

    def broken(*args, **kwargs):
        raise ValueError("data: boom")

    monkeypatch.setattr(api, "chunk_inputs", broken)
    with pytest.raises(ValueError, match="boom"):
        sweep(out=tmp_path / "out", devices=None, players=2, rounds=2, samples=8)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_that_cannot_be_a_folder_is_one_line(tmp_path, capsys, where):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "file" else tmp_path / "f" / "sub"
    for args in (
        ["sweep", str(Path(__file__).parents[1] / "examples" / "sweep-gaussian.toml")],
        ["demo", "--game", "gaussian"],
    ):
        assert main([*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gtgen: error: --out:") and err.count("\n") == 1

"""Experiment IV-A (mnist_split): the effect, outputs, resume, NaN stop, bad input, MNIST path.

Every training here uses ``mnist_split.smoke_config`` shapes so that one compiled sweep program
serves all tests (and the notebook run): a few seconds of training instead of minutes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

from gtgen.cli import main
from gtgen.data import save_idx
from gtgen.experiments import mnist_split
from gtgen.experiments.mnist_split import claims, metrics, report
from gtgen.experiments.runner import Diverged
from gtgen.players.neural import HVAEConfig
from notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
SMOKE = mnist_split.smoke_config()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[mnist_split.Results, Path]:
    """One short run of the whole experiment (a = 0.3, 1.0 and the baseline) with outputs."""
    out = tmp_path_factory.mktemp("smoke") / "run"
    return mnist_split.run(SMOKE, out_dir=out, progress=False), out


def test_short_run_separates_the_effect(smoke) -> None:
    results, _ = smoke
    other = results.other_share()  # [entries, players]; entries: a = 0.3, 1.0, baseline
    print("share of the other player's digits (a = 0.3, a = 1):", other[:2])
    assert np.all(other[0] > other[1] + 0.15)  # exchanging, each learns the other's digits
    assert np.all(other[1] < 0.25)  # alone, each mostly keeps to its own


def test_outputs_and_metrics_json(smoke) -> None:
    results, out = smoke
    m = json.loads((out / "metrics.json").read_text())
    assert [(r["alpha"], r["player"]) for r in m["runs"]] == [
        (0.3, 0),
        (0.3, 1),
        (1.0, 0),
        (1.0, 1),
    ]
    for r in m["runs"] + m["baseline"]:
        assert len(r["class_fractions"]) == 10 and sum(r["class_fractions"]) == pytest.approx(1)
        assert all(np.isfinite(r[k]) for k in ("frechet_own", "frechet_other", "frechet_all"))
    assert len(m["baseline"]) == 2 and "FID" in m["distance"]
    assert len(m["history"]) == 4 and m["iterations"] == 1000
    # the coverage curve: every chunk, each model's fractions of 100 samples (multiples of 1%)
    tracked = np.array([h["class_fractions"] for h in m["history"]])
    assert tracked.shape == (4, 3, 2, 10) and np.allclose(tracked.sum(axis=3), 1.0)
    assert np.allclose(tracked * 100, np.round(tracked * 100), atol=1e-6)
    np.testing.assert_allclose(  # the report's curve is the minimum over digits and players
        report.coverage_curve(results)[2][:, -1, 0], tracked[-1, :2].min(axis=(1, 2))
    )
    assert [c["alpha"] for c in m["claims"]] == [0.3, 1.0]
    assert m["runs"] == json.loads(json.dumps(metrics(results)["runs"]))
    png = b"\x89PNG\r\n\x1a\n"
    for name in (
        "samples.png",
        "frechet.png",
        "class_fractions.png",
        "coverage_curves.png",
        "samples/a0.30_player1.png",
        "samples/baseline_player0.png",
    ):
        assert (out / name).read_bytes()[:8] == png, name
    text = (out / "report.txt").read_text()
    assert "FID analogue" in text and "a = 0.30" in text and "baseline" in text
    assert len(claims(results)) == 2


def interrupted_copy(out: Path, tmp_path: Path, after: int) -> Path:
    """The smoke run's checkpoint folder as a run that stopped after ``after`` chunks."""
    ck = shutil.copytree(out / "checkpoints", tmp_path / "ck")
    for step in ck.iterdir():
        if step.name.isdigit() and int(step.name) > after:
            shutil.rmtree(step)
    return ck


def test_resume_reproduces_the_uninterrupted_run(smoke, tmp_path) -> None:
    results, out = smoke
    data = mnist_split.load_data(SMOKE)
    ck = interrupted_copy(out, tmp_path, after=3)  # killed after 3 of 4 chunks
    resumed = mnist_split.train(SMOKE, data, ck, progress=False)
    assert resumed.resumed_from == 3
    assert resumed.history == results.trained.history  # stale history lines were dropped
    for u, v in zip(jax.tree.leaves(resumed.states), jax.tree.leaves(results.trained.states)):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    with pytest.raises(ValueError, match="checkpoint_dir: .* different alphas"):
        mnist_split.train(SMOKE._replace(alphas=(0.5, 1.0)), data, ck, progress=False)


def test_nan_stops_and_keeps_the_last_good_checkpoint(smoke, tmp_path, monkeypatch) -> None:
    _, out = smoke
    ck = interrupted_copy(out, tmp_path, after=4)  # a finished run of 4 chunks: go on
    data = mnist_split.load_data(SMOKE)
    real = mnist_split.sweep_program

    def poisoned(*args):  # the same program, with NaN injected into the state it returns
        program = real(*args)

        def run(keys, states, *rest):
            states, losses = program(keys, states, *rest)
            return jax.tree.map(
                lambda x: x * np.nan if x.dtype == np.float32 else x, states
            ), losses

        return run

    monkeypatch.setattr(mnist_split.experiment, "sweep_program", poisoned)
    longer = SMOKE._replace(iterations=1500)
    with pytest.raises(
        Diverged, match=r"NaN or inf .* chunk 4; the last good checkpoint is step 4"
    ):
        mnist_split.train(longer, data, ck, progress=False)
    monkeypatch.undo()
    again = mnist_split.train(SMOKE, data, ck, progress=False)  # still there, still good
    assert again.resumed_from == 4 and len(again.history) == 4


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_reports_divergence_in_one_line(capsys, tmp_path, monkeypatch) -> None:
    def diverge(*args, **kwargs):
        raise Diverged(
            "training: NaN or inf in the state during chunk 7; the last good "
            "checkpoint is step 7 in /x"
        )

    monkeypatch.setattr(mnist_split, "run", diverge)
    status, _, err = run_cli(capsys, "experiment", "mnist-split", "--out", str(tmp_path / "o"))
    assert status == 2 and err.startswith("gtgen: error: training: NaN") and "step 7" in err


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--alphas", "0", "0.5"], "alphas"),
        (["--alphas", "0.5,1.5"], "alphas"),
        (["--alphas", "0.5", "0.5"], "alphas"),
        (["--alphas", "x"], "--alphas"),
        (["--iterations", "0"], "iterations"),
        (["--iterations", "-5"], "iterations"),
        (["--model", "paper-mnist"], "model: made for 28×28 images, but the embedded 8×8 digits"),
        (["--model", "nonesuch"], "model"),
        (["--composition", "mixed"], "--composition"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, tmp_path, argv, field) -> None:
    status, _, err = run_cli(
        capsys, "experiment", "mnist-split", "--out", str(tmp_path / "o"), "--quiet", *argv
    )
    assert status == 2 and field in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_weighted_composition_trains_and_differs_from_batch_shares(smoke) -> None:
    """``composition="weighted"`` (α as loss weights) runs the same experiment through another
    round: finite losses and parameters of the same shapes, but other values; a bad name is a
    ValueError naming the choices."""
    results, _ = smoke
    config = SMOKE._replace(composition="weighted", iterations=250, baseline=False)
    trained = mnist_split.train(
        mnist_split.validate(config), mnist_split.load_data(config), progress=False
    )
    shares = jax.tree.leaves(results.trained.states)
    weighted = jax.tree.leaves(trained.states)
    assert all(np.isfinite(np.asarray(x)).all() for x in weighted)
    assert len(trained.history) == 1 and np.isfinite(trained.history[0]["loss_p"]).all()
    assert any(
        w.shape[1:] == s.shape[1:] and not np.allclose(np.asarray(w), np.asarray(s[: len(w)]))
        for w, s in zip(weighted, shares)
    )
    with pytest.raises(ValueError, match="composition must be one of shares, weighted"):
        mnist_split.validate(SMOKE._replace(composition="mixed"))


def test_alphas_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="alphas must be a non-empty list"):
        mnist_split.validate(SMOKE._replace(alphas=[[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="alphas must be a non-empty list"):
        mnist_split.validate(SMOKE._replace(alphas=()))


def fake_mnist(folder: Path, size: int = 28, n_train: int = 40, n_test: int = 20) -> Path:
    """Small MNIST-format IDX files: every digit present, blobs that depend on the label."""
    rng = np.random.default_rng(0)
    folder.mkdir(exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = (rng.random((n, size, size)) * 120).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c : 2 * c + 6, 4:24] = 255
        save_idx(folder / f"{stem}-images-idx3-ubyte", images)
        save_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)
    return folder


def test_missing_idx_file_names_it(capsys, tmp_path) -> None:
    folder = fake_mnist(tmp_path / "mnist")
    (folder / "t10k-images-idx3-ubyte").unlink()
    status, _, err = run_cli(
        capsys,
        "experiment",
        "mnist-split",
        "--data-dir",
        str(folder),
        "--out",
        str(tmp_path / "o"),
        "--quiet",
    )
    assert status == 2 and "t10k-images-idx3-ubyte" in err and err.count("\n") == 1, err


def test_wrong_image_size_in_idx_files(capsys, tmp_path) -> None:
    folder = fake_mnist(tmp_path / "mnist", size=32)
    status, _, err = run_cli(
        capsys,
        "experiment",
        "mnist-split",
        "--data-dir",
        str(folder),
        "--out",
        str(tmp_path / "o"),
        "--quiet",
    )
    assert status == 2 and "[n, 28, 28]" in err, err


@pytest.mark.slow  # compiles the 28×28 models (~1 min on 2 cores); the idx reader is tested in test_data
def test_mnist_path_on_fake_idx_files(tmp_path) -> None:
    folder = fake_mnist(tmp_path / "mnist")
    tiny = HVAEConfig(event_shape=(28, 28), z0=4, z1=8, prior_hidden=(16,), hidden=(16,))
    config = mnist_split.mnist_config(
        str(folder),
        model=tiny,
        alphas=(0.5, 1.0),
        iterations=4,
        chunk=2,
        batch=8,
        eval_samples=20,
        track_samples=20,
        classifier_steps=20,
    )
    results = mnist_split.run(config, out_dir=tmp_path / "run", progress=False)
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["dataset"].startswith("MNIST") and len(m["runs"]) == 4 and m["iterations"] == 4
    tracked = np.asarray(m["history"][-1]["class_fractions"])  # a = 0.5, 1, baseline
    assert tracked.shape == (3, 2, 10) and np.allclose(tracked.sum(axis=2), 1.0)
    assert results.evaluation.pictures.shape[-2:] == (28, 28)


def test_notebook_runs_at_a_small_size() -> None:
    # smoke size and the smoke run's α values: the compiled sweep program is shared
    ns = run_notebook(
        ROOT / "notebooks" / "02_digits_exchange.ipynb",
        {"SMALL": True, "ALPHAS": SMOKE.alphas, "ITERATIONS": SMOKE.chunk},
    )
    assert ns["results"].evaluation.class_fractions.shape == (3, 2, 10)

"""IV-C: player B (a conditional VAE of masks given class), the data sender, and the polymnist
experiment.

Oracles: numpy's class-conditional means of the binarised digits (B must approach them), the rows
a data sender holds, a hand computation of the per-style accuracies and of the paper's ordering,
and the run against its resumed self.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gtgen.cli import main
from gtgen.data import load_digits
from gtgen.exchange import RoundSpec, make_train
from gtgen.experiments import polymnist
from gtgen.experiments.polymnist.experiment import Entry, Results, Trained
from gtgen.experiments.polymnist.report import ordering, results_json
from gtgen.players.base import binary, categorical
from gtgen.players.neural.masks import MaskConfig, mask_player
from gtgen.players.sender import data_sender, sender_state

# --- player B and the data sender --------------------------------------------------------------


def class_means(c: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.stack([s[c == k].mean(axis=0) for k in range(10)])


def test_player_b_learns_the_class_conditional_mask_means():
    """Ancestral samples of B (c, z ~ p(z | c), s ~ p(s | c, z)) after symmetric learning on the
    binarised digits: their per-class pixel means approach numpy's per-class means of the data,
    from far away at initialisation."""
    ds = load_digits(binarize=True)
    player = mask_player(MaskConfig(z=8, hidden=(64,), lr=3e-3, alternations=0, threshold=False))
    spec = RoundSpec(1, routing="sampled", composition="weighted", own_batch=64)
    train = jax.jit(make_train(player, 1, spec), static_argnums=5)
    states = jax.vmap(player.init)(jax.random.split(jax.random.key(0), 1))
    data = {"c": jnp.asarray(ds.labels)[None], "s": jnp.asarray(ds.images)[None]}
    sample = jax.jit(lambda k, st: player.sample(k, jax.tree.map(lambda v: v[0], st), 4000))
    before = sample(jax.random.key(2), states)
    states, trace = train(
        jax.random.key(1), states, data, jnp.array([len(ds.labels)]), jnp.ones((1, 1)), 600
    )
    after = sample(jax.random.key(2), states)
    exact = class_means(ds.labels, ds.images)
    err0 = np.abs(class_means(*map(np.asarray, before.values())) - exact).mean()
    err = np.abs(class_means(*map(np.asarray, after.values())) - exact).mean()
    assert err0 > 0.2 and err < 0.04, (err0, err)
    loss_p = np.asarray(trace.metrics[0]["loss_p"])[:, 0]
    assert np.all(np.isfinite(loss_p)) and loss_p[-50:].mean() < 0.75 * loss_p[:50].mean()


def test_player_b_authors_sampler_gives_binary_masks_of_uniform_classes():
    player = mask_player(MaskConfig(z=4, hidden=(16,), alternations=2))
    out = jax.jit(lambda k, st: player.sample(k, st, 2000))(
        jax.random.key(0), player.init(jax.random.key(1))
    )
    s, c = np.asarray(out["s"]), np.asarray(out["c"])
    assert s.shape == (2000, 8, 8) and set(np.unique(s)) <= {0.0, 1.0}
    assert np.all(np.bincount(c, minlength=10) > 150)  # uniform: 200 expected per class


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"z": 0}, "MaskConfig.z"),
        ({"alternations": -1}, "MaskConfig.alternations"),
        ({"lr": 0.0}, "MaskConfig.lr"),
        ({"shape": (8,)}, "MaskConfig.shape"),
    ],
)
def test_player_b_bad_configuration_names_the_field(changes, words):
    with pytest.raises(ValueError, match=words):
        mask_player(MaskConfig(**changes))


def test_data_sender_sends_only_its_rows_and_learns_nothing():
    """A sender with room for 5 rows holding 3: it sends those 3 uniformly, never the padding."""
    variables = (("c", categorical(10)), ("s", binary(2, 2)))
    player = data_sender("pairs", variables, 5)
    rows = {"c": np.array([3, 7, 9]), "s": np.arange(12.0).reshape(3, 2, 2) % 2}
    state = sender_state(player, rows)
    out = player.sample(jax.random.key(0), state, 600)
    pick = {int(c): i for i, c in enumerate(rows["c"])}
    got = [pick[int(c)] for c in np.asarray(out["c"])]  # KeyError for a padding row (class 0)
    np.testing.assert_array_equal(np.asarray(out["s"]), rows["s"][got])
    assert np.all(np.bincount(got, minlength=3) > 150)  # uniform over its rows: 200 expected
    same, _ = player.learn(jax.random.key(1), state, None, None)
    assert same is state
    with pytest.raises(ValueError, match="as many as the other variables"):
        sender_state(player, {"c": rows["c"], "s": rows["s"][:2]})
    with pytest.raises(ValueError, match=r"'c' has shape \(6,\), expected 1 to 5 rows"):
        sender_state(player, {"c": np.zeros(6, int), "s": np.zeros((6, 2, 2))})


def test_a_conditional_may_complete_its_variable_by_the_mean():
    """``Conditional.impute`` replaces the draw (A's ``x_mean``): the completed value is the
    conditional's mean exactly; without it a Gaussian draw (never equal to the mean)."""
    from gtgen.players.base import real
    from gtgen.players.conditionals import Conditional, conditionals_player

    mean = jnp.arange(6.0).reshape(2, 3)

    def apply(params, values):
        return mean + values["b"][:, None], jnp.zeros((2, 3))

    for impute, equal in ((lambda key, out: out[0], True), (None, False)):
        conds = [
            Conditional("x", lambda k: None, apply, impute),
            Conditional("b", lambda k: None, lambda p, v: jnp.zeros(2)),
        ]
        player = conditionals_player("t", (("x", real(3)), ("b", binary())), ("b",), conds)
        values = {"x": jnp.zeros((2, 3)), "b": jnp.array([0.0, 1.0])}
        x = player.draws(player.init(jax.random.key(0)))["x"](jax.random.key(1), values)
        assert np.allclose(x, mean + values["b"][:, None]) == equal


# --- the report ------------------------------------------------------------------------------


def fake_results(hits: dict[str, list[float]]) -> Results:
    """Test labels c = 0, styles d = 0..4 (one image each, 4 images per style): an entry is right
    on the first round(4·p) images of each style."""
    test_d = np.repeat(np.arange(5), 4)
    test_c = np.zeros(20, np.int64)
    entries, labels = [], []
    for setting, per_seed in hits.items():
        for k, p in enumerate(per_seed):
            right = np.tile(np.arange(4) < round(4 * p), 5)
            entries.append(Entry(setting, k))
            labels.append(np.where(right, 0, 1))
    trained = Trained(entries, np.asarray(labels), {}, {}, 10, {})
    return Results(polymnist.Config(seeds=len(per_seed)), test_c, test_d, trained, 1.0)


def test_per_style_accuracy_and_the_ordering_by_hand():
    results = fake_results({"alone": [0.5, 0.5], "real": [1.0, 0.75], "synthetic": [0.75, 0.75]})
    acc = results.accuracy()
    np.testing.assert_allclose(acc["real"][:, -1], [1.0, 0.75])
    np.testing.assert_allclose(acc["alone"][0], [0.5] * 6)
    holds, text = ordering(results)
    assert holds and "appears" in text
    table = results_json(results)["summary"]
    assert table["real"]["mean"] == pytest.approx(0.875) and table["real"]["std"] == 0.125
    flipped = fake_results({"alone": [1.0], "real": [0.5], "synthetic": [0.75]})
    assert ordering(flipped)[0] is False and "does NOT appear" in ordering(flipped)[1]


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--data", "nowhere"], "--data: PolyMNIST at full size needs both"),
        (["--settings", "alone,bogus"], "settings: unknown setting 'bogus'"),
        (["--seeds", "0"], "seeds: must be a positive integer"),
        (["--alpha-self", "1.5"], "alpha_self: must lie in (0, 1)"),
        (["--small", "--data", "x", "--mnist-dir", "y"], "--small"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, words):
    assert main(["experiment", "polymnist", *argv, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_missing_or_malformed_polymnist_folder_exits_2(tmp_path, capsys):
    from PIL import Image

    args = ["experiment", "polymnist", "--mnist-dir", str(tmp_path), "--quiet"]
    assert main([*args, "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "data: PolyMNIST: no folder" in capsys.readouterr().err
    for split in ("train", "test"):
        for k in range(5):
            (tmp_path / "PolyMNIST" / split / f"m{k}").mkdir(parents=True)
            Image.new("L", (28, 28)).save(tmp_path / "PolyMNIST" / split / f"m{k}" / "0.3.png")
    assert main([*args, "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "expected RGB 28×28" in err and len(err.strip().splitlines()) == 1


# --- the run ---------------------------------------------------------------------------------

ARGS = ["experiment", "polymnist", "--small", "--quiet"]


@pytest.mark.slow  # compile-bound: the round of three groups with A's Gibbs sweeps, minutes here
def test_cli_runs_writes_the_table_and_resumes(tmp_path, capsys):
    out = tmp_path / "ivc"
    assert main([*ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "synthetic" in printed
    first = json.loads((out / "results.json").read_text())
    for name in ("accuracy.png", "report.txt", "samples_masks_b.png", "imputed_real.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "generated_synthetic.png").stat().st_size > 0
    runs = first["runs"]
    assert {r["setting"] for r in runs} == set(polymnist.SETTINGS) and len(runs) == 6
    assert all(0.0 <= a <= 1.0 for r in runs for a in r["per_style"].values())
    assert main([*ARGS, "--out", str(out)]) == 0  # everything restored from checkpoints
    again = json.loads((out / "results.json").read_text())
    assert again["resumed_from_chunk"] == {"pretrain-b": 1, "exchange": 2}
    assert again["runs"] == runs
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out), "--seeds", "3"]) == 2  # another run's folder
    assert "holds a run with different seeds" in capsys.readouterr().err


@pytest.mark.slow  # the experiment's programs compile for minutes on this CPU
def test_multimodal_notebook_runs_at_a_small_size():
    from pathlib import Path

    from notebooks import run_notebook

    root = Path(__file__).resolve().parents[1]
    ns = run_notebook(root / "notebooks" / "05_multimodal.ipynb", {"B_STEPS": 400, "SMALL": True})
    assert ns["error"] < 0.1 and set(ns["accuracy"]) == set(polymnist.SETTINGS)

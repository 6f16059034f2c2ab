"""IV-B: the joint label–image player and the fmnist-capacity experiment.

Oracles: the authors' parameter counts and layer sizes (PAPERS.md), flax's own convolutions (for
the patch formulation), set arithmetic on the data slices, a hand computation of the claim, and
the run itself against its resumed self.
"""

from __future__ import annotations

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gtgen.cli import main
from gtgen.experiments import fmnist_capacity as fc
from gtgen.experiments.fmnist_capacity.experiment import Entry, Trained
from gtgen.experiments.fmnist_capacity.report import claim, gains
from gtgen.players.base import Batch
from gtgen.players.neural import FMNIST_CAPACITIES, JointConfig, joint_player
from gtgen.players.neural.conv import MatmulConv
from gtgen.players.neural.joint import networks

# --- the player ------------------------------------------------------------------------------


def test_authors_capacities_have_their_parameter_counts():
    """PAPERS.md: about 2k / 5k / 16k / 52k classifier and 24k / 63k / 136k / 295k image-model
    parameters for the four IV-B capacities."""
    classifier, image = [], []
    for config in FMNIST_CAPACITIES:
        params = jax.eval_shape(joint_player(config).init, jax.random.key(0)).params
        count = {k: sum(v.size for v in jax.tree.leaves(p)) for k, p in params.items()}
        classifier.append(count.pop("classifier"))
        image.append(sum(count.values()))
    np.testing.assert_allclose(classifier, [2e3, 5e3, 16e3, 52e3], rtol=0.05)
    np.testing.assert_allclose(image, [24e3, 63e3, 136e3, 295e3], rtol=0.05)


def test_authors_decoder_and_encoder_sizes():
    config = FMNIST_CAPACITIES[1]
    nets, key = networks(config), jax.random.key(0)
    code = jax.ShapeDtypeStruct((2, 10 + config.z1), jnp.float32)
    x = jax.ShapeDtypeStruct((2, 28, 28), jnp.float32)
    assert jax.eval_shape(lambda c: nets.p_x.apply(nets.p_x.init(key, c), c), code).shape == (
        2,
        28,
        28,
    )
    logits = jax.eval_shape(lambda x: nets.classifier.apply(nets.classifier.init(key, x), x), x)
    assert logits.shape == (2, 10)


# every (kernel, stride) of the models' stacks (hvae, joint: VALID; vae: SAME), both directions
@pytest.mark.parametrize(
    "transpose, k, s, cin, cout, size",
    [
        (True, 3, 2, 6, 4, 2),
        (True, 2, 1, 4, 1, 7),
        (True, 4, 1, 9, 5, 1),
        (True, 3, 1, 3, 2, 4),
        (True, 3, 1, 4, 8, 5),  # stride 1, wide output: im2col of the padded input
        (False, 3, 2, 4, 8, 5),
        (False, 2, 1, 1, 3, 8),
        (False, 4, 1, 3, 2, 4),
        (False, 3, 1, 2, 3, 6),
    ],
)
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_matmul_convolution_equals_flax_outputs_and_gradients(
    transpose, k, s, cin, cout, size, padding
):
    x = jax.random.normal(jax.random.key(1), (3, size, size + 1, cin))
    ref = (nn.ConvTranspose if transpose else nn.Conv)(
        cout, (k, k), strides=(s, s), padding=padding
    )
    params = ref.init(jax.random.key(0), x)
    params = jax.tree.map(lambda a: jax.random.normal(jax.random.key(2), a.shape), params)
    mine = MatmulConv(cout, k, s, transpose, padding)

    def loss(module, p, x):
        return jnp.sum(jnp.sin(module.apply(p, x)))

    np.testing.assert_allclose(mine.apply(params, x), ref.apply(params, x), atol=1e-5)
    g_ref = jax.grad(lambda p, x: loss(ref, p, x), argnums=(0, 1))(params, x)
    g_mine = jax.grad(lambda p, x: loss(mine, p, x), argnums=(0, 1))(params, x)
    for a, b in zip(jax.tree.leaves(g_mine), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.slow  # compiles every conv implementation of both stacks (per-layer equality: default suite)
def test_conv_stacks_have_one_parameter_tree_and_function_under_every_implementation():
    """The authors' 28×28 decoder and encoder (widths 2): "matmul" and "xla" share the parameter
    tree (checkpoints, counts) and the function, also vmapped over players (batched kernels);
    "auto" is "matmul" on a CPU."""
    from gtgen.players.neural.common import ConvStack, conv_implementation
    from gtgen.players.neural.hvae import decoder_layers, encoder_layers

    assert conv_implementation("auto") == ("matmul" if jax.default_backend() == "cpu" else "xla")
    with pytest.raises(ValueError, match="^conv: must be one of"):
        conv_implementation("cudnn")
    for layers, transpose, x in (
        (decoder_layers(2), True, jnp.ones((2, 3, 1, 1, 7))),
        (encoder_layers(2, 5), False, jnp.ones((2, 3, 28, 28, 1))),
    ):
        stacks = [ConvStack(layers, transpose, impl=impl) for impl in ("xla", "matmul")]
        keys = jax.random.split(jax.random.key(0), 2)
        trees = [jax.vmap(m.init)(keys, x) for m in stacks]
        assert jax.tree.structure(trees[0]) == jax.tree.structure(trees[1])
        assert [a.shape for a in jax.tree.leaves(trees[0])] == [
            a.shape for a in jax.tree.leaves(trees[1])
        ]
        outs = [jax.vmap(m.apply)(trees[0], x) for m in stacks]
        np.testing.assert_allclose(outs[1], outs[0], atol=1e-5)


TINY = JointConfig(z0=2, z1=4, width=1, arch="mlp", lr=3e-3)


def test_zero_weight_items_do_not_count_and_symmetric_changes_the_step():
    player = joint_player(TINY)
    rng = np.random.default_rng(0)
    own = Batch(
        {
            "c": jnp.asarray(rng.integers(0, 10, 12), jnp.int32),
            "x": jnp.asarray(rng.random((12, 8, 8)), jnp.float32),
        },
        jnp.full(12, 1 / 12),
    )

    def received(seed):
        r = np.random.default_rng(seed)
        return Batch(
            {
                "c": jnp.asarray(r.integers(0, 10, 6), jnp.int32),
                "x": jnp.asarray(r.random((6, 8, 8)), jnp.float32),
            },
            jnp.zeros(6),
        )

    @jax.jit
    def step(state, synth):
        return player.learn(jax.random.key(3), state, own, synth)

    state = player.init(jax.random.key(0))
    a, _ = step(state, received(1))
    b, _ = step(state, received(2))
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(u, v)  # items of weight 0 leave no trace
    sym, _ = step(state._replace(symmetric=jnp.float32(1.0)), received(1))
    assert not all(
        np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(sym.params))
    )
    samples = player.sample(jax.random.key(4), state, 50)
    assert samples["c"].shape == (50,) and samples["x"].shape == (50, 8, 8)
    assert set(np.unique(np.asarray(samples["c"]))) <= set(range(10))


# --- data and claim --------------------------------------------------------------------------


def test_player_slices_are_disjoint_and_class_balanced():
    config = fc.validate(fc.smoke_config())
    split = fc.load_data(config)
    assert len(split.test.labels) == 300 and np.all(np.bincount(split.test.labels) == 30)
    parts = fc.player_data(split, 5, seed=1)
    rows = [{(int(c), x.tobytes()) for c, x in zip(p["c"], p["x"])} for p in parts]
    assert all(np.all(np.bincount(p["c"], minlength=10) == 5) for p in parts)
    assert sum(len(r) for r in rows) == len(set().union(*rows)) == 4 * 50
    test = {x.tobytes() for x in split.test.images}
    assert not any(x.tobytes() in test for p in parts for x in p["x"])


def _results(table: dict) -> fc.Results:
    entries, acc = [], []
    for (method, bs), rows in table.items():
        for s, row in enumerate(rows):
            entries.append(Entry(method, bs, s))
            acc.append(row)
    trained = Trained(entries, np.array(acc), {}, {}, 10, {})
    return fc.Results(fc.smoke_config(sizes=(2, 10)), trained, 1.0)


def test_claim_is_computed_from_the_table():
    base = {
        ("discriminative", 2): [[0.5, 0.6, 0.7, 0.8]] * 2,
        ("symmetric", 2): [[0.55, 0.6, 0.7, 0.8]] * 2,
        ("discriminative", 10): [[0.8, 0.8, 0.9, 0.9]] * 2,
    }
    good = _results(
        {
            **base,
            ("cooperative", 2): [[0.7, 0.7, 0.75, 0.8]] * 2,
            ("cooperative", 10): [[0.82, 0.81, 0.9, 0.9]] * 2,
        }
    )
    g = gains(good)
    np.testing.assert_allclose(g[2], [0.15, 0.1, 0.05, 0.0])
    np.testing.assert_allclose(g[10], [0.02, 0.01, 0.0, 0.0])
    assert claim(good).holds
    bad = _results(
        {
            **base,
            ("cooperative", 2): [[0.5, 0.7, 0.75, 0.8]] * 2,
            ("cooperative", 10): [[0.82, 0.81, 0.9, 0.9]] * 2,
        }
    )
    assert not claim(bad).holds  # player 0 gains nothing at bs = 2


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"methods": ("cooperative", "magic")}, "methods"),
        ({"capacities": (TINY,) * 3}, "capacities"),
        ({"sizes": (2, 2)}, "sizes"),
        ({"sizes": ()}, "sizes"),
        ({"seeds": 0}, "seeds"),
        ({"alpha_self": 1.5}, "alpha_self"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"learning_rate": 0.0}, "learning_rate"),
    ],
)
def test_bad_configurations_name_the_field(changes, field):
    with pytest.raises((ValueError, TypeError), match=rf"^{field}"):
        fc.validate(fc.smoke_config(**changes))


def test_sizes_too_large_for_the_digits_are_refused():
    with pytest.raises(ValueError, match=r"^sizes: bs = 40 needs"):
        fc.load_data(fc.validate(fc.smoke_config(sizes=(2, 40))))


# --- the run ---------------------------------------------------------------------------------

ARGS = [
    "experiment",
    "fmnist-capacity",
    "--small",
    "--sizes",
    "2",
    "--seeds",
    "2",
    "--methods",
    "discriminative,cooperative",
    "--quiet",
]


@pytest.mark.slow  # the IV-B CLI end to end with resume: compile-bound, minutes on a loaded 2-core CPU
def test_cli_runs_writes_the_table_and_resumes(tmp_path, capsys):
    out = tmp_path / "ivb"
    assert main([*ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "cooperative" in printed
    first = json.loads((out / "results.json").read_text())
    for name in ("accuracy.png", "report.txt", "samples_cooperative-bs2.png"):
        assert (out / name).stat().st_size > 0
    runs = first["runs"]
    assert {r["method"] for r in runs} == {"discriminative", "cooperative"}
    assert len(runs) == 4 and all(len(r["accuracy"]) == 4 for r in runs)
    assert all(0.0 <= a <= 1.0 for r in runs for a in r["accuracy"])
    assert all(a > 0.15 for r in runs for a in r["accuracy"])  # better than chance (10%)
    assert main([*ARGS, "--out", str(out)]) == 0  # everything restored from checkpoints
    again = json.loads((out / "results.json").read_text())
    assert all(v == 2 for v in again["resumed_from_chunk"].values())
    assert again["runs"] == runs
    capsys.readouterr()
    assert main([*ARGS, "--out", str(out), "--seeds", "3"]) == 2  # another run's folder
    assert "holds a run with different seeds" in capsys.readouterr().err


def test_heterogeneous_notebook_runs_at_a_small_size():
    from pathlib import Path

    from notebooks import run_notebook

    root = Path(__file__).resolve().parents[1]
    ns = run_notebook(
        root / "notebooks" / "03_heterogeneous_players.ipynb",
        {"ROUNDS": 600, "SAMPLES": 128, "SMALL": True},
    )  # programs of other tests
    assert np.abs(ns["gaussian_means"] - ns["star"][:2]).max() < 0.3
    assert ("cooperative", 2) in ns["table"]


def _fake_fashion(folder, per_class_train: int = 8, per_class_test: int = 2):
    from gtgen.data import save_idx

    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", per_class_train), ("t10k", per_class_test)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        save_idx(
            folder / f"{stem}-images-idx3-ubyte",
            rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8),
        )
        save_idx(folder / f"{stem}-labels-idx1-ubyte", labels)
    return folder


def test_fashion_mnist_files_are_read_at_the_authors_layout(tmp_path):
    folder = _fake_fashion(tmp_path / "fashion")
    config = fc.validate(fc.fmnist_config(str(folder), sizes=(2,)))
    assert config.capacities[0].event_shape == (28, 28) and config.iterations == 200_000
    split = fc.load_data(config)
    assert split.train.images.shape == (80, 28, 28) and split.test.images.shape == (20, 28, 28)
    assert 0.0 <= split.train.images.min() and split.train.images.max() <= 1.0
    parts = fc.player_data(split, 2, seed=0)
    assert all(p["x"].shape == (20, 28, 28) for p in parts)
    with pytest.raises(ValueError, match=r"^sizes: bs = 3 needs 4 × 3 = 12"):
        fc.load_data(fc.validate(fc.fmnist_config(str(folder), sizes=(3,))))
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST"):
        fc.load_data(fc.validate(fc.fmnist_config(str(tmp_path / "nowhere"))))
    with pytest.raises(ValueError, match=r"^capacities: made for 8×8 images"):
        fc.load_data(fc.validate(fc.fmnist_config(str(folder), capacities=fc.Config().capacities)))

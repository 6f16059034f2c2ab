"""The neural benchmark cases at a tiny size; the PyTorch reference when torch is installed."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import pytest

# benchmarks/ is a folder of the source checkout, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import neural_cases
from gtgen.players.neural import VAEConfig, vae_player

# A tiny model, two players, two rounds, compiled without XLA's backend optimisations (most of
# a CPU compile): the figures are timing-meaningless, the machinery is what is tested.
FAST_COMPILE = {"xla_backend_optimization_level": 0}
TINY_VAE = {"latent": 2, "hidden": (8,)}
TINY_N8 = {
    "players": 2,
    "batch": 8,
    "kinds": ("mlp",),
    "rounds": {"mlp": 2},
    "loop_rounds": {"mlp": 1},
    "repeats": 1,
    "matmul_size": 64,
    "vae": TINY_VAE,
    "compiler_options": FAST_COMPILE,
}
TINY_SWEEP = {
    "player": VAEConfig(**TINY_VAE),
    "values": 2,
    "batch": 8,
    "iterations": 2,
    "repeats": 1,
    "small_batch": None,
    "matmul_size": 64,
    "compiler_options": FAST_COMPILE,
}
N8_FIGURES = (
    "round_ms",
    "rounds_per_s",
    "round_gflop",
    "round_gflop_analytic",
    "round_gflop_per_s",
    "fraction_of_matmul_peak",
    "matmul_gflop_per_s",
)
SWEEP_FIGURES = (
    "loop_s",
    "sweep_s",
    "ratio_vs_loop",
    "ratio_vs_loop_end_to_end",
    "round_gflop",
    "ratio_ceiling",
    "matmul_gflop_per_s",
)


def positive(value) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def torch_importable() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_vae_n8_tiny() -> None:
    out = neural_cases.neural_vae_n8(sizes=TINY_N8)
    assert out["name"] == "neural-vae-N8"
    assert out["targets"] == {"ratio_vs_loop": 3, "fraction_of_matmul_peak": 0.5}
    for key in N8_FIGURES:
        assert positive(out[key]), (key, out[key])
    assert out["flops_source"] in ("xla cost analysis", "analytic")
    if torch_importable():
        assert positive(out["ratio_vs_loop"]) and positive(out["loop_round_ms"])
        assert out["loop_threads"] >= 1
    else:
        assert out["ratio_vs_loop"] is None and "torch" in out["note"]


def test_vae_n8_without_torch_reports_null_ratio(monkeypatch) -> None:
    monkeypatch.setattr(neural_cases, "_torch_available", lambda: False)
    out = neural_cases.neural_vae_n8(sizes=TINY_N8)
    assert out["ratio_vs_loop"] is None and "[reference]" in out["note"]
    assert positive(out["fraction_of_matmul_peak"])


def test_sweep_tiny() -> None:
    out = neural_cases.neural_sweep(sizes=TINY_SWEEP)
    assert out["name"] == "neural-sweep" and out["targets"] == {"ratio_vs_loop": 3}
    assert out["alphas"] == [0.1, 1.0]
    for key in SWEEP_FIGURES:
        assert positive(out[key]), (key, out[key])


def test_cases_are_registered() -> None:
    assert neural_cases.CASES == [
        neural_cases.neural_vae_n8,
        neural_cases.neural_sweep,
        neural_cases.neural_paper_mnist,
    ]


@pytest.mark.slow  # compiles the IV-A experiment's program; the reference's equality tests stay in the default suite
def test_paper_mnist_case_runs_the_experiments_program_tiny() -> None:
    """The authors'-configuration case, with a tiny 28×28 conv model in place of paper-mnist:
    the experiment's own program on MNIST-format files, one value of a and two in one program,
    and the PyTorch reference of the same model timed in the same run."""
    from gtgen.players.neural import HVAEConfig

    tiny = HVAEConfig(
        event_shape=(28, 28), z0=4, z1=4, prior_hidden=(8,), arch="conv", hidden=(), width=2
    )
    out = neural_cases.neural_paper_mnist(
        sizes={
            "model": tiny,
            "batch": 8,
            "iterations": 1,
            "repeats": 1,
            "values": 2,
            "images": 40,
            "run_on_cpu": True,
            "all_values": True,
            "reference": True,
            "torch_threads": (1,),
            "compiler_options": FAST_COMPILE,
        }
    )
    assert out["name"] == "neural-paper-mnist" and out["all_values"] == 2
    for key in (
        "one_value_iteration_s",
        "one_value_iterations_per_s",
        "all_values_iterations_per_s",
        "one_value_projected_hours",
        "all_values_projected_hours",
    ):
        assert positive(out[key]), (key, out[key])
    assert out["one_value_projected_hours"] == pytest.approx(
        1e6 * out["one_value_iteration_s"] / 3600
    )
    if torch_importable():
        assert out["torch_threads"] == 1 and positive(out["torch_iteration_s"])
        ratio = out["one_value_iteration_s"] / out["torch_iteration_s"]
        assert out["iteration_time_vs_torch"] == pytest.approx(ratio)
    else:
        assert out["iteration_time_vs_torch"] is None and "[reference]" in out["note"]
    if jax.default_backend() == "cpu":  # --quick on a CPU gets the note, not a run
        assert "note" in neural_cases.neural_paper_mnist(quick=True)


def test_analytic_flops_of_the_default_mlp() -> None:
    # encoder 64·256 + 256·32, decoder 16·256 + 256·64 multiply-adds per item
    enc, dec = 64 * 256 + 256 * 32, 16 * 256 + 256 * 64
    expected = 2 * 256 * (3 * (enc + dec) - 64 * 256 + dec)
    assert neural_cases.analytic_vae_flops(VAEConfig(), 256) == expected


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_torch_reference_has_gtgen_architecture(kind: str) -> None:
    pytest.importorskip("torch")
    from benchmarks.reference import torch_vae

    player = vae_player(VAEConfig(kind=kind))
    params = jax.eval_shape(player.init, jax.random.key(0)).params
    gtgen_shapes = sorted(leaf.size for leaf in jax.tree.leaves(params))
    model = torch_vae.VAE(kind=kind)
    assert sorted(p.numel() for p in model.parameters()) == gtgen_shapes
    assert model.sample(5).shape == (5, 8, 8)


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_torch_reference_one_step_lowers_the_loss(kind: str) -> None:
    pytest.importorskip("torch")
    from benchmarks.reference import torch_vae

    before, after = torch_vae.one_step_losses(kind=kind)
    assert math.isfinite(before) and after < before


def test_torch_reference_round_composition() -> None:
    torch = pytest.importorskip("torch")
    import numpy as np

    from benchmarks.reference import torch_vae

    players = torch_vae.make_players(3, seed=0)
    data = [torch.bernoulli(torch.full((20, 8, 8), 0.3)) for _ in range(3)]
    alpha = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.1, 0.9, 0.0]])
    losses = torch_vae.train(players, data, alpha, batch=16, rounds=2)
    assert len(losses) == 2 and all(len(r) == 3 and all(map(math.isfinite, r)) for r in losses)


@pytest.mark.slow  # compile-bound bench smoke run (its baseline's equality tests stay in the default suite)
def test_hetero_4cap_tiny() -> None:
    from benchmarks import hetero_cases
    from gtgen.experiments.fmnist_capacity.experiment import SMOKE_CAPACITIES

    # 20 rounds of bs 2: the program the IV-B CLI test compiles (one compile between them)
    sizes = {
        "bs": 2,
        "repeats": 1,
        "kinds": ("mlp",),
        "rounds": {"mlp": 20},
        "loop_rounds": {"mlp": 1},
        "capacities": {"mlp": SMOKE_CAPACITIES},
        "largest": False,
    }
    out = hetero_cases.hetero_4cap(sizes=sizes)
    assert out["name"] == "hetero-4cap" and out["pairs_per_player"] == 20
    assert positive(out["round_ms"]) and positive(out["compile_s"])
    if torch_importable():
        assert positive(out["ratio_vs_loop"]) and positive(out["loop_round_ms"])
    else:
        assert out["ratio_vs_loop"] is None and "torch" in out["note"]


@pytest.mark.skipif(not torch_importable(), reason="needs torch (the [reference] extra)")
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_torch_joint_reference_is_the_same_model(arch) -> None:
    """The PyTorch IV-B reference has exactly gtgen's joint player's parameters, network by
    network (same layers, same sizes)."""
    from benchmarks.reference import torch_joint
    from gtgen.players.neural import JointConfig, joint_player

    config = JointConfig(z0=4, z1=8, width=4, arch=arch)
    params = jax.eval_shape(joint_player(config).init, jax.random.key(0)).params
    ours = sum(leaf.size for leaf in jax.tree.leaves(params))
    model = torch_joint.JointModel(config)
    assert sum(p.numel() for p in model.parameters()) == ours


@pytest.mark.skipif(not torch_importable(), reason="needs torch (the [reference] extra)")
def test_torch_hvae_reference_is_gtgens_paper_mnist_model() -> None:
    """benchmarks/reference/torch_hvae.py is gtgen's paper-mnist HVAE: the same parameter count
    network by network (the authors' counts), and with gtgen's parameters copied in, the same
    logits of all four conditionals (float32 sums in another order: 1e-4 on logits of size ~1)."""
    import numpy as np
    import torch

    from benchmarks.reference import torch_hvae
    from gtgen.players.neural import hvae_player
    from gtgen.players.neural.hvae import CONFIGS, networks

    config = CONFIGS["paper-mnist"]
    state = hvae_player(config).init(jax.random.key(3))
    params = {**state.p.params, **state.q.params}
    model = torch_hvae.HVAE()
    for name in ("p_z1", "p_x", "q_z1", "q_z0"):
        ours = sum(leaf.size for leaf in jax.tree.leaves(params[name]))
        assert torch_hvae.parameter_count(getattr(model, name)) == ours, name
    torch_hvae.load_gtgen_params(model, state.p.params, state.q.params)

    rng = np.random.default_rng(0)
    x = (rng.random((3, 28, 28)) < 0.3).astype(np.float32)
    z0 = (rng.random((3, config.z0)) < 0.5).astype(np.float32)
    z1 = (rng.random((3, config.z1)) < 0.5).astype(np.float32)
    nets = networks(config)
    ours = {
        "p_z1": nets.p_z1.apply(params["p_z1"], z0),
        "p_x": nets.p_x.apply(params["p_x"], z0, z1),
        "q_z1": nets.q_z1.apply(params["q_z1"], x),
        "q_z0": nets.q_z0.apply(params["q_z0"], x, z1),
    }
    tx, t0, t1 = (torch.as_tensor(a) for a in (x, z0, z1))
    with torch.no_grad():
        theirs = {
            "p_z1": model.p_z1(t0),
            "p_x": model.p_x(t0, t1),
            "q_z1": model.q_z1(tx),
            "q_z0": model.q_z0(tx, t1),
        }
    for name, logits in ours.items():
        assert logits.shape == tuple(theirs[name].shape), name
        assert float(np.abs(np.asarray(logits)).max()) > 0.01  # not a trivially zero output
        np.testing.assert_allclose(theirs[name].numpy(), logits, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.skipif(not torch_importable(), reason="needs torch (the [reference] extra)")
def test_torch_hvae_iteration_composition() -> None:
    """One IV-A iteration of the reference at a tiny width: finite losses, and with a = 1 no
    synthetic triples travel (each player learns on its own images alone)."""
    import torch

    from benchmarks.reference import torch_hvae

    players = torch_hvae.make_players(2, z0=3, z1=4, prior_hidden=(8,), width=2)
    data = [torch.bernoulli(torch.full((20, 28, 28), 0.3)) for _ in range(2)]
    for a in (0.5, 1.0):
        losses = torch_hvae.iteration(players, data, a, batch=8)
        assert len(losses) == 2 and all(map(math.isfinite, sum(losses, ())))
    with pytest.raises(ValueError, match="two players"):
        torch_hvae.iteration(players[:1], data, 0.5, batch=8)

"""Neural players (VAE, symmetric-learning HVAE) and their vmapped exchange round."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gtgen.data import load_digits, row_weights, stack_players
from gtgen.exchange import RoundSpec, init_states, make_context, make_round, make_train
from gtgen.game import Group
from gtgen.players.base import Batch, real
from gtgen.players.base import binary as gtgen_binary
from gtgen.players.neural import (
    HSample,
    HVAEConfig,
    NeuralPlayer,
    VAEConfig,
    hvae_player,
    vae_player,
)
from gtgen.players.neural.hvae import CONFIGS, networks, objectives

TINY = HVAEConfig(z0=4, z1=8, prior_hidden=(16,), hidden=(16,), lr=1e-3, batch=8)
VAES = {
    "mlp": VAEConfig(latent=4, hidden=(32,)),
    "conv": VAEConfig(kind="conv", latent=4, hidden=(32,), width=4),
}


def leaves_equal(a, b) -> bool:
    return all(jax.tree.leaves(jax.tree.map(lambda u, v: bool(jnp.array_equal(u, v)), a, b)))


BINARY = (np.random.default_rng(0).random((16, 8, 8)) < 0.3).astype(np.float32)


def unstack(tree, i: int):
    return jax.tree.map(lambda leaf: leaf[i], tree)


# --- players --------------------------------------------------------------------------------
# Each player check is one jitted scenario (init, sample, loss, update): one compile per player,
# and calling it twice with the same key checks determinism for free. Random call sites are
# kept few: each costs seconds of XLA compile time on a small CPU.


def vae_scenario(player: NeuralPlayer):
    @jax.jit
    def run(key: jax.Array):
        k_init, k_sample, k_step = jax.random.split(key, 3)
        state = player.init(k_init)
        x, w = {"x": jnp.asarray(BINARY)}, jnp.ones(16)
        new, metrics = player.learn(k_step, state, Batch(x, w), Batch(x, jnp.zeros(16)))
        both = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, new)
        # the same ε before and after the step: a paired comparison
        losses = jax.vmap(lambda st: player.loss(k_step, st, x, w))(both)
        return player.sample(k_sample, state, 5)["x"], metrics, losses

    return run


@pytest.mark.parametrize("kind", sorted(VAES))
def test_vae_shapes_determinism_and_update(kind: str) -> None:
    player = vae_player(VAES[kind])
    assert hash(player.name) and kind in player.name
    assert player.variables == (("x", gtgen_binary(8, 8)),) and player.observed == ("x",)
    run = vae_scenario(player)
    out = run(jax.random.key(0))
    assert leaves_equal(out, run(jax.random.key(0)))
    x, metrics, (before, after) = out
    assert x.shape == (5, 8, 8) and set(np.unique(np.asarray(x))) <= {0.0, 1.0}
    assert jnp.isclose(metrics["loss"], before)
    assert after < before


def test_hvae_shapes_determinism_and_update() -> None:
    """Received triples are observed data: one step lowers p's and q's loss on them."""
    player, obj = hvae_player(TINY), objectives(TINY)
    assert hvae_player("digits-small").name != player.name

    def nlls(state, triples):
        return obj.p_nll(state.p.params, triples).mean(), obj.q_nll(state.q.params, triples).mean()

    @jax.jit
    def run(key: jax.Array):
        k_init, k_sample, k_step = jax.random.split(key, 3)
        state = player.init(k_init)
        triples = player.sample(k_sample, state, 16)  # as if received: codes are observed
        none, ones = jnp.zeros(16), jnp.ones(16)
        own = Batch({"x": triples["x"]}, none)
        new, metrics = player.learn(k_step, state, own, Batch(triples, ones))
        t = HSample(**triples)
        return triples, metrics, nlls(state, t), nlls(new, t)

    out = run(jax.random.key(0))
    assert leaves_equal(out, run(jax.random.key(0)))
    s, metrics, (p0, q0), (p1, q1) = out
    assert set(s) == {"x", "z0", "z1"}
    assert (s["x"].shape, s["z0"].shape, s["z1"].shape) == ((16, 8, 8), (16, 4), (16, 8))
    assert set(np.unique(np.asarray(s["z1"]))) <= {0.0, 1.0}
    assert jnp.isclose(metrics["loss_p"], p0) and jnp.isclose(metrics["loss_q"], q0)
    assert p1 < p0 and q1 < q0


def test_paper_mnist_shapes() -> None:
    """The authors' IV-A stacks, by shapes only (nothing is trained or even computed)."""
    config = CONFIGS["paper-mnist"]
    assert (config.z0, config.z1, config.lr, config.batch) == (30, 100, 1e-4, 1000)
    nets, key, n = networks(config), jax.random.key(0), 2
    x = jax.ShapeDtypeStruct((n, 28, 28), jnp.float32)
    z0 = jax.ShapeDtypeStruct((n, 30), jnp.float32)
    z1 = jax.ShapeDtypeStruct((n, 100), jnp.float32)

    def spatial(module, *args) -> list[int]:
        variables = jax.eval_shape(module.init, key, *args)
        _, inter = jax.eval_shape(
            lambda v, *a: module.apply(v, *a, capture_intermediates=True), variables, *args
        )
        convs = inter["intermediates"]["ConvStack_0"]
        names = sorted((k for k in convs if k.startswith("Conv")), key=lambda k: int(k[-1]))
        return [convs[k]["__call__"][0].shape[1] for k in names]

    assert spatial(nets.p_x, z0, z1) == [4, 9, 11, 13, 27, 28]
    assert spatial(nets.q_z1, x) == [27, 13, 11, 9, 4, 1]
    assert spatial(nets.q_z0, x, z1) == [27, 13, 11, 9, 4, 1]

    p_z1 = jax.eval_shape(nets.p_z1.init, key, z0)["params"]
    assert p_z1["Dense_0"]["kernel"].shape == (30, 600)
    assert p_z1["Dense_1"]["kernel"].shape == (600, 600)
    assert p_z1["Dense_2"]["kernel"].shape == (600, 100)
    assert p_z1["Dense_3"]["kernel"].shape == (30, 100) and "bias" not in p_z1["Dense_3"]
    q_z0 = jax.eval_shape(nets.q_z0.init, key, x, z1)["params"]["ConvStack_0"]
    z1_maps = [v for k, v in q_z0.items() if k.startswith("Dense")]
    assert len(z1_maps) == 5 and all(set(m) == {"kernel"} for m in z1_maps)

    player = hvae_player("paper-mnist")
    state = jax.eval_shape(player.init, key)
    s = jax.eval_shape(lambda k, st: player.sample(k, st, 1000), key, state)
    assert (s["x"].shape, s["z0"].shape, s["z1"].shape) == ((1000, 28, 28), (1000, 30), (1000, 100))
    w = jax.ShapeDtypeStruct((1000,), jnp.float32)
    new, _ = jax.eval_shape(player.learn, key, state, Batch({"x": s["x"]}, w), Batch(s, w))
    assert jax.tree.structure(new) == jax.tree.structure(state)


# --- the round ------------------------------------------------------------------------------


class Probe(NamedTuple):
    """A player whose state is its id: samples carry the sender's id, the update reports what it got."""

    name: str = "probe"
    variables: tuple = (("x", real(1)),)
    observed: tuple = ("x",)
    config: None = None
    reads = "items"

    @staticmethod
    def init(key: jax.Array) -> jax.Array:
        return jnp.zeros(())

    @staticmethod
    def sample(key: jax.Array, state: jax.Array, n: int) -> dict:
        return {"x": jnp.full((n, 1), state)}

    @staticmethod
    def loss(key, state, items, weights) -> jax.Array:
        return jnp.zeros(())

    @staticmethod
    def learn(key, state, own, synth, shared_slots=False):
        used_o, used_s = own.weights > 0, synth.weights > 0
        x_own, x_syn = own.items["x"][:, 0], synth.items["x"][:, 0]
        metrics = {
            "own": used_o.sum(),
            "synth": used_s.sum(),
            "overlap": (used_o & used_s).sum(),
            "own_is_mine": jnp.all(jnp.where(used_o, x_own == 100 + state, True)),
            "from": jnp.stack([(used_s & (x_syn == j)).sum() for j in range(3)]),
        }
        return state, metrics


def probe_data(n_players: int = 3, rows: int = 4):
    data = 100.0 + jnp.arange(n_players, dtype=jnp.float32)[:, None, None] * jnp.ones((1, rows, 1))
    return jnp.arange(n_players, dtype=jnp.float32), data, jnp.full((n_players,), rows)


def test_routing_realises_batch_shares() -> None:
    alpha = jnp.array([[0.3, 0.6, 0.1], [0.35, 0.3, 0.35], [0.5, 0.2, 0.3]])
    states, data, counts = probe_data()
    train = jax.jit(make_train(Probe(), 3, RoundSpec(10, routing="sampled")), static_argnums=5)
    _, trace = train(jax.random.key(0), states, data, counts, alpha, 400)
    m = trace.metrics[0]
    assert jnp.all(m["own"] == 3) and jnp.all(m["synth"] == 7)
    assert jnp.all(m["overlap"] == 0) and jnp.all(m["own_is_mine"])
    np.testing.assert_allclose(trace.own_weight[0], 0.3, atol=1e-6)
    np.testing.assert_allclose(trace.synthetic_weight[0], 0.7, atol=1e-6)
    got = m["from"].sum(axis=0) / m["from"].sum(axis=(0, 2))[:, None]  # [receiver, sender]
    assert jnp.all(jnp.diagonal(got) == 0)  # never one's own samples
    expected = np.array([[0, 6 / 7, 1 / 7], [0.5, 0, 0.5], [5 / 7, 2 / 7, 0]])
    np.testing.assert_allclose(got, expected, atol=0.03)


def test_weighted_composition_uses_full_batches() -> None:
    alpha = jnp.array([[0.3, 0.7], [1.0, 0.0]])
    states, data, counts = probe_data(2)
    groups = (Group(Probe(), (0, 1)),)
    spec = RoundSpec(10, routing="sampled", composition="weighted")
    context = make_context(groups, alpha, ({"x": data},), (row_weights(counts, 4),), spec)
    _, info = jax.jit(make_round(groups, spec))(jax.random.key(0), (states,), context)
    assert jnp.all(info.metrics[0]["own"] == jnp.array([10, 0]))
    assert jnp.all(info.metrics[0]["synth"] == 10)
    np.testing.assert_allclose(info.own_weight[0], [0.3, 0.0], atol=1e-6)
    np.testing.assert_allclose(info.synthetic_weight[0], [0.7, 1.0], atol=1e-6)


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="composition"):
        make_round((Group(Probe(), (0, 1)),), RoundSpec(4, composition="mixed"))
    with pytest.raises(ValueError, match="unknown HVAE configuration"):
        hvae_player("paper-cifar")
    with pytest.raises(ValueError, match="28×28"):
        hvae_player(HVAEConfig(arch="conv"))


@pytest.fixture(scope="module")
def digits() -> tuple[jax.Array, jax.Array]:
    """Binarised 8×8 digits split 0–4 / 5–9, padded into ``[2, n_max, 8, 8]`` + counts."""
    ds = load_digits()
    padded, counts = stack_players([ds.images[ds.labels < 5], ds.images[ds.labels >= 5]])
    return jnp.asarray(padded), jnp.asarray(counts)


DIGITS_PLAYER = hvae_player("digits-small")
CHUNK = 5  # rounds per call of the compiled train function; both tests below share it


@pytest.fixture(scope="module")
def digits_train():
    """One compiled ``train`` for two digits-small players (compiled once, used by two tests)."""
    spec = RoundSpec(32, routing="sampled", flip_prob=0.001)
    return jax.jit(make_train(DIGITS_PLAYER, 2, spec), static_argnames="rounds")


@pytest.fixture(scope="module")
def init_pair():
    groups = (Group(DIGITS_PLAYER, (0, 1)),)
    return jax.jit(lambda k: init_states(groups, k, (None,))[0])


def test_alpha_is_traced_and_sweep_matches_single_runs(digits, digits_train, init_pair) -> None:
    data, counts = digits
    alphas = jnp.array([[[0.3, 0.7], [0.7, 0.3]], [[0.8, 0.2], [0.2, 0.8]]])
    keys = jax.random.split(jax.random.key(0), 2)
    states = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[init_pair(k) for k in keys])
    single = [
        digits_train(keys[s], unstack(states, s), data, counts, alphas[s], CHUNK) for s in range(2)
    ]
    assert digits_train._cache_size() == 1  # two α values, one compiled program
    again = digits_train(keys[0], unstack(states, 0), data, counts, alphas[0], CHUNK)
    assert leaves_equal(again, single[0])  # same key, same result

    def one(key, st, alpha):
        return digits_train(key, st, data, counts, alpha, rounds=CHUNK)

    swept = jax.jit(jax.vmap(one))(keys, states, alphas)
    for s in range(2):
        for u, v in zip(jax.tree.leaves(unstack(swept, s)), jax.tree.leaves(single[s])):
            np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)


def test_short_training_on_digits_reduces_loss(digits, digits_train, init_pair) -> None:
    data, counts = digits
    alpha = jnp.array([[0.7, 0.3], [0.3, 0.7]])
    states = trained = init_pair(jax.random.key(0))
    traces = []
    for key in jax.random.split(jax.random.key(1), 30):  # 150 rounds, no recompilation
        trained, trace = digits_train(key, trained, data, counts, alpha, CHUNK)
        traces.append(trace.metrics[0])
    assert digits_train._cache_size() == 1
    loss_p = jnp.concatenate([m["loss_p"] for m in traces])
    assert loss_p.shape == (150, 2) and jnp.all(jnp.isfinite(loss_p))
    assert loss_p[-10:].mean() < loss_p[:10].mean()

    x, w = data[:, :200], jnp.ones((2, 200))
    held = jax.jit(
        jax.vmap(lambda st, x, w: DIGITS_PLAYER.loss(jax.random.key(2), st, {"x": x}, w))
    )
    before, after = held(states, x, w), held(trained, x, w)
    print("held-out negative ELBO before / after:", before, after)
    assert jnp.all(after < 0.8 * before)

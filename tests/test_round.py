"""The one exchange round for every kind of player: mixed games, α-shares, variables, errors.

Oracles: α itself (the shares of items each receiver gets, counted by probes whose samples carry
their sender's id), the closed form of the equilibrium *means* (the mean of a mixture is the
mixture of means, so any players that fit their training mixture's mean follow
μ* = (I − B)⁻¹ D m in the means, Gaussians and VAEs alike), and the players' declarations.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gtgen
from gtgen.exchange import RoundSpec, init_states, make_context, make_play
from gtgen.players.base import real
from gtgen.players.neural import HVAEConfig, VAEConfig, hvae_player, vae_player
from gtgen.solvers.solve import compiled


class Probe(NamedTuple):
    """An item reader whose samples all equal ``ident``; ``learn`` counts what it received."""

    ident: float
    name: str = "probe"
    variables: tuple = (("x", real(1)),)
    observed: tuple = ("x",)
    reads = "items"

    def init(self, key):
        return jnp.float32(self.ident)

    def sample(self, key, state, n):
        return {"x": jnp.full((n, 1), state)}

    def loss(self, key, state, items, weights):
        return jnp.zeros(())

    def learn(self, key, state, own, synth, shared_slots=False):
        used = synth.weights > 0
        x = synth.items["x"][:, 0]
        senders = jnp.array([0.0, 1.0, 10.0, 20.0])
        got = jnp.stack([(used & (jnp.abs(x - s) < 0.05)).sum() for s in senders])
        mine = jnp.all(jnp.where(own.weights > 0, own.items["x"][:, 0] == self.ident, True))
        return state, {"from": got, "own": (own.weights > 0).sum(), "own_is_mine": mine}


ALPHA = np.array(
    [
        [0.4, 0.2, 0.3, 0.1],
        [0.1, 0.5, 0.2, 0.2],
        [0.25, 0.25, 0.2, 0.3],
        [0.1, 0.6, 0.1, 0.2],
    ]
)
IDS = np.array([0.0, 1.0, 10.0, 20.0])  # what each player's samples are


def probe_game() -> gtgen.Game:
    """Two Gaussians with constant data 0 and 1 (their samples sit within 1e-3 of it) and two
    probe groups of one player each."""
    players = [gtgen.expfam.gaussian(1)] * 2 + [Probe(10.0, "probe-a"), Probe(20.0, "probe-b")]
    data = [np.full((5, 1), v) for v in IDS]
    return gtgen.Game(players, ALPHA, data)


@pytest.mark.parametrize("routing", ["sampled", "expected"])
def test_every_group_gets_its_alpha_shares(routing):
    game = probe_game()
    m, rounds = 200, 50
    spec = RoundSpec(m, routing=routing)
    play = make_play(game.groups, spec)

    @jax.jit
    def run(key, alpha):
        context = make_context(game.groups, alpha, game.data, game.weights, spec)
        states = init_states(game.groups, jax.random.key(1), context.own)
        first, _ = play(key, states, context, 1)
        # λ = 0: the Gaussians keep their fit, so their samples keep telling who sent them
        _, trace = play(key, states, context._replace(damping=jnp.float32(0.0)), rounds)
        return first, trace

    first, trace = run(jax.random.key(0), jnp.asarray(ALPHA, jnp.float32))
    # the item readers (players 2 and 3): shares of senders among received items
    for g, player in ((1, 2), (2, 3)):
        got = np.asarray(trace.metrics[g]["from"]).sum(axis=(0, 1)).astype(float)
        if routing == "sampled":  # m slots per round, sources from the off-diagonal row
            off = ALPHA[player] * (np.arange(4) != player)
            np.testing.assert_allclose(got / got.sum(), off / off.sum(), atol=0.02)
            own = np.asarray(trace.metrics[g]["own"])
            assert np.all(own == round(m * ALPHA[player, player]))  # batch shares
        else:  # every other sender's whole pool
            assert np.all(got == rounds * m * (np.arange(4) != player))
        assert np.all(np.asarray(trace.metrics[g]["own_is_mine"]))
        np.testing.assert_allclose(trace.own_weight[g], ALPHA[player, player], atol=1e-6)
    # the statistics readers (players 0 and 1): one damped (λ = 1) best response of the means
    mean = np.asarray(first[0])[:, 0]
    expected = ALPHA[:2] @ IDS
    se = np.zeros(2)
    if routing == "sampled":  # (1 − a) × the mean of m items from the off-diagonal mixture
        for i in range(2):
            p = ALPHA[i] * (np.arange(4) != i) / (1 - ALPHA[i, i])
            var = p @ IDS**2 - (p @ IDS) ** 2
            se[i] = (1 - ALPHA[i, i]) * np.sqrt(var / m)
    np.testing.assert_allclose(mean, expected, atol=5 * se.max() + 5e-3)


def mixed_game(dim: int = 2, seed: int = 0):
    """Two diagonal Gaussians and two Gaussian VAEs on 2-D data with distinct centres."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    data = [rng.normal(c, 0.5, size=(300, dim)) for c in centres]
    vae = vae_player(
        VAEConfig(event_shape=(dim,), likelihood="gaussian", latent=2, hidden=(32,), lr=3e-3)
    )
    players = [gtgen.expfam.gaussian(dim)] * 2 + [vae] * 2
    alpha = np.full((4, 4), 0.5 / 3)
    np.fill_diagonal(alpha, 0.5)
    return gtgen.Game(players, alpha, data), data, alpha


def test_gaussians_and_vaes_play_one_compiled_round_to_the_equilibrium_means():
    game, data, alpha = mixed_game()
    options = {"method": "sampled", "routing": "sampled", "rounds": 600, "samples": 128}
    sol = gtgen.solve(game, jax.random.key(0), **options)
    run = compiled(game.groups, "sampled", "sampled", 600, 128, 5)[0]
    assert run._cache_size() == 1
    other = alpha[::-1].copy()  # a new α: traced, no new program
    gtgen.solve(gtgen.Game(game.players, other, data), jax.random.key(1), **options)
    assert run._cache_size() == 1
    means = np.stack([x.mean(axis=0) for x in data])
    star = gtgen.nash_equilibrium(alpha, means)  # the equilibrium's means, any players
    gauss = np.asarray(sol.params[0])[:, :2]  # the two Gaussians' averaged means
    np.testing.assert_allclose(gauss, star[:2], atol=0.1)  # alone they would be 1.7 off
    vae_group = sol.params[1]
    samples = jax.vmap(lambda k, s: game.groups[1].player.sample(k, s, 4000)["x"])(
        jax.random.split(jax.random.key(2), 2), vae_group
    )
    np.testing.assert_allclose(np.asarray(samples).mean(axis=1), star[2:], atol=0.25)


def test_players_of_different_capacity_compile_once():
    rng = np.random.default_rng(1)
    data = [(rng.random((40, 8, 8)) < 0.3).astype(np.float32) for _ in range(4)]
    players = [vae_player(VAEConfig(latent=2, hidden=(h,))) for h in (8, 12, 16, 24)]
    game = gtgen.Game(players, np.full((4, 4), 0.25), data)
    assert len(game.groups) == 4
    sol = gtgen.solve(game, jax.random.key(0), routing="sampled", rounds=5, samples=16)
    gtgen.solve(
        gtgen.Game(players, np.eye(4), data),
        jax.random.key(0),
        routing="sampled",
        rounds=5,
        samples=16,
    )
    assert compiled(game.groups, "sampled", "sampled", 5, 16, 5)[0]._cache_size() == 1
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(sol.params))


def test_a_receiver_gets_only_the_variables_it_models():
    """A VAE learning from an HVAE gets the images, never the codes; the HVAE learning from the
    VAE completes the codes the VAE does not send (``completes``) with its own encoder."""
    seen: dict[str, set] = {}

    def recording(player, tag):
        def learn(key, state, own, synth, shared_slots=False):
            seen[tag] = set(synth.items)
            seen[tag + " present"] = set(synth.present or {})
            return player.learn(key, state, own, synth, shared_slots)

        return player._replace(learn=learn)

    hvae = hvae_player(HVAEConfig(z0=4, z1=8, prior_hidden=(16,), hidden=(16,)))
    vae = vae_player(VAEConfig(latent=2, hidden=(16,)))
    rng = np.random.default_rng(2)
    data = [(rng.random((30, 8, 8)) < 0.3).astype(np.float32) for _ in range(3)]
    game = gtgen.Game(
        [recording(hvae, "hvae"), recording(hvae, "hvae"), recording(vae, "vae")],
        np.full((3, 3), 1 / 3),
        data,
    )
    sol = gtgen.solve(game, jax.random.key(0), routing="sampled", rounds=3, samples=8)
    assert seen["vae"] == {"x"} and seen["vae present"] == set()
    assert seen["hvae"] == {"x", "z0", "z1"} and seen["hvae present"] == {"z0", "z1"}
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(sol.params))


class Pair(NamedTuple):
    """A player of (x, y) that completes nothing."""

    name: str = "pair"
    variables: tuple = (("x", real(1)), ("y", real(1)))
    observed: tuple = ("x", "y")
    reads = "items"


@pytest.mark.parametrize(
    "players, data, field, words",
    [
        (
            [gtgen.expfam.gaussian(2), vae_player(VAEConfig(latent=2, hidden=(8,)))],
            [np.zeros((3, 2)), np.zeros((3, 8, 8))],
            "players[1]",
            "as binary[8, 8]",
        ),
        (
            [Pair(), gtgen.expfam.gaussian(1)],
            [{"x": np.zeros((3, 1)), "y": np.zeros((3, 1))}, np.zeros((3, 1))],
            "players[1]",
            "'y'",
        ),
        (
            [Pair(), Pair()],
            [{"x": np.zeros((3, 1))}, {"x": np.zeros((3, 1))}],
            "data[0]",
            "observes",
        ),
        ([object()], [np.zeros(3)], "players[0]", "gtgen player"),
    ],
    ids=["meaning", "missing-variable", "missing-data", "not-a-player"],
)
def test_inconsistent_games_are_refused(players, data, field, words):
    n = len(players)
    with pytest.raises((ValueError, TypeError), match=rf"^{re.escape(field)}.*{re.escape(words)}"):
        gtgen.Game(players, np.full((n, n), 1.0 / n), data)


@pytest.mark.parametrize(
    "options, field",
    [
        ({"composition": "mixed", "routing": "sampled"}, "composition"),
        ({"composition": "shares", "routing": "expected"}, "composition"),
        ({"routing": "meanfield"}, "routing"),
        ({"method": "exact"}, "method"),
        ({"own_batch": 0, "routing": "sampled", "composition": "weighted"}, "own_batch"),
        ({"colour": "red"}, "colour"),
        ({"own_draw": "sorted", "routing": "sampled"}, "own_draw"),
    ],
    ids=[
        "unknown-composition",
        "shares-expected",
        "meanfield-neural",
        "exact-neural",
        "own-batch",
        "unknown-option",
        "own-draw",
    ],
)
def test_bad_round_settings_name_the_field(options, field):
    game, _, _ = mixed_game()
    with pytest.raises((ValueError, TypeError), match=rf"^{field}"):
        gtgen.solve(game, jax.random.key(0), rounds=2, samples=4, **options)


def test_stratified_own_batches_give_every_block_of_rows_its_share():
    """``own_draw="stratified"``: with rows sorted by class, the k slots in use are spread
    systematically over the data, so every class gets ⌊k/5⌋ or ⌈k/5⌉ of them; independent
    draws do not (their counts spread as a multinomial's); every real row can come."""
    from gtgen.exchange.items import own_batch
    from gtgen.players.base import binary

    classes, per_class, width = 5, 7, 40  # 35 real rows sorted by class, then padding
    real_rows = classes * per_class
    data = {"x": jnp.arange(width, dtype=jnp.float32)[:, None]}  # each row holds its index
    weights = jnp.asarray(np.arange(width) < real_rows, jnp.float32)
    variables = {"x": binary(1)}
    draw = jax.jit(
        lambda key, k: own_batch(key, data, weights, variables, 16, strata=k).items["x"][:, 0]
    )
    iid = jax.jit(lambda key: own_batch(key, data, weights, variables, 16).items["x"][:, 0])
    spread, seen = [], set()
    for seed in range(40):
        key = jax.random.key(seed)
        for k in (5, 13, 16):
            rows = np.asarray(draw(key, k))[:k].astype(int)
            seen.update(rows.tolist())
            counts = np.bincount(rows // per_class, minlength=classes)
            assert rows.max() < real_rows and counts.max() - counts.min() <= 1, (k, counts)
            assert set(counts) <= {k // classes, -(-k // classes)}
        counts = np.bincount(np.asarray(iid(key))[:13].astype(int) // per_class, minlength=classes)
        spread.append(counts.max() - counts.min())
    assert np.mean(spread) > 2  # independent draws of 13 from 5 classes spread much wider
    assert seen == set(range(real_rows))

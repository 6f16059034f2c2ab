"""IV-C's player A (five conditionals) learning through the one round on PolyDigits.

Oracles: the labels of the items (A's Gibbs inference must beat chance by far after a short
run), the declarations (A completes s and z, which its data lack), and the marginal's simplex.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gtgen
from gtgen.data import load_polydigits
from gtgen.exchange import RoundSpec, init_states, make_context, make_play
from gtgen.players.gibbs import Gibbs
from gtgen.players.neural.multimodal import MultimodalConfig, classify, multimodal_player


@pytest.mark.slow  # about a minute on the shared 2-core machine (compile-bound)
def test_player_a_learns_through_the_round_and_classifies_by_gibbs():
    data = load_polydigits(0)
    rows = np.random.default_rng(0).permutation(len(data))[:600]
    own = data.take(rows)
    config = MultimodalConfig(z=4, hidden=(64,), lr=3e-3, gibbs=Gibbs(sweeps=2, order="fixed"))
    player = multimodal_player(config)
    assert set(player.completes) >= {"s", "z"} and player.observed == ("c", "d", "x")
    game = gtgen.Game([player], [[1.0]], [{"c": own.c, "d": own.d, "x": own.x}])
    spec = RoundSpec(8, routing="sampled", composition="weighted", own_batch=64)
    play = jax.jit(make_play(game.groups, spec), static_argnums=3)
    context = make_context(game.groups, jnp.ones((1, 1)), game.data, game.weights, spec)
    states = init_states(game.groups, jax.random.key(0), context.own)
    states, trace = play(jax.random.key(1), states, context, 300)
    nll_c = np.asarray(trace.metrics[0]["nll_c"])[:, 0]
    assert np.all(np.isfinite(nll_c)) and nll_c[-20:].mean() < 0.6 * nll_c[:20].mean()
    state = jax.tree.map(lambda v: v[0], states[0])
    test = data.take(np.random.default_rng(1).permutation(len(data))[:400])
    labels, marginal = jax.jit(lambda k, s, x: classify(k, player, s, x, sweeps=5))(
        jax.random.key(2), state, jnp.asarray(test.x)
    )
    np.testing.assert_allclose(np.asarray(marginal).sum(-1), 1.0, rtol=1e-5)
    assert (np.asarray(labels) == test.c).mean() > 0.5  # chance is 0.1


@pytest.mark.parametrize("order", ["fixed", "random"])
def test_every_missing_conditional_learns_on_own_and_on_received_items(order):
    """After the imputation of one step, each variable A lacks is not the chain's last draw on
    some of the items that lack it (so its conditional gets a non-zero weight there, as in the
    authors' code: z fresh on half of each batch, s or x on the other half), and never on items
    that carry it."""
    from gtgen.exchange.imputation import impute
    from gtgen.players.base import Batch

    config = MultimodalConfig(z=4, hidden=(8,), gibbs=Gibbs(sweeps=2, order=order))
    player = multimodal_player(config)
    state = player.init(jax.random.key(0))
    n, (h, w) = 64, config.shape
    key = jax.random.key(1)
    own = Batch(
        {
            "c": jnp.arange(n) % 10,
            "d": jnp.arange(n) % 5,
            "x": jax.random.normal(key, (n, h, w, 3)),
        },
        jnp.ones(n),
    )
    pairs = Batch(
        {"c": jnp.arange(n) % 10, "s": jax.random.bernoulli(key, 0.3, (n, h, w)).astype(float)},
        jnp.ones(n),
    )
    own_c, pairs_c, _ = jax.jit(lambda k: impute(k, player, state, own, pairs))(jax.random.key(2))
    for batch, lacking in ((own_c, ("z", "s")), (pairs_c, ("d", "z", "x"))):
        for v in lacking:
            learns = ~np.asarray(batch.fresh[v])
            assert 0.2 < learns.mean() < 1.0, (v, learns.mean())
        for v in set(batch.fresh) - set(lacking):
            assert not np.asarray(batch.fresh[v]).any(), v

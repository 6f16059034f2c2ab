"""Imputation inside the round: Gibbs sweeps of a conditionals player.

Oracles: enumeration of a small discrete joint p(a, b, e) (its posteriors given what an item
carries), the closed-form moments of a bivariate Gaussian, and the declarations themselves.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gtgen
from gtgen.exchange import RoundSpec, init_states, make_context, make_round
from gtgen.exchange.imputation import impute
from gtgen.players.base import Batch, binary, categorical, real
from gtgen.players.conditionals import Conditional, conditionals_player
from gtgen.players.gibbs import Gibbs

THETA = np.random.default_rng(3).normal(0, 0.7, (3, 2, 2)).astype(np.float32)  # log p(a, b, e)
VARIABLES = (("a", categorical(3)), ("b", binary()), ("e", categorical(2)))


def tabular(gibbs: Gibbs, observed=("b",), lr: float = 1e-3, theta=THETA):
    """p(a, b, e) ∝ exp θ[a, b, e] as its three exact conditionals (each its own copy of θ)."""
    table = jnp.asarray(theta)

    def idx(x):
        return x.astype(jnp.int32)

    conds = [
        Conditional("a", lambda k: table, lambda t, v: t[:, idx(v["b"]), v["e"]].T),
        Conditional("b", lambda k: table, lambda t, v: t[v["a"], 1, v["e"]] - t[v["a"], 0, v["e"]]),
        Conditional("e", lambda k: table, lambda t, v: t[v["a"], idx(v["b"]), :]),
    ]
    return conditionals_player("tabular", VARIABLES, observed, conds, gibbs, lr=lr)


def joint() -> np.ndarray:
    p = np.exp(THETA.astype(np.float64))
    return p / p.sum()


def close(empirical, exact, n, sigmas=5.0):
    """|p̂ − p| within ``sigmas`` binomial standard errors (plus a hair)."""
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(empirical - exact) <= sigmas * se + 1e-3), (empirical, exact)


@pytest.mark.parametrize("order", ["random", "fixed"])
def test_gibbs_marginals_match_enumeration(order):
    """Own items carry b only (a, e imputed); received items carry (a, b) for half of them and b
    for the rest: every completed item follows p(· | what it carried)."""
    n = 20000
    player = tabular(Gibbs(sweeps=12, order=order))
    state = player.init(jax.random.key(0))
    b = (np.arange(n) % 2).astype(np.float32)
    rng = np.random.default_rng(1)
    a_sent = rng.integers(0, 3, n).astype(np.int32)
    sent = np.arange(n) < n // 2
    own = Batch({"b": jnp.asarray(b)}, jnp.ones(n))
    synth = Batch(
        {"a": jnp.asarray(a_sent), "b": jnp.asarray(b)}, jnp.ones(n), {"a": jnp.asarray(sent)}
    )
    own_c, synth_c, _ = jax.jit(lambda k, s, o, y: impute(k, player, s, o, y))(
        jax.random.key(1), state, own, synth
    )
    p = joint()
    a, e = np.asarray(own_c.items["a"]), np.asarray(own_c.items["e"])
    assert np.array_equal(np.asarray(own_c.items["b"]), b)  # observed values are clamped
    for bv in (0, 1):
        rows = b == bv
        exact = p[:, bv, :] / p[:, bv, :].sum()
        emp = np.zeros((3, 2))
        np.add.at(emp, (a[rows], e[rows]), 1.0)
        close(emp / rows.sum(), exact, rows.sum())
    # received: a kept where sent, e ~ p(e | a, b); a imputed where not sent
    a2, e2 = np.asarray(synth_c.items["a"]), np.asarray(synth_c.items["e"])
    assert np.array_equal(a2[sent], a_sent[sent])
    for av in range(3):
        for bv in (0, 1):
            rows = sent & (a_sent == av) & (b == bv)
            exact = p[av, bv, :] / p[av, bv, :].sum()
            close(np.bincount(e2[rows], minlength=2) / rows.sum(), exact, rows.sum())
    rows = ~sent & (b == 1)
    exact = p[:, 1, :].sum(axis=1) / p[:, 1, :].sum()
    close(np.bincount(a2[rows], minlength=3) / rows.sum(), exact, rows.sum())
    # the presence masks travel on: what was imputed is marked absent
    assert not np.asarray(own_c.present["a"]).any()
    assert np.array_equal(np.asarray(synth_c.present["a"]), sent)
    # fresh: the last draw of each chain. Own items (a, e imputed): exactly one of them, and the
    # staggered redraw of the odd items makes both kinds occur; received items that carry a: e
    fa, fe = np.asarray(own_c.fresh["a"]), np.asarray(own_c.fresh["e"])
    assert np.all(fa ^ fe) and 0 < fa.mean() < 1
    assert np.all(np.asarray(synth_c.fresh["e"])[sent])
    assert not np.asarray(synth_c.fresh["a"])[sent].any()


def test_sample_of_gaussian_conditionals_has_the_joint_moments():
    """u, v standard normal with correlation ρ, as the two exact conditionals N(ρ·other, 1 − ρ²):
    Gibbs samples from random starts reproduce mean 0, variance 1 and correlation ρ."""
    rho = 0.8
    log_s = jnp.float32(0.5 * np.log(1 - rho**2))

    def cond(var, other):
        return Conditional(
            var,
            lambda k: jnp.float32(rho),
            lambda r, vals: (r * vals[other], jnp.full_like(vals[other], log_s)),
        )

    player = conditionals_player(
        "gauss",
        (("u", real()), ("v", real())),
        ("u",),
        [cond("u", "v"), cond("v", "u")],
        Gibbs(sweeps=30),
    )
    s = player.sample(jax.random.key(2), player.init(jax.random.key(0)), 20000)
    u, v = np.asarray(s["u"]), np.asarray(s["v"])
    assert abs(u.mean()) < 0.05 and abs(v.mean()) < 0.05
    assert abs(u.var() - 1) < 0.06 and abs(np.corrcoef(u, v)[0, 1] - rho) < 0.03


def sender(gibbs: Gibbs):
    """A player of (b, extra): b binary, extra a real pair the receiver does not model."""
    conds = [
        Conditional("b", lambda k: jnp.float32(0.7), lambda t, v: jnp.full(v["b"].shape, t)),
        Conditional(
            "extra",
            lambda k: jnp.zeros(()),
            lambda t, v: (jnp.zeros_like(v["extra"]) + t, jnp.zeros_like(v["extra"])),
        ),
    ]
    return conditionals_player(
        "sender", (("b", binary()), ("extra", real(2))), ("b",), conds, gibbs
    )


def test_round_imputes_drops_what_the_receiver_does_not_model_and_compiles_once():
    traced, seen = [], []
    receiver = tabular(Gibbs(sweeps=1, order="fixed"), lr=0.05)
    learn = receiver.learn

    def spy(key, state, own, synthetic, shared_slots=False):
        traced.append(1)
        seen.append((sorted(own.items), sorted(synthetic.items)))
        return learn(key, state, own, synthetic, shared_slots)

    receiver = receiver._replace(learn=spy)
    other = sender(Gibbs(sweeps=1, order="fixed"))
    b = np.array([0, 1, 1, 0, 1], np.float32)
    game = gtgen.Game([receiver, other], [[0.5, 0.5], [0.5, 0.5]], [b, b])
    spec = RoundSpec(16, routing="sampled")
    round_fn = jax.jit(make_round(game.groups, spec))
    alpha = jnp.asarray(game.alpha, jnp.float32)
    context = make_context(game.groups, alpha, game.data, game.weights, spec)
    states = init_states(game.groups, jax.random.key(0), context.own)
    for t in range(3):
        states, info = round_fn(jax.random.key(t), states, context)
    assert len(traced) == 1  # one compiled round, imputation inside it
    # the receiver got its own variables only, completed: "extra" was dropped on the way
    assert seen[0] == (["a", "b", "e"], ["a", "b", "e"])
    for v in ("a", "b", "e"):  # every conditional learned (on the items where v is not fresh)
        learned = np.asarray(states[0].params[v])[0]
        assert np.all(np.isfinite(learned)) and not np.allclose(learned, THETA)
    assert np.isfinite(float(info.metrics[0]["loss"][0]))


def test_each_conditional_skips_the_items_where_its_variable_is_fresh():
    """nll_a equals −log p(a | b, e) (from θ by numpy) averaged over the non-fresh items only."""
    player = tabular(Gibbs())
    state = player.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    n = 12
    a, e = rng.integers(0, 3, n).astype(np.int32), rng.integers(0, 2, n).astype(np.int32)
    b = rng.integers(0, 2, n).astype(np.float32)
    fresh = rng.random(n) < 0.5
    items = {"a": jnp.asarray(a), "b": jnp.asarray(b), "e": jnp.asarray(e)}
    half = Batch(
        {k: v[:6] for k, v in items.items()}, jnp.ones(6), None, {"a": jnp.asarray(fresh[:6])}
    )
    rest = Batch(
        {k: v[6:] for k, v in items.items()}, jnp.ones(6), None, {"a": jnp.asarray(fresh[6:])}
    )
    _, metrics = jax.jit(player.learn)(jax.random.key(1), state, half, rest)
    logits = THETA[:, b.astype(int), e].T.astype(np.float64)
    nll = -(logits[np.arange(n), a] - np.log(np.exp(logits).sum(1)))
    np.testing.assert_allclose(float(metrics["nll_a"]), nll[~fresh].mean(), rtol=1e-5)
    logits_e = THETA[a, b.astype(int), :].astype(np.float64)
    nll_e = -(logits_e[np.arange(n), e] - np.log(np.exp(logits_e).sum(1)))
    np.testing.assert_allclose(float(metrics["nll_e"]), nll_e.mean(), rtol=1e-5)  # none fresh


def test_persistent_chains_continue_and_check_their_size():
    """Persistent chains start where the last step ended: with one fixed-order sweep (a, then
    e), a is drawn given the chains' e, so a follows p(a | b, e = chain's e) (enumeration)."""
    n = 4000
    player = tabular(Gibbs(sweeps=1, order="fixed", persist=True, slots=2 * n))
    state = player.init(jax.random.key(0))
    b = jnp.asarray((np.arange(n) // 2 % 2).astype(np.float32))
    own, synth = Batch({"b": b}, jnp.ones(n)), Batch({"b": b}, jnp.ones(n))
    step = jax.jit(lambda k, s, o, y: impute(k, player, s, o, y))
    own_c, synth_c, state2 = step(jax.random.key(1), state, own, synth)
    np.testing.assert_array_equal(
        state2.chains["a"], np.concatenate([own_c.items["a"], synth_c.items["a"]])
    )
    ones = state._replace(chains={**state.chains, "e": jnp.ones_like(state.chains["e"])})
    own_c = step(jax.random.key(2), ones, own, synth)[0]
    a = np.asarray(own_c.items["a"])
    p = joint()
    even = np.arange(n) % 2 == 0  # the odd items redraw a once more after e (the stagger)
    for bv in (0, 1):
        rows = even & (np.asarray(b) == bv)
        exact = p[:, bv, 1] / p[:, bv, 1].sum()
        close(np.bincount(a[rows], minlength=3) / rows.sum(), exact, rows.sum())
    with pytest.raises(
        ValueError,
        match=r"gibbs.slots: .* keeps 8000 persistent chains but the "
        r"round hands it 10 own \+ 4000 received",
    ):
        impute(jax.random.key(1), player, state, Batch({"b": b[:10]}, jnp.ones(10)), synth)


def test_inconsistent_declarations_are_refused_with_one_message():
    receiver = tabular(Gibbs())
    wrong = conditionals_player(
        "wrong",
        (("b", categorical(2)),),
        ("b",),
        [
            Conditional(
                "b", lambda k: jnp.zeros(2), lambda t, v: jnp.broadcast_to(t, (len(v["b"]), 2))
            )
        ],
    )
    b = np.array([0, 1], np.float32)
    with pytest.raises(
        ValueError,
        match=r"players\[1\]: conditionals\(wrong.* models 'b' as "
        r"categorical\(2\) but conditionals\(tabular.* has it as "
        r"binary\[\]; players must agree",
    ):
        gtgen.Game([receiver, wrong], [[0.5, 0.5], [0.5, 0.5]], [b, b.astype(np.int32)])
    table = jnp.zeros((3, 2, 2))
    a = Conditional("a", lambda k: table, lambda t, v: t[:, 0, 0])
    with pytest.raises(ValueError, match="no conditional for 'b'"):
        conditionals_player("x", VARIABLES, ("b",), [a])
    with pytest.raises(ValueError, match="a conditional for 'q', which is not one of"):
        conditionals_player("x", VARIABLES[:1], ("a",), [a, a._replace(variable="q")])
    with pytest.raises(ValueError, match="two conditionals for one variable"):
        conditionals_player("x", VARIABLES[:1], ("a",), [a, a])
    with pytest.raises(ValueError, match="observes \\['z'\\]"):
        conditionals_player("x", VARIABLES[:1], ("z",), [a])
    with pytest.raises(ValueError, match="gibbs.order: must be one of random, fixed"):
        conditionals_player("x", VARIABLES[:1], ("a",), [a], Gibbs(order="backwards"))
    with pytest.raises(ValueError, match="gibbs.sweeps: must be a positive integer"):
        conditionals_player("x", VARIABLES[:1], ("a",), [a], Gibbs(sweeps=0))
    with pytest.raises(ValueError, match="gibbs.slots: persistent chains need"):
        conditionals_player("x", VARIABLES[:1], ("a",), [a], Gibbs(persist=True))
    with pytest.raises(ValueError, match="learn: the items lack 'e'"):
        receiver.learn(
            jax.random.key(0),
            receiver.init(jax.random.key(0)),
            Batch({"a": jnp.zeros(2, jnp.int32), "b": jnp.zeros(2)}, jnp.ones(2)),
            Batch({"a": jnp.zeros(2, jnp.int32), "b": jnp.zeros(2)}, jnp.ones(2)),
        )


def test_stagger_choice_is_uniform_among_each_items_missing_variables_that_are_not_fresh():
    """Per item the staggered redraw visits one of *its* missing, non-fresh variables, each
    equally often (binomial bounds), and none where there is no such variable."""
    from gtgen.players.gibbs import stagger_choice

    n = 30_000
    kind = (
        np.arange(n) % 3
    )  # 0: own (z, s missing, s fresh); 1: received (d, z, x, x fresh); 2: none
    missing = {
        "d": jnp.asarray(kind == 1),
        "z": jnp.asarray(kind < 2),
        "s": jnp.asarray(kind == 0),
        "x": jnp.asarray(kind == 1),
    }
    fresh = {"d": jnp.zeros(n, bool), "z": jnp.zeros(n, bool), "s": missing["s"], "x": missing["x"]}
    pick = np.asarray(stagger_choice(jax.random.key(0), missing, fresh))
    assert np.all(pick[kind == 0] == 1)  # z: the only non-fresh missing variable of own items
    assert np.all(pick[kind == 2] == -1)
    rec = pick[kind == 1]
    assert set(np.unique(rec)) == {0, 1}  # d or z, never the fresh x
    close(np.bincount(rec, minlength=2)[:2] / rec.size, np.array([0.5, 0.5]), rec.size)


def test_held_variables_keep_their_uniform_start_and_the_rest_follows_them():
    """Gibbs(hold=("a",)): a missing a stays at its uniform random start (never visited, never
    fresh), and e is drawn from p(e | a, b) given that a (enumeration)."""
    n = 30_000
    player = tabular(Gibbs(sweeps=2, order="fixed", hold=("a",)))
    state = player.init(jax.random.key(0))
    b = jnp.asarray((np.arange(n) % 2).astype(np.float32))
    own, synth = Batch({"b": b}, jnp.ones(n)), Batch({"b": b[:2]}, jnp.ones(2))
    own_c = jax.jit(lambda k: impute(k, player, state, own, synth))(jax.random.key(1))[0]
    a, e = np.asarray(own_c.items["a"]), np.asarray(own_c.items["e"])
    close(np.bincount(a, minlength=3) / n, np.full(3, 1 / 3), n)
    assert "a" not in own_c.fresh and np.asarray(own_c.fresh["e"]).all()
    p = joint()
    for av in range(3):
        for bv in (0, 1):
            rows = (a == av) & (np.asarray(b) == bv)
            exact = p[av, bv, :] / p[av, bv, :].sum()
            close(np.bincount(e[rows], minlength=2) / rows.sum(), exact, rows.sum())
    with pytest.raises(ValueError, match="gibbs.hold: .* models no variable q"):
        impute(jax.random.key(1), tabular(Gibbs(hold=("q",))), state, own, synth)


def test_own_and_received_items_lacking_different_variables_run_as_separate_chains():
    """Own items carry b (a and e imputed), received ones carry a and b everywhere (only e
    imputed: no presence mask, so its chains never visit a): both follow their posteriors
    (enumeration), and a is never fresh on the received items."""
    n = 20000
    player = tabular(Gibbs(sweeps=6, order="fixed"))
    state = player.init(jax.random.key(0))
    b = (np.arange(n) % 2).astype(np.float32)
    a_sent = np.random.default_rng(2).integers(0, 3, n).astype(np.int32)
    own = Batch({"b": jnp.asarray(b)}, jnp.ones(n))
    synth = Batch({"a": jnp.asarray(a_sent), "b": jnp.asarray(b)}, jnp.ones(n))
    own_c, synth_c, _ = jax.jit(lambda k: impute(k, player, state, own, synth))(jax.random.key(1))
    p = joint()
    a, e = np.asarray(own_c.items["a"]), np.asarray(own_c.items["e"])
    for bv in (0, 1):
        rows = b == bv
        emp = np.zeros((3, 2))
        np.add.at(emp, (a[rows], e[rows]), 1.0)
        close(emp / rows.sum(), p[:, bv, :] / p[:, bv, :].sum(), rows.sum())
    assert np.array_equal(np.asarray(synth_c.items["a"]), a_sent)
    e2 = np.asarray(synth_c.items["e"])
    for av in range(3):
        for bv in (0, 1):
            rows = (a_sent == av) & (b == bv)
            exact = p[av, bv, :] / p[av, bv, :].sum()
            close(np.bincount(e2[rows], minlength=2) / rows.sum(), exact, rows.sum())
    assert np.asarray(synth_c.fresh["e"]).all() and not np.asarray(synth_c.fresh["a"]).any()
    fa, fe = np.asarray(own_c.fresh["a"]), np.asarray(own_c.fresh["e"])
    assert np.all(fa ^ fe) and 0 < fa.mean() < 1  # the odd own items redrew a after e


def test_a_pool_nobody_reads_is_never_drawn_and_the_receiver_learns_the_same():
    """A conditionals player and a data sender (which receives nothing): the player's own
    samples reach no one, so the round never draws them (its sample is never traced); with a
    sender that does receive, they are drawn, and the player's step is the same to the bit (its
    items come from the sender alone either way, with the same keys)."""
    from gtgen.game import Group
    from gtgen.players.sender import data_sender, sender_state

    plain = tabular(Gibbs(sweeps=2, order="fixed"))
    traced = []

    def counted(key, state, n):
        traced.append(n)
        return plain.sample(key, state, n)

    receiver = plain._replace(sample=counted)
    rows = {"a": np.array([0, 1, 2, 1], np.int32), "b": np.array([0.0, 1.0, 1.0, 0.0], np.float32)}
    spec = RoundSpec(8, routing="sampled", composition="weighted", own_batch=8)
    alpha = jnp.asarray([[0.5, 0.5], [0.0, 1.0]], jnp.float32)
    own = {"b": jnp.asarray((np.arange(12) % 2).astype(np.float32))[None]}
    out = []
    for receives in (False, True):
        sender = data_sender("ab", (("a", categorical(3)), ("b", binary())), 4)
        sender = sender._replace(receives=receives)
        groups = (Group(receiver, (0,)), Group(sender, (1,)))
        states = init_states(groups, jax.random.key(0), (None, None))
        states = (states[0], jax.tree.map(lambda v: v[None], sender_state(sender, rows)))
        data = (own, {k: jnp.asarray(v)[None, :1] for k, v in rows.items()})
        weights = tuple(jnp.ones((1, next(iter(d.values())).shape[1])) for d in data)
        context = make_context(groups, alpha, data, weights, spec)
        traced.clear()
        new, _ = jax.jit(make_round(groups, spec))(jax.random.key(3), states, context)
        out.append((len(traced), new))
    (drawn_without, skipped), (drawn_with, full) = out
    assert drawn_without == 0 and drawn_with == 1
    for x, y in zip(jax.tree.leaves(skipped), jax.tree.leaves(full)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    moved = jax.tree.leaves(skipped[0].params)[0] - jax.tree.leaves(states[0].params)[0]
    assert float(jnp.abs(moved).max()) > 0  # the receiver did learn

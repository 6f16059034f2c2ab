"""The statistic draw is exact in law: one round drawn at the statistic level against the sample path.

Oracle: the sample path itself (``draw="samples"``: m samples per sender, reduced to each
receiver's statistics), run on the same game and states over thousands of keys. For every family
and routing the two samples of one round's output must agree in means and covariances within
Monte-Carlo error and pass a two-sample Kolmogorov–Smirnov test per coordinate; the same test
must reject laws with the classic mistakes (χ²_m in place of χ²_{m−1}, the mean's variance σ² in
place of σ²/m). Then the long-run behaviour: the Polyak-averaged error on the 1/sqrt(m·T) scale
(closed-form prediction) at m = 10^6, where the sample path could not run, and one compiled
program for every m.

Cost: the programs are compiled at XLA's lowest backend optimisation level (``FAST_COMPILE``:
3-4x less compile time, and compiling is nearly all this file spends; the law of the outputs is
the same at any level), the sample-path oracle of a configuration is drawn once and shared
between the tests that compare against it, and the Bartlett check is one program for every df.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

import gtgen
from gtgen import expfam
from gtgen.exchange import Context, RoundSpec, make_round
from gtgen.exchange.routing import routing_plan
from gtgen.game import Group
from gtgen.players import statistic_laws as laws
from gtgen.solvers.solve import compiled
from gtgen.sweep.runner import compile_count

KEYS = 1500
KS_P = 1e-5  # per coordinate; the outputs are deterministic given the keys (no flaky reruns)
# compile options of this file's own programs: the round's arithmetic is tiny, its compile is not
FAST_COMPILE = {"xla_backend_optimization_level": 0}
ALPHA = np.array([[0.3, 0.5, 0.2], [0.25, 0.35, 0.4], [0.1, 0.6, 0.3]])


def states_of(family: str, rng) -> tuple:
    """Three players' mean parameters of one family, far from each other."""
    if family == "gaussian":
        m, v = rng.normal(0, 2, (3, 2)), rng.uniform(0.3, 2.0, (3, 2))
        return np.concatenate([m, v + m * m], axis=1)
    if family == "gaussian-full":
        out = []
        for _ in range(3):
            m, a = rng.normal(0, 2, 2), rng.normal(size=(2, 2))
            out.append(np.concatenate([m, (a @ a.T + 0.3 * np.eye(2) + np.outer(m, m)).ravel()]))
        return np.stack(out)
    if family == "bernoulli":
        return rng.uniform(0.1, 0.9, (3, 3))
    if family == "categorical":
        return rng.dirichlet(np.ones(4), size=3)
    return rng.uniform(0.5, 6.0, (3, 2))  # poisson


PLAYERS = {
    "gaussian": expfam.gaussian(2),
    "gaussian-full": expfam.gaussian_full(2),
    "bernoulli": expfam.bernoulli(3),
    "categorical": expfam.categorical(4),
    "poisson": expfam.poisson(2),
}


def one_round(groups, states, draw, routing, m, key):
    """One round's output for KEYS keys: [KEYS, N, K] per group. Own moments are 0 and λ = 1, so
    the output is (1 − α_ii)-scaled received statistics alone."""
    spec = RoundSpec(m, routing, draw=draw)
    round_fn = make_round(groups, spec)
    own = tuple(jnp.zeros_like(s) for s in states)
    plan = routing_plan(jnp.asarray(ALPHA, jnp.float32), routing)
    context = Context(plan, own, jnp.float32(1.0), jnp.float32(m))
    run = jax.jit(
        jax.vmap(lambda k: round_fn(k, states, context)[0]), compiler_options=FAST_COMPILE
    )
    return [np.asarray(x, np.float64) for x in run(jax.random.split(key, KEYS))]


@functools.cache
def family_round(family: str, draw: str, routing: str, m: int, seed: int) -> np.ndarray:
    """``one_round`` of three players of ``family`` in ``game_states``, drawn once per setting
    (the sample-path oracle is shared by the tests that compare against it)."""
    groups = (Group(PLAYERS[family], (0, 1, 2)),)
    return one_round(groups, game_states(family), draw, routing, m, jax.random.key(seed))[0]


def ks_pvalues(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sample KS p-value per (player, coordinate) of [keys, N, K] outputs (1 where both are
    constant)."""
    # the discrete families' outputs are lattice values reached by different float32 roundings
    # on the two paths (c/m · B/c against B/m): round off the last ulps before comparing
    a, b = np.round(a, 5), np.round(b, 5)
    p = np.ones(a.shape[1:])
    for i, k in np.ndindex(*a.shape[1:]):
        if np.ptp(a[:, i, k]) > 0 or np.ptp(b[:, i, k]) > 0:
            p[i, k] = sps.ks_2samp(a[:, i, k], b[:, i, k]).pvalue
    return p


def agree(a: np.ndarray, b: np.ndarray) -> None:
    """a, b: [keys, N, K] outputs of two paths: means and each receiver's covariance within
    Monte-Carlo error, and a KS test per coordinate."""
    n = a.shape[0]
    se = np.sqrt((a.var(axis=0) + b.var(axis=0)) / n)
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) <= 5 * se + 1e-6)
    for i in range(a.shape[1]):
        ca, cb = np.cov(a[:, i].T), np.cov(b[:, i].T)
        # sd of a sample covariance entry: sqrt((σ_kk σ_ll + σ_kl²) / n) (Gaussian approximation,
        # generous at 6 sd for the heavier tails of the discrete families)
        var = (
            np.outer(np.diag(ca), np.diag(ca)) + ca**2 + np.outer(np.diag(cb), np.diag(cb)) + cb**2
        ) / n
        assert np.all(np.abs(ca - cb) <= 6 * np.sqrt(var) + 1e-6), (i, ca, cb)
    p = ks_pvalues(a, b)
    assert p.min() > KS_P, p


def game_states(family: str):
    return (jnp.asarray(states_of(family, np.random.default_rng(3)), jnp.float32),)


# meanfield routing pools the same per-sender draws as expected routing (only the mixing
# differs), so it is checked on the two Gaussians, whose laws have the most parts
MATRIX = [(f, r) for f in PLAYERS for r in ("expected", "sampled")] + [
    ("gaussian", "meanfield"),
    ("gaussian-full", "meanfield"),
]


@pytest.mark.parametrize("family, routing", MATRIX)
def test_one_round_has_the_law_of_the_sample_path(family, routing):
    m = 2 if family == "gaussian-full" else 3  # gaussian-full: m − 1 < d, a singular Wishart
    got = family_round(family, "statistics", routing, m, 0)
    want = family_round(family, "samples", routing, m, 1)
    agree(got, want)


@pytest.mark.parametrize("routing", ["expected", "sampled"])
def test_diagonal_and_full_gaussians_draw_through_the_common_form(routing):
    """Players 0, 1 diagonal, player 2 full: every receiver projects the common (x̄, scatter)."""
    diag, full = expfam.gaussian(2), expfam.gaussian_full(2)
    groups = (Group(diag, (0, 1)), Group(full, (2,)))
    rng = np.random.default_rng(5)
    mus = states_of("gaussian-full", rng)
    diag_states = np.concatenate([mus[:2, :2], mus[:2, [2, 5]]], axis=1)  # diagonals of E xxᵀ
    states = (jnp.asarray(diag_states, jnp.float32), jnp.asarray(mus[2:], jnp.float32))
    got = one_round(groups, states, "statistics", routing, 3, jax.random.key(2))
    want = one_round(groups, states, "samples", routing, 3, jax.random.key(3))
    for a, b in zip(got, want):
        agree(a, b)


def _wrong_diag_law(df_offset: float, mean_scale: bool):
    """The diagonal Gaussian's law with a classic mistake: χ²_{n−1+df_offset}, or the sample
    mean's variance σ² instead of σ²/n."""
    d = 2

    def law(key, mu, n):
        m, var = mu[:d], jnp.maximum(mu[d:] - mu[:d] ** 2, 1e-6)
        k1, k2 = jax.random.split(key)
        spread = var if mean_scale else var / n
        xbar = m + jnp.sqrt(spread) * jax.random.normal(k1, (d,))
        scatter = var * laws._chisquare(k2, jnp.full((d,), n - 1.0 + df_offset))
        return jnp.concatenate([xbar, scatter / n + xbar * xbar])

    return law


@pytest.mark.parametrize("mistake", ["chi2_m", "mean_variance"])
def test_the_ks_test_rejects_a_wrong_law(mistake):
    """χ²_m in place of χ²_{m−1} (the second moments' coordinates), or Var x̄ = σ² (the means'):
    the comparison above fails on exactly those coordinates."""
    wrong = PLAYERS["gaussian"]._replace(
        stats_law=_wrong_diag_law(1.0 if mistake == "chi2_m" else 0.0, mistake != "chi2_m")
    )
    states = game_states("gaussian")
    got = one_round(
        (Group(wrong, (0, 1, 2)),), states, "statistics", "expected", 3, jax.random.key(0)
    )[0]
    want = family_round("gaussian", "samples", "expected", 3, 1)
    p = ks_pvalues(got, want)
    wrong_coords = slice(2, 4) if mistake == "chi2_m" else slice(0, 2)
    assert p[:, wrong_coords].min() < KS_P, p
    with pytest.raises(AssertionError):
        agree(got, want)


def test_bartlett_gives_the_wishart_moments():
    """E[A Aᵀ] = df·I and Var of its diagonal 2·df, for df below and above the dimension."""
    keys = jax.random.split(jax.random.key(0), 20_000)
    gram = jax.jit(  # df traced: one program for every df
        jax.vmap(lambda k, df: (lambda a: a @ a.T)(laws.bartlett(k, df, 3)), in_axes=(0, None)),
        compiler_options=FAST_COMPILE,
    )
    for df in (1.0, 2.0, 5.0):
        w = gram(keys, jnp.float32(df))
        w = np.asarray(w, np.float64)
        np.testing.assert_allclose(w.mean(axis=0), df * np.eye(3), atol=0.06 * df + 0.03)
        np.testing.assert_allclose(w[:, [0, 1, 2], [0, 1, 2]].var(axis=0), 2 * df, rtol=0.1)
        assert np.linalg.matrix_rank(w[0], tol=1e-4 * np.abs(w[0]).max()) == min(int(df), 3)


# ----------------------------------------------------------------------------- long runs

N4 = 4
LONG_ROUNDS = 400  # both long-run tests: they share one compiled program
A4 = np.full((N4, N4), 0.6 / 3)
np.fill_diagonal(A4, 0.4)


def long_game():
    rng = np.random.default_rng(7)
    offsets = np.array([[-4.0, 2.0], [-1.0, -3.0], [2.0, 4.0], [5.0, -1.0]])
    data = [rng.normal(size=(40, 2)) * (0.6 + 0.3 * i) + offsets[i] for i in range(N4)]
    own = np.stack([np.concatenate([x.mean(0), (x * x).mean(0)]) for x in data])
    b = A4 - np.diag(np.diag(A4))
    star = np.linalg.solve(np.eye(N4) - b, np.diag(A4)[:, None] * own)
    return gtgen.Game([PLAYERS["gaussian"]] * N4, A4, data), star, b


def test_polyak_error_on_the_one_over_sqrt_mT_scale_at_a_million_samples():
    """Averaged error ē ≈ (I − B)⁻¹ B ε̄ with Var ε̄_j = Var_{p_j*}[T] / (m T) (expected routing):
    at m = 10^6 the error is ~1e-3 of the m = 1 scale, and sits on it (z-scores)."""
    game, star, b = long_game()
    m, rounds = 1_000_000, LONG_ROUNDS
    t = rounds - rounds // 2
    mean, var = star[:, :2], star[:, 2:] - star[:, :2] ** 2
    stat_var = np.concatenate([var, 4 * mean**2 * var + 2 * var**2], axis=1)
    amp = np.linalg.inv(np.eye(N4) - b) @ b
    sd = np.sqrt(amp**2 @ stat_var / (m * t))
    z = []
    for seed in range(6):
        sol = gtgen.solve(game, jax.random.key(seed), rounds=rounds, samples=m)
        assert sol.draw == "statistics"
        z.append((np.asarray(sol.params[0], np.float64) - star) / sd)
    z = np.stack(z)
    assert np.abs(z).max() < 4.5, np.abs(z).max()
    assert 0.3 < np.mean(z**2) < 2.0, np.mean(z**2)


def test_the_sample_count_is_traced_one_program_for_every_m():
    game, _, _ = long_game()
    run, draw = compiled(game.groups, "sampled", "expected", LONG_ROUNDS, 10)
    assert draw == "statistics"
    gtgen.solve(game, jax.random.key(0), rounds=LONG_ROUNDS, samples=10)
    before = compile_count()
    for m in (100, 10_000, 10_000_000):
        sol = gtgen.solve(game, jax.random.key(0), rounds=LONG_ROUNDS, samples=m)
    assert compile_count() == before and run._cache_size() == 1
    assert sol.draw == "statistics"
    samples = gtgen.solve(game, jax.random.key(0), rounds=LONG_ROUNDS, samples=10, draw="samples")
    assert samples.draw == "samples"


def test_draw_settings_are_checked():
    game, _, _ = long_game()
    with pytest.raises(ValueError, match="draw: unknown draw"):
        gtgen.solve(game, jax.random.key(0), draw="moments")
    with pytest.raises(ValueError, match="draw: only the sampled method"):
        gtgen.solve(game, jax.random.key(0), method="exact", draw="statistics")


@pytest.mark.parametrize("fam,common", [("gaussian", False), ("gaussian-full", True)])
def test_many_senders_are_drawn_in_blocks_with_the_same_numbers(monkeypatch, fam, common):
    """Above SENDER_BLOCK senders the draw runs block after block (a remainder block included):
    each sender keeps its own key, so the numbers are those of one vmap over every sender (to
    float32 rounding: the two programs fuse differently; another key would differ by O(1))."""
    from gtgen.exchange import statistics as st

    player = expfam.family(fam, 3)
    data = jax.random.normal(jax.random.key(1), (10, 30, 3)) + jnp.arange(10.0)[:, None, None]
    params = jax.vmap(player.init)(data, jnp.ones((10, 30)))
    key = jax.random.key(2)
    whole = st.draw_group_statistics(player, key, params, 50.0, common)
    monkeypatch.setattr(st, "SENDER_BLOCK", 4)
    blocks = st.draw_group_statistics(player, key, params, 50.0, common)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(blocks)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)

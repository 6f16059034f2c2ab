"""gtgen.sweep's synthetic private data, drawn for all players at once: the same law as the
per-player construction it replaced (one numpy Generator per player, kept here as the oracle),
the prefix property (adding players leaves the others' data unchanged), and numpy's own
categorical rule."""

import numpy as np
import pytest
from scipy import stats

from gtgen.sweep.families import _categorical, synthetic_data

FAMILIES = ("gaussian", "gaussian-full", "bernoulli", "poisson", "categorical")


def _old_player_data(fam, rng, n, d, spread):
    """The per-player construction before the vectorised one (from default_rng([seed, 2, i]))."""
    if fam == "gaussian":
        return spread * rng.standard_normal(d) + rng.standard_normal((n, d))
    if fam == "gaussian-full":
        mix = np.eye(d) + 0.3 * rng.standard_normal((d, d))
        return spread * rng.standard_normal(d) + rng.standard_normal((n, d)) @ mix.T
    if fam == "bernoulli":
        p = 1.0 / (1.0 + np.exp(-spread * rng.standard_normal(d)))
        return (rng.random((n, d)) < p).astype(np.float64)
    if fam == "poisson":
        return rng.poisson(np.exp(0.5 * spread * rng.standard_normal(d)), (n, d)).astype(np.float64)
    logits = spread * rng.standard_normal(d)
    p = np.exp(logits - logits.max())
    return rng.choice(d, size=n, p=p / p.sum()).astype(np.int64)


def _settings(fam, players, seed, size=20, dim=3, spread=2.0):
    return {
        "family": fam,
        "players": players,
        "seed": seed,
        "data_size": size,
        "dim": dim,
        "spread": spread,
    }


def _old(s):
    return np.stack(
        [
            _old_player_data(
                s["family"],
                np.random.default_rng([s["seed"], 2, i]),
                s["data_size"],
                s["dim"],
                s["spread"],
            )
            for i in range(s["players"])
        ]
    )


def _summaries(x, fam):
    """Per-player summaries whose laws a wrong construction would change: the mean, the spread
    within a player and the first coordinates' correlation (mean only for categorical)."""
    x = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    out = [x.mean(axis=1)[:, 0], x.std(axis=1)[:, 0]]
    if fam != "categorical":
        c = x - x.mean(axis=1, keepdims=True)
        out.append(np.mean(c[..., 0] * c[..., 1], axis=1))
    return out


@pytest.mark.parametrize("fam", FAMILIES)
def test_synthetic_data_has_the_law_of_the_per_player_construction(fam):
    """Two-sample KS tests, over 2000 players (100 seeds × 20), of per-player summaries of the
    vectorised data against the old one-Generator-per-player data."""
    new, old = [], []
    for seed in range(100):
        s = _settings(fam, 20, seed)
        new.append(synthetic_data(s))
        old.append(_old(s))
    new, old = np.concatenate(new), np.concatenate(old)
    assert new.shape == old.shape and new.dtype == old.dtype
    for a, b in zip(_summaries(new, fam), _summaries(old, fam)):
        assert stats.ks_2samp(a, b).pvalue > 1e-4
    pooled = stats.ks_2samp(new.ravel(), old.ravel())
    assert pooled.pvalue > 1e-4 or fam in ("bernoulli", "poisson", "categorical")
    if fam in ("bernoulli", "poisson", "categorical"):  # discrete: compare the pooled frequencies
        values = np.union1d(new, old)
        f_new = np.array([np.mean(new == v) for v in values])
        f_old = np.array([np.mean(old == v) for v in values])
        assert np.max(np.abs(f_new - f_old)) < 0.02


def test_gaussian_data_moments_match_the_definition():
    """x = c + ε with c ~ N(0, spread² I), ε ~ N(0, I): the centres' variance is spread² and the
    noise's within a player 1 (a wrong scale of either fails)."""
    x = synthetic_data(_settings("gaussian", 4000, 0, size=50, dim=2, spread=3.0))
    means = x.mean(axis=1)
    assert abs(means.var() - (9.0 + 1.0 / 50)) < 0.5
    assert abs(x.var(axis=1, ddof=1).mean() - 1.0) < 0.02


@pytest.mark.parametrize("fam", FAMILIES)
def test_adding_players_leaves_the_others_data_unchanged(fam):
    few = synthetic_data(_settings(fam, 5, 7))
    more = synthetic_data(_settings(fam, 9, 7))
    np.testing.assert_array_equal(more[:5], few)


def test_categorical_follows_numpys_choice_rule():
    """Given the same uniforms, the inverse CDF gives numpy Generator.choice's classes."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        logits = 2.0 * rng.standard_normal(6)
        p = np.exp(logits - logits.max())
        state = np.random.default_rng(rng.integers(1 << 30))
        u_rng = np.random.Generator(np.random.PCG64())
        u_rng.bit_generator.state = state.bit_generator.state
        want = state.choice(6, size=500, p=p / p.sum())
        got = _categorical(logits[None], u_rng.random((1, 500)))[0]
        np.testing.assert_array_equal(got, want)


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="no synthetic data"):
        synthetic_data(_settings("student", 3, 0))

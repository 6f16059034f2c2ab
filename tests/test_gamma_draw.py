"""gtgen.players.gamma_draw: Marsaglia–Tsang Gamma(a, 1) drawn a whole array at a time, against
scipy's Gamma law (Kolmogorov–Smirnov, moments), for shapes on both sides of the a < 1 boost."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gtgen.players import statistic_laws
from gtgen.players.gamma_draw import gamma

SHAPES = (0.3, 0.5, 0.9, 1.0, 1.5, 7.0, 499.5)
DRAWS = 40_000
_draw = jax.jit(gamma, static_argnums=2)


def _sample(a: float, key: int, proposals: int = 2, draws: int = DRAWS) -> np.ndarray:
    return np.asarray(_draw(jax.random.key(key), jnp.full((draws,), a), proposals), np.float64)


@pytest.mark.parametrize("a", SHAPES)
@pytest.mark.parametrize("proposals", [1, 3])
def test_draws_have_the_gamma_law(a, proposals):
    """KS against scipy's Gamma(a): one candidate per trip (the loop runs many trips) or three
    (it rarely runs): the law is the same."""
    x = _sample(a, key=int(10 * a) + proposals, proposals=proposals)
    assert np.all(x > 0)
    assert stats.kstest(x, stats.gamma(a).cdf).pvalue > 1e-3


@pytest.mark.parametrize("a", [0.5, 7.0])
def test_the_ks_check_has_the_power_to_see_a_two_percent_shape_error(a):
    """The check above is not vacuous: at 10x its draws (the KS distance it can see shrinks as
    1/sqrt(n)), the same draws fail against Gamma(1.02·a)."""
    x = _sample(a, key=7, draws=10 * DRAWS)
    assert stats.kstest(x, stats.gamma(a).cdf).pvalue > 1e-3
    assert stats.kstest(x, stats.gamma(1.02 * a).cdf).pvalue < 1e-6


@pytest.mark.parametrize("a", [0.5, 1.0, 7.0, 499.5])
def test_mean_and_variance_within_monte_carlo_error(a):
    """Over 20 independent keys of 40,000 draws: mean a and variance a (both within 4.5 standard
    errors of the pooled estimate)."""
    x = np.concatenate([_sample(a, key=100 + k) for k in range(20)])
    n = x.size
    assert abs(x.mean() - a) < 4.5 * np.sqrt(a / n)
    # Var of the sample variance of a Gamma: (μ4 − σ⁴)/n, μ4 = 3a² + 6a
    assert abs(x.var() - a) < 4.5 * np.sqrt((3 * a * a + 6 * a - a * a) / n)


def test_traced_shapes_under_vmap_each_have_their_own_law():
    """One program for a vector of shapes (a traced input), vmapped over keys: each column has
    its shape's law."""
    shapes = jnp.array([0.5, 2.0, 30.0])
    keys = jax.random.split(jax.random.key(3), 20_000)
    x = np.asarray(jax.jit(jax.vmap(lambda k: gamma(k, shapes)))(keys), np.float64)
    assert x.shape == (20_000, 3)
    for col, a in zip(x.T, np.asarray(shapes)):
        assert stats.kstest(col, stats.gamma(a).cdf).pvalue > 1e-3
    # the columns are independent draws
    assert abs(np.corrcoef(x.T)[0, 1]) < 4.5 / np.sqrt(20_000)


def test_integer_shapes_draw_float32_and_bad_proposals_are_refused():
    assert gamma(jax.random.key(0), jnp.array([1, 2, 3])).dtype == jnp.float32
    with pytest.raises(ValueError, match="proposals"):
        gamma(jax.random.key(0), jnp.ones(3), proposals=0)


def test_a_shape_that_is_not_finite_and_positive_gives_nan_and_does_not_hang():
    """NaN, ±inf, 0 and negative shapes never accept a proposal: they give NaN at once, and the
    other elements of the same array are drawn as usual."""
    a = jnp.array([jnp.nan, jnp.inf, -jnp.inf, 0.0, -2.0] + [3.0] * DRAWS)
    x = np.asarray(jax.jit(gamma)(jax.random.key(5), a), np.float64)
    assert np.all(np.isnan(x[:5]))
    assert stats.kstest(x[5:], stats.gamma(3.0).cdf).pvalue > 1e-3


def test_the_boost_below_one_never_gives_an_exact_zero():
    """Gamma(a < 1) = Gamma(a + 1)·u^(1/a): a uniform draw is exactly 0 once in 2^23, which would
    put a point mass at 0 (a χ²_1 of exactly 0); the boost uses 1 − u. Found: a key whose boost
    uniforms hold an exact 0 (the second half of the sampler's first split, as gamma_draw draws
    them); at those elements the draw is positive."""
    n = 1 << 22
    for seed in range(40):  # about one key in two has one (n · 2^-23 = 0.5 expected)
        key = jax.random.key(seed)
        raw = np.asarray(jax.random.uniform(jax.random.split(key)[1], (n,)))
        if np.any(raw == 0.0):
            break
    assert np.any(raw == 0.0), "no key of the 40 tried draws an exact-zero boost uniform"
    x = np.asarray(jax.jit(gamma)(key, jnp.full((n,), 0.5)))
    assert np.all(x[raw == 0.0] > 0.0) and np.all(x > 0.0)


def test_chisquare_of_the_statistic_draw_uses_it_and_keeps_df_zero_at_zero():
    """χ²_df = 2·Gamma(df/2): KS against scipy's χ², and χ²_0 = 0 (a pair with one sample)."""
    df = jnp.concatenate([jnp.zeros(4), jnp.full((DRAWS,), 5.0)])
    x = np.asarray(jax.jit(statistic_laws._chisquare)(jax.random.key(11), df), np.float64)
    assert np.all(x[:4] == 0.0)
    assert stats.kstest(x[4:], stats.chi2(5).cdf).pvalue > 1e-3

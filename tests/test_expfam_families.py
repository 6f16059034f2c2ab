"""Exponential-family players against independent oracles (scipy.stats, numpy closed forms).

Every family (diagonal Gaussian, full Gaussian, Bernoulli, categorical, Poisson) is checked for:
log-density vs scipy.stats; natural parameters vs their closed form and the mean(natural(μ))
round trip; ∇A(η) = μ; KL vs closed-form KL; init vs the weighted numpy MLE moments; sample
moments vs μ within a stated statistical tolerance; jit / no-jit agreement (chex variants);
reproducibility of sampling; and the diagonal <-> full Gaussian cross moments.

All oracles are written here in float64 numpy / scipy; the library runs in float32, so
tolerances are a few float32 ulps scaled by the size of the numbers involved.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from gtgen import expfam

FAMILY_NAMES = ("gaussian", "gaussian_full", "bernoulli", "categorical", "poisson")
SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
FAST = settings(max_examples=6, deadline=None, derandomize=True)

# ----------------------------------------------------------------------------- family oracles


class Spec:
    """One family: its player, random valid parameters and numpy / scipy oracles."""

    def __init__(self, name: str, size: int):
        self.name = name
        self.size = size
        self.player = {
            "gaussian": expfam.gaussian,
            "gaussian_full": expfam.gaussian_full,
            "bernoulli": expfam.bernoulli,
            "categorical": expfam.categorical,
            "poisson": expfam.poisson,
        }[name](size)

    # --- random parameters (mean parametrisation, float64) ------------------------------------
    def random_mu(self, rng: np.random.Generator) -> np.ndarray:
        d = self.size
        if self.name == "gaussian":
            m = rng.normal(0.0, 1.5, d)
            v = rng.uniform(0.3, 3.0, d)
            return np.concatenate([m, v + m * m])
        if self.name == "gaussian_full":
            a = rng.normal(size=(d, d))
            cov = a @ a.T / d + 0.5 * np.eye(d)
            m = rng.normal(0.0, 1.5, d)
            return np.concatenate([m, (cov + np.outer(m, m)).ravel()])
        if self.name == "bernoulli":
            return rng.uniform(0.05, 0.95, d)
        if self.name == "categorical":
            return 0.8 * rng.dirichlet(np.ones(d)) + 0.2 / d
        if self.name == "poisson":
            return rng.uniform(0.3, 8.0, d)
        raise AssertionError(self.name)

    def mean_cov(self, mu):
        d = self.size
        m = mu[:d]
        if self.name == "gaussian":
            return m, mu[d:] - m * m
        second = mu[d:].reshape(d, d)
        return m, second - np.outer(m, m)

    # --- points of the sample space -----------------------------------------------------------
    def random_points(self, rng: np.random.Generator, n: int) -> np.ndarray:
        d = self.size
        if self.name in ("gaussian", "gaussian_full"):
            return rng.normal(0.0, 2.0, (n, d))
        if self.name == "bernoulli":
            return rng.integers(0, 2, (n, d)).astype(np.float64)
        if self.name == "categorical":
            return rng.integers(0, d, n)
        if self.name == "poisson":
            return rng.integers(0, 15, (n, d)).astype(np.float64)
        raise AssertionError(self.name)

    def as_input(self, x: np.ndarray) -> jax.Array:
        return jnp.asarray(x, self.player.sample_dtype)

    # --- oracles ------------------------------------------------------------------------------
    def stats_np(self, x: np.ndarray) -> np.ndarray:
        """T(x) for a batch [n, *event] -> [n, K], written independently of the library."""
        d = self.size
        if self.name == "gaussian":
            return np.concatenate([x, x * x], axis=1)
        if self.name == "gaussian_full":
            return np.concatenate([x, np.einsum("ni,nj->nij", x, x).reshape(len(x), d * d)], axis=1)
        if self.name == "categorical":
            return np.eye(d)[np.asarray(x, dtype=int)]
        return np.asarray(x, np.float64)

    def log_prob_np(self, mu: np.ndarray, x: np.ndarray) -> np.ndarray:
        """log p(x) per point by scipy.stats."""
        if self.name == "gaussian":
            m, v = self.mean_cov(mu)
            return stats.norm.logpdf(x, m, np.sqrt(v)).sum(axis=1)
        if self.name == "gaussian_full":
            m, cov = self.mean_cov(mu)
            return np.atleast_1d(stats.multivariate_normal(m, cov).logpdf(x))
        if self.name == "bernoulli":
            return stats.bernoulli.logpmf(x, mu).sum(axis=1)
        if self.name == "categorical":
            onehot = np.eye(self.size)[np.asarray(x, dtype=int)]
            return stats.multinomial.logpmf(onehot, 1, mu)
        if self.name == "poisson":
            return stats.poisson.logpmf(x, mu).sum(axis=1)
        raise AssertionError(self.name)

    def kl_np(self, p: np.ndarray, q: np.ndarray) -> float:
        """Closed-form KL(p ‖ q)."""
        if self.name == "gaussian":
            mp, vp = self.mean_cov(p)
            mq, vq = self.mean_cov(q)
            return float(np.sum(0.5 * (np.log(vq / vp) + (vp + (mp - mq) ** 2) / vq - 1.0)))
        if self.name == "gaussian_full":
            mp, cp = self.mean_cov(p)
            mq, cq = self.mean_cov(q)
            iq = np.linalg.inv(cq)
            dm = mq - mp
            return float(
                0.5
                * (
                    np.trace(iq @ cp)
                    + dm @ iq @ dm
                    - self.size
                    + np.linalg.slogdet(cq)[1]
                    - np.linalg.slogdet(cp)[1]
                )
            )
        if self.name == "bernoulli":
            return float(np.sum(special.rel_entr(p, q) + special.rel_entr(1 - p, 1 - q)))
        if self.name == "categorical":
            return float(np.sum(special.rel_entr(p, q)))
        if self.name == "poisson":
            return float(np.sum(special.rel_entr(p, q) - p + q))
        raise AssertionError(self.name)

    def natural_np(self, mu: np.ndarray) -> np.ndarray:
        if self.name == "gaussian":
            m, v = self.mean_cov(mu)
            return np.concatenate([m / v, -0.5 / v])
        if self.name == "gaussian_full":
            m, cov = self.mean_cov(mu)
            prec = np.linalg.inv(cov)
            return np.concatenate([prec @ m, (-0.5 * prec).ravel()])
        if self.name == "bernoulli":
            return special.logit(mu)
        return np.log(mu)  # categorical (up to a constant) and Poisson

    def scale(self, mu: np.ndarray) -> float:
        return max(1.0, float(np.max(np.abs(mu))))


SPECS = {
    "gaussian": Spec("gaussian", 3),
    "gaussian_full": Spec("gaussian_full", 3),
    "bernoulli": Spec("bernoulli", 4),
    "categorical": Spec("categorical", 5),
    "poisson": Spec("poisson", 3),
}


def f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------- log_prob


@pytest.mark.parametrize("name", FAMILY_NAMES)
@FAST
@given(seed=SEEDS)
def test_log_prob_matches_scipy(name, seed):
    spec = SPECS[name]
    rng = np.random.default_rng(seed)
    mu = spec.random_mu(rng)
    x = spec.random_points(rng, 8)
    got = f64(
        jax.vmap(spec.player.log_prob, in_axes=(None, 0))(
            jnp.asarray(mu, jnp.float32), spec.as_input(x)
        )
    )
    want = spec.log_prob_np(mu, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * spec.scale(mu) ** 2)


# ----------------------------------------------------------------------------- natural / mean


@pytest.mark.parametrize("name", FAMILY_NAMES)
@FAST
@given(seed=SEEDS)
def test_natural_parameters_closed_form_and_round_trip(name, seed):
    spec = SPECS[name]
    mu = spec.random_mu(np.random.default_rng(seed))
    eta = f64(spec.player.natural(jnp.asarray(mu, jnp.float32)))
    want = spec.natural_np(mu)
    if name == "categorical":  # over-complete: η is defined up to an additive constant
        eta, want = eta - eta.mean(), want - want.mean()
    np.testing.assert_allclose(eta, want, rtol=1e-4, atol=1e-4 * max(1.0, np.max(np.abs(want))))
    back = f64(spec.player.mean(spec.player.natural(jnp.asarray(mu, jnp.float32))))
    np.testing.assert_allclose(back, mu, rtol=1e-4, atol=1e-4 * spec.scale(mu))


@pytest.mark.parametrize("name", FAMILY_NAMES)
@FAST
@given(seed=SEEDS)
def test_gradient_of_log_normalizer_is_mean(name, seed):
    """μ = ∇A(η): the defining identity of the mean parametrisation."""
    spec = SPECS[name]
    mu = spec.random_mu(np.random.default_rng(seed))
    eta = jnp.asarray(spec.natural_np(mu), jnp.float32)  # η from the numpy oracle, not the library
    grad = f64(jax.grad(spec.player.log_normalizer)(eta))
    if name == "gaussian_full":  # A is a function of the symmetric part of η₂ only
        d = spec.size
        g2 = grad[d:].reshape(d, d)
        grad = np.concatenate([grad[:d], (0.5 * (g2 + g2.T)).ravel()])
    np.testing.assert_allclose(grad, mu, rtol=2e-4, atol=2e-4 * spec.scale(mu))


# ----------------------------------------------------------------------------- KL and entropy


@pytest.mark.parametrize("name", FAMILY_NAMES)
@FAST
@given(seed=SEEDS)
def test_kl_matches_closed_form(name, seed):
    spec = SPECS[name]
    rng = np.random.default_rng(seed)
    p, q = spec.random_mu(rng), spec.random_mu(rng)
    got = float(spec.player.kl(jnp.asarray(p, jnp.float32), jnp.asarray(q, jnp.float32)))
    want = spec.kl_np(p, q)
    assert want > 0
    assert got == pytest.approx(want, rel=1e-3, abs=1e-5 * spec.scale(p) ** 2)
    self_kl = float(spec.player.kl(jnp.asarray(p, jnp.float32), jnp.asarray(p, jnp.float32)))
    assert abs(self_kl) < 1e-5 * spec.scale(p) ** 2


@pytest.mark.parametrize("name", ["gaussian", "gaussian_full"])
def test_entropy_matches_scipy(name):
    spec = SPECS[name]
    for seed in range(5):
        mu = spec.random_mu(np.random.default_rng(seed))
        m, cov = spec.mean_cov(mu)
        want = (
            stats.norm(m, np.sqrt(cov)).entropy().sum()
            if name == "gaussian"
            else stats.multivariate_normal(m, cov).entropy()
        )
        got = float(spec.player.entropy(jnp.asarray(mu, jnp.float32)))
        assert got == pytest.approx(want, abs=1e-3)


# ----------------------------------------------------------------------------- init (MLE)


@pytest.mark.parametrize("name", FAMILY_NAMES)
@FAST
# few shapes, few compilations; 100 and 101 take weighted_mean's partial sums (101: padded)
@given(seed=SEEDS, n=st.sampled_from([1, 9, 30, 100, 101]))
def test_init_equals_weighted_numpy_moments(name, seed, n):
    spec = SPECS[name]
    rng = np.random.default_rng(seed)
    x = spec.random_points(rng, n)
    w = rng.uniform(0.0, 3.0, n) * (rng.uniform(size=n) > 0.3)
    w[rng.integers(n)] += 0.5  # at least one positive weight
    got = f64(spec.player.init(spec.as_input(x), jnp.asarray(w, jnp.float32)))
    want = np.average(spec.stats_np(x), axis=0, weights=w)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.max(np.abs(want))))


# ----------------------------------------------------------------------------- sampling


N_SAMPLES = 20_000
Z = 5.0  # stated tolerance: |sample mean − μ| ≤ 5 standard errors, per statistic


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_sample_moments_match_mu(name):
    spec = SPECS[name]
    for seed in range(3):
        mu = spec.random_mu(np.random.default_rng(100 + seed))
        x = spec.player.sample(jax.random.key(seed), jnp.asarray(mu, jnp.float32), N_SAMPLES)
        assert x.shape == (N_SAMPLES, *spec.player.event_shape)
        assert x.dtype == spec.player.sample_dtype
        xs = np.asarray(x)
        if name == "bernoulli":
            assert set(np.unique(xs)) <= {0.0, 1.0}
        if name == "categorical":
            assert xs.min() >= 0 and xs.max() < spec.size
        if name == "poisson":
            assert xs.min() >= 0 and np.all(xs == np.round(xs))
        t = spec.stats_np(xs.astype(np.float64) if name != "categorical" else xs)
        err = np.abs(t.mean(axis=0) - mu)
        se = t.std(axis=0) / np.sqrt(N_SAMPLES)
        assert np.all(err <= Z * se + 1e-6), (err / np.maximum(se, 1e-12)).max()


@pytest.mark.parametrize("name", ["gaussian", "gaussian_full"])
def test_sample_covariance_structure(name):
    """Beyond the sufficient statistics: Gaussians' sample covariance matches cov(μ)."""
    spec = SPECS[name]
    mu = spec.random_mu(np.random.default_rng(7))
    x = np.asarray(
        spec.player.sample(jax.random.key(3), jnp.asarray(mu, jnp.float32), N_SAMPLES), np.float64
    )
    _, cov = spec.mean_cov(mu)
    cov = np.diag(cov) if name == "gaussian" else cov
    emp = np.cov(x.T)
    # standard error of a covariance entry: sqrt((Σ_kk Σ_ll + Σ_kl²) / n)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / N_SAMPLES)
    assert np.all(np.abs(emp - cov) <= Z * se)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_same_key_same_samples(name):
    spec = SPECS[name]
    mu = jnp.asarray(spec.random_mu(np.random.default_rng(1)), jnp.float32)
    a = np.asarray(spec.player.sample(jax.random.key(42), mu, N_SAMPLES))
    b = np.asarray(spec.player.sample(jax.random.key(42), mu, N_SAMPLES))
    c = np.asarray(spec.player.sample(jax.random.key(43), mu, N_SAMPLES))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ----------------------------------------------------------------------------- jit vs no jit


class JitAgreementTest(chex.TestCase):
    """Every pure function gives the oracle's answer with and without jit."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*[(n, n) for n in FAMILY_NAMES])
    def test_functions_agree_with_oracle(self, name):
        spec = SPECS[name]
        player = spec.player
        rng = np.random.default_rng(11)
        mu, nu = spec.random_mu(rng), spec.random_mu(rng)
        x = spec.random_points(rng, 6)
        w = rng.uniform(0.5, 2.0, len(x))
        tol = 2e-4 * spec.scale(mu) ** 2

        def everything(mu, nu, x, w, key):  # one program per family: one compile under jit
            return (
                jax.vmap(player.log_prob, in_axes=(None, 0))(mu, x),
                player.kl(mu, nu),
                player.mean(player.natural(mu)),
                player.init(x, w),
                player.sample(key, mu, N_SAMPLES),
            )

        mu32, nu32 = jnp.asarray(mu, jnp.float32), jnp.asarray(nu, jnp.float32)
        log_prob, kl, round_trip, init, sample = self.variant(everything)(
            mu32, nu32, spec.as_input(x), jnp.asarray(w, jnp.float32), jax.random.key(5)
        )
        np.testing.assert_allclose(f64(log_prob), spec.log_prob_np(mu, x), rtol=2e-4, atol=tol)
        self.assertAlmostEqual(float(kl), spec.kl_np(mu, nu), delta=1e-3 * spec.kl_np(mu, nu) + tol)
        np.testing.assert_allclose(f64(round_trip), mu, rtol=1e-4, atol=1e-4 * spec.scale(mu))
        np.testing.assert_allclose(
            f64(init),
            np.average(spec.stats_np(x), axis=0, weights=w),
            rtol=1e-4,
            atol=1e-4 * spec.scale(mu),
        )
        # the same key gives the same draws with and without jit (up to float rounding)
        eager = np.asarray(player.sample(jax.random.key(5), mu32, N_SAMPLES), np.float64)
        np.testing.assert_allclose(np.asarray(sample, np.float64), eager, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- cross moments


@FAST
@given(seed=SEEDS, d=st.sampled_from([1, 3]))
def test_cross_moments_diag_to_full(seed, d):
    """A full Gaussian sees a diagonal sender's second moment as diag(var) + m mᵀ."""
    rng = np.random.default_rng(seed)
    m, v = rng.normal(size=d), rng.uniform(0.2, 3.0, d)
    mu = np.concatenate([m, v + m * m])
    got = f64(
        expfam.cross_moments(
            expfam.gaussian_full(d), expfam.gaussian(d), jnp.asarray(mu, jnp.float32)
        )
    )
    want = np.concatenate([m, (np.diag(v) + np.outer(m, m)).ravel()])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@FAST
@given(seed=SEEDS, d=st.sampled_from([1, 3]))
def test_cross_moments_full_to_diag(seed, d):
    """A diagonal Gaussian keeps a full sender's mean and the diagonal of its second moment."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d))
    cov = a @ a.T + 0.3 * np.eye(d)
    m = rng.normal(size=d)
    second = cov + np.outer(m, m)
    mu = np.concatenate([m, second.ravel()])
    got = f64(
        expfam.cross_moments(
            expfam.gaussian(d), expfam.gaussian_full(d), jnp.asarray(mu, jnp.float32)
        )
    )
    want = np.concatenate([m, np.diag(second)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_cross_moments_are_expectations_under_the_sender():
    """Monte Carlo check of the definition E_{p_sender}[T_receiver(x)], both directions."""
    d, n = 2, 200_000
    full, diag = expfam.gaussian_full(d), expfam.gaussian(d)
    mu_diag = np.concatenate([[0.5, -1.0], [1.25, 3.0]])  # var = (1, 2)
    x = np.asarray(diag.sample(jax.random.key(0), jnp.asarray(mu_diag, jnp.float32), n), np.float64)
    mc = np.concatenate([x.mean(0), np.einsum("ni,nj->ij", x, x).ravel() / n])
    got = f64(expfam.cross_moments(full, diag, jnp.asarray(mu_diag, jnp.float32)))
    np.testing.assert_allclose(got, mc, atol=0.045)  # ≈ 5 standard errors of the x² terms


def test_cross_moments_same_family_is_identity_and_incompatible_raises():
    mu = jnp.asarray([0.2, 0.7, 0.1])
    np.testing.assert_array_equal(
        np.asarray(expfam.cross_moments(expfam.bernoulli(3), expfam.bernoulli(3), mu)),
        np.asarray(mu),
    )
    with pytest.raises(ValueError, match="players"):
        expfam.cross_moments(expfam.bernoulli(2), expfam.gaussian(2), jnp.zeros(4))
    with pytest.raises(ValueError, match="players"):
        expfam.cross_moments(expfam.gaussian_full(3), expfam.gaussian(2), jnp.zeros(4))


def test_constructors_are_cached_and_named():
    assert expfam.gaussian(2) is expfam.gaussian(2)
    assert expfam.family("gaussian-full", 3) is expfam.gaussian_full(3)
    assert expfam.gaussian(2).num_stats == 4
    assert expfam.gaussian_full(3).num_stats == 12
    assert expfam.categorical(4).num_stats == 4
    assert expfam.categorical(4).event_shape == ()

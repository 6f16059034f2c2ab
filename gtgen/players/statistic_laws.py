"""The exact law of the mean sufficient statistic of ``n`` iid draws, per exponential family.

An exponential-family receiver uses synthetic samples only through the mean of its sufficient
statistics, and for every family here that mean has a closed-form law, so a round can draw it
directly at a cost that does not depend on ``n`` (PAPERS.md §1, the sampled dynamics):

- diagonal Gaussian: x̄ ~ N(μ, σ²/n) and Σ(x − x̄)² ~ σ²·χ²_{n−1}, independent, per coordinate;
- full Gaussian: x̄ ~ N(μ, Σ/n) and the scatter Σ(x − x̄)(x − x̄)ᵀ ~ Wishart(n − 1, Σ),
  independent (Bartlett decomposition, exact also when n − 1 < d: the scatter is singular);
- Bernoulli: counts ~ Binomial(n, p); categorical: Multinomial(n, p); Poisson: Poisson(n·λ).

Every law is a function ``law(key, mu [K], n) -> [K]``: the mean statistic ``(1/n) Σ_k T(x_k)``
of ``n`` iid draws from mean parameters ``mu``. ``n`` is a traced float scalar (a sweep over the
sample count compiles once); ``n = 0`` gives zeros (the caller weighs such a pair by 0).
The Gaussians also draw in the common representation ``(x̄, (1/n) Σ x xᵀ)`` (``common_law``), from
which a receiver of the other Gaussian family takes its own statistics (``from_common``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gtgen.players.gamma_draw import gamma

_EPS = 1e-6  # the families' variance floor (gtgen.players.expfam)


def _chisquare(key, df):
    """χ²_df for df ≥ 0 (χ²_0 = 0), elementwise, traced df (``gamma`` gives NaN, at once, where
    df ≤ 0; those elements are set to 0 here)."""
    return jnp.where(df > 0, 2.0 * gamma(key, 0.5 * df), 0.0)


def bartlett(key, df, d: int) -> jax.Array:
    """A lower-triangular [d, d] with A Aᵀ ~ Wishart(df, I_d) for any integer-valued df ≥ 0.

    A_ii² ~ χ²_{df − i} and A_ij ~ N(0, 1) below the diagonal (i, j from 0); when df < d the
    columns j ≥ df are zero (a rank-df Wishart, as the Gram–Schmidt of a d × df Gaussian gives).
    """
    k_diag, k_low = jax.random.split(key)
    rows = jnp.arange(d)
    diag = jnp.sqrt(_chisquare(k_diag, df - rows))
    low = jax.random.normal(k_low, (d, d))
    keep = (rows[:, None] > rows[None, :]) & (rows[None, :] < df)
    return jnp.where(keep, low, 0.0) + jnp.diag(diag)


def _mean_and_count(n):
    n = jnp.asarray(n, jnp.float32)
    return n, jnp.maximum(n, 1.0)


def gaussian_diag(d: int):
    """The law of the mean of (x, x²) over n draws of a diagonal Gaussian on R^d."""

    def law(key, mu, n):
        n, safe = _mean_and_count(n)
        m, second = mu[:d], mu[d:]
        var = jnp.maximum(second - m * m, _EPS)
        k_mean, k_scatter = jax.random.split(key)
        xbar = m + jnp.sqrt(var / safe) * jax.random.normal(k_mean, (d,))
        scatter = var * _chisquare(k_scatter, jnp.broadcast_to(n - 1.0, (d,)))
        out = jnp.concatenate([xbar, scatter / safe + xbar * xbar])
        return jnp.where(n > 0, out, 0.0)

    return law


def gaussian_common(d: int, covariance_factor):
    """The law of ``(x̄, (1/n) Σ x xᵀ)`` over n draws of a Gaussian with mean ``mu[:d]`` and
    covariance ``L Lᵀ``, ``L = covariance_factor(mu)`` (a Cholesky factor or diag(σ))."""

    def law(key, mu, n):
        n, safe = _mean_and_count(n)
        m = mu[:d]
        chol = covariance_factor(mu)
        k_mean, k_scatter = jax.random.split(key)
        xbar = m + chol @ jax.random.normal(k_mean, (d,)) / jnp.sqrt(safe)
        a = chol @ bartlett(k_scatter, n - 1.0, d)
        second = (a @ a.T) / safe + jnp.outer(xbar, xbar)
        on = n > 0
        return jnp.where(on, xbar, 0.0), jnp.where(on, second, 0.0)

    return law


def from_common_law(common_law, flatten):
    """The mean-statistic law of a family whose statistics are ``flatten(common)``."""

    def law(key, mu, n):
        return flatten(common_law(key, mu, n))

    return law


def binomial(key, mu, n):
    """Mean of n draws of independent Bernoullis with probabilities ``mu``: Binomial(n, p) / n."""
    n, safe = _mean_and_count(n)
    p = jnp.clip(mu, 0.0, 1.0)
    return jax.random.binomial(key, jnp.broadcast_to(n, p.shape), p) / safe


def multinomial(key, mu, n):
    """Mean one-hot of n categorical draws: Multinomial(n, p) / n."""
    n, safe = _mean_and_count(n)
    p = jnp.clip(mu, 0.0, None)
    p = p / jnp.sum(p)
    return jax.random.multinomial(key, n, p) / safe


def poisson(key, mu, n):
    """Mean of n draws of independent Poisson counts: Poisson(n·λ) / n."""
    n, safe = _mean_and_count(n)
    lam = jnp.maximum(mu, 0.0) * n
    return jax.random.poisson(key, lam).astype(jnp.float32) / safe

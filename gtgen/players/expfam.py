"""Exponential-family players.

A player of family ``p(x; η) = h(x) exp(<η, T(x)> - A(η))`` is parametrised by its mean
parameters ``μ = E[T(x)]`` (a flat vector of ``num_stats`` numbers), because the best response
in a synthetic-data game is moment matching: maximum likelihood on the α-mixture of own data and
others' samples is the α-mixture of their mean sufficient statistics (PAPERS.md §1). The natural
parametrisation ``η`` is derived when needed (log-density, KL, Nash gap), as in efax.

Families: diagonal Gaussian, full-covariance Gaussian, product of Bernoullis, categorical,
Poisson (independent counts). Each constructor is cached, so ``gaussian(2) is gaussian(2)`` and
players built twice still share one vmapped group.

Players of different families on the same sample space can play one game when both can
express their moments in a common representation (``to_common`` / ``from_common``). For the two
Gaussians the common representation is ``(mean, second-moment matrix)``: a diagonal Gaussian
learning from a full one keeps the diagonal, a full one learning from a diagonal one sees
``diag(var) + m mᵀ``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import linalg
from gtgen.checks import integer
from gtgen.players import statistic_laws as laws
from gtgen.players.base import Variable, Variables

# Moments are clamped this far inside the family's domain before converting to natural
# parameters, so that a degenerate fit (a constant pixel, a never-seen class) gives a large but
# finite log-density instead of NaN. Mean parameters themselves are never altered.
_EPS = 1e-6


class ExpFamPlayer(NamedTuple):
    """A player of an exponential family, as pure functions of its mean parameters ``mu``."""

    name: str
    event_shape: tuple[int, ...]
    num_stats: int
    space: str
    sample_dtype: Any
    stats: Callable[[jax.Array], jax.Array]
    sample: Callable[[jax.Array, jax.Array, int], jax.Array]
    natural: Callable[[jax.Array], jax.Array]
    mean: Callable[[jax.Array], jax.Array]
    log_normalizer: Callable[[jax.Array], jax.Array]
    log_base_measure: Callable[[jax.Array], jax.Array]
    check_support: Callable[[np.ndarray], str | None]
    to_common: Callable[[jax.Array], Any] | None = None
    from_common: Callable[[Any], jax.Array] | None = None
    # sample_each(key, mu [..., K]) -> one sample per parameter row [..., *event]; lets the
    # sampled routing draw every item straight from its source (no pool, no gather of samples)
    sample_each: Callable[[jax.Array, jax.Array], jax.Array] | None = None
    # stats_law(key, mu [K], n) -> the mean statistic of n iid draws, drawn from its exact law
    # (gtgen.players.statistic_laws): the round's statistic draw, at a cost independent of n
    stats_law: Callable[[jax.Array, jax.Array, Any], jax.Array] | None = None
    # common_law(key, mu, n) -> (x̄, (1/n) Σ x xᵀ) of n draws: the Gaussians' common representation
    common_law: Callable[[jax.Array, jax.Array, Any], Any] | None = None
    # the one variable the player models, its name and meaning (see gtgen.players.base)
    variable: str = "x"
    value: Variable = Variable("real")

    reads = "statistics"  # the exchange round hands it mixed sufficient statistics

    # --- derived functions, written once for every family -------------------------------------

    @property
    def variables(self) -> Variables:
        return ((self.variable, self.value),)

    @property
    def observed(self) -> tuple[str, ...]:
        return (self.variable,)

    def learn(self, mu, own, self_weight, received, damping):
        """One damped best response: μ + λ(BR(α_ii m_i + Σ_j α_ij s_j) − μ), where ``received``
        is the α-weighted sum of the senders' statistics; λ = 1 is the best response itself."""
        best = self.best_response(self_weight * own + received)
        return mu + damping * (best - mu)

    def init(self, data: jax.Array, weights: jax.Array) -> jax.Array:
        """Maximum-likelihood mean parameters of weighted data ``[n, *event]`` (padding: weight 0)."""
        return weighted_mean(jax.vmap(self.stats)(data), weights)

    def best_response(self, mixed_moments: jax.Array) -> jax.Array:
        """Maximum likelihood on a mixture with these expected statistics: moment matching."""
        return mixed_moments

    def log_prob(self, mu: jax.Array, x: jax.Array) -> jax.Array:
        """Log-density (or log-mass) of one sample ``x`` under mean parameters ``mu``."""
        eta = self.natural(mu)
        return jnp.dot(eta, self.stats(x)) - self.log_normalizer(eta) + self.log_base_measure(x)

    def kl(self, mu_p: jax.Array, mu_q: jax.Array) -> jax.Array:
        """KL(p ‖ q), the Bregman divergence of A: <η_p − η_q, ∇A(η_p)> − A(η_p) + A(η_q).

        ∇A(η_p) is the mean of the density p actually is (``mean(natural(μ_p))``): μ_p itself
        where the family's clamps and a gaussian-full ridge leave it unchanged."""
        eta_p, eta_q = self.natural(mu_p), self.natural(mu_q)
        return (
            jnp.dot(eta_p - eta_q, self.mean(eta_p))
            - self.log_normalizer(eta_p)
            + self.log_normalizer(eta_q)
        )

    def entropy(self, mu: jax.Array) -> jax.Array:
        """Differential entropy for families with h(x) = 1 (Gaussians); cross-checked in tests."""
        eta = self.natural(mu)
        return self.log_normalizer(eta) - jnp.dot(eta, mu)


def _n_samples(sample_each: Callable[[jax.Array, jax.Array], jax.Array]):
    """``sample(key, mu, n)`` from ``sample_each``: n draws from one parameter vector."""

    def sample(key, mu, n):
        return sample_each(key, jnp.broadcast_to(mu, (n, mu.shape[-1])))

    return sample


def _no_support_check(data: np.ndarray) -> str | None:
    return None


# Players compute in float32: a value whose square (a Gaussian's statistic x²) comes near
# float32's largest number (3.4e38) overflows to inf and every result turns NaN.
REAL_LIMIT = 1e18


def _real_support(data: np.ndarray) -> str | None:
    top = float(np.max(np.abs(data))) if data.size else 0.0
    if top > REAL_LIMIT:
        return (
            f"values reach {top:.3g}, whose square overflows float32 (players compute in "
            f"float32); rescale this data to magnitudes below {REAL_LIMIT:.0e}"
        )
    return None


def _variable_name(variable: Any) -> str:
    if not isinstance(variable, str) or not variable.isidentifier():
        raise ValueError(f"variable: must be a name such as 'x', got {variable!r}")
    return variable


def _named(name: str, variable: str) -> str:
    """The player's name; a variable other than the default ``x`` is part of it."""
    return name if variable == "x" else f"{name[:-1]}, variable={variable!r})"


# --- diagonal Gaussian --------------------------------------------------------------------


@functools.cache
def gaussian(dim: int, variable: str = "x") -> ExpFamPlayer:
    """Diagonal Gaussian on R^dim. T(x) = (x, x²), so μ = (E x, E x²) and K = 2·dim."""
    d = integer("dim", dim)

    def split(mu):
        m, s2 = mu[:d], mu[d:]
        return m, jnp.maximum(s2 - m * m, _EPS)

    def natural(mu):
        m, var = split(mu)
        return jnp.concatenate([m / var, -0.5 / var])

    def mean(eta):
        var = -0.5 / eta[d:]
        m = eta[:d] * var
        return jnp.concatenate([m, var + m * m])

    def log_normalizer(eta):
        e1, e2 = eta[:d], eta[d:]
        return jnp.sum(-(e1 * e1) / (4.0 * e2) + 0.5 * jnp.log(math.pi / -e2))

    def sample_each(key, mu):
        m, s2 = mu[..., :d], mu[..., d:]
        std = jnp.sqrt(jnp.maximum(s2 - m * m, _EPS))
        return m + std * jax.random.normal(key, m.shape, dtype=mu.dtype)

    def to_common(mu):
        m, var = split(mu)
        return m, jnp.diag(var) + jnp.outer(m, m)

    def from_common(common):
        m, second = common
        return jnp.concatenate([m, jnp.diagonal(second)])

    def std_factor(mu):
        m, var = split(mu)
        return jnp.diag(jnp.sqrt(var))

    return ExpFamPlayer(
        name=_named(f"gaussian(dim={d})", variable),
        variable=_variable_name(variable),
        value=Variable("real", (d,)),
        event_shape=(d,),
        num_stats=2 * d,
        space=f"real^{d}",
        sample_dtype=jnp.float32,
        stats=lambda x: jnp.concatenate([x, x * x]),
        sample=_n_samples(sample_each),
        natural=natural,
        mean=mean,
        log_normalizer=log_normalizer,
        log_base_measure=lambda x: jnp.zeros((), x.dtype),
        check_support=_real_support,
        to_common=to_common,
        from_common=from_common,
        sample_each=sample_each,
        stats_law=laws.gaussian_diag(d),
        common_law=laws.gaussian_common(d, std_factor),
    )


# --- full-covariance Gaussian -------------------------------------------------------------


@functools.cache
def gaussian_full(dim: int, variable: str = "x", ridge: float = 0.0) -> ExpFamPlayer:
    """Full-covariance Gaussian on R^dim. T(x) = (x, vec(x xᵀ)), K = dim + dim².

    ``ridge`` (≥ 0) is added to the diagonal of every covariance the player forms (its density,
    samples, KL): the remedy for data whose sample covariance is singular (fewer samples than
    dimensions, or samples on a subspace), which the player refuses without it. The mean
    parameters, and so the best response and the equilibrium, are unchanged.
    """
    d = integer("dim", dim)
    ridge = _ridge(ridge)
    eye = np.eye(d, dtype=np.float32)
    shift = max(ridge, _EPS)

    def check_support(data: np.ndarray) -> str | None:
        problem = _real_support(data)
        if problem or ridge > 0:
            return problem
        n = len(data)
        cov = np.cov(np.asarray(data, np.float64), rowvar=False, bias=True).reshape(d, d)
        eig = np.linalg.eigvalsh(cov) if n > d else np.zeros(1)
        if n <= d or eig[0] <= SINGULAR_RTOL * max(eig[-1], np.finfo(np.float64).tiny):
            why = f"{n} samples in {d} dimensions" if n <= d else "samples that lie on a subspace"
            return (
                f"{why}: its sample covariance is singular, so a full-covariance Gaussian "
                f"has no density there; give it more than {d} samples spanning R^{d}, or set "
                "a ridge (gaussian_full(dim, ridge=1e-3); TOML: ridge = 1e-3), which adds "
                "ridge·I to every covariance"
            )
        return None

    def split(mu):
        m = mu[:d]
        second = mu[d:].reshape(d, d)
        second = 0.5 * (second + second.T)
        return m, second

    def covariance(mu):
        m, second = split(mu)
        return second - jnp.outer(m, m) + shift * eye

    def natural(mu):
        m, _ = split(mu)
        precision = linalg.inv(covariance(mu))
        precision = 0.5 * (precision + precision.T)
        return jnp.concatenate([precision @ m, (-0.5 * precision).reshape(-1)])

    def mean(eta):
        e1, e2 = eta[:d], eta[d:].reshape(d, d)
        cov = linalg.inv(-2.0 * e2)
        m = cov @ e1
        return jnp.concatenate([m, (cov + jnp.outer(m, m)).reshape(-1)])

    def log_normalizer(eta):
        e1, e2 = eta[:d], eta[d:].reshape(d, d)
        _, logdet = linalg.slogdet(-2.0 * e2)
        return -0.25 * e1 @ linalg.solve(e2, e1) - 0.5 * logdet + 0.5 * d * math.log(2 * math.pi)

    def sample(key, mu, n):
        m, _ = split(mu)
        chol = linalg.cholesky(covariance(mu))
        return m + jax.random.normal(key, (n, d), dtype=mu.dtype) @ chol.T

    def to_common(mu):
        return split(mu)

    def from_common(common):
        m, second = common
        return jnp.concatenate([m, second.reshape(-1)])

    common_law = laws.gaussian_common(d, lambda mu: linalg.cholesky(covariance(mu)))

    return ExpFamPlayer(
        name=_named(f"gaussian-full(dim={d}{f', ridge={ridge:g}' if ridge else ''})", variable),
        variable=_variable_name(variable),
        value=Variable("real", (d,)),
        event_shape=(d,),
        num_stats=d + d * d,
        space=f"real^{d}",
        sample_dtype=jnp.float32,
        stats=lambda x: jnp.concatenate([x, jnp.outer(x, x).reshape(-1)]),
        sample=sample,
        natural=natural,
        mean=mean,
        log_normalizer=log_normalizer,
        log_base_measure=lambda x: jnp.zeros((), x.dtype),
        check_support=check_support,
        to_common=to_common,
        from_common=from_common,
        stats_law=laws.from_common_law(common_law, from_common),
        common_law=common_law,
    )


def _coordinatewise(
    family: str, kind: str, d: int, variable: str, sample_each: Callable, **law: Any
) -> ExpFamPlayer:
    """A product of ``d`` independent one-parameter families with T(x) = x on ``kind^d``;
    ``law``: the family's natural/mean maps, normalisers, support check and ``stats_law``."""
    return ExpFamPlayer(
        name=_named(f"{family}(dim={d})", variable),
        variable=_variable_name(variable),
        value=Variable(kind, (d,)),
        event_shape=(d,),
        num_stats=d,
        space=f"{kind}^{d}",
        sample_dtype=jnp.float32,
        stats=lambda x: x,
        sample=_n_samples(sample_each),
        sample_each=sample_each,
        **law,
    )


# --- product of Bernoullis ----------------------------------------------------------------


def _binary_support(data: np.ndarray) -> str | None:
    if not np.all((data == 0) | (data == 1)):
        return "bernoulli needs binary data (every value 0 or 1)"
    return None


@functools.cache
def bernoulli(dim: int, variable: str = "x") -> ExpFamPlayer:
    """Independent Bernoullis on {0,1}^dim. T(x) = x, μ = p, η = logit p, A = Σ softplus η."""
    d = integer("dim", dim)

    def natural(mu):
        p = jnp.clip(mu, _EPS, 1.0 - _EPS)
        return jnp.log(p) - jnp.log1p(-p)

    def sample_each(key, mu):
        return jax.random.bernoulli(key, mu).astype(mu.dtype)

    return _coordinatewise(
        "bernoulli",
        "binary",
        d,
        variable,
        sample_each,
        natural=natural,
        mean=jax.nn.sigmoid,
        log_normalizer=lambda eta: jnp.sum(jax.nn.softplus(eta)),
        log_base_measure=lambda x: jnp.zeros((), x.dtype),
        check_support=_binary_support,
        stats_law=laws.binomial,
    )


# --- categorical --------------------------------------------------------------------------


@functools.cache
def categorical(num_classes: int, variable: str = "x") -> ExpFamPlayer:
    """Categorical on {0, …, k−1}. T(x) = onehot(x), μ = class probabilities, η = log μ.

    The parametrisation is over-complete (η is defined up to a constant), which the Bregman
    form of the KL and A(η) = logsumexp(η) handle without a reference class.
    """
    k = integer("num_classes", num_classes)
    if k < 2:
        raise ValueError(f"num_classes: a categorical needs at least 2 classes, got {k}")
    if k > MAX_CLASSES:
        raise ValueError(
            f"num_classes: {k} classes is more than gtgen's limit of {MAX_CLASSES} "
            "(each player holds a probability per class per sample)"
        )

    def check(data: np.ndarray) -> str | None:
        if not np.all(np.equal(np.mod(data, 1), 0)) or data.min() < 0 or data.max() >= k:
            return f"categorical needs integer classes in 0..{k - 1}"
        return None

    def sample_each(key, mu):
        return jax.random.categorical(key, jnp.log(jnp.clip(mu, 1e-30, None)))

    return ExpFamPlayer(
        name=_named(f"categorical(k={k})", variable),
        variable=_variable_name(variable),
        value=Variable("categorical", (), k),
        event_shape=(),
        num_stats=k,
        space=f"categorical^{k}",
        sample_dtype=jnp.int32,
        stats=lambda x: jax.nn.one_hot(x, k, dtype=jnp.float32),
        sample=_n_samples(sample_each),
        natural=lambda mu: jnp.log(jnp.clip(mu, _EPS, None)),
        mean=jax.nn.softmax,
        log_normalizer=jax.nn.logsumexp,
        log_base_measure=lambda x: jnp.zeros((), jnp.float32),
        check_support=check,
        sample_each=sample_each,
        stats_law=laws.multinomial,
    )


# --- Poisson ------------------------------------------------------------------------------


def _count_support(data: np.ndarray) -> str | None:
    if np.any(data < 0) or not np.all(np.equal(np.mod(data, 1), 0)):
        return "poisson needs non-negative integer counts"
    return None


@functools.cache
def poisson(dim: int, variable: str = "x") -> ExpFamPlayer:
    """Independent Poisson counts on N^dim. T(x) = x, μ = λ, η = log λ, h(x) = 1 / Π x!."""
    d = integer("dim", dim)

    def sample_each(key, mu):
        return jax.random.poisson(key, mu).astype(mu.dtype)

    return _coordinatewise(
        "poisson",
        "count",
        d,
        variable,
        sample_each,
        natural=lambda mu: jnp.log(jnp.clip(mu, _EPS, None)),
        mean=jnp.exp,
        log_normalizer=lambda eta: jnp.sum(jnp.exp(eta)),
        log_base_measure=lambda x: -jnp.sum(jax.scipy.special.gammaln(x + 1.0)),
        check_support=_count_support,
        stats_law=laws.poisson,
    )


FAMILIES: dict[str, Callable[[int], ExpFamPlayer]] = {
    "gaussian": gaussian,
    "gaussian-full": gaussian_full,
    "bernoulli": bernoulli,
    "categorical": categorical,
    "poisson": poisson,
}


def family(name: str, size: int, ridge: float | None = None) -> ExpFamPlayer:
    """A player by family name (as in config files) and dimension (classes for categorical);
    ``ridge`` is gaussian-full's (see gaussian_full)."""
    if not isinstance(name, str) or name not in FAMILIES:
        raise ValueError(f"family: unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
    if ridge is None:
        return FAMILIES[name](size)
    if name != "gaussian-full":
        raise ValueError('ridge: only for family = "gaussian-full"')
    ridge = _ridge(ridge)
    return gaussian_full(size) if ridge == 0 else gaussian_full(size, "x", ridge)


# Rows per partial sum of ``weighted_mean``: XLA CPU rewrites a sum over more than 32 items
# into a reduce-window and a reduce and materialises the summand between them.
SUM_CHUNK = 32


def weighted_mean(t: jax.Array, weights: jax.Array) -> jax.Array:
    """Σ_n w_n t_n / Σ_n w_n over the leading axis of ``t`` [n, K] (weights [n]), in one pass.

    The sums of w and w·t are one [n, K + 1] multiply-sum (no separate pass to normalise w), in
    partial sums of at most ``SUM_CHUNK`` rows, held apart from the final sum by an optimization
    barrier so that XLA does not merge the two sums back into one long one, which its CPU
    backend splits again with the summand written out in between. XLA CPU then fuses the
    statistics, both sums and the products into one loop over the data: half the time of a
    plain ``jnp.sum(t * w / Σw)`` on sweep-peer's 1000 games (benchmarks/RESULTS.md), a dot
    being slower still (thousands of tiny ones when batched over a sweep's games)."""
    u = jnp.concatenate([weights[:, None], t * weights[:, None]], axis=1)
    n = u.shape[0]
    if n > SUM_CHUNK:
        # the chunk that pads the fewest rows (ties: the longest)
        chunk = min(range(SUM_CHUNK // 2, SUM_CHUNK + 1), key=lambda c: (-n % c, -c))
        u = jnp.pad(u, ((0, -n % chunk), (0, 0))).reshape(-1, chunk, u.shape[1]).sum(axis=1)
        u = jax.lax.optimization_barrier(u)
    s = jnp.sum(u, axis=0)
    return s[1:] / s[0]


def cross_moments(receiver: ExpFamPlayer, sender: ExpFamPlayer, mu_sender: jax.Array) -> jax.Array:
    """E_{p_sender}[T_receiver(x)]: the receiver's statistics expected under the sender's model."""
    if receiver is sender or receiver.name == sender.name:
        return mu_sender
    if receiver.to_common is None or sender.to_common is None or receiver.space != sender.space:
        raise ValueError(f"players: {receiver.name} cannot learn from {sender.name}")
    return receiver.from_common(sender.to_common(mu_sender))


def has_closed_form(receiver: ExpFamPlayer, sender: ExpFamPlayer) -> bool:
    """Whether ``receiver``'s statistics under ``sender``'s model have a closed form
    (``cross_moments``): the same family, or both with a common representation."""
    if receiver.name == sender.name:
        return True
    return (
        receiver.space == sender.space
        and receiver.to_common is not None
        and sender.to_common is not None
    )


# Most classes of a categorical player (its statistics are one-hot vectors of this length).
MAX_CLASSES = 10_000

# A sample covariance whose smallest eigenvalue is below this fraction of its largest is singular.
SINGULAR_RTOL = 1e-10


def _ridge(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"ridge: must be a number ≥ 0, got {value!r}")  # noqa: TRY004 - bad settings are ValueErrors
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"ridge: must be a finite number ≥ 0, got {value!r}")
    return float(value)

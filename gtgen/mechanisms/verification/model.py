"""The two tasks of gtgen's unravelling model: types, closed-form risks, weights, type estimates.

A task is a ``Task`` (a NamedTuple of arrays and numbers; ``kind`` says which formulas apply).
Every function here is pure and works on JAX arrays, so the dynamics program (``dynamics.py``)
traces them; with ``jax.enable_x64(True)`` the same functions give the float64 figures of the
reports. The formulas and why they hold are in the package docstring (``verification/__init__``).

- ``mean_estimation(bias, noise, samples, target_noise, cost)``: agent j's samples are
  N(μ_0 + b_j, σ_j²), the target P_0 is N(μ_0, σ_0²); type θ_j = (b_j, σ_j).
- ``classification(flip, samples, dim, cost)``: inputs x ~ N(0, I_d), labels 1[x·u > 0] flipped
  with probability θ_j; the model is the centroid classifier sign(ŵ·x), ŵ = Σ_k w_k mean_i
  (2ỹ − 1)x; type θ_j = (θ_j,).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from gtgen.checks import integer
from gtgen.players.gamma_draw import gamma

KINDS = ("mean", "classification")
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
MIN_TEST_SAMPLES = 2  # the spread estimate needs two samples


class Task(NamedTuple):
    """One task of the model: J agents' private types and the learning problem they share.

    ``types`` is [J, P]: (bias, noise) per agent for ``"mean"``, (flip rate,) for
    ``"classification"``. ``samples`` is n, each agent's training-sample count (alone or in a
    coalition); ``cost`` the price c of one sample; ``scale`` σ_0 (the target's standard
    deviation, ``"mean"``) or the input dimension d (``"classification"``).
    """

    kind: str
    types: np.ndarray
    samples: int
    cost: float
    scale: float

    @property
    def agents(self) -> int:
        return int(self.types.shape[0])

    @property
    def type_names(self) -> tuple[str, ...]:
        return ("bias", "noise") if self.kind == "mean" else ("flip",)


# ---------------------------------------------------------------------------------------------
# validation: one clear error naming the field


def _vector(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a list of numbers, one per agent") from None
    if arr.ndim != 1:
        raise ValueError(
            f"{name}: must be a list of numbers, one per agent, got shape {list(arr.shape)}"
        )
    if arr.size < 2:
        raise ValueError(f"{name}: needs at least 2 agents (J >= 2), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def check_number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float in the stated range, or ValueError naming ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: must be a number, got {value!r}") from None
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    lo = low is not None and (x <= low if low_open else x < low)
    hi = high is not None and (x >= high if high_open else x > high)
    if lo or hi:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        if high is None:
            raise ValueError(f"{name}: must be {'>' if low_open else '>='} {low:g}, got {x:g}")
        lo_text = "-inf" if low is None else f"{low:g}"
        raise ValueError(f"{name}: must lie in {left}{lo_text}, {high:g}{right}, got {x:g}")
    return x


def mean_estimation(
    bias: Any, noise: Any, samples: int = 50, target_noise: float = 1.0, cost: float = 0.0
) -> Task:
    """The mean-estimation task: agent j draws from N(μ_0 + b_j, σ_j²); P_0 = N(μ_0, σ_0²).

    Args:
      bias: b_j per agent (J ≥ 2 numbers; the sign is allowed).
      noise: σ_j > 0 per agent, or one number for all.
      samples: n ≥ 1 training samples per agent.
      target_noise: σ_0 > 0, the standard deviation of P_0 (and of the trusted validation set).
      cost: c ≥ 0 per sample drawn.
    """
    b = _vector(bias, "bias")
    s = (
        np.broadcast_to(np.asarray(noise, dtype=np.float64), b.shape).copy()
        if np.ndim(noise) == 0
        else _vector(noise, "noise")
    )
    if s.shape != b.shape:
        raise ValueError(f"noise: has {s.size} entries but bias has {b.size} (one per agent)")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"noise: every σ_j must be > 0, got {s.tolist()}")
    return Task(
        "mean",
        np.stack([b, s], axis=1),
        integer("samples", samples),
        check_number(cost, "cost", low=0.0),
        check_number(target_noise, "target_noise", low=0.0, low_open=True),
    )


def classification(flip: Any, samples: int = 100, dim: int = 50, cost: float = 0.0) -> Task:
    """The classification task: labels 1[x·u > 0] of x ~ N(0, I_dim), flipped w.p. θ_j.

    Args:
      flip: θ_j ∈ [0, 0.5) per agent (J ≥ 2); 0.5 would make an agent's labels pure noise.
      samples: n ≥ 1 labelled training samples per agent.
      dim: the input dimension d ≥ 2.
      cost: c ≥ 0 per sample (per label).
    """
    theta = _vector(flip, "flip")
    if np.any(theta < 0) or np.any(theta >= 0.5):
        raise ValueError(f"flip: every label-noise rate must lie in [0, 0.5), got {theta.tolist()}")
    return Task(
        "classification",
        theta[:, None],
        integer("samples", samples),
        check_number(cost, "cost", low=0.0),
        float(integer("dim", dim, 2)),
    )


def check_reports(
    task: Task, reports: Any, name: str = "reports", leading: tuple = ()
) -> np.ndarray:
    """Types as a float64 array [*leading, J, P] in the task's type space, or ValueError."""
    try:
        arr = np.asarray(reports, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a [J, P] array of types") from None
    shape = (*leading, *task.types.shape)
    if arr.shape != shape:
        raise ValueError(
            f"{name}: must have shape {list(shape)} (one {'/'.join(task.type_names)} per agent), "
            f"got {list(arr.shape)}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    if task.kind == "mean" and np.any(arr[..., 1] <= 0):
        raise ValueError(f"{name}: noise levels must be > 0")
    if task.kind == "classification" and (np.any(arr < 0) or np.any(arr >= 0.5)):
        raise ValueError(f"{name}: flip rates must lie in [0, 0.5)")
    return arr


# ---------------------------------------------------------------------------------------------
# closed forms


def risk(kind: str, weights: jax.Array, types: jax.Array, samples, scale) -> jax.Array:
    """Expected risk on P_0 of the model Σ_k w_k (agent k's estimate), for weights [..., J].

    mean:            (Σ w_k b_k)² + Σ w_k² σ_k² / n                       (exact)
    classification:  atan2(√((d − 1)/n) ‖w‖₂, √(2/π) Σ w_k (1 − 2θ_k)) / π  (the large-d limit)
    """
    if kind == "mean":
        bias, noise = types[:, 0], types[:, 1]
        return (weights @ bias) ** 2 + (weights * weights) @ (noise * noise) / samples
    signal = SQRT_2_OVER_PI * (weights @ (1.0 - 2.0 * types[:, 0]))
    spread = jnp.sqrt((scale - 1.0) / samples) * jnp.linalg.norm(weights, axis=-1)
    return jnp.arctan2(spread, signal) / jnp.pi


def alone_risk(kind: str, types: jax.Array, samples, scale) -> jax.Array:
    """[J] each agent's risk learning alone from its own n samples (the outside option)."""
    return risk(kind, jnp.eye(types.shape[0], dtype=types.dtype), types, samples, scale)


def equal_weights(members: jax.Array) -> jax.Array:
    """Pooling without information: every member alike."""
    m = members.astype(jnp.result_type(float))
    return m / jnp.sum(m)


def simplex_weights(bias: jax.Array, var: jax.Array, members: jax.Array) -> jax.Array:
    """argmin over the simplex on ``members`` of (Σ w_k b_k)² + Σ w_k² v_k, exactly.

    The KKT conditions give w_k = max(0, λ − b_k t) / v_k with t = Σ w_k b_k, so the optimum's
    support is a threshold set: the members with the smallest biases (t > 0) or the largest
    (t < 0). On a support S the equality-constrained optimum is w ∝ Q_S⁻¹ 1 with Q = V + b bᵀ
    (Sherman–Morrison: z_k = (1 − b_k Σ_S b/v / (1 + Σ_S b²/v)) / v_k) and risk 1 / Σ z. The
    answer is the feasible (w ≥ 0) candidate of least risk among the 2J threshold sets: the
    optimum is one of them, and every other feasible candidate is a point of the simplex.
    """
    n = bias.shape[0]
    lengths = jnp.arange(1, n + 1)
    index = jnp.arange(n)

    def threshold_sets(order_key):
        # rank by pairwise comparison (ties by index): cheaper to compile than two argsorts
        k = jnp.where(members, order_key, jnp.inf)
        before = (k[None, :] < k[:, None]) | ((k[None, :] == k[:, None]) & (index < index[:, None]))
        return (before.sum(axis=1)[None, :] < lengths[:, None]) & members[None, :]

    supports = jnp.concatenate([threshold_sets(bias), threshold_sets(-bias)])  # [2J, J]
    inv = jnp.where(supports, 1.0 / var, 0.0)
    sb = inv @ bias
    sbb = inv @ (bias * bias)
    z = inv * (1.0 - bias[None, :] * (sb / (1.0 + sbb))[:, None])
    total = z.sum(axis=1)
    w = z / jnp.where(total > 0, total, 1.0)[:, None]
    feasible = supports.any(axis=1) & jnp.all(w >= -1e-6, axis=1)
    best = jnp.clip(w[jnp.argmax(jnp.where(feasible, total, -jnp.inf))], 0.0)
    return best / best.sum()


def welfare_weights(kind: str, types: jax.Array, samples, members: jax.Array) -> jax.Array:
    """The weights that maximise the coalition's welfare for these (true or reported) types.

    Every member gets the same model, so welfare = −|C|·risk − costs that do not depend on the
    weights: the welfare-maximising weights minimise the risk. Mean estimation: the simplex
    optimum (``simplex_weights``). Classification: w ∝ (1 − 2θ_k), which maximises
    (Σ w_k q_k) / ‖w‖₂ (Cauchy–Schwarz) and so minimises the closed-form error.
    """
    if kind == "mean":
        return simplex_weights(types[:, 0], types[:, 1] ** 2 / samples, members)
    q = jnp.where(members, 1.0 - 2.0 * types[:, 0], 0.0)
    return q / jnp.sum(q)


# ---------------------------------------------------------------------------------------------
# verification: estimating each agent's type from m samples against the trusted set


def c4(m) -> jax.Array:
    """E‖z − z̄‖ / √(m − 1) for m standard normals: the sample standard deviation's bias factor."""
    return jnp.sqrt(2.0 / (m - 1.0)) * jnp.exp(gammaln(m / 2.0) - gammaln((m - 1.0) / 2.0))


def estimate_types(kind: str, key: jax.Array, types: jax.Array, scale, m) -> jax.Array:
    """[J, P] the aggregator's estimates of the agents' types from m test samples each.

    mean: the agent's m held-out samples and the aggregator's m trusted samples from P_0 give
      b̂_j = x̄_j − x̄_0 and σ̂_j = ‖x_j − x̄_j‖ / (√(m − 1) c4(m)) (unbiased). Drawn from their
      exact distributions: x̄_j − μ_j = σ_j z_j / √m, x̄_0 − μ_0 = σ_0 z_0 / √m, and
      ‖x_j − x̄_j‖² = σ_j² χ²_{m−1}, independent of x̄_j.
    classification: the agent labels the m points of the trusted set ("gold questions"); the
      share of labels that disagree with the trusted labels, D_j / m with D_j ~ Bin(m, θ_j).
    """
    n_agents = types.shape[0]
    if kind == "classification":
        flips = jax.random.binomial(key, jnp.broadcast_to(m, (n_agents,)), types[:, 0])
        return (flips / m)[:, None]
    k_mean, k_spread = jax.random.split(key)
    bias, noise = types[:, 0], types[:, 1]
    z = jax.random.normal(k_mean, (n_agents + 1,), types.dtype)  # the agents', then P_0's
    chi2 = 2.0 * gamma(k_spread, jnp.full((n_agents,), (m - 1.0) / 2.0, types.dtype))
    b_hat = bias + (noise * z[:-1] - scale * z[-1]) / jnp.sqrt(m)
    s_hat = noise * jnp.sqrt(chi2) / (jnp.sqrt(m - 1.0) * c4(m))
    return jnp.stack([b_hat, s_hat], axis=1)


def realised_risk(
    kind: str, key: jax.Array, types: jax.Array, samples: int, scale, weights: jax.Array
) -> jax.Array:
    """Risk on P_0 of the models Σ_k w_k (agent k's estimate) for one draw of training data.

    weights [A, J] → [A]. mean: x̄_k = μ_0 + b_k + σ_k z_k / √n exactly, risk (Σ w_k x̄_k − μ_0)².
    classification: agent k's centroid s̄_k = mean_i (2ỹ_i − 1) x_i, drawn exactly: along u it is
    the mean of n half-normals |z_i| with signs flipped w.p. θ_k; across u it is N(0, I_{d−1}/n)
    (independent of the labels); the error of sign(ŵ·x) on P_0 is the angle(ŵ, u) / π exactly.
    """
    n_agents = types.shape[0]
    if kind == "mean":
        xbar = types[:, 0] + types[:, 1] * jax.random.normal(
            key, (n_agents,), types.dtype
        ) / jnp.sqrt(samples)
        return (weights @ xbar) ** 2
    k_normal, k_flip = jax.random.split(key)
    z = jax.random.normal(k_normal, (n_agents, samples + int(scale) - 1), types.dtype)
    sign = jnp.where(jax.random.uniform(k_flip, (n_agents, samples)) < types[:, :1], -1.0, 1.0)
    along = jnp.mean(sign * jnp.abs(z[:, :samples]), axis=1)
    across = z[:, samples:] / math.sqrt(samples)
    w_along, w_across = weights @ along, weights @ across
    return jnp.arctan2(jnp.linalg.norm(w_across, axis=-1), w_along) / jnp.pi


# ---------------------------------------------------------------------------------------------
# the closed forms of one task, in float64


class ClosedForm(NamedTuple):
    """A task's closed-form figures (float64).

    ``alone`` [J] risk learning alone; ``weights`` [J] full-information weights of the grand
    coalition and ``full`` its risk; ``pooled`` the risk of the grand coalition under equal
    weights; ``gains`` [J] alone − full (what the full-information grand coalition gives each
    agent); ``best`` [P] the best agent's type (what a lemon claims).
    """

    alone: np.ndarray
    weights: np.ndarray
    full: float
    pooled: float
    gains: np.ndarray
    best: np.ndarray


@functools.partial(jax.jit, static_argnames=("kind",))
def _closed_form(kind, types, samples, scale):
    everyone = jnp.ones(types.shape[0], bool)
    alone = alone_risk(kind, types, samples, scale)
    w = welfare_weights(kind, types, samples, everyone)
    full = risk(kind, w, types, samples, scale)
    pooled = risk(kind, equal_weights(everyone), types, samples, scale)
    return alone, w, full, pooled, alone - full, types[jnp.argmin(alone)]


def closed_form(task: Task) -> ClosedForm:
    """The task's closed-form figures, in float64 (one small compiled call)."""
    with jax.enable_x64(True):
        out = _closed_form(
            task.kind,
            jnp.asarray(task.types, jnp.float64),
            jnp.float64(task.samples),
            jnp.float64(task.scale),
        )
        alone, w, full, pooled, gains, best = (np.asarray(x) for x in out)
    return ClosedForm(alone, w, float(full), float(pooled), gains, best)

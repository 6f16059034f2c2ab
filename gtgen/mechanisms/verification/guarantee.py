"""The sample size the verification needs, and the exact probability that it is enough.

``guarantee(task, eps, delta)`` gives the Hoeffding sample size m ≥ (B² / 2ε²) ln(2K / δ) after
which, with probability ≥ 1 − δ, all K type estimates are within ε of the truth; on that event
every truthful report passes and every report more than 2ε from the truth is caught.

- classification: each estimate is a mean of m losses in [0, 1] (disagreement with a trusted
  label): Hoeffding's inequality as it stands, B = 1, K = J.
- mean estimation: the estimates are Gaussian, not bounded. b̂_j − b_j ~ N(0, (σ_j² + σ_0²)/m)
  has the tail 2 exp(−2mε² / B_j²) with B_j = 2 √(σ_j² + σ_0²) — Hoeffding's form, B playing the
  role of the range; σ̂_j is a (σ_j / √(m − 3/2))-Lipschitz function of a standard Gaussian vector
  (Var χ_k ≤ 1/2 gives (E χ_{m−1})² ≥ m − 3/2), so its tail 2 exp(−(m − 3/2) ε² / 2σ_j²) is
  within the same bound once m ≥ (3/2)(1 + σ_max² / σ_0²). Hence B = 2 √(σ_max² + σ_0²) and
  K = 2J (a bias and a spread per agent).

``pass_probability`` is the exact probability that every truthful agent passes (scipy): the
product of binomial probabilities (classification); for mean estimation an integral over the
shared validation mean of the product of normal probabilities (bias tests, Gauss–Hermite), times
the chi-distribution probabilities of the spread tests (independent of the means).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

from gtgen.checks import integer
from gtgen.mechanisms.verification.model import (
    MIN_TEST_SAMPLES,
    Task,
    check_number,
    closed_form,
)

HERMITE_NODES = 120


class Guarantee(NamedTuple):
    """What the Hoeffding bound promises for one task, ε and δ.

    ``samples``     m, the verification samples per agent (and trusted samples) that suffice.
    ``bound``       B of the Hoeffding form; ``estimates`` K, the number of type estimates.
    ``min_gain``    the smallest gain any agent has from the full-information grand coalition
                    over learning alone (the margin that pays for the test).
    ``affordable``  the largest m whose cost c·m stays within ``min_gain`` (inf when c = 0):
                    beyond it the test costs someone more than the coalition gives it.
    """

    samples: int
    bound: float
    estimates: int
    eps: float
    delta: float
    min_gain: float
    affordable: float

    @property
    def holds(self) -> bool:
        """Whether the grand coalition can afford the guaranteed test (m ≤ affordable)."""
        return self.samples <= self.affordable


def check_eps(eps, name: str = "eps") -> float:
    """ε > 0 (inf allowed: no verification), or ValueError naming ``name``."""
    x = check_number(eps, name, allow_inf=True)
    if x <= 0:
        raise ValueError(
            f"{name}: the verification tolerance must be > 0 (inf: no verification), got {x:g}"
        )
    return x


def check_delta(delta, name: str = "delta") -> float:
    return check_number(delta, name, low=0.0, high=1.0, low_open=True, high_open=True)


def hoeffding_samples(bound: float, eps: float, delta: float, estimates: int) -> int:
    """The smallest integer m with m ≥ (B² / 2ε²) ln(2K / δ)."""
    bound = check_number(bound, "bound", low=0.0, low_open=True)
    eps = check_number(check_eps(eps), "eps")
    delta = check_delta(delta)
    estimates = integer("estimates", estimates)
    return math.ceil(bound**2 / (2.0 * eps**2) * math.log(2.0 * estimates / delta) - 1e-9)


def guarantee(task: Task, eps: float, delta: float) -> Guarantee:
    """The verification sample size for ``task`` at tolerance ε and confidence 1 − δ."""
    eps, delta = check_eps(eps), check_delta(delta)
    if math.isinf(eps):
        raise ValueError("eps: the guarantee needs a finite tolerance (eps = inf verifies nothing)")
    if task.kind == "classification":
        bound, estimates, floor = 1.0, task.agents, MIN_TEST_SAMPLES
    else:
        noise_max, target = float(task.types[:, 1].max()), float(task.scale)
        bound = 2.0 * math.sqrt(noise_max**2 + target**2)
        estimates = 2 * task.agents
        floor = max(MIN_TEST_SAMPLES, math.ceil(1.5 * (1.0 + noise_max**2 / target**2)))
    m = max(hoeffding_samples(bound, eps, delta, estimates), floor)
    gain = float(closed_form(task).gains.min())
    affordable = math.inf if task.cost == 0 else max(gain, 0.0) / task.cost
    return Guarantee(m, bound, estimates, eps, delta, gain, affordable)


def pass_probability(task: Task, eps: float, m: int) -> float:
    """The exact probability that every agent's truthful report passes a test of m samples."""
    eps = check_eps(eps)
    m = integer("verification_samples", m, MIN_TEST_SAMPLES)
    if math.isinf(eps):
        return 1.0
    if task.kind == "classification":
        k = np.arange(m + 1)
        prob = 1.0
        for theta in task.types[:, 0]:
            inside = np.abs(k / m - theta) <= eps
            prob *= float(stats.binom.pmf(k[inside], m, theta).sum())
        return prob
    noise, target = task.types[:, 1], float(task.scale)
    z0, w = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    w = w / w.sum()
    t = eps * math.sqrt(m)  # |σ_j z_j − σ_0 z_0| ≤ ε √m
    shift = target * z0[:, None]
    bias_pass = stats.norm.cdf((t + shift) / noise) - stats.norm.cdf((shift - t) / noise)
    p_bias = float(w @ np.prod(bias_pass, axis=1))
    mean_chi = math.sqrt(2.0) * math.exp(math.lgamma(m / 2.0) - math.lgamma((m - 1) / 2.0))
    chi = stats.chi(m - 1)
    p_spread = np.prod(
        chi.cdf(mean_chi * (1 + eps / noise)) - chi.cdf(mean_chi * (1 - eps / noise))
    )
    return p_bias * float(p_spread)

"""The server's online weighting of client predictions: exponential weights (Hedge).

After round t the server has seen every client's loss ℓ_{s,k} ∈ [0, 1] for s < t and weights
client k by p_{t,k} ∝ exp(−η Σ_{s<t} ℓ_{s,k}). Two textbook guarantees against the best client
(Cesa-Bianchi & Lugosi, Prediction, Learning, and Games, Thms 2.2 and 3.3), both reported beside
the measured regret:

- Hedge, the expected loss Σ_t <p_t, ℓ_t> of a client drawn from p_t: regret ≤ ln K / η + η T / 8,
  which is sqrt((T/2) ln K) at the tuned η = sqrt(8 ln K / T);
- the mixture ŷ_t = Σ_k p_{t,k} f_{t,k} under the squared loss on [0, 1] (½-exp-concave): with
  η ≤ 1/2 its regret is ≤ ln K / η, independent of T.

Predictions and targets live in [0, 1] (clients' forecasts are clipped into it), so every loss
does too.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options

EXP_CONCAVE_ETA = 0.5  # the squared loss on [0, 1] is ½-exp-concave


class HedgeResult(NamedTuple):
    weights: np.ndarray  # [T, K] p_t, chosen before ℓ_t is seen
    loss: np.ndarray  # [T] <p_t, ℓ_t>
    regret: float  # Σ_t <p_t, ℓ_t> − min_k Σ_t ℓ_{t,k}
    bound: float  # ln K / η + η T / 8
    eta: float
    best: int  # the best client in hindsight


class Mixture(NamedTuple):
    prediction: np.ndarray  # [T] the server's forecast Σ_k p_{t,k} f_{t,k}
    weights: np.ndarray  # [T, K]
    regret: float  # Σ_t (ŷ_t − y_t)² − min_k Σ_t (f_{t,k} − y_t)²
    bound: float  # ln K / η
    eta: float
    rmse: float  # of the server's forecast
    best_rmse: float  # of the best single client in hindsight
    best: int
    hedge: HedgeResult  # Hedge with the tuned η on the clients' squared losses


@xla_options.jit
def _weights(losses, eta):
    past = jnp.cumsum(losses, axis=0) - losses  # Σ_{s<t} ℓ_s
    return jax.nn.softmax(-eta * past, axis=1)


def exponential_weights(losses, eta: float) -> np.ndarray:
    """p_t ∝ exp(−η Σ_{s<t} ℓ_s) for losses [T, K] (float64, vectorised over t)."""
    with jax.enable_x64(True):
        return np.asarray(_weights(jnp.asarray(losses, jnp.float64), jnp.float64(eta)))


def _check_losses(losses) -> np.ndarray:
    arr = np.asarray(losses, np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"losses: must be [T, K] with T, K >= 1, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError("losses: must be finite and in [0, 1]")
    return arr


def _check_eta(eta) -> float:
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 < eta < np.inf:
        raise ValueError(f"eta: must be a positive number, got {eta!r}")
    return float(eta)


def hedge(losses, eta: float | None = None) -> HedgeResult:
    """Hedge on losses [T, K] in [0, 1]; ``eta`` defaults to the tuned sqrt(8 ln K / T)."""
    arr = _check_losses(losses)
    T, K = arr.shape
    eta = math.sqrt(8.0 * math.log(K) / T) if eta is None else _check_eta(eta)
    if K == 1:
        eta = eta or 1.0
    p = exponential_weights(arr, eta)
    mine = np.sum(p * arr, axis=1)
    totals = arr.sum(axis=0)
    best = int(np.argmin(totals))
    bound = math.log(K) / eta + eta * T / 8.0
    return HedgeResult(p, mine, float(mine.sum() - totals[best]), bound, eta, best)


def mixture_forecast(predictions, targets, eta: float = EXP_CONCAVE_ETA) -> Mixture:
    """The server's online mixture of K clients' forecasts [T, K] of ``targets`` [T] in [0, 1].

    Clients are weighted by exponential weights on their squared losses (``eta`` ≤ 1/2 keeps
    the exp-concave bound ln K / η); ``hedge`` on the same losses is reported too.
    """
    f = np.asarray(predictions, np.float64)
    y = np.asarray(targets, np.float64)
    if f.ndim != 2 or y.shape != (f.shape[0],):
        raise ValueError(
            f"predictions, targets: must be [T, K] and [T], got {f.shape} and {y.shape}"
        )
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(y))):
        raise ValueError("predictions, targets: contain NaN or infinite values")
    if y.min() < 0 or y.max() > 1:
        raise ValueError("targets: must lie in [0, 1] (rescale the series)")
    eta = _check_eta(eta)
    if eta > EXP_CONCAVE_ETA:
        raise ValueError(f"eta: the exp-concave bound needs eta <= {EXP_CONCAVE_ETA}, got {eta}")
    f = np.clip(f, 0.0, 1.0)
    losses = (f - y[:, None]) ** 2
    p = exponential_weights(losses, eta)
    yhat = np.sum(p * f, axis=1)
    totals = losses.sum(axis=0)
    best = int(np.argmin(totals))
    mix = float(np.sum((yhat - y) ** 2))
    T, K = f.shape
    return Mixture(
        yhat,
        p,
        mix - float(totals[best]),
        math.log(K) / eta,
        eta,
        math.sqrt(mix / T),
        math.sqrt(float(totals[best]) / T),
        best,
        hedge(losses),
    )

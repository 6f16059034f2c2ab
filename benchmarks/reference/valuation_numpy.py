"""The authors' reward mechanism as they compute it (XinyiYS/CML-RewardDistribution), in numpy.

A line-by-line numpy transcription of their ``core/mmd.py`` (``mmd_neg_biased_batched``),
``core/reward_calculation.py`` (``get_v``: one MMD per coalition) and
``core/reward_realization.py`` (``weighted_sampling`` with ``v_update_batch_iter``): at every step
the gains of all remaining candidates are recomputed from scratch, Σ_j k(x, X_j) over the
party's current set and Σ_t k(x, t) over the whole reference set, in batches of 2048
candidates (and, as theirs, the diagonal k(c, c) from a full batch × batch matrix). Float64
(their tensors come from float64 numpy arrays); the squared distances by the
‖x‖² + ‖y‖² − 2x·y expansion, as GPyTorch's RBF kernel. This is the baseline of the
``rewards-sampling`` and ``rewards-coalitions`` benchmark cases.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import softmax


def kernel(x: np.ndarray, y: np.ndarray, lengthscale: float) -> np.ndarray:
    """exp(−‖x − y‖² / (2ℓ²)) [len(x), len(y)]."""
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.exp(-np.maximum(d2, 0.0) / (2.0 * lengthscale**2))


def mmd_neg_biased_batched(
    x: np.ndarray, y: np.ndarray, lengthscale: float, batch_size: int = 128
) -> tuple[float, float, float]:
    """(v, S_X, S_XY) with v = S_XY − S_X, accumulated over batches of x as they do."""
    max_m, n = len(x), len(y)
    s_xy = s_x = 0.0
    for i in range(max_m // batch_size + 1):
        next_m = min((i + 1) * batch_size, max_m)
        m = i * batch_size
        if next_m == m:
            continue
        s_xy = (m * s_xy + (2 / n) * kernel(x[m:next_m], y, lengthscale).sum()) / next_m
        s_x = (
            (m**2) * s_x
            + 2 * kernel(x[m:next_m], x[:m], lengthscale).sum()
            + kernel(x[m:next_m], x[m:next_m], lengthscale).sum()
        ) / next_m**2
    return s_xy - s_x, s_x, s_xy


def v_update_batch_iter(cands, x, y, s_x, s_xy, lengthscale, batch_size=2048):
    """v(X ∪ {c}) for every candidate c, recomputing its sums over X and over Y."""
    z, m, n = len(cands), len(x), len(y)
    s_x_new, s_xy_new = np.zeros(z), np.zeros(z)
    for i in range(int(np.ceil(z / batch_size))):
        sl = slice(i * batch_size, (i + 1) * batch_size)
        c = cands[sl]
        s_x_new[sl] = (
            (m**2) / ((m + 1) ** 2) * s_x
            + 2 / ((m + 1) ** 2) * kernel(c, x, lengthscale).sum(axis=1)
            + 1 / ((m + 1) ** 2) * np.diag(kernel(c, c, lengthscale))
        )  # as theirs
        s_xy_new[sl] = (m / (m + 1)) * s_xy + (2 / (n * (m + 1))) * kernel(c, y, lengthscale).sum(
            axis=1
        )
    return s_xy_new - s_x_new, s_x_new, s_xy_new


def weighted_sampling(
    rng: np.random.Generator,
    candidates: np.ndarray,
    d: np.ndarray,
    target: float,
    y: np.ndarray,
    lengthscale: float,
    inv_temp: float,
    max_steps: int | None = None,
    batch_size: int = 2048,
):
    """Their ``weighted_sampling``: returns (reward points, gains, values). ``max_steps`` cuts the
    loop short (for timing); everything else is theirs, early stop included."""
    mu, s_x, s_xy = mmd_neg_biased_batched(d, y, lengthscale)
    rewards, deltas, mus = [], [], [mu]
    g = candidates.copy()
    mu_max, since = mu, 0
    for step in range(len(candidates)):
        if len(g) == 1 or (max_steps is not None and step >= max_steps):
            break
        dur = d if not rewards else np.concatenate([d, np.array(rewards)])
        new, s_xs, s_xys = v_update_batch_iter(g, dur, y, s_x, s_xy, lengthscale, batch_size)
        weights = new - mu
        lo, hi = weights.min(), weights.max()
        weights = (weights - lo) / (hi - lo)
        idx = rng.choice(len(g), p=softmax(inv_temp * weights))
        delta = (new - mu)[idx]
        mu += delta
        deltas.append(delta)
        mus.append(mu)
        s_x, s_xy = s_xs[idx], s_xys[idx]
        rewards.append(g[idx].copy())
        g = np.delete(g, idx, axis=0)
        if mu > mu_max:
            mu_max, since = mu, 0
        else:
            since += 1
            if since >= 0.1 * len(candidates):
                break
        if mu >= target:
            break
    return rewards, deltas, mus


def coalition_values(parties: list[np.ndarray], y: np.ndarray, lengthscale: float) -> dict:
    """Their ``get_v``: v of every non-empty coalition, one MMD computation each."""
    v = {}
    for size in range(1, len(parties) + 1):
        for c in itertools.combinations(range(len(parties)), size):
            v[c] = mmd_neg_biased_batched(
                np.concatenate([parties[i] for i in c]), y, lengthscale, batch_size=32
            )[0]
    return v

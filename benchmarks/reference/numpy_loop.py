"""The paper-style sampled exchange for diagonal Gaussian players: numpy, a Python loop over players.

What a faithful per-player implementation of the authors' algorithm does each round
(PAPERS.md §1): every player draws its synthetic samples first, then every player refits by
maximum likelihood on the α-mixture of its own data and the others' samples. Same inputs and
same work as gtgen's compiled round (m samples per player per round, exact own-data moments,
expected routing), written the way a research script would be: one player at a time.
"""

from __future__ import annotations

import numpy as np


def own_moments(data: list[np.ndarray]) -> np.ndarray:
    """[N, 2d] sufficient statistics (x, x²) of each player's own data."""
    return np.stack([np.concatenate([x.mean(0), (x * x).mean(0)]) for x in data])


def exchange_round(
    rng: np.random.Generator, mu: np.ndarray, own: np.ndarray, alpha: np.ndarray, samples: int
) -> np.ndarray:
    """One round: each player samples, then each player refits on its α-mixture."""
    n, k = mu.shape
    d = k // 2
    sent = np.empty_like(mu)
    for j in range(n):  # every player draws its synthetic samples from its current model
        mean = mu[j, :d]
        std = np.sqrt(np.maximum(mu[j, d:] - mean * mean, 1e-6))
        x = rng.normal(mean, std, size=(samples, d))
        sent[j, :d] = x.mean(0)
        sent[j, d:] = (x * x).mean(0)
    new = np.empty_like(mu)
    for i in range(n):  # every player fits the α-weighted mixture (maximum likelihood)
        weights = alpha[i].copy()
        weights[i] = 0.0
        new[i] = alpha[i, i] * own[i] + weights @ sent
    return new


def solve(
    rng: np.random.Generator, own: np.ndarray, alpha: np.ndarray, samples: int, rounds: int
) -> np.ndarray:
    mu = own.copy()
    for _ in range(rounds):
        mu = exchange_round(rng, mu, own, alpha, samples)
    return mu

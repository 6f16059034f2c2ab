"""A per-agent numpy simulation of a mean-field population: the baseline of meanfield-population.

What a research script does for N agents under a class-symmetric affine policy
u^i_t = −K[c,t] x^i_t − L[c,t] M_t − k[c,t] (M_t the class means): a loop over time, and inside it
a loop over agents that computes each agent's control, its stage cost and its next state. Same
inputs, same arithmetic as ``gtgen.mechanisms.meanfield.simulate`` with explicit noise.
"""

from __future__ import annotations

import numpy as np


def simulate(game, counts, policy, x0: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Every agent's realised discounted cost [N] (agents ordered by class)."""
    types = np.repeat(np.arange(game.classes), counts)
    share = np.asarray(counts) / np.sum(counts)
    y = game.targets()
    x = np.array(x0, dtype=np.float64)
    cost = np.zeros(len(types))
    T, beta = game.horizon, game.discount

    def means_of(x):
        return np.stack([x[types == c].mean(axis=0) for c in range(game.classes)])

    def state_cost(i, c, xi, means, t):
        xbar = share @ means
        d = xi - y[c, t]
        e = xi - game.Gamma[c] @ xbar - game.eta[c]
        return d @ game.Q[c] @ d + e @ game.Qbar[c] @ e

    for t in range(T):
        means = means_of(x)
        flat = means.reshape(-1)
        new = np.empty_like(x)
        for i, c in enumerate(types):  # one agent at a time
            u = -(policy.K[c, t] @ x[i] + policy.L[c, t] @ flat + policy.k[c, t])
            cost[i] += beta**t * (state_cost(i, c, x[i], means, t) + u @ game.R[c] @ u)
            new[i] = game.A[c] @ x[i] + game.B[c] @ u + noise[t, i]
        x = new
    means = means_of(x)
    for i, c in enumerate(types):
        cost[i] += beta**T * state_cost(i, c, x[i], means, T)
    return cost

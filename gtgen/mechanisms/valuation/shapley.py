"""Coalition values from block kernel sums, and Shapley values (exact or permutation Monte Carlo).

A coalition C of parties has the data S = ∪_{a∈C} D_a (concatenated, as the authors do), and

    v(S) = (2 / (|S| |T|)) Σ_{S×T} k − (1 / |S|²) Σ_{S×S} k,        v(∅) = 0,

which with a 0/1 vector w over the parts (G included as the last part) and the block sums P is

    |S| = w·counts,   Σ_{S×S} k = wᵀ P w,   Σ_{S×T} k = w·(P 1):

O(n²) per coalition once P is known, instead of an O(|S| |T|) kernel pass per coalition.
Everything here is small float64 algebra on the host (numpy): 2^12 coalitions × 13² parts at most.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import numpy as np

from gtgen.mechanisms.valuation.kernel import KernelSums

EXACT_MAX_PARTIES = 12  # exact Shapley values (2^n coalitions) up to this many parties


def values_of(sums: KernelSums, members: np.ndarray) -> np.ndarray:
    """v of the unions of parts selected by ``members`` [..., parts] (0/1 over the parts)."""
    w = np.asarray(members, np.float64)
    size = w @ sums.counts.astype(np.float64)
    inner = np.einsum("...a,ab,...b->...", w, sums.blocks, w)
    cross = w @ sums.blocks.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = 2.0 * cross / (size * sums.n_reference) - inner / size**2
    return np.where(size > 0, v, 0.0)


def member_bits(masks: np.ndarray, n: int) -> np.ndarray:
    """[len(masks), n] 0/1: bit i of each integer mask (party i is in the coalition)."""
    return ((np.asarray(masks)[:, None] >> np.arange(n)) & 1).astype(np.int64)


class CoalitionTable(NamedTuple):
    """v of every coalition: ``values[mask]``, party i in coalition ``mask`` iff bit i is set."""

    values: np.ndarray  # [2^n] float64, values[0] = v(∅) = 0
    n_parties: int

    def value(self, coalition) -> float:
        """v of a coalition given as an iterable of party indices."""
        return float(self.values[sum(1 << int(i) for i in set(coalition))])


def coalition_table(sums: KernelSums) -> CoalitionTable:
    """All 2^n coalition values from the block sums (n ≤ ``EXACT_MAX_PARTIES``)."""
    n = sums.n_parties
    if n > EXACT_MAX_PARTIES:
        raise ValueError(
            f"parties: {n} parties have 2^{n} coalitions; the table is kept for at most "
            f"{EXACT_MAX_PARTIES} (Shapley values beyond come from permutation sampling)"
        )
    members = sums.parties(member_bits(np.arange(2**n), n))  # G is never part of a coalition
    return CoalitionTable(values_of(sums, members), n)


def shapley_exact(table: CoalitionTable) -> np.ndarray:
    """φ_i = Σ_{S ∌ i} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S)), over the table."""
    n = table.n_parties
    masks = np.arange(2**n)
    size = member_bits(masks, n).sum(axis=1)
    weight = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) for s in range(n)], np.float64
    ) / math.factorial(n)
    phi = np.zeros(n)
    for i in range(n):  # n ≤ 12 vectorised passes over the 2^n table
        without = masks[(masks >> i) & 1 == 0]
        gains = table.values[without | (1 << i)] - table.values[without]
        phi[i] = np.sum(weight[size[without]] * gains)
    return phi


class ShapleyEstimate(NamedTuple):
    """Shapley values, and their standard errors (zeros when exact)."""

    phi: np.ndarray
    standard_error: np.ndarray
    permutations: int  # permutations averaged (0: exact)


def shapley_monte_carlo(
    sums: KernelSums, key: jax.Array, permutations: int = 2000
) -> ShapleyEstimate:
    """Permutation sampling: φ_i = E_π[v(P_i^π ∪ {i}) − v(P_i^π)] over uniform orders π, with
    the standard error of the mean. Each order's prefix values come from cumulative block sums:
    O(n²) per order, vectorised over all orders."""
    n = sums.n_parties
    keys = jax.random.split(key, permutations)
    order = np.asarray(jax.vmap(lambda k: jax.random.permutation(k, n))(keys))  # [M, n]
    blocks = sums.blocks[:n, :n]
    permuted = blocks[order[:, :, None], order[:, None, :]]  # [M, n, n]
    inner = np.cumsum(np.cumsum(permuted, axis=1), axis=2)
    inner = np.diagonal(inner, axis1=1, axis2=2)  # Σ_{S×S} of each prefix S
    cross = np.cumsum(sums.blocks.sum(axis=1)[order], axis=1)
    size = np.cumsum(sums.counts[order].astype(np.float64), axis=1)
    prefix = 2.0 * cross / (size * sums.n_reference) - inner / size**2  # v of prefixes
    gains = np.diff(prefix, axis=1, prepend=0.0)  # marginal of the party at each position
    per_party = np.empty_like(gains)
    np.put_along_axis(per_party, order, gains, axis=1)
    se = (
        per_party.std(axis=0, ddof=1) / math.sqrt(permutations)
        if permutations > 1
        else np.full(n, np.inf)
    )
    return ShapleyEstimate(per_party.mean(axis=0), se, permutations)

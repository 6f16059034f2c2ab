"""Participation dynamics as a research script would write them: numpy, one replicate at a time.

The baseline of ``benchmarks/verification_cases.py`` and an independent oracle for the tests of
``gtgen.mechanisms.verification``: the same model, written separately — welfare weights by an
explicit KKT solve on every threshold support (``np.linalg.solve`` on Q_S = V_S + b_S b_Sᵀ, not
Sherman–Morrison), Python loops over agents and rounds, numpy's generator for the test draws.
"""

from __future__ import annotations

import math

import numpy as np

TOL = 1e-6


def risk(kind: str, w: np.ndarray, types: np.ndarray, n: int, scale: float) -> float:
    if kind == "mean":
        return float((w @ types[:, 0]) ** 2 + np.sum(w * w * types[:, 1] ** 2) / n)
    signal = math.sqrt(2 / math.pi) * float(w @ (1 - 2 * types[:, 0]))
    return math.atan2(math.sqrt((scale - 1) / n) * float(np.linalg.norm(w)), signal) / math.pi


def weights(kind: str, reports: np.ndarray, n: int, mask: np.ndarray, pooling: bool) -> np.ndarray:
    idx = np.flatnonzero(mask)
    w = np.zeros(mask.size)
    if pooling:
        w[idx] = 1 / idx.size
        return w
    if kind == "classification":
        q = 1 - 2 * reports[idx, 0]
        w[idx] = q / q.sum()
        return w
    b, v = reports[idx, 0], reports[idx, 1] ** 2 / n
    best, best_value = None, math.inf
    for order in (np.argsort(b, kind="stable"), np.argsort(-b, kind="stable")):
        for length in range(1, idx.size + 1):
            s = order[:length]
            q = np.diag(v[s]) + np.outer(b[s], b[s])
            x = np.linalg.solve(q, np.ones(length))
            x /= x.sum()
            value = float(x @ q @ x)
            if np.all(x >= -1e-9) and value < best_value:
                best, best_value = (s, np.clip(x, 0, None)), value
    w[idx[best[0]]] = best[1] / best[1].sum()
    return w


def dynamics(
    kind: str,
    types: np.ndarray,
    reports: np.ndarray,
    eligible: np.ndarray,
    fee: float,
    n: int,
    scale: float,
    pooling: bool,
    max_rounds: int,
):
    """(members, sizes per round, moves): best-response rounds from the eligible agents."""
    agents = types.shape[0]
    alone = np.array([risk(kind, np.eye(agents)[j], types, n, scale) for j in range(agents)])
    members = eligible.copy()
    sizes, moves = [int(members.sum())], 0
    for _ in range(max_rounds):
        new = members.copy()
        for j in range(agents):
            inside = members.copy()
            inside[j] = True
            u_in = -risk(kind, weights(kind, reports, n, inside, pooling), types, n, scale) - fee
            u_out, tol = -alone[j], TOL * abs(alone[j]) + 1e-12
            new[j] = eligible[j] and (u_in >= u_out - tol if members[j] else u_in > u_out + tol)
        sizes.append(int(new.sum()))
        if np.array_equal(new, members):
            break
        members, moves = new, moves + 1
    return members, sizes, moves


def estimates(
    kind: str, rng: np.random.Generator, types: np.ndarray, scale: float, m: int
) -> np.ndarray:
    """The test statistics, from the agents' m raw samples and m trusted samples."""
    if kind == "classification":
        return (rng.binomial(m, types[:, 0]) / m)[:, None]
    x = rng.normal(types[:, :1], types[:, 1:], size=(types.shape[0], m))
    ref = rng.normal(0.0, scale, size=m)
    return np.stack([x.mean(1) - ref.mean(), x.std(1, ddof=1) / _c4(m)], axis=1)


def _c4(m: int) -> float:
    return math.sqrt(2 / (m - 1)) * math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2))


def simulate(
    kind: str,
    types: np.ndarray,
    n: int,
    scale: float,
    cost: float,
    mechanisms: list[tuple[bool, float, int]],
    replicates: int,
    seed: int = 0,
    max_rounds: int = 12,
) -> np.ndarray:
    """[S, R] final coalition sizes for mechanisms (pooling, eps, m), truthful reports."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(mechanisms), replicates), int)
    for s, (pool, eps, m) in enumerate(mechanisms):
        for r in range(replicates):
            tested = math.isfinite(eps)
            ok = np.ones(types.shape[0], bool)
            if tested:
                ok = np.max(np.abs(estimates(kind, rng, types, scale, m) - types), axis=1) <= eps
            members, _, _ = dynamics(
                kind, types, types, ok, cost * m * tested, n, scale, pool, max_rounds
            )
            out[s, r] = members.sum()
    return out

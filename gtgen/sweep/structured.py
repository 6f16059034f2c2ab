"""Games too large for a dense α: the exchange with a sparse α in O(N·m) memory.

With N = 10^5 players a dense [N, N] α takes 40 GB, and the core's round multiplies by it. Here α
is a ``Structure`` (gtgen.sweep.families): self-weights plus, per player, its sources. A round
draws m samples per player ([N, m, *event], the O(N·m) term), reduces them to each sender's mean
statistics [N, K], and every receiver mixes the means of its sources:

- ``uniform``:    (1 − a_i)/(N − 1) · (Σ_j s_j − s_i), the pooled mean-field sum, O(N·K);
- ``star``:       the hub takes the leaves' pooled sum, each leaf the hub's mean;
- ``neighbors``:  Σ_k w_ik s_{index_ik}, a gather of k rows per player.

This is the ``expected`` routing of gtgen.exchange.statistics (each sender's samples weighed by α_ij) without
the [N, N] product. Each sender's mean statistics of its m samples are drawn from their exact law
(the statistic draw of gtgen.exchange, ``draw_group_statistics``): O(N·K) per round whatever m,
and m is a traced input. Solvers: ``sampled`` (with damping and iterate averaging after burn-in, as in
gtgen.exchange) and ``exact``. The player axis can be sharded over devices: jit partitions every
[N, …] array and gathers the [N, K] means where a receiver needs another shard's sender.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.exchange.statistics import draw_group_statistics
from gtgen.solvers.loop import run_rounds
from gtgen.solvers.solve import advance, init_state, stop_scale
from gtgen.sweep.families import Structure


def inflow(kind: str, stats, self_weight, index, weight, xp=jnp):
    """Σ_{j≠i} α_ij s_j for every receiver i, from senders' statistics ``stats`` [N, K]."""
    n = stats.shape[0]
    if kind == "uniform":
        c = (1.0 - self_weight) / (n - 1)
        return c[:, None] * (stats.sum(axis=0)[None, :] - stats)
    if kind == "star":
        hub = (1.0 - self_weight[0]) / (n - 1) * (stats.sum(axis=0) - stats[0])
        leaves = (1.0 - self_weight[1:])[:, None] * stats[0][None, :]
        return xp.concatenate([hub[None, :], leaves], axis=0)
    if index.shape[1] == 0:
        return xp.zeros_like(stats)
    return xp.einsum("nk,nkd->nd", weight, stats[index])


def make_structured_solver(player, kind: str, method: str, rounds: int, trace: int | None = None):
    """``run(key, self_weight, index, weight, data, weights, damping, burn_in, tol, reference,
    samples, limit=None)``, ``samples`` the traced sample count m of the sampled method.

    ``trace``: how many rounds the trace records (None: every round; 0: none). ``limit`` (the
    sampled method at ``trace=0``): a traced round count up to ``rounds`` run in place of
    ``rounds``, so that one program serves every count (``gtgen.solvers.loop.run_rounds``).

    Every argument has a leading axis of games (run in lockstep by ``gtgen.solvers.loop.run_rounds``,
    the loop of ``gtgen.solvers.make_solver``). Returns ``(params, trace, rounds_run)`` with the
    same conventions: the iterate average when averaging ran, NaN trace entries after the last
    round, stop once the relative step is below ``tol``.
    """

    def prepare(
        key, self_weight, index, weight, data, weights, damping, burn_in, reference, samples
    ):
        own = jax.vmap(player.init)(data, weights)
        context = (own, self_weight, index, weight, damping, burn_in, reference, samples)
        return context, (init_state((own,)), key)

    def step(context, carry):
        own, self_weight, index, weight, damping, burn_in, reference, samples = context
        state, key = carry
        (params,) = state.params
        if method == "sampled":
            key, sub = jax.random.split(key)
            seen = draw_group_statistics(player, sub, params, samples)
        else:
            seen = params
        best = self_weight[:, None] * own + inflow(kind, seen, self_weight, index, weight)
        new = params + damping * (best - params)
        state, info = advance(state, (new,), burn_in if method == "sampled" else None, (reference,))
        return (state, key), info

    def run(
        key,
        self_weight,
        index,
        weight,
        data,
        weights,
        damping,
        burn_in,
        tol,
        reference,
        samples,
        limit=None,
    ):
        context, carry = jax.vmap(prepare)(
            key, self_weight, index, weight, data, weights, damping, burn_in, reference, samples
        )
        (state, _), rows, t = run_rounds(
            step, stop_scale, context, carry, tol, rounds, trace, method != "sampled", limit
        )
        params = jnp.where(state.count[:, None, None] > 0, state.average[0], state.params[0])
        return params, rows, t

    return run


def exact_best_response(player, kind: str, own, params, self_weight, index, weight):
    """Every player's exact best response (moment matching) under a structured α."""
    return self_weight[:, None] * own + inflow(kind, params, self_weight, index, weight)


def closed_form(st: Structure, own: np.ndarray, tol: float = 1e-13, max_iter: int = 100_000):
    """μ* = (I − B)^{-1} D m in float64 without forming B: exact for uniform, iterated otherwise."""
    own = np.asarray(own, np.float64)
    d = st.self_weight[:, None]
    if st.kind == "uniform":  # μ_i (1 + c_i) = a_i m_i + c_i S with S = Σ_j μ_j
        c = ((1.0 - st.self_weight) / (len(own) - 1))[:, None]
        lead = d * own / (1.0 + c)
        total = lead.sum(axis=0) / (1.0 - (c / (1.0 + c)).sum())
        return lead + c / (1.0 + c) * total[None, :]
    mu = own.copy()
    scale = max(1.0, float(np.max(np.abs(own))))
    for _ in range(max_iter):
        new = d * own + inflow(st.kind, mu, st.self_weight, st.index, st.weight, xp=np)
        if np.max(np.abs(new - mu)) < tol * scale:
            return new
        mu = new
    return mu


def rate(st: Structure, dense_alpha: np.ndarray | None = None) -> float:
    """ρ(B), the linear rate of best-response iteration.

    For a non-negative B whose rows all sum to r, ρ(B) = r (Perron–Frobenius), which covers every
    family here unless a small-world player was left isolated; then small games use eigenvalues,
    large ones power iteration with the structured product.
    """
    n = len(st.self_weight)
    if st.kind in ("uniform", "star"):
        sums = 1.0 - st.self_weight
    else:
        sums = st.weight.sum(axis=1)
    if np.ptp(sums) < 1e-12:
        return float(sums[0])
    if dense_alpha is not None and n <= 256:
        off = dense_alpha - np.diag(np.diagonal(dense_alpha))
        return float(np.max(np.abs(np.linalg.eigvals(off))))
    v = np.ones((n, 1))
    value = 0.0
    for _ in range(5000):
        w = inflow(st.kind, v, st.self_weight, st.index, st.weight, xp=np)
        norm = float(np.linalg.norm(w))
        if norm == 0.0:
            return 0.0
        new_value = norm / float(np.linalg.norm(v))
        v = w / norm
        if abs(new_value - value) < 1e-12:
            break
        value = new_value
    return value


def device_structure(st: Structure) -> dict[str, Any]:
    """The structure's arrays as the program's float32 / int32 inputs."""
    return {
        "self_weight": np.asarray(st.self_weight, np.float32),
        "index": np.asarray(st.index, np.int32),
        "weight": np.asarray(st.weight, np.float32),
    }

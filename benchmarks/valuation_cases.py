"""Benchmark cases of gtgen.mechanisms.valuation against the authors' way of computing
(benchmarks/reference/valuation_numpy.py, a numpy transcription of their code).

``rewards_sampling``: weighted sampling on the authors' 2-D setting with |D_i| = 1000 and
|G| = 10^4 (|T| = 1.5·10^4). Figures, measured in one run:
- ``gtgen_step_us``: one party's step in gtgen's compiled loop (five parties in lockstep,
  the time of a run of k2 steps minus one of k1 steps, per party and step): O(|G|) kernel
  evaluations, the caches Σ_t k(x, t) computed once;
- ``baseline_step_ms``: one step of the authors' loop, which recomputes Σ_j k(x, X_j) and
  Σ_t k(x, t) for every candidate: O(|G| (|X| + |T|));
- ``ratio_per_step`` = baseline / gtgen (target ≥ 100);
- ``ratio_end_to_end_projected``: gtgen's whole sampling to the LP's targets (kernel sums
  included, compiled beforehand) against the baseline's measured step time × the same number
  of steps (projected: the baseline would take hours).

``rewards_coalitions``: all 2^n − 1 coalition values of n = 6 parties (|D_i| = 300,
|G| = 3000): gtgen's block sums (one tiled pass, the full T × T) and the coalition table,
against the authors' one MMD computation per coalition; ``ratio`` and the largest difference of
the values.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks.reference import valuation_numpy
from benchmarks.timing import median_seconds
from gtgen.experiments.rewards import gmm_setting
from gtgen.mechanisms import valuation as val

SAMPLING = {
    "party_size": 1000,
    "candidates": 10_000,
    "k1": 100,
    "k2": 600,
    "baseline_steps": 2,
    "repeats": 3,
}
SAMPLING_QUICK = {
    "party_size": 100,
    "candidates": 1000,
    "k1": 10,
    "k2": 60,
    "baseline_steps": 1,
    "repeats": 1,
}
COALITIONS = {"parties": 6, "party_size": 300, "candidates": 3000, "repeats": 3}
COALITIONS_QUICK = {"parties": 4, "party_size": 100, "candidates": 500, "repeats": 1}


def rewards_sampling(quick: bool = False, sizes: dict | None = None) -> dict:
    s = sizes or (SAMPLING_QUICK if quick else SAMPLING)
    setting = gmm_setting("equaldisjoint", s["party_size"], s["candidates"], "numpy")
    valuation = val.value(setting.parties, setting.candidates)
    n = valuation.sums.n_parties
    unreachable = np.full(n, 10.0)
    key = jax.random.key(0)

    def steps(k):
        return median_seconds(
            lambda: (
                val.sample_rewards(
                    valuation, unreachable, key, beta=1.0, max_steps=k
                ).sampling.value
            ),
            repeats=s["repeats"],
        )

    t_step = max(steps(s["k2"]) - steps(s["k1"]), 1e-9) / (s["k2"] - s["k1"]) / n

    t = np.concatenate([*setting.parties, setting.candidates])
    rng = np.random.default_rng(0)
    ell, d0 = valuation.lengthscale, setting.parties[0]

    def baseline(k):
        start = time.perf_counter()
        valuation_numpy.weighted_sampling(
            rng, setting.candidates, d0, 10.0, t, ell, 1.0, max_steps=k
        )
        return time.perf_counter() - start

    t_base = max(baseline(s["baseline_steps"]) - baseline(0), 1e-9) / s["baseline_steps"]

    plan = val.reward_plan(valuation.sums, valuation.phi, "rational")

    def end_to_end():
        again = val.value(setting.parties, setting.candidates, lengthscale=ell)  # the caches
        return val.sample_rewards(again, plan.targets, key, beta=1.0)

    t_total = median_seconds(lambda: end_to_end().sampling.value, repeats=1)
    total_steps = int(end_to_end().counts.sum())
    g, x = len(setting.candidates), len(d0)
    return {
        "name": "rewards-sampling",
        "parties": n,
        "party_size": x,
        "candidates": g,
        "reference": len(t),
        "gtgen_step_us": 1e6 * t_step,
        "baseline_step_ms": 1e3 * t_base,
        "ratio_per_step": t_base / t_step,
        "kernel_evals_per_step_gtgen": g,
        "kernel_evals_per_step_baseline": g * (x + len(t)),
        "steps_to_targets": total_steps,
        "gtgen_total_s": t_total,
        "baseline_total_s_projected": total_steps * t_base,
        "ratio_end_to_end_projected": total_steps * t_base / t_total,
        "targets": {"ratio_per_step": 100},
    }


def rewards_coalitions(quick: bool = False, sizes: dict | None = None) -> dict:
    s = sizes or (COALITIONS_QUICK if quick else COALITIONS)
    rng = np.random.default_rng(1)
    n, ell = s["parties"], 0.2
    centres = rng.uniform(size=(n, 2))
    parties = [rng.normal(c, 0.08, (s["party_size"], 2)) for c in centres]
    cand = rng.normal(centres[rng.integers(n, size=s["candidates"])], 0.08)
    t = np.concatenate([*parties, cand])

    def ours():
        lay = val.layout([*parties, cand])
        return val.coalition_table(val.kernel_sums(lay, ell, n)).values

    t_ours = median_seconds(ours, repeats=s["repeats"])
    start = time.perf_counter()
    theirs = valuation_numpy.coalition_values(parties, t, ell)
    t_base = time.perf_counter() - start
    table = ours()
    diff = max(abs(table[sum(1 << i for i in c)] - v) for c, v in theirs.items())
    return {
        "name": "rewards-coalitions",
        "parties": n,
        "party_size": s["party_size"],
        "candidates": s["candidates"],
        "coalitions": 2**n - 1,
        "gtgen_ms": 1e3 * t_ours,
        "baseline_ms": 1e3 * t_base,
        "ratio": t_base / t_ours,
        "max_value_difference": float(diff),
    }


CASES = [rewards_sampling, rewards_coalitions]

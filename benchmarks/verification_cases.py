"""Verification benchmark case: the participation dynamics' Monte Carlo, compiled against a loop.

``verification_replicates``: the stated mean-estimation setting (J = 5, n = 50), 16 mechanisms
(pooling, full information, verification at 14 test sizes m from 10 to 1200), every
replicate's test draw and best-response dynamics. Figures, measured in one run on one machine:

- ``program_replicate_us``: gtgen's compiled program (``gtgen.mechanisms.verification.simulate``:
  ``vmap`` over mechanisms and replicates of a ``lax.while_loop``), end to end (host arrays in
  and out), compile excluded, per replicate and mechanism;
- ``loop_replicate_us``: benchmarks/reference/verification_loop.py (numpy, one replicate at a
  time, Python loops over rounds and agents, raw test samples), per replicate and mechanism;
- ``ratio_vs_loop``: their ratio.
"""

from __future__ import annotations

import time

import jax

from benchmarks.reference import verification_loop
from benchmarks.timing import median_seconds
from gtgen.mechanisms import verification as vf

TEST_SIZES = (10, 20, 38, 50, 75, 100, 150, 200, 300, 400, 500, 600, 900, 1200)


def verification_replicates(quick: bool = False) -> dict:
    task = vf.mean_estimation([0.0, 0.5, 1.0, 1.5, 2.0], 1.0, samples=50, cost=1e-7)
    mechanisms = [vf.pooling(), vf.full_information()]
    mechanisms += [vf.verification(0.2, m) for m in TEST_SIZES]
    replicates, loop_replicates = (1024, 4) if quick else (16384, 40)
    key = jax.random.key(0)
    program = median_seconds(
        lambda: vf.simulate(task, mechanisms, key, replicates).members, repeats=3 if quick else 5
    )
    loop_mechanisms = [(True, float("inf"), 0), (False, float("inf"), 0)]
    loop_mechanisms += [(False, 0.2, m) for m in TEST_SIZES]
    start = time.perf_counter()
    verification_loop.simulate(
        "mean", task.types, task.samples, task.scale, task.cost, loop_mechanisms, loop_replicates
    )
    loop = time.perf_counter() - start
    per_program = program / (replicates * len(mechanisms))
    per_loop = loop / (loop_replicates * len(mechanisms))
    return {
        "name": "verification-replicates",
        "replicates": replicates,
        "loop_replicates": loop_replicates,
        "mechanisms": len(mechanisms),
        "program_s": program,
        "program_replicate_us": 1e6 * per_program,
        "loop_replicate_us": 1e6 * per_loop,
        "ratio_vs_loop": per_loop / per_program,
        "targets": {"ratio_vs_loop": "≥ 100"},
    }


CASES = [verification_replicates]

if __name__ == "__main__":
    print(verification_replicates(quick=True))

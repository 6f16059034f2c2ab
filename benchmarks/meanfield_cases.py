"""Mean-field benchmark case: simulating a decentralised population, against a per-agent loop.

``meanfield_population``: a 3-class LQ mean-field game (n = 2, m = 1, T = 50, classes drawn by
``random_game``), every agent on the decentralised equilibrium policy in feedback form (its own
state and the class means). Figures, all measured in this run:
- ``agents_per_s``: agent-steps per second of ``gtgen.mechanisms.meanfield.simulate`` at the
  largest N (10^6; 10^5 with --quick), the public call end to end (noise drawn inside the program,
  costs returned), compile excluded;
- ``time_exponent``: log-log slope of simulate's time against N (three sizes; two with --quick;
  1 = linear);
- ``ratio_vs_loop``: the per-agent numpy loop of benchmarks/reference/meanfield_loop.py (a loop
  over time, inside it a loop over agents), timed on ``loop_agents`` agents and scaled linearly
  to N (it is linear by construction), divided by gtgen's time at N;
- ``loop_agreement``: max relative difference of the two implementations' per-agent costs on
  the loop's population with the same explicit noise (they compute the same thing).
"""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks.reference import meanfield_loop
from benchmarks.timing import median_seconds
from gtgen.mechanisms import meanfield as mf


def _scenario(horizon: int = 50):
    game = mf.random_game(seed=0, classes=3, n=2, m=1, horizon=horizon, coupling=1.0)
    return game, mf.decentralised_policy(mf.solve(game))


def meanfield_population(quick: bool = False, sizes: dict | None = None) -> dict:
    s = {"agents": (10_000, 100_000, 1_000_000), "loop_agents": 300, "repeats": 3, "horizon": 50}
    if quick:
        s.update(agents=(30_000, 100_000), loop_agents=60, repeats=2)
    s.update(sizes or {})
    game, policy = _scenario(s["horizon"])
    key = jax.random.key(0)
    times = []
    for n in s["agents"]:
        counts = mf.population(game, n)
        times.append(
            median_seconds(
                lambda c=counts: mf.simulate(game, c, policy, key).cost, repeats=s["repeats"]
            )
        )
    exponent = float(np.polyfit(np.log(s["agents"]), np.log(times), 1)[0])

    counts = mf.population(game, s["loop_agents"])
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((s["loop_agents"], game.n))
    noise = 0.1 * rng.standard_normal((game.horizon, s["loop_agents"], game.n))
    start = time.perf_counter()
    loop_cost = meanfield_loop.simulate(game, counts, policy, x0, noise)
    t_loop = time.perf_counter() - start
    ours = mf.simulate(game, counts, policy, x0=x0, noise=noise).cost
    agreement = float(np.max(np.abs(ours - loop_cost) / np.maximum(1.0, np.abs(loop_cost))))
    top = s["agents"][-1]
    per_agent_loop = t_loop / s["loop_agents"]
    return {
        "name": "meanfield-population",
        "classes": game.classes,
        "n": game.n,
        "horizon": game.horizon,
        "agents": list(s["agents"]),
        "simulate_s": times,
        "agents_per_s": top * game.horizon / times[-1],
        "time_exponent": exponent,
        "loop_agents": s["loop_agents"],
        "loop_s": t_loop,
        "loop_projected_s": per_agent_loop * top,
        "ratio_vs_loop": per_agent_loop * top / times[-1],
        "loop_agreement": agreement,
        "targets": {
            "ratio_vs_loop": "≥ 100",
            "time_exponent": "0.8 … 1.2 (linear in N)",
            "loop_agreement": "≤ 1e-10",
        },
        "note": "loop timed on loop_agents and scaled linearly to the largest N",
    }


CASES = [meanfield_population]

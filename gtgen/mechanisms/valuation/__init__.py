"""Synthetic data as rewards: MMD valuation, Shapley fairness, the reward LP, weighted sampling.

Tay, Xu, Foo, Low, "Incentivizing Collaboration in Machine Learning via Synthetic Data Rewards"
(AAAI 2022, arXiv 2112.09327; code XinyiYS/CML-RewardDistribution), PAPERS.md §2. Parties hold
data D_i; a generator trained on the pool gives candidates G; T = (∪ D_i) ∪ G; k is the
squared-exponential kernel exp(−‖x − y‖² / (2ℓ²)), one lengthscale for every dimension.

1. Value of a set: v(S) = mean_{T×T} k − MMD²_biased(S, T) = 2 mean_{S×T} k − mean_{S×S} k
   (the authors drop the constant; so does gtgen), v(∅) = 0.
2. Lengthscale: the smallest ℓ in [0.01, 1000] with v(D_i) ≥ 0 for every party (``kernel``).
3. Coalition values of all 2^n coalitions from block kernel sums computed once, Shapley values φ
   (exact for n ≤ 12, permutation Monte Carlo beyond) and α = φ / max φ (``shapley``).
4. Targets r_i = v* α_i^ρ from a linear program in (log v*, ρ) (``lp``).
5. Rewards: weighted sampling from G until v(D_i ∪ R_i) ≥ r_i (``sampling``).

    from gtgen.mechanisms import valuation
    out = valuation.rewards(parties, candidates, jax.random.key(0), beta=2.0)
    out.plan.targets, out.counts, out.points(0), out.mmd2

    result = valuation.reward_game(game, gtgen.solve(game, key), key, pool_size=10_000)

Where gtgen differs from the authors' public code, and why:

- The lengthscale search bisects in log ℓ to a relative width of 1e-3 (14 evaluations); the
  authors bisect linearly for 20 steps (an absolute width of 1e-3, 1.5% at their ℓ = 0.067), and
  raise when the lower end is already valid, where gtgen returns it (it is the smallest in range).
- Coalition values come from block sums, O(|T|²) once; the authors recompute an MMD per
  coalition. Shapley values come from the coalition table (the authors enumerate n! orders).
- The LP's status is checked (``lp``): an infeasible stable program falls back to individual
  rationality, said in one line (``StabilityFallback``) and recorded; the authors' code returns
  v* = 1, ρ = 0 silently.
- Sampling caches Σ_t k(x, t) per candidate once: O(|G|) kernel evaluations per step against
  their O(|G| · |T|). All gains equal: uniform draw (they divide by zero). A party whose own data
  already reaches its target gets no point (they always add one); the pool may be used up (they
  stop with one candidate left). Early stopping is an option (``early_stop=0.1`` is theirs).
- ``pool="disjoint"`` (not in the authors' code) splits G into disjoint random shares.
"""

from gtgen.mechanisms.valuation.kernel import (
    KernelSums,
    LengthscaleSearch,
    kernel_sums,
    layout,
    search_lengthscale,
)
from gtgen.mechanisms.valuation.lp import (
    CONDITIONS,
    RewardPlan,
    StabilityFallback,
    reward_plan,
    solve_lp,
)
from gtgen.mechanisms.valuation.rewards import (
    AUTHORS_PATIENCE,
    POOLS,
    Draw,
    GameRewards,
    Rewards,
    Valuation,
    mmd2_unbiased,
    reward_game,
    rewards,
    sample_rewards,
    validate_inputs,
    value,
)
from gtgen.mechanisms.valuation.sampling import (
    EARLY_STOP,
    EXHAUSTED,
    REACHED,
    STATUS_NAMES,
    STEP_LIMIT,
    Sampling,
)
from gtgen.mechanisms.valuation.shapley import (
    EXACT_MAX_PARTIES,
    CoalitionTable,
    ShapleyEstimate,
    coalition_table,
    shapley_exact,
    shapley_monte_carlo,
    values_of,
)

__all__ = [
    "AUTHORS_PATIENCE",
    "CONDITIONS",
    "EARLY_STOP",
    "EXACT_MAX_PARTIES",
    "EXHAUSTED",
    "POOLS",
    "REACHED",
    "STATUS_NAMES",
    "STEP_LIMIT",
    "CoalitionTable",
    "Draw",
    "GameRewards",
    "KernelSums",
    "LengthscaleSearch",
    "RewardPlan",
    "Rewards",
    "Sampling",
    "ShapleyEstimate",
    "StabilityFallback",
    "Valuation",
    "coalition_table",
    "kernel_sums",
    "layout",
    "mmd2_unbiased",
    "reward_game",
    "reward_plan",
    "rewards",
    "sample_rewards",
    "search_lengthscale",
    "shapley_exact",
    "shapley_monte_carlo",
    "solve_lp",
    "validate_inputs",
    "value",
    "values_of",
]

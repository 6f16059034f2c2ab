"""Unravelling in collaborative learning, and its cure by probabilistic verification.

After Capitaine, Boursier, Scheid, Moulines, Jordan, El-Mhamdi, Durmus, "Unravelling in
Collaborative Learning" (NeurIPS 2024, arXiv 2407.14332). Only the abstract is public: the
model below is **gtgen's formulation** (PAPERS.md §4), not the paper's text.

    from gtgen.mechanisms import verification as vf
    task = vf.mean_estimation(bias=[0, .5, 1, 1.5, 2], noise=1.0, samples=50, cost=1e-7)
    g = vf.guarantee(task, eps=0.2, delta=0.05)               # g.samples = 599
    out = vf.simulate(task, [vf.pooling(), vf.full_information(),
                             vf.verification(0.2, g.samples)], jax.random.key(0), 4096)
    out.grand_stable.mean(axis=1)                             # [0, 1, ≈0.997]

The model
---------
J agents share one learning task on a target distribution P_0; agent j samples from P_j, whose
divergence from P_0 is its private type θ_j. A coalition C trains one model, Σ_{k∈C} w_k (agent
k's estimate) with w on the simplex, and every member gets it. Agent j's utility is −(risk on
P_0 of the model it ends with) − c·(samples it draws); its outside option is learning alone from
its own n samples. Two tasks, both with closed-form risks:

- mean estimation: x ~ N(μ_0 + b_j, σ_j²), type (b_j, σ_j), P_0 = N(μ_0, σ_0²):
  risk(w) = (Σ w_k b_k)² + Σ w_k² σ_k² / n (exact).
- classification: x ~ N(0, I_d), labels 1[x·u > 0] flipped with probability θ_j, the centroid
  classifier sign(ŵ·x) with ŵ = Σ_k w_k mean_i (2ỹ_i − 1) x_i: risk (0-1 error on P_0) =
  atan2(√((d − 1)/n) ‖w‖₂, √(2/π) Σ w_k (1 − 2θ_k)) / π. This is the large-d limit: across u,
  ŵ is exactly N(0, ‖w‖²/n · I_{d−1}) and its norm concentrates; along u its mean is
  √(2/π) Σ w_k (1 − 2θ_k); both fluctuate by O(1/√d) relatively, so the expected error differs
  from the formula by O(1/d) (measured against trained classifiers: 0.0007–0.0015 at d = 50,
  n = 100).

Mechanisms (``pooling``, ``full_information``, ``verification``):

- full information: the aggregator sees the types and maximises welfare. Everyone gets the same
  model, so welfare = −|C|·risk − costs independent of w: the welfare-maximising weights
  minimise the risk (mean: the exact simplex optimum, ``model.simplex_weights``;
  classification: w ∝ 1 − 2θ_k, by Cauchy–Schwarz).
- pooling (no information): every member's data weighted alike, w = 1/|C|.
- verification: agents report types; the aggregator estimates each type from m test samples
  against a trusted validation set from P_0 (mean: m held-out samples of the agent and m of
  P_0, b̂ = x̄_j − x̄_0, σ̂ the unbiased sample standard deviation; classification: the agent
  labels the m trusted points, θ̂ = its share of disagreements with the trusted labels),
  excludes every agent with ‖θ̂_j − θ̃_j‖_∞ > ε, and weights the rest with the full-information
  rule applied to the *reported* types. Each test sample costs c like any other, so members pay
  c·m more and an excluded agent has paid c·m for nothing: exclusion is strictly worse than the
  outside option when c > 0.

Participation dynamics (``simulate``): from the grand coalition (after the test), rounds in
which every eligible agent compares the utility of the coalition it would be in with learning
alone; members leave and outsiders join simultaneously (ties stay put) until no one moves.
``lax.while_loop`` inside ``vmap`` over replicates inside ``vmap`` over mechanisms: one compiled
program per task shape, common random numbers across mechanisms.

Why the claims hold (the stated settings of ``gtgen experiment unravelling``)
----------------------------------------------------------------------------
1. Full information keeps every coalition stable, for any types: the optimal weights beat every
   vertex e_k, so risk_opt(C) ≤ min_{k∈C} risk_alone(k). With a test, the grand coalition also
   needs every agent's gain to cover c·m (``Guarantee.affordable``).
2. Pooling unravels. Mean estimation with equal noise σ and biases b_j ≥ 0: an agent leaves C
   iff b_j² + σ²/n < b̄_C² + σ²/(|C| n), so the leavers are the smallest biases; removing
   below-mean biases raises b̄ and shrinking C raises σ²/(|C| n), so no leaver wants back, every
   coalition reached is an upper set of the bias order, and the worst agent never leaves
   (b_max ≥ b̄). If every upper set of size ≥ 2 is left by its best member, the dynamics end at
   {worst}. Stated setting b = (0, ½, 1, 3/2, 2), σ = σ_0 = 1, n = 50: sizes 5 → 3 → 2 → 1.
   Classification is the same argument in the signal-to-noise ratio (Σ_C q)² / |C| against
   q_j² (q = 1 − 2θ): the best member of C leaves iff (Σ_C q)² < |C| q_max². With
   q_j = 3^{−j} (θ = 0, 1/3, 4/9, 13/27, 40/81) every upper set satisfies it ((4/3)² < 2 for
   the last pair): sizes 5 → 4 → 3 → 2 → 1.
3. Verification: on the Hoeffding event (all K estimates within ε, probability ≥ 1 − δ once
   m ≥ (B²/2ε²) ln(2K/δ), see ``guarantee``) every truthful report passes, the weights are
   the full-information ones, and by 1 the grand coalition is stable; every report more than 2ε
   from the truth is caught. The stated ε (0.2 mean, 0.15 classification) is below half the
   distance from every agent's type to the best type, so every lemon report is caught on that
   event. The measured frequency sits far above 1 − δ at the guaranteed m (the union bound and
   Hoeffding are loose) and equals the exact pass probability (``pass_probability``), which
   rises with m.
4. ε = ∞ (no test): the mechanism takes reports as they are. Under the lemons report — every
   agent claims the best agent's type, the adverse selection the paper describes — all reports
   are equal, the full-information rule on equal types gives equal weights, and the mechanism
   *is* pooling: it unravels exactly as in 2. With truthful reports ε = ∞ is full information.

What this reconstruction does not supply: a private motive to misreport. Every member gets the
same model, so preferences over the weights are aligned and a *unilateral* lemon report costs
the liar too (``Outcome.deviation_gain`` < 0 even at ε = ∞). In the paper's setting such
motives exist (the abstract's adverse selection); here the lemons profile is the hypothesis
the mechanism is tested against, and verification's value is that the grand coalition no longer
depends on trusting reports.

Tie to the exchange game (``exchange``): the test as an α policy — a player admits another's
synthetic samples (α_ij > 0) only if the other passed and its quality is no worse than its own;
players leave (α_ii = 1) when the game's closed-form equilibrium leaves them worse than alone.
Under uniform α the game unravels; under the verified policy it stays whole.
"""

from gtgen.mechanisms.verification.dynamics import (
    Mechanism,
    Outcome,
    full_information,
    pooling,
    simulate,
    verification,
)
from gtgen.mechanisms.verification.exchange import (
    ExchangeOutcome,
    play_exchange,
    verification_passes,
)
from gtgen.mechanisms.verification.guarantee import (
    Guarantee,
    guarantee,
    hoeffding_samples,
    pass_probability,
)
from gtgen.mechanisms.verification.model import (
    ClosedForm,
    Task,
    alone_risk,
    classification,
    closed_form,
    estimate_types,
    mean_estimation,
    risk,
    simplex_weights,
    welfare_weights,
)

__all__ = [
    "ClosedForm",
    "ExchangeOutcome",
    "Guarantee",
    "Mechanism",
    "Outcome",
    "Task",
    "alone_risk",
    "classification",
    "closed_form",
    "estimate_types",
    "full_information",
    "guarantee",
    "hoeffding_samples",
    "mean_estimation",
    "pass_probability",
    "play_exchange",
    "pooling",
    "risk",
    "simplex_weights",
    "simulate",
    "verification",
    "verification_passes",
    "welfare_weights",
]

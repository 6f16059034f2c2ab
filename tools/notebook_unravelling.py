"""Source of notebooks/07_unravelling.ipynb: `python tools/notebook_unravelling.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# Unravelling in collaborative learning, and its cure by probabilistic verification

Agents whose data differ in quality pool their samples to learn one model. If the aggregator
cannot see quality it weights everyone alike; the best agents then do better alone, leave, the
pool gets worse, the next best leave... until the coalition is empty or holds only the worst
agent (Capitaine et al., NeurIPS 2024). A *verification* step — estimate each agent's quality
from a few samples against a small trusted set, exclude agents whose report is contradicted —
makes the grand coalition an equilibrium with high probability, without payments.

Only the paper's abstract is public: `gtgen.mechanisms.verification` implements **gtgen's
formulation** of the model (its module docstring states it and why every claim below holds).
Runs on a laptop CPU or on Colab in about a minute.
""",
    ),
    ("code", COLAB_INSTALL),
    (
        "code",
        """
import jax
import matplotlib.pyplot as plt
import numpy as np

import gtgen
from gtgen.mechanisms import verification as vf

REPLICATES = 4096   # Monte-Carlo replicates per mechanism
print("gtgen", gtgen.__version__, "on", jax.devices())
""",
    ),
    (
        "md",
        """
## Mean estimation: five agents, one target
Agent j draws x ~ N(b_j, 1) while the target is P_0 = N(0, 1); its type is (b_j, σ_j). A
coalition's model is a weighted mean of the agents' sample means, with risk
(Σ w_k b_k)² + Σ w_k² σ_k² / n in closed form. Learning alone is the outside option.
""",
    ),
    (
        "code",
        """
task = vf.mean_estimation(bias=[0.0, 0.5, 1.0, 1.5, 2.0], noise=1.0, samples=50, cost=1e-7)
closed = vf.closed_form(task)
worst = int(np.argmax(closed.alone))
print("alone risk per agent:        ", closed.alone.round(4))
print("grand coalition, equal weights:", round(closed.pooled, 4))
print("grand coalition, full information:", round(closed.full, 4),
      "with weights", closed.weights.round(3))
""",
    ),
    (
        "md",
        """
## Participation dynamics under the three mechanisms
Every round each agent compares the coalition with learning alone and leaves (or joins) —
thousands of replicates of these dynamics run as one compiled program (`lax.while_loop` in a
double `vmap`). *Lemons*: with no test (ε = ∞) every agent claims to be the best agent.
""",
    ),
    (
        "code",
        """
g = vf.guarantee(task, eps=0.2, delta=0.05)
print(f"Hoeffding: m ≥ (B²/2ε²) ln(2K/δ) with B = {g.bound:.3f}, K = {g.estimates}: m* = {g.samples}")
mechanisms = [vf.pooling(), vf.full_information(), vf.verification(0.2, g.samples),
              vf.verification(float("inf"), reports="lemons")]
out = vf.simulate(task, mechanisms, jax.random.key(0), REPLICATES)
for s, name in enumerate(out.names):
    print(f"{name:36s} stable grand coalition {out.grand_stable[s].mean():.3f}   "
          f"ends at ∅ or {{worst}} {out.unravelled(worst)[s].mean():.3f}")
assert out.unravelled(worst)[0].all() and out.unravelled(worst)[3].all()   # unravelling
assert out.grand_stable[1].all()                                           # full information
pooled = out

fig, ax = plt.subplots(figsize=(6, 3.5))
for s, name in enumerate(out.names):
    ax.plot(out.sizes[s].mean(0)[:6], marker="o", label=name)
ax.set_xlabel("round"); ax.set_ylabel("coalition size"); ax.legend(fontsize=7); plt.show()
""",
    ),
    (
        "md",
        """
## How many verification samples?
The frequency with which the grand coalition is stable, against the test size m, beside the
exact probability that every truthful agent passes and the 1 − δ line. The Hoeffding m* is
conservative: the frequency passes 1 − δ well before it.
""",
    ),
    (
        "code",
        """
grid = [max(2, round(f * g.samples)) for f in (1/16, 1/8, 1/4, 1/2, 1, 2)]
out_m = vf.simulate(task, [vf.verification(0.2, m) for m in grid], jax.random.key(1), REPLICATES)
frequency = out_m.grand_stable.mean(axis=1)
exact = [vf.pass_probability(task, 0.2, m) for m in grid]
frequency_at_guarantee = float(frequency[grid.index(g.samples)])
print(dict(zip(grid, frequency.round(4))))
assert frequency_at_guarantee >= 1 - g.delta and np.all(np.diff(exact) > 0)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(grid, frequency, "o", label="measured"); ax.semilogx(grid, exact, "-", label="exact")
ax.axhline(1 - g.delta, ls="--", color="k", label="1 − δ"); ax.axvline(g.samples, ls=":", color="grey")
ax.set_xlabel("verification samples m"); ax.set_ylabel("P(grand coalition stable)"); ax.legend(); plt.show()
""",
    ),
    (
        "md",
        """
## Classification with label noise
Agent j's labels are flipped with probability θ_j; the coalition trains a centroid classifier
on the weighted samples (d = 50). The gold-question test (each agent labels m trusted points)
is Hoeffding's inequality exactly, with B = 1.
""",
    ),
    (
        "code",
        """
cls = vf.classification(flip=[(1 - 3.0**-j) / 2 for j in range(5)], samples=100, dim=50, cost=1e-7)
gc = vf.guarantee(cls, eps=0.15, delta=0.05)
out_c = vf.simulate(cls, [vf.pooling(), vf.full_information(), vf.verification(0.15, gc.samples)],
                    jax.random.key(2), REPLICATES)
accuracy = 1 - out_c.risk.mean(axis=1)          # closed form, per mechanism and agent
accuracy_mc = 1 - out_c.realised.mean(axis=1)   # trained classifiers (Monte Carlo)
print("alone:", (1 - vf.closed_form(cls).alone).round(3))
for s, name in enumerate(out_c.names):
    print(f"{name:32s}", accuracy[s].round(3), "MC", accuracy_mc[s].round(3))
assert np.all(np.abs(accuracy - accuracy_mc) < 0.01)
""",
    ),
    (
        "md",
        """
## The exchange game: verification as an α policy
The same agents as 1-D Gaussian generative players exchanging synthetic samples. Under a
uniform α each player's equilibrium (closed form μ* = (I − B)⁻¹ D m) leans towards everyone's
data, so the best player is worse off than alone and leaves (α_ii = 1)... Under the verified
policy a player admits another's samples only if it passed the test and is no worse than
itself, and nobody leaves. Here on sampled data, with `gtgen.game_equilibrium`.
""",
    ),
    (
        "code",
        """
rng = np.random.default_rng(0)
data = [rng.normal(b, s, (5000, 1)) for b, s in task.types]
game = gtgen.Game([gtgen.expfam.gaussian(1)] * 5, np.full((5, 5), 0.2), data)
own = game.stack(game.own_moments64)
print("uniform-α equilibrium means:", game.stack(gtgen.game_equilibrium(game))[:, 0].round(3))
exchange_uniform = vf.play_exchange(task, "uniform", own_moments=own)
exchange_verified = vf.play_exchange(task, "verified", own_moments=own, passes=vf.verification_passes(
    task, jax.random.key(3), 0.2, g.samples))
print("players in the exchange, uniform α:", exchange_uniform.trajectory.sum(1))
print("players in the exchange, verified α:", exchange_verified.trajectory.sum(1))
assert exchange_verified.whole and exchange_uniform.trajectory[-1].sum() == 1

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(exchange_uniform.alone, "o-", label="alone")
ax.plot(exchange_uniform.grand_risk, "o-", label="uniform α, everyone in")
ax.plot(exchange_verified.risk, "o-", label="verified α")
ax.set_xlabel("player"); ax.set_ylabel("KL(P_0 ‖ p_i)"); ax.legend(); plt.show()
""",
    ),
    (
        "md",
        """
## What the reconstruction leaves open
Every member gets the same model, so in this formulation no agent gains from a *unilateral*
lie (`out.deviation_gain` is negative even without a test): the lemons report is the adverse
selection the paper describes, taken as the hypothesis the mechanism must withstand. What
verification buys is that the grand coalition no longer depends on trusting anyone's report.
""",
    ),
    (
        "code",
        """
print("mean gain of a unilateral lemon report, no test:",
      vf.simulate(task, [vf.verification(float("inf"))], jax.random.key(4), REPLICATES)
      .deviation_gain[0].mean(0).round(4))
""",
    ),
]

if __name__ == "__main__":
    write_notebook(
        Path(__file__).resolve().parents[1] / "notebooks" / "07_unravelling.ipynb", CELLS
    )

"""Source of notebooks/08_rewards.ipynb: `python tools/notebook_rewards.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# Synthetic data as rewards: MMD valuation, Shapley fairness, the reward LP, weighted sampling

Tay, Xu, Foo, Low (AAAI 2022): parties contribute data, a generator trained on the pool produces
candidates G, and each party is **rewarded with synthetic points** whose value, added to its own
data, matches a fair share of what it contributed. The value of a set S is

v(S) = mean_{T×T} k − MMD²_biased(S, T),  T = (∪ D_i) ∪ G,  k = exp(−‖x − y‖² / (2ℓ²)),

parties are valued by Shapley values φ over coalitions, the targets are r_i = v* α_i^ρ with
α = φ / max φ (a linear program picks v* and ρ), and rewards are drawn from G by weighted
sampling until v(D_i ∪ R_i) ≥ r_i. `gtgen.mechanisms.valuation` computes all of it in a few JAX
programs: the kernel sums once (tiled), every coalition from block sums, and every party's
sampling in one compiled loop. This notebook runs the authors' 2-D setting at a reduced size,
then ties the mechanism to an exchange game.
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
from gtgen.experiments import rewards as experiment
from gtgen.mechanisms import valuation

PARTY_SIZE = 300        # |D_i| (the authors: 1000)
CANDIDATES = 10_000     # |G| (the authors: 10^5; `gtgen experiment rewards` runs that in minutes)
BETAS = (1.0, 2.0, 4.0, 8.0)
SPLIT = "equaldisjoint"  # or "unequal"
GAME_POOL = 4000        # candidates drawn from the exchange game's equilibrium models
print("devices:", jax.devices())
""",
    ),
    (
        "md",
        """
## The authors' 2-D setting
Five parties, a five-cluster Gaussian mixture (means uniform in [0, 1]², covariance I/200). In
the `equaldisjoint` split party i holds 0.96 of cluster i; the pool G is drawn from the true
mixture. `generator="numpy"` draws the same distributions vectorised (`"authors"` replays the
authors' own random stream, slower at 10^5 candidates).
""",
    ),
    (
        "code",
        """
setting = experiment.gmm_setting(SPLIT, PARTY_SIZE, CANDIDATES, generator="numpy")
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(*setting.candidates[:3000].T, s=1, color="lightgrey", label="candidates G")
for i, x in enumerate(setting.parties):
    ax.scatter(*x.T, s=3, label=f"party {i}")
ax.set_aspect("equal"); ax.legend(fontsize=7, markerscale=3); plt.show()
""",
    ),
    (
        "md",
        """
## Valuation: lengthscale, coalition values, Shapley values
`value` picks the smallest ℓ in [0.01, 1000] with v(D_i) ≥ 0 for every party (bisection in log ℓ),
computes the block kernel sums once and from them v of all 2^n coalitions, then exact Shapley
values. They sum to v(N), the value of all parties' data together.
""",
    ),
    (
        "code",
        """
val = valuation.value(setting.parties, setting.candidates)
print(f"lengthscale {val.lengthscale:.4f} after {len(val.search.evaluated)} evaluations")
print("phi  ", np.round(val.phi, 4))
print("alpha", np.round(val.alpha, 3))
print("v(D_i)", np.round(val.party_values, 4), " v(N)", round(val.grand_value, 5))
assert abs(val.phi.sum() - val.grand_value) < 1e-9     # efficiency of the Shapley value
assert np.all(val.party_values >= 0)
""",
    ),
    (
        "md",
        """
## The reward LP
maximise log v* + 0.001ρ subject to v(C_i) ≤ v* α_i^ρ ≤ v(D_i ∪ G) ("stable": C_i are the parties
valued no more than i) and 0 ≤ ρ ≤ 1. When the stable program is infeasible gtgen says so and
solves the individually rational one (lower bound v(D_i)) instead; the authors' code silently
returned v* = 1, ρ = 0 there.
""",
    ),
    (
        "code",
        """
plan = valuation.reward_plan(val.sums, val.phi, "stable")
print(f"program {plan.condition}{' (fallback: ' + plan.note + ')' if plan.fallback else ''}")
print(f"v* = {plan.v_star:.6f}, rho = {plan.rho:.4f}")
print("targets r_i", np.round(plan.targets, 6))
assert np.all(plan.targets >= plan.lower * (1 - 1e-6)) and np.all(plan.targets <= plan.upper * (1 + 1e-6))
""",
    ),
    (
        "md",
        """
## Weighted sampling for every β
Each step adds one candidate drawn with probability softmax(β · Δ̄) over the min–max rescaled
marginal gains; β = 0 is uniform, larger β greedier. Σ_t k(x, t) is cached per candidate, so a
step costs O(|G|) kernel evaluations, and all five parties run in one compiled loop.
""",
    ),
    (
        "code",
        """
draws = {beta: valuation.sample_rewards(val, plan.targets, jax.random.key(0), beta=beta,
                                        early_stop=valuation.AUTHORS_PATIENCE)
         for beta in BETAS}
counts = np.stack([d.counts for d in draws.values()])
for beta, d in draws.items():
    print(f"beta {beta:g}: |R_i| = {d.counts.tolist()}, reached {d.sampling.reached.tolist()}")
corr_alpha = np.mean([np.corrcoef(val.alpha, c)[0, 1] for c in counts])
corr_beta = np.mean([np.corrcoef(BETAS, counts[:, i])[0, 1] for i in range(counts.shape[1])])
print(f"corr(alpha, |R|) = {corr_alpha:+.2f} (authors +0.69), corr(beta, |R|) = {corr_beta:+.2f} "
      "(authors -0.85)")
assert corr_alpha > 0 and corr_beta < 0
""",
    ),
    (
        "code",
        """
beta = BETAS[0]
fig, axes = plt.subplots(1, 5, figsize=(15, 3))
for i, ax in enumerate(axes):
    reward = setting.candidates[draws[beta].indices[i]]
    ax.scatter(*setting.parties[i].T, s=2, color=f"C{i}")
    ax.scatter(*reward.T, s=4, marker="x", color="black", alpha=0.5)
    ax.set_title(f"party {i}: α {val.alpha[i]:.2f}, |R| {len(reward)}", fontsize=9)
    ax.set_xticks([]); ax.set_yticks([])
plt.suptitle(f"data (colour) and reward points (×), β = {beta:g}"); plt.show()
""",
    ),
    (
        "md",
        """
## Tie to the exchange game
`reward_game(game, solution, key)` values each player's private data in an exchange game; the
candidate pool is drawn from the players' **equilibrium models** (only samples leave a player,
as in the exchange itself), and each player receives its reward points.
""",
    ),
    (
        "code",
        """
rng = np.random.default_rng(0)
centres = [(0.0, 0.0), (2.0, 0.0), (0.0, 2.0), (2.0, 2.0)]
data = [rng.normal(c, 0.5, size=(n, 2)) for c, n in zip(centres, (200, 120, 80, 40))]
alpha = np.full((4, 4), 0.2) + 0.2 * np.eye(4)
game = gtgen.Game([gtgen.expfam.gaussian(2)] * 4, alpha, data)
solution = gtgen.solve(game, jax.random.key(0), method="exact")
out = valuation.reward_game(game, solution, jax.random.key(1), pool_size=GAME_POOL, beta=2.0)
r = out.rewards
print("alpha (Shapley, normalised):", np.round(r.valuation.alpha, 3))
print("reward points per player:   ", r.counts.tolist(), "reached:", r.reached.tolist())
assert np.all(r.reached)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
for i in range(4):
    ax.scatter(*out.data[i].T, s=3, color=f"C{i}")
    ax.scatter(*out.points(i).T, s=6, marker="x", color=f"C{i}", alpha=0.4)
ax.set_title("private data (•) and reward points (×) per player"); plt.show()
""",
    ),
]

if __name__ == "__main__":
    write_notebook(Path(__file__).resolve().parents[1] / "notebooks" / "08_rewards.ipynb", CELLS)

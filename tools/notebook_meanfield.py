"""Source of notebooks/06_meanfield.ipynb: `python tools/notebook_meanfield.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# Mean-field equilibria for massive populations (gtgen.mechanisms.meanfield)

When players are many, each should act on its own state and one summary of the population — the
mean field. MEMOA (arXiv 2605.05492) claims that the resulting decentralised policy is unique and
in closed form, protects the worst client, and approaches the centralised Nash policy as the
population grows. Only its abstract is public; gtgen implements **its own formulation**: the
standard linear-quadratic mean-field game with agent classes,

x_{t+1} = A_c x_t + B_c u_t + w_t,  cost ‖x − y_t‖²_Q + ‖x − Γ x̄_t − η‖²_Q̄ + ‖u‖²_R,

with x̄_t the population mean (in an N-player game, the agent itself included). Everything below
is exact linear algebra under `lax.scan` in float64, checked against numpy and scipy.
""",
    ),
    ("code", COLAB_INSTALL),
    (
        "code",
        """
import jax
import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

import gtgen
from gtgen.mechanisms import meanfield as mf

HORIZON = 40                                     # steps of the finite-horizon game
POPULATIONS = [10, 100, 1000, 10_000, 100_000]   # N for the decentralised–centralised gap
REPLICAS = 3000                                  # Monte-Carlo replications of the ε-Nash gap
PLAYERS = 1_000_000                              # players of the sampled exchange game
print("gtgen", gtgen.__version__, "on", jax.devices())
""",
    ),
    (
        "md",
        """
## A game with three agent classes, and its decentralised equilibrium
`random_game` draws the classes' dynamics, noise levels and targets from a type distribution.
The equilibrium is the fixed point *mean-field path → every class's Riccati best response → the
class means it produces*. `solve` finds it as one linear two-point boundary problem (a
decoupling sweep) or by damped iteration; both satisfy the backward and forward recursions.
""",
    ),
    (
        "code",
        """
game = mf.random_game(seed=1, classes=3, n=2, m=1, horizon=HORIZON, coupling=1.0,
                      discount=0.95).replace(weights=np.array([0.5, 0.3, 0.2]))
eq = mf.solve(game)                                  # boundary solve
damped = mf.solve(game, "damped", damping=0.7)       # fixed-point iteration
print("damped iterations:", damped.iterations,
      " max |difference|:", np.abs(eq.mean - damped.mean).max())
print("recursion residuals (backward, forward):", mf.residuals(game, eq))
assert max(mf.residuals(game, eq)) < 1e-8 and np.allclose(eq.mean, damped.mean, atol=1e-9)

fig, ax = plt.subplots(figsize=(7, 3))
for c in range(game.classes):
    ax.plot(eq.mean[c, :, 0], label=f"class {c} mean (share {game.weights[c]:.1f})")
ax.plot(eq.population_mean[:, 0], "k--", label="population mean x̄")
ax.set_xlabel("t"); ax.set_ylabel("first coordinate"); ax.legend(fontsize=8); plt.show()
""",
    ),
    (
        "md",
        """
## The stationary game: the Riccati equation is scipy's
With `horizon=None` the game is the discounted infinite-horizon one; its Riccati solution (by
doubling) is `scipy.linalg.solve_discrete_are` with A → √β A, B → √β B.
""",
    ),
    (
        "code",
        """
stationary_game = mf.random_game(seed=2, classes=3, n=2, m=1, horizon=None, discount=0.9)
stationary = mf.solve(stationary_game)
P = scipy.linalg.solve_discrete_are(np.sqrt(0.9) * stationary_game.A[0],
                                    np.sqrt(0.9) * stationary_game.B[0],
                                    stationary_game.Q[0] + stationary_game.Qbar[0],
                                    stationary_game.R[0])
print("max |P − scipy|:", np.abs(stationary.P[0] - P).max())
assert np.allclose(stationary.P[0], P, atol=1e-9)
""",
    ),
    (
        "md",
        """
## N players: centralised Nash against decentralised, exactly
For exchangeable agents the N-player Nash policy reduces exactly to a system in
(own state, class means) of size (C+1)·n, whatever N is (checked against the N coupled Riccati
equations at small N). The ε-Nash gap of the decentralised policy — what one agent gains by its
best response while the others keep the policy — is an LQ problem too.
""",
    ),
    (
        "code",
        """
policy = mf.decentralised_policy(eq)                 # feedback on the class means
pops = [mf.population(game, n) for n in POPULATIONS]
small = mf.population(game, 5)
print("reduced Nash = coupled Riccati equations:",
      np.allclose(mf.nash(game, small).cost[mf.nash_coupled(game, small).types],
                  mf.nash_coupled(game, small).cost, rtol=1e-10))
gap, eps = [], []
for counts in pops:
    centralised = mf.nash(game, counts)
    a = mf.assess(game, counts, policy)
    gap.append(np.max(np.abs(a.cost - centralised.cost)))
    eps.append(a.underperformer_regret)
slope = np.polyfit(np.log(POPULATIONS), np.log(gap), 1)[0]
eps_slope = np.polyfit(np.log(POPULATIONS), np.log(eps), 1)[0]
print(f"log-log slopes: cost gap {slope:.2f}, ε-Nash {eps_slope:.2f}")
assert slope <= -0.5 and eps_slope <= -0.5

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(POPULATIONS, gap, "o-", label=f"|J_dec − J_cen| (slope {slope:.2f})")
ax.loglog(POPULATIONS, eps, "s--", label=f"ε-Nash (slope {eps_slope:.2f})")
ax.set_xlabel("agents N"); ax.legend(); plt.show()
""",
    ),
    (
        "md",
        """
## The ε-Nash gap by Monte Carlo
Five agents; one deviates to its exact best response. Simulating both on common random numbers,
the mean gain matches the exact gap within its standard error.
""",
    ),
    (
        "code",
        """
counts = mf.population(game, 5)
open_loop = mf.decentralised_policy(eq, feedback=False)
exact = mf.assess(game, counts, open_loop)
best = mf.best_response(game, counts, open_loop)
key = jax.random.key(0)
base = mf.simulate(game, counts, open_loop, key, replicas=REPLICAS)
agent = int(np.flatnonzero(base.types == 1)[0])
moved = mf.simulate(game, counts, open_loop, key, replicas=REPLICAS,
                    deviation=mf.deviation(best, agent, base.types))
gain = base.cost[:, agent] - moved.cost[:, agent]
eps_mc, eps_se = gain.mean(), gain.std() / np.sqrt(REPLICAS)
print(f"ε exact {exact.regret[1]:.4f}, Monte Carlo {eps_mc:.4f} ± {eps_se:.4f}")
assert abs(eps_mc - exact.regret[1]) < 4 * eps_se
""",
    ),
    (
        "md",
        """
## Online forecasting by a population (the experiment)
`gtgen experiment meanfield` runs gtgen's version of MEMOA's study: agents in three classes
(accurate, noisy, and one whose local target is offset) forecast a periodic, a logistic-map and a
concept-drift series from their own noisy views; decentralised, greedy and centralised policies;
the server's exponential-weights mixture; the coupling that minimises the worst agent's error.
""",
    ),
    (
        "code",
        """
from gtgen.experiments import meanfield as study

results = study.run(study.small_config())
print(study.report_text(results))
assert all(claim.holds for claim in results.claims)
""",
    ),
    (
        "md",
        """
## The exchange game is a mean-field game
With α_ij = (1 − a)/(N − 1) a player needs only the population's pooled moments. Its
decentralised equilibrium μ_i = a m_i + (1 − a) μ̄ differs from the exact N-player equilibrium by
a(1 − a)/(N − a)·(m_i − m̄); the sampled exchange runs at a million players in one program.
""",
    ),
    (
        "code",
        """
scaling = mf.exchange.distance_scaling([10, 30, 100, 300, 1000, 3000])
print(f"slope of |μ_MF − μ*| against N: {scaling.slope:.2f}")
assert scaling.slope <= -0.5 and np.allclose(scaling.distance, scaling.predicted)
run = mf.exchange.sampled_exchange(PLAYERS, 0.5, rounds=10)
print(f"{run.players} players: distance to the mean-field closed form {run.distance:.2e} "
      f"(noise scale {run.noise_scale:.1e}), {run.wall_s:.1f} s")
assert run.distance < 5 * run.noise_scale + run.meanfield_bias
""",
    ),
]

if __name__ == "__main__":
    write_notebook(Path(__file__).resolve().parents[1] / "notebooks" / "06_meanfield.ipynb", CELLS)

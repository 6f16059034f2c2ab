"""Source of notebooks/01_quickstart.ipynb: `python tools/notebook_quickstart.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# gtgen quickstart: generative models that learn from each other's synthetic data

N players each fit a generative model to their **private** data. Every round each player draws
synthetic samples, and each player refits on a mix of its own data and the others' samples,
weighted by a row-stochastic trust matrix α. For exponential-family players the Nash
equilibrium of this exchange has a closed form, μ* = (I − B)⁻¹ D m, so every solver run can be
checked exactly. This notebook runs on a laptop CPU or on Colab in well under a minute.
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

ROUNDS = 300      # exchange rounds
SAMPLES = 2000    # synthetic samples per player per round
print("gtgen", gtgen.__version__, "on", jax.devices())
""",
    ),
    (
        "md",
        """
## Three Gaussian players with different private data
Player i holds points around its own centre. α says how much each trusts its own data (the
diagonal) and the others' synthetic samples.
""",
    ),
    (
        "code",
        """
rng = np.random.default_rng(0)
centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
data = [rng.normal(c, 0.7, size=(150 + 50 * i, 2)) for i, c in enumerate(centres)]  # ragged
alpha = np.array([[0.6, 0.2, 0.2],
                  [0.3, 0.5, 0.2],
                  [0.1, 0.1, 0.8]])
player = gtgen.expfam.gaussian(dim=2)              # diagonal Gaussian: T(x) = (x, x²)
game = gtgen.Game(players=[player] * 3, alpha=alpha, data=data)
game
""",
    ),
    (
        "md",
        """
## The closed-form equilibrium
`nash_equilibrium(alpha, own_moments)` is pure linear algebra on the players' own-data moments.
""",
    ),
    (
        "code",
        """
own = game.stack(game.own_moments())              # [N, K] expected sufficient statistics
mu_star = gtgen.expfam.nash_equilibrium(alpha, own)
print("equilibrium means:\\n", mu_star[:, :2].round(3))
# the equilibrium is a fixed point of the exchange: μ = D m + B μ
D, B = np.diag(np.diag(alpha)), alpha - np.diag(np.diag(alpha))
assert np.allclose(mu_star, D @ own + B @ mu_star)
""",
    ),
    (
        "md",
        """
## Solve by the paper's sampled exchange, then check
Sampled dynamics fluctuate around μ* with variance O(1/m); gtgen averages the iterates of the
second half of the run. `check` reports the distance to the closed form, the residual of the
fixed-point equation, each player's Nash gap (KL from its best response) and the rate ρ(B).
""",
    ),
    (
        "code",
        """
result = gtgen.solve(game, jax.random.key(0), method="sampled", rounds=ROUNDS, samples=SAMPLES,
                     reference=gtgen.game_equilibrium(game))
report = gtgen.check(game, result)
print(f"distance {report.distance:.4f}  residual {report.residual:.4f}  rate {report.rate:.3f}")
print("Nash gap per player:", np.round(report.nash_gap, 6))
assert report.distance < 0.1
""",
    ),
    (
        "code",
        """
exact = gtgen.solve(game, jax.random.key(0), method="exact", rounds=500,
                    reference=gtgen.game_equilibrium(game))
anderson = gtgen.solve(game, jax.random.key(0), method="anderson", rounds=500,
                       reference=gtgen.game_equilibrium(game))
print("exact best response:", exact.rounds_run, "rounds; Anderson:", anderson.rounds_run, "rounds")
print("rounds predicted by ρ(B):", report.rounds_to_tol)
assert gtgen.check(game, anderson).distance < 1e-4

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(np.asarray(result.trace.distance), label="sampled exchange (one iterate)")
ax.semilogy(np.asarray(exact.trace.distance), label="exact best response")
ax.semilogy(np.asarray(anderson.trace.distance), label="Anderson")
ax.set_xlabel("round"); ax.set_ylabel("max |μ − μ*|"); ax.legend(); plt.show()
""",
    ),
    (
        "md",
        """
## Different families in one game
A diagonal and a full-covariance Gaussian share a sample space, so they can learn from each
other. The equilibrium then solves the *projected* moment equations (see `gtgen.solvers.equilibrium`).
""",
    ),
    (
        "code",
        """
mixed = gtgen.Game(players=[gtgen.expfam.gaussian(2), gtgen.expfam.gaussian_full(2),
                            gtgen.expfam.gaussian_full(2)], alpha=alpha, data=data)
solution = gtgen.solve(mixed, jax.random.key(1), method="anderson")
print(mixed, "→ distance to closed form", gtgen.check(mixed, solution).distance)
""",
    ),
    (
        "md",
        """
## Binary data: Bernoulli players
""",
    ),
    (
        "code",
        """
binary = [(rng.random((100, 8)) < p).astype(float) for p in (0.1, 0.5, 0.9)]
bern = gtgen.Game([gtgen.expfam.bernoulli(8)] * 3, alpha, binary)
sol = gtgen.solve(bern, jax.random.key(2), rounds=ROUNDS, samples=SAMPLES)
print("pixel-on probability per player:", np.round([p.mean() for p in gtgen.check(bern, sol).reached], 3))
""",
    ),
]

if __name__ == "__main__":
    write_notebook(Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb", CELLS)

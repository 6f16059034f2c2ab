"""Source of notebooks/03_heterogeneous_players.ipynb: `python tools/notebook_hetero.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# Players of any kind and capacity in one exchange round

gtgen's round is the same for every kind of player: every player draws synthetic samples (a
dict of **named variables**), the samples are routed by α, and every player learns from what it
receives: an exponential family by moment matching, a neural player by one learning step. So a
Gaussian can learn from a VAE and the VAE from the Gaussian, in one compiled program, and players
of four different capacities can cooperate through their samples alone (the paper's IV-B).
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
from gtgen.players.neural import VAEConfig, vae_player

ROUNDS = 600        # exchange rounds of the mixed game
SAMPLES = 128       # synthetic samples per player per round
SMALL = False       # the IV-B run below at a size of seconds (True) or the full digits run
print("gtgen", gtgen.__version__, "on", jax.devices())
""",
    ),
    (
        "md",
        """
## Two Gaussians and two VAEs on 2-D data
Every player holds a cloud around its own centre. Players 0 and 1 are diagonal Gaussians
(exponential families, closed-form best responses); players 2 and 3 are VAEs with a Gaussian
likelihood (neural, one Adam step per round). All four model the same variable `x`, so the game
accepts them together; each trusts itself 1/2 and the others 1/6 each.
""",
    ),
    (
        "code",
        """
rng = np.random.default_rng(0)
centres = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
data = [rng.normal(c, 0.5, size=(300, 2)) for c in centres]
vae = vae_player(VAEConfig(event_shape=(2,), likelihood="gaussian", latent=2, hidden=(32,), lr=3e-3))
players = [gtgen.expfam.gaussian(2)] * 2 + [vae] * 2
alpha = np.full((4, 4), 0.5 / 3)
np.fill_diagonal(alpha, 0.5)
game = gtgen.Game(players, alpha, data)
print(game, "-", [p.variables for p in (players[0], players[2])])
""",
    ),
    (
        "md",
        """
`gtgen.solve(..., method="sampled")` runs the one round: the Gaussians average their iterates,
the VAEs keep their last state. The mean of a mixture is the mixture of the means, so *whatever*
the players are, if each fits its training mixture's mean the equilibrium means follow the
closed form μ* = (I − B)⁻¹ D m — a check that holds for the VAEs too.
""",
    ),
    (
        "code",
        """
solution = gtgen.solve(game, jax.random.key(0), method="sampled", routing="sampled",
                       rounds=ROUNDS, samples=SAMPLES)
means = np.stack([x.mean(axis=0) for x in data])
star = gtgen.nash_equilibrium(alpha, means)
gaussian_means = np.asarray(solution.params[0])[:, :2]
keys = jax.random.split(jax.random.key(1), 2)
vae_samples = np.asarray(jax.vmap(lambda k, s: vae.sample(k, s, 2000)["x"])(keys, solution.params[1]))
print("closed-form equilibrium means:\\n", star.round(2))
print("Gaussians reached:\\n", gaussian_means.round(2))
print("VAEs' sample means:\\n", vae_samples.mean(axis=1).round(2))
assert np.abs(gaussian_means - star[:2]).max() < 0.3

fig, ax = plt.subplots(figsize=(5, 5))
for i, x in enumerate(data):
    ax.scatter(*x.T, s=3, alpha=0.3, label=f"player {i}'s data")
for i in range(2):
    ax.scatter(*vae_samples[i, :400].T, s=3, marker="x", label=f"VAE {i + 2}'s samples")
ax.scatter(*star.T, c="k", marker="*", s=120, label="equilibrium means")
ax.legend(fontsize=7); ax.set_aspect("equal"); plt.show()
""",
    ),
    (
        "md",
        """
## Four capacities, a few labelled digits each (IV-B)
Each player is a joint model p(c) p(x | c) with a classifier p(c | x), of its own capacity, and
holds `bs` labelled images per class. Alone it learns from its own pairs (`discriminative`, or
`symmetric` with its own image model helping its classifier); in the `cooperative` exchange
every player generates labelled pairs for the others. The four capacities are four groups of one
round; all methods and seeds of one `bs` train in one compiled program.
""",
    ),
    (
        "code",
        """
from gtgen.experiments import fmnist_capacity as fc

config = fc.smoke_config(sizes=(2,), methods=("discriminative", "cooperative")) if SMALL else \\
    fc.Config(sizes=(2, 5), methods=("discriminative", "symmetric", "cooperative"))
results = fc.run(config, progress=False)
print(fc.report_text(results))
table = results.table()
coop, alone = table[("cooperative", 2)].mean(0), table[("discriminative", 2)].mean(0)
print("cooperative − discriminative at bs = 2 (points):", np.round(100 * (coop - alone), 1))
assert np.all(table[("cooperative", 2)] > 0.15)  # every player better than chance
""",
    ),
    (
        "md",
        """
The full experiment (`gtgen experiment fmnist-capacity`, or `fc.run(fc.Config(), out_dir=...)`)
adds distillation and the upper bound, four sizes and three seeds, and writes the paper's Fig. 2
as `accuracy.png`. Point `data_dir` (`--data-dir`) at the Fashion-MNIST IDX files for the
authors' scale: `fc.fmnist_config("path/to/fashion-mnist")`.
""",
    ),
]

if __name__ == "__main__":
    write_notebook(
        Path(__file__).resolve().parents[1] / "notebooks" / "03_heterogeneous_players.ipynb", CELLS
    )

"""Source of notebooks/05_multimodal.ipynb: `python tools/notebook_multimodal.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# Players on different probability spaces (the paper's IV-C)

Players need not model the same variables. Player A models (c, d, z, s, x) — the digit class, a
style, a binary latent, the binary digit mask and the coloured image — while the (c, s) side
knows only classes and masks. A takes (c, s) pairs all the same: it **completes** what a pair
lacks (d, z and x) by Gibbs sweeps with its own conditionals, inside the one exchange round, and
learns semi-supervised. Here on PolyDigits: the embedded 8×8 digits in five styles.
""",
    ),
    ("code", COLAB_INSTALL),
    (
        "code",
        """
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import gtgen
from gtgen.data import STYLES, load_digits, load_polydigits

B_STEPS = 800       # player B's symmetric-learning steps below
SMALL = False       # the experiment below at a size of seconds (True) or its default size
print("gtgen", gtgen.__version__, "on", jax.devices())
""",
    ),
    (
        "md",
        """
## PolyDigits: five styles, the style recoverable from the image
Each style composites the grey digit onto its own background texture and colour. A's data hold
(c, d, x); the mask s is never observed by A.
""",
    ),
    (
        "code",
        """
poly = load_polydigits(seed=0)
n = len(poly) // len(STYLES)
fig, axes = plt.subplots(len(STYLES), 8, figsize=(8, 5.2))
for d, row in enumerate(axes):
    for j, ax in enumerate(row):
        ax.imshow(poly.x[d * n + j]); ax.axis("off")
    row[0].set_title(STYLES[d], fontsize=8, loc="left")
plt.show()
""",
    ),
    (
        "md",
        """
## Player B: a conditional VAE of masks given class
B models (c, s) only: p(z | c), p(s | c, z) and an encoder q(z | c, s), trained by symmetric
learning on the binarised digits through the same exchange round (a game of B alone). Its
class-conditional mask means should approach the data's.
""",
    ),
    (
        "code",
        """
from gtgen.exchange import RoundSpec, make_train
from gtgen.players.neural.masks import MaskConfig, mask_player

digits = load_digits(binarize=True)
B = mask_player(MaskConfig(z=8, hidden=(64,), lr=3e-3, alternations=0, threshold=False))
train = jax.jit(make_train(B, 1, RoundSpec(1, routing="sampled", composition="weighted",
                                           own_batch=64)), static_argnums=5)
states = jax.vmap(B.init)(jax.random.split(jax.random.key(0), 1))
data = {"c": jnp.asarray(digits.labels)[None], "s": jnp.asarray(digits.images)[None]}
states, _ = train(jax.random.key(1), states, data, jnp.array([len(digits.labels)]),
                  jnp.ones((1, 1)), B_STEPS)
out = B.sample(jax.random.key(2), jax.tree.map(lambda v: v[0], states), 4000)
c, s = np.asarray(out["c"]), np.asarray(out["s"])
model = np.stack([s[c == k].mean(0) for k in range(10)])
exact = np.stack([digits.images[digits.labels == k].mean(0) for k in range(10)])
error = np.abs(model - exact).mean()
print(f"mean |B's class-conditional mask means − the data's| = {error:.3f}")
fig, axes = plt.subplots(2, 10, figsize=(10, 2.2))
for k in range(10):
    axes[0, k].imshow(exact[k], cmap="gray"); axes[1, k].imshow(model[k], cmap="gray")
    axes[0, k].axis("off"); axes[1, k].axis("off")
axes[0, 0].set_title("data", fontsize=8, loc="left"); axes[1, 0].set_title("B", fontsize=8, loc="left")
plt.show()
assert error < 0.1
""",
    ),
    (
        "md",
        """
## The experiment: alone, + real (c, s) pairs, + B's synthetic pairs
`gtgen.experiments.polymnist` trains B, then A in three settings × seeds in one compiled
program; accuracy is the authors' inference (x clamped, Gibbs sweeps over c, d, z, s, running
average of p(c | rest), argmax), per style. The paper's numbers on PolyMNIST: .9840 / .9896 /
.9866. `SMALL = True` runs a size of seconds (its accuracies mean nothing).
""",
    ),
    (
        "code",
        """
from gtgen.experiments import polymnist

config = polymnist.smoke_config() if SMALL else polymnist.Config()
results = polymnist.run(config, progress=False)
print(polymnist.report_text(results))
accuracy = results.accuracy()
assert all(np.all((0 <= a) & (a <= 1)) for a in accuracy.values())
""",
    ),
    (
        "md",
        """
From the command line: `gtgen experiment polymnist --out runs/iv-c` (results.json, accuracy.png,
report.txt, B's masks, A's imputed masks and generated images). At full size point `--data` at a
PolyMNIST folder and `--mnist-dir` at the MNIST IDX files.
""",
    ),
]

if __name__ == "__main__":
    write_notebook(Path(__file__).resolve().parents[1] / "notebooks" / "05_multimodal.ipynb", CELLS)

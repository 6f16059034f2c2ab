"""Source of notebooks/02_digits_exchange.ipynb: `python tools/notebook_digits.py` rewrites it."""

from pathlib import Path

from make_notebook import COLAB_INSTALL, write_notebook

CELLS = [
    (
        "md",
        """
# Two neural players exchange digits (the paper's experiment IV-A, small)

Schlesinger & Flach (FLICS 2025) let two generative models learn from each other's **synthetic**
data. Player 0 holds only the digits 0–4, player 1 only 5–9. With self-weight a, a share a of
each training batch is the player's own data and the rest are samples drawn from the other
player. The paper's claim: with a < 1 each player learns to generate *all ten* digits, without
ever seeing the other's images or parameters; alone (a = 1) it generates only its own five.

Here on the embedded 8×8 digits (scikit-learn), with the authors' learner: a hierarchical VAE
with binary latents trained by symmetric equilibrium learning. Every value of a, both players
and a baseline model on all digits train in **one compiled JAX program**. About ten minutes on
a laptop CPU (batches of 512); much faster on a Colab GPU.
""",
    ),
    ("code", COLAB_INSTALL),
    (
        "code",
        """
import jax
import matplotlib.pyplot as plt
import numpy as np

from gtgen.experiments import mnist_split
from gtgen.experiments.mnist_split import claims, report_text
from gtgen.plots import image_tiles

ALPHAS = (0.3, 0.6, 1.0)        # self-weights a to compare
ITERATIONS = 10_000             # rounds per model
SEED = 0
SMALL = False                   # True: a seconds-long run that only checks that all cells work
print("devices:", jax.devices())
""",
    ),
    (
        "md",
        """
## The data: each player sees five digits
`load_data` splits the binarised digits by class. Row p of the training array holds player p's
images first and the others' after: an own-data count of n_p means "my digits", n means "all
digits" (the baseline), so every entry of the sweep shares one data array.
""",
    ),
    (
        "code",
        """
if SMALL:
    config = mnist_split.smoke_config(alphas=ALPHAS, iterations=ITERATIONS, seed=SEED)
else:
    config = mnist_split.demo_config(alphas=ALPHAS, iterations=ITERATIONS, seed=SEED,
                                     baseline=True)
data = mnist_split.load_data(config)
print("images per player:", data.counts, "image size:", data.dataset.images.shape[1:])
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for p, ax in enumerate(axes):
    ax.imshow(image_tiles(data.dataset.images[data.parts[p][::40][:25]]), cmap="gray")
    ax.set_title(f"player {p}: digits {mnist_split.CLASS_SETS[p]}"); ax.axis("off")
plt.show()
""",
    ),
    (
        "md",
        """
## Train the whole sweep in one program
`run` validates the configuration, trains every (a, player) pair and the baseline together
(α and the learning rate are traced inputs of one compiled, vmapped program), then evaluates:
a reference classifier trained on real digits labels each model's samples, and the Fréchet
distance on that classifier's features (gtgen's analogue of the paper's FID) compares them with
the model's own digits, the other player's and all digits.
""",
    ),
    (
        "code",
        """
results = mnist_split.run(config, progress=False, log=print, log_every=4)
print(report_text(results))
""",
    ),
    (
        "md",
        """
## What each model generates
Rows: values of a (and the baseline); columns: the two players.
""",
    ),
    (
        "code",
        """
ent, ev = results.trained.entries, results.evaluation
rows = ["baseline" if b else f"a = {a:.2f}" for a, b in zip(ent.alphas, ent.baseline)]
fig, axes = plt.subplots(len(rows), 2, figsize=(5, 2.4 * len(rows)), squeeze=False)
for s, label in enumerate(rows):
    for p in range(2):
        axes[s, p].imshow(image_tiles(ev.pictures[s, p]), cmap="gray")
        axes[s, p].set_xticks([]); axes[s, p].set_yticks([])
        axes[s, p].set_title(f"{label}, player {p}", fontsize=9)
plt.tight_layout(); plt.show()
""",
    ),
    (
        "md",
        """
## Which digits, and how close to the real ones
Left: the share of each model's samples that the classifier assigns to the *other* player's
digits; at the equilibrium of the exchange it is (1 − a) / (2 − a) (PAPERS.md §1). Right: the
distances against a, averaged over the two players, as in the paper's Fig. 1; dashed lines are
the baseline trained on all digits.
""",
    ),
    (
        "code",
        """
pairs = [s for s in range(len(ent.alphas)) if not ent.baseline[s]]
a = ent.alphas[pairs]
other = results.other_share()[pairs]
grid = np.linspace(min(a), 1, 50)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for p in range(2):
    left.plot(a, other[:, p], "o", label=f"player {p}")
left.plot(grid, (1 - grid) / (2 - grid), "k--", lw=1, label="equilibrium (1 − a)/(2 − a)")
left.set_xlabel("self-weight a"); left.set_ylabel("share of the other's digits"); left.legend()
base = [s for s in range(len(ent.alphas)) if ent.baseline[s]]
for name, colour in (("own", "C0"), ("other", "C1"), ("all", "C2")):
    fd = getattr(ev, f"frechet_{name}")
    right.plot(a, fd[pairs].mean(axis=1), "o-", color=colour, label=f"{name} digits")
    right.axhline(fd[base].mean(), color=colour, ls="--", lw=1)
right.set_xlabel("self-weight a"); right.set_ylabel("Fréchet classifier distance (FID analogue)")
right.legend(); plt.show()
""",
    ),
    (
        "md",
        """
## The paper's claims, checked
With a ≤ 0.5 every digit makes up at least 4% of each player's samples; alone (a = 1) under
10% of a player's samples are the other player's digits. (`gtgen demo` checks the same claims
at a = 0.3 and 1.0; the figures for a = 0.1, 0.3, 0.5, 1 and three seeds are in the README.)
""",
    ),
    (
        "code",
        """
for claim in claims(results):
    print("yes" if claim.holds else "NO ", claim.text)
""",
    ),
    (
        "md",
        """
## Coverage during training
After every chunk the run classifies a few hundred fresh samples per model
(`Config.track_samples`): the rarest digit's share against the iterations shows whether a value
of a has settled or is still rising. The digits default warms up alone (α = I) for 2000 rounds
and then lowers the self-weight from 1 to a over 4000 (`Config.ramp`): switched at once, small
a loses the latent codes' meaning and both players collapse to one blurred digit. Batches of 512
and a learning rate decaying to a tenth (`Config.batch`, `Config.lr_final`) keep the rarest digit
(mostly 8) above 4% at a = 0.1 and 0.3 for seeds 0–2 (a = 0.5 fails for two of them); at batch
128 it fell under that line for some seed at every a ≤ 0.5.
""",
    ),
    (
        "code",
        """
from gtgen.experiments.mnist_split.report import coverage_curve

iterations, alphas, rarest = coverage_curve(results)  # rarest [a, iteration, seed]
for a, values in zip(alphas, rarest):
    plt.plot(iterations, 100 * values.mean(axis=1), label=f"a = {a:g}")
plt.axhline(4, color="C3", ls=":", label="claim: 4%")
plt.xlabel("iteration"); plt.ylabel("rarest digit, lower player (%)"); plt.legend(); plt.show()
""",
    ),
    (
        "md",
        """
## At the authors' scale
With the MNIST IDX files in a folder, the same function runs the paper's configuration
(`paper-mnist` model, batch 1000, Adam 1e-4, 10^6 iterations, checkpoints and resume):

```python
config = mnist_split.mnist_config("path/to/mnist")
results = mnist_split.run(config, out_dir="runs/mnist-split")
```
or `gtgen experiment mnist-split --data-dir path/to/mnist` on the command line.
""",
    ),
]

if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    write_notebook(root / "notebooks" / "02_digits_exchange.ipynb", CELLS)

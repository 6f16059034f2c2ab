"""Pictures (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402


def _ellipse(mean: np.ndarray, cov: np.ndarray, **kw) -> Ellipse:
    """The 2-σ ellipse of a 2-D Gaussian."""
    vals, vecs = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    w, h = 4.0 * np.sqrt(np.maximum(vals[::-1], 0.0))
    return Ellipse(mean, w, h, angle=angle, fill=False, **kw)


def gaussian_moments_2d(mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of a full 2-D Gaussian from its mean parameters (x, vec(x xᵀ))."""
    m = mu[:2]
    return m, mu[2:].reshape(2, 2) - np.outer(m, m)


def ellipse_paths(
    path: np.ndarray, closed_form: np.ndarray, data: Sequence[np.ndarray], out: Path,
    show_rounds: Sequence[int] = (0, 1, 2, 4, 8),
) -> Path:
    """Players' ellipses from their own data (faint) to the last round, and the closed form."""
    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    colours = plt.get_cmap("tab10").colors
    rounds = [r for r in show_rounds if r < len(path)] + [len(path) - 1]
    for i, x in enumerate(data):
        c = colours[i % 10]
        ax.scatter(x[:, 0], x[:, 1], s=3, color=c, alpha=0.25)
        for k, r in enumerate(rounds):
            m, cov = gaussian_moments_2d(path[r, i])
            ax.add_patch(_ellipse(m, cov, color=c, lw=1.5, alpha=0.25 + 0.75 * k / len(rounds)))
        trail = np.array([p[i, :2] for p in path])
        ax.plot(trail[:, 0], trail[:, 1], color=c, lw=1, alpha=0.8, label=f"player {i}")
        m, cov = gaussian_moments_2d(closed_form[i])
        ax.add_patch(_ellipse(m, cov, color="black", lw=1, ls="--"))
    ax.set_title("own-data fit (faint) → exchange rounds → closed form (dashed)", fontsize=10)
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out

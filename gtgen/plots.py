"""Pictures (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse


def _save(fig, out: Path, dpi: int = 120) -> Path:
    """Lay ``fig`` out, write it to ``out`` and close it."""
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _percent_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    """Axis labels of a plot in percent from 0, and its title (if any)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (%)" if ylabel else "%")
    ax.set_ylim(bottom=0)
    if title:
        ax.set_title(title, fontsize=9)


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
    path: np.ndarray,
    closed_form: np.ndarray,
    data: Sequence[np.ndarray],
    out: Path,
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
    return _save(fig, out)


def image_tiles(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Images ``[k, H, W]`` (or RGB ``[k, H, W, 3]``) laid out as one image: ``columns`` per
    row (default √k), separated by ``pad`` pixels of mid-grey."""
    k, h, w = images.shape[:3]
    columns = columns or max(1, int(np.ceil(np.sqrt(k))))
    rows = int(np.ceil(k / columns))
    shape = (rows * (h + pad) + pad, columns * (w + pad) + pad, *images.shape[3:])
    tiles = np.full(shape, 0.5, np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        tiles[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + c * (w + pad) : pad + c * (w + pad) + w,
        ] = image
    return tiles


def save_image_grid(
    images: np.ndarray, out: Path, columns: int | None = None, min_size: int = 240
) -> Path:
    """One PNG of ``images [k, H, W]`` (values in [0, 1], 1 drawn white) or RGB images
    ``[k, H, W, 3]``, enlarged by whole pixels to at least ``min_size`` pixels across so that
    8×8 digits stay visible."""
    tiles = image_tiles(images, columns)
    scale = max(1, int(np.ceil(min_size / tiles.shape[1])))
    big = np.repeat(np.repeat(tiles, scale, axis=0), scale, axis=1)
    if big.ndim == 3:
        plt.imsave(out, np.clip(big, 0.0, 1.0))
    else:
        plt.imsave(out, big, cmap="gray", vmin=0.0, vmax=1.0)
    return out


def save_image_rows(rows: np.ndarray, out: Path, min_size: int = 240) -> Path:
    """``save_image_grid`` of ``rows [r, c, H, W]`` (or ``[r, c, H, W, 3]``): one grid row per
    row of images."""
    rows = np.asarray(rows)
    return save_image_grid(
        rows.reshape(-1, *rows.shape[2:]), out, columns=rows.shape[1], min_size=min_size
    )


def sample_panels(
    pictures: np.ndarray,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    out: Path,
    title: str = "",
) -> Path:
    """A table of sample grids: ``pictures [R, C, k, H, W]``, one panel per row and column."""
    n_rows, n_cols = pictures.shape[:2]
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(2.4 * n_cols + 0.6, 2.4 * n_rows + 0.4), squeeze=False
    )
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(image_tiles(pictures[r, c]), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column_labels[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, out, dpi=100)


def curves_against_alpha(
    alphas: Sequence[float],
    curves: dict[str, Sequence[float]],
    baselines: dict[str, float],
    out: Path,
    ylabel: str,
    title: str = "",
) -> Path:
    """Lines of a quantity against the self-weight a (as the paper's Fig. 1), each with its
    baseline as a horizontal line of the same colour."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    colours = plt.get_cmap("tab10").colors
    for i, (label, values) in enumerate(curves.items()):
        ax.plot(alphas, values, marker="o", color=colours[i % 10], label=label)
        if label in baselines:
            ax.axhline(
                baselines[label], color=colours[i % 10], ls="--", lw=1, label=f"baseline, {label}"
            )
    ax.set_xlabel("self-weight a")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, out)


def spread_against_alpha(
    alphas: Sequence[float],
    values: np.ndarray,
    out: Path,
    reference: tuple[np.ndarray, np.ndarray, str] | None = None,
    threshold: tuple[float, str] | None = None,
    ylabel: str = "",
    title: str = "",
) -> Path:
    """A quantity against the self-weight a over seeds: ``values [A, seeds]`` as its mean
    (line), its min–max band and every seed (dots); optionally a reference curve
    ``(a, y, label)`` (dashed) and a threshold ``(y, label)`` (dotted), both in fractions;
    the axis is in percent."""
    values = np.asarray(values, float)
    a = np.asarray(alphas, float)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.fill_between(
        a,
        100 * values.min(axis=1),
        100 * values.max(axis=1),
        color="C0",
        alpha=0.2,
        lw=0,
        label="min–max over seeds",
    )
    ax.plot(a, 100 * values.mean(axis=1), "o-", color="C0", label="mean over seeds")
    for k in range(values.shape[1]):
        ax.plot(a, 100 * values[:, k], ".", color="C0", alpha=0.6, ms=4)
    if reference is not None:
        ax.plot(reference[0], 100 * np.asarray(reference[1]), "k--", lw=1, label=reference[2])
    if threshold is not None:
        ax.axhline(100 * threshold[0], color="C3", ls=":", lw=1.2, label=threshold[1])
    _percent_axes(ax, "self-weight a", ylabel, title)
    ax.legend(fontsize=7)
    return _save(fig, out)


def curves_against_iterations(
    iterations: Sequence[int],
    curves: dict[str, np.ndarray],
    out: Path,
    threshold: tuple[float, str] | None = None,
    ylabel: str = "",
    title: str = "",
) -> Path:
    """Quantities against training iterations over seeds: each ``curves[label] [T, seeds]`` as
    its mean (line) and min–max band, one colour per label; optionally a threshold
    ``(y, label)`` (dotted). Values in fractions, the axis in percent."""
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    colours = plt.get_cmap("viridis")
    t = np.asarray(iterations, float)
    for i, (label, values) in enumerate(curves.items()):
        values = 100 * np.asarray(values, float)
        colour = colours(i / max(len(curves) - 1, 1))
        ax.fill_between(t, values.min(axis=1), values.max(axis=1), color=colour, alpha=0.15, lw=0)
        ax.plot(t, values.mean(axis=1), "-", color=colour, label=label)
    if threshold is not None:
        ax.axhline(100 * threshold[0], color="C3", ls=":", lw=1.2, label=threshold[1])
    _percent_axes(ax, "iteration", ylabel, title)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out)


def fraction_maps(
    fractions: np.ndarray, row_labels: Sequence[str], column_labels: Sequence[str], out: Path
) -> Path:
    """Heat maps of class fractions ``[R, C, classes]``: one map per column (e.g. player),
    rows (e.g. values of a) against classes, each cell annotated in percent."""
    n_rows, n_cols, classes = fractions.shape
    fig, axes = plt.subplots(
        1, n_cols, figsize=(0.5 * classes * n_cols + 1.5, 0.45 * n_rows + 1.4), squeeze=False
    )
    for c in range(n_cols):
        ax = axes[0, c]
        ax.imshow(
            fractions[:, c], cmap="viridis", vmin=0.0, vmax=max(0.3, fractions.max()), aspect="auto"
        )
        for r in range(n_rows):
            for k in range(classes):
                ax.text(
                    k,
                    r,
                    f"{100 * fractions[r, c, k]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if fractions[r, c, k] < 0.15 else "black",
                )
        ax.set_xticks(range(classes))
        ax.set_yticks(range(n_rows), row_labels if c == 0 else [""] * n_rows)
        ax.set_title(column_labels[c], fontsize=9)
        ax.set_xlabel("class (%)")
    return _save(fig, out)

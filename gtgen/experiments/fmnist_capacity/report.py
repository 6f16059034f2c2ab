"""What a run of experiment IV-B leaves behind: results.json, accuracy.png, samples, report.txt.

The paper's claim as checked here (Fig. 2 of the paper; its authors store no numbers): the
cooperative method helps most at small data, for the weaker players. gtgen checks, on the mean
over seeds, that at the smallest ``bs`` the cooperative players 0 and 1 (the two weakest) are more
accurate than with every other method but the upper bound, and that this gain is larger at the
smallest ``bs`` than at the largest.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from gtgen.experiments.fmnist_capacity.experiment import PLAYERS, Results
from gtgen.experiments.runner import write_experiment

WEAKER = (0, 1)
BASELINES = ("discriminative", "distillation", "symmetric")


class Claim(NamedTuple):
    text: str
    holds: bool
    gains: dict  # bs -> per player: cooperative − best other method (mean over seeds)


def _means(results: Results) -> dict:
    return {k: (v.mean(axis=0), v.std(axis=0)) for k, v in results.table().items()}


def gains(results: Results) -> dict[int, np.ndarray]:
    """bs -> [players]: cooperative accuracy minus the best of the other methods run (means)."""
    means = _means(results)
    out = {}
    for bs in results.config.sizes:
        others = [means[(m, bs)][0] for m in BASELINES if (m, bs) in means]
        if ("cooperative", bs) in means and others:
            out[bs] = means[("cooperative", bs)][0] - np.max(others, axis=0)
    return out


def claim(results: Results) -> Claim | None:
    """The paper's claim on this run, or None when the run lacks the cooperative method or a
    baseline."""
    g = gains(results)
    if not g:
        return None
    small, large = min(g), max(g)
    weak_small = g[small][list(WEAKER)]
    holds = bool(np.all(weak_small > 0))
    if large != small:
        holds = holds and bool(weak_small.mean() > g[large][list(WEAKER)].mean())
    text = (
        f"cooperative helps most at small data for the weaker players: gain over the best "
        f"other method at bs = {small}: "
        + ", ".join(f"player {p} {100 * g[small][p]:+.1f} pts" for p in range(PLAYERS))
        + (
            f"; at bs = {large}: "
            + ", ".join(f"player {p} {100 * g[large][p]:+.1f} pts" for p in range(PLAYERS))
            if large != small
            else ""
        )
    )
    return Claim(text, holds, {bs: v.tolist() for bs, v in g.items()})


def results_json(results: Results) -> dict:
    """Every number of the table: per method, bs and seed each player's test accuracy."""
    config, trained = results.config, results.trained
    rows = [
        {"method": e.method, "bs": e.bs, "seed": e.seed, "accuracy": acc.tolist()}
        for e, acc in zip(trained.entries, trained.accuracy)
    ]
    summary = [
        {"method": m, "bs": bs, "mean": mean.tolist(), "std": std.tolist()}
        for (m, bs), (mean, std) in sorted(
            _means(results).items(), key=lambda kv: (str(kv[0][1]), kv[0][0])
        )
    ]
    found = claim(results)
    return {
        "experiment": "fmnist-capacity (Schlesinger & Flach 2025, IV-B)",
        "dataset": config.dataset_name,
        "players": [repr(c) for c in config.players()],
        "iterations": trained.iterations,
        "wall_s": results.wall_s,
        "config": {
            k: (list(map(repr, v)) if k == "capacities" else v) for k, v in config._asdict().items()
        },
        "runs": rows,
        "summary": summary,
        "claim": None if found is None else found._asdict(),
        "resumed_from_chunk": trained.resumed_from,
        "history": trained.history,
    }


def report_text(results: Results) -> str:
    config, trained = results.config, results.trained
    means = _means(results)
    caps = config.players()
    lines = [
        (
            "gtgen: experiment IV-B of Schlesinger & Flach (2025): four joint label–image players "
            "of increasing capacity, bs labelled images per class each"
        ),
        (
            f"data: {config.dataset_name}; {trained.iterations} iterations; {config.seeds} seeds; "
            f"{results.wall_s:.0f} s"
        ),
        "capacities (z0, z1, width, arch): "
        + "; ".join(
            f"player {p}: ({c.z0}, {c.z1}, {c.width}, {c.arch})" for p, c in enumerate(caps)
        ),
        "",
        "test accuracy of argmax p(c | x), mean ± std over seeds",
        f"{'method':<16}{'bs':>5}  "
        + "  ".join(f"{'player ' + str(p):>15}" for p in range(PLAYERS)),
    ]
    for (m, bs), (mean, std) in sorted(means.items(), key=lambda kv: (kv[0][1] or 10**9, kv[0][0])):
        cells = "  ".join(f"{100 * a:>7.1f} ± {100 * s:>4.1f}" for a, s in zip(mean, std))
        lines.append(f"{m:<16}{'all' if bs is None else bs:>5}  {cells}")
    found = claim(results)
    if found is not None:
        lines += ["", "the paper's claim:", f"  [{'yes' if found.holds else 'NO '}] {found.text}"]
    return "\n".join(lines)


def pictures(results: Results, folder: Path) -> list[Path]:
    """accuracy.png (the paper's Fig. 2) and samples_<program>.png (each player's images, a row
    per player, classes 0–9 in order)."""
    import matplotlib.pyplot as plt

    from gtgen.plots import save_image_rows

    config = results.config
    means = _means(results)
    sizes = np.array(config.sizes)
    fig, axes = plt.subplots(1, PLAYERS, figsize=(4 * PLAYERS, 3.4), sharey=True)
    for p, ax in enumerate(axes):
        for m in ("discriminative", "distillation", "symmetric", "cooperative"):
            if (m, sizes[0]) not in means:
                continue
            mean = np.array([means[(m, b)][0][p] for b in sizes])
            std = np.array([means[(m, b)][1][p] for b in sizes])
            ax.errorbar(sizes, 100 * mean, yerr=100 * std, marker="o", ms=3, capsize=2, label=m)
        if ("upper-bound", None) in means:
            up, sd = means[("upper-bound", None)]
            ax.axhline(100 * up[p], color="black", ls="--", lw=1, label="upper bound")
            ax.axhspan(100 * (up[p] - sd[p]), 100 * (up[p] + sd[p]), color="black", alpha=0.08)
        c = config.players()[p]
        ax.set_title(f"player {p} (z0={c.z0}, z1={c.z1}, width {c.width})", fontsize=9)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.set_xlabel("training images per class (bs)")
    axes[0].set_ylabel("test accuracy (%)")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"IV-B on the {config.dataset_name}: accuracy against training-set size")
    fig.tight_layout()
    written = [folder / "accuracy.png"]
    fig.savefig(written[0], dpi=110)
    plt.close(fig)
    for name, images in results.trained.pictures.items():
        grid = np.clip(images, 0.0, 1.0)  # a row per player, each class PICTURES_PER_CLASS times
        written.append(save_image_rows(grid, folder / f"samples_{name}.png", min_size=1200))
    return written


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """results.json, report.txt, accuracy.png and the sample grids, written atomically."""
    return write_experiment(
        out_dir,
        results_json(results),
        report_text(results),
        lambda folder: pictures(results, folder),
    )

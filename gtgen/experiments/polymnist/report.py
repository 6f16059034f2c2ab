"""What a run of experiment IV-C leaves behind: results.json, accuracy.png, samples, report.txt.

The paper's numbers (PAPERS.md, mean test accuracy on PolyMNIST): alone .9840, + real (c, s)
pairs .9896, + B's synthetic pairs .9866, i.e. the ordering alone < synthetic < real. gtgen
checks that ordering on the means over seeds and says how large the gaps are against the spread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gtgen.data import STYLES
from gtgen.experiments.polymnist.experiment import PAPER_ACCURACY, SETTINGS, Results
from gtgen.experiments.runner import write_experiment


def summary(results: Results) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """setting -> (mean [6], std [6]) over seeds: per style and the mean over styles."""
    return {k: (v.mean(axis=0), v.std(axis=0)) for k, v in results.accuracy().items()}


def ordering(results: Results) -> tuple[bool | None, str]:
    """Whether the paper's ordering alone < synthetic < real holds on the mean accuracies, and
    one sentence with the numbers (None where the run lacks a setting)."""
    means = {k: float(m[-1]) for k, (m, _) in summary(results).items()}
    spread = {k: float(s[-1]) for k, (_, s) in summary(results).items()}
    if not all(s in means for s in SETTINGS):
        return None, "the run lacks a setting; the paper's ordering is not checked"
    holds = means["alone"] < means["synthetic"] < means["real"]
    helps = means["real"] > means["alone"] and means["synthetic"] > means["alone"]
    gap = min(means["real"], means["synthetic"]) - means["alone"]
    noise = max(spread.values())
    text = (
        f"alone {means['alone']:.4f}, + real {means['real']:.4f}, + synthetic "
        f"{means['synthetic']:.4f} (paper .9840 < .9866 < .9896): the ordering "
        f"alone < synthetic < real {'appears' if holds else 'does NOT appear'}; both kinds of "
        f"(c, s) pairs {'help' if helps else 'do not both help'} "
        f"(smaller gain {100 * gap:+.2f} pts against a spread over seeds of up to "
        f"{100 * noise:.2f} pts{', within the noise' if abs(gap) <= noise else ''})"
    )
    return holds, text


def results_json(results: Results) -> dict:
    config, trained = results.config, results.trained
    acc = results.accuracy()
    rows = []
    for e in trained.entries:
        k = sum(1 for f in trained.entries[: trained.entries.index(e)] if f.setting == e.setting)
        a = acc[e.setting][k]
        rows.append(
            {
                "setting": e.setting,
                "seed": e.seed,
                "per_style": dict(zip(STYLES, a[:-1].tolist())),
                "mean": float(a[-1]),
            }
        )
    holds, text = ordering(results)
    return {
        "experiment": "polymnist (Schlesinger & Flach 2025, IV-C)",
        "dataset": config.dataset_name,
        "iterations": trained.iterations,
        "test_images": int(len(results.test_c)),
        "wall_s": results.wall_s,
        "config": {
            k: (repr(v) if k in ("player_a", "player_b") else v)
            for k, v in config._asdict().items()
        },
        "runs": rows,
        "summary": {
            k: {
                "per_style_mean": dict(zip(STYLES, m[:-1].tolist())),
                "per_style_std": dict(zip(STYLES, s[:-1].tolist())),
                "mean": float(m[-1]),
                "std": float(s[-1]),
            }
            for k, (m, s) in summary(results).items()
        },
        "paper": PAPER_ACCURACY,
        "ordering_holds": holds,
        "ordering": text,
        "resumed_from_chunk": trained.resumed_from,
        "history": trained.history,
    }


def report_text(results: Results) -> str:
    config, trained = results.config, results.trained
    lines = [
        "gtgen: experiment IV-C of Schlesinger & Flach (2025): player A of (c, d, z, s, x) "
        "learning with (c, s) pairs it completes by Gibbs sweeps",
        f"data: {config.dataset_name}; {trained.iterations} iterations of A (B pretrained "
        f"{config.pretrain}); {config.seeds} seeds; {len(results.test_c)} test images; "
        f"{results.wall_s:.0f} s",
        "",
        "test accuracy (x clamped, Gibbs sweeps, running average of p(c | rest), argmax), "
        "mean ± std over seeds; 'alone' is player A without (c, s) pairs (the authors' is a "
        "separate plain CNN classifier)",
        f"{'setting':<11}" + "".join(f"{s:>15}" for s in (*STYLES, "mean")) + f"{'paper':>9}",
    ]
    for k, (m, s) in summary(results).items():
        cells = "".join(f"{100 * a:>8.2f} ± {100 * b:>4.2f}" for a, b in zip(m, s))
        lines.append(f"{k:<11}{cells}{100 * PAPER_ACCURACY[k]:>9.2f}")
    holds, text = ordering(results)
    mark = "   " if holds is None else ("yes" if holds else "NO ")
    lines += ["", "the paper's ordering:", f"  [{mark}] {text}"]
    return "\n".join(lines)


def pictures(results: Results, folder: Path) -> list[Path]:
    """accuracy.png (per-style bars of the settings), samples_masks_b.png (B's masks, a row per
    class), imputed_<setting>.png (test images and A's imputed masks), generated_<setting>.png
    (A's images given class, columns, and style, rows)."""
    import matplotlib.pyplot as plt

    from gtgen.plots import save_image_grid, save_image_rows

    means = summary(results)
    labels = (*STYLES, "mean")
    width = 0.8 / max(len(means), 1)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for j, (k, (m, s)) in enumerate(means.items()):
        pos = np.arange(len(labels)) + (j - (len(means) - 1) / 2) * width
        ax.bar(pos, 100 * m, width, yerr=100 * s, capsize=2, label=k)
    lo = min(float(m.min() - s.max()) for m, s in means.values())
    ax.set_ylim(max(0.0, 100 * lo - 5), 100)
    ax.set_xticks(np.arange(len(labels)), labels)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"IV-C on {results.config.dataset_name}", fontsize=9)
    fig.tight_layout()
    written = [folder / "accuracy.png"]
    fig.savefig(written[0], dpi=110)
    plt.close(fig)
    pics = results.trained.pictures
    masks = pics["synthetic_masks"]
    written.append(save_image_rows(masks, folder / "samples_masks_b.png", min_size=600))
    for name, value in pics.items():
        if name.startswith("imputed_"):
            x, s = value
            grid = np.concatenate([np.clip(x, 0, 1), np.repeat(s[..., None], 3, -1)])
            written.append(
                save_image_grid(grid, folder / f"{name}.png", columns=len(x), min_size=600)
            )
        elif name.startswith("generated_"):
            written.append(
                save_image_rows(np.clip(value, 0, 1), folder / f"{name}.png", min_size=600)
            )
    return written


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """results.json, report.txt, accuracy.png and the sample grids, written atomically."""
    return write_experiment(
        out_dir, results_json(results), report_text(results), lambda f: pictures(results, f)
    )

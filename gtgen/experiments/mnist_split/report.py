"""What a run of experiment IV-A leaves behind: metrics.json, report.txt and pictures.

Kept apart from ``experiment`` (which computes) so that the CLI, the notebook and the tests
share one definition of the outputs and of the paper's claims as checked here:

- with a ≤ 0.5 each player generates every digit: each digit at least ``COVERAGE_MIN`` of its
  samples (at a = 0.5 the equilibrium mixture gives each of the other player's digits 1/15);
- alone (a = 1) each player generates its own digits: under ``ALONE_MAX_OTHER`` of its samples
  are classified as the other player's digits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gtgen.experiments.mnist_split.experiment import CLASS_SETS, PLAYERS, Results
from gtgen.experiments.runner import write_experiment

COVERAGE_MIN = 0.04
ALONE_MAX_OTHER = 0.10
DISTANCE_NOTE = ("frechet_classifier_distance: the Fréchet distance on the reference classifier's "
                 "features, gtgen's analogue of the paper's FID (not comparable in value with "
                 "published FIDs)")

IMAGE_NOTE = {"threshold": "Bernoulli mean thresholded at 0.5", "mean": "Bernoulli mean",
              "sample": "Bernoulli samples"}


class Claim(NamedTuple):
    """One of the paper's qualitative claims, checked on one value of a."""

    alpha: float
    text: str
    holds: bool


def claims(results: Results) -> list[Claim]:
    """The paper's claims for every value of a in the run where they apply (a ≤ 0.5, a = 1)."""
    ev, out = results.evaluation, []
    others = results.other_share()
    for s, a in enumerate(results.trained.entries.alphas):
        if results.trained.entries.baseline[s]:
            continue
        if a <= 0.5:
            rarest = ev.class_fractions[s].min(axis=1)
            out.append(Claim(float(a), f"a = {a:.2f}: each player generates every digit "
                             f"(rarest digit {_pct(rarest)}, need ≥ {COVERAGE_MIN:.0%})",
                             bool(np.all(rarest >= COVERAGE_MIN))))
        if a == 1.0:
            other = others[s]
            out.append(Claim(1.0, f"a = 1: each player generates its own digits (other "
                             f"player's digits {_pct(other)}, need < {ALONE_MAX_OTHER:.0%})",
                             bool(np.all(other < ALONE_MAX_OTHER))))
    return out


def _pct(values: np.ndarray) -> str:
    return " / ".join(f"{100 * v:.1f}%" for v in values)


def _record(results: Results, s: int, p: int) -> dict:
    """One model's numbers for metrics.json."""
    ev, hist = results.evaluation, results.trained.history
    fractions = ev.class_fractions[s, p]
    own, other = results.own_share()[s, p], results.other_share()[s, p]
    record = {
        "player": p,
        "digits": list(CLASS_SETS[p]),
        "class_fractions": [float(f) for f in fractions],
        "own_share": float(own),
        "other_share": float(other),
        "min_class_fraction": float(fractions.min()),
        "frechet_own": float(ev.frechet_own[s, p]),
        "frechet_other": float(ev.frechet_other[s, p]),
        "frechet_all": float(ev.frechet_all[s, p]),
    }
    if hist:
        record.update(loss_p=hist[-1]["loss_p"][s][p], loss_q=hist[-1]["loss_q"][s][p])
    return record


def summary(results: Results) -> list[dict]:
    """Per value of a (and the baseline): the distances averaged over the two players."""
    ev, ent = results.evaluation, results.trained.entries
    return [{"alpha": None if ent.baseline[s] else float(ent.alphas[s]),
             "baseline": bool(ent.baseline[s]),
             "frechet_own": float(ev.frechet_own[s].mean()),
             "frechet_other": float(ev.frechet_other[s].mean()),
             "frechet_all": float(ev.frechet_all[s].mean()),
             "own_share": float(results.own_share()[s].mean())}
            for s in range(len(ent.alphas))]


def metrics(results: Results) -> dict:
    """The content of metrics.json: ``runs`` (one per value of a and player), ``baseline``,
    ``summary``, ``claims``, the configuration and the loss history."""
    ent, config = results.trained.entries, results.config
    runs = [{"alpha": float(ent.alphas[s]), **_record(results, s, p)}
            for s in range(len(ent.alphas)) if not ent.baseline[s] for p in range(PLAYERS)]
    baseline = [_record(results, s, p)
                for s in range(len(ent.alphas)) if ent.baseline[s] for p in range(PLAYERS)]
    return {
        "experiment": "mnist-split (Schlesinger & Flach 2025, IV-A)",
        "dataset": config.dataset_name,
        "distance": DISTANCE_NOTE,
        "samples_per_model": config.eval_samples,
        "classifier_accuracy": results.evaluation.classifier_accuracy,
        "iterations": results.trained.iterations,
        "resumed_from_chunk": results.trained.resumed_from,
        "wall_s": results.wall_s,
        "config": {**config._asdict(), "model": dataclasses.asdict(config.hvae())},
        "runs": runs,
        "baseline": baseline,
        "summary": summary(results),
        "claims": [c._asdict() for c in claims(results)],
        "history": results.trained.history,
    }


def _row_label(results: Results, s: int) -> str:
    ent = results.trained.entries
    return "baseline (all digits)" if ent.baseline[s] else f"a = {ent.alphas[s]:.2f}"


def report_text(results: Results) -> str:
    """A short human-readable report: setting, a table per model, the claims."""
    config, ev, ent = results.config, results.evaluation, results.trained.entries
    model = config.hvae()
    n_values = int((~ent.baseline).sum())
    lines = [
        ("gtgen: experiment IV-A of Schlesinger & Flach (2025): player 0 holds digits 0–4, "
         "player 1 digits 5–9"),
        (f"data: {config.dataset_name}; model: symmetric-learning HVAE z0={model.z0} "
         f"z1={model.z1} ({model.arch}); {results.trained.iterations} iterations, batch "
         f"{config.batch}, Adam {model.lr:g}"),
        (f"{n_values} values of a{' + baseline' if config.baseline else ''}, × {PLAYERS} "
         f"players, trained in one compiled program; {results.wall_s:.0f} s"),
        (f"reference classifier: {100 * ev.classifier_accuracy:.1f}% on held-out real images; "
         f"{config.eval_samples} samples per model ({IMAGE_NOTE[config.eval_images]})"),
        ("FD = Fréchet distance on the classifier's features (the FID analogue, "
         "frechet_classifier_distance)"),
        "",
        (f"{'':22} {'player':>6} {'own digits':>10} {'other':>7} {'rarest digit':>13} "
         f"{'FD own':>7} {'FD other':>8} {'FD all':>7}"),
    ]
    own, other = results.own_share(), results.other_share()
    for s in range(len(ent.alphas)):
        for p in range(PLAYERS):
            frac = ev.class_fractions[s, p]
            rare = int(frac.argmin())
            lines.append(
                f"{_row_label(results, s):22} {p:>6} {100 * own[s, p]:>9.1f}% "
                f"{100 * other[s, p]:>6.1f}% {100 * frac[rare]:>8.1f}% ({rare}) "
                f"{ev.frechet_own[s, p]:>7.1f} {ev.frechet_other[s, p]:>8.1f} "
                f"{ev.frechet_all[s, p]:>7.1f}")
    found = claims(results)
    if found:
        lines += ["", "the paper's claims:"]
        lines += [f"  [{'yes' if c.holds else 'NO '}] {c.text}" for c in found]
    return "\n".join(lines)


def pictures(results: Results, folder: Path) -> list[Path]:
    """samples.png (all models), samples/<a>_player<p>.png, frechet.png, class_fractions.png."""
    from gtgen.plots import curves_against_alpha, fraction_maps, sample_panels, save_image_grid

    ent, ev = results.trained.entries, results.evaluation
    rows = [_row_label(results, s) for s in range(len(ent.alphas))]
    players = [f"player {p} (digits {CLASS_SETS[p][0]}–{CLASS_SETS[p][-1]})" for p in range(PLAYERS)]
    written = [sample_panels(ev.pictures, rows, players, folder / "samples.png",
                             title=f"samples ({IMAGE_NOTE[results.config.eval_images]})")]
    (folder / "samples").mkdir()
    for s in range(len(ent.alphas)):
        tag = "baseline" if ent.baseline[s] else f"a{ent.alphas[s]:.2f}"
        for p in range(PLAYERS):
            written.append(save_image_grid(ev.pictures[s, p],
                                           folder / "samples" / f"{tag}_player{p}.png"))
    written.append(fraction_maps(ev.class_fractions, rows, players, folder / "class_fractions.png"))
    pairs = [(s, a) for s, a in enumerate(ent.alphas) if not ent.baseline[s]]
    base = [s for s in range(len(ent.alphas)) if ent.baseline[s]]
    curves = {name: [getattr(ev, f"frechet_{name}")[s].mean() for s, _ in pairs]
              for name in ("own", "other", "all")}
    baselines = {name: float(getattr(ev, f"frechet_{name}")[base].mean()) for name in curves} \
        if base else {}
    written.append(curves_against_alpha(
        [a for _, a in pairs], {f"{k} digits": v for k, v in curves.items()},
        {f"{k} digits": v for k, v in baselines.items()}, folder / "frechet.png",
        ylabel="Fréchet classifier distance (FID analogue)",
        title="distance of samples to real digits, averaged over the two players"))
    return written


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """Write metrics.json, report.txt and the pictures into ``out_dir`` (atomically)."""
    return write_experiment(out_dir, metrics(results), report_text(results),
                            lambda folder: pictures(results, folder), json_name="metrics.json")

"""What a run of experiment IV-A leaves behind: metrics.json, report.txt and pictures.

Kept apart from ``experiment`` (which computes) so that the CLI, the notebook and the tests
share one definition of the outputs and of the paper's claims as checked here:

- with a ≤ 0.5 each player generates every digit: each digit at least ``COVERAGE_MIN`` of its
  samples (at a = 0.5 the equilibrium mixture gives each of the other player's digits 1/15);
- alone (a = 1) each player generates its own digits: under ``ALONE_MAX_OTHER`` of its samples
  are classified as the other player's digits.

Each claim is checked on every (a, seed) entry the run trained; ``verdict`` states each over all
of them (which values of a fail, for which seeds), ``coverage_table`` lists the rarest digit per
value of a and seed, and coverage.png plots it against a (mean and spread over the seeds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gtgen.experiments.mnist_split.experiment import (
    CLASS_SETS,
    PLAYERS,
    Results,
    chunking,
    ramp_chunks,
    warmup_chunks,
)
from gtgen.experiments.runner import write_experiment

COVERAGE_MIN = 0.04
RISING = 0.002  # a tracked rise of at least 0.2 points over the last fifth: still rising
ALONE_MAX_OTHER = 0.10
DISTANCE_NOTE = (
    "frechet_classifier_distance: the Fréchet distance on the reference classifier's "
    "features, gtgen's analogue of the paper's FID (not comparable in value with "
    "published FIDs)"
)

IMAGE_NOTE = {
    "threshold": "Bernoulli mean thresholded at 0.5",
    "mean": "Bernoulli mean",
    "sample": "Bernoulli samples",
}


COVERAGE, ALONE = "coverage", "alone"  # the two kinds of claim


class Claim(NamedTuple):
    """One of the paper's qualitative claims, checked on one value of a and one seed."""

    alpha: float
    text: str
    holds: bool
    seed: int = 0
    kind: str = COVERAGE  # COVERAGE (a ≤ 0.5) or ALONE (a = 1)
    values: tuple[float, ...] = ()  # the checked share of each player


def claims(results: Results) -> list[Claim]:
    """The paper's claims for every (a, seed) entry of the run where they apply (a ≤ 0.5,
    a = 1), in the order of the entries."""
    ev, ent, out = results.evaluation, results.trained.entries, []
    others = results.other_share()
    tagged = results.config.seeds > 1
    for s, a in enumerate(ent.alphas):
        if ent.baseline[s]:
            continue
        seed = int(ent.seeds[s])
        where = f"a = {a:.2f}" + (f", seed {seed}" if tagged else "")
        if a <= 0.5:
            rarest = ev.class_fractions[s].min(axis=1)
            out.append(
                Claim(
                    float(a),
                    f"{where}: each player generates every digit "
                    f"(rarest digit {_pct(rarest)}, need ≥ {COVERAGE_MIN:.0%})",
                    bool(np.all(rarest >= COVERAGE_MIN)),
                    seed,
                    COVERAGE,
                    tuple(map(float, rarest)),
                )
            )
        if a == 1.0:
            other = others[s]
            where = "a = 1" + (f", seed {seed}" if tagged else "")
            out.append(
                Claim(
                    1.0,
                    f"{where}: each player generates its own digits (other "
                    f"player's digits {_pct(other)}, need < {ALONE_MAX_OTHER:.0%})",
                    bool(np.all(other < ALONE_MAX_OTHER)),
                    seed,
                    ALONE,
                    tuple(map(float, other)),
                )
            )
    return out


class Verdict(NamedTuple):
    """One kind of claim over every (a, seed) entry it applies to."""

    kind: str
    holds: bool
    checked: int  # entries checked
    failed: tuple[tuple[float, int], ...]  # (a, seed) of the entries where it fails
    text: str


def verdicts(found: list[Claim]) -> list[Verdict]:
    """Each kind of claim present in ``found`` stated over all its entries: it holds only if
    it holds for every value of a and every seed; otherwise the failing a and seeds."""
    out = []
    for kind, what in (
        (
            COVERAGE,
            f"at every a ≤ 0.5 each player generates every digit (each ≥ {COVERAGE_MIN:.0%})",
        ),
        (
            ALONE,
            f"at a = 1 each player keeps to its own digits (other player's "
            f"< {ALONE_MAX_OTHER:.0%})",
        ),
    ):
        mine = [c for c in found if c.kind == kind]
        if not mine:
            continue
        failed = tuple((c.alpha, c.seed) for c in mine if not c.holds)
        alphas = sorted({c.alpha for c in mine})
        seeds = sorted({c.seed for c in mine})
        scope = (
            f"a ∈ {{{', '.join(f'{a:g}' for a in alphas)}}} × seeds {', '.join(map(str, seeds))}"
        )
        if failed:
            bad = {}
            for a, seed in failed:
                bad.setdefault(a, []).append(seed)
            where = "; ".join(
                f"a = {a:g} (seed{'s' if len(v) > 1 else ''} {', '.join(map(str, v))})"
                for a, v in sorted(bad.items())
            )
            text = f"{what}: NO, fails {len(failed)} of {len(mine)} ({scope}): {where}"
        else:
            text = f"{what}: yes, all {len(mine)} ({scope})"
        out.append(Verdict(kind, not failed, len(mine), failed, text))
    return out


def coverage_table(results: Results) -> list[str]:
    """Lines of a table: the rarest digit's share (player 0 / player 1) per value of a (rows)
    and seed (columns); at a = 1 (where the claim is about the other player's digits) also
    their share, in brackets."""
    ent, ev = results.trained.entries, results.evaluation
    seeds = sorted({int(x) for x in ent.seeds})
    alphas = sorted({float(a) for a, b in zip(ent.alphas, ent.baseline) if not b})
    others = results.other_share()
    cell = 28
    lines = [f"{'rarest digit, p0 / p1':<24}" + "".join(f"{f'seed {x}':>{cell}}" for x in seeds)]
    for a in alphas:
        row = f"{f'a = {a:.2f}':<24}"
        for seed in seeds:
            s = next(
                i
                for i in range(len(ent.alphas))
                if not ent.baseline[i] and float(ent.alphas[i]) == a and int(ent.seeds[i]) == seed
            )
            text = _pct(ev.class_fractions[s].min(axis=1))
            if a == 1.0:
                text += f" [{_pct(others[s])}]"
            row += f"{text:>{cell}}"
        lines.append(row)
    return lines


def coverage_curve(results: Results) -> tuple[list[int], list[float], np.ndarray] | None:
    """The tracked coverage: ``(iterations [T], alphas [A], rarest [A, T, seeds])``, the rarest
    digit's share of the lower player after every chunk (``Config.track_samples`` samples per
    model); None when the run tracked none."""
    hist = [h for h in results.trained.history if "class_fractions" in h]
    if not hist:
        return None
    rarest = np.array([np.asarray(h["class_fractions"]).min(axis=2).min(axis=1) for h in hist])
    alphas, per = by_alpha(results, rarest.T)  # [A, seeds, T]
    return [int(h["iteration"]) for h in hist], alphas, per.transpose(0, 2, 1)


def coverage_trend(results: Results, points: int = 5) -> list[str]:
    """Lines: per value of a, the rarest digit's share (lower player, mean over seeds) at
    ``points`` iterations of the run, and whether it still rose over the last fifth."""
    curve = coverage_curve(results)
    if curve is None:
        return []
    iterations, alphas, rarest = curve
    picks = sorted({round(k * (len(iterations) - 1) / (points - 1)) for k in range(points)})
    head = "  ".join(f"{iterations[i]:>7}" for i in picks)
    lines = [
        f"coverage against iterations (rarest digit, lower player, mean over seeds, "
        f"{results.config.track_samples} samples per model):",
        f"{'iteration':<12}{head}   last fifth",
    ]
    for a, values in zip(alphas, rarest):
        mean = values.mean(axis=1)
        row = "  ".join(f"{100 * mean[i]:>6.1f}%" for i in picks)
        lines.append(f"{f'a = {a:.2f}':<12}{row}   {100 * last_fifth_rise(mean):+.1f} points")
    return lines


def last_fifth_rise(series: np.ndarray) -> float:
    """The mean of the last fifth of ``series`` minus the mean of the fifth before (NaN when
    shorter than two fifths of one point each)."""
    fifth = max(1, len(series) // 5)
    if len(series) < 2 * fifth:
        return float("nan")
    return float(series[-fifth:].mean() - series[-2 * fifth : -fifth].mean())


def budget_advice(results: Results, failed: Sequence[tuple[float, int]]) -> list[str]:
    """Lines: for each value of a whose coverage claim failed, whether its tracked rarest digit
    (lower player, mean over seeds) still rose over the last fifth of the run (by at least
    ``RISING`` — more rounds, ``--iterations``, may close the gap) or had levelled off (the
    budget is not what limits it)."""
    curve = coverage_curve(results)
    if curve is None:
        return []
    _, alphas, rarest = curve
    failing = {round(float(a), 6) for a, _ in failed}
    lines = []
    for a, values in zip(alphas, rarest):
        rise = last_fifth_rise(values.mean(axis=1))
        if round(float(a), 6) not in failing or not np.isfinite(rise):
            continue
        state = (
            "still rising: more rounds (--iterations) may close it"
            if rise >= RISING
            else "levelled off: more rounds are unlikely to close it"
        )
        lines.append(
            f"  a = {a:g}: rarest digit {100 * rise:+.1f} points over the last fifth, {state}"
        )
    return lines


def missing_digits(results: Results) -> dict[int, int]:
    """Where the coverage claim fails: ``{digit: models}``, how many models (of the entries with
    a ≤ 0.5) have that digit under ``COVERAGE_MIN``, most frequent first."""
    ev, ent = results.evaluation, results.trained.entries
    counts: dict[int, int] = {}
    for s, a in enumerate(ent.alphas):
        if ent.baseline[s] or a > 0.5:
            continue
        for digit in np.flatnonzero((ev.class_fractions[s] < COVERAGE_MIN).any(axis=0)):
            low = int((ev.class_fractions[s, :, digit] < COVERAGE_MIN).sum())
            counts[int(digit)] = counts.get(int(digit), 0) + low
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _pct(values: np.ndarray) -> str:
    return " / ".join(f"{100 * v:.1f}%" for v in values)


def _record(results: Results, s: int, p: int) -> dict:
    """One model's numbers for metrics.json."""
    ev, hist = results.evaluation, results.trained.history
    fractions = ev.class_fractions[s, p]
    own, other = results.own_share()[s, p], results.other_share()[s, p]
    record = {
        "seed": int(results.trained.entries.seeds[s]),
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
    return [
        {
            "alpha": None if ent.baseline[s] else float(ent.alphas[s]),
            "baseline": bool(ent.baseline[s]),
            "seed": int(ent.seeds[s]),
            "frechet_own": float(ev.frechet_own[s].mean()),
            "frechet_other": float(ev.frechet_other[s].mean()),
            "frechet_all": float(ev.frechet_all[s].mean()),
            "own_share": float(results.own_share()[s].mean()),
        }
        for s in range(len(ent.alphas))
    ]


def metrics(results: Results) -> dict:
    """The content of metrics.json: ``runs`` (one per value of a and player), ``baseline``,
    ``summary``, ``claims``, the configuration and the loss history."""
    ent, config = results.trained.entries, results.config
    runs = [
        {"alpha": float(ent.alphas[s]), **_record(results, s, p)}
        for s in range(len(ent.alphas))
        if not ent.baseline[s]
        for p in range(PLAYERS)
    ]
    baseline = [
        _record(results, s, p)
        for s in range(len(ent.alphas))
        if ent.baseline[s]
        for p in range(PLAYERS)
    ]
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
        "verdicts": [v._asdict() for v in verdicts(claims(results))],
        "history": results.trained.history,
    }


def _row_label(results: Results, s: int) -> str:
    ent = results.trained.entries
    label = "baseline (all digits)" if ent.baseline[s] else f"a = {ent.alphas[s]:.2f}"
    return label + (f", seed {ent.seeds[s]}" if results.config.seeds > 1 else "")


def report_text(results: Results) -> str:
    """A short human-readable report: setting, a table per model, the claims."""
    config, ev, ent = results.config, results.evaluation, results.trained.entries
    model = config.hvae()
    _, per_chunk = chunking(config)
    warm = warmup_chunks(config) * per_chunk
    ramp = ramp_chunks(config) * per_chunk
    warmup = f" (the first {warm} alone, α = I" if warm else ""
    if ramp:
        warmup += f"{', then ' if warm else ' ('}the self-weight from 1 to a over {ramp}"
    warmup += ")" if warmup else ""
    decay = f" cosine to ×{config.lr_final:g}" if config.lr_final < 1 else ""
    lines = [
        (
            "gtgen: experiment IV-A of Schlesinger & Flach (2025): player 0 holds digits 0–4, "
            "player 1 digits 5–9"
        ),
        (
            f"data: {config.dataset_name}; model: symmetric-learning HVAE z0={model.z0} "
            f"z1={model.z1} ({model.arch}); {results.trained.iterations} iterations"
            f"{warmup}, batch {config.batch} ({config.own_draw} own draws), Adam {model.lr:g}"
            f"{decay}"
        ),
        (
            f"{len(config.alphas)} values of a{' + baseline' if config.baseline else ''} × "
            f"{config.seeds} seed{'s' if config.seeds > 1 else ''} ({len(ent.alphas)} entries) × "
            f"{PLAYERS} players, trained in one compiled program; {results.wall_s:.0f} s"
        ),
        (
            f"reference classifier: {100 * ev.classifier_accuracy:.1f}% on held-out real images; "
            f"{config.eval_samples} samples per model ({IMAGE_NOTE[config.eval_images]})"
        ),
        (
            "FD = Fréchet distance on the classifier's features (the FID analogue, "
            "frechet_classifier_distance)"
        ),
        "",
        (
            f"{'':30} {'player':>6} {'own digits':>10} {'other':>7} {'rarest digit':>13} "
            f"{'FD own':>7} {'FD other':>8} {'FD all':>7}"
        ),
    ]
    own, other = results.own_share(), results.other_share()
    for s in range(len(ent.alphas)):
        for p in range(PLAYERS):
            frac = ev.class_fractions[s, p]
            rare = int(frac.argmin())
            lines.append(
                f"{_row_label(results, s):30} {p:>6} {100 * own[s, p]:>9.1f}% "
                f"{100 * other[s, p]:>6.1f}% {100 * frac[rare]:>8.1f}% ({rare}) "
                f"{ev.frechet_own[s, p]:>7.1f} {ev.frechet_other[s, p]:>8.1f} "
                f"{ev.frechet_all[s, p]:>7.1f}"
            )
    found = claims(results)
    if found:
        lines += ["", *coverage_table(results)]
        trend = coverage_trend(results)
        lines += ["", *trend] if trend else []
        lines += ["", "the paper's claims, per value of a and seed:"]
        lines += [f"  [{'yes' if c.holds else 'NO '}] {c.text}" for c in found]
        lines += ["", "verdict over every value of a and seed of this run:"]
        lines += [f"  [{'yes' if v.holds else 'NO '}] {v.text}" for v in verdicts(found)]
        missing = missing_digits(results)
        if missing:
            models = 2 * sum(1 for c in found if c.kind == COVERAGE)
            where = ", ".join(f"digit {d} in {k}" for d, k in missing.items())
            lines.append(
                f"  under {COVERAGE_MIN:.0%} (of {models} models at a ≤ 0.5): {where}; "
                "coverage_curves.png shows the rarest digit during training"
            )
            failed = [f for v in verdicts(found) if v.kind == COVERAGE for f in v.failed]
            lines += budget_advice(results, failed)
    return "\n".join(lines)


def by_alpha(results: Results, values: np.ndarray) -> tuple[list[float], np.ndarray]:
    """``values [S, ...]`` of the entries of a (not the baseline) as ``(alphas, [A, seeds, ...])``
    with the values of a in increasing order."""
    ent = results.trained.entries
    alphas = sorted({float(a) for a, b in zip(ent.alphas, ent.baseline) if not b})
    seeds = sorted({int(x) for x in ent.seeds})
    index = {
        (float(a), int(x)): i
        for i, (a, x, b) in enumerate(zip(ent.alphas, ent.seeds, ent.baseline))
        if not b
    }
    return alphas, np.stack([[values[index[a, x]] for x in seeds] for a in alphas])


def pictures(results: Results, folder: Path) -> list[Path]:
    """samples.png (the first seed's models), samples/<a>[_seed<s>]_player<p>.png,
    frechet.png, coverage.png, coverage_curves.png (when tracked), class_fractions.png."""
    from gtgen.plots import (
        curves_against_alpha,
        curves_against_iterations,
        fraction_maps,
        sample_panels,
        save_image_grid,
        spread_against_alpha,
    )

    ent, ev, config = results.trained.entries, results.evaluation, results.config
    rows = [_row_label(results, s) for s in range(len(ent.alphas))]
    players = [
        f"player {p} (digits {CLASS_SETS[p][0]}–{CLASS_SETS[p][-1]})" for p in range(PLAYERS)
    ]
    first = [s for s in range(len(ent.alphas)) if ent.seeds[s] == config.seed]
    written = [
        sample_panels(
            ev.pictures[first],
            [rows[s] for s in first],
            players,
            folder / "samples.png",
            title=f"samples ({IMAGE_NOTE[config.eval_images]})",
        )
    ]
    (folder / "samples").mkdir()
    for s in range(len(ent.alphas)):
        tag = "baseline" if ent.baseline[s] else f"a{ent.alphas[s]:.2f}"
        tag += f"_seed{ent.seeds[s]}" if config.seeds > 1 else ""
        for p in range(PLAYERS):
            written.append(
                save_image_grid(ev.pictures[s, p], folder / "samples" / f"{tag}_player{p}.png")
            )
    written.append(fraction_maps(ev.class_fractions, rows, players, folder / "class_fractions.png"))
    base = [s for s in range(len(ent.alphas)) if ent.baseline[s]]
    curves, baselines = {}, {}
    for name in ("own", "other", "all"):
        distance = getattr(ev, f"frechet_{name}")
        alphas, per = by_alpha(results, distance.mean(axis=1))
        curves[f"{name} digits"] = per.mean(axis=1)
        if base:
            baselines[f"{name} digits"] = float(distance[base].mean())
    seeds = "" if config.seeds == 1 else f" and {config.seeds} seeds"
    written.append(
        curves_against_alpha(
            alphas,
            curves,
            baselines,
            folder / "frechet.png",
            ylabel="Fréchet classifier distance (FID analogue)",
            title=f"distance of samples to real digits, averaged over the two players{seeds}",
        )
    )
    alphas, rarest = by_alpha(results, ev.class_fractions.min(axis=2).min(axis=1))
    grid = np.linspace(min(alphas), 1.0, 60)
    written.append(
        spread_against_alpha(
            alphas,
            rarest,
            folder / "coverage.png",
            reference=(
                grid,
                (1 - grid) / (5 * (2 - grid)),
                "equilibrium, each of the other's digits: (1 − a) / (5 (2 − a))",
            ),
            threshold=(COVERAGE_MIN, f"claim (a ≤ 0.5): ≥ {COVERAGE_MIN:.0%}"),
            ylabel="rarest digit's share (lower player)",
            title=f"coverage: rarest digit against a, over {config.seeds} "
            f"seed{'s' if config.seeds > 1 else ''} (mean, min–max, each seed)",
        )
    )
    curve = coverage_curve(results)
    if curve is not None:
        iterations, alphas, rarest = curve
        written.append(
            curves_against_iterations(
                iterations,
                {f"a = {a:g}": values for a, values in zip(alphas, rarest)},
                folder / "coverage_curves.png",
                threshold=(COVERAGE_MIN, f"claim (a ≤ 0.5): ≥ {COVERAGE_MIN:.0%}"),
                ylabel="rarest digit's share (the lower player)",
                title=f"coverage during training: mean and min–max over {config.seeds} "
                f"seed{'s' if config.seeds > 1 else ''} ({config.track_samples} samples "
                "per model and chunk)",
            )
        )
    return written


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """Write metrics.json, report.txt and the pictures into ``out_dir`` (atomically)."""
    return write_experiment(
        out_dir,
        metrics(results),
        report_text(results),
        lambda folder: pictures(results, folder),
        json_name="metrics.json",
    )

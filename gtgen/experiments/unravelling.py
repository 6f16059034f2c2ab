"""Unravelling and its cure by probabilistic verification: the study behind
``gtgen experiment unravelling`` (gtgen's formulation of Capitaine et al., NeurIPS 2024; see
``gtgen.mechanisms.verification`` for the model and why each claim below holds).

Two tasks, each in one compiled program (every mechanism × ``replicates`` Monte-Carlo
replicates): mean estimation with biases b = (0, ½, 1, 3/2, 2), σ_j = σ_0 = 1, n = 50, and
classification with label-noise rates θ_j = (1 − 3^{−j})/2, d = 50, n = 100. Mechanisms: pooling,
full information, verification with truthful reports at m = fraction × (the guaranteed m), and
ε = ∞ with the lemons report (every agent claims the best type) and with truthful reports, and
verification at the guaranteed m facing the lemons report. Plus the exchange game: the same
mean-estimation agents as 1-D Gaussian players under uniform α and under the verified α policy.

The claims checked (``claims``), each for both tasks:

- pooling ends at ∅ or {worst agent} in every replicate;
- full information keeps the grand coalition stable in every replicate;
- with verification at the guaranteed m the grand coalition is stable in ≥ 1 − δ of the
  replicates, and the frequency rises with m: the exact pass probability rises, and the measured
  frequency is within 4 standard errors of it at every m;
- ε = ∞ with the lemons report unravels in every replicate (and with truthful reports it is full
  information, replicate by replicate);
- at the guaranteed m every lemon report is caught in ≥ 1 − δ of the replicates;
- the expected risks (closed forms) agree with the Monte-Carlo risks: within 4 standard errors
  for mean estimation, within 0.003 + 4 standard errors for classification (the closed form is
  the large-d limit, O(1/d) off: 0.001–0.0015 at d = 50);
- the exchange game unravels under uniform α and stays whole under the verified α policy.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from gtgen.checks import any_integer, integer
from gtgen.experiments.runner import write_experiment
from gtgen.mechanisms import verification as vf
from gtgen.mechanisms.verification.guarantee import check_delta, check_eps
from gtgen.mechanisms.verification.model import check_number

DEFAULT_FLIP = tuple(float((1 - 3.0**-j) / 2) for j in range(5))
DEFAULT_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 2.0)
CLASSIFICATION_ALLOWANCE = 0.003  # the large-d closed form's O(1/d) error at d = 50, with room
STANDARD_ERRORS = 4.0
TASKS = ("mean", "classification")


class Config(NamedTuple):
    """One run of the study (defaults: the stated settings).

    ``bias``, ``noise``, ``target_noise``, ``samples``, ``eps``  the mean-estimation task and its
        verification tolerance.
    ``flip``, ``dim``, ``cls_samples``, ``cls_eps``  the classification task and its tolerance.
    ``cost``       c, the price of one sample (both tasks).
    ``delta``      the guarantee's confidence 1 − δ.
    ``fractions``  verification samples to try, as multiples of the guaranteed m.
    ``replicates`` Monte-Carlo replicates per mechanism; ``max_rounds`` cap on the dynamics.
    """

    bias: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)
    noise: float | tuple[float, ...] = 1.0
    target_noise: float = 1.0
    samples: int = 50
    eps: float = 0.2
    flip: tuple[float, ...] = DEFAULT_FLIP
    dim: int = 50
    cls_samples: int = 100
    cls_eps: float = 0.15
    cost: float = 1e-7
    delta: float = 0.05
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    replicates: int = 4096
    max_rounds: int = 12
    seed: int = 0

    def tasks(self) -> dict[str, vf.Task]:
        return {
            "mean": vf.mean_estimation(
                self.bias, self.noise, self.samples, self.target_noise, self.cost
            ),
            "classification": vf.classification(self.flip, self.cls_samples, self.dim, self.cost),
        }

    def tolerance(self, kind: str) -> float:
        return self.eps if kind == "mean" else self.cls_eps


def small_config(**changes: Any) -> Config:
    """A run of seconds for tests and notebooks (1024 replicates, the stated settings)."""
    return Config(replicates=1024)._replace(**changes)


def validate(config: Config) -> Config:
    """``config`` with checked fields; ValueError / TypeError names the field that is wrong."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected unravelling.Config, got {type(config).__name__}")
    config.tasks()  # bias, noise, samples, target_noise, cost, flip, dim, cls_samples
    for name in ("eps", "cls_eps"):
        if math.isinf(check_eps(getattr(config, name), name)):
            raise ValueError(
                f"{name}: the study needs a finite tolerance (ε = ∞ is one of its "
                "mechanisms already)"
            )
    check_delta(config.delta)
    fractions = (
        np.asarray(config.fractions, dtype=float) if np.ndim(config.fractions) == 1 else np.zeros(0)
    )
    if fractions.size == 0 or not np.all(np.isfinite(fractions)) or np.any(fractions <= 0):
        raise ValueError(
            f"fractions: must be a non-empty list of positive multiples of the "
            f"guaranteed m, got {config.fractions!r}"
        )
    if 1.0 not in fractions.tolist():
        raise ValueError("fractions: must include 1 (the guaranteed m itself)")
    for name in ("replicates", "max_rounds"):
        integer(name, getattr(config, name))
    any_integer("seed", config.seed)
    check_number(config.cost, "cost", low=0.0)
    return config._replace(fractions=tuple(sorted(set(fractions.tolist()))))


# ---------------------------------------------------------------------------------------------
# the computation


class TaskResult(NamedTuple):
    """One task's study: its closed forms, guarantee, the m grid and the Monte-Carlo outcome."""

    kind: str
    task: vf.Task
    closed: vf.ClosedForm
    guarantee: vf.Guarantee
    grid: tuple[int, ...]
    exact: tuple[float, ...]  # exact probability of a stable grand coalition at each m
    outcome: vf.Outcome
    worst: int

    def scenario(self, name: str) -> int:
        return self.outcome.index(name)


class Results(NamedTuple):
    config: Config
    tasks: dict[str, TaskResult]
    exchange: dict[str, vf.ExchangeOutcome]
    wall_s: float


SCENARIOS = (
    "pooling",
    "full information",
    "no test, lemons",
    "no test, truthful",
    "verification at m*, lemons",
)


def verification_name(m: int) -> str:
    return f"verification m={m}"


def run_task(config: Config, kind: str, key: jax.Array) -> TaskResult:
    task = config.tasks()[kind]
    eps = config.tolerance(kind)
    closed = vf.closed_form(task)
    g = vf.guarantee(task, eps, config.delta)
    grid = tuple(sorted({max(2, round(f * g.samples)) for f in config.fractions}))
    mechanisms = [vf.pooling("pooling"), vf.full_information("full information")]
    mechanisms += [vf.verification(eps, m, name=verification_name(m)) for m in grid]
    mechanisms += [
        vf.verification(math.inf, reports="lemons", name="no test, lemons"),
        vf.verification(math.inf, name="no test, truthful"),
        vf.verification(eps, g.samples, reports="lemons", name="verification at m*, lemons"),
    ]
    outcome = vf.simulate(task, mechanisms, key, config.replicates, config.max_rounds)
    affordable = [m <= g.affordable for m in grid]
    exact = tuple(vf.pass_probability(task, eps, m) * ok for m, ok in zip(grid, affordable))
    return TaskResult(kind, task, closed, g, grid, exact, outcome, int(np.argmax(closed.alone)))


def run_exchange(config: Config, key: jax.Array) -> dict[str, vf.ExchangeOutcome]:
    """The exchange game of the mean-estimation agents under the two α policies."""
    task = config.tasks()["mean"]
    g = vf.guarantee(task, config.eps, config.delta)
    lemons = np.tile(vf.closed_form(task).best, (task.agents, 1))
    k_truth, k_lemons = jax.random.split(key)
    return {
        "uniform": vf.play_exchange(task, "uniform"),
        "verified": vf.play_exchange(
            task, "verified", passes=vf.verification_passes(task, k_truth, config.eps, g.samples)
        ),
        "no test, lemons": vf.play_exchange(task, "verified", reports=lemons),
        "verified, lemons": vf.play_exchange(
            task,
            "verified",
            reports=lemons,
            passes=vf.verification_passes(task, k_lemons, config.eps, g.samples, lemons),
        ),
    }


def run(config: Config | None = None, out_dir: str | Path | None = None) -> Results:
    """Run the study; with ``out_dir`` write results.json, report.txt and the plots there."""
    config = validate(config or Config())
    start = time.perf_counter()
    k_mean, k_cls, k_exchange = jax.random.split(jax.random.key(config.seed), 3)
    tasks = {
        "mean": run_task(config, "mean", k_mean),
        "classification": run_task(config, "classification", k_cls),
    }
    results = Results(config, tasks, run_exchange(config, k_exchange), time.perf_counter() - start)
    if out_dir is not None:
        write_outputs(results, out_dir)
    return results


# ---------------------------------------------------------------------------------------------
# the claims


class Claim(NamedTuple):
    task: str
    text: str
    holds: bool


def _se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1.0 / n) / n)


def frequencies(tr: TaskResult) -> np.ndarray:
    """[len(grid)] measured frequency of a stable grand coalition at every m."""
    out = tr.outcome
    return np.array([out.grand_stable[tr.scenario(verification_name(m))].mean() for m in tr.grid])


def risk_agreement(tr: TaskResult, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per agent: mean expected risk, mean realised risk, standard error of their difference."""
    out = tr.outcome
    diff = out.realised[s] - out.risk[s]
    return (
        out.risk[s].mean(0),
        out.realised[s].mean(0),
        diff.std(0, ddof=1) / math.sqrt(diff.shape[0]),
    )


def task_claims(tr: TaskResult, config: Config) -> list[Claim]:
    out, g, R = tr.outcome, tr.guarantee, config.replicates
    kind, worst, delta = tr.kind, tr.worst, config.delta
    pool, full = tr.scenario("pooling"), tr.scenario("full information")
    lemons, truthful = tr.scenario("no test, lemons"), tr.scenario("no test, truthful")
    at = tr.scenario(verification_name(g.samples))
    freq, exact = frequencies(tr), np.array(tr.exact)
    se = np.array([_se(p, R) for p in exact])
    claims = [
        Claim(
            kind,
            f"pooling ends at ∅ or {{worst agent}} in every replicate "
            f"({out.unravelled(worst)[pool].mean():.2%})",
            bool(out.unravelled(worst)[pool].all()),
        ),
        Claim(
            kind,
            f"full information keeps the grand coalition stable in every replicate "
            f"({out.grand_stable[full].mean():.2%})",
            bool(out.grand_stable[full].all()),
        ),
        Claim(
            kind,
            f"verification at the guaranteed m = {g.samples}: stable grand coalition in "
            f"{freq[tr.grid.index(g.samples)]:.2%} ≥ 1 − δ = {1 - delta:.0%}",
            bool(freq[tr.grid.index(g.samples)] >= 1 - delta),
        ),
        Claim(
            kind,
            f"the frequency rises with m: exact {', '.join(f'{p:.3f}' for p in exact)}; "
            f"measured within {STANDARD_ERRORS:g} SE at every m (largest gap "
            f"{np.max(np.abs(freq - exact) / se):.1f} SE)",
            bool(
                np.all(np.diff(exact) > 0) and np.all(np.abs(freq - exact) <= STANDARD_ERRORS * se)
            ),
        ),
        Claim(
            kind,
            f"ε = ∞ with the lemons report unravels in every replicate "
            f"({out.unravelled(worst)[lemons].mean():.2%})",
            bool(out.unravelled(worst)[lemons].all()),
        ),
        Claim(
            kind,
            "ε = ∞ with truthful reports is full information in every replicate",
            bool(
                np.array_equal(out.members[truthful], out.members[full])
                and np.allclose(out.risk[truthful], out.risk[full])
            ),
        ),
    ]
    lied = np.abs(tr.task.types - tr.closed.best).max(axis=1) > 2 * config.tolerance(kind)
    caught = out.caught[at][:, lied].all(axis=1).mean()
    claims.append(
        Claim(
            kind,
            f"at m = {g.samples} every lemon report (agents "
            f"{np.flatnonzero(lied).tolist()}) is caught in {caught:.2%} ≥ "
            f"{1 - delta:.0%}",
            bool(caught >= 1 - delta),
        )
    )
    allowance = 0.0 if kind == "mean" else CLASSIFICATION_ALLOWANCE
    gap, within = 0.0, True
    for s in range(len(out.names)):
        expected, realised, err = risk_agreement(tr, s)
        diff = np.abs(realised - expected)
        gap = max(gap, float(diff.max()))
        within &= bool(np.all(diff <= allowance + STANDARD_ERRORS * err))
    what = "4 SE" if kind == "mean" else f"{allowance} + 4 SE (the large-d limit's O(1/d))"
    claims.append(
        Claim(
            kind,
            f"closed-form risks agree with Monte Carlo within {what} for every "
            f"mechanism and agent (largest gap {gap:.2g})",
            within,
        )
    )
    return claims


def exchange_claims(exchange: dict[str, vf.ExchangeOutcome]) -> list[Claim]:
    uniform, verified = exchange["uniform"], exchange["verified"]
    others = np.delete(uniform.trajectory[-1], int(np.argmax(uniform.alone)))
    return [
        Claim(
            "exchange",
            f"uniform α unravels: {' → '.join(str(int(t.sum())) for t in uniform.trajectory)}"
            " players",
            bool(not others.any()),
        ),
        Claim(
            "exchange",
            "the verified α policy keeps the game whole (every player at least as good as alone)",
            bool(verified.whole and np.all(verified.risk <= verified.alone * (1 + 1e-9) + 1e-12)),
        ),
        Claim(
            "exchange",
            "without a test (ε = ∞) the lemons report makes the verified policy "
            "uniform again, and the game unravels",
            bool(not exchange["no test, lemons"].whole),
        ),
    ]


def claims(results: Results) -> list[Claim]:
    out = []
    for tr in results.tasks.values():
        out += task_claims(tr, results.config)
    return out + exchange_claims(results.exchange)


# ---------------------------------------------------------------------------------------------
# outputs


def _scenario_record(tr: TaskResult, s: int) -> dict:
    out = tr.outcome
    expected, realised, err = risk_agreement(tr, s)
    record = {
        "name": out.names[s],
        "grand_stable": float(out.grand_stable[s].mean()),
        "unravelled": float(out.unravelled(tr.worst)[s].mean()),
        "converged": float(out.converged[s].mean()),
        "final_size": np.bincount(out.members[s].sum(1), minlength=tr.task.agents + 1).tolist(),
        "mean_size_per_round": out.sizes[s].mean(0).round(4).tolist(),
        "excluded": out.eligible[s].__invert__().mean(0).tolist(),
        "lemon_caught": out.caught[s].mean(0).tolist(),
        "expected_risk": expected.tolist(),
        "realised_risk": realised.tolist(),
        "realised_se": err.tolist(),
        "utility": out.utility[s].mean(0).tolist(),
        "lemon_deviation_gain": out.deviation_gain[s].mean(0).tolist(),
    }
    if tr.kind == "classification":
        record["accuracy"] = (1 - expected).tolist()
        record["accuracy_mc"] = (1 - realised).tolist()
    return record


def _task_record(tr: TaskResult) -> dict:
    g, c = tr.guarantee, tr.closed
    return {
        "types": {name: tr.task.types[:, i].tolist() for i, name in enumerate(tr.task.type_names)},
        "samples": tr.task.samples,
        "cost": tr.task.cost,
        "scale": tr.task.scale,
        "closed_form": {
            "alone": c.alone.tolist(),
            "full_information": c.full,
            "full_information_weights": c.weights.tolist(),
            "pooled": c.pooled,
            "gains": c.gains.tolist(),
        },
        "guarantee": {
            **g._asdict(),
            "affordable": g.affordable if math.isfinite(g.affordable) else None,
            "formula": "m >= (B^2 / 2 eps^2) ln(2K / delta)",
        },
        "stability": {
            "m": list(tr.grid),
            "measured": frequencies(tr).tolist(),
            "exact": list(tr.exact),
        },
        "scenarios": [_scenario_record(tr, s) for s in range(len(tr.outcome.names))],
    }


def _exchange_record(e: vf.ExchangeOutcome) -> dict:
    return {
        "trajectory": e.trajectory.astype(int).tolist(),
        "alpha": e.alpha.tolist(),
        "risk": e.risk.tolist(),
        "alone": e.alone.tolist(),
        "grand_risk": e.grand_risk.tolist(),
        "whole": e.whole,
    }


def metrics(results: Results) -> dict:
    """The content of results.json."""
    return {
        "experiment": "unravelling (gtgen's formulation of Capitaine et al., NeurIPS 2024)",
        "config": results.config._asdict(),
        "replicates": results.config.replicates,
        "wall_s": results.wall_s,
        "tasks": {k: _task_record(tr) for k, tr in results.tasks.items()},
        "exchange": {k: _exchange_record(e) for k, e in results.exchange.items()},
        "claims": [c._asdict() for c in claims(results)],
    }


def _row(values, fmt: str = "{:>9.4f}") -> str:
    return "".join(fmt.format(v) for v in values)


def report_text(results: Results) -> str:
    """A short human-readable report: settings, guarantee, frequencies, accuracies, claims."""
    cfg = results.config
    lines = [
        (
            "gtgen: unravelling and probabilistic verification (gtgen's formulation of Capitaine "
            "et al., NeurIPS 2024)"
        ),
        (
            f"{cfg.replicates} Monte-Carlo replicates per mechanism, one compiled program per task; "
            f"δ = {cfg.delta:g}, c = {cfg.cost:g} per sample; {results.wall_s:.1f} s"
        ),
    ]
    for tr in results.tasks.values():
        g, c, out = tr.guarantee, tr.closed, tr.outcome
        types = ", ".join(
            f"{n} {np.round(tr.task.types[:, i], 4).tolist()}"
            for i, n in enumerate(tr.task.type_names)
        )
        lines += [
            "",
            f"== {tr.kind}: {types}; n = {tr.task.samples}"
            + (f", d = {int(tr.task.scale)}" if tr.kind == "classification" else ""),
            f"alone risk           {_row(c.alone)}",
            f"pooled (grand)       {c.pooled:9.4f}    full information (grand) {c.full:.4f}",
            (
                f"Hoeffding: m ≥ (B²/2ε²) ln(2K/δ) with B = {g.bound:.3f}, K = {g.estimates},"
                f" ε = {g.eps:g}: m* = {g.samples}; affordable up to m = {g.affordable:.0f}"
            ),
            f"{'m':>8} {'measured':>9} {'exact':>9}",
        ]
        for m, f, p in zip(tr.grid, frequencies(tr), tr.exact):
            lines.append(f"{m:>8} {f:>9.4f} {p:>9.4f}" + ("   ← m*" if m == g.samples else ""))
        lines.append(f"{'mechanism':<28} {'stable':>7} {'∅/{worst}':>9} {'mean size by round'}")
        for s, name in enumerate(out.names):
            sizes = out.sizes[s].mean(0)
            last = int(np.max(out.moves[s])) + 1
            lines.append(
                f"{name:<28} {out.grand_stable[s].mean():>7.3f} "
                f"{out.unravelled(tr.worst)[s].mean():>9.3f} "
                f"{' → '.join(f'{x:.2f}' for x in sizes[: last + 1])}"
            )
        if tr.kind == "classification":
            lines.append("accuracy per agent (closed form / Monte Carlo):")
            for name in ("pooling", "full information", verification_name(g.samples)):
                s = tr.scenario(name)
                expected, realised, _ = risk_agreement(tr, s)
                lines.append(
                    f"  {name:<26}"
                    + "".join(f" {1 - e:.3f}/{1 - r:.3f}" for e, r in zip(expected, realised))
                )
            lines.append(f"  {'alone':<26}" + "".join(f" {1 - a:.3f}      " for a in c.alone))
    lines += ["", "== exchange game (1-D Gaussian players, KL(P_0 ‖ p_i), closed-form equilibria)"]
    for name, e in results.exchange.items():
        lines.append(
            f"{name:<18} players in: {' → '.join(str(int(t.sum())) for t in e.trajectory)}"
            f"; KL at the end {_row(e.risk, '{:>7.3f}')}"
        )
    lines.append(f"{'alone':<18} KL {_row(results.exchange['uniform'].alone, '{:>7.3f}')}")
    lines += ["", "claims:"]
    lines += [f"  [{'yes' if c.holds else 'NO '}] {c.task}: {c.text}" for c in claims(results)]
    return "\n".join(lines)


def pictures(results: Results, folder: Path) -> list[Path]:
    """coalition_size.png, stability.png, accuracies.png, exchange.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    # wide pale lines under dashed ones: mechanisms with the same path stay visible
    styles = {
        "pooling": {"lw": 6, "alpha": 0.35},
        "no test, lemons": {"ls": "--"},
        "full information": {"lw": 6, "alpha": 0.35},
        "verification at m*, lemons": {},
    }
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, tr in zip(axes, results.tasks.values()):
        out = tr.outcome
        last = int(out.moves.max()) + 2
        at = verification_name(tr.guarantee.samples)
        for name, style in (*styles.items(), (at, {"ls": "--"})):
            label = f"{name} (truthful)" if name == at else name
            ax.plot(
                range(last),
                out.sizes[tr.scenario(name)].mean(0)[:last],
                marker="o",
                label=label,
                **style,
            )
        ax.set_xlabel("round of the participation dynamics")
        ax.set_ylabel("coalition size (mean over replicates)")
        ax.set_title(tr.kind)
        ax.legend(fontsize=7)
    written.append(_save(fig, folder / "coalition_size.png"))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, tr in zip(axes, results.tasks.values()):
        delta = results.config.delta
        ax.plot(tr.grid, frequencies(tr), "o", label="measured (stable grand coalition)")
        ax.plot(tr.grid, tr.exact, "-", label="exact probability")
        ax.axhline(1 - delta, color="k", ls="--", lw=1, label=f"1 − δ = {1 - delta:g}")
        ax.axvline(
            tr.guarantee.samples,
            color="grey",
            ls=":",
            label=f"Hoeffding m* = {tr.guarantee.samples}",
        )
        ax.set_xscale("log")
        ax.set_xlabel("verification samples m per agent")
        ax.set_ylabel("frequency")
        ax.set_title(tr.kind)
        ax.legend(fontsize=7, loc="lower right")
    written.append(_save(fig, folder / "stability.png"))

    tr = results.tasks["classification"]
    agents = np.arange(tr.task.agents)
    bars = [("alone", 1 - tr.closed.alone, None)]
    for name in ("pooling", "full information", verification_name(tr.guarantee.samples)):
        expected, realised, _ = risk_agreement(tr, tr.scenario(name))
        bars.append((name, 1 - expected, 1 - realised))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(bars)
    for k, (name, acc, mc) in enumerate(bars):
        x = agents + (k - (len(bars) - 1) / 2) * width
        ax.bar(x, acc, width, label=name)
        if mc is not None:
            ax.plot(x, mc, "k.", ms=4)
    ax.set_xticks(agents, [f"θ={t:.3f}" for t in tr.task.types[:, 0]])
    ax.set_ylabel("accuracy on P_0 (bars: closed form, dots: Monte Carlo)")
    ax.set_ylim(0.45, max(0.85, float(np.max(1 - tr.closed.alone)) + 0.05))
    ax.set_title("classification: the model each agent ends with")
    ax.legend(fontsize=7)
    written.append(_save(fig, folder / "accuracies.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    ex = results.exchange
    players = np.arange(ex["uniform"].alone.size)
    for name, values in (
        ("alone", ex["uniform"].alone),
        ("uniform α, everyone in", ex["uniform"].grand_risk),
        ("verified α", ex["verified"].risk),
    ):
        ax.plot(players, values, marker="o", label=name)
    ax.set_xticks(players)
    ax.set_xlabel("player (bias 0 → 2)")
    ax.set_ylabel("KL(P_0 ‖ p_i) at the equilibrium")
    ax.set_title("exchange game: who is worse off than alone")
    ax.legend(fontsize=8)
    written.append(_save(fig, folder / "exchange.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """Write results.json, report.txt and the plots into ``out_dir`` (atomically)."""
    return write_experiment(
        out_dir, metrics(results), report_text(results), lambda folder: pictures(results, folder)
    )

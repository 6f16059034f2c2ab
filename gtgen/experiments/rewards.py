"""Experiment ``rewards``: synthetic data as rewards (Tay et al., AAAI 2022) on the authors' 2-D
setting and on the embedded digits.

The 2-D setting ("creditratings", formerly "gmm", in the authors' code): five parties, a
five-cluster Gaussian mixture with means uniform in [0, 1]² and covariance I/200, |D_i| = 1000,
G = 10^5 draws from the true mixture, β ∈ {1, 2, 4, 8}. Splits: ``equaldisjoint`` (party i holds
0.96 of cluster i) and ``unequal`` (parties 1–2 uniform; 3–5 rows [.58,.39,.01,.01,.01],
[.01,.20,.58,.20,.01], [.01,.01,.01,.39,.58]). With ``generator="authors"`` (the default) the
points are the authors' own: their data/pipeline.py replayed on numpy's legacy RandomState with
their seed 2, down to the per-point loop of their GMM sampler (7 s for 10^5 points);
``"numpy"`` draws the same distributions vectorised from ``seed``.

The digits: scikit-learn's 8×8 digits (grey levels) projected by PCA to 8 dimensions, split over
five parties by the authors' MNIST proportions (equaldisjoint: two digits per party at 0.48 each;
unequal: their rows), and a pool G drawn from a class-conditional Gaussian fitted to all
parties' features (gtgen's stand-in for the authors' GAN on autoencoder features).

Per dataset and split, the valuation (ℓ, φ, α) and the reward LP (v*, ρ, the program used, r_i)
are computed once; weighted sampling then runs for every β (all parties in one compiled loop per
β). Reported: |R_i|, MMD²_unbiased(D_i ∪ R_i, T), and the authors' three correlations (their
metrics.py): corr(α, |R|) and corr(α, MMD²) across parties, mean ± standard error over β;
corr(β, |R|) across β, mean ± standard error over parties.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from gtgen.checks import integer
from gtgen.experiments.runner import write_experiment
from gtgen.mechanisms import valuation as val

DATASETS = ("gmm", "digits")
SPLITS = ("equaldisjoint", "unequal")
GENERATORS = ("authors", "numpy")
SCATTER_MAX = 3000  # reward points drawn per scatter panel (a stride through the draw order)

GMM_PROPORTIONS = {
    "equaldisjoint": np.array(
        [
            [0.96, 0.01, 0.01, 0.01, 0.01],
            [0.01, 0.96, 0.01, 0.01, 0.01],
            [0.01, 0.01, 0.96, 0.01, 0.01],
            [0.01, 0.01, 0.01, 0.96, 0.01],
            [0.01, 0.01, 0.01, 0.01, 0.96],
        ]
    ),
    "unequal": np.array(
        [
            [0.20, 0.20, 0.20, 0.20, 0.20],
            [0.20, 0.20, 0.20, 0.20, 0.20],
            [0.58, 0.39, 0.01, 0.01, 0.01],
            [0.01, 0.20, 0.58, 0.20, 0.01],
            [0.01, 0.01, 0.01, 0.39, 0.58],
        ]
    ),
}
_E, _H, _Q = 0.005, 0.48, 0.1  # the authors' MNIST rows (10 classes, 5 parties)
DIGITS_PROPORTIONS = {
    "equaldisjoint": np.array([[_H if c // 2 == p else _E for c in range(10)] for p in range(5)]),
    "unequal": np.array(
        [
            [_Q] * 10,
            [_Q] * 10,
            [0.290, 0.290, 0.195, 0.195] + [_E] * 6,
            [_E, _E, 0.1, 0.1, 0.290, 0.290, 0.1, 0.1, _E, _E],
            [_E] * 6 + [0.195, 0.195, 0.290, 0.290],
        ]
    ),
}

# The authors' stored run of the 2-D setting (PAPERS.md §2; an earlier version of their code):
# (mean, standard error) where they report one.
AUTHORS_2D = {
    "equaldisjoint": {
        "lengthscale": 0.265,
        "corr_alpha_count": (0.69, 0.02),
        "corr_alpha_mmd": (-0.99, None),
        "corr_beta_count": (-0.85, None),
    },
    "unequal": {
        "lengthscale": 0.067,
        "corr_alpha_count": (0.72, 0.02),
        "corr_alpha_mmd": (-0.92, None),
        "corr_beta_count": (-0.83, None),
    },
}


class Config(NamedTuple):
    """One run of the experiment (defaults: the authors' 2-D setting, and the digits).

    ``datasets``     any of "gmm" (the 2-D setting) and "digits".
    ``party_size``   |D_i| in the 2-D setting (the authors: 1000).
    ``candidates``   |G| in the 2-D setting (the authors: 10^5).
    ``digits_candidates`` |G| for the digits; ``digits_dims`` the PCA dimension (8).
    ``generator``    "authors": the authors' exact points (legacy RandomState, ``data_seed`` 2);
                     "numpy": the same distributions, vectorised.
    ``betas``        inverse temperatures of the weighted sampling.
    ``greedy``       also sample greedily (β = ∞), reported as its own row.
    ``condition``    the reward LP's lower bound: "stable" (falls back to "rational" when
                     infeasible) or "rational".
    ``pool``         "shared" (the authors) or "disjoint" shares of G.
    ``early_stop``   the authors' stop after early_stop·|G| steps without a new maximum (0.1);
                     None: sample until the target or the pool is used up.
    ``seed``         the sampling's jax key (and the numpy generator's seed).
    """

    datasets: tuple[str, ...] = DATASETS
    splits: tuple[str, ...] = SPLITS
    party_size: int = 1000
    candidates: int = 100_000
    digits_candidates: int = 10_000
    digits_dims: int = 8
    generator: str = "authors"
    data_seed: int = 2
    betas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    greedy: bool = False
    condition: str = "stable"
    pool: str = "shared"
    early_stop: float | None = val.AUTHORS_PATIENCE
    seed: int = 0


def _choices(name: str, values: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values or any(v not in allowed for v in values) or len(set(values)) != len(values):
        raise ValueError(
            f"{name}: must be distinct values among {', '.join(allowed)}, got {list(values)!r}"
        )
    return values


def validate(config: Config) -> Config:
    """``config`` with checked, normalised fields; ValueError names the field that is wrong."""
    try:
        betas = tuple(float(b) for b in config.betas)
    except (TypeError, ValueError):
        raise ValueError(f"betas: must be numbers, got {config.betas!r}") from None
    if not betas or any(not math.isfinite(b) or b < 0 for b in betas):
        bad = next((b for b in betas if not math.isfinite(b) or b < 0), None)
        raise ValueError(
            f"betas: every β must be >= 0, got {bad!r}" if betas else "betas: need at least one β"
        )
    if len(set(betas)) != len(betas):
        raise ValueError(f"betas: must be distinct, got {list(betas)}")
    if config.generator not in GENERATORS:
        raise ValueError(
            f"generator: must be one of {', '.join(GENERATORS)}, got {config.generator!r}"
        )
    if config.condition not in val.CONDITIONS:
        raise ValueError(
            f"condition: must be one of {', '.join(val.CONDITIONS)}, got {config.condition!r}"
        )
    if config.pool not in val.POOLS:
        raise ValueError(f"pool: must be one of {', '.join(val.POOLS)}, got {config.pool!r}")
    if config.early_stop is not None and not (
        isinstance(config.early_stop, int | float) and 0 < config.early_stop <= 1
    ):
        raise ValueError(
            f"early_stop: must be a number in (0, 1] or None, got {config.early_stop!r}"
        )
    if not isinstance(config.greedy, bool):
        raise TypeError(f"greedy: must be True or False, got {config.greedy!r}")
    return config._replace(
        datasets=_choices("datasets", config.datasets, DATASETS),
        splits=_choices("splits", config.splits, SPLITS),
        party_size=integer("party_size", config.party_size, 2),
        candidates=integer("candidates", config.candidates),
        digits_candidates=integer("digits_candidates", config.digits_candidates),
        digits_dims=integer("digits_dims", config.digits_dims),
        data_seed=integer("data_seed", config.data_seed, 0),
        seed=integer("seed", config.seed, 0),
        betas=betas,
    )


# --- data ---------------------------------------------------------------------------------------


class Setting(NamedTuple):
    """One dataset and split: the parties' data, the candidate pool and its labels."""

    dataset: str
    split: str
    parties: list[np.ndarray]
    party_labels: list[np.ndarray]
    candidates: np.ndarray
    candidate_labels: np.ndarray
    note: str


def split_proportions(
    by_class: list[np.ndarray], proportions: np.ndarray, rng, party_size: int | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The authors' ``split_proportions`` (core/utils.py): party i takes
    int(p_ij · (classes / parties) · N) points of class j in order, then every party is shuffled
    and cut to the smallest party's size. ``rng`` is a legacy RandomState for their stream."""
    n_classes, n_parties = len(by_class), len(proportions)
    n = min(len(c) for c in by_class)
    taken = [0] * n_classes
    parties, labels = [], []
    for i in range(n_parties):
        rows, labs = [], []
        for j in range(n_classes):
            count = int(proportions[i, j] * (n_classes / n_parties) * n)
            rows.append(by_class[j][taken[j] : taken[j] + count])
            labs.append(np.full(count, j))
            taken[j] += count
        parties.append(np.concatenate(rows))
        labels.append(np.concatenate(labs))
    size = min(len(p) for p in parties) if party_size is None else party_size
    out, out_labels = [], []
    for x, lab in zip(parties, labels):
        order = rng.permutation(len(x))
        out.append(x[order][:size])
        out_labels.append(lab[order][:size])
    return out, out_labels


def gmm_setting(
    split: str,
    party_size: int = 1000,
    candidates: int = 100_000,
    generator: str = "authors",
    seed: int = 2,
) -> Setting:
    """The authors' 2-D setting (their data/pipeline.py, dataset "creditratings")."""
    k, d = 5, 2
    rng = np.random.RandomState(seed) if generator == "authors" else np.random.default_rng(seed)
    means = rng.uniform(size=(k, d))
    cov = np.eye(d) / 200
    per_class = party_size * k // k
    if generator == "authors":
        by_class = [
            rng.multivariate_normal(means[c], cov, size=per_class, check_valid="raise")
            for c in range(k)
        ]
    else:
        by_class = [means[c] + rng.normal(size=(per_class, d)) / math.sqrt(200) for c in range(k)]
    parties, labels = split_proportions(by_class, GMM_PROPORTIONS[split], rng)
    if generator == "authors":  # their sample_GMM: a cluster, then a point, one at a time
        cand_labels = np.empty(candidates, np.int64)
        cand = np.empty((candidates, d))
        for t in range(candidates):
            cand_labels[t] = rng.randint(k)
            cand[t] = rng.multivariate_normal(means[cand_labels[t]], cov, check_valid="raise")
    else:
        cand_labels = rng.integers(k, size=candidates)
        cand = means[cand_labels] + rng.normal(size=(candidates, d)) / math.sqrt(200)
    note = (
        f"five-cluster GMM in [0, 1]², covariance I/200, |D_i| = {party_size}, "
        f"|G| = {candidates} from the true mixture ({generator} generator, seed {seed})"
    )
    return Setting("gmm", split, parties, labels, cand, cand_labels, note)


def digits_setting(split: str, candidates: int = 10_000, dims: int = 8, seed: int = 0) -> Setting:
    """The embedded digits as PCA features, split by the authors' MNIST proportions; G from a
    class-conditional Gaussian fitted to all parties' features."""
    from sklearn.decomposition import PCA

    from gtgen.data import load_digits

    digits = load_digits(binarize=False)
    x = digits.images.reshape(len(digits.images), -1).astype(np.float64)
    feats = PCA(n_components=dims, random_state=0).fit_transform(x)
    rng = np.random.RandomState(seed)
    by_class = [feats[digits.labels == c] for c in range(10)]
    by_class = [c[rng.permutation(len(c))] for c in by_class]
    parties, labels = split_proportions(by_class, DIGITS_PROPORTIONS[split], rng)
    pooled, pooled_labels = np.concatenate(parties), np.concatenate(labels)
    cand_labels = rng.randint(10, size=candidates)
    cand = np.empty((candidates, dims))
    for c in range(10):
        rows = cand_labels == c
        own = pooled[pooled_labels == c]
        cov = np.cov(own, rowvar=False) + 1e-6 * np.eye(dims)
        cand[rows] = rng.multivariate_normal(own.mean(0), cov, size=int(rows.sum()))
    note = (
        f"embedded 8×8 digits, PCA to {dims} dimensions, |D_i| = {len(parties[0])}, "
        f"|G| = {candidates} from a class-conditional Gaussian fitted to the parties' data"
    )
    return Setting("digits", split, parties, labels, cand, cand_labels, note)


def settings(config: Config) -> list[Setting]:
    out = []
    for dataset in config.datasets:
        for split in config.splits:
            if dataset == "gmm":
                out.append(
                    gmm_setting(
                        split,
                        config.party_size,
                        config.candidates,
                        config.generator,
                        config.data_seed,
                    )
                )
            else:
                out.append(
                    digits_setting(split, config.digits_candidates, config.digits_dims, config.seed)
                )
    return out


# --- the run ------------------------------------------------------------------------------------


class SplitResult(NamedTuple):
    """One dataset and split: the valuation and targets once, the rewards for every β."""

    setting: Setting
    valuation: val.Valuation
    plan: val.RewardPlan
    labels: list[str]  # "β = 1", …, and "greedy"
    betas: list[float]  # β of each draw (inf for greedy)
    draws: list[val.Draw]
    wall_s: float

    @property
    def counts(self) -> np.ndarray:
        """[draws, n] |R_i|."""
        return np.stack([d.counts for d in self.draws])

    @property
    def mmd2(self) -> np.ndarray:
        """[draws, n] MMD²_unbiased(D_i ∪ R_i, T)."""
        sums = self.valuation.sums
        return np.stack(
            [
                val.mmd2_unbiased(d.sampling.sum_xx, d.sampling.sum_xt, d.sampling.size, sums)
                for d in self.draws
            ]
        )

    @property
    def mmd2_before(self) -> np.ndarray:
        """[n] MMD²_unbiased(D_i, T)."""
        sums, n = self.valuation.sums, self.valuation.sums.n_parties
        return val.mmd2_unbiased(
            np.diagonal(sums.blocks)[:n], sums.blocks.sum(axis=1)[:n], sums.counts[:n], sums
        )


class Results(NamedTuple):
    config: Config
    splits: list[SplitResult]
    wall_s: float


def run_setting(
    setting: Setting, config: Config, key: jax.Array, log: Callable[[str], None] | None = None
) -> SplitResult:
    """Value the parties once, plan the targets once, sample the rewards for every β."""
    log = log or (lambda _: None)
    start = time.perf_counter()
    valuation = val.value(setting.parties, setting.candidates, key, pool=config.pool)
    log(
        f"{setting.dataset}/{setting.split}: ℓ = {valuation.lengthscale:.4g}, "
        f"α = {np.round(valuation.alpha, 3).tolist()}"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", val.StabilityFallback)
        plan = val.reward_plan(valuation.sums, valuation.phi, config.condition)
    for w in caught:
        if issubclass(w.category, val.StabilityFallback):
            log(f"{setting.dataset}/{setting.split}: {w.message}")
    runs = [(f"β = {b:g}", b, False) for b in config.betas]
    if config.greedy:
        runs.append(("greedy", math.inf, True))
    draws = []
    for k, (label, beta, greedy) in zip(jax.random.split(key, len(runs)), runs):
        draw = val.sample_rewards(
            valuation,
            plan.targets,
            k,
            beta=0.0 if greedy else beta,
            greedy=greedy,
            early_stop=config.early_stop,
        )
        draws.append(draw)
        log(f"{setting.dataset}/{setting.split} {label}: |R_i| = {draw.counts.tolist()}")
    return SplitResult(
        setting,
        valuation,
        plan,
        [r[0] for r in runs],
        [r[1] for r in runs],
        draws,
        time.perf_counter() - start,
    )


def run(
    config: Config | None = None,
    out_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> Results:
    """Run the experiment (default: ``Config()``, the full size); with ``out_dir`` write
    results.json, report.txt and the pictures."""
    config = validate(Config() if config is None else config)
    start = time.perf_counter()
    key = jax.random.key(config.seed)
    out = []
    for k, setting in zip(jax.random.split(key, 16), settings(config)):
        out.append(run_setting(setting, config, k, log))
    results = Results(config, out, time.perf_counter() - start)
    if out_dir is not None:
        write_outputs(results, out_dir)
    return results


# --- figures of a run ---------------------------------------------------------------------------


def corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation, NaN when either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (NaN entries dropped)."""
    v = np.asarray([x for x in values if math.isfinite(x)], np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan


def correlations(split: SplitResult) -> dict[str, Any]:
    """The authors' metrics.py correlations over the β draws (greedy excluded):
    corr(α, |R|) and corr(α, MMD²) across parties, per β; corr(β, |R|) across β, per party."""
    alpha = split.valuation.alpha
    rows = [i for i, b in enumerate(split.betas) if math.isfinite(b)]
    counts, mmd = split.counts[rows], split.mmd2[rows]
    betas = np.asarray(split.betas)[rows]
    per_beta_count = [corr(alpha, c) for c in counts]
    per_beta_mmd = [corr(alpha, m) for m in mmd]
    per_party_beta = [corr(betas, counts[:, i]) for i in range(counts.shape[1])]
    return {
        "alpha_count": mean_se(per_beta_count),
        "alpha_count_per_beta": per_beta_count,
        "alpha_mmd": mean_se(per_beta_mmd),
        "alpha_mmd_per_beta": per_beta_mmd,
        "beta_count": mean_se(per_party_beta),
        "beta_count_per_party": per_party_beta,
    }


def _floats(x) -> list[float]:
    return [float(v) for v in np.asarray(x).ravel()]


def split_record(split: SplitResult) -> dict[str, Any]:
    """One dataset and split for results.json."""
    v, plan, s = split.valuation, split.plan, split.setting
    record = {
        "dataset": s.dataset,
        "split": s.split,
        "data": s.note,
        "party_sizes": [len(p) for p in s.parties],
        "candidates": len(s.candidates),
        "lengthscale": v.lengthscale,
        "lengthscale_search": None if v.search is None else v.search.evaluated,
        "phi": _floats(v.phi),
        "alpha": _floats(v.alpha),
        "v_parties": _floats(v.party_values),
        "v_all": v.grand_value,
        "v_with_pool": _floats(plan.upper),
        "v_star": plan.v_star,
        "rho": plan.rho,
        "program": plan.condition,
        "requested_program": plan.requested,
        "fallback": plan.fallback,
        "note": plan.note,
        "lower_bounds": _floats(plan.lower),
        "targets": _floats(plan.targets),
        "mmd2_before": _floats(split.mmd2_before),
        "draws": [
            {
                "label": label,
                "beta": None if not math.isfinite(b) else b,
                "greedy": d.greedy,
                "pool": d.pool,
                "counts": [int(c) for c in d.counts],
                "reached": [bool(r) for r in d.sampling.reached],
                "status": [val.STATUS_NAMES[int(c)] for c in d.sampling.status],
                "value": _floats(d.sampling.value),
                "mmd2": _floats(m),
            }
            for label, b, d, m in zip(split.labels, split.betas, split.draws, split.mmd2)
        ],
        "correlations": correlations(split),
        "wall_s": split.wall_s,
    }
    if s.dataset == "gmm":
        record["authors"] = AUTHORS_2D[s.split]
    return record


def metrics(results: Results) -> dict[str, Any]:
    """The content of results.json."""
    return {
        "experiment": "rewards (Tay, Xu, Foo, Low, AAAI 2022: synthetic data as rewards)",
        "config": results.config._asdict(),
        "settings": [split_record(s) for s in results.splits],
        "wall_s": results.wall_s,
    }


def _fmt(values, spec: str = ".3f") -> str:
    return "[" + ", ".join(format(float(x), spec) for x in values) + "]"


def _pm(pair: tuple[float, float | None]) -> str:
    mean, se = pair
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:+.2f}" + (f" ± {se:.2f}" if se is not None and math.isfinite(se) else "")


def _split_lines(split: SplitResult) -> list[str]:
    v, plan, s = split.valuation, split.plan, split.setting
    authors = AUTHORS_2D.get(s.split) if s.dataset == "gmm" else None

    def ref(key: str) -> str:
        if not authors:
            return ""
        return f" (authors {authors[key] if key == 'lengthscale' else _pm(authors[key])})"

    lines = [
        "",
        f"== {s.dataset} / {s.split}: {s.note}",
        (
            f"ℓ = {v.lengthscale:.4g}{ref('lengthscale')}; φ = {_fmt(v.phi, '.4g')}; "
            f"α = {_fmt(v.alpha)}"
        ),
        (
            f"v(D_i) = {_fmt(v.party_values, '.4g')}; v(N) = {v.grand_value:.6g}; "
            f"v(D_i ∪ G{'_i' if v.sums.disjoint else ''}) = {_fmt(plan.upper, '.6g')}"
        ),
        (
            f"LP ({plan.condition}{', fallback' if plan.fallback else ''}): "
            f"v* = {plan.v_star:.6g}, ρ = {plan.rho:.4f}; r = {_fmt(plan.targets, '.6g')}"
        ),
    ]
    if plan.note:
        lines.append(f"  {plan.note}")
    before = split.mmd2_before
    for label, draw, mmd in zip(split.labels, split.draws, split.mmd2):
        cells = []
        for i, (n, m, st) in enumerate(zip(draw.counts, mmd, draw.sampling.status)):
            flag = "" if st == val.REACHED else f" ({val.STATUS_NAMES[int(st)]})"
            cells.append(f"[{i}] |R|={int(n)} MMD² {before[i]:.2e}→{m:.2e}{flag}")
        lines.append(f"  {label}: " + "  ".join(cells))
    cor = correlations(split)
    lines.append(
        f"  corr(α, |R|) {_pm(cor['alpha_count'])}{ref('corr_alpha_count')}; "
        f"corr(α, MMD²) {_pm(cor['alpha_mmd'])}{ref('corr_alpha_mmd')}; "
        f"corr(β, |R|) {_pm(cor['beta_count'])}{ref('corr_beta_count')}"
    )
    return lines


def report_text(results: Results) -> str:
    """Per dataset and split: the valuation, the LP, one line per β, the correlations beside
    the authors' figures."""
    c = results.config
    stop = "off" if c.early_stop is None else f"after {c.early_stop:g}·|G| steps"
    lines = [
        (
            "gtgen: synthetic data as rewards (Tay et al., AAAI 2022), MMD valuation with the "
            "squared-exponential kernel"
        ),
        (
            f"betas {list(c.betas)}{' + greedy' if c.greedy else ''}; LP condition {c.condition}; "
            f"pool {c.pool}; early stop {stop}; {results.wall_s:.0f} s"
        ),
    ]
    for split in results.splits:
        lines += _split_lines(split)
    return "\n".join(lines)


def pictures(results: Results, folder: Path) -> list[Path]:
    """scatter_<dataset>.png: each party's data and reward points (first two coordinates) at the
    smallest and largest β; bars_<dataset>.png: α and |R_i| per β."""
    from gtgen.plots import plt  # Agg backend

    colours = plt.get_cmap("tab10").colors
    written = []
    for dataset in results.config.datasets:
        splits = [s for s in results.splits if s.setting.dataset == dataset]
        picks = sorted({0, len(splits[0].draws) - 1})
        rows = [(s, j) for s in splits for j in picks]
        n = splits[0].valuation.sums.n_parties
        fig, axes = plt.subplots(len(rows), n, figsize=(2.6 * n, 2.6 * len(rows)), squeeze=False)
        for r, (s, j) in enumerate(rows):
            for i in range(n):
                ax = axes[r, i]
                reward = s.draws[j].indices[i]
                pts = s.setting.candidates[reward[:: max(1, -(-len(reward) // SCATTER_MAX))]]
                ax.scatter(
                    *s.setting.parties[i][:, :2].T,
                    s=2,
                    color=colours[i],
                    alpha=0.5,
                    rasterized=True,
                )
                ax.scatter(
                    *pts[:, :2].T,
                    s=5,
                    color="black",
                    marker="x",
                    alpha=0.6,
                    linewidths=0.6,
                    rasterized=True,
                )
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(
                    f"party {i}: α {s.valuation.alpha[i]:.2f}, |R| {len(reward)}", fontsize=8
                )
                if i == 0:
                    ax.set_ylabel(f"{s.setting.split}, {s.labels[j]}", fontsize=8)
        fig.suptitle(
            f"{dataset}: each party's data (colour) and reward points (×; at most "
            f"{SCATTER_MAX} drawn per panel)",
            fontsize=10,
        )
        fig.tight_layout()
        written.append(folder / f"scatter_{dataset}.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

        fig, axes = plt.subplots(1, len(splits), figsize=(5.0 * len(splits), 3.6), squeeze=False)
        for ax, s in zip(axes[0], splits):
            k = len(s.draws)
            width = 0.8 / k
            for j, (label, counts) in enumerate(zip(s.labels, s.counts)):
                ax.bar(np.arange(n) + (j - (k - 1) / 2) * width, counts, width, label=label)
            ax.set_xticks(
                range(n),
                [f"party {i}\nα {a:.2f}" for i, a in enumerate(s.valuation.alpha)],
                fontsize=8,
            )
            ax.set_ylabel("|R_i| (reward points)")
            twin = ax.twinx()
            twin.plot(range(n), s.valuation.alpha, "ko--", label="α")
            twin.set_ylim(0, 1.3)
            twin.set_ylabel("α = φ / max φ")
            ax.set_title(f"{dataset} / {s.setting.split}", fontsize=10)
            ax.legend(fontsize=7, loc="upper center", ncols=k, framealpha=0.9)
            ax.set_ylim(0, 1.3 * s.counts.max())
        fig.tight_layout()
        written.append(folder / f"bars_{dataset}.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
    return written


def write_outputs(results: Results, out_dir: str | Path) -> Path:
    """results.json, report.txt and the pictures, written atomically into ``out_dir``."""
    return write_experiment(
        out_dir, metrics(results), report_text(results), lambda folder: pictures(results, folder)
    )

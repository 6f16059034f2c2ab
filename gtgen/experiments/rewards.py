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

import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from gtgen.experiments.report import write_folder_atomically
from gtgen.mechanisms import valuation as val

DATASETS = ("gmm", "digits")
SPLITS = ("equaldisjoint", "unequal")
GENERATORS = ("authors", "numpy")

GMM_PROPORTIONS = {
    "equaldisjoint": np.array([[0.96, 0.01, 0.01, 0.01, 0.01],
                               [0.01, 0.96, 0.01, 0.01, 0.01],
                               [0.01, 0.01, 0.96, 0.01, 0.01],
                               [0.01, 0.01, 0.01, 0.96, 0.01],
                               [0.01, 0.01, 0.01, 0.01, 0.96]]),
    "unequal": np.array([[0.20, 0.20, 0.20, 0.20, 0.20],
                         [0.20, 0.20, 0.20, 0.20, 0.20],
                         [0.58, 0.39, 0.01, 0.01, 0.01],
                         [0.01, 0.20, 0.58, 0.20, 0.01],
                         [0.01, 0.01, 0.01, 0.39, 0.58]]),
}
_E, _H, _Q = 0.005, 0.48, 0.1  # the authors' MNIST rows (10 classes, 5 parties)
DIGITS_PROPORTIONS = {
    "equaldisjoint": np.array([[_H if c // 2 == p else _E for c in range(10)] for p in range(5)]),
    "unequal": np.array([[_Q] * 10, [_Q] * 10,
                         [0.290, 0.290, 0.195, 0.195] + [_E] * 6,
                         [_E, _E, 0.1, 0.1, 0.290, 0.290, 0.1, 0.1, _E, _E],
                         [_E] * 6 + [0.195, 0.195, 0.290, 0.290]]),
}

# The authors' stored run of the 2-D setting (PAPERS.md §2; an earlier version of their code):
# (mean, standard error) where they report one.
AUTHORS_2D = {
    "equaldisjoint": {"lengthscale": 0.265, "corr_alpha_count": (0.69, 0.02),
                      "corr_alpha_mmd": (-0.99, None), "corr_beta_count": (-0.85, None)},
    "unequal": {"lengthscale": 0.067, "corr_alpha_count": (0.72, 0.02),
                "corr_alpha_mmd": (-0.92, None), "corr_beta_count": (-0.83, None)},
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


def _positive_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")
    return int(value)


def _choices(name: str, values: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values or any(v not in allowed for v in values) or len(set(values)) != len(values):
        raise ValueError(f"{name}: must be distinct values among {', '.join(allowed)}, got "
                         f"{list(values)!r}")
    return values


def validate(config: Config) -> Config:
    """``config`` with checked, normalised fields; ValueError names the field that is wrong."""
    try:
        betas = tuple(float(b) for b in config.betas)
    except (TypeError, ValueError):
        raise ValueError(f"betas: must be numbers, got {config.betas!r}") from None
    if not betas or any(not math.isfinite(b) or b < 0 for b in betas):
        bad = next((b for b in betas if not math.isfinite(b) or b < 0), None)
        raise ValueError(f"betas: every β must be >= 0, got {bad!r}" if betas else
                         "betas: need at least one β")
    if len(set(betas)) != len(betas):
        raise ValueError(f"betas: must be distinct, got {list(betas)}")
    if config.generator not in GENERATORS:
        raise ValueError(f"generator: must be one of {', '.join(GENERATORS)}, got "
                         f"{config.generator!r}")
    if config.condition not in val.CONDITIONS:
        raise ValueError(f"condition: must be one of {', '.join(val.CONDITIONS)}, got "
                         f"{config.condition!r}")
    if config.pool not in val.POOLS:
        raise ValueError(f"pool: must be one of {', '.join(val.POOLS)}, got {config.pool!r}")
    if config.early_stop is not None and not (
            isinstance(config.early_stop, int | float) and 0 < config.early_stop <= 1):
        raise ValueError(f"early_stop: must be a number in (0, 1] or None, got "
                         f"{config.early_stop!r}")
    if not isinstance(config.greedy, bool):
        raise TypeError(f"greedy: must be True or False, got {config.greedy!r}")
    return config._replace(
        datasets=_choices("datasets", config.datasets, DATASETS),
        splits=_choices("splits", config.splits, SPLITS),
        party_size=_positive_int("party_size", config.party_size, 2),
        candidates=_positive_int("candidates", config.candidates),
        digits_candidates=_positive_int("digits_candidates", config.digits_candidates),
        digits_dims=_positive_int("digits_dims", config.digits_dims),
        data_seed=_positive_int("data_seed", config.data_seed, 0),
        seed=_positive_int("seed", config.seed, 0), betas=betas)


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


def split_proportions(by_class: list[np.ndarray], proportions: np.ndarray, rng,
                      party_size: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
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
            rows.append(by_class[j][taken[j]: taken[j] + count])
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


def gmm_setting(split: str, party_size: int = 1000, candidates: int = 100_000,
                generator: str = "authors", seed: int = 2) -> Setting:
    """The authors' 2-D setting (their data/pipeline.py, dataset "creditratings")."""
    k, d = 5, 2
    rng = np.random.RandomState(seed) if generator == "authors" else np.random.default_rng(seed)
    means = rng.uniform(size=(k, d))
    cov = np.eye(d) / 200
    per_class = party_size * k // k
    if generator == "authors":
        by_class = [rng.multivariate_normal(means[c], cov, size=per_class, check_valid="raise")
                    for c in range(k)]
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
    note = (f"five-cluster GMM in [0, 1]², covariance I/200, |D_i| = {party_size}, "
            f"|G| = {candidates} from the true mixture ({generator} generator, seed {seed})")
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
    note = (f"embedded 8×8 digits, PCA to {dims} dimensions, |D_i| = {len(parties[0])}, "
            f"|G| = {candidates} from a class-conditional Gaussian fitted to the parties' data")
    return Setting("digits", split, parties, labels, cand, cand_labels, note)


def settings(config: Config) -> list[Setting]:
    out = []
    for dataset in config.datasets:
        for split in config.splits:
            if dataset == "gmm":
                out.append(gmm_setting(split, config.party_size, config.candidates,
                                       config.generator, config.data_seed))
            else:
                out.append(digits_setting(split, config.digits_candidates, config.digits_dims,
                                          config.seed))
    return out

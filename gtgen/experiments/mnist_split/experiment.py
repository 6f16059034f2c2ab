"""The paper's experiment IV-A: two players, digits 0–4 and 5–9, a sweep over the self-weight a.

Schlesinger & Flach (FLICS 2025), PAPERS.md §1. Player 0 holds the images of digits 0–4, player 1
those of 5–9. Each is the authors' symmetric-learning HVAE; with self-weight a, a share round(B·a)
of every batch is its own (salt-and-pepper noised) data and the rest synthetic triples from the
other player, drawn before either updates. The paper's claim: with a < 1 each player learns to
generate all ten digits; alone (a = 1) it generates only its own five. A baseline model trained
on all digits gives the reference level of quality.

How gtgen runs it:

- every value of a *and* the baseline, for every seed, is one entry of a sweep, and the whole
  sweep (all entries, both players each) trains in ONE compiled program: ``make_train``'s
  ``train`` vmapped over entries, with α, the own-data counts and the learning rate as traced
  inputs; more seeds are more entries of the same program, not more runs;
- the baseline is an entry with α = I whose two players both see all digits. No second data
  array is needed: row p of the data holds player p's digits first and the other player's after,
  so own-data count n_p means "my digits" and count n means "all digits";
- every entry of one seed starts from the same two initial models (common random numbers:
  differences between entries come from a, not from the initialisation), and an entry's random
  numbers depend only on its seed and its value of a (``entry_streams``), so an entry trains to
  the same models whatever else the sweep holds (the demo's a = 0.3 of seed 1 is the default
  sweep's);
- on the digits every player first learns alone (``warmup``), then its self-weight falls from 1
  to a over ``ramp`` rounds: switched at once, small a wipes out the meaning of the exchanged
  codes and both players collapse to one blurred digit (docs/design.md); after every chunk a few
  hundred fresh samples per model are classified (``track_samples``: the coverage curve);
- long runs go through ``gtgen.experiments.runner.run_chunks``: progress bar, per-chunk losses, orbax
  checkpoints that resume to exactly the uninterrupted result, and ``Diverged`` on NaN.

Evaluation (``evaluate``), as the authors do it with gtgen's analogue of FID: a reference
classifier trained on real data; every model's samples (the authors threshold the Bernoulli
mean of p(x | z) at 0.5, and so does the MNIST configuration; on the 8×8 digits the mean itself
is used, see ``Config.eval_images``) are classified to give the fraction of each digit, and
compared by the Fréchet distance on the classifier's features (``frechet_classifier_distance``,
the FID analogue, not comparable in value with published FIDs) against the model's own digits,
the other player's digits and all digits.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gtgen import xla_options
from gtgen.checks import integer
from gtgen.data import Dataset, by_classes, load_digits, load_mnist
from gtgen.exchange import RoundSpec, init_states, make_train
from gtgen.experiments.runner import append_history, host, open_checkpoints, run_chunks
from gtgen.game import Group
from gtgen.metrics import Classifier, class_fractions, frechet_distance, train_classifier
from gtgen.players.neural import HVAE_CONFIGS, HVAEConfig, hvae_player
from gtgen.players.neural.hvae import networks

CLASS_SETS: tuple[tuple[int, ...], tuple[int, ...]] = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
DEFAULT_ALPHAS: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 11))
PLAYERS = len(CLASS_SETS)
IMAGE_KINDS = ("threshold", "mean", "sample")
CLASSIFIER_SEED = 0
TRAIN_KEY, EVAL_KEY, TRACK_KEY = 1, 3, 4  # keys: training chunks, evaluation, coverage curve
SAMPLE_BLOCK = 10_000  # samples per model drawn at once in the evaluation

# The model for the embedded 8×8 digits, tuned so that the demo's claims hold in a few minutes
# on two CPU cores (see ``demo_config``): smaller or faster (h = 64, lr ≥ 2e-3) models drop
# whole digits in the exchange, and z0 = 16 binary codes keep more digits than 8.
DIGITS_MODEL = HVAEConfig(z0=16, z1=32, prior_hidden=(128, 128), hidden=(128, 128), lr=1e-3)


COMPOSITIONS = ("shares", "weighted")
OWN_DRAWS = ("stratified", "random")


class Config(NamedTuple):
    """Everything that defines one run of the experiment (the defaults: embedded digits).

    ``model``          an HVAE configuration or its name in ``HVAE_CONFIGS``.
    ``learning_rate``  Adam's step size; ``None`` keeps the model configuration's.
    ``lr_final``       the step size decays along a cosine to ``lr_final × learning_rate`` at
                       the last iteration (set once per chunk; 1.0: constant, as the authors
                       and ``mnist_config``; the digits default 0.1).
    ``eval_images``    what the evaluation classifies: ``"threshold"`` the Bernoulli mean of
                       p(x | z) thresholded at 0.5 (the authors, on MNIST); ``"mean"`` the mean
                       itself (the 8×8 default: thresholding erases the thin strokes of small
                       digits, turning many 8s into 1s); ``"sample"`` the binary samples.
    ``iterations``     rounds per entry, run in chunks of ``chunk`` (rounded up to equal chunks).
    ``warmup``         rounds (of ``iterations``, rounded up to whole chunks) at the start in
                       which every player learns its own data alone (α = I) before the
                       exchange begins: the exchange then starts with each player's digits
                       learnt, instead of building them up from the noise of untrained partners
                       at the slow rate a (0: the authors, who start the exchange at once).
    ``ramp``           rounds after the warm-up (rounded up to whole chunks) over which the
                       self-weight falls linearly, chunk by chunk, from 1 to a (a
                       continuation path to the same equilibrium; 0: at once).
    ``batch``          items per batch: round(batch·a) own images, the rest synthetic (the
                       digits default 512: at 128 the rarest digit, mostly 8, fell under 4% for
                       some seed at every a ≤ 0.5; the authors use 1000).
    ``composition``    ``"shares"``: that batch composition (the authors' code); ``"weighted"``:
                       a full own batch and a full synthetic batch, their losses weighted a and
                       1 − a (gtgen.exchange.items).
    ``own_draw``       ``"stratified"``: class-balanced own batches (each digit its share of
                       the round(batch·a) own images, up to one; the authors take 200·a per
                       digit); ``"random"``: independent draws.
    ``flip_prob``      salt-and-pepper noise on the real binary images (the authors: 0.001).
    ``seed``, ``seeds`` the seeds ``seed, seed + 1, …, seed + seeds − 1``, run as entries of the
                       one program (every value of a and the baseline once per seed).
    ``data_dir``       a folder with the MNIST IDX files; ``None`` uses the embedded 8×8 digits.
    ``baseline``       also train a pair of models on all digits (α = I), the reference level.
    ``eval_samples``   samples per model for the evaluation (the authors: 60,000).
    ``picture_samples`` samples per model kept for the pictures.
    ``track_samples``  samples per model classified after every chunk (the coverage curve:
                       each digit's share against iterations, in the history); 0: none.
    ``classifier_steps`` Adam steps of the reference classifier.
    """

    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    model: HVAEConfig | str = DIGITS_MODEL
    learning_rate: float | None = None
    lr_final: float = 0.1
    iterations: int = 10_000
    warmup: int = 2000
    ramp: int = 4000
    chunk: int = 500
    batch: int = 512
    composition: str = "shares"
    own_draw: str = "stratified"
    flip_prob: float = 0.001
    seed: int = 0
    seeds: int = 1
    data_dir: str | None = None
    baseline: bool = True
    eval_samples: int = 2000
    eval_images: str = "mean"
    picture_samples: int = 36
    track_samples: int = 500
    classifier_steps: int = 1500

    def hvae(self) -> HVAEConfig:
        """The model configuration, with ``learning_rate`` applied."""
        model = HVAE_CONFIGS[self.model] if isinstance(self.model, str) else self.model
        if self.learning_rate is not None:
            model = dataclasses.replace(model, lr=float(self.learning_rate))
        return model

    @property
    def dataset_name(self) -> str:
        return "embedded 8×8 digits" if self.data_dir is None else f"MNIST from {self.data_dir}"


def mnist_config(data_dir: str, **changes: Any) -> Config:
    """The authors' scale: paper-mnist model, batch 1000, Adam 1e-4, 10^6 iterations, 60,000
    evaluation samples per model (about 15 h per value of a on one H100 in their code)."""
    base = Config(
        model="paper-mnist",
        data_dir=str(data_dir),
        iterations=10**6,
        lr_final=1.0,
        warmup=0,
        ramp=0,
        chunk=1000,
        batch=1000,
        eval_samples=60_000,
        eval_images="threshold",
        classifier_steps=5000,
    )
    return base._replace(**changes)


def demo_config(seed: int = 0, **changes: Any) -> Config:
    """The small sweep of ``gtgen demo``: a ∈ {0.3, 1.0} on the 8×8 digits, 10,000 iterations,
    no baseline (it would cost half as much again): 278 s on two shared CPU cores at load ~6
    (2026-12-04, seed 0: 6.4% / 5.8% rarest at a = 0.3, 0.0% / 0.0% foreign at a = 1).

    a = 0.3 rather than 0.5: at the equilibrium each of the other player's digits makes up
    (1 − a) / (5 (2 − a)) of a player's samples, 8.2% at a = 0.3 but only 6.7% at a = 0.5,
    and the exchange converges within the budget to the first with room above 4%.
    With the defaults (batch 512, lr decaying to a tenth) the rarest digit at a = 0.3 is
    6.4% / 5.8%, 5.9% / 4.9% and 6.4% / 5.2% for seeds 0, 1, 2, and at a = 1 the other
    player's digits are 0.0% / 0.0%, 0.0% / 0.0% and 0.5% / 0.1% (README, 2026-12-04): the
    check holds for all three seeds.
    """
    return Config(alphas=(0.3, 1.0), seed=seed, baseline=False)._replace(**changes)


# A seconds-long model for tests, notebooks run at a small size and quick checks.
SMOKE_MODEL = HVAEConfig(z0=8, z1=16, prior_hidden=(64,), hidden=(64,), lr=5e-3)


def smoke_config(**changes: Any) -> Config:
    """A run of seconds (small model, a ∈ {0.3, 1.0} and the baseline, 1000 iterations):
    shows the effect roughly (a = 0.3 players generate the other's digits, a = 1 players do
    not), not the paper's claims in full."""
    base = Config(
        alphas=(0.3, 1.0),
        model=SMOKE_MODEL,
        iterations=1000,
        lr_final=1.0,
        warmup=0,
        ramp=0,
        chunk=250,
        batch=64,
        eval_samples=500,
        picture_samples=16,
        track_samples=100,
        classifier_steps=400,
    )
    return base._replace(**changes)


# ---------------------------------------------------------------------------------------------
# validation


def check_alphas(alphas: Any) -> tuple[float, ...]:
    """The self-weights as a tuple of distinct floats in (0, 1], or ValueError naming ``alphas``."""
    arr = np.asarray(alphas, dtype=object if isinstance(alphas, str) else None)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"alphas must be a non-empty list of self-weights a (one number per value of a), "
            f"got shape {list(arr.shape)}"
        )
    try:
        values = tuple(float(a) for a in arr)
    except (TypeError, ValueError):
        raise ValueError(f"alphas must be numbers, got {list(arr)!r}") from None
    bad = [a for a in values if not (math.isfinite(a) and 0.0 < a <= 1.0)]
    if bad:
        raise ValueError(f"alphas: self-weights must lie in (0, 1], got {bad}")
    if len(set(values)) != len(values):
        raise ValueError(f"alphas: values repeat in {list(values)}")
    return values


def validate(config: Config) -> Config:
    """``config`` with checked, normalised fields; ValueError names the field that is wrong."""
    if isinstance(config.model, str) and config.model not in HVAE_CONFIGS:
        raise ValueError(
            f"model: unknown configuration {config.model!r}; known: {sorted(HVAE_CONFIGS)}"
        )
    if not isinstance(config.model, str | HVAEConfig):
        raise TypeError(f"model must be an HVAEConfig or a name, got {type(config.model).__name__}")
    for name in (
        "iterations",
        "chunk",
        "batch",
        "eval_samples",
        "picture_samples",
        "classifier_steps",
        "seeds",
    ):
        integer(name, getattr(config, name))
    if (
        isinstance(config.warmup, bool)
        or not isinstance(config.warmup, int | np.integer)
        or not 0 <= config.warmup < config.iterations
    ):
        raise ValueError(f"warmup must be an integer in [0, iterations), got {config.warmup!r}")
    if (
        isinstance(config.ramp, bool)
        or not isinstance(config.ramp, int | np.integer)
        or not 0 <= config.ramp <= config.iterations - config.warmup
    ):
        raise ValueError(
            f"ramp must be an integer in [0, iterations − warmup] = [0, "
            f"{config.iterations - config.warmup}] (iterations {config.iterations}, warmup "
            f"{config.warmup}), got {config.ramp!r}; set a shorter ramp (--ramp) or warm-up"
        )
    if isinstance(config.seed, bool) or not isinstance(config.seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {config.seed!r}")
    if config.seed < 0:
        raise ValueError(f"seed must be non-negative, got {config.seed}")
    if (
        isinstance(config.track_samples, bool)
        or not isinstance(config.track_samples, int | np.integer)
        or config.track_samples < 0
    ):
        raise ValueError(
            f"track_samples must be a non-negative integer, got {config.track_samples!r}"
        )
    if config.eval_samples < 2:
        raise ValueError(f"eval_samples must be at least 2, got {config.eval_samples}")
    lr = config.hvae().lr
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate must be a positive number, got {lr!r}")
    if not (isinstance(config.lr_final, int | float) and 0.0 <= config.lr_final <= 1.0):
        raise ValueError(f"lr_final must be a number in [0, 1], got {config.lr_final!r}")
    if config.eval_images not in IMAGE_KINDS:
        raise ValueError(f"eval_images must be one of {IMAGE_KINDS}, got {config.eval_images!r}")
    if config.composition not in COMPOSITIONS:
        raise ValueError(
            f"composition must be one of {', '.join(COMPOSITIONS)}, got {config.composition!r}"
        )
    if config.own_draw not in OWN_DRAWS:
        raise ValueError(f"own_draw must be one of {', '.join(OWN_DRAWS)}, got {config.own_draw!r}")
    if not 0.0 <= float(config.flip_prob) < 0.5:
        raise ValueError(f"flip_prob must lie in [0, 0.5), got {config.flip_prob!r}")
    return config._replace(
        alphas=check_alphas(config.alphas), seed=int(config.seed), seeds=int(config.seeds)
    )


# ---------------------------------------------------------------------------------------------
# data


class SplitData(NamedTuple):
    """The real data of the experiment, laid out for the compiled sweep.

    ``rows[p]`` holds player p's images first (``counts[p]`` of them) and then the other
    player's, each part sorted by digit (so stratified own draws are class-balanced), so an
    own-data count of ``counts[p]`` is p's private data and a count of ``n`` is all digits
    (the baseline).
    """

    dataset: Dataset  # all images [n, H, W] (binary) and labels [n]
    parts: list[np.ndarray]  # indices of each player's images
    rows: np.ndarray  # [2, n, H, W]
    counts: np.ndarray  # [2]


def load_data(config: Config) -> SplitData:
    """The embedded digits or MNIST (train + test, binarised at 0.4375), split 0–4 / 5–9.

    Raises ValueError when the images do not have the model's size (e.g. the 28×28 model on
    8×8 digits), and FileNotFoundError naming a missing IDX file.
    """
    ds = load_digits() if config.data_dir is None else load_mnist(config.data_dir, split="all")
    shape = tuple(config.hvae().event_shape)
    if tuple(ds.images.shape[1:]) != shape:
        size = "×".join(map(str, ds.images.shape[1:]))
        hint = (
            "; mnist_config(data_dir) (--data-dir) uses the authors' 28×28 model"
            if size == "28×28"
            else ""
        )
        raise ValueError(
            f"model: made for {'×'.join(map(str, shape))} images, but the "
            f"{config.dataset_name} are {size}{hint}"
        )
    parts = [p[np.argsort(ds.labels[p], kind="stable")] for p in by_classes(ds.labels, CLASS_SETS)]
    if sum(len(p) for p in parts) != len(ds.labels):
        raise ValueError("labels: the data hold classes outside 0–9")
    rows = np.stack([ds.images[np.concatenate([parts[p], parts[1 - p]])] for p in range(PLAYERS)])
    return SplitData(ds, parts, rows, np.array([len(p) for p in parts], np.int32))


class Entries(NamedTuple):
    """The sweep: every value of a for every seed (a-major: the seeds of a value of a are
    neighbours), then the baseline once per seed (traced inputs of the program)."""

    alphas: np.ndarray  # [S] self-weight (1.0 for the baseline)
    alpha: np.ndarray  # [S, 2, 2] row-stochastic α
    counts: np.ndarray  # [S, 2] own-data counts
    baseline: np.ndarray  # [S] bool
    seeds: np.ndarray  # [S] the entry's seed


BASELINE_STREAM = 2_000_000  # the baseline's random stream (values of a use round(a · 10^6))


def entry_streams(ent: Entries) -> np.ndarray:
    """``[S]`` the number that, with the seed, keys an entry's random numbers: round(a · 10^6)
    for a value of a, ``BASELINE_STREAM`` for the baseline. Nothing about the rest of the sweep
    enters, so an entry trains alike in any sweep that holds it."""
    return np.where(ent.baseline, BASELINE_STREAM, np.round(ent.alphas * 1e6)).astype(np.uint32)


def seed_list(config: Config) -> list[int]:
    """The run's seeds: ``seed, seed + 1, …`` (``seeds`` of them)."""
    return [config.seed + k for k in range(config.seeds)]


def entries(config: Config, data: SplitData) -> Entries:
    """α, own-data counts and seed of every entry of the sweep."""
    seeds = seed_list(config)
    a = np.repeat(np.array(config.alphas, np.float64), len(seeds))  # as given: 0.3 stays 0.3
    alpha = np.stack([[[x, 1 - x], [1 - x, x]] for x in a]).astype(np.float32)
    counts = np.tile(data.counts, (len(a), 1))
    base = np.zeros(len(a), bool)
    entry_seeds = np.tile(np.array(seeds, np.int64), len(config.alphas))
    if config.baseline:
        n, k = len(data.dataset.labels), len(seeds)
        a = np.append(a, np.ones(k))
        alpha = np.concatenate([alpha, np.tile(np.eye(2, dtype=np.float32), (k, 1, 1))])
        counts = np.concatenate([counts, np.full((k, 2), n)])
        base = np.append(base, np.ones(k, bool))
        entry_seeds = np.append(entry_seeds, seeds)
    return Entries(a, alpha, counts.astype(np.int32), base, entry_seeds)


# ---------------------------------------------------------------------------------------------
# training


def chunking(config: Config) -> tuple[int, int]:
    """``(chunks, iterations per chunk)``: equal chunks covering at least ``iterations``."""
    chunks = math.ceil(config.iterations / config.chunk)
    return chunks, math.ceil(config.iterations / chunks)


def warmup_chunks(config: Config) -> int:
    """How many of the first chunks train every player alone (``warmup`` in whole chunks)."""
    _, per_chunk = chunking(config)
    return math.ceil(config.warmup / per_chunk)


def ramp_chunks(config: Config) -> int:
    """How many chunks after the warm-up move the self-weight from 1 to a (``ramp``)."""
    _, per_chunk = chunking(config)
    return math.ceil(config.ramp / per_chunk)


class Schedule(NamedTuple):
    """Traced scalars that steer training by the number of updates done (the optimiser's
    count, which is checkpointed, so a resumed run follows the same schedule)."""

    learning_rate: jax.Array  # Adam's step size at the start
    lr_final: jax.Array  # factor reached at the end along a cosine (1: constant)
    total: jax.Array  # updates of the whole run
    warmup: jax.Array = np.float32(0)  # updates in which every player learns alone (α = I)
    ramp: jax.Array = np.float32(0)  # updates after it in which α moves from I to its value

    def exchange(self, count: jax.Array, chunk: int) -> jax.Array:
        """The share λ of the way from α = I to α for the chunk that starts after ``count``
        updates: 0 in the warm-up, then k / K in the k-th of the K ramp chunks, 1 after."""
        return jnp.clip((count - self.warmup + chunk) / jnp.maximum(self.ramp, chunk), 0.0, 1.0)

    def rate(self, count: jax.Array) -> jax.Array:
        """The step size after ``count`` updates."""
        progress = jnp.clip(count / jnp.maximum(self.total, 1), 0.0, 1.0)
        cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        return self.learning_rate * (self.lr_final + (1.0 - self.lr_final) * cosine)


def _injected(node: Any) -> bool:
    return isinstance(node, optax.InjectStatefulHyperparamsState)


def with_learning_rate(states: Any, rate: Callable[[jax.Array], jax.Array]) -> Any:
    """Set every injected Adam learning rate in ``states`` to ``rate(updates done so far)``.

    The rate is an array leaf of the optimiser state, so a schedule or a new value never
    recompiles.
    """

    def set_rate(node: Any) -> Any:
        if not _injected(node):
            return node
        old = node.hyperparams["learning_rate"]
        new = jnp.broadcast_to(rate(node.count).astype(old.dtype), old.shape)
        return node._replace(hyperparams={**node.hyperparams, "learning_rate": new})

    return jax.tree.map(set_rate, states, is_leaf=_injected)


def updates_done(states: Any) -> jax.Array:
    """The updates done so far: the first optimiser count in ``states`` (all are equal)."""
    nodes = jax.tree.leaves(states, is_leaf=_injected)
    return jnp.ravel(next(n.count for n in nodes if _injected(n)))[0]


@functools.lru_cache(maxsize=8)
def sweep_program(
    model: HVAEConfig,
    batch: int,
    iterations: int,
    flip_prob: float,
    composition: str = "shares",
    own_draw: str = "random",
) -> Callable:
    """``program(keys [S], states, rows, counts [S, 2], alpha [S, 2, 2], schedule)
    -> (states, losses)`` for one chunk (``schedule``: a :class:`Schedule`, applied at the
    start of the chunk).

    One compiled program for every entry of the sweep and both players (cached per shape, so
    runs in one process share it). ``losses`` are the chunk's mean p and q losses ``[S, 2]``.
    """
    spec = RoundSpec(
        batch, routing="sampled", composition=composition, flip_prob=flip_prob, own_draw=own_draw
    )
    train = make_train(hvae_player(model), PLAYERS, spec)

    def one(key, states, rows, counts, alpha, schedule):
        # the warm-up and the ramp (set at the start of a chunk): α = I + λ (α − I)
        eye = jnp.eye(alpha.shape[0], dtype=alpha.dtype)
        share = schedule.exchange(updates_done(states), iterations)
        alpha = jnp.where(share < 1, eye + share * (alpha - eye), alpha)  # α itself after it
        states = with_learning_rate(states, schedule.rate)
        states, trace = train(key, states, rows, counts, alpha, iterations)
        return states, {k: v.mean(axis=0) for k, v in trace.metrics[0].items()}

    return xla_options.jit(jax.vmap(one, in_axes=(0, 0, None, 0, 0, None)))


@functools.lru_cache(maxsize=8)
def _init_pair(model: HVAEConfig) -> Callable[[jax.Array], Any]:
    """The compiled initialisation of two players (compiled once per model and process)."""
    groups = (Group(hvae_player(model), tuple(range(PLAYERS))),)
    return xla_options.jit(lambda key: init_states(groups, key, (None,))[0])


def initial_states(config: Config, seeds: Sequence[int]) -> Any:
    """Two freshly initialised players per entry, ``[S, 2, ...]``: the pair of key(seed) for
    an entry of that seed (``seeds [S]``: each entry's seed)."""
    init = _init_pair(_architecture(config.hvae()))
    pairs = {s: init(jax.random.key(s)) for s in sorted(set(int(s) for s in seeds))}
    return jax.tree.map(lambda *xs: jnp.stack(xs), *[pairs[int(s)] for s in seeds])


def entry_keys(key: jax.Array, ent: Entries) -> jax.Array:
    """``[S]`` keys, one per entry: ``key`` folded with the entry's seed, then its stream."""

    def one(seed: jax.Array, stream: jax.Array) -> jax.Array:
        return jax.random.fold_in(jax.random.fold_in(key, seed), stream)

    return jax.vmap(one)(jnp.asarray(ent.seeds, jnp.uint32), jnp.asarray(entry_streams(ent)))


def _architecture(model: HVAEConfig) -> HVAEConfig:
    """The model without its learning rate, which is a traced input, not part of the program."""
    return dataclasses.replace(model, lr=HVAEConfig.lr)


def _run_identity(config: Config) -> dict:
    """What a checkpoint folder must agree on to be resumed. The iteration count may grow and
    the learning rate may change between calls (a schedule by hand)."""
    _, per_chunk = chunking(config)
    return {
        "alphas": list(config.alphas),
        "model": repr(_architecture(config.hvae())),
        "batch": config.batch,
        "composition": config.composition,
        "own_draw": config.own_draw,
        "warmup_chunks": warmup_chunks(config),
        "ramp_chunks": ramp_chunks(config),
        "chunk": per_chunk,
        "flip_prob": config.flip_prob,
        "seed": config.seed,
        "seeds": config.seeds,
        "data_dir": config.data_dir,
        "baseline": config.baseline,
        # folders of older versions keyed entries by position: refused, not mixed
        "random_streams": "seed-and-a",
    }


def coverage_tracker(
    config: Config, data: SplitData, ent: Entries
) -> Callable[[int, Any], np.ndarray] | None:
    """``track(chunk, states) -> [S, 2, 10]``: each model's class fractions among
    ``track_samples`` fresh samples, classified by the reference classifier (the coverage
    curve of the history); None when ``track_samples`` is 0."""
    if not config.track_samples:
        return None
    clf, _ = reference_classifier(config, data)
    every = _entries_sampler(_architecture(config.hvae()), config.track_samples, config.eval_images)

    def track(c: int, states: Any) -> np.ndarray:
        keys = entry_keys(jax.random.fold_in(jax.random.key(TRACK_KEY), c), ent)
        x = np.asarray(every(keys, states))  # [S, 2, n, H, W]
        pred = clf.predict(x.reshape(-1, *x.shape[3:])).reshape(x.shape[:3])
        return np.eye(10)[pred].mean(axis=2)

    return track


@functools.lru_cache(maxsize=8)
def _entries_sampler(model: HVAEConfig, n: int, kind: str) -> Callable:
    """``image_sampler`` over every entry at once: ``(keys [S], states) -> [S, 2, n, H, W]``
    (compiled once per shape and process)."""
    sampler = image_sampler(model, n, kind)
    return xla_options.jit(jax.vmap(lambda key, pair: sampler(key, pair)))


class Trained(NamedTuple):
    """Trained states ``[S, 2, ...]`` of every entry and the per-chunk loss history."""

    states: Any
    entries: Entries
    history: list[dict]  # per chunk: iteration, loss_p, loss_q [S][2], class_fractions [S][2][10]
    resumed_from: int  # chunks restored from a checkpoint (0 for a fresh run)
    iterations: int  # rounds run per entry


def train(
    config: Config,
    data: SplitData,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    log_every: int = 1,
) -> Trained:
    """Train every entry of the sweep in one compiled program, chunk by chunk.

    With ``checkpoint_dir`` every chunk is saved and a later call resumes from the newest
    checkpoint, ending in exactly the state of an uninterrupted run. On NaN it raises
    ``gtgen.experiments.runner.Diverged`` naming the last good checkpoint. ``log`` receives a line of
    mean losses every ``log_every`` chunks.
    """
    ent = entries(config, data)
    chunks, per_chunk = chunking(config)
    program = sweep_program(
        _architecture(config.hvae()),
        config.batch,
        per_chunk,
        float(config.flip_prob),
        config.composition,
        config.own_draw,
    )
    rows, counts, alpha = jnp.asarray(data.rows), jnp.asarray(ent.counts), jnp.asarray(ent.alpha)

    schedule = Schedule(
        *np.float32(
            [
                config.hvae().lr,
                config.lr_final,
                chunks * per_chunk,
                warmup_chunks(config) * per_chunk,
                ramp_chunks(config) * per_chunk,
            ]
        )
    )
    n = len(ent.alphas)

    def chunk(key: jax.Array, states: Any) -> tuple[Any, Any]:
        return program(entry_keys(key, ent), states, rows, counts, alpha, schedule)

    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    # folders written before the composition option existed hold "shares" runs
    history = (
        open_checkpoints(ckpt, _run_identity(config), {"composition": "shares", "ramp_chunks": 0})
        if ckpt is not None
        else []
    )

    track = coverage_tracker(config, data, ent)

    def on_chunk(c: int, states: Any, losses: Any) -> None:
        losses = host(losses)
        record = {
            "chunk": c,
            "iteration": (c + 1) * per_chunk,
            "loss_p": losses["loss_p"].tolist(),
            "loss_q": losses["loss_q"].tolist(),
        }
        if track is not None:
            record["class_fractions"] = np.round(track(c, states), 4).tolist()
        append_history(ckpt, history, record)
        if log is not None and ((c + 1) % log_every == 0 or c + 1 == chunks):
            log(
                f"iteration {record['iteration']}/{chunks * per_chunk}: mean loss p "
                f"{np.mean(losses['loss_p']):.2f}, q {np.mean(losses['loss_q']):.2f}"
            )

    # chunk c of an entry: key(TRAIN_KEY) folded with c, then the entry's seed and stream
    states, resumed = run_chunks(
        chunk,
        initial_states(config, ent.seeds),
        jax.random.key(TRAIN_KEY),
        chunks,
        checkpoint_dir=ckpt,
        on_chunk=on_chunk,
        progress=progress,
        description=f"mnist-split ({n} entries × 2 players)",
        per_chunk=per_chunk,
    )
    return Trained(states, ent, history, resumed, chunks * per_chunk)


# ---------------------------------------------------------------------------------------------
# evaluation


@functools.lru_cache(maxsize=8)
def image_sampler(model: HVAEConfig, n: int, kind: str) -> Callable:
    """``sample(key, pair_states) -> [2, n, H, W]``: each player's samples as the evaluation
    sees them (``kind`` as ``Config.eval_images``)."""
    # the codes are drawn whether or not the players exchange them (same parameters)
    player = hvae_player(dataclasses.replace(model, share_latents=True))
    decoder = networks(model).p_x

    def one(key: jax.Array, state: Any) -> jax.Array:
        s = player.sample(key, state, n)
        if kind == "sample":
            return s["x"]
        logits = decoder.apply(state.p.params["p_x"], s["z0"], s["z1"])
        return jax.nn.sigmoid(logits) if kind == "mean" else (logits > 0).astype(jnp.float32)

    return xla_options.jit(
        lambda key, states: jax.vmap(one)(jax.random.split(key, PLAYERS), states)
    )


class Evaluation(NamedTuple):
    """Per entry and player: class fractions ``[S, 2, 10]``, Fréchet classifier distances
    ``[S, 2]`` against own / other / all digits, and a few samples ``[S, 2, k, H, W]``."""

    class_fractions: np.ndarray
    frechet_own: np.ndarray
    frechet_other: np.ndarray
    frechet_all: np.ndarray
    pictures: np.ndarray
    classifier_accuracy: float  # on held-out real images


def reference_classifier(config: Config, data: SplitData) -> tuple[Classifier, float]:
    """The reference classifier, trained on 80% of the real images; its held-out accuracy.

    It does not depend on the run's seed, so runs of different seeds are measured with one
    ruler; and it is trained once per process for given images and steps (a notebook, tests
    and resumed runs reuse it).
    """
    ds = data.dataset
    digest = hashlib.sha1(ds.images.tobytes() + ds.labels.tobytes()).hexdigest()
    return _classifier(digest, CLASSIFIER_SEED, config.classifier_steps, data)


_CLASSIFIERS: dict[tuple, tuple[Classifier, float]] = {}


def _classifier(digest: str, seed: int, steps: int, data: SplitData) -> tuple[Classifier, float]:
    if (digest, seed, steps) in _CLASSIFIERS:
        return _CLASSIFIERS[digest, seed, steps]
    ds = data.dataset
    order = np.random.default_rng(seed).permutation(len(ds.labels))
    cut = int(0.8 * len(order))
    train_idx, test_idx = order[:cut], order[cut:]
    key = jax.random.fold_in(jax.random.key(seed), 2)
    clf = train_classifier(ds.images[train_idx], ds.labels[train_idx], key, steps=steps)
    _CLASSIFIERS[digest, seed, steps] = clf, clf.accuracy(ds.images[test_idx], ds.labels[test_idx])
    return _CLASSIFIERS[digest, seed, steps]


def evaluate(config: Config, data: SplitData, states: Any) -> Evaluation:
    """Classify and compare every model's samples (see the module docstring)."""
    clf, accuracy = reference_classifier(config, data)
    ds = data.dataset
    features = functools.partial(_features, clf)
    ref = {"all": features(ds.images)}
    ref.update({p: features(ds.images[data.parts[p]]) for p in range(PLAYERS)})
    block = min(config.eval_samples, SAMPLE_BLOCK)
    sampler = image_sampler(_architecture(config.hvae()), block, config.eval_images)

    def sample(key: jax.Array, pair: Any) -> np.ndarray:
        """``eval_samples`` images per player, drawn in blocks (bounded memory at MNIST scale)."""
        blocks = range(math.ceil(config.eval_samples / block))
        x = [np.asarray(sampler(jax.random.fold_in(key, b), pair)) for b in blocks]
        return np.concatenate(x, axis=1)[:, : config.eval_samples]

    ent = entries(config, data)
    n_entries = len(ent.alphas)
    keys = entry_keys(jax.random.key(EVAL_KEY), ent)
    fractions = np.zeros((n_entries, PLAYERS, 10))
    fd = np.zeros((3, n_entries, PLAYERS))
    pictures = []
    for s in range(n_entries):
        entry = jax.tree.map(lambda v, s=s: v[s], states)
        x = sample(keys[s], entry)
        pictures.append(x[:, : config.picture_samples])
        for p in range(PLAYERS):
            fractions[s, p] = class_fractions(clf, x[p])
            f = features(x[p])
            fd[:, s, p] = [
                frechet_distance(f, ref[p]),
                frechet_distance(f, ref[1 - p]),
                frechet_distance(f, ref["all"]),
            ]
    return Evaluation(fractions, fd[0], fd[1], fd[2], np.stack(pictures), accuracy)


def _features(clf: Classifier, images: np.ndarray, block: int = 10_000) -> np.ndarray:
    """Classifier features of many images, in blocks (bounded memory at MNIST scale)."""
    return np.concatenate(
        [np.asarray(clf.features(images[i : i + block])) for i in range(0, len(images), block)]
    )


# ---------------------------------------------------------------------------------------------
# the whole experiment


class Results(NamedTuple):
    """A finished run: configuration, training record and evaluation (see ``report``)."""

    config: Config
    trained: Trained
    evaluation: Evaluation
    wall_s: float

    def own_share(self) -> np.ndarray:
        """``[S, 2]``: fraction of each model's samples classified as its player's digits."""
        return self._share(lambda p: CLASS_SETS[p])

    def other_share(self) -> np.ndarray:
        """``[S, 2]``: fraction classified as the other player's digits."""
        return self._share(lambda p: CLASS_SETS[1 - p])

    def _share(self, classes: Callable[[int], tuple[int, ...]]) -> np.ndarray:
        fractions = self.evaluation.class_fractions
        return np.stack([fractions[:, p, list(classes(p))].sum(-1) for p in range(PLAYERS)], 1)


def compute(
    config: Config | None = None,
    out_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    log_every: int = 1,
) -> Results:
    """Experiment IV-A without writing outputs: load data, train the sweep in one program,
    evaluate (``gtgen.experiments.mnist_split.run`` also writes them)."""
    start = time.perf_counter()
    config = validate(Config() if config is None else config)
    data = load_data(config)
    if checkpoint_dir is None and out_dir is not None:
        checkpoint_dir = Path(out_dir) / "checkpoints"
    trained = train(config, data, checkpoint_dir, progress=progress, log=log, log_every=log_every)
    evaluation = evaluate(config, data, trained.states)
    results = Results(config, trained, evaluation, time.perf_counter() - start)
    return results


__all__: Sequence[str] = (
    "CLASS_SETS",
    "DEFAULT_ALPHAS",
    "DIGITS_MODEL",
    "Config",
    "Evaluation",
    "Results",
    "SplitData",
    "Trained",
    "check_alphas",
    "chunking",
    "compute",
    "demo_config",
    "entries",
    "evaluate",
    "load_data",
    "mnist_config",
    "smoke_config",
    "sweep_program",
    "train",
    "validate",
)

"""The paper's experiment IV-B: four players of increasing capacity, little labelled data each.

Schlesinger & Flach (FLICS 2025), PAPERS.md §1 ("IV-B in the authors' code"). Each player is a
joint label–image model p(c) p(x | c) with a classifier p(c | x) (gtgen.players.neural.joint) of
its own capacity, and holds a disjoint, class-balanced slice of ``bs`` images per class, used
full-batch at every step with Gaussian noise of standard deviation 0.01 added. The methods are
strategies over the same players:

``discriminative``  own labelled pairs only, ``symmetric`` off, no communication;
``distillation``    own pairs plus the same own images labelled by every other player's current
                    classifier (hard argmax), ``symmetric`` off. It needs the others' classifiers
                    on one's own images, so it is a baseline outside the exchange's privacy
                    boundary (implemented beside the round, not through it);
``symmetric``       own pairs, ``symmetric`` on (the classifier also learns from its own image
                    model's samples, the image model from its classifier's labels);
``cooperative``     the exchange: every round every player generates 10·bs labelled pairs
                    (c uniform, x from its image model) and player i learns from its own pairs
                    and the others' pairs, α_ij = 1/N by default (the authors' counts);
                    ``symmetric`` on;
``upper-bound``     every player on minibatches of the whole training set (discriminative).

How gtgen runs it: the four capacities are four groups of one exchange round (one compiled
program); ``discriminative``, ``symmetric`` and ``cooperative`` differ only in α and in the
players' traced ``symmetric`` flag, so all three methods × all seeds of one ``bs`` train in ONE
program, vmapped over entries. ``distillation`` (one program per ``bs``, seeds vmapped) and the
upper bound (one program, seeds vmapped) have their own steps. Long runs go through
``gtgen.experiments.runner`` (progress, checkpoints that resume exactly, NaN stop).

Metric: test accuracy of argmax p(c | x) on a held-out split, per player, method, ``bs`` and seed.
On the embedded 8×8 digits by default (30 images per class held out, ``bs`` up to 30); with
``data_dir`` on Fashion-MNIST IDX files at the authors' scale (bs 10/50/100/500, 200,000
iterations, Adam 1e-4, the 10k test split).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options
from gtgen.checks import any_integer, distinct_choices, integer
from gtgen.data import Dataset, disjoint_slices, load_digits, load_mnist
from gtgen.exchange import RoundSpec, init_states, make_play, play_weighted_alike
from gtgen.experiments.runner import (
    append_history,
    checkpoints_under,
    host,
    open_checkpoints,
    run_chunks,
)
from gtgen.game import Group
from gtgen.players.base import Batch
from gtgen.players.neural import DIGITS_CAPACITIES, FMNIST_CAPACITIES, JointConfig, joint_player
from gtgen.players.neural.joint import classifier_logits

METHODS = ("discriminative", "distillation", "symmetric", "cooperative", "upper-bound")
EXCHANGE_METHODS = ("discriminative", "symmetric", "cooperative")  # one program per bs
PLAYERS = 4
NOISE_STD = 0.01
PICTURES_PER_CLASS = 4


class Config(NamedTuple):
    """Everything that defines one run of IV-B (the defaults: embedded 8×8 digits).

    ``sizes``          bs, the labelled images per class of each player.
    ``methods``        a subset of ``METHODS``.
    ``capacities``     one ``JointConfig`` per player, weakest first.
    ``seeds``          independent repetitions (data slices, initialisation, sampling).
    ``iterations``     learning steps per player, run in chunks of ``chunk``.
    ``learning_rate``  Adam's step size (None: the capacities' own).
    ``noise_std``      Gaussian noise added to the real images at every step (the authors: 0.01).
    ``alpha_self``     cooperative α_ii (the rest spread evenly); None: 1/N, the authors' counts.
    ``upper_batch``    minibatch of the upper bound (the authors: 1024).
    ``test_per_class`` digits held out per class for the test split (Fashion-MNIST: its 10k test).
    ``data_dir``       a folder with the Fashion-MNIST IDX files; None: the embedded digits.
    """

    sizes: tuple[int, ...] = (2, 5, 10, 20)
    methods: tuple[str, ...] = METHODS
    capacities: tuple[JointConfig, ...] = DIGITS_CAPACITIES
    seeds: int = 3
    iterations: int = 1500
    chunk: int = 250
    learning_rate: float | None = None
    noise_std: float = NOISE_STD
    alpha_self: float | None = None
    upper_batch: int = 256
    test_per_class: int = 30
    seed: int = 0
    data_dir: str | None = None

    @property
    def dataset_name(self) -> str:
        if self.data_dir is None:
            return "embedded 8×8 digits"
        return f"Fashion-MNIST from {self.data_dir}"

    def players(self) -> tuple[JointConfig, ...]:
        """The capacities with ``learning_rate`` applied."""
        if self.learning_rate is None:
            return tuple(self.capacities)
        return tuple(dataclasses.replace(c, lr=float(self.learning_rate)) for c in self.capacities)


def fmnist_config(data_dir: str, **changes: Any) -> Config:
    """The authors' scale: Fashion-MNIST, bs 10/50/100/500, their four capacities, 200,000
    full-batch iterations, Adam 1e-4, upper bound on batches of 1024 (about 24 h for their largest
    run, cooperative at bs 500, on one H100)."""
    base = Config(
        sizes=(10, 50, 100, 500),
        capacities=FMNIST_CAPACITIES,
        iterations=200_000,
        chunk=2000,
        upper_batch=1024,
        data_dir=str(data_dir),
    )
    return base._replace(**changes)


SMOKE_CAPACITIES = tuple(
    JointConfig(z0=2, z1=4, width=w, arch="mlp", lr=3e-3) for w in (1, 1, 2, 2)
)


def smoke_config(**changes: Any) -> Config:
    """A run of seconds for tests and notebooks at a small size (tiny MLP players)."""
    base = Config(
        sizes=(2, 5), capacities=SMOKE_CAPACITIES, seeds=2, iterations=40, chunk=20, upper_batch=64
    )
    return base._replace(**changes)


# ---------------------------------------------------------------------------------------------
# validation


def validate(config: Config) -> Config:
    """``config`` checked and normalised; ValueError / TypeError names the field that is wrong."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected a fmnist_capacity.Config, got {type(config).__name__}")
    methods = distinct_choices("methods", config.methods, METHODS, "method")
    caps = tuple(config.capacities)
    if len(caps) != PLAYERS:
        raise ValueError(f"capacities: need one per player ({PLAYERS}), got {len(caps)}")
    if any(not isinstance(c, JointConfig) for c in caps):
        raise TypeError("capacities: each must be a gtgen.players.neural.JointConfig")
    if isinstance(config.sizes, int | str) or not len(tuple(config.sizes)):
        raise ValueError(
            f"sizes: must be a non-empty list of images per class, got {config.sizes!r}"
        )
    sizes = tuple(integer("sizes", b) for b in config.sizes)
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes: values repeat in {list(sizes)}")
    for name in ("seeds", "iterations", "chunk", "upper_batch", "test_per_class"):
        integer(name, getattr(config, name))
    any_integer("seed", config.seed)
    lr = config.learning_rate
    if lr is not None and not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate: must be a positive number, got {lr!r}")
    if not (isinstance(config.noise_std, int | float) and 0.0 <= config.noise_std < 1.0):
        raise ValueError(f"noise_std: must be a number in [0, 1), got {config.noise_std!r}")
    a = config.alpha_self
    if a is not None and not (isinstance(a, int | float) and 0.0 < a <= 1.0):
        raise ValueError(f"alpha_self: must lie in (0, 1], got {a!r}")
    shapes = {tuple(c.event_shape) for c in caps}
    if len(shapes) != 1:
        raise ValueError(f"capacities: players model images of different sizes {sorted(shapes)}")
    return config._replace(methods=methods, sizes=sizes, capacities=caps)


# ---------------------------------------------------------------------------------------------
# data


class Split(NamedTuple):
    """Training and held-out test images (grey values in [0, 1]) with their labels."""

    train: Dataset
    test: Dataset


def load_data(config: Config) -> Split:
    """The embedded digits (``test_per_class`` of every class held out, by a fixed draw) or
    Fashion-MNIST's own train / test split. Checks that every ``bs`` fits four disjoint slices."""
    if config.data_dir is None:
        ds = load_digits(binarize=False)
        rng = np.random.default_rng(12345)  # one held-out split for every run and seed
        test = np.sort(
            np.concatenate(
                [
                    rng.choice(np.flatnonzero(ds.labels == c), config.test_per_class, replace=False)
                    for c in range(10)
                ]
            )
        )
        train = np.setdiff1d(np.arange(len(ds.labels)), test)
        split = Split(
            Dataset(ds.images[train], ds.labels[train]), Dataset(ds.images[test], ds.labels[test])
        )
    else:
        split = Split(
            load_mnist(config.data_dir, "fashion", "train", binarize=False),
            load_mnist(config.data_dir, "fashion", "test", binarize=False),
        )
    shape = tuple(config.capacities[0].event_shape)
    if tuple(split.train.images.shape[1:]) != shape:
        size = "×".join(map(str, split.train.images.shape[1:]))
        raise ValueError(
            f"capacities: made for {'×'.join(map(str, shape))} images, but the "
            f"{config.dataset_name} are {size}"
        )
    fewest = int(np.bincount(split.train.labels, minlength=10).min())
    largest = max(config.sizes)
    if PLAYERS * largest > fewest:
        raise ValueError(
            f"sizes: bs = {largest} needs {PLAYERS} × {largest} = {PLAYERS * largest} "
            f"training images per class, but the {config.dataset_name} hold only "
            f"{fewest} in some class (after the held-out split)"
        )
    return split


def player_data(split: Split, bs: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Each player's private pairs: a disjoint, class-balanced slice of ``bs`` images per class
    (the slices drawn by ``seed``)."""
    parts = disjoint_slices(split.train.labels, PLAYERS, bs, seed)
    return [
        {"c": split.train.labels[p].astype(np.int32), "x": split.train.images[p]} for p in parts
    ]


# ---------------------------------------------------------------------------------------------
# programs


def _groups(capacities: Sequence[JointConfig]) -> tuple[Group, ...]:
    return tuple(Group(joint_player(c), (i,)) for i, c in enumerate(capacities))


def _stack(per_group: Sequence[Any]) -> tuple:
    """Per group, a leading member axis of one."""
    return tuple(jax.tree.map(lambda x: jnp.asarray(x)[None], g) for g in per_group)


@functools.lru_cache(maxsize=16)
def exchange_program(
    capacities: tuple[JointConfig, ...],
    pairs: int,
    rounds: int,
    noise_std: float,
    own_batch: int | str = "full",
    samples: int | None = None,
) -> Callable:
    """``program(keys [E], states, data, alpha [E, 4, 4]) -> (states, metrics)``: ``rounds`` rounds
    of the exchange for every entry (method × seed) of one shape, vmapped. The four capacities are
    the groups of one round; α and the players' ``symmetric`` flags are traced per entry.
    Every player generates ``samples`` (default ``pairs`` = 10·bs) pairs per round, and learns
    from its own ``pairs`` rows (full batch) and every other player's pool, weighted α_ij."""
    groups = _groups(capacities)
    m = pairs if samples is None else samples
    spec = RoundSpec(
        m, routing="expected", composition="weighted", own_batch=own_batch, noise_std=noise_std
    )
    play = make_play(groups, spec)

    def one(key, states, data, alpha):
        states, trace = play_weighted_alike(play, groups, spec, key, states, data, alpha, rounds)
        return states, tuple({k: v.mean(axis=0) for k, v in m.items()} for m in trace.metrics)

    # four different players: hundreds of small kernels, the time in library dots (xla_options)
    return xla_options.jit(jax.vmap(one), effort="light")


@functools.lru_cache(maxsize=16)
def distillation_program(
    capacities: tuple[JointConfig, ...], pairs: int, rounds: int, noise_std: float
) -> Callable:
    """``program(keys [S], states, data) -> (states, metrics)``: the distillation baseline, every
    player learning from its own pairs and its own images labelled by each other player's current
    classifier (hard argmax), all weighted alike (the authors' concatenated batch)."""
    groups = _groups(capacities)
    players = [g.player for g in groups]

    def step(states, key, data):
        keys = jax.random.split(key, 2 * PLAYERS)
        images = []
        for p, d in enumerate(data):
            x = d["x"][0]
            images.append(x + noise_std * jax.random.normal(keys[PLAYERS + p], x.shape))
        params = [jax.tree.map(lambda v: v[0], st).params for st in states]
        new, metrics = [], []
        for i, player in enumerate(players):
            n = images[i].shape[0]
            labels = [
                jnp.argmax(classifier_logits(capacities[j], params[j], images[i]), -1).astype(
                    jnp.int32
                )
                for j in range(PLAYERS)
                if j != i
            ]
            weight = jnp.full((n,), 1.0 / (PLAYERS * n))
            own = Batch({"c": data[i]["c"][0], "x": images[i]}, weight)
            taught = Batch(
                {"c": jnp.concatenate(labels), "x": jnp.concatenate([images[i]] * (PLAYERS - 1))},
                jnp.concatenate([weight] * (PLAYERS - 1)),
            )
            state = jax.tree.map(lambda v: v[0], states[i])
            state, m = player.learn(keys[i], state, own, taught)
            new.append(jax.tree.map(lambda v: v[None], state))
            metrics.append({k: v[None] for k, v in m.items()})
        return tuple(new), tuple(metrics)

    def one(key, states, data):
        def body(st, k):
            return step(st, k, data)

        states, trace = jax.lax.scan(body, states, jax.random.split(key, rounds))
        return states, tuple({k: v.mean(axis=0) for k, v in m.items()} for m in trace)

    return xla_options.jit(jax.vmap(one))


def accuracy_program(capacities: tuple[JointConfig, ...]) -> Callable:
    """``accuracy(states, images, labels) -> [E, 4]``: each player's test accuracy."""

    def one(states, images, labels):
        out = []
        for cfg, st in zip(capacities, states):
            logits = classifier_logits(cfg, jax.tree.map(lambda v: v[0], st).params, images)
            out.append(jnp.mean(jnp.argmax(logits, -1) == labels))
        return jnp.stack(out)

    return xla_options.jit(jax.vmap(one, in_axes=(0, None, None)))


@functools.lru_cache(maxsize=16)
def _init_program(capacities: tuple[JointConfig, ...]) -> Callable:
    groups = _groups(capacities)
    init = jax.vmap(lambda k: init_states(groups, k, (None,) * PLAYERS))
    return xla_options.jit(init, effort="once")  # runs once per program: compiled quickly


def initial_states(capacities, keys: jax.Array, symmetric: np.ndarray) -> tuple:
    """Fresh players for every entry ``[E]``, with their ``symmetric`` flags set."""
    states = _init_program(tuple(capacities))(keys)
    flag = jnp.asarray(symmetric, jnp.float32)[:, None]
    return tuple(st._replace(symmetric=jnp.broadcast_to(flag, st.symmetric.shape)) for st in states)


# ---------------------------------------------------------------------------------------------
# training


class Entry(NamedTuple):
    method: str
    bs: int | None  # None: the upper bound (all data)
    seed: int


def _alpha(config: Config, method: str) -> np.ndarray:
    if method != "cooperative":
        return np.eye(PLAYERS, dtype=np.float32)
    a = 1.0 / PLAYERS if config.alpha_self is None else float(config.alpha_self)
    alpha = np.full((PLAYERS, PLAYERS), (1.0 - a) / (PLAYERS - 1), np.float32)
    np.fill_diagonal(alpha, a)
    return alpha


def chunking(config: Config) -> tuple[int, int]:
    """``(chunks, iterations per chunk)``: equal chunks covering at least ``iterations``."""
    chunks = math.ceil(config.iterations / config.chunk)
    return chunks, math.ceil(config.iterations / chunks)


class Program(NamedTuple):
    """One compiled training program: its entries, inputs and chunk function."""

    name: str
    entries: list[Entry]
    chunk: Callable[[jax.Array, Any], tuple[Any, Any]]
    states: Any


def _chunked(program: Callable, entries: int, *inputs: Any) -> Callable:
    """``chunk(key, states)``: one call of ``program`` on every entry, keys split per entry."""

    def chunk(key: jax.Array, states: Any) -> tuple[Any, Any]:
        return program(jax.random.split(key, entries), states, *inputs)

    return chunk


def programs(config: Config, split: Split) -> list[Program]:
    """Every program of the run, as few as the shapes allow (see the module docstring)."""
    caps = config.players()
    _, per_chunk = chunking(config)
    seeds = [config.seed + s for s in range(config.seeds)]
    out = []

    def keys_of(entries, stream):
        return jnp.stack([jax.random.fold_in(jax.random.key(e.seed), stream) for e in entries])

    for bs in config.sizes:
        data = {s: player_data(split, bs, s) for s in seeds}
        # the cooperative entries exchange 10·bs pairs per player and round; the others none
        # (a pool of one, weighted 0), so they run in a program of their own
        for tag, names, samples in (
            ("alone", ("discriminative", "symmetric"), 1),
            ("cooperative", ("cooperative",), None),
        ):
            exchange = [Entry(m, bs, s) for m in names if m in config.methods for s in seeds]
            if not exchange:
                continue
            program = exchange_program(
                caps, 10 * bs, per_chunk, float(config.noise_std), samples=samples
            )
            stacked = tuple(
                {
                    k: jnp.stack([jnp.asarray(data[e.seed][p][k])[None] for e in exchange])
                    for k in ("c", "x")
                }
                for p in range(PLAYERS)
            )
            alpha = jnp.asarray(np.stack([_alpha(config, e.method) for e in exchange]))
            sym = np.array([e.method != "discriminative" for e in exchange])
            states = initial_states(caps, keys_of(exchange, 1), sym)
            chunk = _chunked(program, len(exchange), stacked, alpha)
            out.append(Program(f"{tag}-bs{bs}", exchange, chunk, states))
        if "distillation" in config.methods:
            entries = [Entry("distillation", bs, s) for s in seeds]
            program = distillation_program(caps, 10 * bs, per_chunk, float(config.noise_std))
            stacked = tuple(
                {
                    k: jnp.stack([jnp.asarray(data[e.seed][p][k])[None] for e in entries])
                    for k in ("c", "x")
                }
                for p in range(PLAYERS)
            )
            states = initial_states(caps, keys_of(entries, 1), np.zeros(len(entries), bool))
            chunk = _chunked(program, len(entries), stacked)
            out.append(Program(f"distillation-bs{bs}", entries, chunk, states))
    if "upper-bound" in config.methods:
        entries = [Entry("upper-bound", None, s) for s in seeds]
        batch = min(config.upper_batch, len(split.train.labels))
        program = exchange_program(
            caps, batch, per_chunk, float(config.noise_std), own_batch=batch, samples=1
        )
        everything = tuple(
            {
                "c": jnp.broadcast_to(
                    split.train.labels[None, None], (len(entries), 1, len(split.train.labels))
                ),
                "x": jnp.broadcast_to(
                    split.train.images[None, None], (len(entries), 1, *split.train.images.shape)
                ),
            }
            for _ in range(PLAYERS)
        )
        alpha = jnp.asarray(np.stack([_alpha(config, "upper-bound") for _ in entries]))
        states = initial_states(caps, keys_of(entries, 1), np.zeros(len(entries), bool))
        chunk = _chunked(program, len(entries), everything, alpha)
        out.append(Program("upper-bound", entries, chunk, states))
    return out


def _identity(config: Config, program: str) -> dict:
    """What a checkpoint folder must agree on to be resumed."""
    _, per_chunk = chunking(config)
    return {
        "program": program,
        "capacities": [repr(c) for c in config.players()],
        "seeds": config.seeds,
        "seed": config.seed,
        "chunk": per_chunk,
        "noise_std": config.noise_std,
        "alpha_self": config.alpha_self,
        "upper_batch": config.upper_batch,
        "test_per_class": config.test_per_class,
        "data_dir": config.data_dir,
        "methods": list(config.methods),
        # the joint players' Adam moments over the flattened parameters (older folders: per
        # parameter, which do not restore into this state)
        "optimizer_state": "flat",
    }


class Trained(NamedTuple):
    """Per program: its entries, final states, loss history and chunks restored on resume."""

    entries: list[Entry]
    accuracy: np.ndarray  # [entries, players] test accuracy
    history: dict[str, list[dict]]
    resumed_from: dict[str, int]
    iterations: int
    pictures: dict[str, np.ndarray]  # program -> its first entry's samples [4, 10·k, H, W]


def train(
    config: Config,
    split: Split,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Trained:
    """Train every program chunk by chunk and measure every player's test accuracy.

    With ``checkpoint_dir`` every chunk of every program is saved under its own folder and a
    later call resumes, ending exactly where an uninterrupted run ends; NaN raises
    ``gtgen.experiments.runner.Diverged`` naming the last good checkpoint.
    """
    chunks, per_chunk = chunking(config)
    accuracy = accuracy_program(config.players())
    test_x, test_y = jnp.asarray(split.test.images), jnp.asarray(split.test.labels)
    entries, scores, histories, resumed, pictures = [], [], {}, {}, {}
    root = Path(checkpoint_dir) if checkpoint_dir is not None else None
    for program in programs(config, split):
        folder = None if root is None else root / program.name
        history = (
            [] if folder is None else open_checkpoints(folder, _identity(config, program.name))
        )

        def on_chunk(c, states, metrics, history=history, folder=folder, name=program.name):
            acc = host(accuracy(states, test_x, test_y))
            loss = host(metrics)
            record = {
                "chunk": c,
                "iteration": (c + 1) * per_chunk,
                "accuracy": acc.tolist(),
                "class_loss": [m["class_loss"][:, 0].tolist() for m in loss],
            }
            append_history(folder, history, record)
            if log is not None:
                log(
                    f"{name}: iteration {record['iteration']}/{chunks * per_chunk}, mean test "
                    f"accuracy per player {np.round(acc.mean(axis=0), 3).tolist()}"
                )

        key = jax.random.fold_in(jax.random.key(config.seed), 2)
        states, restored = run_chunks(
            program.chunk,
            program.states,
            key,
            chunks,
            checkpoint_dir=folder,
            on_chunk=on_chunk,
            progress=progress,
            description=f"fmnist-capacity {program.name}",
        )
        entries += program.entries
        scores.append(np.asarray(accuracy(states, test_x, test_y)))
        histories[program.name] = history
        resumed[program.name] = restored
        first = tuple(jax.tree.map(lambda v: v[0], st) for st in states)
        pictures[program.name] = np.asarray(
            _sampler(config.players(), PICTURES_PER_CLASS)(jax.random.key(config.seed), first)
        )
    return Trained(
        entries, np.concatenate(scores), histories, resumed, chunks * per_chunk, pictures
    )


@functools.lru_cache(maxsize=8)
def _sampler(capacities: tuple[JointConfig, ...], per_class: int) -> Callable:
    """``sample(key, states_of_one_entry) -> [4, 10 · per_class, H, W]``: each player's image model
    given every class ``per_class`` times (the pictures)."""
    players = [joint_player(c) for c in capacities]

    def one(key, states):
        out = []
        for p, st in enumerate(states):
            st = jax.tree.map(lambda v: v[0], st)
            s = players[p].sample(jax.random.fold_in(key, p), st, 10 * per_class)
            out.append(s["x"][jnp.argsort(s["c"], stable=True)])
        return jnp.stack(out)

    return xla_options.jit(one)


class Results(NamedTuple):
    """A finished run: configuration, the accuracy of every entry, the history, timing."""

    config: Config
    trained: Trained
    wall_s: float

    def table(self) -> dict[tuple[str, int | None], np.ndarray]:
        """(method, bs) -> accuracies ``[seeds, players]``."""
        out: dict[tuple[str, int | None], list] = {}
        for e, acc in zip(self.trained.entries, self.trained.accuracy):
            out.setdefault((e.method, e.bs), []).append(acc)
        return {k: np.stack(v) for k, v in out.items()}


def compute(
    config: Config | None = None,
    out_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Results:
    """Experiment IV-B without writing outputs (``gtgen.experiments.fmnist_capacity.run`` also
    writes them); checkpoints go to ``out_dir/checkpoints`` unless ``checkpoint_dir`` says
    otherwise."""
    start = time.perf_counter()
    config = validate(Config() if config is None else config)
    split = load_data(config)
    trained = train(
        config, split, checkpoints_under(out_dir, checkpoint_dir), progress=progress, log=log
    )
    return Results(config, trained, time.perf_counter() - start)


__all__: Sequence[str] = (
    "EXCHANGE_METHODS",
    "METHODS",
    "PLAYERS",
    "Config",
    "Entry",
    "Results",
    "Split",
    "Trained",
    "compute",
    "distillation_program",
    "exchange_program",
    "fmnist_config",
    "load_data",
    "player_data",
    "smoke_config",
    "train",
    "validate",
)

"""The paper's experiment IV-C: players on different probability spaces (PolyDigits / PolyMNIST).

Schlesinger & Flach (FLICS 2025), PAPERS.md §1 ("IV-C in the authors' code"). Player A models
(c, d, z, s, x) — class, style, a binary latent, the digit mask and the coloured image — as five
conditionals (gtgen.players.neural.multimodal); its data hold (c, d, x). The (c, s) side is
either a data sender of real (c, s) pairs (gtgen.players.sender) or player B, a conditional VAE
of masks given class trained by symmetric learning (gtgen.players.neural.masks) on plain binarised
digits. A completes what it lacks — s and z of its own items, z and x of received (c, s) pairs,
whose style d is drawn uniformly and held (``Gibbs(hold=("d",))``, the authors' code) — by Gibbs
sweeps inside the one exchange round (gtgen.exchange.imputation), then learns.

Settings (``SETTINGS``):

``alone``      A on its own (c, d, x) items only (α_AA = 1): its classifier without any (c, s) data;
``real``       A + the data sender's real (c, s) pairs (α_AA = a, α_A,sender = 1 − a);
``synthetic``  A + B's synthetic (c, s) pairs (α_AA = a, α_AB = 1 − a).

How gtgen runs it: B is first trained alone, as the authors train B before A (one program, seeds
vmapped: the one exchange round on a game of B alone). The trained B then draws a pool of
``pool`` synthetic (c, s) pairs with the authors' sampler, and A meets its (c, s) pairs through a
data sender: the real pairs, or B's pool. A and the sender are the two groups of one round, and
every setting × seed is an entry of ONE program, vmapped, that differs only in α and in what the
sender holds (both traced). (The authors draw fresh samples of their frozen B at every step; a
pool of ``pool`` draws of the same frozen B, resampled uniformly, approximates that; B as a third
group of the round gives the same law but compiles about four times longer on a CPU.)

Accuracy (the authors' inference): x clamped, c, d, z, s from random values, Gibbs sweeps in
random order, the running average (0.9 / 0.1) of p(c | d, z, s, x), argmax; per style d and
their mean, on held-out images.

Data: by default PolyDigits from the embedded 8×8 digits: a fixed draw of ``test_per_class``
digits per class is held out (each in all five styles: the test images); A's items are the
other digits in all five styles; the (c, s) pairs of the sender and of B are the same training
digits binarised (threshold 0.5), as the authors' MNIST is PolyMNIST's source. With ``data``
(a PolyMNIST folder) and ``mnist_dir`` (MNIST IDX files, binarised at 0.4375) at full size.
"""

from __future__ import annotations

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
from gtgen.data import (
    DIGITS_THRESHOLD,
    MNIST_THRESHOLD,
    STYLES,
    load_digits,
    load_mnist,
    load_polymnist,
    polydigits,
)
from gtgen.exchange import RoundSpec, make_play, play_weighted_alike
from gtgen.experiments.runner import (
    append_history,
    checkpoints_under,
    host,
    open_checkpoints,
    run_chunks,
)
from gtgen.game import Group
from gtgen.players.base import Variable
from gtgen.players.gibbs import Gibbs
from gtgen.players.neural.masks import MaskConfig, mask_player
from gtgen.players.neural.multimodal import MultimodalConfig, infer, multimodal_player
from gtgen.players.sender import data_sender, sender_state

SETTINGS = ("alone", "real", "synthetic")
PAPER_ACCURACY = {"alone": 0.9840, "real": 0.9896, "synthetic": 0.9866}  # PAPERS.md table
FLIP_PROB = 0.001  # salt-and-pepper noise on B's real masks (the authors')
PICTURES = 10  # columns of the sample grids


class Config(NamedTuple):
    """Everything that defines one run of IV-C (the defaults: PolyDigits on 2 CPU cores).

    ``player_a`` / ``player_b``  the two models' configurations (image size must agree).
    ``seeds``          repetitions (initialisation, batches, sampling; the split is fixed).
    ``iterations``     A's learning steps (rounds), in chunks of ``chunk``.
    ``pretrain``       B's learning steps before A starts (B alone).
    ``batch``          A's own items per step, and as many received items.
    ``alpha_self``     a = α_AA of the settings with (c, s) pairs (the authors: ½, 256 + 256).
    ``pool``           B's synthetic pairs drawn after its training, sent to A by the sender.
    ``test_sweeps``    Gibbs sweeps of the accuracy inference (the authors: 100).
    ``test_per_class`` PolyDigits: digits per class held out (each in five styles).
    ``test_limit``     at most this many test images (None: all).
    ``data``           a PolyMNIST folder; None: PolyDigits. ``mnist_dir``: MNIST IDX files.
    """

    settings: tuple[str, ...] = SETTINGS
    player_a: MultimodalConfig = MultimodalConfig(
        z=8, hidden=(128,), lr=2e-3, gibbs=Gibbs(sweeps=4, order="fixed", hold=("d",)), x_mean=True
    )
    player_b: MaskConfig = MaskConfig(z=16, hidden=(128,), lr=2e-3, alternations=10)
    seeds: int = 3
    iterations: int = 1200
    chunk: int = 400
    pretrain: int = 1000
    batch: int = 64
    alpha_self: float = 0.5
    pool: int = 20_000
    test_sweeps: int = 20
    test_per_class: int = 30
    test_limit: int | None = None
    seed: int = 0
    data: str | None = None
    mnist_dir: str | None = None

    @property
    def dataset_name(self) -> str:
        if self.data is None:
            return "PolyDigits (embedded 8×8 digits in five styles)"
        return f"PolyMNIST from {self.data}, binarised MNIST from {self.mnist_dir}"


def polymnist_config(data: str, mnist_dir: str, **changes: Any) -> Config:
    """Full scale: PolyMNIST (28×28) and binarised MNIST, wider MLP conditionals, the authors'
    batch of 256 per source and 10 sweeps (their 10^6 iterations are 21.5 h / 36 h on a GPU;
    the default here is far fewer: ask for more with ``iterations``)."""
    base = Config(
        player_a=MultimodalConfig(
            shape=(28, 28),
            z=16,
            hidden=(512,),
            lr=1e-4,
            gibbs=Gibbs(sweeps=10, order="fixed", hold=("d",)),
            x_mean=True,
        ),
        player_b=MaskConfig(shape=(28, 28), z=16, hidden=(512,), lr=1e-4, alternations=100),
        iterations=20_000,
        chunk=2000,
        pretrain=20_000,
        batch=256,
        pool=60_000,
        test_sweeps=100,
        test_limit=10_000,
        data=str(data),
        mnist_dir=str(mnist_dir),
    )
    return base._replace(**changes)


def smoke_config(**changes: Any) -> Config:
    """A run of seconds for tests and notebooks (tiny players, few steps)."""
    base = Config(
        player_a=MultimodalConfig(
            z=4, hidden=(32,), lr=3e-3, gibbs=Gibbs(sweeps=1, order="fixed", hold=("d",))
        ),
        player_b=MaskConfig(z=4, hidden=(32,), lr=3e-3, alternations=2),
        seeds=2,
        iterations=20,
        chunk=10,
        pretrain=10,
        batch=16,
        pool=200,
        test_sweeps=2,
        test_per_class=2,
    )
    return base._replace(**changes)


# ---------------------------------------------------------------------------------------------
# validation


def validate(config: Config) -> Config:
    """``config`` checked and normalised; ValueError / TypeError names the field that is wrong."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected a polymnist.Config, got {type(config).__name__}")
    settings = distinct_choices("settings", config.settings, SETTINGS, "setting")
    if not isinstance(config.player_a, MultimodalConfig):
        raise TypeError("player_a: must be a gtgen.players.neural.MultimodalConfig")
    if not isinstance(config.player_b, MaskConfig):
        raise TypeError("player_b: must be a gtgen.players.neural.masks.MaskConfig")
    if tuple(config.player_a.shape) != tuple(config.player_b.shape):
        raise ValueError(
            f"player_b: models {config.player_b.shape} masks but player A "
            f"{config.player_a.shape} images; they must agree"
        )
    for name in ("seeds", "iterations", "chunk", "pretrain", "batch", "pool", "test_sweeps"):
        integer(name, getattr(config, name))
    integer("test_per_class", config.test_per_class)
    if config.test_limit is not None:
        integer("test_limit", config.test_limit)
    any_integer("seed", config.seed)
    a = config.alpha_self
    if isinstance(a, bool) or not (isinstance(a, int | float) and 0.0 < a < 1.0):
        raise ValueError(f"alpha_self: must lie in (0, 1), got {a!r}")
    if (config.data is None) != (config.mnist_dir is None):
        raise ValueError(
            "data: PolyMNIST at full scale needs both the PolyMNIST folder (--data) and the "
            "MNIST IDX folder for the (c, s) pairs (--mnist-dir)"
        )
    return config._replace(settings=settings, alpha_self=float(a))


# ---------------------------------------------------------------------------------------------
# data


class Split(NamedTuple):
    """A's training items (c, d, x), the (c, s) pairs, and the test images with c and d."""

    c: np.ndarray
    d: np.ndarray
    x: np.ndarray
    pairs_c: np.ndarray
    pairs_s: np.ndarray
    test_c: np.ndarray
    test_d: np.ndarray
    test_x: np.ndarray


def load_data(config: Config) -> Split:
    """PolyDigits split by digit (see the module docstring) or PolyMNIST + binarised MNIST.
    ValueError names missing or malformed files and a size that does not fit the players."""
    if config.data is None:
        ds = load_digits(binarize=False)
        rng = np.random.default_rng(12345)  # one held-out split for every run and seed
        per = config.test_per_class
        fewest = int(np.bincount(ds.labels, minlength=10).min())
        if per >= fewest:
            raise ValueError(
                f"test_per_class: {per} leaves no training digit of some class (the fewest "
                f"digits of a class are {fewest})"
            )
        test = np.sort(
            np.concatenate(
                [rng.choice(np.flatnonzero(ds.labels == c), per, replace=False) for c in range(10)]
            )
        )
        train = np.setdiff1d(np.arange(len(ds.labels)), test)
        a = polydigits(ds.images[train], ds.labels[train], seed=0)
        t = polydigits(ds.images[test], ds.labels[test], seed=1)
        pairs_c = ds.labels[train].astype(np.int32)
        pairs_s = (ds.images[train] > DIGITS_THRESHOLD).astype(np.float32)
    else:
        try:
            a = load_polymnist(config.data, "train")
            t = load_polymnist(config.data, "test")
            mnist = load_mnist(config.mnist_dir, "mnist", "train", threshold=MNIST_THRESHOLD)
        except (FileNotFoundError, OSError) as err:
            raise ValueError(f"data: {err}") from None
        pairs_c, pairs_s = mnist.labels.astype(np.int32), mnist.images.astype(np.float32)
    shape = tuple(config.player_a.shape)
    for what, arr in (("images", a.x[0, ..., 0]), ("masks", pairs_s[0])):
        if tuple(arr.shape) != shape:
            raise ValueError(
                f"player_a: made for {'×'.join(map(str, shape))} images, but the "
                f"{config.dataset_name} {what} are {'×'.join(map(str, arr.shape))}"
            )
    test_c, test_d, test_x = t.c, t.d, t.x
    if config.test_limit is not None and len(test_c) > config.test_limit:
        rows = np.sort(np.random.default_rng(6789).permutation(len(test_c))[: config.test_limit])
        test_c, test_d, test_x = test_c[rows], test_d[rows], test_x[rows]
    return Split(a.c, a.d, a.x, pairs_c, pairs_s, test_c, test_d, test_x)


# ---------------------------------------------------------------------------------------------
# players and programs


class Players(NamedTuple):
    a: Any
    sender: Any
    b: Any


def players(config: Config, split: Split) -> Players:
    """A, the (c, s) data sender (room for the real pairs and B's pool), and B."""
    h, w = config.player_a.shape
    variables = (("c", Variable("categorical", (), 10)), ("s", Variable("binary", (h, w))))
    rows = max(len(split.pairs_c), config.pool)
    return Players(
        multimodal_player(config.player_a),
        data_sender("(c, s) pairs", variables, rows),
        mask_player(config.player_b),
    )


def _spec(config: Config) -> RoundSpec:
    return RoundSpec(
        config.batch,
        routing="sampled",
        composition="weighted",
        own_batch=config.batch,
        flip_prob=FLIP_PROB,
    )


def alpha(config: Config, setting: str) -> np.ndarray:
    """α [2, 2] of a setting over the players (A, sender): only A receives."""
    out = np.eye(2, dtype=np.float32)
    if setting != "alone":
        out[0] = [config.alpha_self, 1 - config.alpha_self]
    return out


@functools.lru_cache(maxsize=8)
def pretrain_program(config_b: MaskConfig, spec: RoundSpec, rounds: int) -> Callable:
    """``program(keys [S], states, data) -> (states, loss)``: B alone, ``rounds`` rounds."""
    groups = (Group(mask_player(config_b), (0,)),)
    play = make_play(groups, spec)

    def one(key, states, data):
        alone = jnp.ones((1, 1))
        states, trace = play_weighted_alike(play, groups, spec, key, states, (data,), alone, rounds)
        return states, trace.metrics[0]["loss"].mean()

    return xla_options.jit(jax.vmap(one, in_axes=(0, 0, None)))


@functools.lru_cache(maxsize=8)
def exchange_program(a: Any, sender: Any, spec: RoundSpec, rounds: int) -> Callable:
    """``program(keys [E], states, data, alpha [E, 2, 2]) -> (states, nll_c)``: ``rounds`` rounds
    of the one exchange round over the groups (A, sender) for every entry, vmapped."""
    groups = (Group(a, (0,)), Group(sender, (1,)))
    play = make_play(groups, spec)

    def one(key, states, data, alpha):
        states, trace = play_weighted_alike(play, groups, spec, key, states, data, alpha, rounds)
        return states, trace.metrics[0]["nll_c"].mean()

    return xla_options.jit(jax.vmap(one, in_axes=(0, 0, None, 0)))


@functools.lru_cache(maxsize=8)
def pool_program(config_b: MaskConfig, n: int) -> Callable:
    """``program(keys [S], states_b) -> {"c", "s"} [S, n, ...]``: B's synthetic pairs."""
    player = mask_player(config_b)

    def one(key, state):
        return player.sample(key, jax.tree.map(lambda v: v[0], state), n)

    return xla_options.jit(jax.vmap(one))


@functools.lru_cache(maxsize=8)
def accuracy_program(config_a: MultimodalConfig, sweeps: int) -> Callable:
    """``program(key, states_a [E], x) -> labels [E, n]``: the authors' inference per entry."""
    player = multimodal_player(config_a)

    def one(key, state, x):
        _, avg = infer(key, player, jax.tree.map(lambda v: v[0], state), {"x": x}, sweeps)
        return jnp.argmax(avg, axis=-1)

    return xla_options.jit(jax.vmap(one, in_axes=(None, 0, None)))


def chunking(iterations: int, chunk: int) -> tuple[int, int]:
    """``(chunks, iterations per chunk)``: equal chunks covering at least ``iterations``."""
    chunks = math.ceil(iterations / chunk)
    return chunks, math.ceil(iterations / chunks)


class Entry(NamedTuple):
    setting: str
    seed: int


def entries(config: Config) -> list[Entry]:
    return [Entry(s, config.seed + k) for s in config.settings for k in range(config.seeds)]


def _identity(config: Config, program: str) -> dict:
    """What a checkpoint folder must agree on to be resumed."""
    return {
        "program": program,
        "player_a": repr(config.player_a),
        "player_b": repr(config.player_b),
        "settings": list(config.settings),
        "seeds": config.seeds,
        "seed": config.seed,
        "chunk": chunking(config.iterations, config.chunk)[1],
        "pretrain": config.pretrain,
        "batch": config.batch,
        "alpha_self": config.alpha_self,
        "pool": config.pool,
        "test_per_class": config.test_per_class,
        "data": config.data,
        "mnist_dir": config.mnist_dir,
    }


class Trained(NamedTuple):
    entries: list[Entry]
    labels: np.ndarray  # [E, n_test] predicted classes
    history: dict[str, list[dict]]
    resumed_from: dict[str, int]
    iterations: int
    pictures: dict[str, np.ndarray]


def _stacked(tree: Any, n: int) -> Any:
    return jax.tree.map(lambda v: jnp.broadcast_to(v, (n, *jnp.shape(v))), tree)


def train(
    config: Config,
    split: Split,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Trained:
    """B's pretraining, then every setting × seed in one program; chunked, checkpointed (a later
    call with the same ``checkpoint_dir`` resumes exactly), NaN-checked; then test labels."""
    ps = players(config, split)
    spec = _spec(config)
    ents = entries(config)
    seeds = sorted({e.seed for e in ents})
    root = Path(checkpoint_dir) if checkpoint_dir is not None else None
    histories, resumed = {}, {}
    key = jax.random.key(config.seed)
    pairs = {"c": jnp.asarray(split.pairs_c)[None], "s": jnp.asarray(split.pairs_s)[None]}

    def run_program(name, chunk_fn, states, chunks, per_chunk, record):
        folder = None if root is None else root / name
        history = [] if folder is None else open_checkpoints(folder, _identity(config, name))

        def on_chunk(c, st, metric):
            entry = {"chunk": c, "iteration": (c + 1) * per_chunk, **record(st, metric)}
            append_history(folder, history, entry)
            if log is not None:
                log(f"{name}: iteration {entry['iteration']}/{chunks * per_chunk}, {entry}")

        states, restored = run_chunks(
            chunk_fn,
            states,
            jax.random.fold_in(key, len(histories) + 10),
            chunks,
            checkpoint_dir=folder,
            on_chunk=on_chunk,
            progress=progress,
            description=f"polymnist {name}",
            per_chunk=per_chunk,
        )
        histories[name], resumed[name] = history, restored
        return states

    # 1. B alone (per seed)
    chunks_b, per_b = chunking(config.pretrain, config.chunk)
    program_b = pretrain_program(config.player_b, spec, per_b)
    b_keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 1) for s in seeds])
    b_states = jax.vmap(lambda k: jax.tree.map(lambda v: v[None], ps.b.init(k)))(b_keys)
    b_states = run_program(
        "pretrain-b",
        lambda k, st: program_b(jax.random.split(k, len(seeds)), st, pairs),
        (b_states,),
        chunks_b,
        per_b,
        lambda st, loss: {"loss_b": host(loss).tolist()},
    )[0]

    # 2. B's pool, then every setting × seed in one program over (A, sender)
    pool = host(pool_program(config.player_b, config.pool)(b_keys, b_states))
    chunks, per_chunk = chunking(config.iterations, config.chunk)
    program = exchange_program(ps.a, ps.sender, spec, per_chunk)
    n = len(ents)
    a_keys = jnp.stack([jax.random.fold_in(jax.random.key(e.seed), 2) for e in ents])
    a_states = jax.vmap(lambda k: jax.tree.map(lambda v: v[None], ps.a.init(k)))(a_keys)
    held = [
        sender_state(
            ps.sender,
            {v: pool[v][seeds.index(e.seed)] for v in ("c", "s")}
            if e.setting == "synthetic"
            else pairs_of(split),
        )
        for e in ents
    ]
    sender = jax.tree.map(lambda *v: jnp.stack(v)[:, None], *held)
    states = (a_states, sender)
    own_a = {
        "c": jnp.asarray(split.c)[None],
        "d": jnp.asarray(split.d)[None],
        "x": jnp.asarray(split.x)[None],
    }
    one_row = {"c": pairs["c"][:, :1], "s": pairs["s"][:, :1]}  # the sender learns nothing
    data = (own_a, one_row)
    alphas = jnp.asarray(np.stack([alpha(config, e.setting) for e in ents]))
    states = run_program(
        "exchange",
        lambda k, st: program(jax.random.split(k, n), st, data, alphas),
        states,
        chunks,
        per_chunk,
        lambda st, nll: {"nll_c": host(nll).tolist()},
    )
    labels = np.asarray(
        accuracy_program(config.player_a, config.test_sweeps)(
            jax.random.fold_in(key, 3), states[0], jnp.asarray(split.test_x)
        )
    )
    pictures = sample_pictures(config, ps, states, split, ents, pool)
    return Trained(ents, labels, histories, resumed, chunks * per_chunk, pictures)


def pairs_of(split: Split) -> dict:
    return {"c": split.pairs_c, "s": split.pairs_s}


def sample_pictures(config: Config, ps: Players, states, split: Split, ents, pool) -> dict:
    """For the first seed: B's synthetic masks (``synthetic_masks`` [10, k, H, W], a row per
    class), A's imputed masks of test images (``imputed_<setting>``: the images and their masks)
    and A's generated images given class and style (``generated_<setting>`` [5, 10, H, W, 3], a
    row per style)."""
    k = PICTURES
    key = jax.random.key(config.seed + 7)
    out = {}
    first = {e.setting: i for i, e in reversed(list(enumerate(ents)))}
    c, s = pool["c"][0], pool["s"][0]
    h, w = config.player_a.shape
    out["synthetic_masks"] = np.stack(
        [np.concatenate([s[c == j], np.zeros((k, h, w))])[:k] for j in range(10)]
    )
    rows = np.concatenate([np.flatnonzero(split.test_d == d)[:2] for d in range(len(STYLES))])
    x = jnp.asarray(split.test_x[rows])
    grid_c = jnp.tile(jnp.arange(10, dtype=jnp.int32), len(STYLES))
    grid_d = jnp.repeat(jnp.arange(len(STYLES), dtype=jnp.int32), 10)
    for setting, i in first.items():
        a = jax.tree.map(lambda v, i=i: v[i, 0], states[0])
        values, _ = _infer_jit(ps.a, config.test_sweeps)(key, a, {"x": x})
        out[f"imputed_{setting}"] = (np.asarray(x), np.asarray(values["s"]))
        gen, _ = _infer_jit(ps.a, config.test_sweeps)(key, a, {"c": grid_c, "d": grid_d})
        out[f"generated_{setting}"] = np.asarray(gen["x"]).reshape(len(STYLES), 10, h, w, 3)
    return out


@functools.lru_cache(maxsize=8)
def _infer_jit(player, sweeps: int) -> Callable:
    return jax.jit(lambda key, state, clamped: infer(key, player, state, clamped, sweeps))


class Results(NamedTuple):
    """A finished run: configuration, the test split's (c, d), the trained entries, timing."""

    config: Config
    test_c: np.ndarray
    test_d: np.ndarray
    trained: Trained
    wall_s: float

    def accuracy(self) -> dict[str, np.ndarray]:
        """setting -> ``[seeds, 6]``: accuracy per style d = 0..4 and their mean."""
        out: dict[str, list] = {}
        for e, labels in zip(self.trained.entries, self.trained.labels):
            hit = labels == self.test_c
            per = [hit[self.test_d == d].mean() for d in range(len(STYLES))]
            out.setdefault(e.setting, []).append(per + [float(np.mean(per))])
        return {k: np.asarray(v) for k, v in out.items()}


def compute(
    config: Config | None = None,
    out_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Results:
    """Experiment IV-C without writing outputs (``polymnist.run`` also writes them); checkpoints
    go to ``out_dir/checkpoints`` unless ``checkpoint_dir`` says otherwise."""
    start = time.perf_counter()
    config = validate(Config() if config is None else config)
    split = load_data(config)
    trained = train(
        config, split, checkpoints_under(out_dir, checkpoint_dir), progress=progress, log=log
    )
    return Results(config, split.test_c, split.test_d, trained, time.perf_counter() - start)


__all__: Sequence[str] = (
    "PAPER_ACCURACY",
    "SETTINGS",
    "Config",
    "Entry",
    "Results",
    "Split",
    "Trained",
    "compute",
    "load_data",
    "polymnist_config",
    "smoke_config",
    "train",
    "validate",
)

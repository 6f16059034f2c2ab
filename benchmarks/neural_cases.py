"""Neural benchmark cases: gtgen's compiled exchange round of VAE / HVAE players on the digits.

``neural_vae_n8``: 8 VAE players (gtgen.players.neural.vae_player, MLP first, then the conv
variant) on the binarised 8×8 digits, split into disjoint per-class slices; self-weight a = 0.5
and uniform off-diagonal α; batch 256 with the authors' composition (round(256·a) own images,
the rest synthetic, drawn from the others before anyone updates). Figures, all measured in one
run on the same machine:
- ``round_ms``: one round of gtgen's compiled ``train`` (K rounds in one ``lax.scan``, compile
  excluded; median of repeats, divided by K);
- ``ratio_vs_loop``: against benchmarks/reference/torch_vae.py (PyTorch eager, a Python loop over
  players, same architecture, batch, composition and Adam), timed at 1 thread and at all cores;
  the faster of the two is the baseline (``loop_threads`` says which). Null, with a ``note``,
  when torch is not importable (install the ``[reference]`` extra);
- ``fraction_of_matmul_peak``: achieved FLOP/s of gtgen's round over the FLOP/s of a large
  float32 matmul (``matmul_size``², jitted, the best of repeats) timed in the same run. The
  round's FLOPs (``flops_source``) come from XLA's cost analysis of the compiled program
  (``train.lower(...).compile().cost_analysis()``; XLA counts the body of the scan's while loop,
  one round, once), else from the analytic count. ``round_gflop_analytic`` is the useful work of
  the layers alone (forward + backward of every dense / conv layer of the update, the decoder's
  forward of the sampling, 2 FLOPs per multiply-add; elementwise work not counted), and
  ``fraction_of_matmul_peak_analytic`` the fraction with that count.
- ``ratio_ceiling``: the loop's time over the time of the round's FLOPs at the matmul rate, the
  highest ratio any implementation could reach on this machine.
- ``compile_s``: the time to trace, lower and compile ``train``, reported, never in ``round_ms``.
The conv variant's figures carry the prefix ``conv_``.

``neural_sweep``: the α sweep of experiment IV-A (self-weight a ∈ {0.1, …, 1.0} × 2 players,
digits 0–4 / 5–9, the HVAE "digits-small" player, batch 256, ``iterations`` rounds per run) as
one program (``gtgen.xla_options.jit(jax.vmap(train))`` over α, keys and initial states) against the same 10
runs one after another, each a call of the compiled ``train`` (compiled once, as a user's loop
of ``train(...)`` calls would be; each result is waited for). ``ratio_vs_loop`` excludes
compilation on both sides; ``ratio_vs_loop_end_to_end`` includes it on both (one compile each).
``ratio_ceiling`` is the loop's time over the time the same FLOPs would take at the matmul
rate: no batching can beat it on this machine, which bounds the ratio whenever the loop is
already compute-bound. The full run also measures the sweep at batch 32 (``small_batch_*``),
where per-operation overheads, not arithmetic, dominate. ``quick`` uses the MLP VAE player (it
compiles faster) and fewer rounds.

Every case takes ``sizes`` (a dict overriding its defaults) so tests can run it tiny; its key
``compiler_options`` (XLA options for every compiled program, default none) lets them compile
without the backend's optimisation passes, which take most of a compile on a CPU.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import baseline_loop, loop_repeats, median_seconds
from gtgen import xla_options
from gtgen.data import disjoint_slices, load_digits, stack_players
from gtgen.exchange import RoundSpec, init_states, make_train
from gtgen.game import Group
from gtgen.players.neural import HVAEConfig, NeuralPlayer, VAEConfig, hvae_player, vae_player
from gtgen.players.neural.hvae import CONFIGS

NO_TORCH = (
    "torch is not importable: install the [reference] extra (torch==2.13.0) "
    "for the PyTorch comparison"
)


# Players and their train functions are cached: cases (and tests) at equal sizes share them.


@functools.cache
def _player(spec: Any) -> NeuralPlayer:
    """A player from a VAEConfig, an HVAE configuration name ("hvae:digits-small"), or "vae"."""
    if isinstance(spec, VAEConfig):
        return vae_player(spec)
    if spec == "vae":
        return vae_player(VAEConfig())
    if isinstance(spec, str) and spec.startswith("hvae:"):
        return hvae_player(spec.removeprefix("hvae:"))
    raise ValueError(f"unknown player {spec!r}")


@functools.cache
def _train(player: NeuralPlayer, n_players: int, batch: int):
    """The one exchange round on ``n_players`` of ``player``, scanned (iterations static)."""
    train = make_train(player, n_players, RoundSpec(batch, routing="sampled"))
    return xla_options.jit(train, static_argnames="rounds")


def _options(s: dict) -> dict | None:
    """XLA compiler options of the case's programs (None: XLA's defaults, as a user gets)."""
    return dict(s["compiler_options"]) if s.get("compiler_options") else None


def _init(player: NeuralPlayer, n_players: int, options: dict | None):
    """``key -> stacked states`` of ``n_players`` players, compiled."""
    groups = (Group(player, tuple(range(n_players))),)
    fn = xla_options.jit(lambda k: init_states(groups, k, (None,))[0])
    return fn.lower(jax.random.key(0)).compile(options)


def _compile(jitted, args: tuple, options: dict | None, *static) -> tuple[Any, Any, float]:
    """(lowered, compiled, seconds to trace, lower and compile) of ``jitted`` on ``args``."""
    start = time.perf_counter()
    lowered = jitted.lower(*args, *static)
    compiled = lowered.compile(options)
    return lowered, compiled, time.perf_counter() - start


def _load() -> float:
    return os.getloadavg()[0]


def _matmul_flops_per_s(size: int, repeats: int) -> float:
    """FLOP/s of a jitted ``size``² float32 matmul, the best of ``repeats`` (a peak: on a shared
    machine the median would count other processes' interference against the machine)."""
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    mm = xla_options.jit(jnp.matmul)
    jax.block_until_ready(mm(a, b))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(mm(a, b))
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def _flops_of(cost) -> float | None:
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops and flops > 0 else None


@functools.cache
def _loop_body_counted_once() -> bool:
    """Whether XLA's cost analysis counts a scan's (while loop's) body once, not once per trip:
    the compiled cost of a tiny scan of 4 trips against the same scan of 8 (equal, or double)."""

    def flops(trips: int) -> float | None:
        body = lambda c, _: (c @ c, None)  # noqa: E731
        fn = jax.jit(lambda x: jax.lax.scan(body, x, length=trips)[0])
        return _flops_of(fn.lower(jnp.ones((8, 8), jnp.float32)).compile().cost_analysis())

    single, double = flops(4), flops(8)
    return single is not None and double is not None and double < 1.5 * single


def _round_flops(compiled, iterations: int) -> float | None:
    """FLOPs of one round from XLA's cost analysis of the compiled ``train`` (``iterations``
    rounds in one scan): XLA does not know a while loop's trip count and counts its body once
    (checked on a tiny scan, ``_loop_body_counted_once``); were it counted per trip, the count
    is divided by the trip count."""
    try:
        flops = _flops_of(compiled.cost_analysis())
        once = _loop_body_counted_once()
    except Exception:  # noqa: BLE001 - a backend without cost analysis: the caller counts
        return None
    if flops is None:
        return None
    return flops if once else flops / iterations


def analytic_vae_flops(config: VAEConfig, batch: int) -> float:
    """FLOPs of one VAE player's part of a round: ``batch`` samples (decoder forward) and one
    update on ``batch`` items (forward, gradients of weights and of inputs — none for the image
    input of the first layer), dense and conv layers only, 2 FLOPs per multiply-add."""
    h, w = config.event_shape
    lat, hid, c = config.latent, tuple(config.hidden), config.width

    def dense(sizes: tuple[int, ...]) -> list[int]:
        return [a * b for a, b in itertools.pairwise(sizes)]

    if config.kind == "mlp":
        enc, dec = dense((h * w, *hid, 2 * lat)), dense((lat, *hid, h * w))
    else:
        grid = (h // 4) * (w // 4) * 2 * c
        enc = [
            (h // 2) * (w // 2) * c * 9,
            (h // 4) * (w // 4) * 2 * c * 9 * c,
            *dense((grid, *hid, 2 * lat)),
        ]
        # transposed convolutions: every input pixel meets the kernel once
        dec = [
            *dense((lat, *hid, grid)),
            (h // 4) * (w // 4) * 9 * 2 * c * c,
            (h // 2) * (w // 2) * 9 * c,
        ]
    forward = sum(enc) + sum(dec)
    update = 3 * forward - enc[0]
    return 2.0 * batch * (update + sum(dec))


def _digits_split(n_players: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Binarised digits in disjoint per-class slices: (per-player images, padded stack, counts)."""
    ds = load_digits()
    per_class = int(np.bincount(ds.labels).min()) // n_players
    parts = [ds.images[idx] for idx in disjoint_slices(ds.labels, n_players, per_class, seed)]
    return parts, *stack_players(parts)


def _uniform_alpha(n: int, a: float) -> np.ndarray:
    alpha = np.full((n, n), (1.0 - a) / (n - 1))
    np.fill_diagonal(alpha, a)
    return alpha


def _torch_round_seconds(parts, alpha, batch, rounds, repeats, threads, **model_args) -> float:
    """Seconds per round of the PyTorch loop with ``threads`` intra-op threads."""
    import torch

    from benchmarks.reference import torch_vae

    before = torch.get_num_threads()
    torch_vae.set_threads(threads)
    try:
        data = [torch.as_tensor(p) for p in parts]
        players = torch_vae.make_players(len(parts), seed=0, **model_args)
        torch_vae.train(players, data, alpha, batch, 1)  # warm-up (allocator, oneDNN kernels)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch_vae.train(players, data, alpha, batch, rounds)
            times.append(time.perf_counter() - start)
        return statistics.median(times) / rounds
    finally:
        torch.set_num_threads(before)


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _vae_kind(kind: str, s: dict, parts, data, counts, alpha, matmul_rate: float) -> dict:
    """All figures of one VAE variant (keys without prefix)."""
    config = VAEConfig(kind=kind, **s.get("vae", {}))
    player = _player(config)
    n, batch = len(parts), s["batch"]
    rounds = s["rounds"][kind]
    train = _train(player, n, batch)
    states = _init(player, n, _options(s))(jax.random.key(0))
    args = (
        jax.random.key(1),
        states,
        jnp.asarray(data),
        jnp.asarray(counts),
        jnp.asarray(alpha, jnp.float32),
    )
    _, compiled, compile_s = _compile(train, args, _options(s), rounds)
    t_round = median_seconds(lambda: compiled(*args), repeats=s["repeats"]) / rounds

    analytic = analytic_vae_flops(config, batch) * n
    xla = _round_flops(compiled, rounds)
    flops = xla if xla is not None else analytic
    out = {
        "round_ms": 1e3 * t_round,
        "rounds_per_s": 1.0 / t_round,
        "compile_s": compile_s,
        "round_gflop": flops / 1e9,
        "round_gflop_analytic": analytic / 1e9,
        "flops_source": "xla cost analysis" if xla is not None else "analytic",
        "round_gflop_per_s": flops / t_round / 1e9,
        "fraction_of_matmul_peak": flops / t_round / matmul_rate,
        "fraction_of_matmul_peak_analytic": analytic / t_round / matmul_rate,
    }
    if not _torch_available():
        out.update(ratio_vs_loop=None, loop_round_ms=None, note=NO_TORCH)
        return out
    model_args = {"kind": kind, **s.get("vae", {})}
    model_args.pop("lr", None)
    out.update(
        baseline_loop(
            lambda threads: _torch_round_seconds(
                parts,
                alpha,
                batch,
                ((threads > 1 and s["all_cores_loop_rounds"]) or s["loop_rounds"])[kind],
                loop_repeats(s, threads),
                threads,
                lr=config.lr,
                **model_args,
            ),
            t_round,
        )
    )
    out["ratio_ceiling"] = out["loop_round_ms"] / 1e3 / (flops / matmul_rate)
    return out


def neural_vae_n8(quick: bool = False, sizes: dict | None = None) -> dict:
    s = {
        "players": 8,
        "batch": 256,
        "self_weight": 0.5,
        "kinds": ("mlp",) if quick else ("mlp", "conv"),
        "rounds": {"mlp": 20 if quick else 100, "conv": 3 if quick else 10},
        "loop_rounds": {"mlp": 5 if quick else 20, "conv": 2 if quick else 4},
        "repeats": 2 if quick else 3,
        "all_cores_repeats": 1 if quick else 3,  # the PyTorch loop at all cores (oversubscribed
        # on a shared 2-core machine: ~25x its 1-thread time, so --quick times it once, on
        # one round after the warm-up round)
        "all_cores_loop_rounds": {"mlp": 1, "conv": 1} if quick else None,  # None: loop_rounds
        "matmul_size": 1024 if quick else 2048,
        "vae": {},  # VAEConfig overrides (tests: a tiny model)
        "compiler_options": None,  # XLA options (tests: fast, unoptimised compiles)
    }
    s.update(sizes or {})
    load_before = _load()
    parts, data, counts = _digits_split(s["players"])
    alpha = _uniform_alpha(s["players"], s["self_weight"])
    matmul_rate = _matmul_flops_per_s(s["matmul_size"], repeats=5 if quick else 10)
    out: dict[str, Any] = {
        "name": "neural-vae-N8",
        "players": s["players"],
        "batch": s["batch"],
        "self_weight": s["self_weight"],
        "images_per_player": int(counts[0]),
        "matmul_size": s["matmul_size"],
        "matmul_gflop_per_s": matmul_rate / 1e9,
    }
    for kind in s["kinds"]:
        figures = _vae_kind(kind, s, parts, data, counts, alpha, matmul_rate)
        prefix = "" if kind == "mlp" else f"{kind}_"
        out.update({prefix + k: v for k, v in figures.items()})
    out["load_avg_1min"] = [load_before, _load()]
    out["targets"] = {"ratio_vs_loop": 3, "fraction_of_matmul_peak": 0.5}
    return out


def _two_player_digits() -> tuple[jax.Array, jax.Array]:
    """Digits 0–4 / 5–9, padded into ``[2, n_max, 8, 8]``, and the counts."""
    ds = load_digits()
    padded, counts = stack_players([ds.images[ds.labels < 5], ds.images[ds.labels >= 5]])
    return jnp.asarray(padded), jnp.asarray(counts)


def _sweep_ratio(
    player: NeuralPlayer,
    batch: int,
    values: np.ndarray,
    iterations: int,
    repeats: int,
    data,
    counts,
    options: dict | None,
) -> dict:
    """Loop of single runs against one vmapped program, for the self-weights ``values``."""
    alphas = jnp.asarray(np.stack([[[a, 1 - a], [1 - a, a]] for a in values]), jnp.float32)
    keys = jax.random.split(jax.random.key(0), len(values))
    init = _init(player, 2, options)
    singles = [init(k) for k in jax.random.split(jax.random.key(1), len(values))]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *singles)
    train = _train(player, 2, batch)
    first = (keys[0], singles[0], data, counts, alphas[0])
    _, single, loop_compile = _compile(train, first, options, iterations)

    def loop():
        for s in range(len(values)):  # a user's loop: one call, one result, per α
            out = jax.block_until_ready(single(keys[s], singles[s], data, counts, alphas[s]))
        return out

    t_loop = median_seconds(loop, repeats=repeats)

    sweep = xla_options.jit(jax.vmap(lambda k, st, a: train(k, st, data, counts, a, iterations)))
    _, swept, sweep_compile = _compile(sweep, (keys, stacked, alphas), options)
    t_sweep = median_seconds(lambda: swept(keys, stacked, alphas), repeats=repeats)

    flops = _round_flops(single, iterations)
    return {
        "loop_s": t_loop,
        "sweep_s": t_sweep,
        "loop_compile_s": loop_compile,
        "sweep_compile_s": sweep_compile,
        "ratio_vs_loop": t_loop / t_sweep,
        "ratio_vs_loop_end_to_end": (loop_compile + t_loop) / (sweep_compile + t_sweep),
        "round_gflop": None if flops is None else flops / 1e9,
        "total_gflop": None if flops is None else flops * iterations * len(values) / 1e9,
    }


def neural_sweep(quick: bool = False, sizes: dict | None = None) -> dict:
    s = {
        "player": "vae" if quick else "hvae:digits-small",
        "values": 10,
        "batch": 256,
        "iterations": 20 if quick else 100,
        "repeats": 2 if quick else 3,
        "small_batch": None if quick else 32,
        "matmul_size": 1024 if quick else 2048,
        "compiler_options": None,
    }
    s.update(sizes or {})
    load_before = _load()
    player = _player(s["player"])
    data, counts = _two_player_digits()
    values = np.round(np.linspace(0.1, 1.0, s["values"]), 2)
    matmul_rate = _matmul_flops_per_s(s["matmul_size"], repeats=5 if quick else 10)
    main = _sweep_ratio(
        player, s["batch"], values, s["iterations"], s["repeats"], data, counts, _options(s)
    )
    out: dict[str, Any] = {
        "name": "neural-sweep",
        "player": s["player"],
        "players": 2,
        "alphas": [float(v) for v in values],
        "batch": s["batch"],
        "iterations": s["iterations"],
        "compile": "excluded from ratio_vs_loop on both sides, included in both in _end_to_end",
        **main,
        "matmul_gflop_per_s": matmul_rate / 1e9,
    }
    if main["total_gflop"] is not None:
        at_peak = main["total_gflop"] * 1e9 / matmul_rate
        out["loop_fraction_of_matmul_peak"] = at_peak / main["loop_s"]
        out["sweep_fraction_of_matmul_peak"] = at_peak / main["sweep_s"]
        out["ratio_ceiling"] = main["loop_s"] / at_peak
    if s["small_batch"]:
        small = _sweep_ratio(
            player,
            s["small_batch"],
            values,
            s["iterations"],
            s["repeats"],
            data,
            counts,
            _options(s),
        )
        out["small_batch"] = s["small_batch"]
        out.update(
            {
                f"small_batch_{k}": small[k]
                for k in ("loop_s", "sweep_s", "ratio_vs_loop", "ratio_vs_loop_end_to_end")
            }
        )
    out["load_avg_1min"] = [load_before, _load()]
    out["targets"] = {"ratio_vs_loop": 3}
    return out


def _fake_mnist(folder, n_train: int, n_test: int) -> None:
    """MNIST-format IDX files of random 28×28 images (speed does not depend on their content)."""
    from gtgen.data import save_idx

    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        save_idx(
            folder / f"{stem}-images-idx3-ubyte", (rng.random((n, 28, 28)) * 255).astype(np.uint8)
        )
        save_idx(folder / f"{stem}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))


def _paper_iteration_seconds(alphas, s: dict, folder) -> tuple[float, float]:
    """(seconds per iteration, compile seconds) of the experiment's own compiled program for
    these values of a (what ``gtgen experiment mnist-split --data-dir`` runs)."""
    from gtgen.experiments.mnist_split import experiment as ms

    config = ms.validate(
        ms.mnist_config(
            str(folder),
            alphas=tuple(alphas),
            baseline=False,
            iterations=s["iterations"],
            chunk=s["iterations"],
            model=s["model"],
            batch=s["batch"],
        )
    )
    data = ms.load_data(config)
    ent = ms.entries(config, data)
    program = ms.sweep_program(
        ms._architecture(config.hvae()),
        config.batch,
        s["iterations"],
        float(config.flip_prob),
        config.composition,
        config.own_draw,
    )
    n = len(ent.alphas)
    args = (
        jax.random.split(jax.random.key(0), n),
        ms.initial_states(config, ent.seeds),
        jnp.asarray(data.rows),
        jnp.asarray(ent.counts),
        jnp.asarray(ent.alpha),
        ms.Schedule(*np.float32([config.hvae().lr, 1.0, s["iterations"]])),
    )
    _, compiled, compile_s = _compile(program, args, _options(s))
    seconds = median_seconds(lambda: compiled(*args), repeats=s["repeats"])
    return seconds / s["iterations"], compile_s


PAPER_CPU_NOTE = (
    "not run with --quick on a CPU: one iteration of the authors' configuration takes tens of "
    "seconds here (batch 1000, both players; benchmarks/RESULTS.md); the full run times it "
    "against the PyTorch reference"
)


def _hvae_config(model) -> HVAEConfig:
    return CONFIGS[model] if isinstance(model, str) else model


def _torch_paper_iteration_seconds(s: dict, threads: tuple[int, ...]) -> dict[int, float]:
    """Seconds per IV-A iteration of benchmarks/reference/torch_hvae.py (the same model, batch,
    self-weight and two players, PyTorch eager) at each intra-op thread count."""
    import torch

    from benchmarks.reference import torch_hvae

    c = _hvae_config(s["model"])
    rng = np.random.default_rng(0)
    shape = (s["images"] // 2, *c.event_shape)
    data = [torch.as_tensor((rng.random(shape) < 0.5).astype(np.float32)) for _ in range(2)]
    before = torch.get_num_threads()
    try:
        players = torch_hvae.make_players(
            2, z0=c.z0, z1=c.z1, prior_hidden=c.prior_hidden, width=c.width, lr=c.lr
        )
        out = {}
        for i, n in enumerate(threads):
            torch.set_num_threads(n)

            def step():
                torch_hvae.iteration(players, data, s["self_weight"], s["batch"])

            out[n] = median_seconds(step, repeats=s["repeats"], warmup=1 if i == 0 else 0)
        return out
    finally:
        torch.set_num_threads(before)


def neural_paper_mnist(quick: bool = False, sizes: dict | None = None) -> dict:
    """The authors' IV-A configuration (paper-mnist HVAE: binary latents 30 / 100, conv image
    networks, batch 1000, Adam 1e-4, both players) at full size on random 28×28 images in MNIST
    files: seconds per iteration of one value of a (the experiment's own compiled program), and
    where JAX's backend is an accelerator also of all ten values in one program, with the hours
    projected for the authors' 10^6 iterations. Their figure: 15 h per value of a on one H100;
    the targets (≤ 1.5 h per value, ≤ 3 h for all ten in one program) are for one GPU.

    On a CPU the same iteration is timed against benchmarks/reference/torch_hvae.py, the same
    model and iteration in PyTorch (eager, the faster of 1 thread and all cores), in the same run:
    ``iteration_time_vs_torch`` = gtgen's seconds / PyTorch's (target ≤ 2). ``--quick`` on a CPU
    returns a note instead (``PAPER_CPU_NOTE``). ``sizes`` may swap the model and batch (tests:
    a tiny model); ``all_values`` / ``reference`` force the ten-value program / the PyTorch
    timing on or off."""
    import tempfile
    from pathlib import Path

    accelerator = jax.default_backend() != "cpu"
    s = {
        "iterations": 20 if accelerator else 1,
        "repeats": 3 if accelerator else 1,
        "values": 10,
        "self_weight": 0.5,
        "images": 2000,
        "model": "paper-mnist",
        "batch": 1000,
        "run_on_cpu": not quick,
        "all_values": accelerator,  # on a CPU ten values cost ten times one
        "reference": not accelerator,  # PyTorch runs on the CPU: compared where gtgen does
        "torch_threads": None,  # default: 1 and all cores
        "compiler_options": None,
    }
    s.update(sizes or {})
    out: dict[str, Any] = {
        "name": "neural-paper-mnist",
        "backend": jax.default_backend(),
        "model": str(s["model"]),
        "batch": s["batch"],
        "players": 2,
        "self_weight": s["self_weight"],
        "authors_hours_per_value_h100": 15.0,
    }
    if not accelerator and not s["run_on_cpu"]:
        out["note"] = PAPER_CPU_NOTE
        return out
    load_before = _load()
    alphas = np.round(np.linspace(0.1, 1.0, s["values"]), 2)
    with tempfile.TemporaryDirectory() as tmp:
        _fake_mnist(Path(tmp), s["images"], s["images"] // 4)
        one, one_compile = _paper_iteration_seconds([s["self_weight"]], s, tmp)
        every = _paper_iteration_seconds(alphas, s, tmp) if s["all_values"] else None
    out.update(
        {
            "iterations_timed": s["iterations"],
            "one_value_iteration_s": one,
            "one_value_iterations_per_s": 1.0 / one,
            "one_value_projected_hours": 1e6 * one / 3600.0,
            "compile_s": [one_compile],
            "targets": {
                "one_value_projected_hours": "≤ 1.5 on one GPU",
                "all_values_projected_hours": "≤ 3 on one GPU",
            },
        }
    )
    if every is not None:
        out.update(
            {
                "all_values": len(alphas),
                "all_values_iterations_per_s": 1.0 / every[0],
                "all_values_projected_hours": 1e6 * every[0] / 3600.0,
            }
        )
        out["compile_s"].append(every[1])
    if s["reference"]:
        out.update(_paper_reference(s, one))
    out["load_avg_1min"] = [load_before, _load()]
    return out


def _paper_reference(s: dict, gtgen_s: float) -> dict:
    """The PyTorch reference's figures for the IV-A case (or a note why there are none)."""
    if not _torch_available():
        return {"iteration_time_vs_torch": None, "note": NO_TORCH}
    if _hvae_config(s["model"]).arch != "conv":
        note = "the PyTorch reference is the conv model (arch='conv'); no ratio for this model"
        return {"iteration_time_vs_torch": None, "note": note}
    cores = os.cpu_count() or 1
    threads = tuple(s["torch_threads"] or sorted({1, cores}))
    loop = _torch_paper_iteration_seconds(s, threads)
    best = min(loop, key=loop.get)
    return {
        "torch_iteration_s": loop[best],
        "torch_threads": best,
        "torch_iteration_s_by_threads": {str(n): t for n, t in loop.items()},
        "iteration_time_vs_torch": gtgen_s / loop[best],
        "targets_cpu": {"iteration_time_vs_torch": "≤ 2 (gtgen / PyTorch, same run)"},
    }


CASES = [neural_vae_n8, neural_sweep, neural_paper_mnist]

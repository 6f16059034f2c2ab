"""The IV-C benchmark: one training step of player A with its Gibbs imputation.

``multimodal_round``: gtgen's compiled exchange round of player A (five MLP conditionals,
gtgen.players.neural.multimodal) and a data sender of real (c, s) pairs on PolyDigits (8×8): each
round A takes ``batch`` own items (c, d, x) and ``batch`` received pairs (c, s), completes what
each lacks by ``sweeps`` Gibbs sweeps (s and z of its own items; d, z and x of the pairs) and takes
one Adam step of every conditional. Figures, all measured in one run on the same machine:

- ``round_ms``: one round (K rounds in one ``lax.scan``, compile excluded; median of repeats / K),
  the faster of all cores (``round_ms_all_cores``) and every thread pinned to one core
  (``round_ms_one_core``; ``round_cores`` says which), as the baseline is the faster of its one
  thread and all cores (``--quick``: all cores only, ``round_cores_timed`` lists what was timed:
  the one-core child would compile the round a second time). The round does the baseline's work:
  the pairs' d is held at its uniform start (``Gibbs(hold=("d",))``), A's own items visit s and
  z and the pairs x and z (separate chains: ``gtgen.exchange.imputation``), and A draws no
  pool of its own (the data sender receives nothing, so nobody reads it). Beyond the baseline: odd
  items redraw one more variable after the sweeps (the stagger: 2 draws per batch), so that z's
  conditional learns on half the items;
- ``ratio_vs_loop``: against benchmarks/reference/torch_multimodal.py (PyTorch eager, the authors'
  per-step loop: two batches completed by Gibbs sweeps in Python, then one Adam step per
  conditional), at 1 thread and at all cores; the faster is the baseline (``loop_threads``).
  Null, with a ``note``, without torch;
- ``compile_s``: trace, lower and compile of the round, reported, never in ``round_ms``;
- ``projected_hours``: ``round_ms`` × 10^6 iterations (the authors' count) at these sizes, beside
  their 21.5 h / 36 h on a GPU at 28×28 with convolutions (not the same work: a scale only).
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from typing import Any

import jax
import numpy as np

from benchmarks.neural_cases import NO_TORCH, _compile, _load, _options, _torch_available
from benchmarks.timing import (
    baseline_loop,
    loop_repeats,
    median_seconds,
    one_core_child,
    pin_to_bench_core,
)
from gtgen import xla_options
from gtgen.data import DIGITS_THRESHOLD, load_digits, polydigits
from gtgen.exchange import RoundSpec, init_states, make_play, play_weighted_alike
from gtgen.game import Group
from gtgen.players.base import binary, categorical
from gtgen.players.gibbs import Gibbs
from gtgen.players.neural.multimodal import MultimodalConfig, multimodal_player
from gtgen.players.sender import data_sender, sender_state


@functools.cache
def _data() -> tuple[dict, dict]:
    ds = load_digits(binarize=False)
    poly = polydigits(ds.images, ds.labels, seed=0)
    own = {"c": poly.c, "d": poly.d, "x": poly.x}
    pairs = {"c": ds.labels.astype(np.int32), "s": (ds.images > DIGITS_THRESHOLD) * 1.0}
    return own, pairs


@functools.cache
def _program(config: MultimodalConfig, rows: int, batch: int, rounds: int):
    a = multimodal_player(config)
    sender = data_sender("pairs", (("c", categorical(10)), ("s", binary(*config.shape))), rows)
    groups = (Group(a, (0,)), Group(sender, (1,)))
    spec = RoundSpec(batch, routing="sampled", composition="weighted", own_batch=batch)
    play = make_play(groups, spec)

    def run(key, states, data, alpha):
        return play_weighted_alike(play, groups, spec, key, states, data, alpha, rounds)[0]

    return a, sender, groups, xla_options.jit(run)


def _torch_step_seconds(config, own, pairs, batch, steps, repeats, threads) -> float:
    import torch

    from benchmarks.reference import torch_multimodal as ref

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = ref.Conditionals(config)
        own_t = {k: torch.as_tensor(v) for k, v in own.items()}
        pairs_t = {
            k: torch.as_tensor(np.asarray(v, np.float32 if k == "s" else np.int64))
            for k, v in pairs.items()
        }
        own_t["c"], own_t["d"] = own_t["c"].long(), own_t["d"].long()
        ref.train(model, own_t, pairs_t, batch, 1, config.gibbs.sweeps)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ref.train(model, own_t, pairs_t, batch, steps, config.gibbs.sweeps)
            times.append(time.perf_counter() - start)
        return statistics.median(times) / steps
    finally:
        torch.set_num_threads(before)


def _sizes(quick: bool, sizes: dict | None) -> dict:
    s = {
        "batch": 64,
        "sweeps": 10,  # the authors' training sweeps
        "hidden": (128,),
        "z": 8,
        "rounds": 10 if quick else 40,
        "loop_steps": 3 if quick else 10,
        "repeats": 2 if quick else 3,
        "all_cores_repeats": 1 if quick else 3,  # the PyTorch loop at all cores: ~35x slower here
        "one_core": not quick,  # --quick: all cores only (the one-core child compiles it again)
        "compiler_options": None,
    }
    s.update(sizes or {})
    return s


def _config(s: dict) -> MultimodalConfig:
    return MultimodalConfig(
        z=s["z"],
        hidden=tuple(s["hidden"]),
        gibbs=Gibbs(sweeps=s["sweeps"], order="fixed", hold=("d",)),  # the pairs' d: uniform
    )


def _round_seconds(s: dict) -> tuple[float, float]:
    """(seconds per round, compile seconds) of gtgen's compiled round, in this process."""
    own, pairs = _data()
    rows = len(pairs["c"])
    a, sender, groups, program = _program(_config(s), rows, s["batch"], s["rounds"])
    # one compiled program for the players' initial states (eager, ~110 small compilations)
    init = xla_options.jit(lambda k: init_states(groups, k, (None, None))[0], effort="once")
    states = init(jax.random.key(0))
    held = jax.tree.map(lambda v: np.asarray(v)[None], sender_state(sender, pairs))
    states = (states, held)
    data = (
        {k: np.asarray(v)[None] for k, v in own.items()},
        {k: np.asarray(v)[None, :1] for k, v in pairs.items()},
    )
    alpha = np.asarray([[0.5, 0.5], [0.0, 1.0]], np.float32)
    args = (jax.random.key(1), states, data, alpha)
    _, compiled, compile_s = _compile(program, args, _options(s))
    return median_seconds(lambda: compiled(*args), repeats=s["repeats"]) / s["rounds"], compile_s


def multimodal_round(quick: bool = False, sizes: dict | None = None) -> dict:
    s = _sizes(quick, sizes)
    load_before = _load()
    config = _config(s)
    own, pairs = _data()
    t_all, compile_s = _round_seconds(s)
    one = (
        one_core_child("benchmarks.multimodal_cases", "round", json.dumps(s))
        if s["one_core"]
        else None
    )
    timed = {"all_cores": t_all, **({} if one is None else {"one_core": one["round_s"]})}
    cores_used = min(timed, key=timed.get)
    t_round = timed[cores_used]
    out: dict[str, Any] = {
        "name": "multimodal-round",
        "batch": s["batch"],
        "sweeps": s["sweeps"],
        "hidden": list(s["hidden"]),
        "round_ms": 1e3 * t_round,
        "round_cores": cores_used,
        "round_cores_timed": sorted(timed),
        **{f"round_ms_{k}": 1e3 * t for k, t in timed.items()},
        "compile_s": compile_s,
        "projected_hours": t_round * 1e6 / 3600,
        "authors_hours": {"real": 21.5, "synthetic": 36.0},
    }
    if not _torch_available():
        out.update(ratio_vs_loop=None, loop_round_ms=None, note=NO_TORCH)
    else:
        out.update(
            baseline_loop(
                lambda t: _torch_step_seconds(
                    config, own, pairs, s["batch"], s["loop_steps"], loop_repeats(s, t), t
                ),
                t_round,
            )
        )
    out["load_avg_1min"] = [load_before, _load()]
    out["targets"] = {"ratio_vs_loop": 2}
    return out


CASES = [multimodal_round]

if __name__ == "__main__":  # the one-core child process of multimodal_round
    if sys.argv[1:2] == ["round"]:
        pin_to_bench_core()  # JAX's CPU client starts at the first computation, after this
        seconds, _ = _round_seconds(json.loads(sys.argv[2]))
        print(json.dumps({"round_s": seconds}))

"""Heterogeneous players in one round: ``hetero-4cap``.

The four capacity-heterogeneous joint players of IV-B (gtgen.players.neural.joint) in their
cooperative exchange: every player generates 10·bs labelled pairs per round and learns from its
own pairs and the three partners' (symmetric learning on), each a group of one in the ONE
compiled round of gtgen.exchange. Figures, measured in one run on the same machine and data:

- ``round_ms``: one round of gtgen's compiled program (fmnist_capacity.exchange_program, one
  entry; compile excluded), the four players of different capacity together;
- ``loop_round_ms`` / ``ratio_vs_loop``: the authors' cooperative iteration in eager PyTorch,
  a Python loop over the players (benchmarks/reference/torch_joint.py), the same models, batch
  sizes and data; the best of 1 and all-core intra-op threads (``--quick`` times the
  oversubscribed all-core loop on one round, once: ``loop_round_ms_all_cores``); the
  ``[reference]`` extra, else a note;
- variants: ``mlp`` (the digits capacities) and, in the full run, ``conv`` (the authors'
  convolution stacks on the same 8×8 digits, widths 2 … 16);
- ``projected_hours_largest``: on a GPU only, the authors' largest IV-B run (cooperative, bs 500,
  their four 28×28 capacities, 200,000 iterations) projected from one measured round, against
  their 24 h on one H100.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import baseline_loop, loop_repeats, median_seconds
from gtgen.experiments.fmnist_capacity import experiment as ivb
from gtgen.players.neural import DIGITS_CAPACITIES, FMNIST_CAPACITIES, JointConfig

NO_TORCH = (
    "torch is not importable: install the [reference] extra (torch==2.13.0) "
    "for the PyTorch comparison"
)
CONV_DIGITS = tuple(
    JointConfig(z0=c.z0, z1=c.z1, width=w) for c, w in zip(DIGITS_CAPACITIES, (2, 4, 8, 16))
)


def _data(bs: int, shape: tuple[int, int]) -> list[dict[str, np.ndarray]]:
    """Four players' class-balanced slices of ``bs`` digits per class (or random 28×28 images
    of the same layout for the authors' scale)."""
    if tuple(shape) == (8, 8):
        split = ivb.load_data(ivb.validate(ivb.Config(sizes=(bs,))))
        return ivb.player_data(split, bs, seed=0)
    rng = np.random.default_rng(0)
    return [
        {
            "c": np.repeat(np.arange(10, dtype=np.int32), bs),
            "x": rng.random((10 * bs, *shape), dtype=np.float32),
        }
        for _ in range(ivb.PLAYERS)
    ]


def _gtgen_round_seconds(caps, data, rounds: int, repeats: int) -> tuple[float, float]:
    """(seconds per round, compile seconds) of the cooperative program, one entry."""
    pairs = data[0]["c"].shape[0]
    program = ivb.exchange_program(tuple(caps), pairs, rounds, ivb.NOISE_STD)
    states = ivb.initial_states(caps, jax.random.split(jax.random.key(0), 1), np.ones(1, bool))
    stacked = tuple({k: jnp.asarray(d[k])[None, None] for k in ("c", "x")} for d in data)
    alpha = jnp.full((1, 4, 4), 0.25, jnp.float32)
    keys = jax.random.split(jax.random.key(1), 1)
    start = time.perf_counter()
    jax.block_until_ready(program(keys, states, stacked, alpha))
    compile_s = time.perf_counter() - start
    t = median_seconds(lambda: program(keys, states, stacked, alpha), repeats=repeats, warmup=0)
    return t / rounds, compile_s


def _torch_round_seconds(caps, data, rounds: int, repeats: int, threads: int) -> float:
    """Seconds per round of the PyTorch cooperative loop at ``threads`` intra-op threads."""
    import torch

    from benchmarks.reference import torch_joint

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        players = torch_joint.make_players(caps)
        tensors = [(torch.as_tensor(d["c"]).long(), torch.as_tensor(d["x"])) for d in data]
        torch_joint.cooperative_rounds(players, tensors, 1)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch_joint.cooperative_rounds(players, tensors, rounds)
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


def _variant(caps, s: dict, kind: str) -> dict:
    data = _data(s["bs"], caps[0].event_shape)
    t, compile_s = _gtgen_round_seconds(caps, data, s["rounds"][kind], s["repeats"])
    out = {"round_ms": 1e3 * t, "compile_s": compile_s}
    if not _torch_available():
        return {**out, "ratio_vs_loop": None, "note": NO_TORCH}

    def seconds_at(threads: int) -> float:
        rounds = s["loop_rounds"][kind] if threads == 1 else s["all_cores_loop_rounds"][kind]
        return _torch_round_seconds(caps, data, rounds, loop_repeats(s, threads), threads)

    return {**out, **baseline_loop(seconds_at, t)}


def hetero_4cap(quick: bool = False, sizes: dict | None = None) -> dict:
    accelerator = jax.default_backend() != "cpu"
    s = {
        "bs": 10,
        "repeats": 2 if quick else 3,
        "kinds": ("mlp",) if quick and not accelerator else ("mlp", "conv"),
        "rounds": {"mlp": 10 if quick else 40, "conv": 2 if quick else 5},
        "loop_rounds": {"mlp": 3 if quick else 10, "conv": 1 if quick else 3},
        # the all-core loop (oversubscribed: tens of times slower than one thread on a shared
        # 2-core machine): --quick times one round of it once
        "all_cores_loop_rounds": {"mlp": 1 if quick else 10, "conv": 1 if quick else 3},
        "all_cores_repeats": 1 if quick else 3,
        "capacities": {"mlp": DIGITS_CAPACITIES, "conv": CONV_DIGITS},
        "largest": accelerator,  # project the authors' largest run (GPU only)
    }
    s.update(sizes or {})
    out: dict[str, Any] = {
        "name": "hetero-4cap",
        "players": ivb.PLAYERS,
        "bs": s["bs"],
        "pairs_per_player": 10 * s["bs"],
        "capacities": [repr(c) for c in s["capacities"]["mlp"]],
    }
    for kind in s["kinds"]:
        figures = _variant(tuple(s["capacities"][kind]), s, kind)
        prefix = "" if kind == "mlp" else f"{kind}_"
        out.update({prefix + k: v for k, v in figures.items()})
    if s["largest"]:
        data = _data(500, (28, 28))
        t, _ = _gtgen_round_seconds(FMNIST_CAPACITIES, data, 5, 2)
        out.update(
            largest_round_ms=1e3 * t,
            projected_hours_largest=t * 200_000 / 3600,
            authors_hours_largest=24.0,
        )
    else:
        out["largest_note"] = (
            "the authors' largest IV-B run (bs 500, 28×28, 200,000 "
            "iterations) is projected on a GPU only"
        )
    out["targets"] = {"ratio_vs_loop": "≥ 2 on CPU, ≥ 10 on a GPU"}
    return out


CASES = [hetero_4cap]

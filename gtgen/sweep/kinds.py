"""What a sweep does with each kind of player: one registry, consulted everywhere.

A ``Kind`` holds, for the families it covers, the compiled program of a shape
(gtgen.sweep.programs), the device inputs of a chunk of points, the extra checks of a point's
settings, whether a data file applies, the column a point is judged by, and the plots of its rows.
A new kind of player in sweeps is one more entry of ``KINDS``; config, runner, API and outputs
ask the registry instead of naming families.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gtgen.players.expfam import FAMILIES
from gtgen.sweep import families, output
from gtgen.sweep.neural import MAX_PLAYERS as NEURAL_MAX_PLAYERS
from gtgen.sweep.neural import NEURAL_FAMILIES, neural_inputs
from gtgen.sweep.programs import expfam_program, neural_batch_program, own_moments
from gtgen.sweep.structured import closed_form, device_structure, rate


class Kind(NamedTuple):
    name: str
    families: tuple[str, ...]
    program: Callable  # shape -> (batch_fn, input names)
    inputs: Callable  # (shape, settings, data_file, pad_k) -> (inputs, host facts)
    check: Callable[[dict[str, Any], str], None]  # (a point's settings, message prefix)
    data_file: bool  # whether a data_file can stand in for the synthetic data
    outcome: str  # the result column a point is judged by
    plots: Callable[[Path, list, list], list[str]]  # (out, rows, traces) -> files written
    draw: Callable[[dict[str, Any]], str]  # a point's settings -> what its rounds draw


def expfam_inputs(
    shape: dict[str, Any], settings: list[dict[str, Any]], data_file, pad_k: int | None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Device inputs and host facts of exponential-family points: the synthetic (or file) data,
    α dense or structured, and the closed form each point is traced against."""
    structs = [families.structure(s) for s in settings]
    if data_file is None:
        data = families.synthetic_data_batch(settings)
        weights = np.ones(data.shape[:3])
    else:
        data = np.broadcast_to(data_file.data, (len(settings), *data_file.data.shape))
        weights = np.broadcast_to(data_file.weights, (len(settings), *data_file.weights.shape))
    own = own_moments(shape["family"], shape["dim"], data, weights)
    dense = shape["structure"] == "dense"
    alphas = [families.dense(st) for st in structs] if dense else None
    if dense:
        a = np.stack(alphas)
        d = np.diagonal(a, axis1=1, axis2=2)
        off = a - d[:, :, None] * np.eye(a.shape[1])
        star = np.linalg.solve(np.eye(a.shape[1]) - off, d[..., None] * own)
    else:
        star = np.stack([closed_form(st, m) for st, m in zip(structs, own)])
    rates = np.array([rate(st, al) for st, al in zip(structs, alphas or [None] * len(structs))])
    start = np.max(np.abs(own - star), axis=(1, 2))
    sampled = np.array([s["method"] == "sampled" for s in settings])
    inputs: dict[str, np.ndarray] = {
        "seed": np.array([s["seed"] for s in settings], np.uint32),
        "data": np.asarray(data, np.int32 if shape["family"] == "categorical" else np.float32),
        "weights": np.asarray(weights, np.float32),
        "damping": np.array([s["damping"] for s in settings], np.float32),
        "burn_in": np.array(
            [
                (s["rounds"] // 2 if s["burn_in"] is None else s["burn_in"])
                if s["method"] == "sampled"
                else s["rounds"]
                for s in settings
            ],
            np.int32,
        ),
        "stop_tol": np.where(sampled, -1.0, [s["stop_tol"] for s in settings]).astype(np.float32),
        "reference": star.astype(np.float32),
        "samples": np.array([s["samples"] for s in settings], np.float32),
    }
    if dense:
        inputs["alpha"] = np.stack(alphas).astype(np.float32)
    else:
        k = pad_k if pad_k is not None else max(st.index.shape[1] for st in structs)
        arrays = [device_structure(_pad_structure(st, k)) for st in structs]
        for name in ("self_weight", "index", "weight"):
            inputs[name] = np.stack([x[name] for x in arrays])
    return inputs, {"rate": rates, "start_distance": start}


def _pad_structure(st: families.Structure, k: int) -> families.Structure:
    extra = k - st.index.shape[1]
    if extra <= 0:
        return st
    n = len(st.self_weight)
    return st._replace(
        index=np.concatenate([st.index, np.zeros((n, extra), np.int32)], axis=1),
        weight=np.concatenate([st.weight, np.zeros((n, extra))], axis=1),
    )


def _no_check(s: dict[str, Any], prefix: str) -> None:
    return None


def _neural_check(s: dict[str, Any], prefix: str) -> None:
    if s["method"] != "sampled":
        raise ValueError(
            f'{prefix}method: {s["family"]} players learn from samples only; use method = "sampled"'
        )
    if s["players"] > NEURAL_MAX_PLAYERS:
        raise ValueError(
            f"{prefix}players: {s['family']} players split the 10 digit classes, so at most "
            f"{NEURAL_MAX_PLAYERS}, got {s['players']}"
        )


def _neural_inputs(shape, settings, data_file, pad_k):
    inputs, rates = neural_inputs(settings)
    return inputs, {"rate": rates, "start_distance": np.full(len(settings), np.nan)}


def _expfam_plots(out: Path, rows: list, traces: list) -> list[str]:
    output.plot_distance_vs_rounds(rows, traces, out / output.PLOTS[0])
    output.plot_rate_vs_a(rows, out / output.PLOTS[1])
    output.plot_error_vs_samples(rows, out / output.PLOTS[2])
    return list(output.PLOTS)


def _neural_plots(out: Path, rows: list, traces: list) -> list[str]:
    output.plot_loss_vs_a(rows, out / output.NEURAL_PLOT)
    return [output.NEURAL_PLOT]


def _expfam_draw(s: dict[str, Any]) -> str:
    """Sampled points draw each receiver's statistics from their exact law (m traced)."""
    return "statistics" if s["method"] == "sampled" else "expected"


KINDS: tuple[Kind, ...] = (
    Kind(
        "exponential family",
        tuple(FAMILIES),
        expfam_program,
        expfam_inputs,
        _no_check,
        True,
        "distance",
        _expfam_plots,
        _expfam_draw,
    ),
    Kind(
        "neural",
        NEURAL_FAMILIES,
        neural_batch_program,
        _neural_inputs,
        _neural_check,
        False,
        "final_loss",
        _neural_plots,
        lambda s: "samples",
    ),
)
FAMILY_NAMES: tuple[str, ...] = tuple(f for k in KINDS for f in k.families)


def kind_of(family: str) -> Kind:
    for kind in KINDS:
        if family in kind.families:
            return kind
    raise ValueError(f"family: no sweep program for {family!r}")


def write_plots(out: Path, rows: list, traces: list) -> list[str]:
    """Every kind's plots of its own rows. Returns the files written."""
    written = []
    for kind in KINDS:
        mine = [i for i, r in enumerate(rows) if r["family"] in kind.families]
        if mine:
            written += kind.plots(out, [rows[i] for i in mine], [traces[i] for i in mine])
    return written

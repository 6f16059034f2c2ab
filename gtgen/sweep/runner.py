"""Run a sweep: group points by shape, compile once per shape, run chunks, persist, resume.

Points that share a shape (``config.shape_key``) form a group. A group is split into equal chunks
of at most ``batch`` points (padded by repeating the last point, so every chunk of a group has the
same shape and the group compiles exactly once). Each chunk is one call of the group's compiled
program; with an output folder every finished chunk is written to ``chunks/<digest>.npz`` at once,
and a rerun loads it instead of computing it again. The digest covers the chunk's points'
settings, the shape, the data file, gtgen's version and the format version (not the device
count: results do not depend on it), so a changed config only recomputes what changed.

Devices: the sweep axis is sharded over a 1-D mesh of every device JAX sees (all processes after
``jax.distributed.initialize``), with ``jax.shard_map`` so each device runs its own slice of the
vmapped program without communication; chunks are padded to a multiple of the device count.
Structured games (more than DENSE_MAX players) shard the player axis instead, through jit's
automatic partitioning. Random draws use partitionable threefry, so the numbers do not depend on
the sharding.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax import monitoring
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from gtgen import xla_options
from gtgen.files import load_npz
from gtgen.sweep import families
from gtgen.sweep.config import DENSE_MAX, SHAPE_KEYS, Point, SweepConfig, shape_key
from gtgen.sweep.kinds import kind_of
from gtgen.sweep.programs import PLAYER_AXIS, Outputs

FORMAT = 1

# --- compilation counter: every XLA backend compile in this process -------------------------

_COMPILES = [0]
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def _on_event(name: str, *_: Any, **__: Any) -> None:
    if name == _COMPILE_EVENT:
        _COMPILES[0] += 1


monitoring.register_event_duration_secs_listener(_on_event)


def compile_count() -> int:
    """XLA compilations so far in this process (a sweep reports its own difference)."""
    return _COMPILES[0]


# --- the plan ---------------------------------------------------------------------------------


class Chunk:
    def __init__(self, group: int, points: list[Point], size: int, digest: str):
        self.group, self.points, self.size, self.digest = group, points, size, digest


def _shape_dict(key: tuple) -> dict[str, Any]:
    return dict(zip(SHAPE_KEYS + ("data_size", "structure"), key))


def plan(cfg: SweepConfig, n_devices: int, data_digest: str) -> tuple[list[tuple], list[Chunk]]:
    """Shape groups (in order of first appearance) and their equal-sized chunks."""
    groups: dict[tuple, list[Point]] = {}
    for p in cfg.points:
        groups.setdefault(shape_key(p.settings), []).append(p)
    keys = list(groups)
    chunks = []
    from gtgen import __version__  # results of another gtgen version are not reused

    for g, key in enumerate(keys):
        members = groups[key]
        count = -(-len(members) // cfg.batch)
        size = -(-len(members) // count)
        structured = key[-1] != "dense"
        if not structured:  # the sweep axis is sharded: a multiple of the device count
            size = -(-size // n_devices) * n_devices
        step = -(-len(members) // count)
        for start in range(0, len(members), step):
            part = members[start : start + step]
            blob = json.dumps(
                {
                    "format": FORMAT,
                    "gtgen": __version__,
                    "shape": list(key),
                    "data": data_digest,
                    "points": [p.settings for p in part],
                },
                sort_keys=True,
                default=str,
            )
            chunks.append(Chunk(g, part, size, hashlib.sha256(blob.encode()).hexdigest()[:24]))
    return keys, chunks


# --- data ---------------------------------------------------------------------------------


class DataFile:
    """Private data from an .npz file (player0 … player{N-1}), padded with weights like a Game."""

    def __init__(self, path: Path):
        stored = load_npz(path, "data_file")
        names = set(stored)
        n = 0
        while f"player{n}" in names:
            n += 1
        if n < 2:
            raise ValueError(
                f"data_file: {path.name} needs arrays player0, player1, … (found {sorted(names)})"
            )
        extra = sorted(names - {f"player{i}" for i in range(n)})
        if extra:
            raise ValueError(
                f"data_file: {path.name} has {', '.join(extra)} besides player0 … player{n - 1}"
            )
        arrays = [np.asarray(stored[f"player{i}"]) for i in range(n)]
        for i, x in enumerate(arrays):
            if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
                raise ValueError(f"data_file: player{i} must hold numbers, got dtype {x.dtype}")
        event = {x.shape[1:] for x in arrays}
        if len(event) != 1:
            raise ValueError(f"data_file: players have samples of different shapes {sorted(event)}")
        for i, x in enumerate(arrays):
            if x.ndim == 0 or len(x) == 0:
                raise ValueError(f"data_file: player{i} has no data")
            if not np.all(np.isfinite(x.astype(np.float64))):
                raise ValueError(f"data_file: player{i} contains NaN or infinite values")
        self.path, self.players, self.event = path, n, event.pop()
        self.arrays = arrays
        size = max(len(x) for x in arrays)
        self.data = np.zeros((n, size, *self.event), arrays[0].dtype)
        self.weights = np.zeros((n, size))
        for i, x in enumerate(arrays):
            self.data[i, : len(x)] = x
            self.weights[i, : len(x)] = 1.0
        self.digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]

    def check(self, cfg: SweepConfig) -> SweepConfig:
        """Points take N and the data size from the file; a conflicting setting is an error."""
        points = []
        for p in cfg.points:
            s = dict(p.settings)
            if s["players"] != self.players:
                raise ValueError(
                    f"players: {s['players']} does not match data_file {self.path.name}, which "
                    f"holds {self.players} players"
                )
            want = () if s["family"] == "categorical" else (s["dim"],)
            if self.event != want:
                raise ValueError(
                    f"dim: {s['family']} with dim = {s['dim']} needs samples of shape {want}, "
                    f"data_file {self.path.name} has {self.event}"
                )
            if s["family"] == "categorical" and (
                self.data.min() < 0 or self.data.max() >= s["dim"]
            ):
                raise ValueError(f"dim: data_file holds classes outside 0 … {s['dim'] - 1}")
            self._check_support(s["family"], s["dim"])
            s["data_size"] = self.data.shape[1]
            s["spread"] = float("nan")
            points.append(Point(p.index, s))
        return cfg._replace(points=tuple(points))

    def _check_support(self, fam: str, dim: int) -> None:
        """Each player's data suits the family (range, binary values, a regular covariance)."""
        from gtgen.players.expfam import family

        player = family(fam, dim)
        for i, x in enumerate(self.arrays):
            problem = player.check_support(np.asarray(x, np.float64))
            if problem:
                raise ValueError(f"data_file: player{i} of {self.path.name}: {problem}")


# --- inputs of one chunk -------------------------------------------------------------------


def chunk_inputs(
    shape: dict[str, Any],
    points: list[Point],
    size: int,
    data_file: DataFile | None,
    pad_k: int | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Device inputs (padded to ``size``) and host-side facts (rate, start distance) of a chunk,
    as the points' kind of player makes them (gtgen.sweep.kinds)."""
    kind = kind_of(shape["family"])
    inputs, host = kind.inputs(shape, [p.settings for p in points], data_file, pad_k)
    return _pad_points(inputs, size - len(points)), host


def _pad_points(inputs: dict[str, np.ndarray], pad: int) -> dict[str, np.ndarray]:
    """Fill a chunk up to its group's size by repeating its last point."""
    if not pad:
        return inputs
    return {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) for k, v in inputs.items()}


def structure_width(points: Iterable[Point]) -> int:
    """The widest source list among points (a group's structured programs pad to it)."""
    return max(families.structure(p.settings).index.shape[1] for p in points)


# --- devices ------------------------------------------------------------------------------


class Placement:
    """How a group's program and inputs are laid out over devices."""

    def __init__(self, shape: dict[str, Any], devices: list | None):
        self.dense = shape["structure"] == "dense"
        n = len(devices) if devices else 1
        self.mesh = None
        if devices and n > 1:
            if self.dense:
                self.mesh = jax.make_mesh(
                    (n,), ("sweep",), axis_types=(AxisType.Auto,), devices=devices
                )
            elif shape["players"] % n == 0:
                self.mesh = jax.make_mesh(
                    (n,), ("players",), axis_types=(AxisType.Auto,), devices=devices
                )
        self.description = (
            "one device"
            if self.mesh is None
            else f"{'sweep' if self.dense else 'player'} axis over {n} devices"
        )

    def program(self, batch_fn: Callable, names: tuple[str, ...]) -> Callable:
        if self.mesh is not None and self.dense:
            # Each device runs its slice with no collectives; check_vma=False because the
            # solver's loop carries start as constants (not marked as varying over 'sweep').
            batch_fn = jax.shard_map(
                batch_fn,
                mesh=self.mesh,
                in_specs=P("sweep"),
                out_specs=P("sweep"),
                check_vma=False,
            )
        return xla_options.jit(batch_fn)

    def spec(self, name: str, ndim: int) -> P:
        if self.dense:
            return P("sweep")
        if name in PLAYER_AXIS:
            return P(None, "players", *([None] * (ndim - 2)))
        return P()

    def put(self, inputs: dict[str, np.ndarray], names: tuple[str, ...]) -> list:
        if self.mesh is None:
            return [jax.device_put(inputs[k]) for k in names]
        out = []
        for k in names:
            v = inputs[k]
            sharding = NamedSharding(self.mesh, self.spec(k, v.ndim))
            out.append(jax.make_array_from_callback(v.shape, sharding, lambda idx, v=v: v[idx]))
        return out

    def fetch(self, outputs: Outputs) -> dict[str, np.ndarray]:
        if self.mesh is not None and jax.process_count() > 1:
            from jax.experimental import multihost_utils

            if self.dense:
                arrays = multihost_utils.process_allgather(tuple(outputs), tiled=True)
            else:
                arrays = [np.asarray(x.addressable_shards[0].data) for x in outputs]
        else:
            arrays = jax.device_get(tuple(outputs))
        return {k: np.asarray(v) for k, v in zip(Outputs._fields, arrays)}


# --- resumable storage --------------------------------------------------------------------


class ChunkStore:
    """Finished chunks as ``DIR/chunks/<digest>.npz``, written atomically; None keeps nothing."""

    def __init__(self, out: Path | None, writer: bool):
        self.dir = None if out is None else Path(out) / "chunks"
        self.writer = writer
        if self.dir is not None and writer:
            self.dir.mkdir(parents=True, exist_ok=True)

    def has(self, digest: str) -> bool:
        return self.dir is not None and (self.dir / f"{digest}.npz").is_file()

    def load(self, digest: str, points: int, names: Iterable[str]) -> dict[str, np.ndarray] | None:
        """A stored chunk's arrays, or None when the file is damaged (unreadable, truncated, or
        without the arrays of ``points`` points that ``names`` lists): it is then recomputed."""
        try:
            with np.load(self.dir / f"{digest}.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
            return None
        if any(k not in arrays or len(arrays[k]) != points for k in names):
            return None
        return arrays

    def save(self, digest: str, arrays: dict[str, np.ndarray]) -> None:
        if self.dir is None or not self.writer:
            return
        tmp = self.dir / f".{digest}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, self.dir / f"{digest}.npz")


def done_mask(store: ChunkStore, chunks: list[Chunk]) -> np.ndarray:
    """Which chunks are already stored, as process 0 sees it (broadcast to every process)."""
    mask = np.array([store.has(c.digest) for c in chunks], dtype=np.int32)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        mask = np.asarray(multihost_utils.broadcast_one_to_all(mask))
    return mask.astype(bool)


def rounds_to_tol(trace: np.ndarray, tol: float) -> int:
    """Rounds until the distance to the closed form first reaches ``tol``; -1 if it never does."""
    hit = np.flatnonzero(np.nan_to_num(trace, nan=np.inf) <= tol)
    return int(hit[0]) + 1 if hit.size else -1


def observed_rate(trace: np.ndarray, start: float) -> float:
    """Per-round contraction of the distance over the leading rounds that stay well above the
    noise floor: (d_k / d_0)^(1/k). Matches ρ(B) for exact best response."""
    d = trace[np.isfinite(trace)]
    if not d.size or start <= 0 or not np.isfinite(start):
        return float("nan")
    floor = max(5.0 * float(np.min(d)), 1e-5 * start)
    above = d > floor
    k = int(np.argmin(above)) if not above.all() else len(d)
    if k < 1:
        return float("nan")
    return float((d[k - 1] / start) ** (1.0 / k))


def to_device_list(devices: Any) -> list | None:
    if devices is None or devices is False:
        return None
    if devices is True or devices == "all":
        return list(jax.devices())
    return list(devices)


__all__ = [
    "DENSE_MAX",
    "ChunkStore",
    "DataFile",
    "Placement",
    "chunk_inputs",
    "compile_count",
    "done_mask",
    "observed_rate",
    "plan",
    "rounds_to_tol",
    "structure_width",
]

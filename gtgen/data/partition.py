"""Split a labelled dataset among players: lists of numpy index arrays, one per player.

These give each player its private data ``images[idx]`` for the paper's settings: classes
split between players (IV-A), small disjoint per-class slices (IV-B), and the usual non-IID
Dirichlet split. Index arrays are sorted int64, so the results are easy to compare and store.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from gtgen.checks import integer


def _check_labels(labels: np.ndarray) -> np.ndarray:
    """``labels`` as a 1-D non-negative integer numpy array, or ValueError."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not (labels.size == 0 or np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(
            f"labels must be a 1-D integer array, got {labels.dtype} {list(labels.shape)}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be non-negative, found {labels.min()}")
    return labels.astype(np.int64)


def _rng(key_or_seed: int | jax.Array | None) -> np.random.Generator:
    """A numpy Generator from an int seed or a jax PRNG key (typed or raw uint32)."""
    if key_or_seed is None or isinstance(key_or_seed, int | np.integer):
        if isinstance(key_or_seed, bool):
            raise ValueError("key_or_seed must be an int seed or a jax PRNG key, got a bool")
        return np.random.default_rng(key_or_seed)
    key = key_or_seed
    if jax.dtypes.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = np.asarray(key)
    if words.dtype != np.uint32 or words.size == 0:
        raise ValueError(f"key_or_seed must be an int seed or a jax PRNG key, got {key_or_seed!r}")
    return np.random.default_rng(words.ravel().tolist())


def _class_indices(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Class -> sorted indices of that class, for every class present."""
    return {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}


def _join(parts: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Concatenate and sort each player's pieces."""
    return [np.sort(np.concatenate(p)) if p else np.empty(0, np.int64) for p in parts]


def by_classes(labels: np.ndarray, class_sets: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """Player k gets every index whose label is in ``class_sets[k]`` (e.g. digits 0–4 / 5–9).

    Class sets may overlap (then those images are shared); a class absent from ``labels`` is
    an error, as it is almost always a typo.
    """
    labels = _check_labels(labels)
    if len(class_sets) == 0:
        raise ValueError("class_sets must name at least one player's classes, got []")
    present = set(np.unique(labels).tolist())
    out = []
    for k, classes in enumerate(class_sets):
        classes = [int(c) for c in classes]
        if not classes:
            raise ValueError(f"class_sets[{k}] is empty")
        absent = sorted(set(classes) - present)
        if absent:
            raise ValueError(f"class_sets[{k}]: classes {absent} do not occur in labels")
        out.append(np.flatnonzero(np.isin(labels, classes)))
    return out


def disjoint_slices(
    labels: np.ndarray,
    n_players: int,
    per_class: int,
    key_or_seed: int | jax.Array | None = None,
) -> list[np.ndarray]:
    """Each player gets ``per_class`` images of every class; no image goes to two players.

    Without ``key_or_seed`` the slices are taken in dataset order (player 0 the first
    ``per_class`` of each class, and so on); with one, each class is shuffled first.
    Raises ValueError if some class has fewer than ``n_players * per_class`` images.
    """
    labels = _check_labels(labels)
    n_players = integer("n_players", n_players)
    per_class = integer("per_class", per_class)
    rng = None if key_or_seed is None else _rng(key_or_seed)
    need = n_players * per_class
    parts: list[list[np.ndarray]] = [[] for _ in range(n_players)]
    for c, idx in _class_indices(labels).items():
        if len(idx) < need:
            raise ValueError(
                f"per_class: class {c} has {len(idx)} images, fewer than "
                f"n_players * per_class = {n_players} * {per_class} = {need}"
            )
        if rng is not None:
            idx = rng.permutation(idx)
        for k in range(n_players):
            parts[k].append(idx[k * per_class : (k + 1) * per_class])
    return _join(parts)


def dirichlet(
    labels: np.ndarray,
    n_players: int,
    concentration: float,
    key_or_seed: int | jax.Array,
) -> list[np.ndarray]:
    """Non-IID split: each class is divided among players in Dirichlet(concentration) shares.

    Every index goes to exactly one player. Small ``concentration`` (e.g. 0.1) gives each
    player few classes; large (e.g. 100) approaches an IID split. A player may end up with no
    images when ``concentration`` is small. Same seed or key, same split.
    """
    labels = _check_labels(labels)
    n_players = integer("n_players", n_players)
    conc = float(concentration)
    if not (np.isfinite(conc) and conc > 0):
        raise ValueError(f"concentration must be a positive number, got {concentration!r}")
    rng = _rng(key_or_seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(n_players)]
    for idx in _class_indices(labels).values():
        shares = rng.dirichlet(np.full(n_players, conc))
        cuts = np.round(np.cumsum(shares)[:-1] * len(idx)).astype(np.int64)
        for k, piece in enumerate(np.split(rng.permutation(idx), cuts)):
            parts[k].append(piece)
    return _join(parts)


def stack_players(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-player arrays ``[n_k, ...]`` as one zero-padded ``[N, max n_k, ...]`` array and the
    counts ``[N]`` (int32); ``row_weights(counts, n_max)`` gives the weights a round reads (rows
    past a count are padding)."""
    n_max = max(len(p) for p in parts)
    padded = np.stack([np.pad(p, [(0, n_max - len(p))] + [(0, 0)] * (p.ndim - 1)) for p in parts])
    return padded, np.array([len(p) for p in parts], np.int32)


def row_weights(counts: jax.Array, n_max: int) -> jax.Array:
    """Weights ``[N, n_max]`` of padded rows: 1 on each player's first ``counts[i]`` rows, 0 on
    its padding (works on traced counts, so a sweep may change them without recompiling)."""
    counts = jax.numpy.asarray(counts)
    return (jax.numpy.arange(n_max)[None, :] < counts[:, None]).astype(jax.numpy.float32)

"""IDX files (the MNIST / Fashion-MNIST format) and the MNIST loaders.

An IDX file is: two zero bytes, a dtype code, the number of dimensions ``d``, then ``d``
big-endian uint32 sizes, then the data in big-endian row-major order. Files may be raw or
gzip-compressed (name ending in ``.gz``). gtgen never downloads: the user names a folder that
holds the standard files.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from gtgen.data.digits import Dataset, check_threshold, to_dataset

MNIST_THRESHOLD = 0.4375
"""The paper's binarisation threshold for MNIST: pixel/255 > 0.4375 becomes 1."""

# IDX dtype code -> numpy dtype (big-endian where it matters).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES: dict[np.dtype, int] = {d.newbyteorder("="): c for c, d in _IDX_DTYPES.items()}

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SPLITS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}
_KINDS = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
_IMAGE_SHAPE = (28, 28)


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when the name ends in .gz."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"IDX file {path}: corrupt gzip data ({e})") from None


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or .gz) into a numpy array of its native dtype and shape.

    Raises FileNotFoundError if the file is absent and ValueError (naming the file) on a bad
    magic number, an unknown dtype code, or a size that does not match the header.
    """
    path = Path(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise ValueError(f"IDX file {path}: truncated header ({len(buf)} bytes, need at least 4)")
    zero, code, ndim = struct.unpack(">HBB", buf[:4])
    if zero != 0 or code not in _IDX_DTYPES:
        raise ValueError(
            f"IDX file {path}: bad magic number 0x{buf[:4].hex()} "
            f"(expected 0x0000 then a dtype code in {sorted(hex(c) for c in _IDX_DTYPES)})"
        )
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(
            f"IDX file {path}: truncated header ({len(buf)} bytes, need {header} for {ndim} dims)"
        )
    shape = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        problem = "truncated" if len(buf) < expected else "has trailing bytes"
        raise ValueError(
            f"IDX file {path}: {problem}: {len(buf)} bytes, header shape {shape} needs {expected}"
        )
    data = np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def save_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``path`` ends in .gz); return the path.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (the IDX codes).
    """
    path = Path(path)
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(
            f"array: dtype {array.dtype} has no IDX code "
            "(use uint8, int8, int16, int32, float32 or float64)"
        )
    if array.ndim > 255:
        raise ValueError(f"array: {array.ndim} dimensions, IDX allows at most 255")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def _find(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` if present, else ``folder/stem.gz`` if present, else None."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load and cross-check one images/labels file pair."""
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE or images.dtype != np.uint8:
        raise ValueError(
            f"IDX file {images_path}: expected uint8 images [n, 28, 28], "
            f"got {images.dtype} {list(images.shape)}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"IDX file {labels_path}: expected uint8 labels [n], "
            f"got {labels.dtype} {list(labels.shape)}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"IDX files {images_path} and {labels_path}: {len(images)} images "
            f"but {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"IDX file {labels_path}: label {labels.max()} outside 0..9")
    return images, labels


def load_mnist(
    data_dir: str | os.PathLike,
    kind: Literal["mnist", "fashion"] = "mnist",
    split: Literal["train", "test", "all"] = "all",
    binarize: bool = True,
    threshold: float = MNIST_THRESHOLD,
) -> Dataset:
    """MNIST or Fashion-MNIST from the standard IDX files in ``data_dir``.

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or ``.gz``.
    ``split="all"`` concatenates train then test (70,000 images), as in the paper.
    Images are pixel/255 as float32 ``[n, 28, 28]``; with ``binarize`` a pixel is 1 when
    pixel/255 > ``threshold`` (the paper's 0.4375). Labels are int32 ``[n]``.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    check_threshold(threshold)
    folder = Path(data_dir).expanduser()
    stems = [stem for part in _SPLITS[split] for stem in _FILES[part]]
    found = {stem: _find(folder, stem) for stem in stems}
    missing = [f"{stem}(.gz)" for stem, p in found.items() if p is None]
    if missing:
        where = folder if folder.is_dir() else f"{folder} (no such folder)"
        noun = "file" if len(missing) == 1 else "files"
        raise FileNotFoundError(f"{_KINDS[kind]} {noun} {', '.join(missing)} not found in {where}")
    pairs = [_load_pair(found[_FILES[part][0]], found[_FILES[part][1]]) for part in _SPLITS[split]]
    images = np.concatenate([im for im, _ in pairs])
    labels = np.concatenate([lb for _, lb in pairs])
    return to_dataset(images, labels, 255.0, binarize, threshold)

"""Coloured digits in five styles: PolyDigits (generated) and PolyMNIST (read from files).

IV-C's player A holds coloured images x with their digit class c and their style d; its model
also has the binary digit mask s, which the other player's (c, s) pairs speak about. Both data
sets here give ``PolyData(c, d, s, x)``: x ``[n, H, W, 3]`` RGB in [0, 1], d the style
(modality) index, s ``[n, H, W]`` the binary mask (PolyMNIST has none: s is None there).

PolyDigits (``polydigits``) composites every grey digit g ∈ [0, 1]^(H×W) onto a background of
each style, x = (1 − g)·background + g·foreground, and s = (g > threshold). The styles differ in
background texture and colouring, so the style is recoverable from the image (a logistic
regression reads it almost perfectly, tested), as the five PolyMNIST modalities are:

====  ==========  ==========================================================  ================
 d    name        background                                                  digit colour
====  ==========  ==========================================================  ================
 0    night       plain dark blue, brightness jittered per image              yellow
 1    stripes     horizontal red / black stripes, one row each, random phase  white
 2    checker     green / white checkerboard of single pixels, random phase   magenta
 3    static      grey noise, every pixel uniform in [0.25, 0.75]             cyan
 4    sunset      left-to-right gradient orange → purple, jittered            black
====  ==========  ==========================================================  ================

Every random choice (phases, jitter, noise) comes from one ``numpy`` generator seeded by
``seed``: the same seed gives the same images, bit for bit.

PolyMNIST (``load_polymnist``): the layout ``PolyMNIST/{train,test}/m0..m4/*.<label>.png`` (RGB
28×28 PNG files; the five modalities pooled as independent images with d = the modality index,
the correspondence between modalities unused, as in the authors' code). The (c, s) data that go
with it are binarised MNIST (``gtgen.data.load_mnist``, threshold 0.4375).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gtgen.data.digits import DIGITS_THRESHOLD, check_threshold, load_digits

STYLES = ("night", "stripes", "checker", "static", "sunset")
POLYMNIST_SHAPE = (28, 28)
_FOREGROUND = np.array(
    [
        [1.0, 0.85, 0.1],  # yellow
        [1.0, 1.0, 1.0],  # white
        [1.0, 0.0, 1.0],  # magenta
        [0.0, 1.0, 1.0],  # cyan
        [0.0, 0.0, 0.0],  # black
    ],
    np.float32,
)


class PolyData(NamedTuple):
    """Class ``c [n]`` int32, style ``d [n]`` int32, mask ``s [n, H, W]`` float32 in {0, 1} (or
    None), image ``x [n, H, W, 3]`` float32 in [0, 1]."""

    c: np.ndarray
    d: np.ndarray
    s: np.ndarray | None
    x: np.ndarray

    def __len__(self) -> int:
        return len(self.c)

    def take(self, rows: np.ndarray) -> PolyData:
        return PolyData(
            self.c[rows], self.d[rows], None if self.s is None else self.s[rows], self.x[rows]
        )


def backgrounds(style: int, n: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``n`` backgrounds ``[n, H, W, 3]`` of one style (see the module table)."""
    h, w = shape
    rows = np.arange(h)[None, :, None]
    cols = np.arange(w)[None, None, :]
    if style == 0:
        level = rng.uniform(0.7, 1.3, (n, 1, 1, 1))
        return np.broadcast_to(np.array([0.05, 0.05, 0.3]) * level, (n, h, w, 3)).copy()
    if style == 1:
        phase = rng.integers(0, 2, (n, 1, 1))
        red = ((rows + phase) % 2 == 0).astype(np.float32)
        return np.stack([0.8 * red, 0.0 * red, 0.0 * red], -1)
    if style == 2:
        phase = rng.integers(0, 2, (n, 1, 1))
        white = ((rows + cols + phase) % 2 == 0).astype(np.float32)[..., None]
        return white * np.ones(3) + (1 - white) * np.array([0.0, 0.6, 0.0])
    if style == 3:
        grey = rng.uniform(0.25, 0.75, (n, h, w, 1))
        return np.repeat(grey, 3, axis=-1)
    t = (cols / max(w - 1, 1))[..., None] + rng.uniform(-0.15, 0.15, (n, 1, 1, 1))
    t = np.clip(t, 0.0, 1.0)
    return (1 - t) * np.array([1.0, 0.5, 0.0]) + t * np.array([0.5, 0.0, 0.5])


def polydigits(
    images: np.ndarray, labels: np.ndarray, seed: int = 0, threshold: float = DIGITS_THRESHOLD
) -> PolyData:
    """Every grey image ``[n, H, W]`` (values in [0, 1]) in every style: ``5·n`` items ordered
    style-major (items ``[d·n, (d+1)·n)`` have style d), deterministic for ``seed``."""
    images = np.asarray(images, np.float32)
    if images.ndim != 3 or not np.all((images >= 0) & (images <= 1)):
        raise ValueError("images: must be grey images [n, H, W] with values in [0, 1]")
    threshold = check_threshold(threshold)
    rng = np.random.default_rng(seed)
    n, shape = len(images), images.shape[1:]
    g = images[..., None]
    xs = [
        (
            (1 - g) * np.broadcast_to(backgrounds(d, n, shape, rng), (n, *shape, 3))
            + g * _FOREGROUND[d]
        ).astype(np.float32)
        for d in range(len(STYLES))
    ]
    mask = (images > threshold).astype(np.float32)
    k = len(STYLES)
    return PolyData(
        np.tile(np.asarray(labels, np.int32), k),
        np.repeat(np.arange(k, dtype=np.int32), n),
        np.tile(mask, (k, 1, 1)),
        np.concatenate(xs),
    )


def load_polydigits(seed: int = 0, threshold: float = DIGITS_THRESHOLD) -> PolyData:
    """The embedded 8×8 digits (1,797) in the five styles: 8,985 items."""
    ds = load_digits(binarize=False)
    return polydigits(ds.images, ds.labels, seed, threshold)


def load_polymnist(data_dir: str | os.PathLike, split: str = "train") -> PolyData:
    """PolyMNIST's ``split`` from ``data_dir`` (the folder that holds ``PolyMNIST/``, or the
    ``PolyMNIST`` folder itself): every ``m<k>/*.<label>.png`` with d = k; s is None.
    FileNotFoundError / ValueError name what is missing or malformed."""
    from PIL import Image

    if split not in ("train", "test"):
        raise ValueError(f"split: must be 'train' or 'test', got {split!r}")
    base = Path(data_dir).expanduser()
    root = base / "PolyMNIST" if (base / "PolyMNIST").is_dir() else base
    cs, ds, xs = [], [], []
    for k in range(len(STYLES)):
        folder = root / split / f"m{k}"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"PolyMNIST: no folder {folder} (expected the layout "
                "PolyMNIST/{train,test}/m0..m4/*.<label>.png)"
            )
        files = sorted(folder.glob("*.png"))
        if not files:
            raise FileNotFoundError(f"PolyMNIST: {folder} holds no .png images")
        for path in files:
            label = path.stem.rsplit(".", 1)[-1]
            if "." not in path.stem or not label.isdigit() or int(label) > 9:
                raise ValueError(f"PolyMNIST: {path} is not named *.<label>.png with a label 0..9")
            with Image.open(path) as im:
                if im.mode != "RGB" or im.size != POLYMNIST_SHAPE[::-1]:
                    raise ValueError(
                        f"PolyMNIST: {path} is a {im.size[0]}×{im.size[1]} {im.mode} "
                        "image; expected RGB 28×28"
                    )
                xs.append(np.asarray(im, np.float32) / 255.0)
            cs.append(int(label))
            ds.append(k)
    return PolyData(np.asarray(cs, np.int32), np.asarray(ds, np.int32), None, np.stack(xs))

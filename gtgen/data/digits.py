"""Image datasets as arrays, the embedded 8×8 digits, and binary-image helpers.

The default data of gtgen is scikit-learn's 8×8 handwritten digits (1,797 images, shipped
inside scikit-learn, so no network is needed). Every loader returns a :class:`Dataset` of
float32 images in [0, 1] (optionally binarised) and int32 labels.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

DIGITS_THRESHOLD = 0.5
"""Default binarisation threshold for the 8×8 digits: half the scaled range (pixel/16 > 0.5,
i.e. raw intensity 9..16 becomes 1)."""


class Dataset(NamedTuple):
    """Images ``[n, height, width]`` float32 in [0, 1] and integer labels ``[n]`` (int32)."""

    images: np.ndarray
    labels: np.ndarray


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float, or raise ValueError unless it lies in [0, 1]."""
    t = float(threshold)
    if not (math.isfinite(t) and 0.0 <= t <= 1.0):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    return t


def to_dataset(
    raw_images: np.ndarray,
    raw_labels: np.ndarray,
    max_value: float,
    binarize: bool,
    threshold: float,
) -> Dataset:
    """Scale raw intensities by ``max_value`` into [0, 1] and binarise (``x > threshold``).

    Shared by every loader so that all datasets follow one convention: binary pixels are
    exactly 0.0 or 1.0, and a pixel equal to the threshold counts as background.
    """
    images = np.asarray(raw_images, dtype=np.float32) / np.float32(max_value)
    if binarize:
        images = (images > np.float32(check_threshold(threshold))).astype(np.float32)
    return Dataset(images=images, labels=np.asarray(raw_labels, dtype=np.int32))


def load_digits(binarize: bool = True, threshold: float = DIGITS_THRESHOLD) -> Dataset:
    """scikit-learn's 8×8 digits: images ``[1797, 8, 8]`` (pixel/16), labels 0..9.

    With ``binarize=True`` (the default, as the paper's models are Bernoulli) a pixel is 1
    when pixel/16 > ``threshold`` (default 0.5, half the scaled range) and 0 otherwise.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    return to_dataset(bunch.images, bunch.target, 16.0, binarize, threshold)


def flip_noise(key: jax.Array, images: jax.Array, p: float | jax.Array = 0.001) -> jax.Array:
    """Salt-and-pepper noise: flip each binary pixel (x -> 1 - x) independently with prob. ``p``.

    The authors apply this to real binary images (p = 0.001) so that no pixel value has zero
    probability under the data, which would make log-likelihoods infinite. ``p`` may be traced.
    """
    if isinstance(p, int | float) and not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    images = jnp.asarray(images)
    flip = jax.random.bernoulli(key, p, images.shape)
    return jnp.where(flip, 1 - images, images).astype(images.dtype)

"""PolyDigits (deterministic five-style coloured digits) and the PolyMNIST file reader.

Oracles: the grey digits themselves (the mask is their threshold, the composite is exact where
g = 0 or 1), a logistic regression reading the style, and PNG files the test writes.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression

from gtgen.data import STYLES, load_digits, load_polydigits, load_polymnist, polydigits


def test_polydigits_is_deterministic_per_seed_and_consistent_with_the_digits():
    a, b, other = load_polydigits(0), load_polydigits(0), load_polydigits(1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.x, other.x)  # phases, jitter and noise come from the seed
    ds = load_digits(binarize=False)
    n = len(ds.labels)
    assert a.x.shape == (5 * n, 8, 8, 3) and a.x.dtype == np.float32
    assert a.x.min() >= 0 and a.x.max() <= 1
    np.testing.assert_array_equal(a.d, np.repeat(np.arange(5), n))
    np.testing.assert_array_equal(a.c, np.tile(ds.labels, 5))
    np.testing.assert_array_equal(a.s, np.tile((ds.images > 0.5).astype(np.float32), (5, 1, 1)))
    # where the digit is full intensity the pixel is the style's digit colour
    full = np.tile(ds.images == 1.0, (5, 1, 1))
    yellow = a.x[(a.d[:, None, None] == 0) & full]
    np.testing.assert_allclose(yellow, np.broadcast_to([1.0, 0.85, 0.1], yellow.shape), atol=1e-6)


def test_the_style_is_recoverable_by_a_logistic_regression():
    data = load_polydigits(0)
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(data))[:4000]
    x, d = data.x[rows].reshape(len(rows), -1), data.d[rows]
    clf = LogisticRegression(max_iter=300).fit(x[:2000], d[:2000])
    assert clf.score(x[2000:], d[2000:]) > 0.95
    assert len(STYLES) == 5


def test_polydigits_refuses_bad_images():
    with pytest.raises(ValueError, match=r"images: must be grey images \[n, H, W\]"):
        polydigits(np.full((2, 8, 8), 3.0), np.zeros(2))


def write_polymnist(root, per_modality=2, size=(28, 28), mode="RGB"):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for k in range(5):
            folder = root / "PolyMNIST" / split / f"m{k}"
            folder.mkdir(parents=True)
            for i in range(per_modality):
                pixels = rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
                Image.fromarray(pixels).convert(mode).save(folder / f"{i}.{(i + k) % 10}.png")


def test_polymnist_reader_on_fake_files(tmp_path):
    write_polymnist(tmp_path)
    data = load_polymnist(tmp_path, "train")
    assert data.x.shape == (10, 28, 28, 3) and data.s is None
    np.testing.assert_array_equal(data.d, np.repeat(np.arange(5), 2))
    np.testing.assert_array_equal(data.c, [(i + k) % 10 for k in range(5) for i in range(2)])
    first = np.asarray(Image.open(tmp_path / "PolyMNIST/train/m0/0.0.png"), np.float32) / 255
    np.testing.assert_allclose(data.x[0], first)
    assert len(load_polymnist(tmp_path / "PolyMNIST", "test")) == 10  # the folder itself works


def test_polymnist_reader_names_what_is_missing_or_malformed(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no folder .*train/m0 \(expected the layout"):
        load_polymnist(tmp_path)
    write_polymnist(tmp_path / "a")
    (tmp_path / "a/PolyMNIST/train/m3/bad.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"bad.png is not named \*.<label>.png"):
        load_polymnist(tmp_path / "a")
    write_polymnist(tmp_path / "b", size=(32, 32))
    with pytest.raises(ValueError, match="is a 32×32 RGB image; expected RGB 28×28"):
        load_polymnist(tmp_path / "b")
    write_polymnist(tmp_path / "c", mode="L")
    with pytest.raises(ValueError, match="28×28 L image; expected RGB 28×28"):
        load_polymnist(tmp_path / "c")
    with pytest.raises(ValueError, match="split: must be 'train' or 'test'"):
        load_polymnist(tmp_path / "c", "all")

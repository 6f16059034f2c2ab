"""Tests for gtgen.data: IDX files, MNIST / digits loaders, noise, partitions (CPU, no network)."""

from __future__ import annotations

import gzip
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtgen import data

STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def fake_mnist(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = False, seed: int = 0):
    """Write small fake MNIST IDX files into ``folder``; return {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        data.save_idx(folder / (STEMS[split][0] + suffix), images)
        data.save_idx(folder / (STEMS[split][1] + suffix), labels)
        out[split] = (images, labels)
    return out


# ----------------------------------------------------------------------------- IDX format


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 0, 7], dtype=np.int8),
        np.arange(-6, 6, dtype=np.int16).reshape(3, 4),
        np.array([[1, -(2**31)], [2**31 - 1, 0]], dtype=np.int32),
        np.linspace(-1, 1, 10, dtype=np.float32),
        np.array([np.pi, -np.e], dtype=np.float64),
    ],
    ids=["u8", "i8", "i16", "i32", "f32", "f64"],
)
def test_idx_round_trip(tmp_path, array, suffix):
    path = data.save_idx(tmp_path / f"a.idx{suffix}", array)
    back = data.load_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_big_endian_mnist_layout(tmp_path):
    path = data.save_idx(tmp_path / "x", np.zeros((3, 28, 28), np.uint8))
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert raw[4:16] == (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert len(raw) == 16 + 3 * 28 * 28


def test_gz_file_is_really_compressed(tmp_path):
    path = data.save_idx(tmp_path / "x.gz", np.zeros(1000, np.uint8))
    assert gzip.decompress(path.read_bytes())[:4] == b"\x00\x00\x08\x01"


def test_save_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="array: dtype uint16"):
        data.save_idx(tmp_path / "x", np.zeros(3, np.uint16))


def test_bad_magic_names_file(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00\x00\x00\x01" + b"\x05")
    with pytest.raises(ValueError, match=r"bad-idx: bad magic number 0x12340801") as e:
        data.load_idx(path)
    assert "\n" not in str(e.value)


def test_unknown_dtype_code_is_bad_magic(tmp_path):
    path = tmp_path / "code"
    path.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="bad magic"):
        data.load_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_file_names_file(tmp_path, suffix):
    good = data.save_idx(tmp_path / "good", np.zeros((4, 28, 28), np.uint8)).read_bytes()
    path = tmp_path / f"short{suffix}"
    cut = good[:-10]
    path.write_bytes(gzip.compress(cut) if suffix else cut)
    with pytest.raises(ValueError, match=rf"short{suffix}: truncated"):
        data.load_idx(path)


def test_truncated_header_and_trailing_bytes(tmp_path):
    short = tmp_path / "hdr"
    short.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="hdr: truncated header"):
        data.load_idx(short)
    long = tmp_path / "long"
    long.write_bytes(data.save_idx(tmp_path / "g", np.zeros(3, np.uint8)).read_bytes() + b"!")
    with pytest.raises(ValueError, match="long: has trailing bytes"):
        data.load_idx(long)


def test_corrupt_gzip_names_file(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="broken.gz: corrupt gzip"):
        data.load_idx(path)


def test_load_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.load_idx(tmp_path / "nope")


# ----------------------------------------------------------------------------- MNIST loader


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_splits(tmp_path, gz):
    raw = fake_mnist(tmp_path, gz=gz)
    for split, n in (("train", 12), ("test", 5), ("all", 17)):
        ds = data.load_mnist(tmp_path, split=split, binarize=False)
        assert isinstance(ds, data.Dataset)
        assert ds.images.shape == (n, 28, 28) and ds.images.dtype == np.float32
        assert ds.labels.shape == (n,) and ds.labels.dtype == np.int32
    parts = [raw["train"], raw["test"]]
    np.testing.assert_allclose(ds.images, np.concatenate([im for im, _ in parts]) / 255.0)
    np.testing.assert_array_equal(ds.labels, np.concatenate([lb for _, lb in parts]))


def test_load_mnist_binarises_at_threshold(tmp_path):
    raw = fake_mnist(tmp_path)
    ds = data.load_mnist(tmp_path, kind="fashion", split="train")
    assert set(np.unique(ds.images)) <= {0.0, 1.0}
    # 0.4375 * 255 = 111.56: intensity 111 is background, 112 is foreground.
    np.testing.assert_array_equal(ds.images, (raw["train"][0] >= 112).astype(np.float32))
    ds_half = data.load_mnist(tmp_path, split="train", threshold=0.5)
    np.testing.assert_array_equal(ds_half.images, (raw["train"][0] >= 128).astype(np.float32))


def test_load_mnist_mixed_raw_and_gz(tmp_path):
    fake_mnist(tmp_path, gz=True)
    (tmp_path / (STEMS["test"][0] + ".gz")).rename(tmp_path / "keep.gz")
    data.save_idx(tmp_path / STEMS["test"][0], np.zeros((5, 28, 28), np.uint8))
    assert data.load_mnist(tmp_path, split="test").images.sum() == 0


def test_load_mnist_missing_file_message(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / STEMS["train"][0]).unlink()
    with pytest.raises(FileNotFoundError) as e:
        data.load_mnist(tmp_path, split="all")
    msg = str(e.value)
    assert msg == f"MNIST file train-images-idx3-ubyte(.gz) not found in {tmp_path}"
    data.load_mnist(tmp_path, split="test")  # the test split is still complete


def test_load_mnist_missing_folder_lists_all(tmp_path):
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST files") as e:
        data.load_mnist(tmp_path / "absent", kind="fashion", split="test")
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte(.gz)" in msg and "t10k-labels-idx1-ubyte(.gz)" in msg
    assert "no such folder" in msg and "train" not in msg


def test_load_mnist_count_mismatch(tmp_path):
    fake_mnist(tmp_path)
    data.save_idx(tmp_path / STEMS["train"][1], np.zeros(11, np.uint8))
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        data.load_mnist(tmp_path, split="train")


def test_load_mnist_wrong_image_size(tmp_path):
    fake_mnist(tmp_path)
    data.save_idx(tmp_path / STEMS["test"][0], np.zeros((5, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: expected uint8 images"):
        data.load_mnist(tmp_path, split="test")


def test_load_mnist_corrupt_file_propagates_name(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / STEMS["test"][1]).write_bytes(b"\xff\xff\xff\xff")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte: bad magic"):
        data.load_mnist(tmp_path, split="test")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"kind": "emnist"}, "kind"), ({"split": "val"}, "split"), ({"threshold": 2.0}, "threshold")],
)
def test_load_mnist_validates_arguments(tmp_path, kwargs, field):
    with pytest.raises(ValueError, match=f"^{field} "):
        data.load_mnist(tmp_path, **kwargs)


# ----------------------------------------------------------------------------- digits


def test_digits_binary():
    ds = data.load_digits()
    n = len(ds.labels)
    assert n == 1797 and ds.images.shape == (n, 8, 8) and ds.images.dtype == np.float32
    assert set(np.unique(ds.images)) == {0.0, 1.0}
    assert ds.labels.dtype == np.int32 and set(np.unique(ds.labels)) == set(range(10))


def test_digits_grey_and_threshold():
    grey = data.load_digits(binarize=False)
    assert grey.images.min() == 0.0 and grey.images.max() == 1.0
    np.testing.assert_allclose(grey.images * 16, np.round(grey.images * 16))
    binary = data.load_digits(threshold=data.DIGITS_THRESHOLD)
    np.testing.assert_array_equal(binary.images, (grey.images > 0.5).astype(np.float32))
    np.testing.assert_array_equal(binary.labels, grey.labels)
    with pytest.raises(ValueError, match="threshold"):
        data.load_digits(threshold=-0.1)


# ----------------------------------------------------------------------------- noise


def test_flip_noise_rate_and_determinism():
    images = (jax.random.uniform(jax.random.key(1), (1000, 32, 32)) < 0.3).astype(jnp.float32)
    key, p = jax.random.key(0), 0.001
    noisy = data.flip_noise(key, images, p)
    assert noisy.dtype == images.dtype and noisy.shape == images.shape
    assert set(np.unique(np.asarray(noisy)).tolist()) <= {0.0, 1.0}
    n = images.size
    flips = int(jnp.sum(noisy != images))
    assert abs(flips - n * p) < 6 * np.sqrt(n * p * (1 - p))  # ~1024 ± 32 expected
    np.testing.assert_array_equal(data.flip_noise(key, images, p), noisy)
    assert not np.array_equal(data.flip_noise(jax.random.key(2), images, p), noisy)


def test_flip_noise_edges_and_jit():
    images = jnp.ones((4, 8, 8), jnp.float32)
    key = jax.random.key(3)
    np.testing.assert_array_equal(data.flip_noise(key, images, 0.0), images)
    np.testing.assert_array_equal(data.flip_noise(key, images, 1.0), 0 * images)
    jitted = jax.jit(data.flip_noise)(key, images, 0.5)  # p traced
    np.testing.assert_array_equal(jitted, data.flip_noise(key, images, 0.5))
    with pytest.raises(ValueError, match="p must be"):
        data.flip_noise(key, images, 1.5)


# ----------------------------------------------------------------------------- partitions

LABELS = np.repeat(np.arange(10), 30)[np.random.default_rng(0).permutation(300)]


def assert_disjoint(parts):
    joined = np.concatenate(parts)
    assert len(np.unique(joined)) == len(joined)


def test_by_classes_paper_split():
    parts = data.by_classes(LABELS, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    assert_disjoint(parts)
    assert set(LABELS[parts[0]]) == {0, 1, 2, 3, 4} and set(LABELS[parts[1]]) == {5, 6, 7, 8, 9}
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(300))


def test_by_classes_validation():
    with pytest.raises(ValueError, match=r"class_sets\[1\]: classes \[11\]"):
        data.by_classes(LABELS, [[0], [11]])
    with pytest.raises(ValueError, match=r"class_sets\[0\] is empty"):
        data.by_classes(LABELS, [[]])
    with pytest.raises(ValueError, match="class_sets"):
        data.by_classes(LABELS, [])
    with pytest.raises(ValueError, match="labels"):
        data.by_classes(LABELS.astype(float), [[0]])


@pytest.mark.parametrize("seed", [None, 4, jax.random.key(4)])
def test_disjoint_slices(seed):
    parts = data.disjoint_slices(LABELS, n_players=4, per_class=7, key_or_seed=seed)
    assert len(parts) == 4
    assert_disjoint(parts)
    for p in parts:
        np.testing.assert_array_equal(np.bincount(LABELS[p], minlength=10), np.full(10, 7))


def test_disjoint_slices_in_order_and_errors():
    parts = data.disjoint_slices(LABELS, n_players=2, per_class=1)
    firsts = [np.flatnonzero(LABELS == c)[:2] for c in range(10)]
    np.testing.assert_array_equal(parts[0], np.sort([f[0] for f in firsts]))
    np.testing.assert_array_equal(parts[1], np.sort([f[1] for f in firsts]))
    with pytest.raises(ValueError, match=r"per_class: class 0 has 30 images.*= 31"):
        data.disjoint_slices(LABELS, n_players=1, per_class=31)
    with pytest.raises(ValueError, match="n_players"):
        data.disjoint_slices(LABELS, n_players=0, per_class=1)
    with pytest.raises(ValueError, match="per_class"):
        data.disjoint_slices(LABELS, n_players=2, per_class=1.5)


@settings(max_examples=30, deadline=None)
@given(
    n_players=st.integers(1, 8),
    concentration=st.floats(0.05, 100.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_dirichlet_uses_every_index_once(n_players, concentration, seed):
    parts = data.dirichlet(LABELS, n_players, concentration, seed)
    assert len(parts) == n_players
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(len(LABELS)))


def test_dirichlet_reproducible_and_seed_sensitive():
    a = data.dirichlet(LABELS, 5, 0.5, 7)
    b = data.dirichlet(LABELS, 5, 0.5, 7)
    c = data.dirichlet(LABELS, 5, 0.5, 8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    k1 = data.dirichlet(LABELS, 5, 0.5, jax.random.key(7))
    k2 = data.dirichlet(LABELS, 5, 0.5, jax.random.PRNGKey(7))  # raw uint32 key, same bits
    assert all(np.array_equal(x, y) for x, y in zip(k1, k2, strict=True))


def test_dirichlet_concentration_controls_heterogeneity():
    def mean_classes(conc: float) -> float:
        parts = data.dirichlet(LABELS, 5, conc, 0)
        return np.mean([len(np.unique(LABELS[p])) for p in parts])

    assert mean_classes(0.05) < mean_classes(100.0) == 10.0


@pytest.mark.parametrize(
    ("args", "field"),
    [((0, 1.0, 0), "n_players"), ((2, 0.0, 0), "concentration"), ((2, 1.0, "x"), "key_or_seed")],
)
def test_dirichlet_validation(args, field):
    with pytest.raises(ValueError, match=field):
        data.dirichlet(LABELS, *args)

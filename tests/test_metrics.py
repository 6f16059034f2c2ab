"""Metrics against independent oracles (scipy's sqrtm, closed-form Gaussian Fréchet distance)."""

import jax
import numpy as np
import pytest
import scipy.linalg

from gtgen.data import load_digits
from gtgen.metrics import class_fractions, frechet_distance, mmd2, train_classifier


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(1.0, 2.0, size=(300, 5))
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    want = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(
        ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real
    )
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_large_gaussian_samples_approaches_closed_form():
    rng = np.random.default_rng(1)
    # 1-D: (m1 − m2)² + (s1 − s2)²
    a, b = rng.normal(0, 1, (200_000, 1)), rng.normal(2, 3, (200_000, 1))
    assert frechet_distance(a, b) == pytest.approx(4 + 4, rel=0.02)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="features"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))


def test_mmd_against_numpy_loop():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 3)), rng.normal(0.5, 1, size=(20, 3))

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * 1.5**2))

    kxx = np.mean([[k(a, b) for b in x] for a in x])
    kyy = np.mean([[k(a, b) for b in y] for a in y])
    kxy = np.mean([[k(a, b) for b in y] for a in x])
    assert mmd2(x, y, 1.5) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-4, abs=1e-6)


def test_reference_classifier_on_digits():
    data = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data.labels))
    train, test = order[:1400], order[1400:]
    clf = train_classifier(data.images[train], data.labels[train], jax.random.key(0), steps=800)
    assert clf.accuracy(data.images[test], data.labels[test]) > 0.85
    frac = class_fractions(clf, data.images[test])
    assert frac.sum() == pytest.approx(1.0)
    true = np.bincount(data.labels[test], minlength=10) / len(test)
    assert np.abs(frac - true).max() < 0.05

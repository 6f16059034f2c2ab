"""Evaluation of generative players: a reference classifier, class coverage, Fréchet distance, MMD.

The paper evaluates its digit models with FID (Inception features). gtgen's analogue, used on the
embedded 8×8 digits and on MNIST alike, is the **Fréchet distance on the features of a reference
classifier trained on real data** (the last hidden layer of a small MLP). It is not comparable in
value with published FIDs; outputs call it ``frechet_classifier_distance`` to say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gtgen import xla_options


class _MLP(nn.Module):
    hidden: Sequence[int]
    classes: int

    @nn.compact
    def __call__(self, x):
        x = x.reshape((x.shape[0], -1))
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        features = x
        return nn.Dense(self.classes)(x), features


class Classifier(NamedTuple):
    """A trained reference classifier: ``logits(x)`` and ``features(x)`` on image batches."""

    module: Any
    params: Any

    def logits(self, x: jax.Array) -> jax.Array:
        return self.module.apply(self.params, jnp.asarray(x, jnp.float32))[0]

    def features(self, x: jax.Array) -> jax.Array:
        return self.module.apply(self.params, jnp.asarray(x, jnp.float32))[1]

    def predict(self, x: jax.Array) -> np.ndarray:
        return np.asarray(jnp.argmax(self.logits(x), axis=-1))

    def accuracy(self, x: jax.Array, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(labels)))


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    key: jax.Array,
    hidden: Sequence[int] = (256, 128),
    steps: int = 1500,
    batch: int = 256,
    learning_rate: float = 1e-3,
    classes: int = 10,
) -> Classifier:
    """Train the reference MLP classifier on real (binary or grey) images with Adam."""
    x = jnp.asarray(images, jnp.float32)
    y = jnp.asarray(labels, jnp.int32)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"images: {x.shape[0]} images but {y.shape[0]} labels")
    module = _MLP(tuple(hidden), classes)
    init_key, key = jax.random.split(key)
    params = module.init(init_key, x[:1])
    tx = optax.adam(learning_rate)

    def loss(p, xb, yb):
        logits, _ = module.apply(p, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @xla_options.jit
    def train(params, key):
        def step(carry, k):
            p, s = carry
            idx = jax.random.randint(k, (batch,), 0, x.shape[0])
            g = jax.grad(loss)(p, x[idx], y[idx])
            updates, s = tx.update(g, s, p)
            return (optax.apply_updates(p, updates), s), None

        (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jax.random.split(key, steps))
        return params

    return Classifier(module, train(params, key))


def class_fractions(classifier: Classifier, samples: np.ndarray, classes: int = 10) -> np.ndarray:
    """Fraction of samples the reference classifier assigns to each class: [classes]."""
    pred = classifier.predict(samples)
    return np.bincount(pred, minlength=classes)[:classes] / max(len(pred), 1)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [n, f] (float64).

    ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}); the matrix square roots
    by symmetric eigendecompositions, so no scipy is needed.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"features: need two [n ≥ 2, f] arrays of equal f, got {a.shape}, {b.shape}"
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root_a @ cov_b @ root_a
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (middle + middle.T)), 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


def frechet_classifier_distance(
    classifier: Classifier, samples: np.ndarray, reference: np.ndarray
) -> float:
    """The FID analogue: Fréchet distance on the reference classifier's features."""
    return frechet_distance(
        np.asarray(classifier.features(samples)), np.asarray(classifier.features(reference))
    )


def mmd2(x: np.ndarray, y: np.ndarray, lengthscale: float) -> float:
    """Biased squared MMD with a squared-exponential kernel k(a, b) = exp(−‖a − b‖² / (2ℓ²))."""
    x = jnp.asarray(x, jnp.float32).reshape(len(x), -1)
    y = jnp.asarray(y, jnp.float32).reshape(len(y), -1)

    def k(a, b):
        d2 = jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
        return jnp.exp(-jnp.maximum(d2, 0.0) / (2.0 * lengthscale**2))

    return float(k(x, x).mean() + k(y, y).mean() - 2.0 * k(x, y).mean())

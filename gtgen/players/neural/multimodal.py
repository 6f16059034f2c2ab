"""IV-C's player A: (c, d, z, s, x) as five conditionals, each its own MLP.

Variables (PAPERS.md §1, "IV-C in the authors' code"): c the digit class (10), d the style (5),
z a binary latent, s the binary digit mask ``[H, W]`` (never observed in A's data), x the RGB
image ``[H, W, 3]``. A's private data holds (c, d, x); s and z are completed by Gibbs sweeps in
the exchange round (gtgen.exchange.imputation), and so is whatever a (c, s) sender lacks.

Conditionals (the authors' set; tanh MLPs here instead of their convolution stacks, U-Net and
conditional VAE, so that the 8×8 PolyDigits run in minutes on a CPU):

- p(c | d, z, s, x)  categorical logits;     - p(d | s, x)  categorical logits;
- p(z | c, d, s, x)  Bernoulli logits;       - p(s | c, d, z, x)  Bernoulli pixel logits;
- p(x | c, d, z, s)  Gaussian pixels, mean and log σ per pixel and channel (log σ in [−4, 1]);
  with ``x_mean`` an x that A completes (in a received (c, s) pair, or when sampling) is the mean
  of p(x | rest), not a draw: per-pixel independent noise would make every completed image a
  noisy one, from which the other conditionals cannot learn how s shows in x (the authors' p(x | ·)
  is a conditional VAE with a structured mean instead).

``classify`` is the authors' inference: x clamped, c, d, z, s from random values, Gibbs sweeps in
random order, a running average (0.9 / 0.1) of p(c | rest), argmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from gtgen.players.base import binary, categorical, real
from gtgen.players.conditionals import Conditional, ConditionalsPlayer, conditionals_player
from gtgen.players.gibbs import Gibbs, random_values, run
from gtgen.players.neural.common import MLP, init_params

INPUTS = {
    "c": ("d", "z", "s", "x"),
    "d": ("s", "x"),
    "z": ("c", "d", "s", "x"),
    "s": ("c", "d", "z", "x"),
    "x": ("c", "d", "z", "s"),
}


@dataclass(frozen=True)
class MultimodalConfig:
    """Sizes of player A: image ``shape`` (H, W), latent bits ``z``, MLP ``hidden`` widths."""

    shape: tuple[int, int] = (8, 8)
    classes: int = 10
    styles: int = 5
    z: int = 8
    hidden: tuple[int, ...] = (128,)
    lr: float = 1e-3
    gibbs: Gibbs = field(default_factory=lambda: Gibbs(sweeps=5))
    x_mean: bool = False  # complete x by the mean of p(x | rest) instead of a draw


def variables(config: MultimodalConfig):
    h, w = config.shape
    return (
        ("c", categorical(config.classes)),
        ("d", categorical(config.styles)),
        ("z", binary(config.z)),
        ("s", binary(h, w)),
        ("x", real(h, w, 3)),
    )


def features(config: MultimodalConfig, values: dict, names) -> jax.Array:
    """The named inputs as one flat feature vector per item (one-hot for c and d)."""
    parts = []
    for v in names:
        x = values[v]
        if v == "c":
            x = jax.nn.one_hot(x, config.classes)
        elif v == "d":
            x = jax.nn.one_hot(x, config.styles)
        parts.append(x.reshape(x.shape[0], -1).astype(jnp.float32))
    return jnp.concatenate(parts, axis=-1)


def _conditional(config: MultimodalConfig, target: str) -> Conditional:
    h, w = config.shape
    sizes = {"c": config.classes, "d": config.styles, "z": config.z, "s": h * w, "x": 2 * h * w * 3}
    width = {"c": config.classes, "d": config.styles, "z": config.z, "s": h * w, "x": h * w * 3}
    net = MLP(tuple(config.hidden), sizes[target])
    inputs = INPUTS[target]
    n_in = sum(width[v] for v in inputs)

    def init(key):
        return init_params(key, {"net": (net, (jnp.zeros((1, n_in)),))})["net"]

    def apply(params, values):
        out = net.apply(params, features(config, values, inputs))
        n = out.shape[0]
        if target == "s":
            return out.reshape(n, h, w)
        if target == "x":
            mean, raw = jnp.split(out, 2, axis=-1)
            log_sigma = -1.5 + 2.5 * jnp.tanh(raw)  # in [−4, 1]
            return mean.reshape(n, h, w, 3), log_sigma.reshape(n, h, w, 3)
        return out

    impute = (lambda key, out: out[0]) if target == "x" and config.x_mean else None
    return Conditional(target, init, apply, impute)


def multimodal_player(config: MultimodalConfig | None = None) -> ConditionalsPlayer:
    """Player A of IV-C for ``config``; its data observe (c, d, x)."""
    config = config or MultimodalConfig()
    conds = [_conditional(config, v) for v in INPUTS]
    return conditionals_player(
        f"multimodal{config}", variables(config), ("c", "d", "x"), conds, config.gibbs, lr=config.lr
    )


def infer(
    key: jax.Array,
    player: ConditionalsPlayer,
    state,
    clamped: dict,
    sweeps: int = 20,
    decay: float = 0.9,
) -> tuple[dict, jax.Array]:
    """``(values, class marginal [n, classes])``: the variables in ``clamped`` ({name: [n, ...]})
    held, every other variable from random values redrawn by ``sweeps`` Gibbs sweeps in random
    order; the marginal is the running average (``decay``) of p(c | rest) after every sweep."""
    varmap = dict(player.variables)
    n = next(iter(clamped.values())).shape[0]
    free = {v: var for v, var in varmap.items() if v not in clamped}
    k0, k1 = jax.random.split(key)
    values = {**random_values(k0, free, n), **clamped}
    missing = {v: jnp.ones((n,), bool) for v in free}

    def marginal(vals):
        return jax.nn.softmax(player.apply(state, "c", vals), axis=-1)

    return run(
        k1, player.draws(state), values, missing, sweeps, "random", track=marginal, decay=decay
    )


def classify(
    key: jax.Array,
    player: ConditionalsPlayer,
    state,
    x: jax.Array,
    sweeps: int = 20,
    decay: float = 0.9,
) -> tuple[jax.Array, jax.Array]:
    """``(labels [n], class marginal [n, classes])`` of images ``x [n, H, W, 3]``: x clamped,
    Gibbs sweeps in random order over c, d, z, s from random values, the running average of
    p(c | d, z, s, x), argmax (the authors' inference)."""
    _, avg = infer(key, player, state, {"x": x}, sweeps, decay)
    return jnp.argmax(avg, axis=-1).astype(jnp.int32), avg


def pixels(config: MultimodalConfig) -> int:
    return math.prod(config.shape)

"""A joint label–image player p(c) p(x | c) with a classifier p(c | x): the paper's IV-B player.

Model (the authors' IV-B code, PAPERS.md §1): p(c) uniform and fixed; p(x | c) a conditional
two-layer HVAE with binary latents z0 (prior Bernoulli(0.5)) and z1, every network also taking
the one-hot class; the image is Gaussian with the decoder's mean and one global learnable log σ;
the classifier p(c | x) is a convolutional encoder with ``classes`` outputs.

- p(z1 | z0, c):  MLP (classes + z0) → two tanh layers of width 4·(classes + z0 + z1) → z1 logits;
- p(x | z1, c):   transposed convolutions from the (classes + z1) code, widths 4w … w → 1;
- q(z1 | x, c):   the mirrored convolutions on x, plus a bias-free linear map of c;
- q(z0 | z1, c):  an MLP like p(z1 | z0, c);
- p(c | x):       the mirrored convolutions on x → ``classes`` logits.

Capacity is ``(z0, z1, width)``: the authors' four levels on 28×28 images are (4, 8, 2),
(8, 16, 4), (12, 24, 8), (16, 32, 16) (``FMNIST_CAPACITIES``); ``DIGITS_CAPACITIES`` are smaller
ones for the 8×8 digits.

One learning step (``learn``), one summed loss and one Adam step (Adam is elementwise, so one
optimiser over the disjoint parameters equals the authors' one per model):

- the classifier: cross-entropy on the batch of pairs (own real pairs and received ones);
- the image model, symmetric learning: p-step on the pairs completed by z1 ~ q(z1 | x, c),
  z0 ~ q(z0 | z1, c) (no gradient through the draws: cross-entropy of p(z1 | z0, c) and the
  Gaussian NLL of x); q-step on dreams z0 ~ Bernoulli(½), z1 ~ p(z1 | z0, c), x ~ p(x | z1, c)
  with the batch's labels (cross-entropies of q(z1 | x, c) and q(z0 | z1, c));
- with the state's ``symmetric`` flag on (a traced 0/1, so methods share one program), as in the
  authors' code each batch is doubled: the classifier's by (c, x̃), x̃ drawn from its own image
  model given the batch's labels, the image model's by (c̃, x), c̃ drawn from its own classifier
  given the batch's images; the doubled halves weigh as much as the batch.

Received pairs (the cooperative exchange) are treated like real pairs: the receiver completes
their latents with its own encoder, so players of different capacity exchange only (c, x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gtgen.checks import integer
from gtgen.players.base import Batch, categorical, real
from gtgen.players.neural.common import (
    MLP,
    ConvLayer,
    ConvStack,
    Metrics,
    NeuralPlayer,
    Params,
    adam,
    bernoulli_from,
    bernoulli_nll,
    combine,
    gaussian_nll,
    init_params,
    normal_from,
    uniform_blocks,
    weighted_mean,
)


@dataclass(frozen=True)
class JointConfig:
    """Sizes and step size of one joint player (``width`` is the authors' nn)."""

    event_shape: tuple[int, int] = (8, 8)
    classes: int = 10
    z0: int = 4
    z1: int = 8
    width: int = 4
    lr: float = 1e-3
    # log of the image noise σ at the start (learnable): 0.2 on the digits, whose grey values lie
    # in [0, 1]; the authors start at σ = 1 (FMNIST_CAPACITIES do)
    log_sigma: float = math.log(0.2)
    arch: str = "conv"  # "conv" (the authors' stacks) or "mlp" (tanh MLPs of width 16·width)


FMNIST_CAPACITIES: tuple[JointConfig, ...] = tuple(
    JointConfig(event_shape=(28, 28), z0=z0, z1=z1, width=w, lr=1e-4, log_sigma=0.0)
    for z0, z1, w in ((4, 8, 2), (8, 16, 4), (12, 24, 8), (16, 32, 16))
)
# On the 8×8 digits the image networks are MLPs (16·width hidden units): XLA's CPU backend runs
# the convolution stacks of these sizes 10–100× slower per step (measured: 0.2–1.3 s per step of
# one player at widths 4–16 against 2–12 ms for the MLPs), which would make the digits run hours.
DIGITS_CAPACITIES: tuple[JointConfig, ...] = tuple(
    JointConfig(z0=z0, z1=z1, width=w, arch="mlp")
    for z0, z1, w in ((2, 4, 1), (4, 8, 2), (6, 12, 4), (8, 16, 8))
)


def decoder_layers(shape: tuple[int, int], width: int) -> tuple[ConvLayer, ...]:
    """Transposed convolutions from a 1×1 code: 28×28 as the authors (1 → 4 → 9 → 11 → 13 → 27
    → 28), 8×8 shortened (1 → 2 → 5 → 7 → 8)."""
    w = width
    if tuple(shape) == (28, 28):
        return ((4 * w, 4, 1), (2 * w, 3, 2), (2 * w, 3, 1), (2 * w, 3, 1), (w, 3, 2), (1, 2, 1))
    return ((4 * w, 2, 1), (2 * w, 3, 2), (w, 3, 1), (1, 2, 1))


def encoder_layers(shape: tuple[int, int], width: int, out: int) -> tuple[ConvLayer, ...]:
    """The mirrored convolutions down to 1×1 with ``out`` features."""
    w = width
    if tuple(shape) == (28, 28):
        return ((w, 2, 1), (2 * w, 3, 2), (2 * w, 3, 1), (2 * w, 3, 1), (4 * w, 3, 2), (out, 4, 1))
    return ((w, 2, 1), (2 * w, 3, 1), (4 * w, 3, 2), (out, 2, 1))


class Encoder(nn.Module):
    """x ``[n, H, W]`` (and an optional one-hot class, by a bias-free map) -> ``[n, out]``."""

    config: JointConfig
    out: int

    @nn.compact
    def __call__(self, x: jax.Array, c: jax.Array | None = None) -> jax.Array:
        cfg = self.config
        if cfg.arch == "mlp":
            h = MLP((16 * cfg.width, 16 * cfg.width), self.out)(x.reshape(x.shape[0], -1))
        else:
            layers = encoder_layers(cfg.event_shape, cfg.width, self.out)
            h = ConvStack(layers)(x[..., None]).reshape(x.shape[0], self.out)
        if c is not None:
            h = h + nn.Dense(self.out, use_bias=False)(c)
        return h


class Decoder(nn.Module):
    """The (z1, one-hot c) code ``[n, z1 + classes]`` -> the image mean ``[n, H, W]``."""

    config: JointConfig

    @nn.compact
    def __call__(self, code: jax.Array) -> jax.Array:
        cfg = self.config
        if cfg.arch == "mlp":
            pixels = math.prod(cfg.event_shape)
            out = MLP((16 * cfg.width, 16 * cfg.width), pixels)(code)
            return out.reshape(-1, *cfg.event_shape)
        layers = decoder_layers(cfg.event_shape, cfg.width)
        return ConvStack(layers, transpose=True)(code[:, None, None, :])[..., 0]


class Networks(NamedTuple):
    classifier: nn.Module  # p(c | x)
    p_z1: nn.Module  # p(z1 | z0, c)
    p_x: nn.Module  # p(x | z1, c) (mean)
    q_z1: nn.Module  # q(z1 | x, c)
    q_z0: nn.Module  # q(z0 | z1, c)


def networks(config: JointConfig) -> Networks:
    hidden = 4 * (config.classes + config.z0 + config.z1)
    return Networks(
        classifier=Encoder(config, config.classes),
        p_z1=MLP((hidden, hidden), config.z1),
        p_x=Decoder(config),
        q_z1=Encoder(config, config.z1),
        q_z0=MLP((hidden, hidden), config.z0),
    )


class JointState(NamedTuple):
    """Parameters, their Adam state (over the flattened parameters: ``optax.flatten``), and the
    traced ``symmetric`` flag (0 or 1)."""

    params: Params
    opt_state: optax.OptState
    symmetric: jax.Array


def classifier_logits(config: JointConfig, params: Params, x: jax.Array) -> jax.Array:
    """p(c | x) logits ``[n, classes]`` of images ``[n, H, W]``."""
    return networks(config).classifier.apply(params["classifier"], x)


def _check(config: JointConfig) -> None:
    if config.arch not in ("conv", "mlp"):
        raise ValueError(f"JointConfig.arch: must be 'conv' or 'mlp', got {config.arch!r}")
    if config.arch == "conv" and tuple(config.event_shape) not in ((8, 8), (28, 28)):
        raise ValueError(
            f"JointConfig.event_shape: the convolution stacks are made for 8×8 or 28×28 images, "
            f"got {config.event_shape}"
        )
    for name in ("classes", "z0", "z1", "width"):
        integer(f"JointConfig.{name}", getattr(config, name))


def joint_player(config: JointConfig | None = None) -> NeuralPlayer:
    """The joint label–image player for ``config`` (default: a middle capacity on 8×8 digits)."""
    config = config or JointConfig()
    _check(config)
    nets = networks(config)
    # Adam over one flat vector of all parameters: the same elementwise update, one fused kernel
    # instead of a few per parameter (XLA compile time of the four IV-B players: −6 to −15 %)
    optimizer = optax.flatten(adam(config.lr))
    shape, k = tuple(config.event_shape), config.classes
    pixels = math.prod(shape)

    def init(key: jax.Array) -> JointState:
        x, c = jnp.zeros((1, *shape)), jnp.zeros((1, k))
        z0, z1 = jnp.zeros((1, config.z0)), jnp.zeros((1, config.z1))
        params = init_params(
            key,
            {
                "classifier": (nets.classifier, (x,)),
                "p_z1": (nets.p_z1, (jnp.concatenate([z0, c], -1),)),
                "p_x": (nets.p_x, (jnp.concatenate([z1, c], -1),)),
                "q_z1": (nets.q_z1, (x, c)),
                "q_z0": (nets.q_z0, (jnp.concatenate([z1, c], -1),)),
            },
        )
        params["log_sigma"] = jnp.full((), config.log_sigma, jnp.float32)
        return JointState(params, optimizer.init(params), jnp.zeros((), jnp.float32))

    def onehot(c: jax.Array) -> jax.Array:
        return jax.nn.one_hot(c, k, dtype=jnp.float32)

    def draw_class(u: jax.Array, logits: jax.Array) -> jax.Array:
        """A class per row from uniforms ``u [n, 1]`` and logits (inverse CDF)."""
        cdf = jnp.cumsum(jax.nn.softmax(logits), axis=-1)
        return jnp.minimum((u > cdf).sum(-1), k - 1).astype(jnp.int32)

    def image(p: Params, c: jax.Array, u: list[jax.Array]) -> dict:
        """(z0, z1, x) ~ p(· | c) from uniforms ``u = [z0, z1, x]``."""
        z0 = (u[0] < 0.5).astype(jnp.float32)
        z1 = bernoulli_from(u[1], nets.p_z1.apply(p["p_z1"], jnp.concatenate([z0, onehot(c)], -1)))
        mean = nets.p_x.apply(p["p_x"], jnp.concatenate([z1, onehot(c)], -1))
        x = mean + jnp.exp(p["log_sigma"]) * normal_from(u[2]).reshape(mean.shape)
        return {"c": c, "x": x, "z0": z0, "z1": z1}

    def complete(p: Params, c: jax.Array, x: jax.Array, u: list[jax.Array]) -> dict:
        """Pairs (c, x) completed with z1 ~ q(z1 | x, c), z0 ~ q(z0 | z1, c); no gradient."""
        z1 = bernoulli_from(u[0], nets.q_z1.apply(p["q_z1"], x, onehot(c)))
        z0 = bernoulli_from(u[1], nets.q_z0.apply(p["q_z0"], jnp.concatenate([z1, onehot(c)], -1)))
        return jax.lax.stop_gradient({"c": c, "x": x, "z0": z0, "z1": z1})

    def class_nll(p: Params, c: jax.Array, x: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(
            nets.classifier.apply(p["classifier"], x), c
        )

    def p_nll(p: Params, s: dict) -> jax.Array:
        h = onehot(s["c"])
        z1 = nets.p_z1.apply(p["p_z1"], jnp.concatenate([s["z0"], h], -1))
        mean = nets.p_x.apply(p["p_x"], jnp.concatenate([s["z1"], h], -1))
        return bernoulli_nll(z1, s["z1"], 1) + gaussian_nll(mean, p["log_sigma"], s["x"], 2)

    def q_nll(p: Params, s: dict) -> jax.Array:
        h = onehot(s["c"])
        z1 = nets.q_z1.apply(p["q_z1"], s["x"], h)
        z0 = nets.q_z0.apply(p["q_z0"], jnp.concatenate([s["z1"], h], -1))
        return bernoulli_nll(z1, s["z1"], 1) + bernoulli_nll(z0, s["z0"], 1)

    def sample(key: jax.Array, state: JointState, n: int) -> dict:
        u = uniform_blocks(key, n, [1, config.z0, config.z1, pixels])
        c = draw_class(u[0], jnp.zeros((n, k)))  # p(c) uniform
        s = image(state.params, c, u[1:])
        return {"c": s["c"], "x": s["x"]}

    def loss(key: jax.Array, state: JointState, items: dict, weights: jax.Array) -> jax.Array:
        """The classifier's weighted cross-entropy on (c, x) pairs."""
        return weighted_mean(class_nll(state.params, items["c"], items["x"]), weights)

    def learn(
        key: jax.Array,
        state: JointState,
        own: Batch,
        synthetic: Batch,
        shared_slots: bool = False,
    ) -> tuple[JointState, Metrics]:
        """One step on the own and received pairs; with ``symmetric`` on, each network's batch
        is doubled as in the authors' code: the classifier's by (c, x̃), x̃ ~ p(x | c) from its
        own image model, the image model's by (c̃, x), c̃ ~ p(c | x) from its own classifier,
        both over every pair of the batch and weighted like it."""
        pairs, w = combine(own, synthetic, shared_slots)
        c, x, n = pairs["c"], pairs["x"], w.shape[0]
        p0, s = state.params, state.symmetric
        u = uniform_blocks(key, n, [config.z0, config.z1, pixels, 1])
        x_tilde = jax.lax.stop_gradient(image(p0, c, u[:3])["x"])
        c_tilde = jax.lax.stop_gradient(
            draw_class(u[3], nets.classifier.apply(p0["classifier"], x))
        )
        both = jnp.concatenate([w, s * w])
        image_c, image_x = jnp.concatenate([c, c_tilde]), jnp.concatenate([x, x])
        v = uniform_blocks(
            jax.random.fold_in(key, 1), 2 * n, [config.z1, config.z0, config.z0, config.z1, pixels]
        )
        completed = complete(p0, image_c, image_x, v[:2])
        dreams = jax.lax.stop_gradient(image(p0, image_c, v[2:]))
        labels, images = jnp.concatenate([c, c]), jnp.concatenate([x, x_tilde])

        def objective(p: Params):
            classify = weighted_mean(class_nll(p, labels, images), both)
            p_step = weighted_mean(p_nll(p, completed), both)
            q_step = weighted_mean(q_nll(p, dreams), both)
            total = classify + p_step + q_step
            return total, {"loss": total, "class_loss": classify, "image_loss": p_step}

        grads, metrics = jax.grad(objective, has_aux=True)(p0)
        updates, opt_state = optimizer.update(grads, state.opt_state, p0)
        return JointState(optax.apply_updates(p0, updates), opt_state, s), metrics

    variables = (("c", categorical(k)), ("x", real(*shape)))
    name = "joint" + repr(config).removeprefix("JointConfig")
    return NeuralPlayer(name, variables, ("c", "x"), config, init, sample, loss, learn)

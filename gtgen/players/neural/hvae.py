"""The paper's learner: a hierarchical VAE with binary latents, trained by symmetric learning.

Model (Schlesinger & Flach, IV-A; see PAPERS.md §1): z0 ∈ {0,1}^n0 with a uniform prior,
z1 ∈ {0,1}^n1, a binary image x. Decoder p(z1 | z0) p(x | z0, z1), encoder q(z1 | x)
q(z0 | z1, x); tanh everywhere, Bernoulli logits at every output.

Symmetric equilibrium learning (Flach, Schlesinger, Shekhovtsov, AISTATS 2024), one step:
  1. complete the real batch: z ~ q(z | x), no gradient through the draw;
  2. one Adam step on p: weighted cross-entropy of p(z1 | z0) and p(x | z0, z1) on the completed
     real triples and the received synthetic triples;
  3. dream: draw (z0, z1, x) ~ p from the updated p, as many as real items;
  4. one Adam step on q: weighted cross-entropy of q(z1 | x) and q(z0 | z1, x) on the dreamt
     triples and the received synthetic triples.
Received triples carry the sender's latent codes and are treated as observed, as in the authors'
code: the codes are exchanged variables ``z0``, ``z1`` beside the image ``x``, so senders and
receivers must share the latent layout. With ``share_latents=False`` only ``x`` is exchanged and
a received image is completed by the receiver's own encoder, like a real one (models of
different latent sizes can then play together). p and q keep separate Adam states.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from gtgen.players.base import Batch, binary
from gtgen.players.neural.common import (
    MLP,
    ConvLayer,
    ConvStack,
    Metrics,
    NeuralPlayer,
    Params,
    TrainState,
    adam,
    bernoulli_from,
    bernoulli_nll,
    combine,
    init_params,
    init_train_state,
    train_step,
    uniform_blocks,
    weighted_mean,
)


@dataclass(frozen=True)
class HVAEConfig:
    """Sizes and step size of the hierarchical model.

    ``arch="conv"`` is the authors' 28×28 convolution stack (base width ``width``);
    ``arch="mlp"`` replaces the image networks by tanh MLPs of sizes ``hidden`` (any image size).
    ``batch`` is the batch size the configuration was made for (a suggestion for callers).
    """

    event_shape: tuple[int, int] = (8, 8)
    z0: int = 8
    z1: int = 32
    prior_hidden: tuple[int, ...] = (128, 128)  # p(z1 | z0)
    arch: Literal["mlp", "conv"] = "mlp"
    hidden: tuple[int, ...] = (128, 128)  # image networks, arch="mlp"
    width: int = 32  # image networks, arch="conv"
    lr: float = 1e-3
    batch: int = 256
    share_latents: bool = True  # exchange the codes z0, z1 with the image (the authors' IV-A)


CONFIGS: dict[str, HVAEConfig] = {
    # The authors' exact IV-A model: Adam 1e-4, batch 1000 (MNIST, 28×28).
    "paper-mnist": HVAEConfig(
        event_shape=(28, 28),
        z0=30,
        z1=100,
        prior_hidden=(600, 600),
        arch="conv",
        hidden=(),
        width=32,
        lr=1e-4,
        batch=1000,
    ),
    # A small MLP model for the embedded 8×8 digits: seconds per thousand steps on a CPU.
    "digits-small": HVAEConfig(),
}


class HSample(NamedTuple):
    """A triple of the model: image ``x [n, H, W]`` and its binary codes ``z0 [n, n0]``, ``z1 [n, n1]``."""

    x: jax.Array
    z0: jax.Array
    z1: jax.Array


def decoder_layers(width: int) -> tuple[ConvLayer, ...]:
    """p(x | z0, z1) as transposed convolutions, spatial 1 → 4 → 9 → 11 → 13 → 27 → 28."""
    w = width
    return ((4 * w, 4, 1), (2 * w, 3, 2), (2 * w, 3, 1), (2 * w, 3, 1), (w, 3, 2), (1, 2, 1))


def encoder_layers(width: int, out: int) -> tuple[ConvLayer, ...]:
    """The mirrored convolutions of the encoders, spatial 28 → 27 → 13 → 11 → 9 → 4 → 1."""
    w = width
    return ((w, 2, 1), (2 * w, 3, 2), (2 * w, 3, 1), (2 * w, 3, 1), (4 * w, 3, 2), (out, 4, 1))


class ImageDecoder(nn.Module):
    """p(x | z0, z1): the code ``[n, n0 + n1]`` -> logits ``[n, H, W]``."""

    config: HVAEConfig

    @nn.compact
    def __call__(self, z0: jax.Array, z1: jax.Array) -> jax.Array:
        c = self.config
        code = jnp.concatenate([z0, z1], axis=-1)
        if c.arch == "conv":
            h = ConvStack(decoder_layers(c.width), transpose=True)(code[:, None, None, :])
            return h[..., 0]
        height, width = c.event_shape
        return MLP(c.hidden, height * width)(code).reshape(-1, height, width)


class ImageEncoder(nn.Module):
    """Logits ``[n, out]`` of a latent given x (and, optionally, the code ``cond`` at every layer)."""

    config: HVAEConfig
    out: int

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        c = self.config
        if c.arch == "conv":
            h = ConvStack(encoder_layers(c.width, self.out))(x[..., None], cond)
            return h.reshape(x.shape[0], self.out)
        return MLP(c.hidden, self.out)(x.reshape(x.shape[0], -1), cond)


class Networks(NamedTuple):
    """The four conditionals of the model as flax modules."""

    p_z1: nn.Module  # p(z1 | z0)
    p_x: nn.Module  # p(x | z0, z1)
    q_z1: nn.Module  # q(z1 | x)
    q_z0: nn.Module  # q(z0 | z1, x)


def networks(config: HVAEConfig) -> Networks:
    """The modules of ``config`` (exposed for shape checks and inspection)."""
    return Networks(
        p_z1=MLP(config.prior_hidden, config.z1, skip=True),
        p_x=ImageDecoder(config),
        q_z1=ImageEncoder(config, config.z1),
        q_z0=ImageEncoder(config, config.z0),
    )


class HVAEState(NamedTuple):
    """Decoder and encoder, each with its own Adam state."""

    p: TrainState
    q: TrainState


class Objectives(NamedTuple):
    """Per-item negative log-likelihoods of triples under p and under q; params first."""

    p_nll: Callable[[Params, HSample], jax.Array]
    q_nll: Callable[[Params, HSample], jax.Array]


def objectives(config: HVAEConfig) -> Objectives:
    """−log p(z1, x | z0) and −log q(z1, z0 | x) per triple (the uniform prior is a constant)."""
    nets = networks(config)
    image_ndim = len(config.event_shape)

    def p_nll(params: Params, s: HSample) -> jax.Array:
        z1_logits = nets.p_z1.apply(params["p_z1"], s.z0)
        x_logits = nets.p_x.apply(params["p_x"], s.z0, s.z1)
        return bernoulli_nll(z1_logits, s.z1, 1) + bernoulli_nll(x_logits, s.x, image_ndim)

    def q_nll(params: Params, s: HSample) -> jax.Array:
        z1_logits = nets.q_z1.apply(params["q_z1"], s.x)
        z0_logits = nets.q_z0.apply(params["q_z0"], s.x, s.z1)
        return bernoulli_nll(z1_logits, s.z1, 1) + bernoulli_nll(z0_logits, s.z0, 1)

    return Objectives(p_nll, q_nll)


def _check(config: HVAEConfig) -> None:
    if config.arch not in ("mlp", "conv"):
        raise ValueError(f"HVAEConfig.arch must be 'mlp' or 'conv', got {config.arch!r}")
    if config.arch == "conv" and tuple(config.event_shape) != (28, 28):
        raise ValueError(
            f"HVAEConfig.arch='conv' is the authors' 28×28 stack, got event_shape "
            f"{config.event_shape}"
        )


def hvae_player(config: HVAEConfig | str = "digits-small") -> NeuralPlayer:
    """The symmetric-learning HVAE player for ``config`` (a name from ``CONFIGS`` or a config).

    Its samples are named variables: the image ``x`` and, with ``share_latents``, its codes.
    """
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"unknown HVAE configuration {config!r}; known: {sorted(CONFIGS)}")
        config = CONFIGS[config]
    _check(config)
    nets = networks(config)
    obj = objectives(config)
    optimizer = adam(config.lr)
    shape = tuple(config.event_shape)

    def init(key: jax.Array) -> HVAEState:
        x, z0, z1 = jnp.zeros((1, *shape)), jnp.zeros((1, config.z0)), jnp.zeros((1, config.z1))
        params = init_params(
            key,
            {
                "p_z1": (nets.p_z1, (z0,)),
                "p_x": (nets.p_x, (z0, z1)),
                "q_z1": (nets.q_z1, (x,)),
                "q_z0": (nets.q_z0, (x, z1)),
            },
        )
        p = {name: params[name] for name in ("p_z1", "p_x")}
        q = {name: params[name] for name in ("q_z1", "q_z0")}
        return HVAEState(init_train_state(optimizer, p), init_train_state(optimizer, q))

    variables = (("x", binary(*shape)),)
    if config.share_latents:
        variables += (("z0", binary(config.z0)), ("z1", binary(config.z1)))

    # Noise blocks: completion uses (z1, z0), generation (z0, z1, x); see common.uniform_blocks.
    complete_sizes = [config.z1, config.z0]
    generate_sizes = [config.z0, config.z1, math.prod(shape)]

    def generate(noise: list[jax.Array], p: Params) -> HSample:
        """Ancestral sampling (z0, z1, x) ~ p from uniforms."""
        u0, u1, ux = noise
        z0 = (u0 < 0.5).astype(jnp.float32)
        z1 = bernoulli_from(u1, nets.p_z1.apply(p["p_z1"], z0))
        x = bernoulli_from(ux, nets.p_x.apply(p["p_x"], z0, z1))
        return HSample(x, z0, z1)

    def complete(noise: list[jax.Array], q: Params, x: jax.Array) -> HSample:
        """Real images completed with codes z ~ q(z | x); no gradient flows through the draw."""
        u1, u0 = noise
        z1 = bernoulli_from(u1, nets.q_z1.apply(q["q_z1"], x))
        z0 = bernoulli_from(u0, nets.q_z0.apply(q["q_z0"], x, z1))
        return jax.lax.stop_gradient(HSample(x, z0, z1))

    def weighted(nll: Callable) -> Callable:
        """The weighted mean of a per-item loss: ``(params, triples, weights) -> scalar``."""
        return lambda params, s, w: weighted_mean(nll(params, s), w)

    p_loss, q_loss = weighted(obj.p_nll), weighted(obj.q_nll)

    def sample(key: jax.Array, state: HVAEState, n: int) -> dict:
        triple = generate(uniform_blocks(key, n, generate_sizes), state.p.params)
        return {name: getattr(triple, name) for name, _ in variables}

    def loss(key: jax.Array, state: HVAEState, items: dict, weights: jax.Array) -> jax.Array:
        """Weighted one-sample negative ELBO: −log p(x, z) + log q(z | x), z ~ q(z | x)."""
        x = items["x"]
        s = complete(uniform_blocks(key, x.shape[0], complete_sizes), state.q.params, x)
        prior = config.z0 * math.log(2.0)
        per_item = prior + obj.p_nll(state.p.params, s) - obj.q_nll(state.q.params, s)
        return weighted_mean(per_item, weights)

    def triples(key: jax.Array, q: Params, received: Batch) -> dict:
        """Received items as triples: their codes where they travel (observed, as the authors
        treat them), else completed by q like real images (a sender without codes, e.g. a VAE)."""
        items, present = received.items, received.present or {}
        codes = [z for z in ("z0", "z1") if z in items]
        if len(codes) == 2 and not present:
            return items
        x = items["x"]
        done = complete(uniform_blocks(key, x.shape[0], complete_sizes), q, x)._asdict()
        for z in codes:  # a sender sends both codes or neither: the two masks are equal
            mask = present.get(z, jnp.ones(x.shape[0], bool))[:, None]
            done[z] = jnp.where(mask, items[z], done[z])
        return done

    def learn(
        key: jax.Array,
        state: HVAEState,
        own: Batch,
        synthetic: Batch,
        shared_slots: bool = False,
    ) -> tuple[HVAEState, Metrics]:
        """One symmetric-learning step; metrics: the p and q cross-entropies (nats per item)."""
        x = own.items["x"]
        noise = uniform_blocks(key, x.shape[0], complete_sizes + generate_sizes)
        received = Batch(
            triples(jax.random.fold_in(key, 1), state.q.params, synthetic), synthetic.weights
        )
        real = Batch(complete(noise[:2], state.q.params, x)._asdict(), own.weights)
        batch, weights = combine(real, received, shared_slots)
        p, value_p = train_step(optimizer, state.p, p_loss, HSample(**batch), weights)
        dreamt = Batch(generate(noise[2:], p.params)._asdict(), own.weights)
        batch, weights = combine(dreamt, received, shared_slots)
        q, value_q = train_step(optimizer, state.q, q_loss, HSample(**batch), weights)
        metrics = {"loss": value_p + value_q, "loss_p": value_p, "loss_q": value_q}
        return HVAEState(p, q), metrics

    name = "hvae" + repr(config).removeprefix("HVAEConfig")
    codes = ("z0", "z1") if config.share_latents else ()
    return NeuralPlayer(name, variables, ("x",), config, init, sample, loss, learn, codes)

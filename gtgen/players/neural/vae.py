"""A VAE player: Gaussian latent, Bernoulli or Gaussian decoder, trained on the weighted ELBO.

The simple neural baseline: one reparameterised Gaussian latent, an MLP or a small
convolutional encoder/decoder, one Adam optimiser. It models one variable ``x``: binary images
(``likelihood="bernoulli"``, the default) or real vectors or images (``likelihood="gaussian"``:
the decoder gives the mean, one learnable log σ per coordinate), so a VAE can play in one game
with Gaussian players on the same real data. Its samples are ``{"x": [n, *event_shape]}`` (no
latent codes travel with them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

from gtgen.players.base import Batch, Variable
from gtgen.players.neural.common import (
    MLP,
    ConvStack,
    Metrics,
    NeuralPlayer,
    TrainState,
    adam,
    bernoulli_from,
    bernoulli_nll,
    combine,
    gaussian_nll,
    init_params,
    init_train_state,
    normal_from,
    train_step,
    uniform_blocks,
    weighted_mean,
)


@dataclass(frozen=True)
class VAEConfig:
    """VAE hyperparameters; ``kind="conv"`` needs 2-D images with sides divisible by 4."""

    event_shape: tuple[int, ...] = (8, 8)
    kind: Literal["mlp", "conv"] = "mlp"
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    latent: int = 16
    hidden: tuple[int, ...] = (256,)
    width: int = 16  # channels of the first conv layer (conv kind)
    lr: float = 1e-3


class Encoder(nn.Module):
    """x ``[n, H, W]`` -> (mean, log-variance) of q(z | x), each ``[n, latent]``."""

    config: VAEConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        c = self.config
        h = x
        if c.kind == "conv":
            layers = ((c.width, 3, 2), (2 * c.width, 3, 2))
            h = nn.tanh(ConvStack(layers, padding="SAME")(h[..., None]))
        out = MLP(c.hidden, 2 * c.latent)(h.reshape(x.shape[0], -1))
        mean, log_var = jnp.split(out, 2, axis=-1)
        return mean, log_var


class Decoder(nn.Module):
    """z ``[n, latent]`` -> Bernoulli logits or Gaussian means ``[n, *event_shape]``."""

    config: VAEConfig

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        c = self.config
        if c.kind == "mlp":
            return MLP(c.hidden, math.prod(c.event_shape))(z).reshape(-1, *c.event_shape)
        height, width = c.event_shape
        grid = (height // 4, width // 4, 2 * c.width)
        h = nn.tanh(MLP(c.hidden, grid[0] * grid[1] * grid[2])(z)).reshape(-1, *grid)
        layers = ((c.width, 3, 2), (1, 3, 2))
        return ConvStack(layers, transpose=True, padding="SAME")(h)[..., 0]


def _check(config: VAEConfig) -> None:
    if config.kind not in ("mlp", "conv"):
        raise ValueError(f"VAEConfig.kind must be 'mlp' or 'conv', got {config.kind!r}")
    if config.likelihood not in ("bernoulli", "gaussian"):
        raise ValueError(
            f"VAEConfig.likelihood must be 'bernoulli' or 'gaussian', got {config.likelihood!r}"
        )
    if config.kind == "conv" and (
        len(config.event_shape) != 2 or any(s % 4 for s in config.event_shape)
    ):
        raise ValueError(
            f"VAEConfig.event_shape must be divisible by 4 for kind='conv', got {config.event_shape}"
        )


def vae_player(config: VAEConfig | None = None) -> NeuralPlayer:
    """The VAE player for ``config`` (default: MLP on 8×8 binary images)."""
    config = config or VAEConfig()
    _check(config)
    encoder, decoder = Encoder(config), Decoder(config)
    optimizer = adam(config.lr)
    shape = tuple(config.event_shape)
    gaussian = config.likelihood == "gaussian"

    def init(key: jax.Array) -> TrainState:
        modules = {
            "encoder": (encoder, (jnp.zeros((1, *shape)),)),
            "decoder": (decoder, (jnp.zeros((1, config.latent)),)),
        }
        params = init_params(key, modules)
        if gaussian:  # one learnable log σ per coordinate, starting at σ = 1
            params["log_sigma"] = jnp.zeros(shape)
        return init_train_state(optimizer, params)

    def reconstruction(params: dict, z: jax.Array, x: jax.Array) -> jax.Array:
        out = decoder.apply(params["decoder"], z)
        if gaussian:
            return gaussian_nll(out, params["log_sigma"], x, len(shape))
        return bernoulli_nll(out, x, len(shape))

    def neg_elbo(params: dict, key: jax.Array, x: jax.Array) -> jax.Array:
        """Per-item one-sample negative ELBO (reparameterised)."""
        mean, log_var = encoder.apply(params["encoder"], x)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        kl = 0.5 * (jnp.exp(log_var) + mean**2 - 1.0 - log_var).sum(-1)
        return reconstruction(params, z, x) + kl

    def objective(params: dict, key: jax.Array, x: jax.Array, weights: jax.Array) -> jax.Array:
        return weighted_mean(neg_elbo(params, key, x), weights)

    def sample(key: jax.Array, state: TrainState, n: int) -> dict:
        u_z, u_x = uniform_blocks(key, n, [config.latent, math.prod(shape)])
        out = decoder.apply(state.params["decoder"], normal_from(u_z))
        if gaussian:
            noise = normal_from(u_x).reshape(out.shape)
            return {"x": out + jnp.exp(state.params["log_sigma"]) * noise}
        return {"x": bernoulli_from(u_x, out)}

    def loss(key: jax.Array, state: TrainState, items: dict, weights: jax.Array) -> jax.Array:
        return objective(state.params, key, items["x"], weights)

    def learn(
        key: jax.Array,
        state: TrainState,
        own: Batch,
        synthetic: Batch,
        shared_slots: bool = False,
    ) -> tuple[TrainState, Metrics]:
        batch, weights = combine(own, synthetic, shared_slots)
        state, value = train_step(optimizer, state, objective, key, batch["x"], weights)
        return state, {"loss": value}

    name = "vae" + repr(config).removeprefix("VAEConfig")
    kind = "real" if gaussian else "binary"
    variables = (("x", Variable(kind, shape)),)
    return NeuralPlayer(name, variables, ("x",), config, init, sample, loss, learn)

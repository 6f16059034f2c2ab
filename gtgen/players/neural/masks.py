"""IV-C's player B: a conditional VAE of binary digit masks s given the class c.

B models (c, s): c the digit class, s a binary mask ``[H, W]``. Its latent z (``z`` bits, binary)
is its own and never travels (player A's z means something else). Networks (the authors' set,
PAPERS.md §1 "IV-C in the authors' code"; tanh MLPs here instead of their convolutions):

- p(z | c)     MLP on the one-hot class, Bernoulli logits;
- p(s | c, z)  MLP on (one-hot c, z), Bernoulli pixel logits;
- q(z | c, s)  MLP on the mask with the one-hot class added at every hidden layer.

It learns by symmetric learning (as the IV-A HVAE, ``gtgen.players.neural.hvae``): real pairs
completed by z ~ q(z | c, s) train p; pairs dreamt from the updated p (the real batch's classes,
z ~ p(z | c), s ~ p(s | c, z)) train q. Received (c, s) pairs are completed by q like real ones
and train p. p and q keep separate Adam states.

Its samples for others (the authors' sampler): c uniform, z ~ p(z | c), then ``alternations``
rounds of s ~ p(s | c, z), z ~ q(z | c, s), and the mask thresholded at ½ of the mean of
p(s | c, z). With ``alternations=0`` and ``threshold=False`` it is plain ancestral sampling
(c, z, s ~ p), whose class-conditional means are the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gtgen.checks import integer
from gtgen.players.base import Batch, binary, categorical
from gtgen.players.neural.common import (
    MLP,
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
class MaskConfig:
    """Sizes of player B: mask ``shape``, latent bits ``z``, MLP ``hidden`` widths, its sampler."""

    shape: tuple[int, int] = (8, 8)
    classes: int = 10
    z: int = 16
    hidden: tuple[int, ...] = (128,)
    lr: float = 1e-3
    alternations: int = 10  # the authors: 100
    threshold: bool = True


class MaskState(NamedTuple):
    """Decoder p (p(z | c), p(s | c, z)) and encoder q (q(z | c, s)), each with its own Adam."""

    p: TrainState
    q: TrainState


def _check(config: MaskConfig) -> None:
    if len(config.shape) != 2 or any(int(v) < 1 for v in config.shape):
        raise ValueError(f"MaskConfig.shape must be (H, W), got {config.shape!r}")
    for name in ("classes", "z"):
        integer(f"MaskConfig.{name}", getattr(config, name))
    a = config.alternations
    if isinstance(a, bool) or not isinstance(a, int) or a < 0:
        raise ValueError(f"MaskConfig.alternations must be a non-negative integer, got {a!r}")
    if not (isinstance(config.lr, int | float) and config.lr > 0):
        raise ValueError(f"MaskConfig.lr must be a positive number, got {config.lr!r}")


def mask_player(config: MaskConfig | None = None) -> NeuralPlayer:
    """Player B of IV-C for ``config``; its data observe (c, s)."""
    config = config or MaskConfig()
    _check(config)
    h, w = config.shape
    pixels, k = h * w, config.classes
    p_z, p_s = MLP(config.hidden, config.z), MLP(config.hidden, pixels)
    q_z = MLP(config.hidden, config.z)
    optimizer = adam(config.lr)

    def onehot(c: jax.Array) -> jax.Array:
        return jax.nn.one_hot(c, k)

    def s_logits(p: Params, c: jax.Array, z: jax.Array) -> jax.Array:
        return p_s.apply(p["p_s"], jnp.concatenate([onehot(c), z], -1)).reshape(-1, h, w)

    def z_posterior(q: Params, c: jax.Array, s: jax.Array) -> jax.Array:
        return q_z.apply(q["q_z"], s.reshape(s.shape[0], -1), onehot(c))

    def init(key: jax.Array) -> MaskState:
        c, z, s = jnp.zeros((1, k)), jnp.zeros((1, config.z)), jnp.zeros((1, pixels))
        params = init_params(
            key,
            {
                "p_z": (p_z, (c,)),
                "p_s": (p_s, (jnp.concatenate([c, z], -1),)),
                "q_z": (q_z, (s, c)),
            },
        )
        p = {n: params[n] for n in ("p_z", "p_s")}
        return MaskState(
            init_train_state(optimizer, p), init_train_state(optimizer, {"q_z": params["q_z"]})
        )

    def p_nll(p: Params, items: dict) -> jax.Array:
        c, z, s = items["c"], items["z"], items["s"]
        return bernoulli_nll(p_z.apply(p["p_z"], onehot(c)), z, 1) + bernoulli_nll(
            s_logits(p, c, z), s, 2
        )

    def q_nll(q: Params, items: dict) -> jax.Array:
        return bernoulli_nll(z_posterior(q, items["c"], items["s"]), items["z"], 1)

    def complete(u: jax.Array, q: Params, c: jax.Array, s: jax.Array) -> dict:
        z = bernoulli_from(u, z_posterior(q, c, s))
        return jax.lax.stop_gradient({"c": c, "z": z, "s": s})

    def dream(noise: list[jax.Array], p: Params, c: jax.Array) -> dict:
        u_z, u_s = noise
        z = bernoulli_from(u_z, p_z.apply(p["p_z"], onehot(c)))
        s = bernoulli_from(u_s, s_logits(p, c, z))
        return jax.lax.stop_gradient({"c": c, "z": z, "s": s})

    def sample(key: jax.Array, state: MaskState, n: int) -> dict:
        """``{"c", "s"}``: the authors' sampler (see the module docstring)."""
        p, q = state.p.params, state.q.params
        k_c, k_0, k_alt = jax.random.split(key, 3)
        c = jax.random.randint(k_c, (n,), 0, k, jnp.int32)
        u_z, u_s = uniform_blocks(k_0, n, [config.z, pixels])
        z = bernoulli_from(u_z, p_z.apply(p["p_z"], onehot(c)))

        def alternate(z, key):
            u_s, u_z = uniform_blocks(key, n, [pixels, config.z])
            s = bernoulli_from(u_s, s_logits(p, c, z))
            return bernoulli_from(u_z, z_posterior(q, c, s)), None

        if config.alternations:
            z, _ = jax.lax.scan(alternate, z, jax.random.split(k_alt, config.alternations))
        logits = s_logits(p, c, z)
        s = (logits > 0).astype(jnp.float32) if config.threshold else bernoulli_from(u_s, logits)
        return {"c": c, "s": s}

    def loss(key: jax.Array, state: MaskState, items: dict, weights: jax.Array) -> jax.Array:
        """Weighted one-sample negative ELBO −log p(z, s | c) + log q(z | c, s), z ~ q."""
        c, s = items["c"], items["s"]
        done = complete(uniform_blocks(key, c.shape[0], [config.z])[0], state.q.params, c, s)
        per_item = p_nll(state.p.params, done) - q_nll(state.q.params, done)
        return weighted_mean(per_item, weights)

    def p_loss(p, items, weights):
        return weighted_mean(p_nll(p, items), weights)

    def q_loss(q, items, weights):
        return weighted_mean(q_nll(q, items), weights)

    def learn(
        key: jax.Array,
        state: MaskState,
        own: Batch,
        synthetic: Batch,
        shared_slots: bool = False,
    ) -> tuple[MaskState, Metrics]:
        """One symmetric-learning step; metrics: the p and q cross-entropies (nats per item)."""
        c, s = own.items["c"], own.items["s"]
        n, n_syn = c.shape[0], synthetic.weights.shape[0]
        u_real, u_z, u_s = uniform_blocks(key, n, [config.z, config.z, pixels])
        u_syn = uniform_blocks(jax.random.fold_in(key, 1), n_syn, [config.z])[0]
        q0 = state.q.params
        real = Batch(complete(u_real, q0, c, s), own.weights)
        received = Batch(
            complete(u_syn, q0, synthetic.items["c"], synthetic.items["s"]), synthetic.weights
        )
        batch, weights = combine(real, received, shared_slots)
        p, value_p = train_step(optimizer, state.p, p_loss, batch, weights)
        dreamt = dream([u_z, u_s], p.params, c)
        q, value_q = train_step(optimizer, state.q, q_loss, dreamt, own.weights)
        return MaskState(p, q), {"loss": value_p + value_q, "loss_p": value_p, "loss_q": value_q}

    name = "masks" + repr(config).removeprefix("MaskConfig")
    variables = (("c", categorical(config.classes)), ("s", binary(h, w)))
    return NeuralPlayer(name, variables, ("c", "s"), config, init, sample, loss, learn)

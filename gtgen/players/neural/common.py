"""What every neural player shares: the player tuple, train state, layers, losses, batches.

Neural players follow the optax pattern: a NamedTuple of pure functions over explicit pytrees
(flax.linen parameters and optax states), so that the states of many players can be stacked
along a leading axis and vmapped by the exchange round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.special import ndtri

from gtgen.players.base import Batch, Samples, Variables
from gtgen.players.neural.conv import MatmulConv

Params = Any  # a flax variables pytree
State = Any  # a player's whole train state (parameters and optimiser states)
Metrics = dict[str, jax.Array]


class NeuralPlayer(NamedTuple):
    """A neural player: pure functions over its train state (see ``gtgen.players.base``).

    ``name``       hashable, includes the full configuration: equal names form one group.
    ``variables``  the named variables it models and exchanges, e.g. ``(("x", binary(8, 8)),)``.
    ``observed``   the names its private data holds (the others are latent).
    ``config``     the frozen configuration the functions were built from.
    ``init``       ``init(key) -> state``.
    ``sample``     ``sample(key, state, n) -> {name: [n, ...]}``: named synthetic samples.
    ``loss``       ``loss(key, state, items, weights) -> scalar``: the weighted mean per-item loss
                   on ``items`` (a dict of the observed variables), e.g. a one-sample negative
                   ELBO (exact likelihoods are intractable here).
    ``learn``      ``learn(key, state, own, synthetic, shared_slots=False) -> (state, metrics)``:
                   one learning step on the player's own items and the received synthetic items,
                   two weighted :class:`gtgen.players.base.Batch` es; the loss is the weighted
                   mean over all items. With ``shared_slots=True`` the caller promises that slot
                   k holds the own item where ``own.weights[k] > 0`` and the synthetic one
                   otherwise, so the step runs on B items instead of 2B.
    ``completes``  the variables it completes itself (like its own data) when a sender does not
                   send them, e.g. the HVAE's codes.
    ``receives``   False for a player whose learning step ignores what it receives (a data
                   sender): the round hands it no synthetic items, and a player whose samples
                   nobody else receives draws none.
    """

    name: str
    variables: Variables
    observed: tuple[str, ...]
    config: Any
    init: Callable[[jax.Array], State]
    sample: Callable[[jax.Array, State, int], Samples]
    loss: Callable[[jax.Array, State, Samples, jax.Array], jax.Array]
    learn: Callable[..., tuple[State, Metrics]]
    completes: tuple[str, ...] = ()  # variables it completes itself when a sender lacks them
    receives: bool = True  # False: its learning step ignores synthetic items (a data sender)

    reads = "items"  # the exchange round hands it weighted batches of items


class TrainState(NamedTuple):
    """Parameters and the optimiser state that goes with them."""

    params: Params
    opt_state: optax.OptState


def adam(learning_rate: float) -> optax.GradientTransformation:
    """Adam whose learning rate lives in the optimiser state.

    The rate is then an array leaf of the train state, not a constant of the compiled
    program, so a sweep over step sizes sets it per player and compiles once.
    """
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


def init_train_state(optimizer: optax.GradientTransformation, params: Params) -> TrainState:
    """A fresh train state for ``params``."""
    return TrainState(params, optimizer.init(params))


def train_step(
    optimizer: optax.GradientTransformation,
    state: TrainState,
    loss_fn: Callable[..., jax.Array],
    *args: Any,
) -> tuple[TrainState, jax.Array]:
    """One optimiser step on ``loss_fn(params, *args)``; returns the new state and the loss."""
    loss, grads = jax.value_and_grad(loss_fn)(state.params, *args)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state), loss


def bernoulli_nll(logits: jax.Array, x: jax.Array, event_ndim: int) -> jax.Array:
    """−log Bernoulli(x | sigmoid(logits)) summed over the last ``event_ndim`` axes."""
    nll = optax.sigmoid_binary_cross_entropy(logits, x)
    return nll.sum(axis=tuple(range(-event_ndim, 0)))


# Randomness: every random call site costs XLA compile time (seconds on a CPU, more under vmap),
# so each player function draws one block of uniforms and transforms it.


def uniform_blocks(key: jax.Array, n: int, sizes: list[int]) -> list[jax.Array]:
    """One draw of uniforms in (0, 1), ``[n, sum(sizes)]``, cut into blocks ``[n, size]``."""
    eps = float(jnp.finfo(jnp.float32).eps)
    u = jax.random.uniform(key, (n, sum(sizes)), minval=eps, maxval=1.0)
    return jnp.split(u, np.cumsum(sizes)[:-1].tolist(), axis=1)


def bernoulli_from(u: jax.Array, logits: jax.Array) -> jax.Array:
    """Binary float32 sample of Bernoulli(sigmoid(logits)) from uniforms ``u`` (same size)."""
    return (u.reshape(logits.shape) < jax.nn.sigmoid(logits)).astype(jnp.float32)


def normal_from(u: jax.Array) -> jax.Array:
    """Standard normal sample from uniforms in (0, 1) (inverse CDF)."""
    return ndtri(u)


def _fan_in(path: tuple[str, ...], kernel_shape: tuple[int, ...]) -> int:
    """Fan-in as PyTorch computes it (for a transposed convolution: from its output channels)."""
    if path[-2].startswith("ConvTranspose"):
        return math.prod(kernel_shape[:-2]) * kernel_shape[-1]
    return math.prod(kernel_shape[:-1])


def init_params(key: jax.Array, modules: dict[str, tuple[nn.Module, tuple]]) -> dict:
    """Parameters of several flax modules, every weight and bias ~ U(±1/√fan_in).

    This is PyTorch's default initialisation, which the authors' models start from, and it
    is drawn in one random call for all modules (flax's own ``init`` makes two per parameter,
    each seconds of compile time). ``modules`` maps a name to ``(module, example inputs)``.
    """
    shapes = {
        name: jax.eval_shape(lambda m=m, a=args: m.init(jax.random.key(0), *a))
        for name, (m, args) in modules.items()
    }
    flat, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    paths = [tuple(k.key for k in path) for path, _ in flat]
    fan_in = {
        p[:-1]: _fan_in(p, leaf.shape) for p, (_, leaf) in zip(paths, flat) if p[-1] == "kernel"
    }
    sizes = [leaf.size for _, leaf in flat]
    u = jax.random.uniform(key, (sum(sizes),), minval=-1.0, maxval=1.0)
    pieces = jnp.split(u, np.cumsum(sizes)[:-1].tolist())
    leaves = [
        piece.reshape(leaf.shape) / math.sqrt(fan_in[p[:-1]])
        for p, piece, (_, leaf) in zip(paths, pieces, flat)
    ]
    return jax.tree.unflatten(treedef, leaves)


def weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    """Σ w·v / Σ w; zero when all weights are zero (a player that sees nothing learns nothing)."""
    total = weights.sum()
    return (weights * values).sum() / jnp.where(total > 0, total, 1.0)


def combine(own: Batch, synthetic: Batch, shared_slots: bool) -> tuple[Samples, jax.Array]:
    """One weighted batch from own and synthetic items (the same variables).

    Separate slots: the two batches are concatenated (2B items). Shared slots: slot k takes
    the own item where ``own.weights[k] > 0`` and the synthetic one otherwise (B items).
    """
    names = list(own.items)
    synth = {n: synthetic.items[n] for n in names}
    if not shared_slots:
        batch = {n: jnp.concatenate([own.items[n], synth[n]]) for n in names}
        return batch, jnp.concatenate([own.weights, synthetic.weights])
    take_own = own.weights > 0

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.where(take_own.reshape(take_own.shape + (1,) * (a.ndim - 1)), a, b)

    batch = {n: pick(own.items[n], synth[n]) for n in names}
    return batch, jnp.where(take_own, own.weights, synthetic.weights)


def gaussian_nll(mean: jax.Array, log_sigma: jax.Array, x: jax.Array, event_ndim: int) -> jax.Array:
    """−log N(x | mean, σ²) summed over the last ``event_ndim`` axes (σ broadcast)."""
    z = (x - mean) * jnp.exp(-log_sigma)
    nll = 0.5 * z * z + log_sigma + 0.5 * math.log(2.0 * math.pi)
    return nll.sum(axis=tuple(range(-event_ndim, 0)))


class MLP(nn.Module):
    """tanh MLP with a linear output.

    ``cond`` (optional) enters every hidden layer through a bias-free linear map, as the
    authors feed z1 into q(z0 | z1, x); ``skip`` adds a bias-free linear map from the input to
    the output, as in their p(z1 | z0).
    """

    hidden: tuple[int, ...]
    out: int
    skip: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        h = x
        for features in self.hidden:
            h = nn.Dense(features)(h)
            if cond is not None:
                h = h + nn.Dense(features, use_bias=False)(cond)
            h = nn.tanh(h)
        y = nn.Dense(self.out)(h)
        if self.skip:
            y = y + nn.Dense(self.out, use_bias=False)(x)
        return y


ConvLayer = tuple[int, int, int]  # (features, kernel size, stride)

# How convolutions are computed: "xla" (lax.conv_general_dilated / lax.conv_transpose, what
# flax.linen.Conv and ConvTranspose do), "matmul" (gtgen.players.neural.conv: im2col / col2im and
# one matrix product per layer, with the same parameters, outputs and gradients, tested), or
# "auto": "matmul" where JAX's default backend is a CPU, "xla" elsewhere. On the 2-core CPU,
# XLA's convolutions of players batched by vmap (grouped convolutions) and its transposed
# convolutions' kernel gradients take a generic slow path (benchmarks/RESULTS.md); on a GPU XLA's
# own convolutions (cuDNN) stay in charge.
CONV_IMPLEMENTATIONS = ("auto", "xla", "matmul")


def conv_implementation(requested: str = "auto") -> str:
    """The implementation ``requested`` names ("auto" resolved for JAX's default backend)."""
    if requested not in CONV_IMPLEMENTATIONS:
        raise ValueError(f"conv: must be one of {CONV_IMPLEMENTATIONS}, got {requested!r}")
    if requested == "auto":
        return "matmul" if jax.default_backend() == "cpu" else "xla"
    return requested


class ConvStack(nn.Module):
    """Convolutions (or transposed ones) with tanh between layers and a linear last layer.

    Inputs are NHWC. ``cond`` (optional, ``[batch, c]``) is added to every hidden layer through
    a bias-free linear map, broadcast over the spatial positions. ``impl`` chooses how the
    convolutions are computed (``conv_implementation``); the parameters are the same either way.
    """

    layers: tuple[ConvLayer, ...]
    transpose: bool = False
    padding: str = "VALID"
    impl: str = "auto"

    @nn.compact
    def __call__(self, h: jax.Array, cond: jax.Array | None = None) -> jax.Array:
        matmul = conv_implementation(self.impl) == "matmul"
        conv = nn.ConvTranspose if self.transpose else nn.Conv
        prefix = "ConvTranspose" if self.transpose else "Conv"
        last = len(self.layers) - 1
        for i, (features, kernel, stride) in enumerate(self.layers):
            if matmul:
                h = MatmulConv(
                    features, kernel, stride, self.transpose, self.padding, name=f"{prefix}_{i}"
                )(h)
            else:
                h = conv(
                    features,
                    (kernel, kernel),
                    strides=(stride, stride),
                    padding=self.padding,
                    name=f"{prefix}_{i}",
                )(h)
            if i == last:
                break
            if cond is not None:
                h = h + nn.Dense(features, use_bias=False)(cond)[..., None, None, :]
            h = nn.tanh(h)
        return h

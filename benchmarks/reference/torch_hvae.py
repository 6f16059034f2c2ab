"""The authors' IV-A model and iteration in PyTorch: eager mode, the two players one after another.

The model is gtgen's paper-mnist HVAE (gtgen/players/neural/hvae.py, ``CONFIGS["paper-mnist"]``),
layer for layer, which is the authors' mnist/hvae.py (github.com/dschles70/flics-2025):
- p(z1 | z0): Linear(n0→600) tanh, Linear(600→600) tanh, Linear(600→n1), plus a bias-free
  Linear(n0→n1) skip;
- p(x | z0, z1): ConvTranspose2d from the code (n0 + n1 channels at 1×1) through
  4w (4×4, stride 1) → 2w (3×3, stride 2) → 2w (3×3) → 2w (3×3) → w (3×3, stride 2) → 1 (2×2),
  spatial 1 → 4 → 9 → 11 → 13 → 27 → 28, tanh between layers, Bernoulli logits out;
- q(z1 | x): the mirrored Conv2d stack 1 → w (2×2) → 2w (3×3, stride 2) → 2w → 2w → 4w (3×3,
  stride 2) → n1 (4×4), spatial 28 → 27 → 13 → 11 → 9 → 4 → 1;
- q(z0 | z1, x): the same stack ending in n0, z1 added to every hidden layer through a bias-free
  Linear; w = 32, n0 = 30, n1 = 100; p and q each with their own Adam.

One iteration (the authors' mnist/main.py, with gtgen's composition ``round(B·a)`` own images):
both players first draw ``B − round(B·a)`` triples (z0, z1, x) ~ p with no gradient; then each in
turn takes one symmetric-learning step (the authors' ``HVAE.optimize``): complete its own images
with z ~ q(z | x), one Adam step of p on the completed own and the received triples, dream
``round(B·a)`` triples from the updated p, one Adam step of q on the dreams and the received
triples. Own images carry the authors' salt-and-pepper noise (flip probability 0.001).

Needs ``torch`` (the ``[reference]`` extra); gtgen itself never imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

DECODER = (
    (4, 4, 1),
    (2, 3, 2),
    (2, 3, 1),
    (2, 3, 1),
    (1, 3, 2),
)  # (width multiple, kernel, stride)
ENCODER = ((1, 2, 1), (2, 3, 2), (2, 3, 1), (2, 3, 1), (4, 3, 2))


class Prior(nn.Module):
    """p(z1 | z0): a tanh MLP with a bias-free skip from z0 to the logits."""

    def __init__(self, z0: int, z1: int, hidden: Sequence[int]) -> None:
        super().__init__()
        sizes = (z0, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], z1)
        self.skip = nn.Linear(z0, z1, bias=False)

    def forward(self, z0: torch.Tensor) -> torch.Tensor:
        h = z0
        for layer in self.hidden:
            h = torch.tanh(layer(h))
        return self.out(h) + self.skip(z0)


class Decoder(nn.Module):
    """p(x | z0, z1): transposed convolutions from the code at 1×1 to 28×28 logits."""

    def __init__(self, code: int, width: int) -> None:
        super().__init__()
        channels = [code] + [m * width for m, _, _ in DECODER] + [1]
        shapes = [(k, s) for _, k, s in DECODER] + [(2, 1)]
        self.layers = nn.ModuleList(
            nn.ConvTranspose2d(a, b, k, s) for a, b, (k, s) in zip(channels, channels[1:], shapes)
        )

    def forward(self, z0: torch.Tensor, z1: torch.Tensor) -> torch.Tensor:
        h = torch.cat((z0, z1), dim=1)[:, :, None, None]
        for layer in self.layers[:-1]:
            h = torch.tanh(layer(h))
        return self.layers[-1](h)[:, 0]


class Encoder(nn.Module):
    """Logits of a latent given x [n, 28, 28]; with ``cond`` a code added to every hidden layer
    through a bias-free Linear (the authors' q(z0 | z1, x))."""

    def __init__(self, out: int, width: int, cond: int = 0) -> None:
        super().__init__()
        channels = [1] + [m * width for m, _, _ in ENCODER] + [out]
        shapes = [(k, s) for _, k, s in ENCODER] + [(4, 1)]
        self.layers = nn.ModuleList(
            nn.Conv2d(a, b, k, s) for a, b, (k, s) in zip(channels, channels[1:], shapes)
        )
        self.cond = nn.ModuleList(
            nn.Linear(cond, c, bias=False) for c in (channels[1:-1] if cond else ())
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = x[:, None]
        for i, layer in enumerate(self.layers[:-1]):
            h = layer(h)
            if cond is not None:
                h = h + self.cond[i](cond)[:, :, None, None]
            h = torch.tanh(h)
        return self.layers[-1](h).flatten(1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log Bernoulli(x | sigmoid(logits)) summed over all but the first axis."""
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return nll.flatten(1).sum(1)


class HVAE(nn.Module):
    """The paper-mnist HVAE with its two Adam optimisers (p: prior and decoder, q: encoders)."""

    def __init__(
        self,
        z0: int = 30,
        z1: int = 100,
        prior_hidden: Sequence[int] = (600, 600),
        width: int = 32,
        lr: float = 1e-4,
    ) -> None:
        super().__init__()
        self.z0 = z0
        self.p_z1 = Prior(z0, z1, prior_hidden)
        self.p_x = Decoder(z0 + z1, width)
        self.q_z1 = Encoder(z1, width)
        self.q_z0 = Encoder(z0, width, cond=z1)
        p = [*self.p_z1.parameters(), *self.p_x.parameters()]
        q = [*self.q_z1.parameters(), *self.q_z0.parameters()]
        self.optimizer_p = torch.optim.Adam(p, lr=lr)
        self.optimizer_q = torch.optim.Adam(q, lr=lr)

    @torch.no_grad()
    def sample_p(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` triples (z0, z1, x) ~ p by ancestral sampling."""
        z0 = (torch.rand(n, self.z0) < 0.5).float()
        z1 = torch.bernoulli(torch.sigmoid(self.p_z1(z0)))
        x = torch.bernoulli(torch.sigmoid(self.p_x(z0, z1)))
        return z0, z1, x

    @torch.no_grad()
    def sample_q(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes (z0, z1) ~ q(z | x) for images ``x``."""
        z1 = torch.bernoulli(torch.sigmoid(self.q_z1(x)))
        z0 = torch.bernoulli(torch.sigmoid(self.q_z0(x, z1)))
        return z0, z1

    def p_nll(self, z0: torch.Tensor, z1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-item −log p(z1, x | z0)."""
        return bernoulli_nll(self.p_z1(z0), z1) + bernoulli_nll(self.p_x(z0, z1), x)

    def q_nll(self, z0: torch.Tensor, z1: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-item −log q(z1, z0 | x)."""
        return bernoulli_nll(self.q_z1(x), z1) + bernoulli_nll(self.q_z0(x, z1), z0)

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def learn(self, x: torch.Tensor, received: tuple[torch.Tensor, ...] | None) -> tuple:
        """One symmetric-learning step on own images ``x`` and received triples (z0, z1, x);
        returns the p and q losses (mean per item) before the steps."""

        def with_received(triple):
            if received is None:
                return triple
            return tuple(torch.cat((a, b)) for a, b in zip(triple, received))

        z0, z1 = self.sample_q(x)
        loss_p = self._step(self.optimizer_p, self.p_nll(*with_received((z0, z1, x))).mean())
        dreamt = self.sample_p(x.shape[0])
        loss_q = self._step(self.optimizer_q, self.q_nll(*with_received(dreamt)).mean())
        return loss_p, loss_q


def make_players(n: int = 2, seed: int = 0, **model_args) -> list[HVAE]:
    """``n`` independently initialised models (PyTorch's default initialisation)."""
    torch.manual_seed(seed)
    return [HVAE(**model_args) for _ in range(n)]


def iteration(
    players: list[HVAE],
    data: Sequence[torch.Tensor],
    a: float,
    batch: int = 1000,
    flip_prob: float = 0.001,
) -> list[tuple[float, float]]:
    """One IV-A iteration of two players (see module docstring): ``data[i]`` holds player i's
    binary images ``[n_i, 28, 28]``; ``a`` is the self-weight. Returns each player's losses."""
    if len(players) != 2:
        raise ValueError(f"IV-A has two players, got {len(players)}")
    n_own = round(batch * a)  # half to even, as gtgen's jnp.round
    n_gen = batch - n_own
    sent = [p.sample_p(n_gen) if n_gen else None for p in players]  # before anyone updates
    losses = []
    for i, player in enumerate(players):
        own = data[i][torch.randint(len(data[i]), (n_own,))]
        flip = (torch.rand_like(own) < flip_prob).float()
        own = own * (1 - flip) + (1 - own) * flip
        losses.append(player.learn(own, sent[1 - i]))
    return losses


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_gtgen_params(model: HVAE, p: dict, q: dict) -> None:
    """Copy gtgen's paper-mnist parameters (``state.p.params``, ``state.q.params`` of one player,
    numpy-convertible leaves) into ``model``: the two then compute the same function. Dense
    kernels are ``[in, out]`` (torch: ``[out, in]``); conv kernels ``[k, k, in, out]`` (Conv2d:
    ``[out, in, k, k]``); flax's ConvTranspose correlates with its kernel where torch's
    ConvTranspose2d convolves, so that kernel is flipped (``[in, out, k, k]``)."""

    def tensor(a, *axes, flip: bool = False) -> torch.Tensor:
        t = torch.as_tensor(np.array(a, np.float32)).permute(*axes)
        return t.flip(-2, -1) if flip else t

    def dense(layer: nn.Linear, leaf: dict) -> None:
        layer.weight.copy_(tensor(leaf["kernel"], 1, 0))
        if layer.bias is not None:
            layer.bias.copy_(tensor(leaf["bias"], 0))

    def convs(layers: nn.ModuleList, stack: dict, prefix: str, transpose: bool) -> None:
        axes = (2, 3, 0, 1) if transpose else (3, 2, 0, 1)
        for i, layer in enumerate(layers):
            leaf = stack[f"{prefix}_{i}"]
            layer.weight.copy_(tensor(leaf["kernel"], *axes, flip=transpose))
            layer.bias.copy_(tensor(leaf["bias"], 0))

    with torch.no_grad():
        prior = p["p_z1"]["params"]
        for i, layer in enumerate([*model.p_z1.hidden, model.p_z1.out, model.p_z1.skip]):
            dense(layer, prior[f"Dense_{i}"])
        convs(model.p_x.layers, p["p_x"]["params"]["ConvStack_0"], "ConvTranspose", True)
        for name, encoder in (("q_z1", model.q_z1), ("q_z0", model.q_z0)):
            stack = q[name]["params"]["ConvStack_0"]
            convs(encoder.layers, stack, "Conv", False)
            for i, layer in enumerate(encoder.cond):
                dense(layer, stack[f"Dense_{i}"])

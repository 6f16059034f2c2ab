"""The paper-style VAE exchange in PyTorch: eager mode, a Python loop over players.

What a research script written the way the authors write theirs does each round
(PAPERS.md §1): every player first draws a batch of synthetic images from its current model
(no gradient); then, one player at a time, it builds its batch — a share ``a = α_ii`` of its own
data (``round(B·a)`` images drawn with replacement), the other ``B − round(B·a)`` slots filled
with synthetic images whose senders are drawn from row i of α without the diagonal — and takes
one Adam step on the mean negative ELBO of that batch.

The model is gtgen's VAE player (gtgen/players/neural/vae.py), layer for layer:
- encoder: [kind="conv": Conv(1→w, 3×3, stride 2) tanh, Conv(w→2w, 3×3, stride 2) tanh, flatten]
  then Linear → tanh per hidden size → Linear to 2·latent (mean, log-variance);
- decoder: Linear → tanh per hidden size → Linear to H·W logits (MLP), or to (H/4)(W/4)·2w,
  tanh, ConvTranspose(2w→w, 3×3, stride 2) tanh, ConvTranspose(w→1, 3×3, stride 2) (conv);
- Bernoulli decoder, one-sample reparameterised ELBO, PyTorch's default initialisation,
  Adam (β = 0.9, 0.999, ε = 1e-8) at the configuration's learning rate.
Convolutions use PyTorch's usual symmetric padding (padding=1, output_padding=1), which gives
the same shapes and the same arithmetic as flax's "SAME" (whose padding is one-sided for
stride 2); only the alignment of the kernel on the border differs.

Needs ``torch`` (the ``[reference]`` extra); gtgen itself never imports this module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def set_threads(n: int | None = None) -> int:
    """Use all of the machine's cores (or ``n``) for intra-op parallelism; returns the count."""
    n = n or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with tanh between them (linear output), as gtgen's MLP."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """gtgen's ``VAEConfig`` model: Gaussian latent, Bernoulli decoder (see module docstring)."""

    def __init__(
        self,
        kind: str = "mlp",
        event_shape: tuple[int, int] = (8, 8),
        latent: int = 16,
        hidden: Sequence[int] = (256,),
        width: int = 16,
    ) -> None:
        super().__init__()
        if kind not in ("mlp", "conv"):
            raise ValueError(f"kind must be 'mlp' or 'conv', got {kind!r}")
        self.kind, self.event_shape, self.latent = kind, tuple(event_shape), latent
        height, width_px = self.event_shape
        hidden = tuple(hidden)
        if kind == "mlp":
            self.enc_conv = None
            self.encoder = _mlp((height * width_px, *hidden, 2 * latent))
            self.decoder = _mlp((latent, *hidden, height * width_px))
            self.dec_conv = None
        else:
            w = width
            self.grid = (2 * w, height // 4, width_px // 4)  # NCHW
            self.enc_conv = nn.Sequential(
                nn.Conv2d(1, w, 3, stride=2, padding=1),
                nn.Tanh(),
                nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
                nn.Tanh(),
            )
            self.encoder = _mlp((math.prod(self.grid), *hidden, 2 * latent))
            self.decoder = _mlp((latent, *hidden, math.prod(self.grid)))
            self.dec_conv = nn.Sequential(
                nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1),
                nn.Tanh(),
                nn.ConvTranspose2d(w, 1, 3, stride=2, padding=1, output_padding=1),
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[n, H, W]`` -> mean and log-variance of q(z | x), each ``[n, latent]``."""
        h = x
        if self.enc_conv is not None:
            h = self.enc_conv(h[:, None])
        mean, log_var = self.encoder(h.flatten(1)).chunk(2, dim=-1)
        return mean, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``[n, latent]`` -> Bernoulli logits ``[n, H, W]``."""
        h = self.decoder(z)
        if self.dec_conv is not None:
            h = self.dec_conv(torch.tanh(h).view(-1, *self.grid))
        return h.view(-1, *self.event_shape)

    def neg_elbo(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        """Per-item one-sample negative ELBO; ``eps`` fixes the reparameterisation noise."""
        mean, log_var = self.encode(x)
        if eps is None:
            eps = torch.randn_like(mean)
        z = mean + torch.exp(0.5 * log_var) * eps
        logits = self.decode(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2))
        kl = 0.5 * (torch.exp(log_var) + mean**2 - 1.0 - log_var).sum(-1)
        return recon + kl

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` binary images ``[n, H, W]`` from the model."""
        logits = self.decode(torch.randn(n, self.latent))
        return torch.bernoulli(torch.sigmoid(logits))


class Player:
    """A VAE and its own Adam optimiser."""

    def __init__(self, lr: float = 1e-3, **model_args) -> None:
        self.model = VAE(**model_args)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)

    def step(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> float:
        """One Adam step on the mean negative ELBO of ``x``; returns the loss before the step."""
        loss = self.model.neg_elbo(x, eps).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


def make_players(n: int, seed: int = 0, lr: float = 1e-3, **model_args) -> list[Player]:
    """``n`` independently initialised players (PyTorch's default initialisation)."""
    torch.manual_seed(seed)
    return [Player(lr, **model_args) for _ in range(n)]


def exchange_round(
    players: list[Player],
    data: list[torch.Tensor],
    alpha: np.ndarray,
    batch: int,
) -> list[float]:
    """One round: all players sample, then each player updates on its α-composed batch.

    ``data[i]`` holds player i's own binary images ``[n_i, H, W]``; ``alpha`` is ``[N, N]``,
    row-stochastic. Returns the players' losses (before their steps).
    """
    sent = torch.stack([p.model.sample(batch) for p in players])  # before anyone updates
    losses = []
    for i, player in enumerate(players):
        n_own = round(batch * float(alpha[i, i]))  # half to even, as jnp.round
        own = data[i][torch.randint(len(data[i]), (n_own,))]
        parts = [own]
        off = torch.as_tensor(np.delete(alpha[i], i), dtype=torch.float32)
        if n_own < batch and float(off.sum()) > 0:
            src = torch.multinomial(off, batch - n_own, replacement=True)
            src = src + (src >= i).long()  # back to player indices (the diagonal was removed)
            parts.append(sent[src, torch.arange(n_own, batch)])
        losses.append(player.step(torch.cat(parts)))
    return losses


def train(
    players: list[Player],
    data: list[torch.Tensor],
    alpha: np.ndarray,
    batch: int,
    rounds: int,
) -> list[list[float]]:
    """``rounds`` exchange rounds; the per-round losses of every player."""
    return [exchange_round(players, data, alpha, batch) for _ in range(rounds)]


def one_step_losses(seed: int = 0, batch: int = 64, **model_args) -> tuple[float, float]:
    """Loss of one fresh player on a fixed random binary batch (fixed noise), before and after
    one Adam step: the second must be lower."""
    torch.manual_seed(seed)
    player = Player(**model_args)
    shape = player.model.event_shape
    x = torch.bernoulli(torch.full((batch, *shape), 0.3))
    eps = torch.randn(batch, player.model.latent)
    before = player.step(x, eps)
    with torch.no_grad():
        after = float(player.model.neg_elbo(x, eps).mean())
    return before, after

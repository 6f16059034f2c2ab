"""The authors' IV-B cooperative loop in PyTorch: eager mode, a Python loop over players.

What their ``fmnist/main_coop.py`` does each iteration (PAPERS.md §1, "IV-B in the authors'
code"): every player first generates ``10·bs`` labelled pairs (c uniform, x from its image model,
no gradient); then, one player at a time, it concatenates its real pairs (Gaussian noise 0.01
added) with the three partners' generated pairs and takes one symmetric step: the classifier on
the batch doubled by (c, x̃) with x̃ from its own image model, one Adam step; the image model on
the batch doubled by (c̃, x) with c̃ from its own classifier, symmetric learning (p-step on the
pairs completed by q, q-step on dreams), one Adam step.

The model is gtgen's joint player (gtgen/players/neural/joint.py), network for network, with the
authors' layers: for ``arch="conv"`` their Encoder / Decoder (28×28: kernels 2, 3/2, 3, 3, 3/2, 4;
8×8: gtgen's shortened stacks), for ``arch="mlp"`` tanh MLPs of 16·width units; p(z1 | z0, c) and
q(z0 | z1, c) MLPs of width 4·(10 + z0 + z1); q(z1 | x, c) adds a bias-free linear map of c; one
global learnable log σ; Adam at the configuration's rate, PyTorch's default initialisation.

Needs ``torch`` (the ``[reference]`` extra); gtgen itself never imports this module.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.reference.torch_vae import _mlp
from gtgen.players.neural.joint import JointConfig, decoder_layers, encoder_layers


class _Stack(nn.Module):
    """gtgen's ConvStack in PyTorch: VALID convolutions (or transposed), tanh between."""

    def __init__(self, cin: int, layers, transpose: bool):
        super().__init__()
        conv = nn.ConvTranspose2d if transpose else nn.Conv2d
        mods, prev = [], cin
        for features, kernel, stride in layers:
            mods.append(conv(prev, features, kernel, stride))
            prev = features
        self.convs = nn.ModuleList(mods)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = torch.tanh(h)
        return h


class _Encoder(nn.Module):
    def __init__(self, config: JointConfig, out: int):
        super().__init__()
        self.mlp = config.arch == "mlp"
        pixels = math.prod(config.event_shape)
        w = 16 * config.width
        self.net = (
            _mlp([pixels, w, w, out])
            if self.mlp
            else _Stack(1, encoder_layers(config.event_shape, config.width, out), False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mlp:
            return self.net(x.flatten(1))
        return self.net(x[:, None]).flatten(1)


class _Decoder(nn.Module):
    def __init__(self, config: JointConfig, cin: int):
        super().__init__()
        self.mlp, self.shape = config.arch == "mlp", tuple(config.event_shape)
        w = 16 * config.width
        self.net = (
            _mlp([cin, w, w, math.prod(self.shape)])
            if self.mlp
            else _Stack(cin, decoder_layers(config.event_shape, config.width), True)
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        if self.mlp:
            return self.net(code).reshape(-1, *self.shape)
        return self.net(code[:, :, None, None])[:, 0]


class JointModel(nn.Module):
    """p(c) p(x | c) and p(c | x), as gtgen's joint player (see the module docstring)."""

    def __init__(self, config: JointConfig):
        super().__init__()
        k, z0, z1 = config.classes, config.z0, config.z1
        hidden = 4 * (k + z0 + z1)
        self.k, self.z0 = k, z0
        self.classifier = _Encoder(config, k)
        self.p_z1 = _mlp([k + z0, hidden, hidden, z1])
        self.p_x = _Decoder(config, k + z1)
        self.q_z1 = _Encoder(config, z1)
        self.q_z1_c = nn.Linear(k, z1, bias=False)
        self.q_z0 = _mlp([k + z1, hidden, hidden, z0])
        self.log_sigma = nn.Parameter(torch.full((), float(config.log_sigma)))
        image = [p for n, p in self.named_parameters() if not n.startswith("classifier")]
        self.opt_c = torch.optim.Adam(self.classifier.parameters(), lr=config.lr)
        self.opt_x = torch.optim.Adam(image, lr=config.lr)

    def sample_x(self, c: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            h = F.one_hot(c, self.k).float()
            z0 = (torch.rand(c.shape[0], self.z0) > 0.5).float()
            z1 = torch.bernoulli(torch.sigmoid(self.p_z1(torch.cat([h, z0], 1))))
            mean = self.p_x(torch.cat([z1, h], 1))
            return mean + torch.randn_like(mean) * self.log_sigma.exp()

    def generate(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = torch.randint(self.k, (n,))
        return c, self.sample_x(c)

    def optimize(self, c: torch.Tensor, x: torch.Tensor) -> None:
        """One symmetric step on the pairs (c, x), as the authors' JModel.optimize(symmetric=True)."""
        cc, xx = torch.cat([c, c]), torch.cat([x, self.sample_x(c)])
        self.opt_c.zero_grad()
        F.cross_entropy(self.classifier(xx), cc).backward()
        self.opt_c.step()
        with torch.no_grad():
            c_tilde = torch.distributions.Categorical(logits=self.classifier(x)).sample()
        cc, xx = torch.cat([c, c_tilde]), torch.cat([x, x])
        h = F.one_hot(cc, self.k).float()
        self.opt_x.zero_grad()
        with torch.no_grad():
            qz1 = torch.bernoulli(torch.sigmoid(self.q_z1(xx) + self.q_z1_c(h)))
            qz0 = torch.bernoulli(torch.sigmoid(self.q_z0(torch.cat([qz1, h], 1))))
        bce = F.binary_cross_entropy_with_logits
        loss = bce(self.p_z1(torch.cat([h, qz0], 1)), qz1, reduction="none").sum(1).mean()
        mean, sigma = self.p_x(torch.cat([qz1, h], 1)), self.log_sigma.exp()
        nll = 0.91894 + self.log_sigma + (xx - mean) ** 2 / (2 * sigma**2)
        loss = loss + nll.flatten(1).sum(1).mean()
        with torch.no_grad():
            pz0 = (torch.rand_like(qz0) > 0.5).float()
            pz1 = torch.bernoulli(torch.sigmoid(self.p_z1(torch.cat([h, pz0], 1))))
            px_mean = self.p_x(torch.cat([pz1, h], 1))
            px = px_mean + torch.randn_like(px_mean) * sigma
        loss = loss + bce(self.q_z1(px) + self.q_z1_c(h), pz1, reduction="none").sum(1).mean()
        loss = loss + bce(self.q_z0(torch.cat([pz1, h], 1)), pz0, reduction="none").sum(1).mean()
        loss.backward()
        self.opt_x.step()


def make_players(configs, seed: int = 0) -> list[JointModel]:
    torch.manual_seed(seed)
    return [JointModel(c) for c in configs]


def cooperative_rounds(players, data, rounds: int, noise_std: float = 0.01) -> None:
    """``rounds`` iterations of the authors' cooperative loop; ``data[i] = (c, x)`` tensors."""
    for _ in range(rounds):
        generated = [p.generate(data[i][0].shape[0]) for i, p in enumerate(players)]
        for i, player in enumerate(players):
            c, x = data[i]
            cs = [c] + [generated[j][0] for j in range(len(players)) if j != i]
            xs = [x + torch.randn_like(x) * noise_std] + [
                generated[j][1] for j in range(len(players)) if j != i
            ]
            player.optimize(torch.cat(cs), torch.cat(xs))

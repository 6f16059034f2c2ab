"""The authors' IV-C training step of player A in PyTorch: eager mode, a Python loop per step.

What their PolyMNIST code does each iteration (PAPERS.md §1, "IV-C in the authors' code"): a batch
of A's own items (c, d, x) is completed by ``sweeps`` Gibbs sweeps of s and z from random z; a
batch of (c, s) pairs gets d uniform and is completed by ``sweeps`` sweeps of x and z; then each
conditional takes one step of its own Adam on the completed items, skipping the items whose own
variable was drawn in the last sweep (there: the own items' z, the pairs' z).

The conditionals are gtgen's player A (gtgen/players/neural/multimodal.py), network for network:
one tanh MLP per variable on the one-hot c and d and the flattened z, s, x it conditions on
(``INPUTS``), Bernoulli logits for z and s, categorical logits for c and d, a per-pixel Gaussian
for x with log σ = −1.5 + 2.5·tanh(·); PyTorch's default initialisation.

Needs ``torch`` (the ``[reference]`` extra); gtgen itself never imports this module.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from benchmarks.reference.torch_vae import _mlp
from gtgen.players.neural.multimodal import INPUTS, MultimodalConfig


class Conditionals:
    """Player A's five networks and their Adam optimisers."""

    def __init__(self, config: MultimodalConfig, seed: int = 0):
        torch.manual_seed(seed)
        self.config = config
        h, w = config.shape
        self.h, self.w = h, w
        self.width = {"c": config.classes, "d": config.styles, "z": config.z, "s": h * w}
        self.width["x"] = 3 * h * w
        out = {**self.width, "x": 6 * h * w}
        self.nets = {
            v: _mlp([sum(self.width[u] for u in ins), *config.hidden, out[v]])
            for v, ins in INPUTS.items()
        }
        self.opts = {
            v: torch.optim.Adam(n.parameters(), lr=config.lr) for v, n in self.nets.items()
        }

    def features(self, values: dict, names) -> torch.Tensor:
        parts = []
        for v in names:
            x = values[v]
            if v in ("c", "d"):
                x = F.one_hot(x, self.width[v]).float()
            parts.append(x.reshape(x.shape[0], -1))
        return torch.cat(parts, -1)

    def out(self, v: str, values: dict):
        y = self.nets[v](self.features(values, INPUTS[v]))
        if v == "x":
            mean, raw = y.chunk(2, -1)
            return mean, -1.5 + 2.5 * torch.tanh(raw)
        return y

    def draw(self, v: str, values: dict) -> torch.Tensor:
        with torch.no_grad():
            y = self.out(v, values)
            if v in ("c", "d"):
                return torch.distributions.Categorical(logits=y).sample()
            if v in ("z", "s"):
                return torch.bernoulli(torch.sigmoid(y))
            mean, log_sigma = y
            return mean + log_sigma.exp() * torch.randn_like(mean)

    def nll(self, v: str, values: dict) -> torch.Tensor:
        y = self.out(v, values)
        target = values[v].reshape(values[v].shape[0], -1)
        if v in ("c", "d"):
            return F.cross_entropy(y, values[v], reduction="none")
        if v in ("z", "s"):
            return F.binary_cross_entropy_with_logits(y, target, reduction="none").sum(-1)
        mean, log_sigma = y
        z = (target - mean) * torch.exp(-log_sigma)
        return (0.5 * z * z + log_sigma + 0.5 * math.log(2 * math.pi)).sum(-1)


def step(model: Conditionals, own: dict, pairs: dict, sweeps: int) -> float:
    """One training step of A on ``own`` (c, d, x) and ``pairs`` (c, s); returns the summed loss."""
    n, m, c = own["c"].shape[0], pairs["c"].shape[0], model.config
    a = {
        **own,
        "z": torch.bernoulli(torch.full((n, c.z), 0.5)),
        "s": torch.bernoulli(torch.full((n, model.h * model.w), 0.5)),
    }
    b = {
        **pairs,
        "s": pairs["s"].reshape(m, -1),
        "d": torch.randint(0, c.styles, (m,)),
        "z": torch.bernoulli(torch.full((m, c.z), 0.5)),
        "x": torch.randn(m, 3 * model.h * model.w),
    }
    a["x"] = a["x"].reshape(n, -1)
    for _ in range(sweeps):
        for v in ("s", "z"):
            a[v] = model.draw(v, a)
        for v in ("x", "z"):
            b[v] = model.draw(v, b)
    items = {v: torch.cat([a[v], b[v]]) for v in INPUTS}
    skip = {"z": torch.ones(n + m, dtype=torch.bool)}  # the last sweep drew every item's z
    total = 0.0
    for v in INPUTS:
        keep = ~skip.get(v, torch.zeros(n + m, dtype=torch.bool))
        loss = (model.nll(v, items) * keep).sum() / keep.sum().clamp(min=1)
        model.opts[v].zero_grad()
        loss.backward()
        model.opts[v].step()
        total += float(loss.detach())
    return total


def train(model: Conditionals, own: dict, pairs: dict, batch: int, steps: int, sweeps: int):
    """``steps`` steps on batches of ``batch`` own items and ``batch`` pairs, drawn uniformly."""
    for _ in range(steps):
        i = torch.randint(0, own["c"].shape[0], (batch,))
        j = torch.randint(0, pairs["c"].shape[0], (batch,))
        step(model, {k: v[i] for k, v in own.items()}, {k: v[j] for k, v in pairs.items()}, sweeps)

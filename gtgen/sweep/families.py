"""α families and synthetic private data for sweep points, from the point's seed (numpy only).

α families (every one gives player i the self-weight ``a`` and spreads ``1 - a`` over others):

``uniform``      α_ij = (1 − a) / (N − 1) for every j ≠ i.
``dirichlet``    row i off the diagonal is (1 − a) · Dirichlet(concentration · 1_{N−1}), random.
``ring``         players on a ring; the ``neighbors`` nearest (⌈k/2⌉ to the right, ⌊k/2⌋ to the
                 left) get (1 − a) / k each.
``star``         player 0 is the hub: it spreads 1 − a evenly over the leaves, each leaf puts 1 − a
                 on the hub.
``small-world``  Watts–Strogatz: the ring with ``neighbors`` links per player (undirected), each
                 link rewired with probability ``rewire`` to a random player; 1 − a is spread evenly
                 over a player's links. A player left without links keeps α_ii = 1.

Random families draw from ``numpy.random.default_rng([seed, 1])``.

Synthetic data, drawn for all players at once (no per-player loop): each player's parameters
(the c_i, A_i or g_i below) come from ``numpy.random.default_rng([seed, 2, 0])`` and its n =
``data_size`` private samples from ``numpy.random.default_rng([seed, 2, 1])``, both streams
filled player after player, so adding players leaves the others' data unchanged:

- gaussian:       x = c_i + ε, c_i ~ N(0, spread² I), ε ~ N(0, I)
- gaussian-full:  x = c_i + A_i ε, A_i = I + 0.3 · G_i (G_i standard normal): correlated coordinates
- bernoulli:      x_d ~ Bernoulli(sigmoid(spread · g_id))
- poisson:        x_d ~ Poisson(exp(spread / 2 · g_id))
- categorical:    x ~ Categorical(softmax(spread · g_i)) over ``dim`` classes
with g standard normal. The solver's key is ``jax.random.key(seed)``: points that differ only in
α share data and solver randomness (common random numbers), which makes comparisons across a
sharper.

Sparse α (more than DENSE_MAX players) is a ``Structure``; dense α is built from it for small N,
so both paths share one definition of each family.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

ALPHA_STREAM, DATA_STREAM = 1, 2


class Structure(NamedTuple):
    """α without the [N, N] matrix: self-weights plus each player's weighted sources.

    ``kind`` is ``uniform`` (every other player, weight (1 − a_i)/(N − 1)), ``star`` (hub 0) or
    ``neighbors`` (``index`` [N, k] sources with weights ``weight`` [N, k], padded with weight 0).
    """

    kind: str
    self_weight: np.ndarray  # [N]
    index: np.ndarray  # [N, k] int32 (k = 0 for uniform and star)
    weight: np.ndarray  # [N, k] float64


def structure(s: dict[str, Any]) -> Structure:
    """The sparse α of one point's settings."""
    n, a, kind = s["players"], s["a"], s["alpha"]
    diag = np.full(n, a)
    empty = (np.zeros((n, 0), np.int32), np.zeros((n, 0)))
    if kind in ("uniform", "star"):
        return Structure(kind, diag, *empty)
    if kind == "ring":
        links = _ring_links(n, s["neighbors"])
    elif kind == "small-world":
        rng = np.random.default_rng([s["seed"], ALPHA_STREAM])
        links = _small_world_links(n, s["neighbors"], s["rewire"], rng)
    elif kind == "dirichlet":
        return _dirichlet(s)
    else:
        raise ValueError(f"alpha: unknown family {kind!r}")
    k = max((len(x) for x in links), default=0)
    index = np.zeros((n, k), np.int32)
    weight = np.zeros((n, k))
    for i, nbrs in enumerate(links):
        if nbrs:
            index[i, : len(nbrs)] = sorted(nbrs)
            weight[i, : len(nbrs)] = (1.0 - a) / len(nbrs)
        else:
            diag[i] = 1.0  # an isolated player keeps to its own data
    return Structure("neighbors", diag, index, weight)


def dense(st: Structure) -> np.ndarray:
    """The [N, N] α of a structure (float64, rows sum to one)."""
    n = len(st.self_weight)
    alpha = np.zeros((n, n))
    if st.kind == "uniform":
        alpha[:] = ((1.0 - st.self_weight) / (n - 1))[:, None]
    elif st.kind == "star":
        alpha[0, 1:] = (1.0 - st.self_weight[0]) / (n - 1)
        alpha[1:, 0] = 1.0 - st.self_weight[1:]
    else:
        rows = np.repeat(np.arange(n), st.index.shape[1])
        np.add.at(alpha, (rows, st.index.ravel()), st.weight.ravel())
    np.fill_diagonal(alpha, st.self_weight)
    return alpha


def alpha_matrix(s: dict[str, Any]) -> np.ndarray:
    return dense(structure(s))


def _dirichlet(s: dict[str, Any]) -> Structure:
    n, a = s["players"], s["a"]
    rng = np.random.default_rng([s["seed"], ALPHA_STREAM])
    rows = rng.dirichlet(np.full(n - 1, s["concentration"]), size=n)
    index = np.array([[j for j in range(n) if j != i] for i in range(n)], np.int32)
    return Structure("neighbors", np.full(n, a), index, (1.0 - a) * rows)


def _ring_links(n: int, k: int) -> list[set[int]]:
    right, left = (k + 1) // 2, k // 2
    return [
        {(i + o) % n for o in range(1, right + 1)} | {(i - o) % n for o in range(1, left + 1)}
        for i in range(n)
    ]


def _small_world_links(n: int, k: int, p: float, rng: np.random.Generator) -> list[set[int]]:
    links: list[set[int]] = [set() for _ in range(n)]
    half = max(k // 2, 1)
    for i in range(n):
        for o in range(1, half + 1):
            j = (i + o) % n
            links[i].add(j)
            links[j].add(i)
    for i in range(n):  # Watts–Strogatz rewiring of the lattice links i -> i + o
        for o in range(1, half + 1):
            j = (i + o) % n
            if j not in links[i] or rng.random() >= p:
                continue
            free = [c for c in range(n) if c != i and c not in links[i]] if n < 4096 else None
            if free is not None and not free:
                continue
            new = (
                free[rng.integers(len(free))] if free is not None else _draw_free(rng, n, i, links)
            )
            links[i].discard(j)
            links[j].discard(i)
            links[i].add(new)
            links[new].add(i)
    return links


def _draw_free(rng: np.random.Generator, n: int, i: int, links: list[set[int]]) -> int:
    while True:  # large N: rejection sampling is cheap, a player has few links
        c = int(rng.integers(n))
        if c != i and c not in links[i]:
            return c


# --- synthetic private data -----------------------------------------------------------------


def synthetic_data(s: dict[str, Any]) -> np.ndarray:
    """Every player's private data for one point: [N, data_size, *event] (see module doc)."""
    n, size, dim, spread = s["players"], s["data_size"], s["dim"], s["spread"]
    fam = s["family"]
    if fam not in _DATA_FAMILIES:
        raise ValueError(f"family: no synthetic data for {fam!r}")
    params = np.random.default_rng([s["seed"], DATA_STREAM, PARAMS_SUBSTREAM])
    items = np.random.default_rng([s["seed"], DATA_STREAM, ITEMS_SUBSTREAM])
    if fam == "gaussian":
        centre = spread * params.standard_normal((n, 1, dim))
        return centre + items.standard_normal((n, size, dim))
    if fam == "gaussian-full":
        g = params.standard_normal((n, dim * dim + dim))  # player i's A_i and c_i, in its row
        mix = np.eye(dim) + 0.3 * g[:, : dim * dim].reshape(n, dim, dim)
        centre = spread * g[:, None, dim * dim :]
        return centre + np.einsum("ind,ied->ine", items.standard_normal((n, size, dim)), mix)
    g = params.standard_normal((n, dim))
    if fam == "bernoulli":
        p = 1.0 / (1.0 + np.exp(-spread * g))
        return (items.random((n, size, dim)) < p[:, None, :]).astype(np.float64)
    if fam == "poisson":
        rate = np.broadcast_to(np.exp(0.5 * spread * g)[:, None, :], (n, size, dim))
        return items.poisson(rate).astype(np.float64)
    return _categorical(spread * g, items.random((n, size)))


_DATA_FAMILIES = ("gaussian", "gaussian-full", "bernoulli", "poisson", "categorical")
PARAMS_SUBSTREAM, ITEMS_SUBSTREAM = 0, 1
_CATEGORICAL_CHUNK = 2**24  # comparisons per block of players: bounds the temporary memory


def _categorical(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Class of each uniform u [N, n] under softmax(logits) [N, d] by the inverse CDF, numpy's
    ``Generator.choice`` rule: the number of normalised CDF values ≤ u."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    out = np.empty(u.shape, np.int64)
    rows = max(1, _CATEGORICAL_CHUNK // max(1, u.shape[1] * cdf.shape[1]))
    for lo in range(0, len(u), rows):  # blocks of players, not one player at a time
        block = u[lo : lo + rows, :, None] >= cdf[lo : lo + rows, None, :-1]
        out[lo : lo + rows] = block.sum(axis=2)
    return out


def synthetic_data_batch(settings: list[dict[str, Any]]) -> np.ndarray:
    """Data of many points (same shapes), reusing the data of points with equal data settings."""
    cache: dict[tuple, np.ndarray] = {}
    out = []
    for s in settings:
        key = tuple(s[k] for k in ("family", "dim", "players", "data_size", "spread", "seed"))
        if key not in cache:
            cache[key] = synthetic_data(s)
        out.append(cache[key])
    return np.stack(out)

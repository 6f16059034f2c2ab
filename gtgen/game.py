"""A game: players, the trust matrix α, and each player's private data.

``Game`` validates everything once, at construction, with one clear message naming the field
and the problem (ValueError / TypeError). Players may be of any kind (exponential families,
neural players of any configuration): what they must agree on is the meaning of the variables
they exchange (gtgen.players.base). It then holds:

- ``groups``: players with the same ``name`` (family or configuration) form a group, vmapped
  together; a group knows the global indices of its members;
- per group, the private data as named variables padded to the longest member
  ``{name: [n_g, n_max, *shape]}`` with a weight array ``[n_g, n_max]`` (0 on padding; user
  sample weights otherwise), FedJAX-style, so ragged data never needs a Python loop.

The privacy boundary is structural: nothing in a game lets one player's data or parameters reach
another player; the exchange round (gtgen.exchange) passes only synthetic samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.players.base import (
    check_compatible,
    check_values,
    check_variables,
    group_key,
    variable_map,
)

ROW_SUM_TOLERANCE = 1e-6


class Group(NamedTuple):
    """Players sharing one family or configuration; ``members`` are their global indices."""

    player: Any
    members: tuple[int, ...]


def validate_alpha(alpha: Any, n_players: int | None = None) -> np.ndarray:
    """α as a float64 [N, N] array, or ValueError naming what is wrong (entries given as
    strings or booleans are refused, not converted)."""
    _reject_non_numbers(alpha)
    try:
        a = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("alpha: must be a square matrix of numbers") from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"alpha: must be a non-empty square matrix, got shape {a.shape}")
    if n_players is not None and a.shape[0] != n_players:
        raise ValueError(f"alpha: is {a.shape[0]}×{a.shape[0]} but there are {n_players} players")
    if not np.all(np.isfinite(a)):
        raise ValueError("alpha: contains NaN or infinite entries")
    if np.any(a < 0):
        i, j = np.argwhere(a < 0)[0]
        raise ValueError(f"alpha: negative weight alpha[{i}][{j}] = {a[i, j]:g}")
    sums = a.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        i = bad[0]
        raise ValueError(f"alpha: row {i} sums to {sums[i]:.8g}, not 1 (rows must be stochastic)")
    return a


def _reject_non_numbers(alpha: Any) -> None:
    if isinstance(alpha, np.ndarray):
        if alpha.dtype.kind not in "iuf":
            raise ValueError(f"alpha: entries must be numbers, got an array of dtype {alpha.dtype}")
        return
    if isinstance(alpha, (list, tuple)):
        for i, row in enumerate(alpha):
            if isinstance(row, np.ndarray):
                _reject_non_numbers(row)
                continue
            for j, v in enumerate(row if isinstance(row, (list, tuple)) else [row]):
                if isinstance(v, (bool, np.bool_, str, bytes)) or not isinstance(
                    v, (int, float, np.integer, np.floating)
                ):
                    raise ValueError(
                        f"alpha: alpha[{i}][{j}] is {v!r} ({type(v).__name__}); "  # noqa: TRY004 - bad input is a ValueError
                        "entries must be numbers"
                    )


def _validate_player(player: Any, i: int) -> Any:
    check_variables(player, f"players[{i}]")
    return player


def _as_named(x: Any, player: Any, i: int) -> dict[str, Any]:
    """A player's data as ``{variable: array}``: an array stands for its one observed variable."""
    if isinstance(x, Mapping):
        want, got = set(player.observed), set(x)
        if want != got:
            raise ValueError(
                f"data[{i}]: {player.name} observes {sorted(want)}, got variables {sorted(got)}"
            )
        return dict(x)
    if len(player.observed) != 1:
        raise ValueError(
            f"data[{i}]: {player.name} observes {list(player.observed)}; pass a dict of arrays"
        )
    return {player.observed[0]: x}


def _validate_array(x: Any, name: str, var, player: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001 - any conversion failure is bad input
        raise ValueError(f"{field}: cannot be read as an array") from None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
        raise ValueError(f"{field}: must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{field}: must be real, got complex dtype {arr.dtype}")
    event = tuple(var.shape)
    if arr.ndim != 1 + len(event) or tuple(arr.shape[1:]) != event:
        want = "[n]" if not event else f"[n, {', '.join(map(str, event))}]"
        raise ValueError(f"{field}: has shape {arr.shape} but {player.name} needs {want}")
    if arr.shape[0] == 0:
        raise ValueError(f"{field}: player {field[5:].split(']')[0]} has no data (an empty player)")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field}: contains NaN or infinite values")
    check = getattr(player, "check_support", None)
    problem = check(arr) if check is not None else check_values(var, arr)
    if problem:
        raise ValueError(f"{field}: {problem}")
    return arr


def _validate_data(x: Any, player: Any, i: int) -> dict[str, np.ndarray]:
    named = _as_named(x, player, i)
    variables = variable_map(player)
    many = len(named) > 1
    out = {
        name: _validate_array(
            value, name, variables[name], player, f"data[{i}][{name!r}]" if many else f"data[{i}]"
        )
        for name, value in named.items()
    }
    sizes = {len(a) for a in out.values()}
    if len(sizes) != 1:
        raise ValueError(f"data[{i}]: variables have different numbers of rows {sorted(sizes)}")
    return out


def _validate_weights(w: Any, n: int, i: int) -> np.ndarray:
    try:
        arr = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"weights[{i}]: must be an array of {n} numbers") from None
    if arr.shape != (n,):
        raise ValueError(f"weights[{i}]: has shape {arr.shape}, expected ({n},) like data[{i}]")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise ValueError(f"weights[{i}]: must be finite, non-negative and not all zero")
    return arr


class Game:
    """Players, α and private data of one synthetic-data exchange game.

    Args:
      players: one player per participant (e.g. ``[gtgen.expfam.gaussian(2)] * 3``), of any
        kind; every pair must agree on the variables they exchange (a Gaussian and a VAE on 2-D
        real data, diagonal and full Gaussians, say).
      alpha: row-stochastic [N, N] trust matrix; ``alpha[i][i]`` weighs player i's own data,
        ``alpha[i][j]`` player j's synthetic samples.
      data: one array per player, ``[n_i, *shape]`` of its observed variable (or a dict of
        arrays for a player that observes several, e.g. ``{"c": labels, "x": images}``); the n_i
        may differ.
      weights: optional per-sample weights, one array ``[n_i]`` per player.
    """

    def __init__(
        self,
        players: Sequence[Any],
        alpha: Any,
        data: Sequence[Any],
        weights: Sequence[Any] | None = None,
    ):
        if isinstance(players, (str, bytes)) or not isinstance(players, Sequence) or not players:
            raise TypeError("players: must be a non-empty list of players")
        players = tuple(_validate_player(p, i) for i, p in enumerate(players))
        n = len(players)
        self.alpha = validate_alpha(alpha, n)
        if isinstance(data, np.ndarray) or not isinstance(data, Sequence):
            raise TypeError("data: must be a list with one array per player")
        if len(data) != n:
            raise ValueError(f"data: has {len(data)} arrays but there are {n} players")
        for i, p in enumerate(players):  # every pair must agree on what they exchange
            for j in range(i):
                check_compatible(p, players[j], f"players[{i}]")
                check_compatible(players[j], p, f"players[{i}]")
        arrays = [_validate_data(x, p, i) for i, (x, p) in enumerate(zip(data, players))]
        if weights is None:
            wts = [np.ones(_rows(x)) for x in arrays]
        else:
            if isinstance(weights, (str, bytes, np.ndarray)) or not isinstance(weights, Sequence):
                raise TypeError(
                    "weights: must be a list with one array of sample weights per player"
                )
            if len(weights) != n:
                raise ValueError(f"weights: has {len(weights)} arrays but there are {n} players")
            wts = [
                _validate_weights(w, _rows(x), i) for i, (w, x) in enumerate(zip(weights, arrays))
            ]

        self.players = players
        order: dict[tuple, list[int]] = {}
        for i, p in enumerate(players):
            order.setdefault(group_key(p), []).append(i)
        self.groups = tuple(Group(players[m[0]], tuple(m)) for m in order.values())
        padded = [self._pad(g, arrays, wts) for g in self.groups]
        self.data = tuple(
            {name: jnp.asarray(x, _dtype(g.player, name)) for name, x in d.items()}
            for g, (d, _) in zip(self.groups, padded)
        )
        self.weights = tuple(jnp.asarray(w, jnp.float32) for _, w in padded)
        self.expfam = all(g.player.reads == "statistics" for g in self.groups)
        with jax.enable_x64(True):  # exact own moments for the closed form and the checks
            self.own_moments64 = tuple(
                np.asarray(jax.vmap(g.player.init)(d[g.player.variable], w))
                if g.player.reads == "statistics"
                else None
                for g, (d, w) in zip(self.groups, padded)
            )
        self.counts = np.array([_rows(x) for x in arrays])

    @staticmethod
    def _pad(group: Group, arrays, wts) -> tuple[dict[str, np.ndarray], np.ndarray]:
        n_max = max(_rows(arrays[i]) for i in group.members)
        variables = variable_map(group.player)
        data = {}
        for name in group.player.observed:
            block = np.zeros((len(group.members), n_max, *variables[name].shape))
            for row, i in enumerate(group.members):
                block[row, : _rows(arrays[i])] = arrays[i][name]
            if np.issubdtype(_dtype(group.player, name), np.integer):
                block = block.astype(np.int64)
            data[name] = block
        weights = np.zeros((len(group.members), n_max))
        for row, i in enumerate(group.members):
            weights[row, : _rows(arrays[i])] = wts[i]
        return data, weights

    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def homogeneous(self) -> bool:
        return len(self.groups) == 1

    def own_moments(self) -> tuple[jax.Array, ...]:
        """Per group, the members' own-data moments m_i = E_{π_i}[T(x)]: [n_g, K_g] (float32, as
        the solvers see them; ``own_moments64`` holds the same in float64 for the closed form)."""
        self.require_expfam("own_moments")
        return own_moments(self.groups, self.data, self.weights)

    def require_expfam(self, what: str) -> None:
        """ValueError naming ``what`` unless every player is an exponential family."""
        if not self.expfam:
            other = next(g.player.name for g in self.groups if g.player.reads != "statistics")
            raise ValueError(
                f"{what}: needs exponential-family players (closed forms); {other} is not one"
            )

    def stack(self, per_group: Sequence[Any]) -> np.ndarray:
        """Per-group [n_g, K] arrays as one [N, K] array in player order (same K required)."""
        sizes = {np.shape(a)[1] for a in per_group}
        if len(sizes) != 1:
            raise ValueError("players: groups have different statistics; use per-player lists")
        out = np.zeros((self.n_players, sizes.pop()))
        for g, a in zip(self.groups, per_group):
            out[list(g.members)] = np.asarray(a, dtype=np.float64)
        return out

    def per_player(self, per_group: Sequence[Any]) -> list[np.ndarray]:
        """Per-group arrays as a list with one entry per player, in player order."""
        out: list[Any] = [None] * self.n_players
        for g, a in zip(self.groups, per_group):
            for row, i in enumerate(g.members):
                out[i] = np.asarray(a[row], dtype=np.float64)
        return out

    def __repr__(self) -> str:
        fams = ", ".join(f"{g.player.name}×{len(g.members)}" for g in self.groups)
        return f"Game(players={self.n_players}: {fams})"


def own_moments(groups, data, weights) -> tuple[jax.Array, ...]:
    """Weighted mean sufficient statistics of every player's own data, vmapped per group
    (exponential-family groups; ``data`` per group a dict of named arrays)."""
    return tuple(
        jax.vmap(g.player.init)(x[g.player.variable], w) for g, x, w in zip(groups, data, weights)
    )


def _rows(named: dict[str, np.ndarray]) -> int:
    return len(next(iter(named.values())))


def _dtype(player: Any, name: str) -> Any:
    dtype = getattr(player, "sample_dtype", None)
    return dtype if dtype is not None else variable_map(player)[name].dtype

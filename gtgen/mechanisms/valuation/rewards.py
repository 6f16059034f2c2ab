"""The mechanism end to end: validate, value, plan the targets, sample the rewards; and its tie to
the exchange game (``reward_game``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.game import Game
from gtgen.mechanisms.valuation import sampling as smp
from gtgen.mechanisms.valuation.kernel import (
    SEARCHES,
    KernelSums,
    LengthscaleSearch,
    inverse_two_l2,
    kernel_sums,
    layout,
    search_lengthscale,
)
from gtgen.mechanisms.valuation.lp import RewardPlan, reward_plan
from gtgen.mechanisms.valuation.shapley import (
    EXACT_MAX_PARTIES,
    CoalitionTable,
    ShapleyEstimate,
    coalition_table,
    shapley_exact,
    shapley_monte_carlo,
    values_of,
)
from gtgen.solvers.solve import Solution

POOLS = ("shared", "disjoint")
LENGTHSCALE_RANGE = (0.01, 1000.0)  # the authors' search range
AUTHORS_PATIENCE = 0.1  # the authors' early stop: 0.1·|G| steps without a new maximum


# --- validation -------------------------------------------------------------------------------


def _points(x: Any, field: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001 - any conversion failure is bad input
        raise ValueError(f"{field}: cannot be read as an array") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{field}: must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{field}: must be real, got complex dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{field}: must be a 2-D array [points, features], got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{field}: has no points (an empty set)")
    if arr.shape[1] == 0:
        raise ValueError(f"{field}: points have no features (shape {arr.shape})")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field}: contains NaN or infinite values")
    return arr


def validate_inputs(parties: Any, candidates: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """The parties' data and the candidate pool as float64 arrays, or one ValueError / TypeError
    naming the field (an empty party, mismatched dimensions, NaN, an empty pool, …)."""
    if isinstance(parties, np.ndarray | str | bytes) or not isinstance(parties, Sequence):
        raise TypeError("parties: must be a list with one [n_i, d] array per party")
    if len(parties) < 2:
        raise ValueError(f"parties: need at least 2 parties, got {len(parties)}")
    data = [_points(x, f"parties[{i}]") for i, x in enumerate(parties)]
    d = data[0].shape[1]
    for i, x in enumerate(data):
        if x.shape[1] != d:
            raise ValueError(f"parties[{i}]: has dimension {x.shape[1]} but parties[0] has {d}")
    if candidates is not None and np.size(candidates) == 0:
        raise ValueError("candidates: |G| = 0; the pool needs at least one candidate")
    pool = _points(candidates, "candidates")
    if pool.shape[1] != d:
        raise ValueError(f"candidates: have dimension {pool.shape[1]} but the parties have {d}")
    return data, pool


def _number(value: Any, field: str, low: float, high: float = math.inf, *, open_low=False) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        rng = bound if high == math.inf else f"in {'(' if open_low else '['}{low:g}, {high:g}]"
        raise ValueError(f"{field}: must be a number {rng}, got {value!r}")
    return value


def validate_range(lengthscale_range: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in lengthscale_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"lengthscale_range: must be two numbers (low, high), got {lengthscale_range!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise ValueError(f"lengthscale_range: [{low:g}, {high:g}] is empty; need 0 < low < high")
    return low, high


# --- valuation --------------------------------------------------------------------------------


class Valuation(NamedTuple):
    """The parties' data valued against T = (∪ D_i) ∪ G at one lengthscale."""

    lengthscale: float
    search: LengthscaleSearch | None  # None when the lengthscale was given
    sums: KernelSums
    table: CoalitionTable | None  # all 2^n coalition values (n ≤ 12)
    shapley: ShapleyEstimate
    candidates: np.ndarray  # [|G|, d] float32 in the pool's order (share after share)
    candidate_index: np.ndarray  # [|G|]: the caller's index of each candidate in that order
    pool: str  # "shared" or "disjoint"

    @property
    def phi(self) -> np.ndarray:
        return self.shapley.phi

    @property
    def alpha(self) -> np.ndarray:
        """α_i = φ_i / max φ."""
        return self.phi / self.phi.max()

    @property
    def party_values(self) -> np.ndarray:
        """v(D_i)."""
        return values_of(self.sums, self.sums.parties(np.eye(self.sums.n_parties, dtype=int)))

    @property
    def grand_value(self) -> float:
        """v(N): all parties' data together."""
        return float(values_of(self.sums, self.sums.parties(np.ones(self.sums.n_parties))))

    def share(self, i: int) -> np.ndarray:
        """Positions in the pool order that party i may draw from."""
        if not self.sums.disjoint:
            return np.arange(len(self.candidates))
        start = np.concatenate([[0], np.cumsum(self.sums.counts[self.sums.n_parties :])])
        return np.arange(start[i], start[i + 1])


def value(
    parties: Sequence[Any],
    candidates: Any,
    key: jax.Array | None = None,
    *,
    pool: str = "shared",
    lengthscale: float | None = None,
    lengthscale_range: tuple[float, float] = LENGTHSCALE_RANGE,
    rtol: float = 1e-3,
    lengthscale_search: str = "log",
    permutations: int = 2000,
) -> Valuation:
    """Choose ℓ (unless given), compute the block kernel sums once, then v of every coalition and
    the Shapley values: exact for n ≤ 12 parties, else ``permutations`` sampled orders (``key``)
    with a standard error. ``pool="disjoint"`` splits G at random (``key``) into n near-equal
    shares, party i's the only one it may draw from; the shares are parts of the kernel sums, so
    v(D_i ∪ G_i) bounds party i's reward. ``lengthscale_search="linear"`` is the authors' search
    (20 halvings in ℓ, to reproduce their numbers) instead of bisection in log ℓ to ``rtol``."""
    data, cand = validate_inputs(parties, candidates)
    low, high = validate_range(lengthscale_range)
    _number(rtol, "rtol", 0.0, open_low=True)
    if pool not in POOLS:
        raise ValueError(f"pool: must be one of {', '.join(POOLS)}, got {pool!r}")
    if lengthscale_search not in SEARCHES:
        raise ValueError(
            f"lengthscale_search: must be one of {', '.join(SEARCHES)}, got {lengthscale_search!r}"
        )
    n = len(data)
    if pool == "disjoint":
        if key is None:
            raise ValueError("key: disjoint shares are drawn at random; pass a jax key")
        key, key_share = jax.random.split(key)
        order = np.asarray(jax.random.permutation(key_share, len(cand)))
        shares = [np.sort(s) for s in np.array_split(order, n)]
        if min(len(s) for s in shares) == 0:
            raise ValueError(f"candidates: |G| = {len(cand)} cannot be split into {n} shares")
    else:
        shares = [np.arange(len(cand))]
    index = np.concatenate(shares)
    lay = layout([*data, *(cand[s] for s in shares)])
    found = None
    if lengthscale is None:
        found = search_lengthscale(lay, n, low, high, rtol, lengthscale_search)
        lengthscale = found.lengthscale
    else:
        lengthscale = _number(lengthscale, "lengthscale", 0.0, open_low=True)
    sums = kernel_sums(lay, lengthscale, n)
    if n <= EXACT_MAX_PARTIES:
        table = coalition_table(sums)
        shapley = ShapleyEstimate(shapley_exact(table), np.zeros(n), 0)
    else:
        if key is None:
            raise ValueError(f"key: {n} parties need sampled Shapley values; pass a jax key")
        if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 2:
            raise ValueError(f"permutations: must be an integer >= 2, got {permutations!r}")
        table = None
        shapley = shapley_monte_carlo(sums, key, permutations)
    return Valuation(
        lengthscale, found, sums, table, shapley, cand[index].astype(np.float32), index, pool
    )


def mmd2_unbiased(sum_xx, sum_xt, size, sums: KernelSums) -> np.ndarray:
    """MMD²_unbiased(X, T) from Σ_{X×X} k, Σ_{X×T} k and |X| (k(x, x) = 1)."""
    m = np.asarray(size, np.float64)
    n = float(sums.n_reference)
    xx = (np.asarray(sum_xx) - m) / (m * (m - 1))
    tt = (sums.total_reference - n) / (n * (n - 1))
    return xx + tt - 2.0 * np.asarray(sum_xt) / (m * n)


# --- sampling ---------------------------------------------------------------------------------


class Draw(NamedTuple):
    """Reward points drawn for every party."""

    sampling: smp.Sampling
    indices: list[np.ndarray]  # per party, the caller's candidate indices, in the order drawn
    positions: list[np.ndarray]  # the same as positions in ``Valuation.candidates``
    pool: str
    beta: np.ndarray
    greedy: bool
    patience: np.ndarray  # per party, steps without a new maximum before an early stop (0: off)

    @property
    def counts(self) -> np.ndarray:
        return self.sampling.counts


COMPACT_MIN_POOL = 16_384  # from this pool size on, stopped lanes leave the batch (``compact``)


def sample_rewards(
    valuation: Valuation,
    targets: Any,
    key: jax.Array,
    *,
    beta: Any = 1.0,
    greedy: bool = False,
    early_stop: float | None = None,
    max_steps: int | None = None,
    compact: bool | None = None,
) -> Draw:
    """Weighted sampling for every party at once (one compiled loop).

    Args:
      valuation: from ``value``; its ``pool`` says where each party draws from (all of G, or
        its own share).
      targets: r_i per party (e.g. ``plan.targets``).
      key: a jax key; the same key gives the same rewards.
      beta: β ≥ 0, one for all or one per party (0: uniform).
      greedy: take the candidate of largest gain (β is then ignored).
      early_stop: the authors' rule as an option: stop after ``early_stop`` × (the party's pool
        size) steps without a new maximum of v (they use 0.1); None never stops early.
      max_steps: at most this many points per party (status ``STEP_LIMIT`` when it binds);
        None: the pool size.
      compact: drop a party that has stopped from the compiled batch, so that the others go on
        in a narrower program (one compile per width; the rewards are the same). None: when
        the pool has at least ``COMPACT_MIN_POOL`` candidates.
    """
    sums = valuation.sums
    n = sums.n_parties
    target = np.asarray(targets, np.float64)
    if target.shape != (n,) or not np.all(np.isfinite(target)):
        raise ValueError(f"targets: must be {n} finite numbers, one per party, got {targets!r}")
    betas = (
        np.broadcast_to(np.asarray(beta, np.float64), (n,))
        if np.ndim(beta) == 0
        else np.asarray(beta, np.float64)
    )
    if betas.shape != (n,):
        raise ValueError(f"beta: must be one number or {n}, got shape {betas.shape}")
    for b in betas:
        _number(float(b), "beta", 0.0)
    if not isinstance(greedy, bool | np.bool_):
        raise TypeError(f"greedy: must be True or False, got {greedy!r}")
    if early_stop is not None:
        _number(early_stop, "early_stop", 0.0, 1.0, open_low=True)
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int | np.integer) or max_steps < 1
    ):
        raise ValueError(f"max_steps: must be a positive integer or None, got {max_steps!r}")

    shares = [valuation.share(i) for i in range(n)] if sums.disjoint else [valuation.share(0)]
    width = smp.padded_size(max(len(s) for s in shares))
    index = np.full((len(shares), width), -1, np.int64)  # [shares, width]: pool positions
    for row, s in enumerate(shares):
        index[row, : len(s)] = s
    real = index >= 0
    safe = np.where(real, index, 0)
    lane_rows = np.arange(n) if sums.disjoint else np.zeros(n, np.int64)  # lane -> share
    cand = sums.candidate_sums  # [|G|, parts]: Σ over each part, per candidate
    total = np.where(real, cand[safe].sum(axis=2), 0.0)  # [shares, width]: c_x
    own = np.where(real[lane_rows], cand[safe[lane_rows], np.arange(n)[:, None]], 0.0)
    available = real[lane_rows]
    limit = np.full(n, width if max_steps is None else min(int(max_steps), width))
    patience = (
        np.zeros(n, np.int64)
        if early_stop is None
        else np.ceil(early_stop * available.sum(axis=1) - 1e-9).astype(np.int64)
    )
    points = np.where(real[:, None, :], valuation.candidates[safe].transpose(0, 2, 1), 0.0)
    blocks = sums.blocks
    with jax.enable_x64(True):
        pool_arrays = smp.Pool(
            points=jnp.asarray(points, jnp.float32),
            total=jnp.asarray(total, jnp.float32),
            total64=jnp.asarray(total, jnp.float64),
            n_reference=jnp.float64(sums.n_reference),
            scale=jnp.float32(inverse_two_l2(sums.lengthscale)),
        )
        lanes = smp.make_lanes(
            target, betas, patience, sums.counts[:n], limit, jax.random.split(key, n), width
        )
        state = smp.init(
            pool_arrays,
            lanes,
            own,
            available,
            np.diagonal(blocks)[:n],
            blocks.sum(axis=1)[:n],
            width,
        )
        initial = np.asarray(state.value)
        if compact is None:
            compact = width >= COMPACT_MIN_POOL
        run = smp.run_compacted if compact and n > 1 else smp.run
        final = jax.tree.map(
            np.asarray, run(pool_arrays, lanes, state, bool(greedy), smp.block_size(width))
        )
    result = smp.Sampling(
        order=final.order,
        trace=final.trace,
        counts=final.size - sums.counts[:n],
        status=final.status,
        value=final.value,
        initial=initial,
        size=final.size,
        sum_xx=final.sum_xx,
        sum_xt=final.sum_xt,
    )
    positions = [index[lane_rows[i]][result.picked(i)] for i in range(n)]
    indices = [valuation.candidate_index[p] for p in positions]
    return Draw(result, indices, positions, valuation.pool, betas.copy(), bool(greedy), patience)


# --- the whole mechanism ----------------------------------------------------------------------


class Rewards(NamedTuple):
    """Valuation, targets and reward points of one run of the mechanism."""

    valuation: Valuation
    plan: RewardPlan
    draw: Draw

    @property
    def counts(self) -> np.ndarray:
        """|R_i|."""
        return self.draw.counts

    def points(self, i: int) -> np.ndarray:
        """Party i's reward points [|R_i|, d]."""
        return self.valuation.candidates[self.draw.positions[i]]

    @property
    def reached(self) -> np.ndarray:
        return self.draw.sampling.reached

    @property
    def mmd2(self) -> np.ndarray:
        """MMD²_unbiased(D_i ∪ R_i, T) per party."""
        s = self.draw.sampling
        return mmd2_unbiased(s.sum_xx, s.sum_xt, s.size, self.valuation.sums)


def rewards(
    parties: Sequence[Any],
    candidates: Any,
    key: jax.Array,
    *,
    beta: Any = 1.0,
    greedy: bool = False,
    condition: str = "stable",
    rho: float | None = None,
    pool: str = "shared",
    early_stop: float | None = None,
    max_steps: int | None = None,
    lengthscale: float | None = None,
    lengthscale_range: tuple[float, float] = LENGTHSCALE_RANGE,
    lengthscale_search: str = "log",
    permutations: int = 2000,
) -> Rewards:
    """The mechanism of Tay et al. (AAAI 2022) on the parties' data and a candidate pool G:
    lengthscale, coalition values, Shapley values (see ``value`` for ``pool``), the reward LP
    (``condition`` "stable" falling back to "rational" when infeasible; ``rho`` fixes ρ), and
    weighted sampling (see ``sample_rewards`` for ``beta``, ``greedy``, ``early_stop``,
    ``max_steps``)."""
    key_value, key_draw = jax.random.split(key)
    valuation = value(
        parties,
        candidates,
        key_value,
        pool=pool,
        lengthscale=lengthscale,
        lengthscale_range=lengthscale_range,
        lengthscale_search=lengthscale_search,
        permutations=permutations,
    )
    plan = reward_plan(valuation.sums, valuation.phi, condition, rho)
    draw = sample_rewards(
        valuation,
        plan.targets,
        key_draw,
        beta=beta,
        greedy=greedy,
        early_stop=early_stop,
        max_steps=max_steps,
    )
    return Rewards(valuation, plan, draw)


# --- the exchange game ------------------------------------------------------------------------


class GameRewards(NamedTuple):
    """``rewards`` run on an exchange game: the pool drawn from the equilibrium models."""

    rewards: Rewards
    owner: np.ndarray  # [|G|]: the player whose equilibrium model drew each candidate
    data: list[np.ndarray]  # each player's private data as valued, [n_i, event size]

    def points(self, i: int) -> np.ndarray:
        """Player i's reward points, [|R_i|, event size]."""
        return self.rewards.points(i)


def _private_data(game: Game) -> list[np.ndarray]:
    game.require_expfam("game")
    data: list[Any] = [None] * game.n_players
    for g, group in enumerate(game.groups):
        x = np.asarray(game.data[g][group.player.variable])
        w = np.asarray(game.weights[g])
        for row, i in enumerate(group.members):
            n_i = int(game.counts[i])
            weights = w[row, :n_i]
            if not np.allclose(weights, weights[0]):
                raise ValueError(
                    f"game: player {i} has per-sample weights; the MMD valuation "
                    "values unweighted data"
                )
            data[i] = x[row, :n_i].reshape(n_i, -1).astype(np.float64)
    return data


def reward_game(
    game: Game,
    solution: Solution | Sequence[Any],
    key: jax.Array,
    *,
    pool_size: int = 10_000,
    **options: Any,
) -> GameRewards:
    """Value each player's private data in an exchange game and reward it with synthetic points.

    The candidate pool G is drawn from the players' models at ``solution`` (e.g. the game's
    equilibrium): player i's model draws ``pool_size / N`` points. Only samples leave a player,
    as in the exchange itself; the mechanism then sees the private data only to value it against
    T = (∪ D_i) ∪ G, as the authors' trusted mediator does. ``options`` go to ``rewards``.
    """
    if not isinstance(game, Game):
        raise TypeError(f"game: expected a gtgen.Game, got {type(game).__name__}")
    if isinstance(pool_size, bool) or not isinstance(pool_size, int | np.integer) or pool_size < 1:
        raise ValueError(f"pool_size: |G| must be a positive integer, got {pool_size!r}")
    params = tuple(np.asarray(p) for p in getattr(solution, "params", solution))
    if len(params) != len(game.groups) or any(
        p.shape != (len(gr.members), gr.player.num_stats) for p, gr in zip(params, game.groups)
    ):
        raise ValueError("solution: parameters do not match the game's players")
    data = _private_data(game)
    n = game.n_players
    sizes = np.full(n, pool_size // n) + (np.arange(n) < pool_size % n)
    key_pool, key_mech = jax.random.split(key)
    draws = []
    for i, (mu, player, m, k) in enumerate(
        zip(game.per_player(params), game.players, sizes, jax.random.split(key_pool, n))
    ):
        if m == 0:
            continue
        x = np.asarray(player.sample(k, jnp.asarray(mu, jnp.float32), int(m)), np.float64)
        draws.append((i, x.reshape(int(m), -1)))
    pool = np.concatenate([x for _, x in draws])
    owner = np.concatenate([np.full(len(x), i) for i, x in draws])
    result = rewards(data, pool, key_mech, **options)
    return GameRewards(result, owner, data)

"""``solve``: rounds of the one exchange round until ``rounds`` or ``tol``, compiled once.

Every solver runs the round of gtgen.exchange (sample → route by α → learn) in the loop every
solver shares (gtgen.solvers.loop: a batch of games in lockstep under ``lax.while_loop``, a trace
of per-round diagnostics). Solvers behind the one entry point (``method=``):

``sampled``   the paper's exchange, for every kind of player: every round each player draws
              ``samples`` synthetic samples and every player learns from its α-mixture.
              Exponential families move to the damped best response μ ← μ + λ(BR − μ), and
              their iterates fluctuate around μ* with variance O(1/m): Polyak averaging after
              ``burn_in`` rounds removes most of it (error ~ 1/sqrt(m·T)). Neural players take
              one learning step per round (their answer is the last state).
``exact``     exponential families only: the round with the others' expected statistics in closed
              form (no sampling); converges linearly at rate ρ(B).
``anderson``  the exact round with Anderson acceleration (gtgen.solvers.anderson).

α, damping, burn-in, tolerance and the private data (with its weights) are traced inputs: a
sweep over them reuses one compiled program per shape.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gtgen import xla_options
from gtgen.exchange import ROUTINGS, RoundSpec, check_spec, init_states, make_context, make_round
from gtgen.game import Game
from gtgen.solvers.anderson import anderson_first_step, anderson_init, anderson_step
from gtgen.solvers.loop import RoundInfo, run_rounds, single

METHODS = ("sampled", "exact", "anderson")


class State(NamedTuple):
    """Carried state: every group's players' states (an exponential family's mean parameters)
    and, for exponential families, their running average (None for other groups)."""

    params: tuple
    average: tuple
    count: jax.Array  # iterates in the average
    round: jax.Array


class Solution(NamedTuple):
    state: State
    trace: RoundInfo
    rounds_run: int
    method: str
    draw: str = "expected"  # what the round drew: "statistics", "samples" or "expected"

    @property
    def params(self) -> tuple:
        """The solver's answer: the iterate average where one was kept, else the last iterate."""
        if int(self.state.count) > 0:
            return tuple(
                p if a is None else a for p, a in zip(self.state.params, self.state.average)
            )
        return self.state.params


def _averaged(groups) -> tuple[bool, ...]:
    return tuple(g.player.reads == "statistics" for g in groups)


def _max_abs(a: Sequence, b: Sequence, keep: Sequence[bool]) -> jax.Array:
    diffs = [jnp.max(jnp.abs(x - y)) for x, y, k in zip(a, b, keep) if k]
    return jnp.max(jnp.stack(diffs)) if diffs else jnp.zeros((), jnp.float32)


def stop_scale(carry) -> jax.Array:
    """max(1, max |μ|) over exponential-family groups: the stop rule's scale."""
    state, _ = carry
    arrays = [p for p, a in zip(state.params, state.average) if a is not None]
    if not arrays:
        return jnp.ones((), jnp.float32)
    return jnp.maximum(1.0, jnp.max(jnp.stack([jnp.max(jnp.abs(p)) for p in arrays])))


def init_state(params: Sequence, averaged: Sequence[bool] | None = None) -> State:
    params = tuple(params)
    averaged = (True,) * len(params) if averaged is None else tuple(averaged)
    average = tuple(p if k else None for p, k in zip(params, averaged))
    return State(params, average, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def advance(state: State, new, burn_in, reference) -> tuple[State, RoundInfo]:
    """Bookkeeping shared by every solver: averaging after burn-in (none when ``burn_in`` is
    None) of the exponential-family groups, and diagnostics."""
    keep = tuple(a is not None for a in state.average)
    if burn_in is None:
        count, average = state.count, state.average
    else:
        on = state.round >= burn_in
        count = state.count + on.astype(jnp.int32)
        weight = jnp.where(on, 1.0 / jnp.maximum(count, 1), 0.0)
        average = tuple(
            None if a is None else a + weight * (p - a) for a, p in zip(state.average, new)
        )
    distance = jnp.nan if reference is None else _max_abs(new, reference, keep)
    info = RoundInfo(_max_abs(new, state.params, keep), jnp.asarray(distance, jnp.float32))
    return State(tuple(new), average, count, state.round + 1), info


def round_spec(
    method: str, routing: str, samples: int, draw: str | None = None, **options: Any
) -> RoundSpec:
    """The round a solver runs: sampled (``draw`` None: the statistic draw wherever it applies,
    else samples), or with closed-form statistics (exact, anderson)."""
    if method != "sampled":
        draw = "expected"
    return RoundSpec(samples, routing, draw=draw, **options)


def resolved_draw(groups, method: str, routing: str, draw: str | None = None) -> str:
    """The draw a solve with these settings runs (``"statistics"``, ``"samples"``, ``"expected"``)."""
    return check_spec(tuple(groups), round_spec(method, routing, 1, draw)).draw


def make_solver(
    groups: Sequence,
    method: str = "sampled",
    routing: str = "expected",
    rounds: int = 200,
    samples: int = 1000,
    memory: int = 5,
    *,
    batched: bool = False,
    draw: str | None = None,
    trace: int | None = None,
    **options: Any,
):
    """The whole solve as a pure function of traced inputs (jit it; sweeps use ``batched``).

    ``run(key, alpha, data, weights, damping, burn_in, tol, reference, samples=None) -> (state,
    trace, rounds_run)`` with ``data`` / ``weights`` the per-group padded arrays of a ``Game``;
    under the statistic draw (``draw``, see ``gtgen.exchange.RoundSpec``) ``samples`` is traced
    (None: the ``samples`` given here). With ``batched=True``
    every argument and output has a leading axis of games, run in lockstep by
    ``gtgen.solvers.loop.run_rounds`` (faster than vmapping the one-game form: see there).
    ``trace``: how many rounds the returned trace records (None: every round; 0: none, so the
    round cap costs nothing beyond the rounds run). ``limit`` (sampled method, ``trace=0``): a
    traced round count up to ``rounds`` run in place of ``rounds`` (one program for every count;
    ``gtgen.solvers.loop.run_rounds``).
    ``options`` are the item readers' round settings (``composition``, ``own_batch``,
    ``flip_prob``, ``noise_std``; see ``gtgen.exchange.RoundSpec``).
    """
    groups = tuple(groups)
    spec = check_spec(groups, round_spec(method, routing, samples, draw, **options))
    round_fn = make_round(groups, spec)
    averaged = _averaged(groups)
    fresh = not all(averaged)  # neural players start from a key, exponential families from data

    def prepare(key, alpha, data, weights, damping, burn_in, reference, m):
        """One game's read-only context and starting carry."""
        context = make_context(groups, alpha, data, weights, spec, damping, m)
        if fresh:
            k_init, key = jax.random.split(key)
        states = init_states(groups, k_init if fresh else key, context.own)
        extra = {
            "sampled": key,
            "exact": None,
            "anderson": anderson_init(ravel_pytree(states)[0], memory),
        }[method]
        return (context, burn_in, reference), (init_state(states, averaged), extra)

    # Each method carries only what it needs: a key (sampled), Anderson's history, or nothing.
    def step(context, carry):
        context, burn_in, reference = context
        state, extra = carry
        if method == "sampled":
            extra, sub = jax.random.split(extra)
            new, _ = round_fn(sub, state.params, context)
            state, info = advance(state, new, burn_in, reference)
        elif method == "exact":
            new, _ = round_fn(None, state.params, context)
            state, info = advance(state, new, None, reference)
        else:
            state, extra, info = accelerated(anderson_step, state, extra, context, reference)
        return (state, extra), info

    def accelerated(update, state, extra, context, reference):
        best, _ = round_fn(None, state.params, context._replace(damping=jnp.float32(1.0)))
        flat, unravel = ravel_pytree(state.params)
        flat, extra = update(extra, flat, ravel_pytree(best)[0], context.damping)
        state, info = advance(state, unravel(flat), None, reference)
        return state, extra, info

    def first_step(context, carry):
        """Anderson's round 0: the plain step (no history yet), as ``step`` computes it."""
        (context, _, reference), (state, extra) = context, carry
        state, extra, info = accelerated(anderson_first_step, state, extra, context, reference)
        return (state, extra), info

    def run_batch(
        key, alpha, data, weights, damping, burn_in, tol, reference, samples=None, limit=None
    ):
        if samples is None:
            samples = jnp.full(tol.shape, spec.samples, jnp.float32)
        context, carry = jax.vmap(prepare)(
            key, alpha, data, weights, damping, burn_in, reference, samples
        )
        (state, _), rows, t = run_rounds(
            step,
            stop_scale,
            context,
            carry,
            tol,
            rounds,
            trace,
            can_stop=method != "sampled",
            limit=None if limit is None else jnp.max(limit),
            first=first_step if method == "anderson" else None,
            scratch=True,  # a stopped game keeps its state; its key or history may run on
        )
        return state, rows, t

    return run_batch if batched else single(run_batch)


@functools.lru_cache(maxsize=64)
def _compiled(groups, method, routing, rounds, samples, memory, options=(), draw=None):
    """One jitted solver per structure; everything a sweep varies is a traced argument (the
    sample count too under the statistic draw: ``compiled`` gives it the key 0)."""
    return xla_options.jit(
        make_solver(groups, method, routing, rounds, samples, memory, draw=draw, **dict(options))
    )


def compiled(groups, method, routing, rounds, samples, memory=5, options=(), draw=None):
    """The jitted solver ``solve`` runs for this structure and the draw it runs with."""
    draw = resolved_draw(groups, method, routing, draw)
    if draw == "statistics":
        samples = 0  # traced: one program for every m
    return _compiled(
        groups, method, routing, int(rounds), int(samples), int(memory), tuple(options), draw
    ), draw


def solve(
    game: Game,
    key: jax.Array,
    *,
    method: str = "sampled",
    rounds: int = 200,
    samples: int = 1000,
    routing: str = "expected",
    damping: float = 1.0,
    burn_in: int | None = None,
    tol: float | None = None,
    memory: int = 5,
    reference: Sequence[Any] | None = None,
    draw: str | None = None,
    **options: Any,
) -> Solution:
    """Play the game from every player's starting state until ``rounds`` or ``tol``.

    Args:
      game: a validated ``gtgen.Game`` (players of any kind for ``method="sampled"``).
      key: a ``jax.random`` key; the same key gives the same result.
      method: ``"sampled"`` (the paper's exchange), ``"exact"`` or ``"anderson"``.
      rounds: the most rounds to run.
      samples: synthetic samples per player per round (sampled method).
      routing: ``"expected"``, ``"sampled"`` or ``"meanfield"`` (see gtgen.exchange).
      damping: λ in (0, 1]; the step μ ← μ + λ(BR(μ) − μ) (Anderson's mixing β).
      burn_in: sampled method only; rounds before iterate averaging starts (default rounds // 2;
        ``rounds`` turns averaging off).
      tol: exact / anderson only; stop once max |μ_{t+1} − μ_t| < tol · max(1, max |μ|)
        (default 1e-6, a few float32 ulps).
      memory: Anderson history length.
      reference: per-group parameters to trace the distance to (e.g. ``game_equilibrium(game)``).
      draw: sampled method: ``"statistics"`` (each receiver's mean sufficient statistics of its
        m samples drawn from their exact law: cost independent of m, one compile for every m),
        ``"samples"`` (the samples themselves), or None: statistics wherever every player has a
        law (exponential families), else samples. ``Solution.draw`` says which ran.
      options: neural players' round settings: ``composition`` ("shares" | "weighted"),
        ``own_batch`` (an int or "full"), ``flip_prob``, ``noise_std`` (gtgen.exchange.RoundSpec).
    """
    check_key(key)
    check_settings(
        game, method, rounds, samples, routing, damping, burn_in, tol, memory, draw, **options
    )
    burn = rounds // 2 if burn_in is None else burn_in
    stop = (1e-6 if tol is None else tol) if method != "sampled" else -1.0
    ref = None if reference is None else tuple(jnp.asarray(r, jnp.float32) for r in reference)
    run, drew = compiled(
        game.groups, method, routing, rounds, samples, memory, tuple(sorted(options.items())), draw
    )
    state, trace, t = run(
        key,
        jnp.asarray(game.alpha, jnp.float32),
        game.data,
        game.weights,
        jnp.float32(damping),
        jnp.int32(burn),
        jnp.float32(stop),
        ref,
        jnp.float32(samples),
    )
    return Solution(state, trace, int(t), method, drew)


def check_key(key: Any, field: str = "key") -> None:
    """A ``jax.random`` key (``jax.random.key(seed)``, or a legacy uint32[2] ``PRNGKey``), or
    TypeError naming ``field``."""
    arr = key if isinstance(key, jax.Array) else None
    if arr is not None and jnp.issubdtype(arr.dtype, jax.dtypes.prng_key) and arr.shape == ():
        return
    if arr is not None and arr.dtype == jnp.uint32 and arr.shape == (2,):
        return
    what = (
        f"an array of dtype {arr.dtype} and shape {arr.shape}"
        if arr is not None
        else type(key).__name__
    )
    raise TypeError(f"{field}: expected one jax.random key (jax.random.key(seed)), got {what}")


def check_settings(
    game, method, rounds, samples, routing, damping, burn_in, tol, memory, draw=None, **options
):
    if not isinstance(game, Game):
        raise TypeError(f"game: expected a gtgen.Game, got {type(game).__name__}")
    if method not in METHODS:
        raise ValueError(f"method: unknown solver {method!r}; choose one of {', '.join(METHODS)}")
    if routing not in ROUTINGS:
        raise ValueError(
            f"routing: unknown routing {routing!r}; choose one of {', '.join(ROUTINGS)}"
        )
    _int_in("rounds", rounds, 1, 10_000_000)
    _int_in("samples", samples, 1, 100_000_000)
    _int_in("memory", memory, 1, 100)
    if burn_in is not None:
        _int_in("burn_in", burn_in, 0, rounds)
    if not _is_number(damping) or not 0.0 < damping <= 1.0:
        raise ValueError(f"damping: must be a number in (0, 1], got {damping!r}")
    if tol is not None and (not _is_number(tol) or not 0.0 <= tol < np.inf):
        raise ValueError(f"tol: must be a non-negative number, got {tol!r}")
    if tol is not None and method == "sampled":
        warnings.warn(
            "tol: applies to methods exact and anderson only; the sampled method runs "
            "every round, so it is ignored",
            UserWarning,
            stacklevel=3,
        )
    unknown = sorted(set(options) - {"composition", "own_batch", "flip_prob", "noise_std"})
    if unknown:
        raise TypeError(f"{unknown[0]}: not a setting of solve")
    if draw is not None and method != "sampled":
        raise ValueError(f"draw: only the sampled method draws; {method} uses closed forms")
    check_spec(game.groups, round_spec(method, routing, samples, draw, **options))
    if method == "sampled" and routing == "meanfield":
        _require_meanfield(game.alpha)


def _require_meanfield(alpha: np.ndarray) -> None:
    n = alpha.shape[0]
    if n < 2:
        raise ValueError("routing: meanfield needs at least 2 players")
    off = alpha[~np.eye(n, dtype=bool)].reshape(n, n - 1)
    if not np.allclose(off, off[:, :1], atol=1e-6):
        raise ValueError(
            "routing: meanfield needs uniform off-diagonal rows, alpha[i][j] = (1 - alpha[i][i]) / (N - 1)"
        )


def _is_number(x: Any) -> bool:
    return (
        isinstance(x, (int, float, np.integer, np.floating))
        and not isinstance(x, bool)
        and np.isfinite(x)
    )


def _int_in(field: str, value: Any, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise ValueError(f"{field}: must be an integer in [{low}, {high}], got {value!r}")

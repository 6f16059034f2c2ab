"""The exchange round and ``solve``: rounds of sample → route by α → update, compiled once.

``round(key, state) -> (state, RoundInfo)`` in blackjax style: one jit-compiled function in
which every group of players is vmapped and all groups run together. ``solve`` runs rounds under
``lax.while_loop`` (a tolerance stop, never a Python loop) and returns the final state plus a
trace of per-round diagnostics.

Solvers behind the one entry point (``method=``):

``sampled``   the paper's exchange: every round each player draws ``samples`` synthetic samples
              and every player refits on its α-mixture. The iterates fluctuate around μ* with
              variance O(1/m); ``damping`` λ (μ ← μ + λ(BR − μ)) and Polyak averaging of the
              iterates after ``burn_in`` rounds remove most of it (error ~ 1/sqrt(m·T)).
``exact``     best response with the others' expected statistics in closed form (no sampling);
              converges linearly at rate ρ(B).
``anderson``  the exact iteration with Anderson acceleration (gtgen.anderson).

α, damping, burn-in, tolerance and the private data (with its weights) are traced inputs: a
sweep over them reuses one compiled program per shape.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gtgen import xla_options
from gtgen.anderson import anderson_init, anderson_step
from gtgen.game import Game, Group, own_moments
from gtgen.moments import ROUTINGS, exact_best_response, sampled_best_response
from gtgen.rounds import RoundInfo, run_rounds, single
from gtgen.routing import routing_plan

METHODS = ("sampled", "exact", "anderson")


class State(NamedTuple):
    """Carried state: current mean parameters per group and their running average."""

    params: tuple[jax.Array, ...]
    average: tuple[jax.Array, ...]
    count: jax.Array  # iterates in the average
    round: jax.Array


class Solution(NamedTuple):
    state: State
    trace: RoundInfo
    rounds_run: int
    method: str

    @property
    def params(self) -> tuple[jax.Array, ...]:
        """The solver's answer: the iterate average where one was kept, else the last iterate."""
        if int(self.state.count) > 0:
            return self.state.average
        return self.state.params


def _max_abs(a: Sequence[jax.Array], b: Sequence[jax.Array]) -> jax.Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x - y)) for x, y in zip(a, b)]))


def stop_scale(carry) -> jax.Array:
    """max(1, max |μ|): the stop rule's scale (a step below tol · scale stops the solve)."""
    state, _ = carry
    return jnp.maximum(1.0, jnp.max(jnp.stack([jnp.max(jnp.abs(p)) for p in state.params])))


def init_state(params: Sequence[jax.Array]) -> State:
    params = tuple(params)
    return State(params, params, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def advance(state: State, new, burn_in, reference) -> tuple[State, RoundInfo]:
    """Bookkeeping shared by every solver: averaging after burn-in (none when ``burn_in`` is
    None) and diagnostics."""
    if burn_in is None:
        count, average = state.count, state.average
    else:
        keep = state.round >= burn_in
        count = state.count + keep.astype(jnp.int32)
        weight = jnp.where(keep, 1.0 / jnp.maximum(count, 1), 0.0)
        average = tuple(a + weight * (p - a) for a, p in zip(state.average, new))
    distance = jnp.nan if reference is None else _max_abs(new, reference)
    info = RoundInfo(_max_abs(new, state.params), jnp.asarray(distance, jnp.float32))
    return State(tuple(new), average, count, state.round + 1), info


def make_round(groups: Sequence[Group], samples: int, routing: str = "expected"):
    """One sampled exchange round as a pure function (jit it, or let ``solve`` do it).

    ``round(key, state, alpha, own, damping, burn_in, reference=None) -> (state, info)``, where
    ``alpha`` is the [N, N] matrix or, inside loops, ``gtgen.routing.routing_plan(alpha, routing)``
    computed once.
    """
    groups = tuple(groups)

    def round_fn(key, state, alpha, own, damping, burn_in, reference=None):
        best = sampled_best_response(groups, alpha, own, state.params, key, samples, routing)
        new = tuple(p + damping * (b - p) for p, b in zip(state.params, best))
        return advance(state, new, burn_in, reference)

    return round_fn


def make_solver(
    groups: Sequence[Group],
    method: str = "sampled",
    routing: str = "expected",
    rounds: int = 200,
    samples: int = 1000,
    memory: int = 5,
    *,
    batched: bool = False,
):
    """The whole solve as a pure function of traced inputs (jit it; sweeps use ``batched``).

    ``run(key, alpha, data, weights, damping, burn_in, tol, reference) -> (state, trace, rounds_run)``
    with ``data`` / ``weights`` the per-group padded arrays of a ``Game``. With ``batched=True``
    every argument and output has a leading axis of games, run in lockstep by
    ``gtgen.rounds.run_rounds`` (faster than vmapping the one-game form: see there).
    """
    groups = tuple(groups)
    sampled_round = make_round(groups, samples, routing)

    def prepare(key, alpha, data, weights, damping, burn_in, reference):
        """One game's read-only context and starting carry."""
        own = own_moments(groups, data, weights)
        plan = routing_plan(alpha, routing if method == "sampled" else "expected")
        extra = {
            "sampled": key,
            "exact": None,
            "anderson": anderson_init(ravel_pytree(own)[0], memory),
        }[method]
        return (own, plan, damping, burn_in, reference), (init_state(own), extra)

    # Each method carries only what it needs: a key (sampled), Anderson's history, or nothing.
    def step(context, carry):
        own, plan, damping, burn_in, reference = context
        state, extra = carry
        if method == "sampled":
            extra, sub = jax.random.split(extra)
            state, info = sampled_round(sub, state, plan, own, damping, burn_in, reference)
        else:
            best = exact_best_response(groups, plan, own, state.params)
            if method == "exact":
                new = tuple(p + damping * (b - p) for p, b in zip(state.params, best))
            else:
                flat, extra = anderson_step(
                    extra, ravel_pytree(state.params)[0], ravel_pytree(best)[0], damping
                )
                new = ravel_pytree(own)[1](flat)
            state, info = advance(state, new, None, reference)
        return (state, extra), info

    def run_batch(key, alpha, data, weights, damping, burn_in, tol, reference):
        context, carry = jax.vmap(prepare)(key, alpha, data, weights, damping, burn_in, reference)
        (state, _), trace, t = run_rounds(step, stop_scale, context, carry, tol, rounds)
        return state, trace, t

    return run_batch if batched else single(run_batch)


@functools.lru_cache(maxsize=64)
def _compiled(groups, method, routing, rounds, samples, memory):
    """One jitted solver per structure; everything a sweep varies is a traced argument."""
    return xla_options.jit(make_solver(groups, method, routing, rounds, samples, memory))


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
) -> Solution:
    """Play the game from every player's own-data fit until ``rounds`` or ``tol``.

    Args:
      game: a validated ``gtgen.Game``.
      key: a ``jax.random`` key; the same key gives the same result.
      method: ``"sampled"`` (the paper's exchange), ``"exact"`` or ``"anderson"``.
      rounds: the most rounds to run.
      samples: synthetic samples per player per round (sampled method).
      routing: ``"expected"``, ``"sampled"`` or ``"meanfield"`` (see gtgen.moments).
      damping: λ in (0, 1]; the step μ ← μ + λ(BR(μ) − μ) (Anderson's mixing β).
      burn_in: sampled method only; rounds before iterate averaging starts (default rounds // 2;
        ``rounds`` turns averaging off).
      tol: exact / anderson only; stop once max |μ_{t+1} − μ_t| < tol · max(1, max |μ|)
        (default 1e-6, a few float32 ulps).
      memory: Anderson history length.
      reference: per-group parameters to trace the distance to (e.g. ``game_equilibrium(game)``).
    """
    check_settings(game, method, rounds, samples, routing, damping, burn_in, tol, memory)
    burn = rounds // 2 if burn_in is None else burn_in
    stop = (1e-6 if tol is None else tol) if method != "sampled" else -1.0
    ref = None if reference is None else tuple(jnp.asarray(r, jnp.float32) for r in reference)
    run = _compiled(game.groups, method, routing, int(rounds), int(samples), int(memory))
    state, trace, t = run(
        key,
        jnp.asarray(game.alpha, jnp.float32),
        game.data,
        game.weights,
        jnp.float32(damping),
        jnp.int32(burn),
        jnp.float32(stop),
        ref,
    )
    return Solution(state, trace, int(t), method)


def check_settings(game, method, rounds, samples, routing, damping, burn_in, tol, memory):
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

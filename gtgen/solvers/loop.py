"""The round loop every solver shares: a batch of games advanced in lockstep until each stops.

``run_rounds(step, context, carry, tol, rounds)`` runs ``step`` — one round of ONE game — over a
batch of games under a single ``lax.while_loop``. The batch axis lives inside the loop (the step is
vmapped there), not outside it: vmapping a whole while-loop solver instead makes every round
select over each game's full trace array and scatter into it at a per-game index, which costs
O(rounds) per round. Here the round counter is shared, a round writes one row of the trace, and a
game that has stopped simply keeps its carry (its trace rows stay NaN).

Stop rule, per game: after at most ``rounds`` rounds, or once a round's relative step is below
``tol`` (a ``tol`` ≤ 0 never stops early). The loop ends when every game has stopped. A game
run alone (a batch of one) and the same game inside a batch give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class RoundInfo(NamedTuple):
    """Per-round diagnostics; solvers stack them into a trace (NaN after the last round)."""

    step: jax.Array  # max |μ_{t+1} − μ_t|
    distance: jax.Array  # max |μ_{t+1} − reference| (NaN without a reference)


Step = Callable[[Any, Any], tuple[Any, RoundInfo]]


def _keep(active: jax.Array, new: Any, old: Any) -> Any:
    def pick(n, o):
        mask = active.reshape(active.shape + (1,) * (n.ndim - 1))
        return jnp.where(mask, n, o)

    return jax.tree.map(pick, new, old)


def run_rounds(
    step: Step,
    scale: Callable[[Any], jax.Array],
    context: Any,
    carry: Any,
    tol: jax.Array,
    rounds: int,
    trace: int | None = None,
    can_stop: bool = True,
    limit: jax.Array | None = None,
    first: Step | None = None,
    scratch: bool = False,
) -> tuple[Any, RoundInfo, jax.Array]:
    """Advance a batch of games until each has run ``rounds`` rounds or met its tolerance.

    Args:
      step: ``step(context, carry) -> (carry, RoundInfo)``, one round of one game.
      scale: ``scale(carry) -> scalar``: a game stops once ``info.step / scale(carry) < tol``.
      context: per-game inputs the step reads (pytree, leading batch axis B).
      carry: per-game state the step updates (pytree, leading batch axis B).
      tol: [B]; a tolerance ≤ 0 never stops its game early.
      rounds: the most rounds (static).
      trace: how many rounds the trace records, from the first (static; None: all ``rounds``,
        0: none). Its memory and the writes into it are paid only for these rows: a sweep that
        reads only the answer passes 0 and costs the same at any round cap.
      can_stop: False where no game can ever stop early (the sampled exchange: its ``tol`` is
        always ≤ 0): only the plain scan is built, so the program holds the round once, not
        twice (the ``lax.cond`` between the two loops compiles both).
      limit: a traced round count (int32 scalar, at most ``rounds``) that every game runs in
        place of ``rounds``, so that one program serves every count up to ``rounds`` (a
        benchmark's T(R) − T(1)); only where no game can stop early and ``trace`` is 0.
      first: where a game's first round has a cheaper form giving the same numbers (Anderson's
        first step is a plain one: no history yet), ``first(context, carry)``: the stopping loop
        runs it for round 0, before the ``while`` loop of ``step`` (peeled off, not a branch
        inside the loop: XLA copies the carry of a ``cond``, the whole Anderson history, every
        round).
      scratch: the carry is a pair ``(kept, scratch)`` whose second part is working memory
        that never feeds a stopped game's first part again (Anderson's history): a stopped
        game keeps only ``kept``, so the loop does not select over (and copy) its scratch
        every round. The returned carry's scratch of a stopped game is then meaningless.

    Returns ``(carry, trace, rounds_run)``: trace fields are [B, min(trace, rounds)], rounds_run
    is [B] int32.

    When no game of the batch can stop early (every ``tol`` ≤ 0: the sampled exchange, sweeps of
    a fixed number of rounds) the rounds run as a plain ``lax.scan``: no stop test, no masking.
    """
    batch = tol.shape[0]
    rows = rounds if trace is None else max(0, min(int(trace), rounds))
    if limit is not None and (can_stop or rows):
        raise ValueError("run_rounds: a traced limit needs can_stop=False and trace=0")
    batched_step = jax.vmap(step)
    batched_first = None if first is None else jax.vmap(first)
    batched_scale = jax.vmap(scale)

    def record(trace, t, info):
        """Row t of the trace (rows ≥ ``rows`` land in a spare last row, dropped at the end)."""
        if rows == 0:
            return trace
        at = jnp.minimum(t, rows)
        return jax.tree.map(
            lambda r, x: jax.lax.dynamic_update_index_in_dim(r, x.astype(r.dtype), at, 0),
            trace,
            info,
        )

    def body(loop, round_step=batched_step):
        t, carry, trace, run, last = loop
        new, info = round_step(context, carry)
        rel = info.step / batched_scale(new)
        if batch == 1:  # the loop runs only while the one game is active: nothing to mask
            active = jnp.ones((1,), bool)
            carry = new
        else:
            active = ~(last < tol)
            if scratch:
                carry = (_keep(active, new[0], carry[0]), new[1])
            else:
                carry = _keep(active, new, carry)
            info = jax.tree.map(lambda x: jnp.where(active, x, jnp.nan), info)
            rel = jnp.where(active, rel, last)
        trace = record(trace, t, info)
        return t + 1, carry, trace, run + active.astype(jnp.int32), rel

    def cond(loop):
        t, *_, last = loop
        return (t < rounds) & jnp.any(~(last < tol))

    def until_stopped(carry):
        nan = jnp.full((rows + 1 if rows else 0, batch), jnp.nan, jnp.float32)
        init = (
            jnp.zeros((), jnp.int32),
            carry,
            RoundInfo(nan, nan),
            jnp.zeros((batch,), jnp.int32),
            jnp.full((batch,), jnp.inf, jnp.float32),
        )
        if batched_first is not None and rounds > 0:  # round 0 peeled off the loop: no branch
            init = body(init, batched_first)  # in it (a cond copies the carry every round)
        _, carry, trace, run, _ = jax.lax.while_loop(cond, body, init)
        return carry, jax.tree.map(lambda x: x[:rows], trace), run

    def every_round(carry):
        def scan_body(carry, _):
            carry, info = batched_step(context, carry)
            return carry, jax.tree.map(lambda x: x.astype(jnp.float32), info)

        def quiet_body(carry, _):
            return batched_step(context, carry)[0], None

        if limit is not None:
            count = jnp.minimum(jnp.asarray(limit, jnp.int32), rounds)
            step_only = lambda _, c: batched_step(context, c)[0]  # noqa: E731
            carry = jax.lax.fori_loop(0, count, step_only, carry)
            return (
                carry,
                RoundInfo(*(jnp.zeros((0, batch), jnp.float32),) * 2),
                jnp.full((batch,), count, jnp.int32),
            )
        carry, trace = jax.lax.scan(scan_body, carry, length=rows)
        if rows < rounds:
            carry, _ = jax.lax.scan(quiet_body, carry, length=rounds - rows)
        return carry, trace, jnp.full((batch,), rounds, jnp.int32)

    if can_stop:
        carry, trace, run = jax.lax.cond(jnp.any(tol > 0), until_stopped, every_round, carry)
    else:
        carry, trace, run = every_round(carry)
    return carry, RoundInfo(*(x.T for x in trace)), run


def single(batched: Callable[..., Any]) -> Callable[..., Any]:
    """The one-game form of a function of batched arguments: add a batch axis of one to every
    argument (pytree leaves, keys included), drop it from every output."""

    def run(*args):
        out = batched(*jax.tree.map(lambda x: x[None], args))
        return jax.tree.map(lambda x: x[0], out)

    return run

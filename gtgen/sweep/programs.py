"""One compiled program per shape: a whole solve plus its checks, vmapped over sweep points.

A kind's program (``gtgen.sweep.kinds``) maps a shape to ``(batch_fn, input_names)``; ``batch_fn`` maps a batch of
points' inputs (leading sweep axis) to ``Outputs`` with the same leading axis. The games of a batch
run in lockstep inside one loop (``gtgen.solvers.loop.run_rounds``). The runner shards the sweep axis (or,
for large games, the player axis) over a device mesh and compiles it ahead of time once per shape.

Extension point: a new kind of player adds an entry to ``gtgen.sweep.kinds.KINDS`` whose program
takes the same shape dictionary and returns a ``batch_fn`` with outputs of the same ``Outputs``
form (NaN where it has no closed form to compare with).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.game import Group
from gtgen.players.expfam import family
from gtgen.solvers.equilibrium import exact_best_response
from gtgen.solvers.solve import make_solver
from gtgen.sweep.neural import neural_program
from gtgen.sweep.structured import exact_best_response as structured_best_response
from gtgen.sweep.structured import make_structured_solver


class Outputs(NamedTuple):
    """What one point's program returns (float32 unless noted)."""

    rounds_run: jax.Array  # int32
    trace_distance: jax.Array  # [rounds] max |μ_t − μ*|, NaN after the last round
    trace_step: jax.Array  # [rounds] max |μ_{t+1} − μ_t|
    distance: jax.Array  # max |μ̂ − μ*| of the answer (iterate average where kept)
    residual: jax.Array  # max |μ̂ − BR(μ̂)|
    gap_max: jax.Array  # max over players of the Nash gap KL(p_BR ‖ p_i)
    gap_mean: jax.Array
    final_loss: jax.Array  # neural players: mean training loss at the end (NaN otherwise)


DENSE_INPUTS = (
    "seed",
    "alpha",
    "data",
    "weights",
    "damping",
    "burn_in",
    "stop_tol",
    "reference",
    "samples",
)
STRUCTURED_INPUTS = (
    "seed",
    "self_weight",
    "index",
    "weight",
    "data",
    "weights",
    "damping",
    "burn_in",
    "stop_tol",
    "reference",
    "samples",
)
# Inputs with a player axis (axis 0 of one point), sharded over devices in large games.
PLAYER_AXIS = {"alpha", "data", "weights", "reference", "self_weight", "index", "weight"}


def _checks(player, params, best, reference):
    gap = jax.vmap(player.kl)(best, params)
    return (
        jnp.max(jnp.abs(params - reference)),
        jnp.max(jnp.abs(params - best)),
        jnp.max(gap),
        jnp.mean(gap),
    )


def expfam_program(shape: dict[str, Any]) -> tuple[Callable[..., Outputs], tuple[str, ...]]:
    """The batched program of an exponential-family game with these shape settings.

    A structured α's program also takes the shape key ``trace`` (the rounds its trace records,
    default all; 0: none) and, at ``trace=0`` with the sampled method, a last argument ``limit``
    after the named inputs: a traced round count up to ``rounds`` (one program for every count,
    as a benchmark's T(R) − T(r) needs; see ``make_structured_solver``).
    """
    player = family(shape["family"], shape["dim"])
    n, rounds = shape["players"], shape["rounds"]
    if shape["structure"] != "dense":
        kind = shape["structure"]
        run = make_structured_solver(player, kind, shape["method"], rounds, shape.get("trace"))

        def structured_checks(params, self_weight, index, weight, data, weights, reference):
            own = jax.vmap(player.init)(data, weights)
            best = structured_best_response(player, kind, own, params, self_weight, index, weight)
            return _checks(player, params, best, reference)

        def structured_batch(
            seed,
            self_weight,
            index,
            weight,
            data,
            weights,
            damping,
            burn_in,
            stop_tol,
            reference,
            samples,
            limit=None,
        ):
            keys = jax.vmap(jax.random.key)(seed)
            params, trace, t = run(
                keys,
                self_weight,
                index,
                weight,
                data,
                weights,
                damping,
                burn_in,
                stop_tol,
                reference,
                samples,
                limit,
            )
            checks = jax.vmap(structured_checks)(
                params, self_weight, index, weight, data, weights, reference
            )
            return Outputs(t, trace.distance, trace.step, *checks, _nan_like(t))

        return structured_batch, STRUCTURED_INPUTS

    groups = (Group(player, tuple(range(n))),)
    # the sample count is traced (the statistic draw): one program for every m
    solver = make_solver(
        groups,
        shape["method"],
        shape["routing"],
        rounds,
        1,
        shape["memory"],
        batched=True,
        draw="statistics" if shape["method"] == "sampled" else None,
    )

    def dense_checks(state, alpha, data, weights, reference):
        params = jnp.where(state.count > 0, state.average[0], state.params[0])
        own = jax.vmap(player.init)(data, weights)
        best = exact_best_response(groups, alpha, (own,), (params,))[0]
        return _checks(player, params, best, reference)

    def dense_batch(seed, alpha, data, weights, damping, burn_in, stop_tol, reference, samples):
        keys = jax.vmap(jax.random.key)(
            seed
        )  # the keys gtgen.solve(game, jax.random.key(seed)) gets
        state, trace, t = solver(
            keys,
            alpha,
            ({player.variable: data},),
            (weights,),
            damping,
            burn_in,
            stop_tol,
            (reference,),
            samples,
        )
        checks = jax.vmap(dense_checks)(state, alpha, data, weights, reference)
        return Outputs(t, trace.distance, trace.step, *checks, _nan_like(t))

    return dense_batch, DENSE_INPUTS


def _nan_like(t: jax.Array) -> jax.Array:
    return jnp.full(t.shape, jnp.nan, jnp.float32)


def neural_batch_program(shape: dict[str, Any]) -> tuple[Callable[..., Outputs], tuple[str, ...]]:
    """The batched program of a neural game (gtgen.sweep.neural): no closed form, so the
    distance, residual, gap and trace outputs are NaN."""
    fn, names = neural_program(shape)

    def neural_batch(*args):
        final = fn(*args)
        points = final.shape[0]
        rounds = jnp.full((points,), shape["rounds"], jnp.int32)
        nan, traces = _nan_like(rounds), jnp.full((points, shape["rounds"]), jnp.nan)
        return Outputs(rounds, traces, traces, nan, nan, nan, nan, final)

    return neural_batch, names


# --- own-data moments in float64, for the closed form ---------------------------------------


def _stats_gaussian(x):
    return np.concatenate([x, x * x], axis=-1)


def _stats_gaussian_full(x):
    outer = x[..., :, None] * x[..., None, :]
    return np.concatenate([x, outer.reshape(*x.shape[:-1], -1)], axis=-1)


def _identity(x):
    return x.astype(np.float64)


OWN_STATS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "gaussian": lambda x, d: _stats_gaussian(x),
    "gaussian-full": lambda x, d: _stats_gaussian_full(x),
    "bernoulli": lambda x, d: _identity(x),
    "poisson": lambda x, d: _identity(x),
    "categorical": lambda x, d: np.eye(d)[x.astype(np.int64)],
}


def own_moments(fam: str, dim: int, data: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean sufficient statistics per player, float64: data [..., N, n, *event] -> [..., N, K]."""
    t = OWN_STATS[fam](np.asarray(data, np.float64), dim)
    w = np.asarray(weights, np.float64)
    w = w / w.sum(axis=-1, keepdims=True)
    return np.einsum("...n,...nk->...k", w, t)

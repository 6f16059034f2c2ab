"""Participation dynamics under the three mechanisms, vmapped over replicates in one program.

``simulate(task, mechanisms, key, replicates)`` compiles ONE program for the task's shape and
runs every mechanism (a traced set of parameters: pooling flag, reports, ε, m) on every
replicate: ``vmap`` over mechanisms of ``vmap`` over replicates of a ``lax.while_loop`` of
best-response rounds. All mechanisms see the same keys (common random numbers), so differences
between them come from the mechanism, not from the draw.

One replicate:

1. the test (verification only): every agent's type is estimated from m samples against the
   trusted set (``model.estimate_types``); agents whose estimate contradicts their report by
   more than ε in some component are excluded for good;
2. the eligible agents form the coalition; every round, every eligible agent compares the
   utility of the coalition it would be in (the members, with itself) with learning alone,
   and members leave / outsiders join at once (ties stay put), until no one moves or
   ``max_rounds`` have passed;
3. what the agents end with: the expected risk of each one's model (closed form), one draw of
   its realised risk (fresh training data), its utility, and, at the grand coalition, what a
   unilateral lemon report would have gained it.

Utilities: −risk − c·n for everyone, − c·m more for the members under a test (the m test
samples); an agent that is tested and excluded has paid c·m for nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options
from gtgen.checks import integer
from gtgen.mechanisms.verification.guarantee import check_eps
from gtgen.mechanisms.verification.model import (
    MIN_TEST_SAMPLES,
    Task,
    alone_risk,
    check_reports,
    equal_weights,
    estimate_types,
    realised_risk,
    risk,
    welfare_weights,
)

REPORTS = ("truthful", "lemons")
MECHANISM_BUCKET = 16
TIE_TOLERANCE = 1e-6  # relative: utilities this close count as equal (float32 programs)


class Mechanism(NamedTuple):
    """How the aggregator weights the members, and whether it tests their reports.

    ``pooling``               equal weights (it cannot tell agents apart).
    ``reports``               what agents report: ``"truthful"``, ``"lemons"`` (every agent claims
                              the type of the best agent), or a [J, P] array.
    ``eps``                   the tolerance of the test; ``inf``: no test (reports are taken as
                              they are).
    ``verification_samples``  m, test samples per agent (and trusted samples); unused if eps = inf.

    Build one with ``pooling()``, ``full_information()`` or ``verification(eps, m, reports)``.
    """

    name: str
    pooling: bool
    reports: Any
    eps: float
    verification_samples: int

    @property
    def tested(self) -> bool:
        return math.isfinite(self.eps)


def pooling(name: str = "pooling") -> Mechanism:
    """No information: every member's data weighted alike."""
    return Mechanism(name, True, "truthful", math.inf, 0)


def full_information(name: str = "full information") -> Mechanism:
    """The aggregator sees the types: welfare-maximising weights, no test."""
    return Mechanism(name, False, "truthful", math.inf, 0)


def verification(
    eps: float,
    verification_samples: int | None = None,
    reports: Any = "truthful",
    name: str | None = None,
) -> Mechanism:
    """Reports, a test of m samples with tolerance ε (exclusion), weights from the reports."""
    eps = check_eps(eps)
    if math.isfinite(eps):
        m = integer("verification_samples", verification_samples, MIN_TEST_SAMPLES)
    else:
        m = 0
    if isinstance(reports, str) and reports not in REPORTS:
        raise ValueError(f"reports: must be one of {REPORTS} or a [J, P] array, got {reports!r}")
    label = reports if isinstance(reports, str) else "given reports"
    default = f"verification ε={eps:g}, m={m}, {label}" if m else f"no test (ε=∞), {label}"
    return Mechanism(name or default, False, reports, eps, m)


class Outcome(NamedTuple):
    """What the program returns; every array is [mechanisms, replicates, ...] (numpy).

    ``members``        [S, R, J] the coalition when the dynamics stop.
    ``eligible``       [S, R, J] passed the test (all True without a test).
    ``caught``         [S, R, J] a lemon report by this agent would have been excluded.
    ``sizes``          [S, R, max_rounds + 1] coalition size after the test (round 0) and after
                       every round (held at the final size once the dynamics stop).
    ``moves``          [S, R] rounds in which someone moved.
    ``converged``      [S, R] no one wanted to move at the end.
    ``risk``           [S, R, J] expected risk on P_0 of the model each agent ends with.
    ``realised``       [S, R, J] its risk for one draw of training data (Monte Carlo).
    ``utility``        [S, R, J] −risk − costs.
    ``deviation_gain`` [S, R, J] utility of a unilateral lemon report at the grand coalition
                       (one shot) minus that of the mechanism's own report.
    """

    names: tuple[str, ...]
    members: np.ndarray
    eligible: np.ndarray
    caught: np.ndarray
    sizes: np.ndarray
    moves: np.ndarray
    converged: np.ndarray
    risk: np.ndarray
    realised: np.ndarray
    utility: np.ndarray
    deviation_gain: np.ndarray

    @property
    def grand_stable(self) -> np.ndarray:
        """[S, R] the grand coalition formed and no one left."""
        return self.members.all(axis=-1) & self.converged

    def unravelled(self, worst: int) -> np.ndarray:
        """[S, R] the dynamics ended at ∅ or at {worst}."""
        others = np.delete(self.members, worst, axis=-1)
        return ~others.any(axis=-1) & self.converged

    def index(self, name: str) -> int:
        return self.names.index(name)


class _Params(NamedTuple):
    """One mechanism as traced arrays (stacked over mechanisms for the vmap)."""

    pooling: jax.Array
    lemons: jax.Array  # reports: every agent claims the best agent's type
    given: jax.Array  # use ``reports`` as given (else truthful)
    reports: jax.Array
    eps: jax.Array
    m: jax.Array


def _resolve(task: Task, mech: Mechanism) -> _Params:
    given = not isinstance(mech.reports, str)
    reports = check_reports(task, mech.reports) if given else task.types
    lemons = not given and mech.reports == "lemons"
    return _Params(
        np.bool_(mech.pooling),
        np.bool_(lemons),
        np.bool_(given),
        reports.astype(np.float32),
        np.float32(mech.eps),
        np.float32(max(mech.verification_samples, 0)),
    )


def mechanism_bucket(count: int) -> int:
    """Mechanisms are padded to 16, 32, 64, ... so that calls with different numbers of them
    share one compiled program (the padding runs pooling and is dropped)."""
    return max(MECHANISM_BUCKET, 1 << (count - 1).bit_length())


@functools.lru_cache(maxsize=16)
def _program(kind: str, agents: int, samples: int, dim: int, max_rounds: int):
    """The compiled program for one task shape: (types[R], cost, scale, params[S], keys[R])."""
    eye = jnp.eye(agents, dtype=bool)

    def replicate(types, cost, scale, p: _Params, key):
        if kind == "classification":
            scale = float(dim)  # static: it fixes the shape of the realised-risk draws
        k_test, k_train = jax.random.split(key)
        alone = alone_risk(kind, types, samples, scale)
        lemon = types[jnp.argmin(alone)]
        reports = jnp.where(p.given, p.reports, jnp.where(p.lemons, lemon[None, :], types))
        tested = jnp.isfinite(p.eps)
        m = jnp.maximum(p.m, MIN_TEST_SAMPLES)
        est = estimate_types(kind, k_test, types, scale, m)
        eligible = ~tested | (jnp.max(jnp.abs(est - reports), axis=1) <= p.eps)
        caught = tested & (jnp.max(jnp.abs(est - lemon[None, :]), axis=1) > p.eps)
        fee = jnp.where(tested, cost * p.m, 0.0)
        tol = TIE_TOLERANCE * jnp.abs(alone) + 1e-12

        def weights(reported, mask):
            return jnp.where(
                p.pooling, equal_weights(mask), welfare_weights(kind, reported, samples, mask)
            )

        def coalition_risk(mask):
            return risk(kind, weights(reports, mask), types, samples, scale)

        def cond(state):
            _, rounds, _, moved, _ = state
            return moved & (rounds < max_rounds)

        def body(state):
            members, rounds, sizes, _, moves = state
            r_in = jax.vmap(coalition_risk)(members[None, :] | eye)  # with each agent in
            u_in, u_out = -r_in - fee, -alone
            stay = u_in >= u_out - tol
            join = u_in > u_out + tol
            new = eligible & jnp.where(members, stay, join)
            moved = jnp.any(new != members)
            sizes = sizes.at[rounds + 1].set(new.sum())
            return new, rounds + 1, sizes, moved, moves + moved

        sizes = jnp.zeros(max_rounds + 1, jnp.int32).at[0].set(eligible.sum())
        state = (eligible, jnp.int32(0), sizes, jnp.bool_(True), jnp.int32(0))
        members, rounds, sizes, moved, moves = jax.lax.while_loop(cond, body, state)
        sizes = jnp.where(jnp.arange(max_rounds + 1) <= rounds, sizes, members.sum())

        # what the agents end with, and (one shot, at the grand coalition) what a unilateral
        # lemon report would give each one: J + 2 weight vectors in one batched call
        index = jnp.arange(agents)
        lied = jnp.where(eye[:, :, None], lemon[None, None, :], reports[None])  # [J, J, P]
        passed = jnp.where(eye, (~tested | ~caught)[:, None], eligible[None, :])  # [J, J]
        masks = jnp.concatenate([members[None], eligible[None], passed])
        batch = jnp.concatenate([reports[None], reports[None], lied])
        empty = ~masks.any(axis=1, keepdims=True)
        w = jnp.where(empty, 0.0, jax.vmap(weights)(batch, masks | empty))
        r = risk(kind, w, types, samples, scale)  # [J + 2]
        w_end = w[0]
        own_risk = jnp.where(members, r[0], alone)
        drawn = realised_risk(
            kind,
            k_train,
            types,
            samples,
            scale,
            jnp.concatenate([jnp.eye(agents, dtype=types.dtype), w_end[None]]),
        )
        realised = jnp.where(members, drawn[-1], drawn[:-1])
        paid = cost * samples + jnp.where(members | (tested & ~eligible), fee, 0.0)
        truthful = jnp.where(eligible, -r[1], -alone)
        lying = jnp.where(passed[index, index], -r[2:], -alone)
        gain = lying - truthful  # the fee is paid either way
        return (
            members,
            eligible,
            caught,
            sizes,
            moves,
            ~moved,
            own_risk,
            realised,
            -own_risk - paid,
            gain,
        )

    per_mechanism = jax.vmap(replicate, in_axes=(0, None, None, None, 0))
    return xla_options.jit(jax.vmap(per_mechanism, in_axes=(None, None, None, 0, None)))


def simulate(
    task: Task,
    mechanisms: Sequence[Mechanism],
    key: jax.Array,
    replicates: int = 4096,
    max_rounds: int | None = None,
    profiles: Any = None,
) -> Outcome:
    """Run every mechanism on ``replicates`` Monte-Carlo replicates in one compiled program.

    Args:
      task: ``mean_estimation(...)`` or ``classification(...)``.
      mechanisms: ``pooling()``, ``full_information()``, ``verification(eps, m, reports)``, ...
      key: a JAX PRNG key; replicate r uses the r-th split for every mechanism.
      replicates: Monte-Carlo replicates R.
      max_rounds: cap on the dynamics' rounds (default 2J + 2; the dynamics of the stated
        settings stop after at most J).
      profiles: optional [R, J, P] types per replicate (a family of type profiles instead of
        the task's own); reports "truthful" / "lemons" then refer to each replicate's types.

    Mechanisms are padded to 16, 32, ... (``mechanism_bucket``) and types are traced, so calls
    with the same task shape and R share one compiled program.
    """
    if not isinstance(task, Task):
        raise TypeError(
            f"task: expected a Task from mean_estimation(...) or "
            f"classification(...), got {type(task).__name__}"
        )
    mechanisms = list(mechanisms)
    if not mechanisms or not all(isinstance(m, Mechanism) for m in mechanisms):
        raise TypeError(
            "mechanisms: expected a non-empty list of Mechanism (pooling(), "
            "full_information(), verification(eps, m))"
        )
    replicates = integer("replicates", replicates)
    rounds = 2 * task.agents + 2 if max_rounds is None else integer("max_rounds", max_rounds)
    profiles = _profiles(task, profiles, replicates)
    padded = mechanisms + [pooling()] * (mechanism_bucket(len(mechanisms)) - len(mechanisms))
    params = [_resolve(task, m) for m in padded]
    stacked = _Params(*(np.stack(field) for field in zip(*params)))
    dim = int(task.scale) if task.kind == "classification" else 0
    program = _program(task.kind, task.agents, task.samples, dim, rounds)
    keys = jax.random.split(key, replicates)
    out = program(profiles, jnp.float32(task.cost), jnp.float32(task.scale), stacked, keys)
    count = len(mechanisms)
    return Outcome(tuple(m.name for m in mechanisms), *(np.asarray(x)[:count] for x in out))


def _profiles(task: Task, profiles: Any, replicates: int) -> jax.Array:
    """[R, J, P] float32 types per replicate: the task's own, or ``profiles`` checked."""
    if profiles is None:
        return jnp.broadcast_to(
            jnp.asarray(task.types, jnp.float32), (replicates, *task.types.shape)
        )
    return jnp.asarray(check_reports(task, profiles, "profiles", (replicates,)), jnp.float32)

"""Weighted sampling of reward points, all parties in one compiled ``lax.while_loop``.

From X = D_i, repeatedly add one candidate x of the pool, drawn with probability
softmax(β · Δ̄_x) over the remaining candidates, where Δ̄ is the min–max rescaling of the marginal
gains Δ_x = v(X ∪ {x}) − v(X); without replacement, until v(X) ≥ r_i. β = 0 is uniform; ``greedy``
takes the argmax (lowest index on ties). When every gain is equal the rescaling is undefined (the
authors divide by zero): gtgen draws uniformly then.

Incremental gains. With m = |X|, n = |T|, A = Σ_{X×X} k, B = Σ_{X×T} k and, per candidate,
a_x = Σ_{j∈X} k(x, X_j) and c_x = Σ_{t∈T} k(x, t):

    v(X) = 2B / (m n) − A / m²,    v(X ∪ {x}) = 2(B + c_x) / ((m+1) n) − (A + 2 a_x + 1) / (m+1)².

c_x never changes: it is computed once for every candidate (``kernel.kernel_sums``), and after a
pick x* only a_x += k(x, x*) changes, so a step costs O(|G|) kernel evaluations. The authors'
code recomputes Σ_t k(x, t) for every candidate at every step, O(|G| · |T|). The draw uses only
(m + 1)Δ_x up to a constant, h_x = 2 c_x / n − 2 a_x / (m + 1) (float32, which the min–max
rescaling and the argmax ignore), so no gain is formed as a difference of two values near v;
A, B and v are float64 scalars and a_x a float64 vector (tests/test_valuation.py: the same
recursions in float32 drift 30–300× further from a direct evaluation after only 300 steps).

The loop: parties (lanes) advance in lockstep inside one ``while_loop`` (a vmapped while loop
would select over every lane's full [|G|] trace each step); a lane that has stopped keeps its
state, and each lane writes its trace at its own step count. ``run_compacted`` drops stopped
lanes from the batch between segments, for large pools where the lanes' lengths differ. Draws by
inverse CDF over √|G| blocks (one uniform per level, drawn up front per lane; no |G| Gumbel
variates per step). Stops per lane: ``REACHED`` v ≥ r_i, ``EXHAUSTED`` no candidate
left (the authors stop with one left), ``EARLY_STOP`` (optional, the authors' rule) ``patience``
steps without a new maximum of v, ``STEP_LIMIT`` a cap on the steps (optional). A lane whose own
data already reaches r_i takes no point.

Compiled with ``jax.jit`` rather than ``gtgen.xla_options.jit``: a step is a handful of reductions
over |G| = 10^5 floats, where XLA CPU's YNNPACK reductions are faster than its loop emitter
(masked min over 10^5 floats: 23 µs against 140 µs on the development VM).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen.mechanisms.valuation.kernel import DOT_FORM_MIN_DIM

RUNNING, REACHED, EXHAUSTED, EARLY_STOP, STEP_LIMIT = 0, 1, 2, 3, 4
STATUS_NAMES = {
    RUNNING: "running",
    REACHED: "reached",
    EXHAUSTED: "exhausted",
    EARLY_STOP: "early stop",
    STEP_LIMIT: "step limit",
}


class Pool(NamedTuple):
    """The candidates as the sampler reads them; leading axis 1 (one pool shared by every lane)
    or L (one share per lane). P is padded to ``blocks × block`` (padding never available)."""

    points: jax.Array  # [Lp, d, P] float32
    total: jax.Array  # [Lp, P] float32: c_x = Σ_t k(x, t)
    total64: jax.Array  # [Lp, P] float64: the same, read once per pick for B
    n_reference: jax.Array  # float64: |T|
    scale: jax.Array  # float32: 1 / (2ℓ²)


class Lanes(NamedTuple):
    """Per-lane settings (leading axis L)."""

    target: jax.Array  # float64 r_i
    beta: jax.Array  # float32 β ≥ 0
    patience: jax.Array  # int32: early stop after this many steps without a new max (0: off)
    start: jax.Array  # int32 |D_i|
    limit: jax.Array  # int32: the most points the lane may take
    uniforms: jax.Array  # [L, S, 2] float32: the two uniforms of each of the lane's draws


class SamplerState(NamedTuple):
    """The carry: per lane (leading axis L) except ``step``."""

    own: jax.Array  # [L, P] float64: a_x = Σ_{j∈X} k(x, X_j)
    available: jax.Array  # [L, P] bool: still in the lane's pool
    remaining: jax.Array  # [L] int32: how many are
    size: jax.Array  # [L] int32: m = |X|
    sum_xx: jax.Array  # [L] float64: A = Σ_{X×X} k
    sum_xt: jax.Array  # [L] float64: B = Σ_{X×T} k
    value: jax.Array  # [L] float64: v(X)
    best: jax.Array  # [L] float64: the largest v(X) so far
    since_best: jax.Array  # [L] int32: steps since ``best`` last grew
    status: jax.Array  # [L] int32: RUNNING, REACHED, EXHAUSTED, EARLY_STOP or STEP_LIMIT
    pending: jax.Array  # [L, d] float32: the last pick, not yet added to ``own``
    pending_on: jax.Array  # [L] bool: whether ``pending`` is a pick (False at the start)
    order: jax.Array  # [L, S] int32: the candidate picked at each of the lane's steps (else −1)
    trace: jax.Array  # [L, S] float64: v(X) after each of the lane's steps (else NaN)
    step: jax.Array  # int32: iterations of the loop


def value_of_sums(sum_xx, sum_xt, size, n_reference):
    """v(X) = 2B / (m n) − A / m²."""
    m = size.astype(jnp.float64)
    return 2.0 * sum_xt / (m * n_reference) - sum_xx / (m * m)


def _status(value, lanes, size, remaining, since_best):
    none_left = remaining <= 0
    early = (lanes.patience > 0) & (since_best >= lanes.patience)
    limit = size - lanes.start >= lanes.limit
    return jnp.where(
        value >= lanes.target,
        REACHED,
        jnp.where(
            none_left,
            EXHAUSTED,
            jnp.where(early, EARLY_STOP, jnp.where(limit, STEP_LIMIT, RUNNING)),
        ),
    ).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("max_steps",))
def make_lanes(target, beta, patience, size, limit, keys, max_steps: int) -> Lanes:
    """Per-lane settings; each lane's uniforms are drawn up front from its own key."""
    uniforms = jax.vmap(lambda k: jax.random.uniform(k, (max_steps, 2)))(keys)
    return Lanes(
        jnp.asarray(target, jnp.float64),
        jnp.asarray(beta, jnp.float32),
        jnp.asarray(patience, jnp.int32),
        jnp.asarray(size, jnp.int32),
        jnp.minimum(jnp.asarray(limit, jnp.int32), max_steps),
        uniforms,
    )


@functools.partial(jax.jit, static_argnames=("max_steps",))
def init(pool: Pool, lanes: Lanes, own, available, sum_xx, sum_xt, max_steps: int) -> SamplerState:
    """The state at X = D_i: ``own`` [L, P] Σ_{j∈D_i} k(x, j), ``size`` |D_i|, ``sum_xx``
    Σ_{D_i×D_i} k, ``sum_xt`` Σ_{D_i×T} k."""
    size = lanes.start
    sum_xx, sum_xt = jnp.asarray(sum_xx, jnp.float64), jnp.asarray(sum_xt, jnp.float64)
    value = value_of_sums(sum_xx, sum_xt, size, pool.n_reference)
    lanes_n = size.shape[0]
    zeros = jnp.zeros(lanes_n, jnp.int32)
    available = jnp.asarray(available, bool)
    remaining = jnp.sum(available, axis=-1, dtype=jnp.int32)
    return SamplerState(
        own=jnp.asarray(own, jnp.float64),
        available=available,
        remaining=remaining,
        size=size,
        sum_xx=sum_xx,
        sum_xt=sum_xt,
        value=value,
        best=value,
        since_best=zeros,
        status=_status(value, lanes, size, remaining, zeros),
        pending=jnp.zeros((lanes_n, pool.points.shape[1]), jnp.float32),
        pending_on=jnp.zeros(lanes_n, bool),
        order=jnp.full((lanes_n, max_steps), -1, jnp.int32),
        trace=jnp.full((lanes_n, max_steps), jnp.nan, jnp.float64),
        step=jnp.int32(0),
    )


def current_own(pool: Pool, state: SamplerState) -> jax.Array:
    """a_x = Σ_{j∈X} k(x, X_j) [L, P] float64, the pending pick included."""
    column = jnp.exp(-pool.scale * _distances_to(pool.points, state.pending))
    return state.own + jnp.where(state.pending_on[:, None], column, 0.0).astype(jnp.float64)


def scaled_gains(pool: Pool, own: jax.Array, size: jax.Array) -> jax.Array:
    """h_x = 2 c_x / n − 2 a_x / (m + 1) [L, P] float32: (m + 1)Δ_x up to a per-lane constant."""
    m1 = (size + 1).astype(jnp.float32)[:, None]
    n = pool.n_reference.astype(jnp.float32)
    return 2.0 * pool.total / n - 2.0 * own.astype(jnp.float32) / m1


def marginal_gains(pool: Pool, state: SamplerState) -> jax.Array:
    """Δ_x = v(X ∪ {x}) − v(X) for every candidate [L, P], float64, by the incremental formula."""
    m1 = (state.size + 1).astype(jnp.float64)[:, None]
    new = 2.0 * (state.sum_xt[:, None] + pool.total64) / (m1 * pool.n_reference) - (
        state.sum_xx[:, None] + 2.0 * current_own(pool, state) + 1.0
    ) / (m1 * m1)
    return new - state.value[:, None]


def _distances_to(points: jax.Array, x: jax.Array) -> jax.Array:
    """‖g − x_l‖² [L, P] for the pool points [Lp, d, P] (Lp = 1 or L) and one point per lane."""
    d = x.shape[-1]
    if d < DOT_FORM_MIN_DIM:
        return sum((points[:, k, :] - x[:, k, None]) ** 2 for k in range(d))
    cross = jnp.sum(points * x[:, :, None], axis=1)
    norms = jnp.sum(points * points, axis=1) + jnp.sum(x * x, axis=1)[:, None]
    return jnp.maximum(norms - 2.0 * cross, 0.0)


def _last_positive(w: jax.Array) -> jax.Array:
    """Index of the last positive entry along the last axis (0 if none)."""
    iota = jnp.arange(w.shape[-1], dtype=jnp.int32)
    return jnp.max(jnp.where(w > 0, iota, 0), axis=-1)


def draw_weights(h: jax.Array, available: jax.Array, beta: jax.Array) -> jax.Array:
    """exp(β (Δ̄_x − 1)) [L, P] float32 over the available candidates (0 elsewhere), Δ̄ the
    min–max rescaled gains: proportional to softmax(β·Δ̄). All gains equal: uniform."""
    hi = jnp.max(jnp.where(available, h, -jnp.inf), axis=-1, keepdims=True)
    lo = jnp.min(jnp.where(available, h, jnp.inf), axis=-1, keepdims=True)
    span = hi - lo
    factor = jnp.where(span > 0, beta[:, None] / jnp.where(span > 0, span, 1.0), 0.0)
    return jnp.where(available, jnp.exp((h - hi) * factor), 0.0)


def _cumsum(x: jax.Array) -> jax.Array:
    """Cumulative sums along the last (short, ≈ √P) axis as one small matmul: XLA CPU compiles
    a cumsum as a reduce-window, slower to compile and to run at this size."""
    n = x.shape[-1]
    return x @ jnp.triu(jnp.ones((n, n), x.dtype))


def _inverse_cdf(w: jax.Array, u: jax.Array, block: int) -> jax.Array:
    """One index per lane drawn ∝ w [L, P] (P = blocks × block), by inverse CDF in two levels:
    the block, then the entry; ``u`` [L, 2] uniforms. Never an index of weight 0."""
    lanes_n, p = w.shape
    wb = w.reshape(lanes_n, p // block, block)
    sums = jnp.sum(wb, axis=-1)
    cum = _cumsum(sums)
    b = jnp.sum(cum <= u[:, :1] * cum[:, -1:], axis=-1).astype(jnp.int32)
    b = jnp.minimum(b, _last_positive(sums))
    row = jnp.take_along_axis(wb, b[:, None, None], axis=1)[:, 0]
    cum_row = _cumsum(row)
    j = jnp.sum(cum_row <= u[:, 1:] * cum_row[:, -1:], axis=-1).astype(jnp.int32)
    return b * block + jnp.minimum(j, _last_positive(row))


def step(pool: Pool, lanes: Lanes, state: SamplerState, greedy: bool, block: int) -> SamplerState:
    """One pick in every running lane; stopped lanes keep their state."""
    active = state.status == RUNNING
    avail = state.available
    own = current_own(pool, state)  # the last pick enters here, in the pass that forms h
    own, h = jax.lax.optimization_barrier((own, scaled_gains(pool, own, state.size)))
    iota = jnp.arange(h.shape[-1], dtype=jnp.int32)
    if greedy:
        hi = jnp.max(jnp.where(avail, h, -jnp.inf), axis=-1, keepdims=True)
        idx = jnp.min(jnp.where(avail & (h == hi), iota, h.shape[-1]), axis=-1)
    else:
        w = draw_weights(h, avail, lanes.beta)
        taken = jnp.minimum(state.size - lanes.start, lanes.uniforms.shape[1] - 1)  # own count
        u = jnp.take_along_axis(lanes.uniforms, taken[:, None, None], axis=1)[:, 0]
        idx = _inverse_cdf(w, u, block)
    idx = jnp.where(active, idx, 0).astype(jnp.int32)
    column = jnp.where(active, state.size - lanes.start, state.order.shape[1])  # its own step

    lane = jnp.arange(idx.shape[0]) if pool.points.shape[0] > 1 else jnp.zeros_like(idx)
    rows = jnp.arange(idx.shape[0])
    x = pool.points[lane, :, idx]  # [L, d]
    sum_xx = state.sum_xx + 2.0 * own[rows, idx] + 1.0
    sum_xt = state.sum_xt + pool.total64[lane, idx]
    size = state.size + 1
    value = value_of_sums(sum_xx, sum_xt, size, pool.n_reference)
    available = avail.at[rows, idx].set(avail[rows, idx] & ~active)
    remaining = state.remaining - active.astype(jnp.int32)
    grew = value > state.best
    best = jnp.where(grew, value, state.best)
    since = jnp.where(grew, 0, state.since_best + 1)
    status = _status(value, lanes, size, remaining, since)

    def keep(new, old):
        return jnp.where(active, new, old)

    return SamplerState(
        own=own,
        available=available,
        remaining=remaining,
        size=keep(size, state.size),
        sum_xx=keep(sum_xx, state.sum_xx),
        sum_xt=keep(sum_xt, state.sum_xt),
        value=keep(value, state.value),
        best=keep(best, state.best),
        since_best=keep(since, state.since_best),
        status=keep(status, state.status),
        pending=x,
        pending_on=active,
        order=state.order.at[rows, column].set(idx, mode="drop"),
        trace=state.trace.at[rows, column].set(value, mode="drop"),
        step=state.step + 1,
    )


@functools.partial(
    jax.jit, static_argnames=("greedy", "block", "until_first_stop"), donate_argnames=("state",)
)
def run(
    pool: Pool,
    lanes: Lanes,
    state: SamplerState,
    greedy: bool,
    block: int,
    until_first_stop: bool = False,
) -> SamplerState:
    """Steps until every lane has stopped (with ``until_first_stop``: until any lane stops)."""

    def cond(s):
        running = s.status == RUNNING
        return jnp.all(running) if until_first_stop else jnp.any(running)

    return jax.lax.while_loop(cond, lambda s: step(pool, lanes, s, greedy, block), state)


def _rows(tree, rows: np.ndarray):
    """The leaves' rows ``rows`` (scalars as they are)."""
    return jax.tree.map(lambda x: x[rows] if x.ndim else x, tree)


def _put_rows(tree, rows: np.ndarray, sub):
    """``tree`` with its leaves' rows ``rows`` replaced by ``sub`` (scalars taken from ``sub``)."""
    return jax.tree.map(
        lambda full, part: full.at[rows].set(part) if full.ndim else part, tree, sub
    )


def run_compacted(
    pool: Pool, lanes: Lanes, state: SamplerState, greedy: bool, block: int
) -> SamplerState:
    """``run``, but whenever a lane stops the others go on in a smaller program without it: a
    lockstep batch costs its longest lane's steps times its width, and lanes often differ by
    10× (the party of α = 1 needs the most points). One compile per batch width; each lane's
    draws depend on its own key and step count only, so the result is ``run``'s."""
    alive = np.arange(state.size.shape[0])
    per_lane_pool = pool.points.shape[0] > 1
    while alive.size:
        sub_pool = _rows(pool, alive) if per_lane_pool else pool
        out = run(
            sub_pool,
            _rows(lanes, alive),
            _rows(state, alive),
            greedy,
            block,
            until_first_stop=alive.size > 1,
        )
        state = _put_rows(state, alive, out)
        alive = alive[np.asarray(out.status) == RUNNING]
    return state


def block_size(p: int) -> int:
    """Entries per block of the two-level inverse CDF: about √P, a multiple of 8."""
    return max(8, 8 * math.ceil(math.sqrt(p) / 8))


def padded_size(p: int) -> int:
    block = block_size(p)
    return block * math.ceil(p / block)


class Sampling(NamedTuple):
    """What weighted sampling did, per lane (numpy)."""

    order: np.ndarray  # [L, S] picked pool indices in order (−1 after the lane stopped)
    trace: np.ndarray  # [L, S] v(D_i ∪ R_i) after each step
    counts: np.ndarray  # [L] |R_i|
    status: np.ndarray  # [L] REACHED, EXHAUSTED, EARLY_STOP or STEP_LIMIT
    value: np.ndarray  # [L] v(D_i ∪ R_i) at the end
    initial: np.ndarray  # [L] v(D_i)
    size: np.ndarray  # [L] |D_i ∪ R_i|
    sum_xx: np.ndarray  # [L] Σ_{X×X} k at the end
    sum_xt: np.ndarray  # [L] Σ_{X×T} k at the end

    def picked(self, lane: int) -> np.ndarray:
        """The pool indices of lane ``lane``'s reward points, in the order drawn."""
        return self.order[lane, : self.counts[lane]]

    @property
    def reached(self) -> np.ndarray:
        return self.status == REACHED

    @property
    def stopped_early(self) -> np.ndarray:
        return self.status == EARLY_STOP

"""Gibbs sweeps over named variables, vectorised over a batch: the imputation primitive.

A player that models several variables through conditionals p(v | rest) completes the variables
it lacks by Gibbs sampling: starting from some values, every sweep visits each variable to be
completed once and redraws it from its conditional given the current values of all the others.
Everything here is vectorised over the batch (every item runs its own chain) and traced:
``sweep`` visits the variables in line in the fixed order, and in the random order as a ``lax.scan``
over the visiting order with one ``lax.switch`` over the variables; either way a sweep compiles
every conditional once, and ``run`` scans the sweeps.

Per item, ``missing[v] [n]`` says whether the item's ``v`` is redrawn (True) or clamped (False):
only the variables named in ``missing`` are visited, and where an item carries a variable its
value is kept. Visiting orders: ``"fixed"`` (the order of ``missing``) or ``"random"`` (a fresh
permutation per sweep, the authors' inference); both leave the target distribution invariant
when the conditionals are those of one joint distribution.

``Gibbs`` holds a player's settings; chains restart from random values at every learning step
(the authors' code) or, with ``persist=True``, start from where the previous step's chains ended
(``slots`` items of chain state kept in the player's state).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gtgen.checks import integer
from gtgen.players.base import Variable

ORDERS = ("random", "fixed")

Draw = Callable[[jax.Array, dict], jax.Array]  # draw(key, values) -> a new value of one variable


class Gibbs(NamedTuple):
    """How a player completes what it lacks: ``sweeps`` Gibbs sweeps per learning step in
    ``order``; ``persist`` keeps the chains across steps (``slots`` items: the own plus received
    items of one step). ``hold`` names variables that, where an item lacks them, keep their
    random start (uniform for a categorical) instead of being visited: the authors' IV-C gives
    received (c, s) pairs a uniform style d and never redraws it."""

    sweeps: int = 10
    order: str = "random"
    persist: bool = False
    slots: int = 0
    hold: tuple[str, ...] = ()


def check_gibbs(gibbs: Gibbs) -> Gibbs:
    """``gibbs`` if well-formed, else ValueError naming the field."""
    if not isinstance(gibbs, Gibbs):
        raise TypeError(f"gibbs: expected a gtgen Gibbs(...), got {type(gibbs).__name__}")
    integer("gibbs.sweeps", gibbs.sweeps)
    if gibbs.order not in ORDERS:
        raise ValueError(f"gibbs.order: must be one of {', '.join(ORDERS)}, got {gibbs.order!r}")
    if gibbs.persist and (not isinstance(gibbs.slots, int) or gibbs.slots < 1):
        raise ValueError(
            "gibbs.slots: persistent chains need the number of items of one learning step "
            f"(own plus received), got {gibbs.slots!r}"
        )
    if not isinstance(gibbs.hold, tuple) or not all(isinstance(v, str) for v in gibbs.hold):
        raise TypeError(f"gibbs.hold: expected a tuple of variable names, got {gibbs.hold!r}")
    return gibbs


def flat(sample: Callable, key: jax.Array, shape: tuple, *args):
    """``sample(key, shape, *args)`` drawn as ``[n, prod(rest)]`` and reshaped: the same law, and
    on the CPU several times faster for images (JAX's partitionable threefry builds its counters
    from one iota per axis, so a ``[n, H, W, 3]`` draw costs about 4× a ``[n, H·W·3]`` one)."""
    if len(shape) <= 2:
        return sample(key, shape, *args)
    return sample(key, (shape[0], math.prod(shape[1:])), *args).reshape(shape)


def random_values(key: jax.Array, variables: Mapping[str, Variable], n: int) -> dict:
    """Starting values for ``n`` chains: binary Bernoulli(½), categorical uniform, real and count
    standard normal (rounded to non-negative integers for counts)."""
    out = {}
    for k, (name, var) in zip(jax.random.split(key, max(len(variables), 1)), variables.items()):
        shape = (n, *var.shape)
        if var.kind == "binary":
            out[name] = (flat(jax.random.uniform, k, shape) < 0.5).astype(jnp.float32)
        elif var.kind == "categorical":
            out[name] = jax.random.randint(k, shape, 0, var.classes, jnp.int32)
        elif var.kind == "count":
            out[name] = jnp.abs(jnp.round(flat(jax.random.normal, k, shape)))
        else:
            out[name] = flat(jax.random.normal, k, shape)
    return out


def _broadcast(mask: jax.Array, like: jax.Array) -> jax.Array:
    return mask.reshape(mask.shape + (1,) * (like.ndim - mask.ndim))


def _updates(draws: Mapping[str, Draw], missing: Mapping[str, jax.Array]):
    """One branch per variable of ``missing``: redraw it where its mask says, and track which
    items' values are *fresh* (just drawn from their own conditional given the rest as it is)."""
    names = tuple(missing)

    def branch(name: str):
        def update(k: jax.Array, carry: tuple, mask: jax.Array) -> tuple:
            vals, fresh = carry
            new = draws[name](k, vals).astype(vals[name].dtype)
            vals = {**vals, name: jnp.where(_broadcast(mask, new), new, vals[name])}
            fresh = {v: (f | mask) if v == name else (f & ~mask) for v, f in fresh.items()}
            return vals, fresh

        return update

    return names, [branch(n) for n in names]


def _visit(j, branches, k, carry, mask):
    if len(branches) == 1:
        return branches[0](k, carry, mask)
    return jax.lax.switch(j, branches, k, carry, mask)


def no_fresh(values: dict, missing: Mapping[str, jax.Array]) -> dict:
    return {v: jnp.zeros_like(m) for v, m in missing.items()}


def stagger_choice(key: jax.Array, missing: Mapping[str, jax.Array], fresh: dict) -> jax.Array:
    """Per item, the index (into ``missing``'s names) of the variable its staggered redraw
    visits: uniform among the item's missing variables that are not fresh; −1 where there is
    none (an item missing at most one variable)."""
    names = tuple(missing)
    ok = jnp.stack([missing[v] & ~fresh[v] for v in names], axis=-1)  # [n, V]
    score = jnp.where(ok, jax.random.uniform(key, ok.shape), -1.0)
    return jnp.where(ok.any(-1), jnp.argmax(score, axis=-1), -1)


def sweep(
    key: jax.Array,
    draws: Mapping[str, Draw],
    values: dict,
    missing: Mapping[str, jax.Array],
    order: str = "random",
    fresh: dict | None = None,
):
    """One Gibbs sweep: every variable of ``missing`` redrawn once from ``draws[v](key, values)``
    where ``missing[v]`` is True, in a fixed or a fresh random order. With ``fresh`` (a dict of
    masks, see ``run``) returns ``(values, fresh)``."""
    keys = jax.random.split(key, len(missing) + 1)
    out = _sweep(keys, draws, values, missing, order, fresh)
    return out[0] if fresh is None else out


def _sweep(keys, draws, values, missing, order, fresh):
    """``sweep`` with its keys drawn: ``keys [V + 1]``, one per visit and one for the order;
    returns ``(values, fresh)``."""
    names, branches = _updates(draws, missing)
    carry = (values, no_fresh(values, missing) if fresh is None else fresh)
    if not names:
        return carry
    if order == "fixed":  # the visits in line: no switch, each conditional fused with its update
        for j, name in enumerate(names):
            carry = branches[j](keys[j], carry, missing[name])
        return carry
    visit = jax.random.permutation(keys[-1], len(names))
    masks = jnp.stack([missing[v] for v in names])

    def body(carry, step):
        j, k = step
        return _visit(j, branches, k, carry, masks[j]), None

    return jax.lax.scan(body, carry, (visit, keys[:-1]))[0]


def run(
    key: jax.Array,
    draws: Mapping[str, Draw],
    values: dict,
    missing: Mapping[str, jax.Array],
    sweeps: int,
    order: str = "random",
    track: Callable[[dict], jax.Array] | None = None,
    decay: float = 0.9,
    stagger: bool = False,
):
    """``sweeps`` sweeps (a ``lax.scan``); returns the values, or with ``track`` ``(values,
    avg)``: the running average ``avg ← decay·avg + (1 − decay)·track(values)`` after every sweep
    (the authors' class marginal at inference: decay 0.9), started at the first sweep's value.

    With ``stagger`` it returns ``(values, fresh)`` instead: ``fresh[v] [n]`` marks the items
    whose ``v`` is the chain's last draw, made from v's own conditional given the rest as it now
    is (training that conditional on it has expected gradient zero; the authors skip such items).
    To leave every conditional something to learn from, after the sweeps each odd item redraws
    one more of *its own* missing variables, drawn uniformly among those that are not its chain's
    last draw (``stagger_choice``), as the authors' code redraws s (or x) for half of each batch
    after its s–z (x–z) alternations, so that z is the last draw on one half and s (x) on the
    other. (Choosing one variable for the whole batch, e.g. the fixed order's first, redraws
    nothing on items that lack another set of variables, and one conditional never learns there.)"""
    done, avg = _run(key, draws, [(values, missing, 0)], sweeps, order, track, decay, stagger)
    values, fresh = done[0]
    if stagger:
        return values, fresh
    return values if track is None else (values, avg)


def run_blocks(
    key: jax.Array,
    draws: Mapping[str, Draw],
    blocks: Sequence[tuple[dict, Mapping[str, jax.Array], int]],
    sweeps: int,
    order: str = "random",
) -> list[tuple[dict, dict]]:
    """``run(..., stagger=True)`` of several batches of chains at once, each ``(values, missing,
    first)`` with its own variables to visit (``first``: the block's first item in the whole
    batch, where the parity of the odd items is counted): one ``lax.scan`` whose sweep visits every block
    (independent chains: XLA may run the blocks side by side). Returns ``(values, fresh)`` per
    block; block i draws from ``fold_in(·, i)`` of what one block would use."""
    return _run(key, draws, blocks, sweeps, order, None, 0.9, True)[0]


def _block_keys(key: jax.Array, count: int) -> list[jax.Array]:
    return [key] if count == 1 else [jax.random.fold_in(key, i) for i in range(count)]


def _run(key, draws, blocks, sweeps, order, track, decay, stagger):
    """The sweeps of ``run`` over ``blocks`` [(values, missing, first)] (``track`` needs one)."""
    k_sweeps, k_tail = jax.random.split(key)
    masks = [m for _, m, _ in blocks]
    # every sweep's keys drawn at once (one threefry call per block, not three per sweep)
    keys = tuple(
        jax.random.split(kb, sweeps * (len(m) + 1)).reshape(sweeps, len(m) + 1)
        for kb, m in zip(_block_keys(k_sweeps, len(blocks)), masks)
    )

    def body(carry, ks):
        states, avg, first = carry
        states = tuple(
            _sweep(kb, draws, vals, m, order, fresh)
            for kb, (vals, fresh), m in zip(ks, states, masks)
        )
        if track is None:
            return (states, avg, first), None
        t = track(states[0][0])
        avg = jnp.where(first, t, decay * avg + (1.0 - decay) * t)
        return (states, avg, jnp.zeros((), bool)), None

    if track is None:
        avg0 = jnp.zeros(())
    else:
        like = jax.eval_shape(track, blocks[0][0])
        avg0 = jnp.zeros(like.shape, like.dtype)
    states = tuple((vals, no_fresh(vals, m)) for vals, m, _ in blocks)
    (states, avg, _), _ = jax.lax.scan(body, (states, avg0, jnp.ones((), bool)), keys)
    if not stagger:
        return list(states), avg
    done = []
    for kb, (values, fresh), (_, missing, first) in zip(
        _block_keys(k_tail, len(blocks)), states, blocks
    ):
        names = tuple(missing)
        if len(names) > 1:
            _, branches = _updates(draws, missing)
            k_pick, *k_draw = jax.random.split(kb, len(names) + 1)
            n = next(iter(missing.values())).shape[0]
            odd = ((jnp.arange(n) + first) % 2) == 1
            pick = stagger_choice(k_pick, missing, fresh)
            carry = (values, fresh)
            for j, (name, k) in enumerate(zip(names, k_draw)):
                carry = branches[j](k, carry, missing[name] & odd & (pick == j))
            values, fresh = carry
        done.append((values, fresh))
    return done, avg

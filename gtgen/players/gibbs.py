"""Gibbs sweeps over named variables, vectorised over a batch: the imputation primitive.

A player that models several variables through conditionals p(v | rest) completes the variables
it lacks by Gibbs sampling: starting from some values, every sweep visits each variable to be
completed once and redraws it from its conditional given the current values of all the others.
Everything here is vectorised over the batch (every item runs its own chain) and traced:
``sweep`` is a ``lax.scan`` over the visiting order with one ``lax.switch`` over the variables, so
a sweep compiles every conditional once whatever the order, and ``run`` scans the sweeps.

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

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gtgen.players.base import Variable

ORDERS = ("random", "fixed")

Draw = Callable[[jax.Array, dict], jax.Array]  # draw(key, values) -> a new value of one variable


class Gibbs(NamedTuple):
    """How a player completes what it lacks: ``sweeps`` Gibbs sweeps per learning step in
    ``order``; ``persist`` keeps the chains across steps (``slots`` items: the own plus received
    items of one step)."""

    sweeps: int = 10
    order: str = "random"
    persist: bool = False
    slots: int = 0


def check_gibbs(gibbs: Gibbs) -> Gibbs:
    """``gibbs`` if well-formed, else ValueError naming the field."""
    if not isinstance(gibbs, Gibbs):
        raise TypeError(f"gibbs: expected a gtgen Gibbs(...), got {type(gibbs).__name__}")
    if isinstance(gibbs.sweeps, bool) or not isinstance(gibbs.sweeps, int) or gibbs.sweeps < 1:
        raise ValueError(f"gibbs.sweeps: must be a positive integer, got {gibbs.sweeps!r}")
    if gibbs.order not in ORDERS:
        raise ValueError(f"gibbs.order: must be one of {', '.join(ORDERS)}, got {gibbs.order!r}")
    if gibbs.persist and (not isinstance(gibbs.slots, int) or gibbs.slots < 1):
        raise ValueError(
            "gibbs.slots: persistent chains need the number of items of one learning step "
            f"(own plus received), got {gibbs.slots!r}"
        )
    return gibbs


def random_values(key: jax.Array, variables: Mapping[str, Variable], n: int) -> dict:
    """Starting values for ``n`` chains: binary Bernoulli(½), categorical uniform, real and count
    standard normal (rounded to non-negative integers for counts)."""
    out = {}
    for k, (name, var) in zip(jax.random.split(key, max(len(variables), 1)), variables.items()):
        shape = (n, *var.shape)
        if var.kind == "binary":
            out[name] = jax.random.bernoulli(k, 0.5, shape).astype(jnp.float32)
        elif var.kind == "categorical":
            out[name] = jax.random.randint(k, shape, 0, var.classes, jnp.int32)
        elif var.kind == "count":
            out[name] = jnp.abs(jnp.round(jax.random.normal(k, shape)))
        else:
            out[name] = jax.random.normal(k, shape)
    return out


def _broadcast(mask: jax.Array, like: jax.Array) -> jax.Array:
    return mask.reshape(mask.shape + (1,) * (like.ndim - mask.ndim))


def sweep(
    key: jax.Array, draws: Mapping[str, Draw], values: dict, missing: Mapping[str, jax.Array],
    order: str = "random",
) -> dict:
    """One Gibbs sweep: every variable of ``missing`` redrawn once from ``draws[v](key, values)``
    where ``missing[v]`` is True, in a fixed or a fresh random order."""
    names = tuple(missing)
    if not names:
        return values

    def branch(name: str):
        def update(k: jax.Array, vals: dict) -> dict:
            new = draws[name](k, vals).astype(vals[name].dtype)
            keep = _broadcast(missing[name], new)
            return {**vals, name: jnp.where(keep, new, vals[name])}

        return update

    branches = [branch(n) for n in names]
    k_order, k_draw = jax.random.split(key)
    visit = (jax.random.permutation(k_order, len(names)) if order == "random"
             else jnp.arange(len(names)))

    def body(vals, step):
        j, k = step
        if len(branches) == 1:
            return branches[0](k, vals), None
        return jax.lax.switch(j, branches, k, vals), None

    values, _ = jax.lax.scan(body, values, (visit, jax.random.split(k_draw, len(names))))
    return values


def run(
    key: jax.Array, draws: Mapping[str, Draw], values: dict, missing: Mapping[str, jax.Array],
    sweeps: int, order: str = "random",
    track: Callable[[dict], jax.Array] | None = None, decay: float = 0.9,
):
    """``sweeps`` sweeps (a ``lax.scan``). With ``track`` also returns the running average
    ``avg ← decay·avg + (1 − decay)·track(values)`` after every sweep (the authors' class
    marginal at inference: decay 0.9), started at the first sweep's value."""

    def body(carry, k):
        vals, avg, first = carry
        vals = sweep(k, draws, vals, missing, order)
        if track is None:
            return (vals, avg, first), None
        t = track(vals)
        avg = jnp.where(first, t, decay * avg + (1.0 - decay) * t)
        return (vals, avg, jnp.zeros((), bool)), None

    keys = jax.random.split(key, sweeps)
    if track is None:
        avg0 = jnp.zeros(())
    else:
        like = jax.eval_shape(track, values)
        avg0 = jnp.zeros(like.shape, like.dtype)
    (values, avg, _), _ = jax.lax.scan(body, (values, avg0, jnp.ones((), bool)), keys)
    return values if track is None else (values, avg)

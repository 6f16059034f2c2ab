"""Imputation inside the round: a receiver completes what it models but did not get.

Before a conditionals player (``gtgen.players.conditionals``) learns, the round hands its own
items and the received items to ``impute``: every variable the player models but an item lacks —
the latent and unobserved variables of its own data, the variables a sender does not send
(``Batch.present``) — is filled by Gibbs sweeps with the player's own conditionals
(``gtgen.players.gibbs``), all items of the step as vectorised chains, the variables an item
carries clamped: one batch of chains, or two blocks in one loop where the own and the received
items may lack different variables (each then visits only its own; ``_complete``). Variables a
sender sends that the receiver does not model never reach it (the routing takes only the
receiver's variables). The presence masks travel on with the completed
items, and ``Batch.fresh`` marks each item's last draw (the odd items redraw one more variable
after the sweeps, so that every conditional has imputed items to learn from, as in the authors'
code): a conditional skips the items whose own variable was just drawn from it.
Variables named in ``Gibbs.hold`` are not visited: where an item lacks them they keep their
random start (the authors' uniform style d of received (c, s) pairs), and their conditional learns
on them as on observed values.

Chains restart from random values at every step (the authors' code), or, with
``Gibbs(persist=True, slots=...)``, start where the previous step's chains ended (slot k of the
step's own-then-received items continues slot k's chain: a warm start, still a valid Gibbs
initialisation). The number of sweeps is static (part of the compiled round), everything else
traced.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gtgen.players.base import Batch, variable_map
from gtgen.players.gibbs import random_values, run_blocks


def imputes(player: Any) -> bool:
    """Whether ``player`` completes its items by Gibbs sweeps (a conditionals player)."""
    return getattr(player, "gibbs", None) is not None and callable(getattr(player, "draws", None))


def with_blanks(batch: Batch, variables: dict) -> Batch:
    """``batch`` with every one of ``variables``: a variable it lacks becomes zeros, absent in
    every item; the others keep their presence masks."""
    n = batch.weights.shape[0]
    items, present = dict(batch.items), dict(batch.present or {})
    for name, var in variables.items():
        if name not in items:
            items[name] = jnp.zeros((n, *var.shape), var.dtype)
            present[name] = jnp.zeros((n,), bool)
    return Batch({v: items[v] for v in variables}, batch.weights, present)


def impute(
    key: jax.Array, player: Any, state: Any, own: Batch, synthetic: Batch
) -> tuple[Batch, Batch, Any]:
    """``(own, synthetic, state)`` with every variable ``player`` models completed by its Gibbs
    sweeps (see the module docstring); ``state`` carries the persistent chains, if any."""
    variables = variable_map(player)
    own, synthetic = with_blanks(own, variables), with_blanks(synthetic, variables)
    n_own, n_syn = own.weights.shape[0], synthetic.weights.shape[0]
    gibbs = player.gibbs
    values = {v: jnp.concatenate([own.items[v], synthetic.items[v]]) for v in variables}
    names = [v for v in variables if v in own.present or v in synthetic.present]
    missing = {
        v: ~jnp.concatenate(
            [
                own.present.get(v, jnp.ones((n_own,), bool)),
                synthetic.present.get(v, jnp.ones((n_syn,), bool)),
            ]
        )
        for v in names
    }
    k_start, k_run = jax.random.split(key)
    if gibbs.persist:
        if gibbs.slots != n_own + n_syn:
            raise ValueError(
                f"gibbs.slots: {player.name} keeps {gibbs.slots} persistent chains but the round "
                f"hands it {n_own} own + {n_syn} received = {n_own + n_syn} items per step"
            )
        start = state.chains
    else:
        start = _random_start(k_start, variables, own, synthetic)
    for v in names:
        m = missing[v].reshape(missing[v].shape + (1,) * (values[v].ndim - 1))
        values[v] = jnp.where(m, start[v].astype(values[v].dtype), values[v])
    unknown = sorted(set(gibbs.hold) - set(variables))
    if unknown:
        raise ValueError(f"gibbs.hold: {player.name} models no variable {', '.join(unknown)}")
    values, fresh = _complete(k_run, player.draws(state), values, missing, gibbs, own, synthetic)
    values = jax.lax.stop_gradient(values)
    if gibbs.persist:
        state = state._replace(chains={**state.chains, **{v: values[v] for v in state.chains}})
    own = Batch(
        {v: x[:n_own] for v, x in values.items()},
        own.weights,
        own.present,
        {v: f[:n_own] for v, f in fresh.items()},
    )
    synthetic = Batch(
        {v: x[n_own:] for v, x in values.items()},
        synthetic.weights,
        synthetic.present,
        {v: f[n_own:] for v, f in fresh.items()},
    )
    return own, synthetic, state


def _random_start(key: jax.Array, variables: dict, own: Batch, synthetic: Batch) -> dict:
    """Random starting values ``{v: [n_own + n_syn, ...]}`` of the variables some item may lack;
    zeros for the items of a batch that carries v everywhere (they are never used)."""
    parts: dict[str, list] = {
        v: [] for v in variables if v in own.present or v in synthetic.present
    }
    for k, batch in zip(jax.random.split(key), (own, synthetic)):
        n = batch.weights.shape[0]
        drawn = random_values(k, {v: variables[v] for v in parts if v in batch.present}, n)
        for v in parts:
            parts[v].append(drawn[v] if v in drawn else _zeros(variables[v], n))
    return {v: jnp.concatenate(p) for v, p in parts.items()}


def _zeros(var, n: int) -> jax.Array:
    return jnp.zeros((n, *var.shape), var.dtype)


def _complete(key, draws, values: dict, missing: dict, gibbs, own: Batch, synthetic: Batch):
    """The Gibbs sweeps over the concatenated own-then-received items: ``(values, fresh)``.

    Which variables a batch may lack is static (those with a presence mask: ``with_blanks`` gives
    one to every variable the batch does not carry). Where the own and the received batch may
    lack the same variables they run as one batch of chains; otherwise each visits only its own
    (IV-C: s and z for A's own items, x and z for received (c, s) pairs), so that no conditional
    runs on items that all carry its variable."""
    visits = [
        tuple(v for v in missing if v in b.present and v not in gibbs.hold)
        for b in (own, synthetic)
    ]
    n_own, n_all = own.weights.shape[0], next(iter(values.values())).shape[0]
    blocks = (
        [(0, n_all, visits[0])]
        if visits[0] == visits[1]
        else [
            (0, n_own, visits[0]),
            (n_own, n_all, visits[1]),
        ]
    )
    visited = [v for v in missing if any(v in vis for _, _, vis in blocks)]
    parts_v: dict[str, list] = {v: [] for v in values}
    parts_f: dict[str, list] = {v: [] for v in visited}
    done = run_blocks(
        key,
        draws,
        [
            ({v: x[lo:hi] for v, x in values.items()}, {v: missing[v][lo:hi] for v in vis}, lo)
            for lo, hi, vis in blocks
        ],
        gibbs.sweeps,
        gibbs.order,
    )
    for (lo, hi, _), (vals, fresh) in zip(blocks, done):
        for v in values:
            parts_v[v].append(vals[v])
        for v in visited:
            parts_f[v].append(fresh[v] if v in fresh else jnp.zeros((hi - lo,), bool))
    return (
        {v: p[0] if len(p) == 1 else jnp.concatenate(p) for v, p in parts_v.items()},
        {v: p[0] if len(p) == 1 else jnp.concatenate(p) for v, p in parts_f.items()},
    )

"""Imputation inside the round: a receiver completes what it models but did not get.

Before a conditionals player (``gtgen.players.conditionals``) learns, the round hands its own
items and the received items to ``impute``: every variable the player models but an item lacks —
the latent and unobserved variables of its own data, the variables a sender does not send
(``Batch.present``) — is filled by Gibbs sweeps with the player's own conditionals
(``gtgen.players.gibbs``), all items of the step as one vectorised batch of chains, the variables
an item carries clamped. Variables a sender sends that the receiver does not model never reach it
(the routing takes only the receiver's variables). The presence masks travel on with the completed
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
from gtgen.players.gibbs import random_values, run


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
        start = random_values(k_start, {v: variables[v] for v in names}, n_own + n_syn)
    for v in names:
        m = missing[v].reshape(missing[v].shape + (1,) * (values[v].ndim - 1))
        values[v] = jnp.where(m, start[v].astype(values[v].dtype), values[v])
    unknown = sorted(set(gibbs.hold) - set(variables))
    if unknown:
        raise ValueError(f"gibbs.hold: {player.name} models no variable {', '.join(unknown)}")
    visited = {v: m for v, m in missing.items() if v not in gibbs.hold}
    values, fresh = run(
        k_run, player.draws(state), values, visited, gibbs.sweeps, gibbs.order, stagger=True
    )
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

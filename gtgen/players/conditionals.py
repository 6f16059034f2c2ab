"""A player as a set of conditionals p(v | rest): the authors' IV-C player form.

Such a player models several named variables (some observed in its data, some latent or missing)
through one conditional per variable, each its own network (or table) with its own parameters:

``Conditional(variable, init, apply)``  ``init(key) -> params``; ``apply(params, values) ->`` the
                                        distribution parameters of ``variable`` given the current
                                        ``values`` of all variables (a dict ``{name: [n, ...]}``):
                                        logits ``[n, *shape, classes]`` (categorical), logits
                                        ``[n, *shape]`` (binary), ``(mean, log σ)`` (real).

It completes whatever it lacks — the unobserved variables of its own data, the variables a
sender does not send — by Gibbs sweeps with its own conditionals (``gtgen.players.gibbs``); the
exchange round does this before every learning step (``gtgen.exchange.imputation``), so a
conditionals player ``completes`` every variable it models. Its ``learn`` then takes one Adam
step in which every conditional maximises its log-likelihood on the completed items; by default
(``skip_fresh``, the authors' choice) each conditional skips the items whose own variable is the
chain's last draw, just made from that very conditional given the rest (``Batch.fresh``: the
expected gradient there is zero). One Adam over the disjoint
parameters equals one per conditional with the same step size (Adam is elementwise).

``sample`` draws from the player by Gibbs sweeps from random values over every variable (as a
dependency network: exact when the conditionals are those of one joint distribution).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gtgen.players.base import Batch, Variable, Variables, check_variables
from gtgen.players.gibbs import Draw, Gibbs, check_gibbs, flat, random_values, run
from gtgen.players.neural.common import Metrics, adam, gaussian_nll, weighted_mean

Params = Any


class Conditional(NamedTuple):
    """p(``variable`` | rest): ``init(key) -> params``, ``apply(params, values) -> distribution
    parameters`` (see the module docstring). ``impute`` (optional) replaces the draw from the
    distribution when the variable is completed or sampled: ``impute(key, out) -> value`` of the
    distribution parameters ``out`` (e.g. a real variable's mean)."""

    variable: str
    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, dict], Any]
    impute: Callable[[jax.Array, Any], jax.Array] | None = None


def draw(var: Variable, key: jax.Array, out: Any) -> jax.Array:
    """One value of ``var`` from its distribution parameters ``out``."""
    if var.kind == "categorical":
        return jax.random.categorical(key, out, axis=-1).astype(jnp.int32)
    if var.kind == "binary":
        return (flat(jax.random.uniform, key, out.shape) < jax.nn.sigmoid(out)).astype(jnp.float32)
    mean, log_sigma = out
    return mean + jnp.exp(log_sigma) * flat(jax.random.normal, key, mean.shape, mean.dtype)


def nll(var: Variable, out: Any, value: jax.Array) -> jax.Array:
    """−log p(value) per item ``[n]``, summed over the variable's own axes."""
    axes = tuple(range(1, 1 + len(var.shape)))
    if var.kind == "categorical":
        per = optax.softmax_cross_entropy_with_integer_labels(out, value.astype(jnp.int32))
        return per.sum(axis=axes) if axes else per
    if var.kind == "binary":
        return optax.sigmoid_binary_cross_entropy(out, value).sum(axis=axes)
    mean, log_sigma = out
    return gaussian_nll(mean, log_sigma, value, len(var.shape))


class ConditionalsState(NamedTuple):
    """Every conditional's parameters ``{variable: params}``, the Adam state, and the persistent
    Gibbs chains ``{variable: [slots, ...]}`` (empty unless ``Gibbs.persist``)."""

    params: dict
    opt_state: optax.OptState
    chains: dict


@dataclass(frozen=True)
class ConditionalsConfig:
    """What a conditionals player was built from (hashable: part of its ``name``)."""

    label: str
    lr: float
    gibbs: Gibbs
    skip_fresh: bool


class ConditionalsPlayer(NamedTuple):
    """A player of conditionals (see the module docstring). Fields as ``NeuralPlayer``'s, plus
    ``gibbs`` (its imputation settings), ``apply(state, variable, values)`` (a conditional's
    distribution parameters) and ``draws(state)`` (``{variable: draw(key, values)}``)."""

    name: str
    variables: Variables
    observed: tuple[str, ...]
    config: ConditionalsConfig
    init: Callable[[jax.Array], ConditionalsState]
    sample: Callable[[jax.Array, ConditionalsState, int], dict]
    loss: Callable[..., jax.Array]
    learn: Callable[..., tuple[ConditionalsState, Metrics]]
    completes: tuple[str, ...]
    gibbs: Gibbs
    apply: Callable[[ConditionalsState, str, dict], Any]
    draws: Callable[[ConditionalsState], dict[str, Draw]]

    reads = "items"


def conditionals_player(
    label: str,
    variables: Variables,
    observed: Sequence[str],
    conditionals: Sequence[Conditional],
    gibbs: Gibbs | None = None,
    lr: float = 1e-3,
    skip_fresh: bool = True,
) -> ConditionalsPlayer:
    """A player of ``conditionals``, one for each of ``variables``; ``observed`` are the variables
    its private data holds. ValueError names an inconsistent declaration."""
    gibbs = check_gibbs(Gibbs() if gibbs is None else gibbs)
    variables = tuple(variables)
    varmap = dict(variables)
    conds = {c.variable: c for c in conditionals}
    where = f"conditionals_player({label!r})"
    if len(conds) != len(conditionals):
        raise ValueError(f"{where}: two conditionals for one variable")
    unknown = sorted(set(conds) - set(varmap))
    if unknown:
        raise ValueError(
            f"{where}: a conditional for {unknown[0]!r}, which is not one of its "
            f"variables {sorted(varmap)}"
        )
    lacking = [v for v in varmap if v not in conds]
    if lacking:
        raise ValueError(
            f"{where}: no conditional for {lacking[0]!r}; a conditionals player "
            "needs one conditional p(v | rest) for every variable it models"
        )
    if not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"{where}: lr must be a positive number, got {lr!r}")
    config = ConditionalsConfig(label, float(lr), gibbs, bool(skip_fresh))
    names = tuple(varmap)
    optimizer = adam(lr)

    def init(key: jax.Array) -> ConditionalsState:
        keys = jax.random.split(key, len(names))
        params = {v: conds[v].init(k) for v, k in zip(names, keys)}
        chains = {}
        if gibbs.persist:
            chains = random_values(jax.random.fold_in(key, 1), varmap, gibbs.slots)
        return ConditionalsState(params, optimizer.init(params), chains)

    def apply(state: ConditionalsState, variable: str, values: dict) -> Any:
        return conds[variable].apply(state.params[variable], values)

    def draws_of(params: dict) -> dict[str, Draw]:
        def one(v: str) -> Draw:
            pick = conds[v].impute or functools.partial(draw, varmap[v])
            return lambda k, vals: pick(k, conds[v].apply(params[v], vals))

        return {v: one(v) for v in names}

    def draws(state: ConditionalsState) -> dict[str, Draw]:
        return draws_of(state.params)

    def sample(key: jax.Array, state: ConditionalsState, n: int) -> dict:
        k0, k1 = jax.random.split(key)
        values = random_values(k0, varmap, n)
        missing = {v: jnp.ones((n,), bool) for v in names}
        return run(k1, draws(state), values, missing, gibbs.sweeps, gibbs.order)

    def losses(params: dict, items: dict, weights: jax.Array, fresh: dict) -> dict:
        out = {}
        for v in names:
            w = weights * ~fresh[v] if skip_fresh and v in fresh else weights
            out[v] = weighted_mean(nll(varmap[v], conds[v].apply(params[v], items), items[v]), w)
        return out

    def complete_only(items: dict, what: str) -> None:
        lacking = [v for v in names if v not in items]
        if lacking:
            raise ValueError(
                f"{what}: the items lack {lacking[0]!r}; a conditionals player "
                "learns on completed items (the exchange round completes them)"
            )

    def loss(key: jax.Array, state: ConditionalsState, items: dict, weights: jax.Array):
        """The pseudo-likelihood: Σ_v −log p(v | rest), weighted mean over complete items."""
        complete_only(items, "loss")
        return sum(losses(state.params, items, weights, {}).values())

    def learn(
        key: jax.Array,
        state: ConditionalsState,
        own: Batch,
        synthetic: Batch,
        shared_slots: bool = False,
    ) -> tuple[ConditionalsState, Metrics]:
        items, weights, fresh = combine_fresh(own, synthetic, names, shared_slots)
        complete_only(items, "learn")

        def objective(params):
            parts = losses(params, items, weights, fresh)
            total = sum(parts.values())
            return total, {"loss": total, **{f"nll_{v}": x for v, x in parts.items()}}

        grads, metrics = jax.grad(objective, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return ConditionalsState(params, opt_state, state.chains), metrics

    player = ConditionalsPlayer(
        f"conditionals({label}, lr={config.lr:g}, sweeps={gibbs.sweeps}, order={gibbs.order}"
        f"{f', persistent {gibbs.slots}' if gibbs.persist else ''}"
        f"{'' if skip_fresh else ', learns on fresh draws'})",
        variables,
        tuple(observed),
        config,
        init,
        sample,
        loss,
        learn,
        names,
        gibbs,
        apply,
        draws,
    )
    check_variables(player, where)
    return player


def combine_fresh(
    own: Batch, synthetic: Batch, names: Sequence[str], shared_slots: bool
) -> tuple[dict, jax.Array, dict]:
    """One batch of own and received items with their ``fresh`` masks (``Batch.fresh``; False
    where not given). Shared slots: slot k is the own item where its weight is positive, else the
    received one."""
    n_own, n_syn = own.weights.shape[0], synthetic.weights.shape[0]

    def mask(batch: Batch, v: str, n: int) -> jax.Array:
        fresh = batch.fresh or {}
        return fresh[v] if v in fresh else jnp.zeros((n,), bool)

    items = {
        v: (own.items[v], synthetic.items[v])
        for v in names
        if v in own.items and v in synthetic.items
    }
    masks = {v: (mask(own, v, n_own), mask(synthetic, v, n_syn)) for v in names}
    if not shared_slots:
        return (
            {v: jnp.concatenate(p) for v, p in items.items()},
            jnp.concatenate([own.weights, synthetic.weights]),
            {v: jnp.concatenate(p) for v, p in masks.items()},
        )
    take = own.weights > 0

    def pick(a, b):
        return jnp.where(take.reshape(take.shape + (1,) * (a.ndim - 1)), a, b)

    return (
        {v: pick(*p) for v, p in items.items()},
        jnp.where(take, own.weights, synthetic.weights),
        {v: pick(*p) for v, p in masks.items()},
    )

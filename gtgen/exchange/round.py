"""The one exchange round, for every kind of player: sample → route by α → learn.

``round(key, states, context) -> (states, ExchangeInfo)`` in blackjax style, one pure function in
which every group of players is vmapped and all groups run together:

1. every group draws ``samples`` synthetic samples per player from its current state (before
   anyone learns: Jacobi order, as in the authors' code). Samples are named variables
   (``{"x": ...}``, ``{"c": ..., "x": ...}``, the HVAE's ``{"x", "z0", "z1"}``);
2. the samples are routed by α to every receiver, which gets only the variables it models:
   a statistics reader (exponential family, ``gtgen.exchange.statistics``) gets the α-weighted
   sum of its own sufficient statistics of the senders' samples; an item reader (neural player,
   ``gtgen.exchange.items``) gets a weighted batch of its own items and one of synthetic items;
3. every group learns (vmapped): moment matching, damped by λ, for exponential families; one
   learning step (e.g. an Adam step of symmetric learning) for neural players. A player of
   conditionals (``gtgen.players.conditionals``) first completes the variables its own and
   received items lack by Gibbs sweeps with its own conditionals (``gtgen.exchange.imputation``),
   inside the same compiled round.

Only samples cross from one player to another: own data and parameters stay inside each
player's vmapped update, never gathered across players. α (through its ``RoutingPlan``), the
private data, the damping and the players' states are traced: new values never recompile.

``draw="statistics"`` (the default wherever every receiver has one) skips the samples of step 1
for exponential families: each receiver's mean sufficient statistics of the m samples it would get
are drawn from their exact law (gtgen.players.statistic_laws; the same stochastic process, at a
cost independent of m, with m traced). ``draw="samples"`` draws the samples themselves (players
without a statistic law, neural players, and the tests' oracle). ``draw="expected"`` replaces
them by their expectation in closed form: the round of the exact and Anderson solvers
(gtgen.solvers).

``make_play`` runs rounds under ``lax.scan`` (the neural experiments and sweeps); the solvers of
gtgen.solvers run the same round in their shared loop with tolerance stops and averaging.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gtgen.data.partition import row_weights
from gtgen.exchange.imputation import impute, imputes
from gtgen.exchange.items import (
    COMPOSITIONS,
    composition_weights,
    own_batch,
    pooled_batch,
    sampled_batch,
    source_groups,
)
from gtgen.exchange.routing import RoutingPlan, routing_plan
from gtgen.exchange.statistics import (
    ROUTINGS,
    draw_counts,
    draw_sender_statistics,
    draw_sources,
    drawn_statistics,
    expected_statistics,
    has_statistic_law,
    index,
    sampled_statistics,
)
from gtgen.game import Group
from gtgen.players.base import Batch, named, variable_map
from gtgen.players.expfam import has_closed_form

DRAWS = ("statistics", "samples", "expected")
OWN_DRAWS = ("random", "stratified")


class RoundSpec(NamedTuple):
    """The static settings of a round (its compiled shape); everything else is traced.

    ``samples``      synthetic samples each player draws per round: an item reader's synthetic
                     batch under sampled routing, an exponential family's m.
    ``routing``      ``"expected"``, ``"sampled"`` or ``"meanfield"`` (statistics readers only).
    ``composition``  item readers: ``"shares"`` (the authors' batch shares; sampled routing) or
                     ``"weighted"``; None picks shares under sampled routing, else weighted.
    ``own_batch``    item readers' own items per round: None (as many as ``samples``), an int,
                     or ``"full"`` (every row of the private data, the authors' IV-B).
    ``own_draw``     item readers' own items: ``"random"`` (independent draws) or
                     ``"stratified"`` (``items.own_batch``'s systematic draws over the own
                     slots in use, round(B·a) under shares: rows sorted by class give
                     class-balanced own batches, as in the authors' IV-A).
    ``flip_prob``    salt-and-pepper noise on own binary variables (the authors' IV-A: 0.001).
    ``noise_std``    Gaussian noise on own real variables (the authors' IV-B: 0.01).
    ``draw``         ``"statistics"`` (exponential families: each receiver's statistics drawn
                     from their exact law, m traced), ``"samples"``, ``"expected"`` (closed-form
                     statistics, exact solvers), or None: statistics wherever every receiver has
                     a law (``statistic_draw_applies``), else samples.
    """

    samples: int = 1000
    routing: str = "expected"
    composition: str | None = None
    own_batch: int | str | None = None
    own_draw: str = "random"
    flip_prob: float = 0.0
    noise_std: float = 0.0
    draw: str | None = None

    @property
    def mixing(self) -> str:
        """The composition item readers use (``composition`` with its default resolved)."""
        if self.composition is not None:
            return self.composition
        return "shares" if self.routing == "sampled" else "weighted"

    @property
    def own_size(self) -> int | None:
        """Own items per round of an item reader (None: the full batch)."""
        if self.own_batch == "full":
            return None
        return self.samples if self.own_batch is None else int(self.own_batch)


def statistic_draw_applies(groups: Sequence) -> bool:
    """Whether every receiver's statistics of every sender's samples have a law to draw from."""
    return all(has_statistic_law(g.player, h.player) for g in groups for h in groups)


def check_spec(groups: Sequence, spec: RoundSpec) -> RoundSpec:
    """``spec`` (its draw resolved) if these groups can play a round with it, else ValueError
    naming the setting."""
    if spec.routing not in ROUTINGS:
        raise ValueError(
            f"routing: unknown routing {spec.routing!r}; choose one of {', '.join(ROUTINGS)}"
        )
    if spec.draw is None:
        spec = spec._replace(draw="statistics" if statistic_draw_applies(groups) else "samples")
    if spec.draw not in DRAWS:
        raise ValueError(f"draw: unknown draw {spec.draw!r}; choose one of {', '.join(DRAWS)}")
    if spec.draw == "statistics" and not statistic_draw_applies(groups):
        names = ", ".join(sorted({g.player.name for g in groups}))
        raise ValueError(
            f"draw: 'statistics' needs exponential-family players whose statistics have a known "
            f"law for every sender ({names}); use draw='samples'"
        )
    if spec.mixing not in COMPOSITIONS:
        raise ValueError(
            f"composition: must be one of {', '.join(COMPOSITIONS)}, got {spec.composition!r}"
        )
    items = [g.player for g in groups if g.player.reads == "items"]
    if spec.draw == "expected":
        if items:
            raise ValueError(
                f"method: the exact and Anderson solvers need exponential-family players; "
                f"{items[0].name} learns from samples (use method='sampled')"
            )
        for g in groups:
            for h in groups:
                if not has_closed_form(g.player, h.player):
                    raise ValueError(
                        f"players: {g.player.name} has no closed form for {h.player.name}'s "
                        "statistics (use method='sampled')"
                    )
    if items:
        if spec.routing == "meanfield":
            raise ValueError(
                "routing: meanfield pools statistics, which neural players do not read; use "
                "'sampled' or 'expected'"
            )
        if spec.mixing == "shares" and spec.routing != "sampled":
            raise ValueError("composition: 'shares' needs routing='sampled'")
        if spec.mixing == "shares" and spec.own_size != spec.samples:
            raise ValueError(
                "own_batch: 'shares' fills one batch of `samples` slots; leave own_batch unset"
            )
        size = spec.own_size
        if size is not None and (isinstance(size, bool) or size < 1):
            raise ValueError(f"own_batch: must be a positive integer or 'full', got {size!r}")
    if spec.own_draw not in OWN_DRAWS:
        raise ValueError(f"own_draw: must be one of {', '.join(OWN_DRAWS)}, got {spec.own_draw!r}")
    if spec.own_draw == "stratified" and spec.own_size is None:
        raise ValueError("own_draw: 'stratified' draws a minibatch; own_batch='full' has none")
    if not 0.0 <= spec.flip_prob < 0.5:
        raise ValueError(f"flip_prob: must lie in [0, 0.5), got {spec.flip_prob!r}")
    if not 0.0 <= spec.noise_std:
        raise ValueError(f"noise_std: must be non-negative, got {spec.noise_std!r}")
    return spec


class Context(NamedTuple):
    """One game's traced inputs to a round: α's plan, every group's prepared own data, λ, and
    (statistic draw) the sample count m."""

    plan: RoutingPlan
    own: tuple  # statistics readers: own moments [n_g, K]; item readers: (data, weights)
    damping: jax.Array
    samples: jax.Array | None = None  # float32 m of the statistic draw (None: spec.samples)


class ExchangeInfo(NamedTuple):
    """Per-group diagnostics of one round (leaves [n_g]; [T, n_g] in a trace of ``play``)."""

    metrics: tuple  # what each group's learning step reports (a dict per group)
    own_weight: tuple  # share of each player's weight on its own data
    synthetic_weight: tuple  # share on synthetic items


def prepare_own(groups: Sequence, data: Sequence, weights: Sequence) -> tuple:
    """Each group's private data in the form its players learn from it: an exponential family's
    own-data moments (computed once, they never change), a neural player's padded rows."""
    out = []
    for g, x, w in zip(groups, data, weights):
        if g.player.reads == "statistics":
            out.append(jax.vmap(g.player.init)(x[g.player.variable], w))
        else:
            out.append((x, w))
    return tuple(out)


def make_context(
    groups: Sequence, alpha, data, weights, spec: RoundSpec, damping=1.0, samples=None
) -> Context:
    """The context of one game (α [N, N], per-group padded data dicts and weights); ``samples``
    (traced, statistic draw only) overrides ``spec.samples``."""
    routing = "expected" if spec.draw == "expected" else spec.routing
    return Context(
        routing_plan(alpha, routing),
        prepare_own(groups, data, weights),
        jnp.asarray(damping, jnp.float32),
        jnp.asarray(spec.samples if samples is None else samples, jnp.float32),
    )


def play_weighted_alike(play, groups: Sequence, spec: RoundSpec, key, states, data, alpha, rounds):
    """``play(key, states, context, rounds)`` (a ``make_play``) for one game whose own rows all
    weigh 1 (``data``: a dict per group of ``[members, n, ...]``): ``(states, trace)``."""
    weights = tuple(jnp.ones((1, next(iter(d.values())).shape[1])) for d in data)
    return play(key, states, make_context(groups, alpha, data, weights, spec), rounds)


def init_states(groups: Sequence, key: jax.Array, own: Sequence) -> tuple:
    """Every player's starting state: an exponential family's own-data fit, a neural player's
    fresh initialisation (key ``split(key, N)[i]`` for player i)."""
    n = sum(len(g.members) for g in groups)
    keys = jax.random.split(key, n)
    return tuple(
        o if g.player.reads == "statistics" else jax.vmap(g.player.init)(keys[index(g)])
        for g, o in zip(groups, own)
    )


def _sampler(player, n: int):
    def sample(key, state):
        return named(player, player.sample(key, state, n))

    return sample


def make_round(groups: Sequence, spec: RoundSpec):
    """One exchange round as a pure function ``round(key, states, context)`` (jit it).

    ``states`` is a tuple with one stacked state per group (``init_states``), ``context`` a
    :class:`Context` (``make_context``). Returns ``(states, ExchangeInfo)``.
    """
    groups = tuple(groups)
    spec = check_spec(groups, spec)
    m, routing, mixing = spec.samples, spec.routing, spec.mixing
    any_items = any(g.player.reads == "items" for g in groups)
    direct = routing == "sampled" and all(
        getattr(g.player, "sample_each", None) is not None for g in groups
    )

    read = pools_read(groups, routing)

    def learn_statistics(g, state, own, plan, received, damping):
        a = plan.self_weight[index(g)][:, None]
        new = jax.vmap(g.player.learn, in_axes=(0, 0, 0, 0, None))(state, own, a, received, damping)
        info = ({}, a[:, 0], 1.0 - a[:, 0])
        return new, info

    def learn_items(g, state, own, plan, pools, sources, k_own, k_learn):
        data, row_weights = own
        variables = variable_map(g.player)
        draw = functools.partial(
            own_batch,
            variables=variables,
            size=spec.own_size,
            flip_prob=spec.flip_prob,
            noise_std=spec.noise_std,
        )
        a = plan.self_weight[index(g)]
        n = plan.self_weight.shape[0]
        if spec.own_draw == "stratified":
            # the own slots in use: round(B·a) under shares (batch_shares), all otherwise
            used = jnp.round(a * m) if mixing == "shares" else jnp.full_like(a, spec.own_size)
            mine = jax.vmap(draw)(k_own, data, row_weights, strata=used)
        else:
            mine = jax.vmap(draw)(k_own, data, row_weights)
        learn = functools.partial(g.player.learn, shared_slots=mixing == "shares")
        if imputes(g.player):  # a conditionals player first completes what it lacks
            learn = _imputing(g.player, learn)
        if routing == "sampled":  # a player that ignores synthetic items is handed none
            synth, present = (
                sampled_batch(g, groups, pools, sources, n) if receives(g) else ({}, None)
            )
            own_w, synth_w = composition_weights(a, mine.weights, m, mixing)
            axes = (0, 0, 0, 0)
        else:  # expected: every sender's pool, weighted α_ij / m
            synth, present, synth_w = pooled_batch(g, groups, pools, plan)
            own_w = a[:, None] * mine.weights
            axes = (0, 0, 0, Batch(None, 0, None))
        new, metrics = jax.vmap(learn, in_axes=axes)(
            k_learn, state, Batch(mine.items, own_w), Batch(synth, synth_w, present)
        )
        total = own_w.sum(axis=1) + synth_w.sum(axis=1)
        total = jnp.where(total > 0, total, 1.0)
        return new, (metrics, own_w.sum(axis=1) / total, synth_w.sum(axis=1) / total)

    def round_fn(key, states, context):
        plan, own, damping = context.plan, context.own, context.damping
        n = plan.self_weight.shape[0]
        if spec.draw == "statistics":
            count = jnp.float32(m) if context.samples is None else context.samples
            stat_key, route_key = jax.random.split(key)
            counts = draw_counts(route_key, plan, count) if routing == "sampled" else None
            drawn = (
                None
                if routing == "sampled"
                else draw_sender_statistics(groups, states, stat_key, count)
            )
            out = [
                learn_statistics(
                    g,
                    st,
                    o,
                    plan,
                    drawn_statistics(
                        g, pos, groups, plan, routing, states, drawn, stat_key, count, counts
                    ),
                    damping,
                )
                for pos, (g, st, o) in enumerate(zip(groups, states, own))
            ]
            return _collect(out)
        if spec.draw == "expected":
            out = [
                learn_statistics(
                    g, st, o, plan, expected_statistics(g, groups, plan, states), damping
                )
                for g, st, o in zip(groups, states, own)
            ]
            return _collect(out)
        if any_items:
            keys = jax.random.split(key, 3 * n + 1)
            route_key = stat_key = keys[0]
            k_sample, k_own, k_learn = keys[1:].reshape(3, n)
            pools = [
                jax.vmap(_sampler(g.player, m))(k_sample[index(g)], st) if drawn else None
                for g, st, drawn in zip(groups, states, read)
            ]
        else:
            stat_key, route_key = jax.random.split(key)
            pools = None if direct else _draw_pools(groups, states, stat_key, m)
        sources = draw_sources(route_key, plan, m) if routing == "sampled" else None
        out = []
        for pos, (g, st, o) in enumerate(zip(groups, states, own)):
            if g.player.reads == "statistics":
                received = sampled_statistics(
                    g, pos, groups, plan, routing, states, pools, stat_key, m, sources
                )
                out.append(learn_statistics(g, st, o, plan, received, damping))
            else:
                idx = index(g)
                out.append(learn_items(g, st, o, plan, pools, sources, k_own[idx], k_learn[idx]))
        return _collect(out)

    return round_fn


def receives(group) -> bool:
    """Whether the group's players learn from what they receive (not a data sender's)."""
    return getattr(group.player, "receives", True)


def pools_read(groups: Sequence, routing: str) -> list[bool]:
    """Per group, whether anyone reads its samples (static): a statistics reader reads every
    pool; under sampled routing an item reader reads the pools of its ``source_groups`` that send
    a variable it models, unless it ``receives`` nothing. A pool nobody reads is never drawn."""
    read = [False] * len(groups)
    for g in groups:
        if g.player.reads == "statistics" or routing != "sampled":
            return [True] * len(groups)
        if not receives(g):
            continue
        mine = set(variable_map(g.player))
        for p in source_groups(g, groups):
            read[p] = read[p] or bool(mine & set(variable_map(groups[p].player)))
    return read


def _imputing(player, learn):
    """``learn`` preceded by the player's Gibbs imputation of its own and received items
    (gtgen.exchange.imputation)."""

    def learn_completed(key, state, own, synthetic):
        own, synthetic, state = impute(jax.random.fold_in(key, 1), player, state, own, synthetic)
        return learn(key, state, own, synthetic)

    return learn_completed


def _draw_pools(groups, states, key, m):
    """Each player draws m synthetic samples from its current state: ``{name: [n_h, m, ...]}``."""
    pools = []
    for h, st, k in zip(groups, states, jax.random.split(key, len(groups))):
        keys = jax.random.split(k, len(h.members))
        pools.append(jax.vmap(_sampler(h.player, m))(keys, st))
    return pools


def _collect(out) -> tuple[tuple, ExchangeInfo]:
    states = tuple(o[0] for o in out)
    metrics, own_w, synth_w = zip(*(o[1] for o in out))
    return states, ExchangeInfo(tuple(metrics), tuple(own_w), tuple(synth_w))


def make_play(groups: Sequence, spec: RoundSpec):
    """``play(key, states, context, rounds) -> (states, trace)``: ``rounds`` rounds (static)
    under ``lax.scan``, round t keyed by ``split(key, rounds)[t]``; the trace stacks every
    round's :class:`ExchangeInfo`."""
    round_fn = make_round(groups, spec)

    def play(key: jax.Array, states: Any, context: Context, rounds: int):
        def body(st, k):
            return round_fn(k, st, context)

        return jax.lax.scan(body, states, jax.random.split(key, rounds))

    return play


def make_train(player: Any, n_players: int, spec: RoundSpec):
    """The common case of one group: ``n_players`` players of one configuration on padded data.

    ``train(key, states, data, counts, alpha, rounds) -> (states, trace)`` plays ``rounds``
    rounds (static) of the one exchange round: ``states`` the group's stacked states,
    ``data`` a dict of padded arrays ``{name: [N, n_max, ...]}`` (or the array of the player's one
    observed variable), ``counts [N]`` the rows of each player that are real, ``alpha [N, N]``.
    Everything but ``rounds`` is traced: vmap ``train`` over a leading axis of (keys, states, α)
    to train a whole sweep in one program.
    """
    groups = (Group(player, tuple(range(n_players))),)
    play = make_play(groups, spec)

    def train(key, states, data, counts, alpha, rounds: int):
        data = data if isinstance(data, dict) else {player.observed[0]: data}
        width = next(iter(data.values())).shape[1]
        context = make_context(groups, alpha, (data,), (row_weights(counts, width),), spec)
        (states,), trace = play(key, (states,), context, rounds)
        return states, trace

    return train

"""What a player is.

A player is a NamedTuple of pure functions over a parameter pytree, in the style of optax's
``GradientTransformation``: no hidden state, nothing mutates. Every kind of player (exponential
family, neural) provides at least these fields, so that the exchange round can treat them alike:

``name``         a short, hashable description; players with equal ``name`` and ``event_shape``
                 form one group and are vmapped together.
``event_shape``  the shape of one sample.
``init``         builds the parameters from the player's own (padded, weighted) data.
``sample``       ``sample(key, params, n) -> [n, *event_shape]`` synthetic samples.
``log_prob``     ``log_prob(params, x) -> scalar`` for one sample ``x``.

Families add their own fields (sufficient statistics, best responses, optimiser steps).
"""

from __future__ import annotations

from typing import Any, Protocol

import jax

Params = Any  # a pytree
PRNGKey = jax.Array


class PlayerLike(Protocol):
    """The fields every player has (see module docstring)."""

    name: str
    event_shape: tuple[int, ...]

    def init(self, *args: Any, **kwargs: Any) -> Params: ...

    def sample(self, key: PRNGKey, params: Params, n: int) -> jax.Array: ...

    def log_prob(self, params: Params, x: jax.Array) -> jax.Array: ...


def group_key(player: PlayerLike) -> tuple[str, tuple[int, ...]]:
    """Players with the same key share one vmapped group."""
    return (player.name, tuple(player.event_shape))

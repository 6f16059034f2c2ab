"""What a player is: the variables it models and one of two ways of learning.

A player is a NamedTuple of pure functions over a state pytree, in the style of optax's
``GradientTransformation``: no hidden state, nothing mutates. Every kind of player declares

``name``       a short, hashable description that includes its whole configuration: players
               with equal ``name`` form one group and are vmapped together;
``variables``  the named variables it models and exchanges, ``((name, Variable), ...)``: a sample
               is a dict ``{name: [n, *shape]}`` of these; a receiver takes from a sender exactly
               the variables it models (``gtgen.game`` checks that every shared name means the
               same on both sides);
``observed``   the names its private data holds (the others are latent, e.g. the HVAE's codes);
``completes``  (optional) the variables it can complete itself when a sender does not send them,
               as it completes its own data (the HVAE's codes, by its encoder);
``reads``      how it learns from what it receives, which tells the exchange round what to hand
               it:

               ``"statistics"``  exponential families: the round reduces every sender's samples
                                 to the receiver's mean sufficient statistics and mixes them by α
                                 (or, for the exact solvers, takes them in closed form); the player
                                 moves to the moment-matching best response;
               ``"items"``       neural players: the round hands it a weighted batch of its own
                                 items and a weighted batch of received synthetic items, and the
                                 player takes one learning step (``learn``).

One round serves both (``gtgen.exchange``): every group samples, samples are routed by α, every
group learns; only samples ever cross from one player to another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import jax
import numpy as np

Params = Any  # a pytree
PRNGKey = jax.Array
Samples = dict[str, jax.Array]  # named variables, leading sample axis

READS = ("statistics", "items")
KINDS = ("real", "binary", "categorical", "count")


class Variable(NamedTuple):
    """One named variable of a player: its kind, its shape, and its classes (categorical)."""

    kind: str  # "real" | "binary" | "categorical" | "count"
    shape: tuple[int, ...] = ()
    classes: int = 0  # categorical: values 0..classes-1

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"categorical({self.classes})" + (f"{list(self.shape)}" if self.shape else "")
        return f"{self.kind}{list(self.shape)}"

    @property
    def dtype(self) -> Any:
        return np.int32 if self.kind == "categorical" else np.float32


def real(*shape: int) -> Variable:
    return Variable("real", tuple(shape))


def binary(*shape: int) -> Variable:
    return Variable("binary", tuple(shape))


def categorical(classes: int, *shape: int) -> Variable:
    return Variable("categorical", tuple(shape), int(classes))


def count(*shape: int) -> Variable:
    return Variable("count", tuple(shape))


Variables = tuple[tuple[str, Variable], ...]


class Batch(NamedTuple):
    """Weighted items: ``items[name] [B, *shape]`` and ``weights [B]`` (0 = unused slot).

    ``present[name] [B]`` (bool), where given, marks the items that carry variable ``name``: a
    sender that does not send a variable the receiver completes itself leaves it absent (zeros
    in ``items``); a variable without an entry is present in every item.

    ``fresh[name] [B]`` (bool), where given (after Gibbs imputation, gtgen.exchange.imputation):
    the item's ``name`` is its chain's last draw, made from the receiver's own conditional given
    the rest as it is, so that conditional skips it (its expected gradient there is zero).
    """

    items: Samples
    weights: jax.Array
    present: dict | None = None
    fresh: dict | None = None


class PlayerLike(Protocol):
    """The fields every player has (see module docstring)."""

    name: str
    variables: Variables
    observed: tuple[str, ...]
    reads: str

    def sample(self, key: PRNGKey, state: Params, n: int) -> Any: ...


def group_key(player: PlayerLike) -> str:
    """Players with the same key share one vmapped group."""
    return player.name


def variable_map(player: PlayerLike) -> dict[str, Variable]:
    return dict(player.variables)


def named(player: PlayerLike, samples: Any) -> Samples:
    """A player's samples as named variables: a player of one variable may return its array."""
    if isinstance(samples, Mapping):
        return dict(samples)
    if hasattr(samples, "_asdict"):
        return dict(samples._asdict())
    (name,) = (n for n, _ in player.variables)
    return {name: samples}


def check_variables(player: Any, where: str) -> None:
    """TypeError / ValueError unless ``player`` declares well-formed variables and a way to learn."""
    reads = getattr(player, "reads", None)
    if reads not in READS:
        raise TypeError(
            f"{where}: expected a gtgen player (e.g. gtgen.expfam.gaussian(2) or a neural player), "
            f"got {type(player).__name__}"
        )
    names = [n for n, _ in player.variables]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"{where}: {player.name} must declare distinct variable names")
    for n, v in player.variables:
        if v.kind not in KINDS:
            raise ValueError(f"{where}: variable {n!r} has unknown kind {v.kind!r}")
    missing = [n for n in player.observed if n not in names]
    if missing or not player.observed:
        raise ValueError(f"{where}: {player.name} observes {missing or 'nothing'}, not a variable")


def completes(player: Any) -> tuple[str, ...]:
    """The variables ``player`` completes itself when a sender does not send them."""
    return tuple(getattr(player, "completes", ()))


def check_compatible(receiver: Any, sender: Any, where: str) -> None:
    """ValueError (starting with ``where``) unless ``receiver`` can learn from ``sender``'s
    samples: every variable the receiver models is sent (or completed by the receiver), and every
    variable they share has the same meaning (kind, shape, classes)."""
    sent = variable_map(sender)
    for name, var in receiver.variables:
        if name not in sent and name in completes(receiver):
            continue
        if name not in sent:
            raise ValueError(
                f"{where}: {receiver.name} models {name!r}, which {sender.name} does not send; "
                "a receiver must get every variable it models"
            )
        if sent[name] != var:
            raise ValueError(
                f"{where}: {receiver.name} models {name!r} as {var.describe()} but "
                f"{sender.name} has it as {sent[name].describe()}; players must agree on the "
                "meaning of every variable they exchange"
            )


def check_values(var: Variable, arr: np.ndarray) -> str | None:
    """What is wrong with data of one variable (``[n, *shape]``, float64), or None."""
    if var.kind == "binary" and not np.all((arr == 0) | (arr == 1)):
        return "must be binary (every value 0 or 1)"
    integer = np.all(np.equal(np.mod(arr, 1), 0))
    if var.kind == "categorical" and (not integer or arr.min() < 0 or arr.max() >= var.classes):
        return f"must hold integer classes in 0..{var.classes - 1}"
    if var.kind == "count" and (np.any(arr < 0) or not np.all(np.equal(np.mod(arr, 1), 0))):
        return "must hold non-negative integer counts"
    return None


def event_size(var: Variable) -> int:
    return math.prod(var.shape)

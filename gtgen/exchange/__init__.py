"""The exchange: one sampled round for every kind of player (sample → route by α → learn).

``gtgen.exchange.round`` is the round itself; ``routing`` turns α into what a round reads;
``statistics`` is what exponential-family receivers get (mixed sufficient statistics), ``items``
what neural receivers get (weighted batches of own and synthetic items).
"""

from gtgen.exchange.round import (
    DRAWS,
    Context,
    ExchangeInfo,
    RoundSpec,
    check_spec,
    init_states,
    make_context,
    make_play,
    make_round,
    make_train,
    play_weighted_alike,
    prepare_own,
    statistic_draw_applies,
)
from gtgen.exchange.statistics import ROUTINGS

__all__ = [
    "DRAWS",
    "ROUTINGS",
    "Context",
    "ExchangeInfo",
    "RoundSpec",
    "check_spec",
    "init_states",
    "make_context",
    "make_play",
    "make_round",
    "make_train",
    "play_weighted_alike",
    "prepare_own",
    "statistic_draw_applies",
]

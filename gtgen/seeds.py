"""One rule for seeds everywhere: an integer in [0, 2^32).

``jax.random.key(seed)`` keeps 32 bits of a seed on the default (threefry) implementation with
x64 off, so seeds that differ by 2^32 would give one key; negative seeds wrap the same way. Every
command line ``--seed``, config ``seed`` and sweep ``seeds`` list is checked here.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

SEED_LIMIT = 2**32


def check_seed(value: Any, field: str = "seed") -> int:
    """``value`` as an int, or ValueError naming ``field``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{field}: must be an integer in [0, 2^32), got {value!r}")  # noqa: TRY004 - bad input is a ValueError
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{field}: must be an integer in [0, 2^32), got {value}")
    return int(value)


def seed_argument(text: str) -> int:
    """``type=`` for an argparse ``--seed``: the same rule, as argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2^32), got {text!r}") from None
    try:
        return check_seed(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2^32), got {value}") from None

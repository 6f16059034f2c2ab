"""Argument checks shared by every public entry point: one message form for one kind of mistake.

Each check returns the value in its plain Python form or raises ValueError naming the argument
(``"{name}: must be …, got …"``), so the CLI can print it as the one line a user sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def integer(name: str, value: Any, low: int = 1) -> int:
    """``value`` as an int ≥ ``low``; ValueError naming ``name`` otherwise (bools and floats,
    even integral ones, are refused: a count given as 2.0 is a mistake worth naming)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            low, f"an integer >= {low}"
        )
        raise ValueError(f"{name}: must be {kind}, got {value!r}")
    return int(value)


def any_integer(name: str, value: Any) -> Any:
    """``value`` unchanged if it is an integer of any sign (a seed); TypeError naming ``name``
    otherwise (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: must be an integer, got {value!r}")
    return value


def distinct_choices(name: str, value: Any, allowed: Sequence[str], what: str) -> tuple:
    """``value`` (one name or a sequence of them) as a non-empty tuple of distinct members of
    ``allowed``; ValueError naming ``name`` and the first unknown ``what`` otherwise."""
    names = (value,) if isinstance(value, str) else tuple(value)
    unknown = [v for v in names if v not in allowed]
    if unknown or not names:
        raise ValueError(
            f"{name}: unknown {what} {unknown[0] if unknown else None!r}; "
            f"choose from {', '.join(allowed)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: values repeat in {list(names)}")
    return names

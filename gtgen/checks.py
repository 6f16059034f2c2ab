"""Argument checks shared by every public entry point: one message form for one kind of mistake.

Each check returns the value in its plain Python form or raises ValueError naming the argument
(``"{name}: must be …, got …"``), so the CLI can print it as the one line a user sees.
"""

from __future__ import annotations

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

"""gtgen.checks: one message form for a bad count, wherever it is given."""

import numpy as np
import pytest

from gtgen.checks import integer


@pytest.mark.parametrize("value", [0, -3, True, 2.0, "3", None, np.float32(4)])
def test_integer_refuses_what_is_not_a_positive_integer(value):
    with pytest.raises(ValueError, match=r"^rounds: must be a positive integer, got "):
        integer("rounds", value)


def test_integer_names_its_lower_bound_and_returns_a_plain_int():
    assert integer("n", np.int64(7)) == 7 and type(integer("n", np.int64(7))) is int
    assert integer("seed", 0, 0) == 0
    with pytest.raises(ValueError, match=r"^seed: must be a non-negative integer, got -1$"):
        integer("seed", -1, 0)
    with pytest.raises(ValueError, match=r"^party_size: must be an integer >= 2, got 1$"):
        integer("party_size", 1, 2)

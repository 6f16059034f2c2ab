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


def test_any_integer_accepts_every_sign_and_refuses_bools_and_floats():
    from gtgen.checks import any_integer

    assert any_integer("seed", -3) == -3 and any_integer("seed", np.int64(7)) == 7
    for bad in (True, 1.0, "1", None):
        with pytest.raises(TypeError, match=r"^seed: must be an integer, got"):
            any_integer("seed", bad)


def test_distinct_choices_names_the_first_unknown_or_the_repeat():
    from gtgen.checks import distinct_choices

    allowed = ("a", "b", "c")
    assert distinct_choices("xs", "b", allowed, "x") == ("b",)
    assert distinct_choices("xs", ["c", "a"], allowed, "x") == ("c", "a")
    with pytest.raises(ValueError, match=r"^xs: unknown x 'z'; choose from a, b, c$"):
        distinct_choices("xs", ["a", "z", "y"], allowed, "x")
    with pytest.raises(ValueError, match=r"^xs: unknown x None; choose from a, b, c$"):
        distinct_choices("xs", [], allowed, "x")
    with pytest.raises(ValueError, match=r"^xs: values repeat in \['a', 'a'\]$"):
        distinct_choices("xs", ("a", "a"), allowed, "x")

"""Bad input through the public API: one clear error naming the field (ValueError / TypeError).

Every case states the field the message must name (``alpha``, ``data[1]``, ``players[1]``,
``weights[0]``, ``method``, ``routing``, ``rounds``, ``samples``, ``damping``, ...). Valid
near-misses (a row sum 1 + 1e-7, integer-valued floats as counts) are accepted.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest

import gtgen
from gtgen import expfam

G2 = expfam.gaussian(2)


def good_data(n_players=3, d=2, n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n + i, d)) for i in range(n_players)]


def uniform(n):
    return np.full((n, n), 1.0 / n)


def raises_naming(field, exc=ValueError):
    """pytest.raises that requires the message to start by naming exactly ``field``."""
    return pytest.raises(exc, match="^" + re.escape(field) + r"(?![\w\[])")


@pytest.fixture(scope="module")
def game():
    return gtgen.Game([G2] * 3, uniform(3), good_data())


# ----------------------------------------------------------------------------- alpha


@pytest.mark.parametrize(
    "alpha",
    [
        [[0.5, 0.5]],  # not square
        np.ones((2, 2, 2)) / 2,  # not a matrix
        np.zeros((0, 0)),  # empty
        [[1.0, 0.0], [1.0]],  # ragged
        [["a", "b"], ["c", "d"]],  # not numbers
        None,
    ],
    ids=["1x2", "3d", "empty", "ragged", "strings", "none"],
)
def test_alpha_not_a_square_matrix(alpha):
    with raises_naming("alpha"):
        gtgen.validate_alpha(alpha)
    with raises_naming("alpha"):
        gtgen.Game([G2] * 2, alpha, good_data(2))


def test_alpha_wrong_size_for_players():
    with raises_naming("alpha", ValueError) as err:
        gtgen.Game([G2] * 3, uniform(2), good_data(3))
    assert "3 players" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_alpha_not_finite(bad):
    alpha = uniform(3)
    alpha[1, 2] = bad
    with raises_naming("alpha"):
        gtgen.Game([G2] * 3, alpha, good_data())
    with raises_naming("alpha"):
        gtgen.expfam.nash_equilibrium(alpha, np.ones((3, 2)))
    with raises_naming("alpha"):
        gtgen.spectral_radius(alpha)


def test_alpha_negative_entry_is_located():
    alpha = np.array([[0.5, 0.5, 0.0], [0.6, 0.6, -0.2], [0.0, 0.0, 1.0]])  # rows sum to 1
    with raises_naming("alpha") as err:
        gtgen.Game([G2] * 3, alpha, good_data())
    assert "negative" in str(err.value) and "[1][2]" in str(err.value)


@pytest.mark.parametrize(
    "excess, ok", [(1e-7, True), (-1e-7, True), (1e-5, False), (-1e-5, False), (0.5, False)]
)
def test_alpha_row_sums_tolerance(excess, ok):
    alpha = uniform(3)
    alpha[2, 0] += excess
    if ok:
        game = gtgen.Game([G2] * 3, alpha, good_data())
        np.testing.assert_array_equal(game.alpha, alpha)
        gtgen.validate_alpha(alpha)
    else:
        with raises_naming("alpha") as err:
            gtgen.Game([G2] * 3, alpha, good_data())
        assert "row 2" in str(err.value)
        with raises_naming("alpha"):
            gtgen.expfam.nash_equilibrium(alpha, np.ones((3, 1)))


# ----------------------------------------------------------------------------- players


def test_players_of_different_dimension():
    data = good_data(2)
    data[1] = np.zeros((4, 3))
    with raises_naming("players[1]"):
        gtgen.Game([G2, expfam.gaussian(3)], uniform(2), data)


def test_players_of_incompatible_families():
    data = [np.zeros((3, 2)), np.zeros((3, 2))]
    with raises_naming("players[1]"):
        gtgen.Game([G2, expfam.bernoulli(2)], uniform(2), data)


@pytest.mark.parametrize(
    "players, field", [([], "players"), ("gaussian", "players"), ([G2, "g"], "players[1]")]
)
def test_players_not_players(players, field):
    with raises_naming(field, TypeError):
        gtgen.Game(players, uniform(2), good_data(2))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: expfam.gaussian(0), "dim"),
        (lambda: expfam.gaussian(-2), "dim"),
        (lambda: expfam.bernoulli(2.5), "dim"),
        (lambda: expfam.poisson(True), "dim"),
        (lambda: expfam.categorical(1), "num_classes"),
        (lambda: expfam.family("gamma", 2), "family"),
    ],
)
def test_bad_family_arguments(call, field):
    with raises_naming(field):
        call()


# ----------------------------------------------------------------------------- data


def test_data_of_wrong_dimension():
    data = good_data()
    data[1] = np.zeros((5, 3))
    with raises_naming("data[1]") as err:
        gtgen.Game([G2] * 3, uniform(3), data)
    assert "(5, 3)" in str(err.value)
    data[1] = np.zeros(5)
    with raises_naming("data[1]"):
        gtgen.Game([G2] * 3, uniform(3), data)


def test_data_list_of_wrong_length_or_type():
    with raises_naming("data"):
        gtgen.Game([G2] * 3, uniform(3), good_data(2))
    with raises_naming("data", TypeError):
        gtgen.Game([G2] * 2, uniform(2), np.zeros((2, 4, 2)))


@pytest.mark.parametrize("empty", [np.zeros((0, 2)), []])
def test_empty_player(empty):
    data = good_data()
    data[2] = empty
    with raises_naming("data[2]"):
        gtgen.Game([G2] * 3, uniform(3), data)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_data_not_finite(bad):
    data = good_data()
    data[0][3, 1] = bad
    with raises_naming("data[0]") as err:
        gtgen.Game([G2] * 3, uniform(3), data)
    assert "NaN" in str(err.value) or "infinite" in str(err.value)


@pytest.mark.parametrize("bad", [np.array([["a", "b"]]), [[1.0, 2.0], [3.0]], None])
def test_data_not_numeric(bad):
    data = good_data()
    data[1] = bad
    with raises_naming("data[1]"):
        gtgen.Game([G2] * 3, uniform(3), data)


def test_complex_data_rejected():
    data = good_data()
    data[1] = data[1] + 1j
    with raises_naming("data[1]"):
        gtgen.Game([G2] * 3, uniform(3), data)


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0])
def test_bernoulli_needs_binary_data(value):
    data = [np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, value]])]
    with raises_naming("data[1]") as err:
        gtgen.Game([expfam.bernoulli(2)] * 2, uniform(2), data)
    assert "binary" in str(err.value)


def test_bernoulli_accepts_bool_and_integer_data():
    data = [np.array([[True, False]]), np.array([[0, 1], [1, 1]])]
    game = gtgen.Game([expfam.bernoulli(2)] * 2, uniform(2), data)
    np.testing.assert_allclose(np.stack(game.per_player(game.own_moments())), [[1, 0], [0.5, 1]])


@pytest.mark.parametrize("value", [-1.0, 2.5, 0.1])
def test_poisson_needs_non_negative_integer_counts(value):
    data = [np.array([[0.0], [3.0]]), np.array([[1.0], [value]])]
    with raises_naming("data[1]") as err:
        gtgen.Game([expfam.poisson(1)] * 2, uniform(2), data)
    assert "count" in str(err.value)


def test_poisson_accepts_integer_valued_floats():
    game = gtgen.Game(
        [expfam.poisson(1)] * 2, uniform(2), [np.array([[0.0], [3.0]]), np.array([[7], [1]])]
    )
    np.testing.assert_allclose(np.stack(game.per_player(game.own_moments())), [[1.5], [4.0]])


@pytest.mark.parametrize("value", [-1, 3, 7, 1.5])
def test_categorical_needs_classes_in_range(value):
    data = [np.array([0, 1, 2]), np.array([2, value])]
    with raises_naming("data[1]") as err:
        gtgen.Game([expfam.categorical(3)] * 2, uniform(2), data)
    assert "0..2" in str(err.value)


def test_categorical_needs_one_dimensional_data():
    with raises_naming("data[0]"):
        gtgen.Game(
            [expfam.categorical(3)] * 2, uniform(2), [np.array([[0], [1]]), np.array([1, 2])]
        )


# ----------------------------------------------------------------------------- weights


@pytest.mark.parametrize(
    "weights_0",
    [
        np.ones(3),
        -np.ones(6),
        np.zeros(6),
        np.array([1, 1, 1, 1, 1, np.nan]),
        np.array([1, 1, 1, 1, 1, np.inf]),
    ],
    ids=["wrong-length", "negative", "all-zero", "nan", "inf"],
)
def test_bad_weights(weights_0):
    data = good_data()
    weights = [weights_0] + [np.ones(len(x)) for x in data[1:]]
    with raises_naming("weights[0]"):
        gtgen.Game([G2] * 3, uniform(3), data, weights=weights)


def test_weights_list_of_wrong_length():
    with raises_naming("weights"):
        gtgen.Game([G2] * 3, uniform(3), good_data(), weights=[np.ones(6)])


@pytest.mark.parametrize(
    "weights", [5, [np.array(["a"] * 6), np.ones(7), np.ones(8)]], ids=["int", "strings"]
)
def test_weights_not_a_list_of_numbers(weights):
    with pytest.raises((ValueError, TypeError), match=r"^weights"):
        gtgen.Game([G2] * 3, uniform(3), good_data(), weights=weights)


# ----------------------------------------------------------------------------- solve settings


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"method": "newton"}, "method"),
        ({"method": None}, "method"),
        ({"routing": "broadcast"}, "routing"),
        ({"rounds": 0}, "rounds"),
        ({"rounds": -5}, "rounds"),
        ({"rounds": 2.5}, "rounds"),
        ({"rounds": True}, "rounds"),
        ({"rounds": 10**12}, "rounds"),
        ({"samples": 0}, "samples"),
        ({"samples": -100}, "samples"),
        ({"samples": 10**12}, "samples"),
        ({"samples": 1e3}, "samples"),
        ({"damping": 0.0}, "damping"),
        ({"damping": -0.5}, "damping"),
        ({"damping": 1.5}, "damping"),
        ({"damping": float("nan")}, "damping"),
        ({"damping": float("inf")}, "damping"),
        ({"damping": "0.5"}, "damping"),
        ({"burn_in": -1}, "burn_in"),
        ({"rounds": 10, "burn_in": 11}, "burn_in"),
        ({"method": "exact", "tol": -1e-3}, "tol"),
        ({"method": "exact", "tol": float("nan")}, "tol"),
        ({"method": "anderson", "memory": 0}, "memory"),
    ],
)
def test_bad_solver_settings(game, kwargs, field):
    with raises_naming(field):
        gtgen.solve(game, jax.random.key(0), **kwargs)


def test_solve_needs_a_game():
    with raises_naming("game", TypeError):
        gtgen.solve([G2] * 3, jax.random.key(0))


def test_meanfield_routing_needs_uniform_alpha():
    alpha = np.array([[0.5, 0.3, 0.2], [0.25, 0.5, 0.25], [0.25, 0.25, 0.5]])
    game = gtgen.Game([G2] * 3, alpha, good_data())
    with raises_naming("routing") as err:
        gtgen.solve(game, jax.random.key(0), routing="meanfield", rounds=2, samples=4)
    assert "uniform" in str(err.value)
    single = gtgen.Game([G2], [[1.0]], good_data(1))
    with raises_naming("routing"):
        gtgen.solve(single, jax.random.key(0), routing="meanfield", rounds=2, samples=4)


# ----------------------------------------------------------------------------- closed form / check


@pytest.mark.parametrize(
    "moments", [np.ones(3), np.ones((2, 2)), np.ones((3, 2, 2)), [[np.nan, 1.0]] * 3]
)
def test_nash_equilibrium_bad_moments(moments):
    with raises_naming("own_moments"):
        gtgen.expfam.nash_equilibrium(uniform(3), moments)


def test_check_rejects_mismatched_solution(game):
    with raises_naming("solution"):
        gtgen.check(game, [np.zeros((3, 3))])
    with raises_naming("solution"):
        gtgen.check(game, [np.zeros((2, 4))])

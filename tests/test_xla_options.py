"""gtgen.xla_options: a program compiled for one run (``effort="once"``) computes the same bits."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from gtgen import xla_options
from gtgen.experiments.fmnist_capacity.experiment import SMOKE_CAPACITIES
from gtgen.players.neural import joint_player


def test_once_program_gives_the_same_bits_as_xla_defaults() -> None:
    """Players' initialisation (uniform draws scaled per parameter, zero Adam moments): bit for
    bit what plain ``jax.jit`` gives. (Transcendental functions, e.g. tanh, may differ in the last
    bit between XLA's emitters: ``once`` is for initialisation-like programs.)"""
    players = [joint_player(c) for c in SMOKE_CAPACITIES[1:3]]

    def init(keys):
        return [jax.vmap(p.init)(keys) for p in players]

    keys = jax.random.split(jax.random.key(3), 2)
    plain = jax.jit(init)(keys)
    once = xla_options.jit(init, effort="once")(keys)
    leaves, others = jax.tree.leaves(plain), jax.tree.leaves(once)
    assert len(leaves) == len(others) > 20
    for a, b in zip(leaves, others):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_once_options_add_to_the_default_ones_on_a_cpu() -> None:
    default, once = xla_options.compiler_options(), xla_options.compiler_options(effort="once")
    if jax.default_backend() != "cpu":
        assert default is None and once is None
        return
    assert set(default.items()) <= set(once.items())
    # every option this XLA accepts is there, one it dropped is left out alone (jaxlib 0.12 has no
    # xla_cpu_use_fusion_emitters, and still takes the optimisation level)
    for name, value in xla_options.CPU_EFFORT_OPTIONS["once"].items():
        assert (once.get(name) == value) == xla_options.accepted(name, value), name
    assert xla_options.accepted("xla_backend_optimization_level", 0)
    assert not xla_options.accepted("xla_no_such_option_anywhere", 1)
    assert once["xla_backend_optimization_level"] == 0


def test_an_unknown_effort_is_refused() -> None:
    with pytest.raises(ValueError, match="effort"):
        xla_options.jit(lambda x: x, effort="fast")

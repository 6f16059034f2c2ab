"""The sweep-peer benchmark's sides compute the same equilibria, and the case skips cleanly
without optimistix. Oracle: gtgen.nash_equilibrium (float64 numpy solve) on each game's own
moments from the data."""

from __future__ import annotations

import sys

import jax
import numpy as np
import pytest

import gtgen
from benchmarks import sweep_cases


def test_every_side_reaches_the_closed_form():
    pytest.importorskip("optimistix")
    from gtgen.game import Group
    from gtgen.solvers import make_solver

    alpha, data, weights = sweep_cases._peer_games(1)  # 10 games, one per value of a
    x = np.asarray(data, np.float64)
    own = np.concatenate([x.mean(axis=2), (x * x).mean(axis=2)], axis=-1)
    star = np.stack([gtgen.nash_equilibrium(a, m) for a, m in zip(np.asarray(alpha), own)])
    games = alpha.shape[0]
    floor = jax.vmap(sweep_cases._closed_form)(alpha, sweep_cases._plain_moments(data, weights))
    peer = jax.jit(sweep_cases._optimistix_solver(1000, 1e-6))(alpha, data, weights)
    groups = (Group(gtgen.expfam.family("gaussian", 2), tuple(range(8))),)
    run = jax.jit(make_solver(groups, "anderson", "expected", 1000, 1, batched=True, trace=0))
    state, trace, _ = run(
        jax.random.split(jax.random.key(0), games),
        alpha,
        ({"x": data},),
        (weights,),
        np.ones(games, np.float32),
        np.zeros(games, np.int32),
        np.full(games, 1e-6, np.float32),
        None,
    )
    assert trace.step.shape == (games, 0)
    scale = np.abs(star).max()
    for got in (floor, peer, state.params[0]):
        np.testing.assert_allclose(np.asarray(got), star, rtol=0, atol=2e-5 * scale)


def test_skips_with_a_note_without_optimistix(monkeypatch):
    monkeypatch.setitem(sys.modules, "optimistix", None)  # import optimistix -> ImportError
    out = sweep_cases.sweep_peer(quick=True)
    assert out == {"name": "sweep-peer", "note": sweep_cases.NO_OPTIMISTIX}

"""The traced round count of the sampled solver (``make_solver(..., trace=0)``'s ``limit``): one
program of at most R rounds run for r ≤ R rounds must give what ``gtgen.solve`` gives at r
rounds (same key, same burn-in), and a limit with a trace or an early stop is refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gtgen
from gtgen.solvers.loop import RoundInfo, run_rounds
from gtgen.solvers.solve import make_solver


def _game():
    rng = np.random.default_rng(0)
    data = [rng.normal(i, 1.0, (40, 2)).astype(np.float32) for i in range(3)]
    alpha = np.full((3, 3), 0.25) + 0.25 * np.eye(3)
    return gtgen.Game([gtgen.expfam.gaussian(2)] * 3, alpha, data)


@pytest.mark.parametrize("r", [1, 3, 6])
def test_limit_matches_solve_at_that_many_rounds(r):
    game = _game()
    key = jax.random.key(4)
    program = jax.jit(
        make_solver(game.groups, "sampled", "expected", 6, 50, draw="samples", trace=0)
    )
    args = (key, jnp.asarray(game.alpha, jnp.float32), game.data, game.weights, jnp.float32(1.0))
    state, trace, run = program(
        *args, jnp.int32(r // 2), jnp.float32(-1.0), None, jnp.float32(50), jnp.int32(r)
    )
    want = gtgen.solve(game, key, rounds=r, samples=50, burn_in=r // 2, draw="samples")
    assert int(run) == r
    assert trace.step.shape == (0,)
    for got, ref in zip(jax.tree.leaves(state.params), jax.tree.leaves(want.state.params)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-6)
    # and the program did not just run r rounds always: r differs from the cap
    if r < 6:
        full, _, _ = program(
            *args, jnp.int32(r // 2), jnp.float32(-1.0), None, jnp.float32(50), jnp.int32(6)
        )
        assert not np.allclose(
            np.asarray(jax.tree.leaves(full.params)[0]),
            np.asarray(jax.tree.leaves(state.params)[0]),
        )


def test_limit_needs_no_trace_and_no_stop():
    def step(context, carry):
        return carry + 1.0, RoundInfo(jnp.float32(0.0), jnp.float32(0.0))

    carry, tol = jnp.zeros((1,)), jnp.full((1,), -1.0)
    with pytest.raises(ValueError, match="limit"):
        run_rounds(step, lambda c: 1.0, None, carry, tol, 5, None, False, jnp.int32(2))
    with pytest.raises(ValueError, match="limit"):
        run_rounds(step, lambda c: 1.0, None, carry, tol, 5, 0, True, jnp.int32(2))
    out, _, run = run_rounds(step, lambda c: 1.0, None, carry, tol, 5, 0, False, jnp.int32(2))
    assert float(out[0]) == 2.0 and int(run[0]) == 2


def _structured_inputs(n: int):
    """A sampled uniform-α game of ``n`` Gaussian players in gtgen.sweep's structured form."""
    from gtgen.sweep import parse_config
    from gtgen.sweep.runner import _shape_dict, chunk_inputs, plan

    settings = {"players": n, "dim": 2, "a": 0.5, "alpha": "uniform", "routing": "meanfield"}
    settings.update(method="sampled", samples=30, rounds=6, burn_in=2, data_size=8)
    keys, chunks = plan(parse_config(settings), 1, "synthetic")
    shape = {**_shape_dict(keys[0]), "structure": "uniform"}
    inputs, _ = chunk_inputs(shape, chunks[0].points, chunks[0].size, None, None)
    return shape, inputs


@pytest.mark.parametrize("r", [3, 6])
def test_structured_limit_matches_the_program_of_that_many_rounds(r):
    """One structured program of at most 6 rounds run for r == the old program built for r rounds
    (with its trace), on every output the trace does not hold."""
    from gtgen.sweep.programs import expfam_program

    shape, inputs = _structured_inputs(40)
    fn, names = expfam_program({**shape, "rounds": 6, "trace": 0})
    args = [inputs[k] for k in names]
    limited = jax.jit(fn)
    got = limited(*args, jnp.int32(r))
    old, old_names = expfam_program({**shape, "rounds": r})
    want = jax.jit(old)(*[inputs[k] for k in old_names])
    assert got.trace_distance.shape[-1] == 0 and want.trace_distance.shape[-1] == r
    np.testing.assert_array_equal(np.asarray(got.rounds_run), np.asarray(want.rounds_run))
    for field in ("distance", "residual", "gap_max", "gap_mean"):
        np.testing.assert_allclose(
            np.asarray(getattr(got, field)), np.asarray(getattr(want, field)), rtol=1e-5
        )
    if r < 6:  # the count is honoured: the full count gives another answer
        full = limited(*args, jnp.int32(6))
        assert not np.allclose(np.asarray(full.distance), np.asarray(got.distance))

"""Long-run driver: resume reproduces the uninterrupted run; NaN stops cleanly, keeping the checkpoint."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gtgen.experiments.runner import Diverged, run_chunks


def noisy_walk(key, state):
    """A chunk of 5 iterations of a random walk with decay (depends on key and state)."""

    def step(x, k):
        x = 0.9 * x + jax.random.normal(k, x.shape)
        return x, jnp.mean(x)

    x, means = jax.lax.scan(step, state["x"], jax.random.split(key, 5))
    return {"x": x, "t": state["t"] + 5}, means


chunk = jax.jit(noisy_walk)
START = {"x": jnp.zeros(3), "t": jnp.int32(0)}


def test_resume_equals_uninterrupted(tmp_path):
    key = jax.random.key(7)
    full, _ = run_chunks(chunk, START, key, 6, progress=False)
    run_chunks(
        chunk, START, key, 3, checkpoint_dir=tmp_path / "ck", progress=False
    )  # "interrupted"
    resumed, start = run_chunks(
        chunk, START, key, 6, checkpoint_dir=tmp_path / "ck", progress=False
    )
    assert start == 3
    np.testing.assert_array_equal(np.asarray(full["x"]), np.asarray(resumed["x"]))
    assert int(resumed["t"]) == 30


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    def explode(key, state):
        new, m = noisy_walk(key, state)
        return jax.lax.cond(
            state["t"] >= 10, lambda: {"x": new["x"] * jnp.nan, "t": new["t"]}, lambda: new
        ), m

    with pytest.raises(Diverged, match="last good checkpoint is step 2"):
        run_chunks(
            jax.jit(explode),
            START,
            jax.random.key(0),
            5,
            checkpoint_dir=tmp_path / "ck",
            progress=False,
        )
    # the good state is still there and restorable
    state, start = run_chunks(
        chunk, START, jax.random.key(0), 2, checkpoint_dir=tmp_path / "ck", progress=False
    )
    assert start == 2 and int(state["t"]) == 10 and np.all(np.isfinite(np.asarray(state["x"])))

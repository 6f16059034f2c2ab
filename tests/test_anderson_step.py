"""Anderson's step (gtgen.solvers.anderson) against a numpy type-II Anderson (least squares by
numpy.linalg.lstsq on the last ``memory`` differences), its cheap first step against the full
step from a fresh state, and the solver's first-round branch against the closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import gtgen
from gtgen.solvers.anderson import anderson_first_step, anderson_init, anderson_step


def _affine_map(n: int, seed: int):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    m = q @ np.diag(rng.uniform(-0.6, 0.6, n)) @ q.T  # symmetric, spectral radius <= 0.6
    return m, rng.normal(size=n)


def _numpy_anderson(g, x0, memory, beta, steps):
    """Type-II Anderson (Walker & Ni 2011), float64: the iterates x_1 … x_steps."""
    xs, fs, out = [x0], [g(x0) - x0], []
    x = x0
    for k in range(steps):
        f = fs[-1]
        cols = min(k, memory)
        if cols:
            dx = np.stack([xs[i + 1] - xs[i] for i in range(k - cols, k)], axis=1)
            df = np.stack([fs[i + 1] - fs[i] for i in range(k - cols, k)], axis=1)
            gamma = np.linalg.lstsq(df, f, rcond=None)[0]
            x = x + beta * f - (dx + beta * df) @ gamma
        else:
            x = x + beta * f
        xs.append(x)
        fs.append(g(x) - x)
        out.append(x)
    return np.stack(out)


def test_step_matches_numpy_anderson():
    n, memory, beta, steps = 6, 3, 0.7, 9  # the buffer wraps twice
    m, c = _affine_map(n, 0)

    def g(x):
        return c + m @ x

    x0 = np.zeros(n)
    want = _numpy_anderson(g, x0, memory, beta, steps)
    mj, cj = jnp.asarray(m, jnp.float32), jnp.asarray(c, jnp.float32)
    step = jax.jit(anderson_step)
    x, state, got = jnp.zeros(n, jnp.float32), anderson_init(jnp.zeros(n, jnp.float32), memory), []
    for _ in range(steps):
        x, state = step(state, x, cj + mj @ x, jnp.float32(beta))
        got.append(np.asarray(x))
    np.testing.assert_allclose(np.stack(got), want, rtol=0, atol=2e-4 * np.abs(want).max())


def test_first_step_is_the_step_from_a_fresh_state():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=12), jnp.float32)
    gx = jnp.asarray(rng.normal(size=12), jnp.float32)
    state = anderson_init(x, 5)
    full = jax.jit(anderson_step)(state, x, gx, jnp.float32(0.8))
    cheap = jax.jit(anderson_first_step)(state, x, gx, jnp.float32(0.8))
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(cheap)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _anderson_games(games=6, n=9, d=2):
    """Gaussian games with self-weight a from 0.05 to 0.9 and random off-diagonal rows (they stop
    at different rounds), as the batched solver's inputs, and each game's closed form
    (gtgen.nash_equilibrium, numpy)."""
    rng = np.random.default_rng(2)
    a = rng.uniform(0.05, 0.9, games)
    off = rng.dirichlet(np.ones(n - 1), (games, n))  # [games, n, n - 1]
    alpha = np.zeros((games, n, n))
    alpha[:, ~np.eye(n, dtype=bool)] = ((1 - a)[:, None, None] * off).reshape(games, -1)
    alpha[:, np.arange(n), np.arange(n)] = a[:, None]
    alpha = alpha.astype(np.float32)
    data = rng.normal(rng.normal(0, 2, (games, n, 1, d)), 1.0, (games, n, 40, d)).astype(np.float32)
    x = data.astype(np.float64)
    own = np.concatenate([x.mean(axis=2), (x * x).mean(axis=2)], axis=-1)
    star = np.stack([gtgen.nash_equilibrium(al, o) for al, o in zip(alpha, own)])
    inputs = (
        jax.random.split(jax.random.key(0), games),
        jnp.asarray(alpha),
        ({"x": jnp.asarray(data)},),
        (jnp.ones(data.shape[:3]),),
        jnp.ones(games),
        jnp.zeros(games, jnp.int32),
        jnp.asarray(np.geomspace(1e-2, 1e-7, games), jnp.float32),  # they stop at different rounds
    )
    return inputs, star, n, d


def _anderson_run(n, d):
    from gtgen.game import Group

    groups = (Group(gtgen.expfam.family("gaussian", d), tuple(range(n))),)
    return jax.jit(gtgen.solvers.make_solver(groups, "anderson", "expected", 200, 1, batched=True))


def test_batched_anderson_reaches_the_closed_form_with_its_first_round_peeled():
    """Games that stop at different rounds in one batch (round 0 the cheap plain step, run
    before the loop): each reaches the closed form of gtgen.nash_equilibrium (numpy solve)."""
    inputs, star, n, d = _anderson_games()
    state, trace, rounds = _anderson_run(n, d)(*inputs, None)
    assert np.all(np.asarray(rounds) >= 2) and np.all(np.asarray(rounds) < 200)
    assert len(set(np.asarray(rounds).tolist())) > 2  # they do stop at different rounds
    tol = np.asarray(inputs[-1])[:, None, None]
    err = np.abs(np.asarray(state.params[0]) - star)
    assert np.all(err <= 2 * tol * np.abs(star).max(axis=(1, 2), keepdims=True) + 1e-6)
    assert err[-1].max() < 1e-4 * np.abs(star).max()


def test_a_stopped_game_in_a_batch_ends_where_it_ends_alone():
    """A stopped game keeps its state while the others run on (its Anderson history is scratch
    the loop no longer selects over): each game of the batch gives, to float rounding, the state,
    round count and trace it gives solved alone."""
    inputs, _, n, d = _anderson_games()
    run = _anderson_run(n, d)
    state, trace, rounds = run(*inputs, None)
    for g in range(len(inputs[0])):
        one = jax.tree.map(lambda x, g=g: x[g : g + 1], inputs)
        s1, t1, r1 = run(*one, None)
        assert int(r1[0]) == int(rounds[g])
        np.testing.assert_allclose(
            np.asarray(s1.params[0][0]), np.asarray(state.params[0][g]), rtol=1e-5, atol=1e-6
        )
        steps, alone = np.asarray(trace.step[g]), np.asarray(t1.step[0])
        np.testing.assert_array_equal(np.isnan(steps), np.isnan(alone))

"""Monte-Carlo simulation of N agents under a class-symmetric policy, in one compiled program.

Every agent's state is a row of an [N, n] array; one lax.scan over time applies the policy
(each agent reads its own state and the empirical class means, the agent itself included),
accumulates every agent's realised (discounted) cost and steps the dynamics. One agent may
deviate to a best response (``Deviation``), which is how the ε-Nash gap is measured by Monte
Carlo: the deviator's cost with and without the deviation on common random numbers. The noise is
drawn inside the scan from a key (memory O(N·n), so 10^6 agents fit) or passed as an array.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options
from gtgen.mechanisms.meanfield.equilibrium import Policy, arrays
from gtgen.mechanisms.meanfield.game import LQGame, check_counts
from gtgen.mechanisms.meanfield.nplayer import BestResponse, _finite, check_policy


class Deviation(NamedTuple):
    """Agent ``agent`` plays v = −K_t z_t − k_t, z = (x^agent, M^1, …, M^C), instead."""

    agent: int
    K: np.ndarray  # [T, m, (C+1)·n]
    k: np.ndarray  # [T, m]


class Simulation(NamedTuple):
    cost: np.ndarray  # [N] (or [replicas, N]) realised discounted cost of each agent
    class_means: np.ndarray  # [T+1, C, n] (or [replicas, T+1, C, n])
    path: np.ndarray | None  # [T+1, N, n] with keep_path
    types: np.ndarray  # [N] class of each agent (agents ordered by class)


def deviation(best: BestResponse, agent: int, types: np.ndarray) -> Deviation:
    """The best response of ``agent``'s class as a ``Deviation`` of that agent."""
    c = int(types[agent])
    return Deviation(int(agent), best.K[c], best.k[c])


def _sqrt_psd(mats: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(mats)
    return np.einsum("cij,cj,ckj->cik", vecs, np.sqrt(np.maximum(vals, 0.0)), vecs)


def _run(g, roots, types, counts, policy, x0, xs, beta, dev, keyed, keep):
    C = g["A"].shape[0]
    share = counts / counts.sum()
    K, L, k = (jnp.swapaxes(a, 0, 1) for a in policy)  # [T, C, ...]
    horizon = K.shape[0]
    y = jnp.swapaxes(g["reference"], 0, 1)  # [T+1, C, n]
    A, B, Q, Qbar, R = (g[name][types] for name in ("A", "B", "Q", "Qbar", "R"))
    noise_root = roots[types]

    def class_means(x):
        return jax.ops.segment_sum(x, types, num_segments=C) / counts[:, None]

    def state_cost(x, means, t):
        xbar = share @ means
        target = jnp.einsum("cij,j->ci", g["Gamma"], xbar) + g["eta"]
        d = x - y[t][types]
        e = x - target[types]
        return jnp.einsum("ni,nij,nj->n", d, Q, d) + jnp.einsum("ni,nij,nj->n", e, Qbar, e)

    def step(carry, inputs):
        x, cost = carry
        t, given = inputs if not keyed else (inputs, None)
        means = class_means(x)
        flat = means.reshape(-1)
        u = -(jnp.einsum("nmk,nk->nm", K[t][types], x) + L[t][types] @ flat + k[t][types])
        i, dK, dk = dev  # without a deviation: agent 0 on its own policy (one program either way)
        u = u.at[i].set(-(dK[t] @ jnp.concatenate([x[i], flat]) + dk[t]))
        stage = state_cost(x, means, t) + jnp.einsum("nm,nmk,nk->n", u, R, u)
        if keyed:  # standard normals drawn in float32 (half the compile time), used in float64
            z = jax.random.normal(jax.random.fold_in(xs, t), x.shape, jnp.float32)
            w = jnp.einsum("nij,nj->ni", noise_root, z.astype(x.dtype))
        else:
            w = given
        new = jnp.einsum("nij,nj->ni", A, x) + jnp.einsum("nim,nm->ni", B, u) + w
        return (new, cost + beta**t * stage), ((x, means) if keep else means)

    steps = jnp.arange(horizon)
    inputs = steps if keyed else (steps, xs)  # xs: a key (keyed) or the noise [T, N, n]
    (x, cost), ys = jax.lax.scan(step, (x0, jnp.zeros(x0.shape[0], x0.dtype)), inputs)
    last = class_means(x)
    cost = cost + beta**horizon * state_cost(x, last, horizon)
    if keep:
        path = jnp.concatenate([ys[0], x[None]])
        return cost, jnp.concatenate([ys[1], last[None]]), path
    return cost, jnp.concatenate([ys, last[None]]), None


def _draw_and_run(g, roots, types, counts, policy, key, beta, dev, keep):
    key_x0, key_w = jax.random.split(key)
    n = g["A"].shape[1]
    z = jax.random.normal(key_x0, (types.shape[0], n), jnp.float32).astype(g["A"].dtype)
    x0 = g["x0"][types] + jnp.einsum("nij,nj->ni", roots[1][types], z)
    return _run(g, roots[0], types, counts, policy, x0, key_w, beta, dev, True, keep)


_keyed_jit = xla_options.jit(_draw_and_run, static_argnames=("keep",))
_replicas_jit = xla_options.jit(
    jax.vmap(
        lambda g, roots, types, counts, policy, key, beta, dev: _draw_and_run(
            g, roots, types, counts, policy, key, beta, dev, False
        ),
        in_axes=(None, None, None, None, None, 0, None, None),
    )
)
_given_jit = xla_options.jit(
    lambda g, roots, types, counts, policy, x0, noise, beta, dev: _run(
        g, roots, types, counts, policy, x0, noise, beta, dev, False, True
    )
)


def simulate(
    game: LQGame,
    counts,
    policy: Policy,
    key: jax.Array | None = None,
    *,
    x0: np.typing.ArrayLike | None = None,
    noise: np.typing.ArrayLike | None = None,
    deviation: Deviation | None = None,
    replicas: int | None = None,
    keep_path: bool = False,
) -> Simulation:
    """Simulate Σ counts agents (ordered by class) under ``policy`` for the game's horizon.

    Args:
      key: draws x_0 ~ N(x0_c, x0_cov_c) and w_t ~ N(0, noise_c) (unless given below).
      x0: explicit initial states [N, n] instead of draws (given together with ``noise``;
        the path is kept).
      noise: explicit noise [T, N, n] instead of draws (given together with ``x0``).
      deviation: one agent plays its own policy instead (``deviation(best_response(...), i, types)``).
      replicas: independent replications (vmapped over keys): cost [replicas, N].
      keep_path: also return every agent's state [T+1, N, n].
    """
    _finite(game)
    counts = check_counts(game, counts)
    policy = check_policy(game, policy)
    types = np.repeat(np.arange(game.classes), counts)
    N, T, n = types.size, game.horizon, game.n
    explicit = x0 is not None or noise is not None
    if explicit and (x0 is None or noise is None or replicas is not None):
        raise ValueError("x0, noise: give both (and no replicas), or neither and a key")
    if not explicit and key is None:
        raise ValueError("key: needed to draw the initial states and the noise")
    if replicas is not None and (
        isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1
    ):
        raise ValueError(f"replicas: must be an integer >= 1, got {replicas!r}")
    if replicas is not None and keep_path:
        raise ValueError("keep_path: not available with replicas")
    if deviation is not None:
        C, m = game.classes, game.m
        if not 0 <= deviation.agent < N:
            raise ValueError(f"deviation.agent: must be in [0, {N}), got {deviation.agent}")
        if np.shape(deviation.K) != (T, m, (C + 1) * n) or np.shape(deviation.k) != (T, m):
            raise ValueError(f"deviation: K must be [{T}, {m}, {(C + 1) * n}] and k [{T}, {m}]")
    with jax.enable_x64(True):
        g = arrays(game)
        roots = (jnp.asarray(_sqrt_psd(game.noise)), jnp.asarray(_sqrt_psd(game.x0_cov)))
        jpolicy = Policy(*map(jnp.asarray, policy))
        if deviation is None:
            own = np.concatenate([policy.K[0], policy.L[0]], axis=2)
            deviation = Deviation(0, own, policy.k[0])
        dev = (
            jnp.int32(deviation.agent),
            jnp.asarray(deviation.K, jnp.float64),
            jnp.asarray(deviation.k, jnp.float64),
        )
        args = (g, roots, jnp.asarray(types), jnp.asarray(counts, jnp.float64), jpolicy)
        beta = jnp.float64(game.discount)
        if explicit:
            x0 = np.asarray(x0, np.float64)
            noise = np.asarray(noise, np.float64)
            if x0.shape != (N, n) or noise.shape != (T, N, n):
                raise ValueError(
                    f"x0, noise: must be [{N}, {n}] and [{T}, {N}, {n}], got "
                    f"{x0.shape} and {noise.shape}"
                )
            out = _given_jit(g, roots[0], *args[2:], jnp.asarray(x0), jnp.asarray(noise), beta, dev)
        elif replicas is not None:
            keys = jax.random.split(key, replicas)
            out = _replicas_jit(*args, keys, beta, dev)
        else:
            out = _keyed_jit(*args, key, beta, dev, keep=keep_path)
        cost, means, path = jax.device_get(out)
    return Simulation(cost, means, path, types)

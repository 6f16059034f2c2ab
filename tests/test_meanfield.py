"""gtgen.mechanisms.meanfield against independent oracles: numpy re-derivations, scipy, brute force.

The games here share one shape (3 classes, n = 2, m = 1, T = 30) with the experiment's small
configuration, so that every compiled program is built once per test session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import scipy.linalg

import gtgen
from gtgen.mechanisms import meanfield as mf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ of the checkout

from benchmarks import meanfield_cases
from benchmarks.reference import meanfield_loop

T = 30
SHARES = (0.5, 0.3, 0.2)


@pytest.fixture(scope="module")
def game() -> mf.LQGame:
    return mf.random_game(
        seed=1, classes=3, n=2, m=1, horizon=T, coupling=1.0, discount=0.95
    ).replace(weights=np.array(SHARES))


@pytest.fixture(scope="module")
def eq(game) -> mf.Equilibrium:
    return mf.solve(game)


# --- numpy oracles ---------------------------------------------------------------------------


def np_riccati(A, B, Qe, R, beta, horizon):
    """The textbook form P = Q + βAᵀPA − β²AᵀPB(R + βBᵀPB)⁻¹BᵀPA (not the library's Joseph form)."""
    P = [None] * (horizon + 1)
    K, G = [None] * horizon, [None] * horizon
    P[horizon] = Qe
    for t in reversed(range(horizon)):
        Pn = P[t + 1]
        G[t] = R + beta * B.T @ Pn @ B
        K[t] = beta * np.linalg.solve(G[t], B.T @ Pn @ A)
        P[t] = (
            Qe + beta * A.T @ Pn @ A - beta**2 * A.T @ Pn @ B @ np.linalg.solve(G[t], B.T @ Pn @ A)
        )
    return np.array(P), np.array(K), np.array(G)


def np_linear_term(game, X, c, t):
    xbar = sum(game.weights[d] * X[d, t] for d in range(game.classes))
    y = game.targets()[c, t]
    return game.Q[c] @ y + game.Qbar[c] @ (game.Gamma[c] @ xbar + game.eta[c])


def recursion_violation(game, eq) -> float:
    """max violation of s_T = −q_T, s_t = β F_tᵀ s_{t+1} − q_t, k_t = β G⁻¹Bᵀ s_{t+1},
    x̄_{t+1} = F_t x̄_t − B k_t, x̄_0 = x0, with P, K recomputed here."""
    beta, worst = game.discount, 0.0
    for c in range(game.classes):
        A, B = game.A[c], game.B[c]
        _, K, G = np_riccati(A, B, game.Q[c] + game.Qbar[c], game.R[c], beta, game.horizon)
        s, k, X = eq.s[c], eq.k[c], eq.mean
        worst = max(
            worst,
            np.abs(s[-1] + np_linear_term(game, X, c, game.horizon)).max(),
            np.abs(X[c, 0] - game.x0[c]).max(),
        )
        for t in range(game.horizon):
            F = A - B @ K[t]
            worst = max(
                worst,
                np.abs(s[t] - (beta * F.T @ s[t + 1] - np_linear_term(game, X, c, t))).max(),
                np.abs(k[t] - beta * np.linalg.solve(G[t], B.T @ s[t + 1])).max(),
                np.abs(X[c, t + 1] - (F @ X[c, t] - B @ k[t])).max(),
            )
    return float(worst)


def dense_boundary_solve(game):
    """The two-point boundary problem as one dense numpy system in (s_{c,t}, x̄_{c,t})."""
    C, n, T, beta = game.classes, game.n, game.horizon, game.discount
    size = C * (T + 1) * n

    def s_idx(c, t):
        return slice((c * (T + 1) + t) * n, (c * (T + 1) + t + 1) * n)

    def x_idx(c, t):
        return slice(size + (c * (T + 1) + t) * n, size + (c * (T + 1) + t + 1) * n)

    M, rhs = np.zeros((2 * size, 2 * size)), np.zeros(2 * size)
    row = 0
    for c in range(C):
        A, B = game.A[c], game.B[c]
        _, K, G = np_riccati(A, B, game.Q[c] + game.Qbar[c], game.R[c], beta, T)
        QG = game.Qbar[c] @ game.Gamma[c]
        const = game.Q[c] @ game.targets()[c].T + (game.Qbar[c] @ game.eta[c])[:, None]
        for t in range(T + 1):  # s_t + q_t(x̄) − β F_tᵀ s_{t+1} = 0, q linear in every class mean
            r = slice(row, row + n)
            M[r, s_idx(c, t)] += np.eye(n)
            if t < T:
                M[r, s_idx(c, t + 1)] -= beta * (A - B @ K[t]).T
            for d in range(C):
                M[r, x_idx(d, t)] += game.weights[d] * QG
            rhs[r] = -const[:, t]
            row += n
        r = slice(row, row + n)
        M[r, x_idx(c, 0)] = np.eye(n)
        rhs[r] = game.x0[c]
        row += n
        for t in range(T):  # x̄_{t+1} − F x̄_t + β B G⁻¹ Bᵀ s_{t+1} = 0
            r = slice(row, row + n)
            M[r, x_idx(c, t + 1)] += np.eye(n)
            M[r, x_idx(c, t)] -= A - B @ K[t]
            M[r, s_idx(c, t + 1)] += beta * B @ np.linalg.solve(G[t], B.T)
            row += n
    z = np.linalg.solve(M, rhs)
    return z[:size].reshape(C, T + 1, n), z[size:].reshape(C, T + 1, n)


def joint_game(game, counts, policy):
    """The N-player game on the joint state X = (x^1, …, x^N), numpy: per-agent selectors, the
    joint dynamics, each agent's cost matrices, and every agent's gains under ``policy``."""
    types = np.repeat(np.arange(game.classes), counts)
    N, n, C = len(types), game.n, game.classes
    S = [np.kron(np.eye(N)[i][None], np.eye(n)) for i in range(N)]  # x^i = S_i X
    mean = sum(S) / N
    cls = [sum(S[j] for j in range(N) if types[j] == d) / counts[d] for d in range(C)]
    Aj = scipy.linalg.block_diag(*[game.A[c] for c in types])
    Bs = [np.kron(np.eye(N)[:, [i]], np.eye(n)) @ game.B[types[i]] for i in range(N)]
    M = np.vstack(cls)  # the stacked class means, [C n, N n]
    gains = [
        [policy.K[types[i], t] @ S[i] + policy.L[types[i], t] @ M for t in range(game.horizon)]
        for i in range(N)
    ]
    offsets = [[policy.k[types[i], t] for t in range(game.horizon)] for i in range(N)]
    costs = []
    for i in range(N):
        c = types[i]
        D = S[i] - game.Gamma[c] @ mean
        Qi = S[i].T @ game.Q[c] @ S[i] + D.T @ game.Qbar[c] @ D
        qi = [
            S[i].T @ game.Q[c] @ game.targets()[c, t] + D.T @ game.Qbar[c] @ game.eta[c]
            for t in range(game.horizon + 1)
        ]
        c0 = [
            game.targets()[c, t] @ game.Q[c] @ game.targets()[c, t]
            + game.eta[c] @ game.Qbar[c] @ game.eta[c]
            for t in range(game.horizon + 1)
        ]
        costs.append((Qi, qi, c0))
    W = scipy.linalg.block_diag(*[game.noise[c] for c in types])
    x0 = np.concatenate([game.x0[c] for c in types])
    cov0 = scipy.linalg.block_diag(*[game.x0_cov[c] for c in types])
    return types, Aj, Bs, costs, gains, offsets, W, x0, cov0


def np_single_agent(game, joint, i, optimise):
    """Agent i's cost (and gains) on the joint state while the others keep their gains: the
    policy's cost (optimise False) or its best response by a plain Riccati recursion."""
    types, Aj, Bs, costs, gains, offsets, W, x0, cov0 = joint
    beta, R = game.discount, game.R[types[i]]
    Qi, qi, c0 = costs[i]
    P, s, r = Qi, -qi[-1], c0[-1]
    out_K = []
    for t in reversed(range(game.horizon)):
        A = Aj - sum(Bs[j] @ gains[j][t] for j in range(len(types)) if j != i)
        c = -sum(Bs[j] @ offsets[j][t] for j in range(len(types)) if j != i)
        B = Bs[i]
        if optimise:
            G = R + beta * B.T @ P @ B
            K = beta * np.linalg.solve(G, B.T @ P @ A)
            k = beta * np.linalg.solve(G, B.T @ (P @ c + s))
        else:
            K, k = gains[i][t], offsets[i][t]
        Acl, ccl = A - B @ K, c - B @ k
        r = c0[t] + k @ R @ k + beta * (ccl @ P @ ccl + 2 * s @ ccl + np.trace(P @ W) + r)
        s = -qi[t] + K.T @ R @ k + beta * Acl.T @ (P @ ccl + s)
        P = Qi + K.T @ R @ K + beta * Acl.T @ P @ Acl
        out_K.append((K, k))
    cost = np.trace(P @ cov0) + x0 @ P @ x0 + 2 * s @ x0 + r
    return cost, out_K[::-1]


# --- the decentralised equilibrium -----------------------------------------------------------


def test_both_solvers_satisfy_both_recursions(game, eq) -> None:
    damped = mf.solve(game, "damped", damping=0.7)
    assert damped.iterations > 1 and eq.iterations == 1
    for solution in (eq, damped):
        assert recursion_violation(game, solution) < 1e-8
        assert max(mf.residuals(game, solution)) < 1e-8
    np.testing.assert_allclose(damped.mean, eq.mean, atol=1e-10)
    np.testing.assert_allclose(damped.k, eq.k, atol=1e-10)
    P, K, _ = np_riccati(game.A[1], game.B[1], game.Q[1] + game.Qbar[1], game.R[1], 0.95, T)
    np.testing.assert_allclose(eq.P[1], P, rtol=1e-10)
    np.testing.assert_allclose(eq.K[1], K, rtol=1e-10, atol=1e-12)


def test_boundary_solve_equals_dense_numpy_system(game, eq) -> None:
    s, X = dense_boundary_solve(game)
    np.testing.assert_allclose(eq.mean, X, atol=1e-9)
    np.testing.assert_allclose(eq.s, s, atol=1e-9)
    np.testing.assert_allclose(
        eq.population_mean, np.einsum("c,ctn->tn", game.weights, X), atol=1e-9
    )


def test_feedback_form_reproduces_the_equilibrium_path(game, eq) -> None:
    X = eq.mean.transpose(1, 0, 2).reshape(T + 1, -1)
    k = np.einsum("ctmk,tk->ctm", eq.feedback.L, X[:-1]) + eq.feedback.k
    np.testing.assert_allclose(k, eq.k, atol=1e-10)
    assert np.abs(eq.feedback.L).max() > 1e-3  # the feedback form does react to the mean field
    open_loop = mf.decentralised_policy(eq, feedback=False)
    assert np.all(open_loop.L == 0) and np.array_equal(open_loop.k, eq.k)


def test_no_coupling_is_plain_lqr_against_brute_force(game) -> None:
    """Q̄ = 0: the equilibrium policy is the tracking LQR of each class; along the noise-free path
    its controls minimise the whole open-loop cost (normal equations over u_0 … u_{T−1})."""
    plain = game.replace(Qbar=0.0)
    sol = mf.solve(plain)
    beta = plain.discount
    for c in range(plain.classes):
        A, B, Q, R = plain.A[c], plain.B[c], plain.Q[c], plain.R[c]
        y = plain.targets()[c]
        n, m = A.shape[0], B.shape[1]
        # x_t = A^t x0 + Σ_{s<t} A^{t−1−s} B u_s, stacked over t = 0 … T
        Phi = np.zeros(((T + 1) * n, T * m))
        free = np.zeros((T + 1) * n)
        for t in range(T + 1):
            free[t * n : (t + 1) * n] = np.linalg.matrix_power(A, t) @ plain.x0[c]
            for s_ in range(t):
                Phi[t * n : (t + 1) * n, s_ * m : (s_ + 1) * m] = (
                    np.linalg.matrix_power(A, t - 1 - s_) @ B
                )
        Wx = scipy.linalg.block_diag(*[beta**t * Q for t in range(T + 1)])
        Wu = scipy.linalg.block_diag(*[beta**t * R for t in range(T)])
        u = np.linalg.solve(Phi.T @ Wx @ Phi + Wu, Phi.T @ Wx @ (y.reshape(-1) - free))
        x = (free + Phi @ u).reshape(T + 1, n)
        mine = -np.einsum("tmn,tn->tm", sol.K[c], x[:-1]) - sol.k[c]
        np.testing.assert_allclose(mine.reshape(-1), u, atol=1e-8)


def test_stationary_riccati_equals_scipy_and_stationary_fixed_point() -> None:
    game = mf.random_game(seed=2, classes=3, n=2, m=1, horizon=None, coupling=1.0, discount=0.9)
    sol = mf.solve(game)
    damped = mf.solve(game, "damped", damping=0.5)
    beta = np.sqrt(0.9)
    for c in range(3):
        Qe = game.Q[c] + game.Qbar[c]
        P = scipy.linalg.solve_discrete_are(beta * game.A[c], beta * game.B[c], Qe, game.R[c])
        np.testing.assert_allclose(sol.P[c], P, rtol=1e-9, atol=1e-11)
        B, A = game.B[c], game.A[c]
        K = 0.9 * np.linalg.solve(game.R[c] + 0.9 * B.T @ P @ B, B.T @ P @ A)
        np.testing.assert_allclose(sol.K[c], K, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(damped.mean, sol.mean, atol=1e-10)
    xbar = game.weights @ sol.mean
    for c in range(3):  # s = β Fᵀ s − q(x̄), x̄_c = F x̄_c − B k
        F = game.A[c] - game.B[c] @ sol.K[c]
        q = game.Q[c] @ game.reference[c, 0] + game.Qbar[c] @ (game.Gamma[c] @ xbar + game.eta[c])
        np.testing.assert_allclose(sol.s[c], 0.9 * F.T @ sol.s[c] - q, atol=1e-9)
        np.testing.assert_allclose(sol.mean[c], F @ sol.mean[c] - game.B[c] @ sol.k[c], atol=1e-9)
    # Q̄ = 0 is plain discounted LQR: the gain is scipy's
    plain = mf.solve(game.replace(Qbar=0.0))
    P = scipy.linalg.solve_discrete_are(beta * game.A[0], beta * game.B[0], game.Q[0], game.R[0])
    K = 0.9 * np.linalg.solve(
        game.R[0] + 0.9 * game.B[0].T @ P @ game.B[0], game.B[0].T @ P @ game.A[0]
    )
    np.testing.assert_allclose(plain.K[0], K, rtol=1e-9, atol=1e-11)


# --- the N-player game -----------------------------------------------------------------------


def test_reduced_nash_equals_coupled_riccati(game) -> None:
    counts = mf.population(game, 5)
    reduced = mf.nash(game, counts)
    coupled = mf.nash_coupled(game, counts)
    types, n = coupled.types, game.n
    np.testing.assert_allclose(coupled.cost, reduced.cost[types], rtol=1e-10)
    K, L = reduced.policy.K, reduced.policy.L
    for i, c in enumerate(types):
        for j, d in enumerate(types):
            block = coupled.K[:, i, j * n : (j + 1) * n]  # m = 1: row i of the joint gain
            want = L[c][:, 0, d * n : (d + 1) * n] / counts[d]
            if i == j:
                want = want + K[c][:, 0]
            np.testing.assert_allclose(block, want, atol=1e-10)
        np.testing.assert_allclose(coupled.k[:, i], reduced.policy.k[c][:, 0], atol=1e-10)


def test_coupled_riccati_equals_direct_numpy_solve(game) -> None:
    """The coupled equations solved stage by stage in numpy, player pair by player pair; then
    every player's best response (a plain Riccati recursion) returns its own Nash gains."""
    counts = mf.population(game, 5)
    coupled = mf.nash_coupled(game, counts)
    policy = mf.Policy(np.zeros((3, T, 1, 2)), np.zeros((3, T, 1, 6)), np.zeros((3, T, 1)))
    types, Aj, Bs, costs, _, _, W, x0, cov0 = joint_game(game, counts, policy)
    N, beta = len(types), game.discount
    P = [c[0] for c in costs]
    s = [-c[1][-1] for c in costs]
    r = [c[2][-1] for c in costs]
    for t in reversed(range(T)):
        Phi = np.block(
            [
                [
                    (game.R[types[i]] if i == j else 0) + beta * Bs[i].T @ P[i] @ Bs[j]
                    for j in range(N)
                ]
                for i in range(N)
            ]
        )
        Psi = np.vstack([beta * Bs[i].T @ P[i] @ Aj for i in range(N)])
        rhs = np.concatenate([beta * Bs[i].T @ s[i] for i in range(N)])
        K, k = np.linalg.solve(Phi, Psi), np.linalg.solve(Phi, rhs)
        np.testing.assert_allclose(coupled.K[t], K, atol=1e-10)
        np.testing.assert_allclose(coupled.k[t], k, atol=1e-10)
        F = Aj - sum(Bs[j] @ K[j : j + 1] for j in range(N))
        c = -sum(Bs[j] @ k[j : j + 1] for j in range(N))
        for i in range(N):
            Qi, qi, c0 = costs[i]
            R = game.R[types[i]]
            Ki, ki = K[i : i + 1], k[i : i + 1]
            r[i] = (
                c0[t]
                + ki @ R @ ki
                + beta * (c @ P[i] @ c + 2 * s[i] @ c + np.trace(P[i] @ W) + r[i])
            )
            s[i] = -qi[t] + Ki.T @ R @ ki + beta * F.T @ (P[i] @ c + s[i])
            P[i] = Qi + Ki.T @ R @ Ki + beta * F.T @ P[i] @ F
    cost = [np.trace(P[i] @ cov0) + x0 @ P[i] @ x0 + 2 * s[i] @ x0 + r[i] for i in range(N)]
    np.testing.assert_allclose(coupled.cost, cost, rtol=1e-10)
    # Nash: each player's best response to the others' equilibrium gains is its own
    nash = mf.nash(game, counts).policy
    joint = joint_game(game, counts, nash)
    for i in (0, N - 1):
        best, gains = np_single_agent(game, joint, i, optimise=True)
        np.testing.assert_allclose(best, coupled.cost[i], rtol=1e-10)
        np.testing.assert_allclose(
            np.array([g[0] for g in gains])[:, 0], coupled.K[:, i], atol=1e-9
        )


@pytest.mark.parametrize("feedback", [False, True])
def test_best_response_and_evaluation_equal_the_joint_state_oracle(game, eq, feedback) -> None:
    """The reduced (x^i, M) system against the unreduced N-player game in numpy."""
    counts = mf.population(game, 5)
    policy = mf.decentralised_policy(eq, feedback=feedback)
    joint = joint_game(game, counts, policy)
    a = mf.assess(game, counts, policy)
    for i in (0, 4):
        c = joint[0][i]
        cost, _ = np_single_agent(game, joint, i, optimise=False)
        best, _ = np_single_agent(game, joint, i, optimise=True)
        np.testing.assert_allclose(a.cost[c], cost, rtol=1e-10)
        np.testing.assert_allclose(a.best_response_cost[c], best, rtol=1e-10)
    assert a.underperformer_regret == pytest.approx(a.regret.max()) and a.regret.max() > 1e-6
    assert a.worst_cost == pytest.approx(a.cost.max())
    assert a.mean_cost == pytest.approx(counts @ a.cost / counts.sum())


def test_epsilon_nash_by_monte_carlo(game, eq) -> None:
    """The exact ε (LQ best response) against simulation on common random numbers."""
    counts = mf.population(game, 5)
    policy = mf.decentralised_policy(eq, feedback=False)
    a = mf.assess(game, counts, policy)
    best = mf.best_response(game, counts, policy)
    key = jax.random.key(3)
    reps = 3000
    base = mf.simulate(game, counts, policy, key, replicas=reps)
    types = base.types
    for c in range(3):  # each class's expected cost: within 4 standard errors
        cost = base.cost[:, types == c].mean(axis=1)
        assert abs(cost.mean() - a.cost[c]) < 4 * cost.std() / np.sqrt(reps)
    agent = int(np.flatnonzero(types == 1)[0])
    moved = mf.simulate(
        game, counts, policy, key, replicas=reps, deviation=mf.deviation(best, agent, types)
    )
    gain = base.cost[:, agent] - moved.cost[:, agent]
    se = gain.std() / np.sqrt(reps)
    assert abs(gain.mean() - a.regret[1]) < 4 * se and se < 0.3 * a.regret[1]


def test_gap_to_centralised_shrinks_with_population(game, eq) -> None:
    sizes = (10, 100, 1000, 10_000)
    pops = np.stack([mf.population(game, n) for n in sizes])
    cen = mf.nash_many(game, pops)
    greedy = mf.greedy_policy(game)
    for feedback in (True, False):
        policy = mf.decentralised_policy(eq, feedback=feedback)
        gaps, eps = [], []
        for i, counts in enumerate(pops):
            a = mf.assess(game, counts, policy)
            gaps.append(np.max(np.abs(a.cost - cen[i].cost)))
            eps.append(a.underperformer_regret)
        assert np.polyfit(np.log(sizes), np.log(gaps), 1)[0] <= -0.5
        assert np.polyfit(np.log(sizes), np.log(eps), 1)[0] <= -0.5
    # the greedy baseline is not an equilibrium at any size: its regret does not vanish
    assert mf.assess(game, pops[-1], greedy).underperformer_regret > 100 * eps[-1]
    # and the large-population cost is the mean-field cost
    np.testing.assert_allclose(
        mf.evaluate(game, (np.array(SHARES) * 10**6).astype(int), mf.decentralised_policy(eq)),
        eq.cost,
        rtol=1e-4,
    )


def test_greedy_policy_minimises_the_next_stage_cost(game) -> None:
    """Brute force: the quadratic in u of the one-step cost, minimised by least squares."""
    policy = mf.greedy_policy(game)
    rng = np.random.default_rng(0)
    M = rng.standard_normal(game.classes * game.n)
    x = rng.standard_normal(game.n)
    xbar = sum(game.weights[d] * M[d * 2 : (d + 1) * 2] for d in range(3))
    t = 7
    for c in range(3):
        A, B, R = game.A[c], game.B[c], game.R[c]
        y, z = game.targets()[c, t + 1], game.Gamma[c] @ xbar + game.eta[c]
        # ‖Ax + Bu − y‖²_Q + ‖Ax + Bu − z‖²_Q̄ + ‖u‖²_R as a stacked least-squares problem
        rows = [scipy.linalg.sqrtm(game.Q[c]).real, scipy.linalg.sqrtm(game.Qbar[c]).real]
        lhs = np.vstack([rows[0] @ B, rows[1] @ B, scipy.linalg.sqrtm(R).real])
        rhs = np.concatenate([rows[0] @ (y - A @ x), rows[1] @ (z - A @ x), np.zeros(game.m)])
        u = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        mine = -(policy.K[c, t] @ x + policy.L[c, t] @ M + policy.k[c, t])
        np.testing.assert_allclose(mine, u, atol=1e-10)


def test_simulation_equals_per_agent_numpy_loop(game, eq) -> None:
    counts = mf.population(game, 30)
    policy = mf.decentralised_policy(eq)
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal((30, 2))
    noise = 0.1 * rng.standard_normal((T, 30, 2))
    mine = mf.simulate(game, counts, policy, x0=x0, noise=noise)
    np.testing.assert_allclose(
        mine.cost, meanfield_loop.simulate(game, counts, policy, x0, noise), rtol=1e-12
    )
    np.testing.assert_allclose(mine.path[0], x0)
    # noise-free, from the class means, the class means follow the mean-field path exactly
    x0 = np.repeat(game.x0, counts, axis=0)
    still = mf.simulate(game, counts, policy, x0=x0, noise=np.zeros((T, 30, 2)))
    np.testing.assert_allclose(still.class_means, eq.mean.transpose(1, 0, 2), atol=1e-10)


def test_benchmark_case_runs_tiny() -> None:
    out = meanfield_cases.meanfield_population(
        sizes={"agents": (30, 60), "loop_agents": 30, "repeats": 1, "horizon": T}
    )
    assert out["name"] == "meanfield-population"
    assert out["loop_agreement"] < 1e-10
    assert out["ratio_vs_loop"] > 0 and np.isfinite(out["time_exponent"])
    assert set(out["targets"]) == {"ratio_vs_loop", "time_exponent", "loop_agreement"}


# --- online weighting -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["uniform", "adversarial", "one good expert"])
def test_hedge_regret_under_its_bound(kind) -> None:
    rng = np.random.default_rng(5)
    Tn, K = 400, 16
    if kind == "uniform":
        losses = rng.uniform(size=(Tn, K))
    elif kind == "adversarial":  # the leader is punished every round
        losses = np.zeros((Tn, K))
        total = np.zeros(K)
        for t in range(Tn):
            losses[t, np.argmin(total + 1e-9 * np.arange(K))] = 1.0
            total += losses[t]
    else:
        losses = rng.uniform(0.3, 1.0, size=(Tn, K))
        losses[:, 3] = rng.uniform(0.0, 0.4, size=Tn)
    h = mf.hedge(losses)
    assert h.eta == pytest.approx(np.sqrt(8 * np.log(K) / Tn))
    assert h.bound == pytest.approx(np.sqrt(Tn / 2 * np.log(K)))
    # the weights are the exponential weights of the past losses (a direct loop)
    p = np.ones(K) / K
    past = np.zeros(K)
    for t in range(Tn):
        np.testing.assert_allclose(h.weights[t], p, atol=1e-12)
        past += losses[t]
        p = np.exp(-h.eta * (past - past.min()))
        p /= p.sum()
    regret = np.sum(h.weights * losses) - losses.sum(axis=0).min()
    assert h.regret == pytest.approx(regret) and regret <= h.bound
    if kind == "one good expert":
        assert h.best == 3 and h.weights[-1, 3] > 0.99


def test_mixture_regret_under_exp_concave_bound() -> None:
    rng = np.random.default_rng(6)
    Tn = 300
    y = 0.5 + 0.3 * np.sin(np.arange(Tn) / 7)
    forecasts = np.clip(y[:, None] + rng.normal(0, [0.02, 0.1, 0.2, 0.3], size=(Tn, 4)), 0, 1)
    mix = mf.mixture_forecast(forecasts, y)
    assert mix.regret <= mix.bound == pytest.approx(np.log(4) / 0.5)
    assert mix.best == 0 and mix.rmse < np.sqrt(np.mean((forecasts[:, 1] - y) ** 2))
    np.testing.assert_allclose(mix.prediction, np.sum(mix.weights * forecasts, axis=1))


# --- the exchange game -----------------------------------------------------------------------


def test_exchange_meanfield_equilibrium_is_order_one_over_n_from_nash() -> None:
    rng = np.random.default_rng(7)
    for n, a in ((7, 0.3), (50, 0.6)):
        own = rng.standard_normal((n, 3))
        exact = gtgen.nash_equilibrium(mf.exchange.uniform_alpha(n, a), own)
        mean_field = mf.exchange.meanfield_equilibrium(own, a)
        # the closed-form difference a(1 − a)/(N − a) (m_i − m̄)
        np.testing.assert_allclose(
            exact - mean_field, -a * (1 - a) / (n - a) * (own - own.mean(axis=0)), atol=1e-12
        )
        # and it is a fixed point of the mean-field best response
        np.testing.assert_allclose(mean_field, a * own + (1 - a) * mean_field.mean(axis=0))
    scaling = mf.exchange.distance_scaling([10, 100, 1000, 3000])
    np.testing.assert_allclose(scaling.distance, scaling.predicted, rtol=1e-8)
    assert scaling.slope <= -0.5
    # heterogeneous self-weights: μ̄ = Σ a m / Σ a keeps the population mean consistent
    a = rng.uniform(0.2, 0.9, 40)
    own = rng.standard_normal((40, 2))
    mu = mf.exchange.meanfield_equilibrium(own, a)
    np.testing.assert_allclose(mu, a[:, None] * own + (1 - a)[:, None] * (a @ own / a.sum()))


def test_sampled_exchange_at_scale_reaches_the_closed_form() -> None:
    run = mf.exchange.sampled_exchange(20_000, 0.5, rounds=10, samples=8)
    assert run.trace.shape == (10,) and np.all(np.isfinite(run.trace))
    assert run.distance < 5 * run.noise_scale + run.meanfield_bias
    assert run.meanfield_bias < 1e-3


# --- bad input --------------------------------------------------------------------------------

GOOD = {"A": np.eye(2), "B": np.ones((2, 1)), "Q": np.eye(2), "R": np.eye(1), "horizon": 5}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"A": np.ones((2, 3))}, "A:"),
        ({"A": np.ones(3)}, "A:"),
        ({"B": np.ones((3, 1))}, "B:"),
        ({"A": np.stack([np.eye(2)] * 2), "B": np.ones((3, 2, 1))}, "A:"),
        ({"Q": -np.eye(2)}, "Q:"),
        ({"Q": np.array([[1.0, 2.0], [0.0, 1.0]])}, "Q:"),
        ({"Q": np.eye(3)}, "Q:"),
        ({"R": np.zeros((1, 1))}, "R:"),
        ({"R": -1.0}, "R:"),
        ({"R": np.eye(2)}, "R:"),
        ({"Qbar": np.diag([1.0, -0.5])}, "Qbar:"),
        ({"noise": -np.eye(2)}, "noise:"),
        ({"horizon": 0}, "horizon:"),
        ({"horizon": -3}, "horizon:"),
        ({"horizon": 2.5}, "horizon:"),
        (
            {"horizon": None, "discount": 0.9, "A": 2 * np.eye(2), "B": np.array([[1.0], [0.0]])},
            "A, B:",
        ),
        ({"horizon": None}, "discount:"),
        (
            {
                "horizon": None,
                "discount": 0.9,
                "Q": np.diag([1.0, 0.0]),
                "A": np.diag([0.5, 3.0]),
                "B": np.array([[1.0], [1.0]]),
            },
            "Q:",
        ),
        ({"discount": 0.0}, "discount:"),
        ({"weights": [0.5, 0.6]}, "weights:"),
        ({"reference": np.zeros((4, 2))}, "reference:"),
        ({"eta": np.zeros(3)}, "eta:"),
        ({"A": np.array([[np.nan, 0.0], [0.0, 1.0]])}, "A:"),
        ({"x0_cov": np.array([[1.0, 0.0], [0.0, -1.0]])}, "x0_cov:"),
    ],
)
def test_bad_game_names_the_field(change, field) -> None:
    with pytest.raises(ValueError) as err:
        mf.lq_game(**(GOOD | change))
    assert str(err.value).startswith(field), str(err.value)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda g, p: mf.solve(g, "newton"), "method:"),
        (lambda g, p: mf.solve(g, damping=1.5), "damping:"),
        (lambda g, p: mf.nash(g, [1, 2]), "counts:"),
        (lambda g, p: mf.nash(g, [1, 0, 2]), "counts:"),
        (lambda g, p: mf.nash_coupled(g, [100, 100, 100]), "counts:"),
        (lambda g, p: mf.evaluate(g, [1, 1, 1], p._replace(K=p.K[:, :3])), "policy.K:"),
        (lambda g, p: mf.simulate(g, [1, 1, 1], p), "key:"),
        (lambda g, p: mf.hedge(np.full((3, 2), 2.0)), "losses:"),
        (lambda g, p: mf.mixture_forecast(np.zeros((3, 2)), np.full(3, 2.0)), "targets:"),
        (lambda g, p: mf.exchange.meanfield_equilibrium(np.zeros((4, 2)), 0.0), "a:"),
        (lambda g, p: mf.exchange.sampled_exchange(1), "players:"),
        (lambda g, p: mf.population(g, 2), "players:"),
    ],
)
def test_bad_arguments_name_the_field(game, eq, call, field) -> None:
    with pytest.raises(ValueError) as err:
        call(game, mf.decentralised_policy(eq))
    assert str(err.value).startswith(field), str(err.value)

"""The N-player game: centralised Nash policies, best responses, ε-Nash and the worst client.

In the N-player game agent i's mean field is the empirical x̄_t = (1/N) Σ_j x^j_t, the agent
itself included. Policies are symmetric within a class and affine in the agent's own state and
the stacked class means M_t (``Policy``). Then an agent of class c faces a small controlled
Markov system in z = (x^i, M^1, …, M^C) ∈ R^{(C+1)n} whatever N is: the others' policies are
fixed, its own control moves x^i and (by 1/N_c) M^c, and its cost depends on x^i and
x̄ = Σ_d (N_d/N) M^d. Exactly, for every N:

- ``evaluate``: the expected cost of each class under a policy (policy evaluation in z);
- ``best_response``: the best deviation of one agent while the others keep the policy (a
  Riccati recursion in z) — the LQ best response of the ε-Nash gap;
- ``nash``: the centralised Nash policy. The feedback Nash equilibrium of N exchangeable agents
  is symmetric within classes (it is unique, and the game is invariant under permuting a class),
  so it lies in the class of ``Policy``; stage by stage, the coupled first-order conditions of
  all classes are linear in (K, L, k) and solved as one linear system.
- ``nash_coupled``: the same equilibrium from the N coupled Riccati equations on the joint
  state X ∈ R^{N·n} (Başar & Olsder), for small N and any per-agent assignment — the
  unreduced statement the reduction is checked against.
- ``assess``: per class the cost, the best-response cost and the regret; the under-performer
  regret max_c (J_c − inf_v J_c) is the policy's ε-Nash gap, reported beside the mean and the
  worst class's cost (the worst-client criterion).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options
from gtgen.mechanisms.meanfield import riccati as ric
from gtgen.mechanisms.meanfield.equilibrium import Policy, arrays, block_diag
from gtgen.mechanisms.meanfield.game import LQGame, check_counts

COUPLED_MAX_STATE = 256  # N·n up to which nash_coupled builds the joint state


class BestResponse(NamedTuple):
    """One agent's best deviation: v = −K z − k with z = (x^i, M^1, …, M^C)."""

    K: np.ndarray  # [C, T, m, (C+1)·n]
    k: np.ndarray  # [C, T, m]
    cost: np.ndarray  # [C] its expected cost


class Nash(NamedTuple):
    policy: Policy  # the centralised (N-player Nash) policy
    cost: np.ndarray  # [C] expected cost of an agent of each class


class CoupledNash(NamedTuple):
    """The N-player Nash policy on the joint state: u = −K_t X_t − k_t, X = (x^1, …, x^N)."""

    K: np.ndarray  # [T, N·m, N·n]
    k: np.ndarray  # [T, N·m]
    cost: np.ndarray  # [N]
    types: np.ndarray  # [N] class of each agent


class Assessment(NamedTuple):
    cost: np.ndarray  # [C] expected cost per class under the policy
    best_response_cost: np.ndarray  # [C] inf over one agent's deviations, others on the policy
    regret: np.ndarray  # [C] cost − best_response_cost ≥ 0
    mean_cost: float  # population mean Σ_c (N_c/N) J_c
    worst_cost: float  # max_c J_c
    underperformer_regret: float  # max_c regret: the ε of the ε-Nash equilibrium


# --- the reduced system of one agent --------------------------------------------------------


def _pick(onehot, x):
    return jnp.tensordot(onehot, x, axes=1)


def _embed(onehot, n, dtype):
    """E_c [C·n, n]: puts a vector into the block of class c."""
    return (onehot[:, None, None] * jnp.eye(n, dtype=dtype)[None]).reshape(-1, n)


def _agent_cov(onehot, counts, cov):
    """Covariance of (x^i, M^1, …, M^C) when every agent draws i.i.d. from its class's ``cov``."""
    n = cov.shape[-1]
    E = _embed(onehot, n, cov.dtype)
    own = _pick(onehot, cov)
    cross = E @ own / _pick(onehot, counts)
    means = block_diag(cov / counts[:, None, None])
    return jnp.block([[own, cross.T], [cross, means]])


def _stage(g, counts, onehot):
    """z-form stage cost of class c: Q_z [(C+1)n]², q_z [T+1, (C+1)n], c0 [T+1]."""
    n, C = g["A"].shape[1], g["A"].shape[0]
    share = counts / counts.sum()
    ex = jnp.concatenate([jnp.eye(n), jnp.zeros((n, C * n))], axis=1)
    emf = jnp.concatenate([jnp.zeros((n, n))] + [share[d] * jnp.eye(n) for d in range(C)], axis=1)
    Q, Qbar = _pick(onehot, g["Q"]), _pick(onehot, g["Qbar"])
    D = ex - _pick(onehot, g["Gamma"]) @ emf
    eta, y = _pick(onehot, g["eta"]), _pick(onehot, g["reference"])
    Qz = ex.T @ Q @ ex + D.T @ Qbar @ D
    qz = (y @ Q) @ ex + (D.T @ Qbar @ eta)[None]
    c0 = jnp.einsum("ti,ij,tj->t", y, Q, y) + eta @ Qbar @ eta
    return Qz, qz, c0


def _dynamics(g, counts, onehot, K, L, k):
    """z' = A_z z + B_z v + c_z + ξ for an agent of class c while every other agent plays the
    time-t profile (K [C, m, n], L [C, m, C·n], k [C, m])."""
    A, B = g["A"], g["B"]
    C, n = A.shape[0], A.shape[1]
    Nc = _pick(onehot, counts)
    E = _embed(onehot, n, A.dtype)
    A_c, B_c = _pick(onehot, A), _pick(onehot, B)
    K_c, L_c, k_c = _pick(onehot, K), _pick(onehot, L), _pick(onehot, k)
    means = block_diag(A - B @ K) - jnp.einsum("dnm,dmk->dnk", B, L).reshape(C * n, C * n)
    EB = E @ B_c / Nc
    A_z = jnp.block([[A_c, jnp.zeros((n, C * n), A.dtype)], [EB @ K_c, means + EB @ L_c]])
    B_z = jnp.concatenate([B_c, EB])
    c_z = jnp.concatenate(
        [jnp.zeros(n, A.dtype), -jnp.einsum("dnm,dm->dn", B, k).reshape(-1) + EB @ k_c]
    )
    return A_z, B_z, c_z


def _initial(g, counts, onehot):
    mean = jnp.concatenate([_pick(onehot, g["x0"]), g["x0"].reshape(-1)])
    return mean, _agent_cov(onehot, counts, g["x0_cov"])


def _profile_t(policy):
    """Policy arrays [C, T, ...] as time-first scan inputs."""
    return tuple(jnp.swapaxes(x, 0, 1) for x in policy)


def _backward_one(g, counts, onehot, policy, beta):
    """For one agent of class ``onehot`` against the profile: its cost when it follows the
    policy (policy evaluation) and its best response (a Riccati recursion), in one scan."""
    Qz, qz, c0 = _stage(g, counts, onehot)
    R, W = _pick(onehot, g["R"]), _agent_cov(onehot, counts, g["noise"])

    def step(carry, inputs):
        V_own, V_best = carry
        (K, L, k), q_t, c_t = inputs
        A_z, B_z, c_z = _dynamics(g, counts, onehot, K, L, k)
        Kp = jnp.concatenate([_pick(onehot, K), _pick(onehot, L)], axis=1)
        Kb, kb = ric.gains(V_best[0], V_best[1], A_z, B_z, c_z, R, beta)
        own = ric.value_step(*V_own, A_z, B_z, c_z, W, Qz, q_t, c_t, Kp, _pick(onehot, k), R, beta)
        best = ric.value_step(*V_best, A_z, B_z, c_z, W, Qz, q_t, c_t, Kb, kb, R, beta)
        return (own, best), (Kb, kb)

    V_T = (Qz, -qz[-1], c0[-1])
    (V_own, V_best), (Kb, kb) = jax.lax.scan(
        step, (V_T, V_T), (_profile_t(policy), qz[:-1], c0[:-1]), reverse=True
    )
    init = _initial(g, counts, onehot)
    return Kb, kb, ric.expected_value(*V_best, *init), ric.expected_value(*V_own, *init)


@xla_options.jit
def _backward_all(g, counts, policy, beta):
    C = g["A"].shape[0]
    onehots = jnp.eye(C, dtype=g["A"].dtype)
    return jax.vmap(lambda o: _backward_one(g, counts, o, policy, beta))(onehots)


def _nash(g, counts, beta):
    A = g["A"]
    C, n, m = A.shape[0], A.shape[1], g["B"].shape[2]
    onehots = jnp.eye(C, dtype=A.dtype)
    stages = jax.vmap(lambda o: _stage(g, counts, o))(onehots)
    R = g["R"]
    W = jax.vmap(lambda o: _agent_cov(o, counts, g["noise"]))(onehots)
    sizes = (C * m * n, C * m * C * n, C * m)

    def unpack(theta):
        K = theta[: sizes[0]].reshape(C, m, n)
        L = theta[sizes[0] : sizes[0] + sizes[1]].reshape(C, m, C * n)
        return K, L, theta[sizes[0] + sizes[1] :].reshape(C, m)

    def step(V, inputs):
        q_t, c_t = inputs
        P, s, _ = V

        def conditions(theta):
            K, L, k = unpack(theta)

            def one(o, P_c, s_c, R_c):
                A_z, B_z, c_z = _dynamics(g, counts, o, K, L, k)
                G = R_c + beta * B_z.T @ P_c @ B_z
                Kz = jnp.concatenate([_pick(o, K), _pick(o, L)], axis=1)
                gain = G @ Kz - beta * B_z.T @ P_c @ A_z
                offset = G @ _pick(o, k) - beta * B_z.T @ (P_c @ c_z + s_c)
                return gain, offset

            gain, offset = jax.vmap(one)(onehots, P, s, R)
            K_part, L_part = gain[:, :, :n], gain[:, :, n:]
            return jnp.concatenate([K_part.reshape(-1), L_part.reshape(-1), offset.reshape(-1)])

        zero = jnp.zeros(sum(sizes), A.dtype)
        J = jax.jacfwd(conditions)(zero)  # the conditions are affine: exact
        K, L, k = unpack(jnp.linalg.solve(J, -conditions(zero)))

        def update(o, V_c, Qz, q_c, c_c, R_c, W_c):
            A_z, B_z, c_z = _dynamics(g, counts, o, K, L, k)
            Kz = jnp.concatenate([_pick(o, K), _pick(o, L)], axis=1)
            return ric.value_step(
                *V_c, A_z, B_z, c_z, W_c, Qz, q_c, c_c, Kz, _pick(o, k), R_c, beta
            )

        V = jax.vmap(update)(onehots, V, stages[0], q_t, c_t, R, W)
        return V, (K, L, k)

    Qz, qz, c0 = stages
    V_T = (Qz, -qz[:, -1], c0[:, -1])
    V, (K, L, k) = jax.lax.scan(
        step, V_T, (jnp.swapaxes(qz[:, :-1], 0, 1), jnp.swapaxes(c0[:, :-1], 0, 1)), reverse=True
    )
    init = jax.vmap(lambda o: _initial(g, counts, o))(onehots)
    cost = jax.vmap(ric.expected_value)(*V, *init)
    policy = Policy(jnp.swapaxes(K, 0, 1), jnp.swapaxes(L, 0, 1), jnp.swapaxes(k, 0, 1))
    return policy, cost


_nash_jit = xla_options.jit(_nash)


# --- public functions -----------------------------------------------------------------------


def _finite(game: LQGame) -> None:
    if not isinstance(game, LQGame):
        raise TypeError(f"game: expected an LQGame (from lq_game), got {type(game).__name__}")
    if game.infinite:
        raise ValueError("horizon: the N-player game needs a finite horizon")


def check_policy(game: LQGame, policy: Policy) -> Policy:
    """``policy`` as float64 arrays of the game's shapes (ValueError naming a bad field)."""
    if not isinstance(policy, Policy):
        raise TypeError(f"policy: expected a Policy, got {type(policy).__name__}")
    C, T, n, m = game.classes, game.horizon, game.n, game.m
    shapes = {"K": (C, T, m, n), "L": (C, T, m, C * n), "k": (C, T, m)}
    out = []
    for name, want in shapes.items():
        arr = np.asarray(getattr(policy, name), np.float64)
        if arr.shape != want:
            raise ValueError(f"policy.{name}: must have shape {want}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"policy.{name}: contains NaN or infinite values")
        out.append(arr)
    return Policy(*out)


def _against(game: LQGame, counts, policy: Policy):
    """(best-response gains, best-response cost, the policy's own cost) per class."""
    _finite(game)
    counts = check_counts(game, counts)
    policy = check_policy(game, policy)
    with jax.enable_x64(True):
        out = _backward_all(
            arrays(game),
            jnp.asarray(counts, jnp.float64),
            Policy(*map(jnp.asarray, policy)),
            jnp.float64(game.discount),
        )
        return tuple(np.asarray(x) for x in out)


def evaluate(game: LQGame, counts, policy: Policy) -> np.ndarray:
    """Expected cost [C] of an agent of each class when all N = Σ counts agents follow ``policy``."""
    return _against(game, counts, policy)[3]


def best_response(game: LQGame, counts, policy: Policy) -> BestResponse:
    """Each class's best deviation (one agent deviates, the other N − 1 keep ``policy``)."""
    K, k, cost, _ = _against(game, counts, policy)
    return BestResponse(K, k, cost)


def assess(game: LQGame, counts, policy: Policy) -> Assessment:
    """Cost, best-response cost and regret per class: the ε-Nash gap and the worst client."""
    _, _, best, cost = _against(game, counts, policy)
    regret = np.maximum(cost - best, 0.0)
    share = np.asarray(counts) / np.sum(counts)
    return Assessment(
        cost, best, regret, float(share @ cost), float(cost.max()), float(regret.max())
    )


def nash(game: LQGame, counts) -> Nash:
    """The centralised N-player Nash policy for these class sizes, exactly (see module doc)."""
    _finite(game)
    counts = check_counts(game, counts)
    with jax.enable_x64(True):
        policy, cost = _nash_jit(
            arrays(game), jnp.asarray(counts, jnp.float64), jnp.float64(game.discount)
        )
        result = Nash(Policy(*map(np.asarray, policy)), np.asarray(cost))
    if not all(np.all(np.isfinite(x)) for x in (*result.policy, result.cost)):
        raise ValueError(
            "game: the stage-wise Nash conditions are singular for these class sizes (no unique "
            "feedback Nash equilibrium)"
        )
    return result


def nash_many(game: LQGame, populations) -> list[Nash]:
    """``nash`` for each row of ``populations`` ([P, C] counts). The counts are traced inputs of
    one compiled program, so P population sizes cost one compilation."""
    return [nash(game, counts) for counts in np.asarray(populations)]


# --- the unreduced N-player game -----------------------------------------------------------


def _coupled(g, types, beta):
    A, B = g["A"][types], g["B"][types]
    N, n, m = A.shape[0], A.shape[1], B.shape[2]
    dtype = A.dtype
    Aj, Bj = block_diag(A), block_diag(B)  # [Nn, Nn], [Nn, Nm]
    eye = jnp.eye(N, dtype=dtype)
    sel = (eye[:, None, :, None] * jnp.eye(n, dtype=dtype)[None, :, None, :]).reshape(N, n, N * n)
    mean = sel.mean(axis=0)  # x̄ = mean @ X, the agent itself included
    Q, Qbar, Gamma = g["Q"][types], g["Qbar"][types], g["Gamma"][types]
    D = sel - Gamma @ mean
    Qj = jnp.einsum("ian,iab,ibm->inm", sel, Q, sel) + jnp.einsum("ian,iab,ibm->inm", D, Qbar, D)
    y, eta = g["reference"][types], g["eta"][types]
    qj = (
        jnp.einsum("iaN,iab,itb->itN", sel, Q, y)
        + jnp.einsum("iaN,iab,ib->iN", D, Qbar, eta)[:, None]
    )
    c0 = (
        jnp.einsum("ita,iab,itb->it", y, Q, y) + jnp.einsum("ia,iab,ib->i", eta, Qbar, eta)[:, None]
    )
    R = g["R"][types]
    msel = (eye[:, None, :, None] * jnp.eye(m, dtype=dtype)[None, :, None, :]).reshape(N, m, N * m)
    Rfull = jnp.einsum("iaM,iab,ibK->iMK", msel, R, msel)  # player i pays only for its control
    W = block_diag(g["noise"][types])

    def step(V, inputs):
        P, s, _ = V
        q_t, c_t = inputs
        BPB = jnp.einsum("Na,iNM,Mb->iab", Bj, P, Bj)  # [N, Nm, Nm]
        rows = jnp.einsum("iaM,iMK->iaK", msel, BPB)  # row block i of player i's BᵀPⁱB
        Phi = block_diag(R) + beta * rows.reshape(N * m, N * m)
        Psi = beta * jnp.einsum("iaM,NM,iNK,KL->iaL", msel, Bj, P, Aj).reshape(N * m, N * n)
        rhs = beta * jnp.einsum("iaM,NM,iN->ia", msel, Bj, s).reshape(N * m)
        K, k = jnp.linalg.solve(Phi, Psi), jnp.linalg.solve(Phi, rhs)
        zero = jnp.zeros(N * n, dtype)
        V = jax.vmap(
            lambda P_i, s_i, r_i, Q_i, q_i, c_i, R_i: ric.value_step(
                P_i, s_i, r_i, Aj, Bj, zero, W, Q_i, q_i, c_i, K, k, R_i, beta
            )
        )(*V, Qj, q_t, c_t, Rfull)
        return V, (K, k)

    V_T = (Qj, -qj[:, -1], c0[:, -1])
    V, (K, k) = jax.lax.scan(
        step, V_T, (jnp.swapaxes(qj[:, :-1], 0, 1), jnp.swapaxes(c0[:, :-1], 0, 1)), reverse=True
    )
    x0 = g["x0"][types].reshape(-1)
    cov = block_diag(g["x0_cov"][types])
    cost = jax.vmap(lambda P, s, r: ric.expected_value(P, s, r, x0, cov))(*V)
    return K, k, cost


_coupled_jit = xla_options.jit(_coupled)


def nash_coupled(game: LQGame, counts) -> CoupledNash:
    """The N-player Nash policy from the N coupled Riccati equations on the joint state.

    Stage by stage, player i's condition (R_i + β B_iᵀ Pⁱ B_i) K_i + β B_iᵀ Pⁱ Σ_{j≠i} B_j K_j =
    β B_iᵀ Pⁱ A (and its offset analogue) for all i is one linear system; then each Pⁱ, sⁱ, rⁱ
    is evaluated under the joint closed loop. Agents are ordered by class (``counts`` of each).
    Cost O(T (N n)³ N): small N only (N·n ≤ COUPLED_MAX_STATE); ``nash`` is the scalable form.
    """
    _finite(game)
    counts = check_counts(game, counts)
    if counts.sum() * game.n > COUPLED_MAX_STATE:
        raise ValueError(
            f"counts: the coupled Riccati equations need N·n ≤ {COUPLED_MAX_STATE}, got "
            f"N = {counts.sum()}, n = {game.n}; use nash(), exact for any N"
        )
    types = np.repeat(np.arange(game.classes), counts)
    with jax.enable_x64(True):
        K, k, cost = _coupled_jit(arrays(game), jnp.asarray(types), jnp.float64(game.discount))
        return CoupledNash(np.asarray(K), np.asarray(k), np.asarray(cost), types)

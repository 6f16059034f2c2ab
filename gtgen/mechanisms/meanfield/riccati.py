"""Riccati recursions of one agent (one type class), the stationary equation, policy evaluation.

Conventions (value function V_t(x) = xᵀ P_t x + 2 s_tᵀ x + r_t, discount β, stage cost
xᵀ Q_e x − 2 q_tᵀ x + c_t + uᵀ R u with Q_e = Q + Q̄):

    G_t = R + β Bᵀ P_{t+1} B,   K_t = β G_t⁻¹ Bᵀ P_{t+1} A,   F_t = A − B K_t,
    P_t = Q_e + K_tᵀ R K_t + β F_tᵀ P_{t+1} F_t   (the Joseph form of the Riccati step),
    s_t = β F_tᵀ s_{t+1} − q_t,   k_t = β G_t⁻¹ Bᵀ s_{t+1},   u_t = −K_t x_t − k_t,

with P_T = Q_e, s_T = −q_T. Everything here is a pure function of one class's arrays; callers
vmap over classes and run under float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def riccati(A, B, Qe, R, beta, horizon: int):
    """Finite-horizon Riccati recursion: P [T+1, n, n], K [T, m, n], G [T, m, m]."""

    def step(P, _):
        G = R + beta * B.T @ P @ B
        K = beta * jnp.linalg.solve(G, B.T @ P @ A)
        F = A - B @ K
        new = Qe + K.T @ R @ K + beta * F.T @ P @ F
        new = 0.5 * (new + new.T)
        return new, (new, K, G)

    _, (P, K, G) = jax.lax.scan(step, Qe, None, length=horizon, reverse=True)
    return jnp.concatenate([P, Qe[None]]), K, G


def offsets(A, B, K, G, q, beta):
    """The affine part for a linear-term path q [T+1, n]: s [T+1, n] and k [T, m]."""

    def step(s_next, inputs):
        K_t, G_t, q_t = inputs
        k = beta * jnp.linalg.solve(G_t, B.T @ s_next)
        s = beta * (A - B @ K_t).T @ s_next - q_t
        return s, (s, k)

    _, (s, k) = jax.lax.scan(step, -q[-1], (K, G, q[:-1]), reverse=True)
    return jnp.concatenate([s, -q[-1:]]), k


def forward_mean(A, B, K, k, x0):
    """The mean under u = −K x − k from x̄_0 = x0: [T+1, n]."""

    def step(x, inputs):
        K_t, k_t = inputs
        new = (A - B @ K_t) @ x - B @ k_t
        return new, new

    _, path = jax.lax.scan(step, x0, (K, k))
    return jnp.concatenate([x0[None], path])


def stationary_riccati(A, B, Qe, R, beta, tol=1e-14, max_iter: int = 200):
    """The stabilising solution of P = Q_e + βAᵀPA − β²AᵀPB(R + βBᵀPB)⁻¹BᵀPA and its gain.

    Structure-preserving doubling (SDA) on (√β A, √β B): quadratic convergence, every iterate
    symmetric. Returns (P, K, G, iterations).
    """
    n = A.shape[0]
    a = jnp.sqrt(beta) * A
    b = jnp.sqrt(beta) * B
    eye = jnp.eye(n, dtype=A.dtype)

    def body(carry):
        Ak, Gk, Hk, _, it = carry
        W = eye + Gk @ Hk
        WA = jnp.linalg.solve(W, Ak)
        WG = jnp.linalg.solve(W, Gk)
        H = Hk + Ak.T @ Hk @ WA
        G = Gk + Ak @ WG @ Ak.T
        H, G = 0.5 * (H + H.T), 0.5 * (G + G.T)
        change = jnp.max(jnp.abs(H - Hk)) / jnp.maximum(1.0, jnp.max(jnp.abs(H)))
        return Ak @ WA, G, H, change, it + 1

    def cond(carry):
        return (carry[3] > tol) & (carry[4] < max_iter)

    init = (a, b @ jnp.linalg.solve(R, b.T), Qe, jnp.asarray(jnp.inf, A.dtype), 0)
    _, _, P, _, iterations = jax.lax.while_loop(cond, body, init)
    G = R + beta * B.T @ P @ B
    K = beta * jnp.linalg.solve(G, B.T @ P @ A)
    return P, K, G, iterations


def gains(P, s, A_z, B_z, c_z, R, beta):
    """Optimal affine feedback v = −K z − k for V_{t+1}(z) = zᵀPz + 2sᵀz + r and the controlled
    affine dynamics z' = A_z z + B_z v + c_z + noise."""
    G = R + beta * B_z.T @ P @ B_z
    K = beta * jnp.linalg.solve(G, B_z.T @ P @ A_z)
    k = beta * jnp.linalg.solve(G, B_z.T @ (P @ c_z + s))
    return K, k


def value_step(P, s, r, A_z, B_z, c_z, W_z, Q_z, q_z, c0, K, k, R, beta):
    """One backward step of policy evaluation under v = −K z − k.

    Stage cost zᵀ Q_z z − 2 q_zᵀ z + c0 + vᵀ R v; dynamics z' = A_z z + B_z v + c_z + ξ with
    Cov ξ = W_z. Returns (P_t, s_t, r_t) given (P_{t+1}, s_{t+1}, r_{t+1}).
    """
    A_cl = A_z - B_z @ K
    c_cl = c_z - B_z @ k
    P_new = Q_z + K.T @ R @ K + beta * A_cl.T @ P @ A_cl
    s_new = -q_z + K.T @ R @ k + beta * A_cl.T @ (P @ c_cl + s)
    r_new = c0 + k @ R @ k + beta * (c_cl @ P @ c_cl + 2.0 * s @ c_cl + jnp.trace(P @ W_z) + r)
    return 0.5 * (P_new + P_new.T), s_new, r_new


def expected_value(P, s, r, mean, cov):
    """E[zᵀPz + 2sᵀz] + r for z with this mean and covariance."""
    return jnp.trace(P @ cov) + mean @ P @ mean + 2.0 * s @ mean + r

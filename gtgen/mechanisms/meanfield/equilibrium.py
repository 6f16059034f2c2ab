"""The decentralised (mean-field) equilibrium, the policies built from it, and the greedy baseline.

Finite horizon. For a mean-field path x̄ (the population mean), every class c best-responds by its
own Riccati recursion (P, K: independent of x̄) and offset (s, k: linear in x̄); the class means
then follow x̄_{c,t+1} = (A_c − B_c K_{c,t}) x̄_{c,t} − B_c k_{c,t}. An equilibrium is a path that
reproduces itself, x̄_t = Σ_c π_c x̄_{c,t}. Two solvers:

``damped``    iterate path → best response → path, x̄ ← x̄ + λ(response − x̄), until the step is
              below ``tol`` (vmapped over classes; each response is two lax.scans);
``boundary``  the same fixed point as ONE linear two-point boundary problem in the stacked
              (S_t, X_t) = (offsets, means) of all classes,
                  S_t = β F_tᵀ S_{t+1} − H X_t − h_t,  S_T = −H X_T − h_T,
                  X_{t+1} = F_t X_t − 𝔊_t S_{t+1},     X_0 = x̄_0,
              solved exactly by the decoupling field S_t = Π_t X_t + σ_t (a backward lax.scan of
              block elimination, then a forward one): no iteration, O(T (C n)³).

The decoupling field also gives the decentralised policy in *feedback* form on the mean field,
u = −K x − L X_t − ℓ_t (X_t the stacked class means): on the equilibrium path it equals the
open-loop u = −K x − k_t, and it stays the equilibrium policy when the mean field is moved by
common shocks (certainty equivalence). Infinite horizon: the stationary equilibrium (constant mean
field) of the discounted game, P by structure-preserving doubling, (S, X) by one linear solve or
by the damped iteration.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gtgen import xla_options
from gtgen.mechanisms.meanfield import riccati as ric
from gtgen.mechanisms.meanfield.game import LQGame

METHODS = ("boundary", "damped")


class Policy(NamedTuple):
    """u^i_t = −K[c, t] x^i_t − L[c, t] M_t − k[c, t] for an agent of class c.

    M_t is the stacked per-class means [C·n] (the mean field the agent observes; in an N-player
    game the empirical class means, the agent itself included). L = 0: a policy on the agent's
    own state only (the open-loop mean-field policy).
    """

    K: np.ndarray  # [C, T, m, n]
    L: np.ndarray  # [C, T, m, C·n]
    k: np.ndarray  # [C, T, m]


class Equilibrium(NamedTuple):
    """The finite-horizon decentralised equilibrium (class-first arrays, float64)."""

    P: np.ndarray  # [C, T+1, n, n]
    K: np.ndarray  # [C, T, m, n]
    s: np.ndarray  # [C, T+1, n]
    k: np.ndarray  # [C, T, m]
    mean: np.ndarray  # [C, T+1, n] class means x̄_c
    population_mean: np.ndarray  # [T+1, n] x̄ = Σ_c π_c x̄_c
    feedback: Policy  # the same equilibrium as feedback on the class means
    cost: np.ndarray  # [C] expected cost of an agent of each class in the mean-field limit
    iterations: int
    residual: float  # max violation of the two recursions
    method: str


class StationaryEquilibrium(NamedTuple):
    """The stationary equilibrium of the discounted infinite-horizon game."""

    P: np.ndarray  # [C, n, n]
    K: np.ndarray  # [C, m, n]
    s: np.ndarray  # [C, n]
    k: np.ndarray  # [C, m]
    mean: np.ndarray  # [C, n]
    population_mean: np.ndarray  # [n]
    cost: np.ndarray  # [C] expected discounted cost from x_0 with the mean field at rest
    iterations: int
    residual: float
    method: str


def arrays(game: LQGame) -> dict[str, jax.Array]:
    """The game's arrays as float64 JAX arrays (call under ``jax.enable_x64(True)``)."""
    names = ("A", "B", "Q", "Qbar", "R", "Gamma", "eta", "noise", "x0", "x0_cov", "weights")
    out = {k: jnp.asarray(getattr(game, k), jnp.float64) for k in names}
    out["reference"] = jnp.asarray(game.targets(), jnp.float64)
    return out


def block_diag(x: jax.Array) -> jax.Array:
    """[C, p, q] blocks -> the [C·p, C·q] block-diagonal matrix."""
    c, p, q = x.shape
    eye = jnp.eye(c, dtype=x.dtype)
    return (eye[:, None, :, None] * x[:, :, None, :]).reshape(c * p, c * q)


def coupling(g: dict[str, jax.Array]) -> jax.Array:
    """H [C·n, C·n]: the linear term of class c is q_c = h_c + Σ_d (Q̄_c Γ_c π_d) x̄_d."""
    qg = g["Qbar"] @ g["Gamma"]
    c, n, _ = qg.shape
    return (qg[:, :, None, :] * g["weights"][None, None, :, None]).reshape(c * n, c * n)


def linear_terms(g: dict[str, jax.Array], X: jax.Array) -> tuple[jax.Array, jax.Array]:
    """q [C, T+1, n] and c0 [C, T+1] of the stage cost xᵀQ_e x − 2qᵀx + c0 along class means X."""
    xbar = jnp.einsum("c,ctn->tn", g["weights"], X)
    z = jnp.einsum("cij,tj->ctj", g["Gamma"], xbar) + g["eta"][:, None, :]
    y = g["reference"]
    q = jnp.einsum("cij,ctj->cti", g["Q"], y) + jnp.einsum("cij,ctj->cti", g["Qbar"], z)
    c0 = jnp.einsum("cti,cij,ctj->ct", y, g["Q"], y) + jnp.einsum(
        "cti,cij,ctj->ct", z, g["Qbar"], z
    )
    return q, c0


def _riccati_all(g, beta, horizon):
    Qe = g["Q"] + g["Qbar"]
    return jax.vmap(ric.riccati, in_axes=(0, 0, 0, 0, None, None))(
        g["A"], g["B"], Qe, g["R"], beta, horizon
    )


def _respond(g, K, G, X, beta):
    """Every class's best response to the class means X: offsets, gains and its own means."""
    q, _ = linear_terms(g, X)
    s, k = jax.vmap(ric.offsets, in_axes=(0, 0, 0, 0, 0, None))(g["A"], g["B"], K, G, q, beta)
    means = jax.vmap(ric.forward_mean)(g["A"], g["B"], K, k, g["x0"])
    return s, k, means


def _sweep(g, K, G, beta):
    """The decoupling field of the two-point boundary problem: Π_t, σ_t and the closed-loop
    mean-field map X_{t+1} = Φ_t X_t + φ_t; plus the feedback gains (L, ℓ)."""
    A, B = g["A"], g["B"]
    C, n = A.shape[0], A.shape[1]
    F = A[:, None] - jnp.einsum("cnm,ctmk->ctnk", B, K)  # [C, T, n, n]
    GinvBt = jnp.linalg.solve(G, jnp.swapaxes(B, 1, 2)[:, None])  # [C, T, m, n]
    Gb = beta * jnp.einsum("cnm,ctmk->ctnk", B, GinvBt)
    Fd = jax.vmap(block_diag, in_axes=1)(F)  # [T, Cn, Cn]
    Gd = jax.vmap(block_diag, in_axes=1)(Gb)
    H = coupling(g)
    y = g["reference"]
    h = jnp.einsum("cij,ctj->cti", g["Q"], y) + (g["Qbar"] @ g["eta"][..., None])[:, None, :, 0]
    h = jnp.swapaxes(h, 0, 1).reshape(-1, C * n)  # [T+1, Cn]
    eye = jnp.eye(C * n, dtype=A.dtype)

    def step(carry, inputs):
        Pi, sigma = carry
        F_t, G_t, h_t = inputs
        M = eye + G_t @ Pi
        Phi = jnp.linalg.solve(M, F_t)
        phi = -jnp.linalg.solve(M, G_t @ sigma)
        Pi_t = beta * F_t.T @ Pi @ Phi - H
        sigma_t = beta * F_t.T @ (Pi @ phi + sigma) - h_t
        return (Pi_t, sigma_t), (Pi, sigma, Phi, phi)

    _, (Pi_next, sigma_next, Phi, phi) = jax.lax.scan(
        step, (-H, -h[-1]), (Fd, Gd, h[:-1]), reverse=True
    )
    # feedback form: k_{c,t} = β G⁻¹Bᵀ [Π_{t+1}(Φ_t X_t + φ_t) + σ_{t+1}]_c
    drive = jnp.einsum("tij,tjk->tik", Pi_next, Phi).reshape(-1, C, n, C * n)
    const = (jnp.einsum("tij,tj->ti", Pi_next, phi) + sigma_next).reshape(-1, C, n)
    L = beta * jnp.einsum("ctmn,tcnk->ctmk", GinvBt, drive)
    ell = beta * jnp.einsum("ctmn,tcn->ctm", GinvBt, const)
    return Phi, phi, L, ell


def _mf_cost(g, K, k, X, beta):
    """Expected cost of an agent of each class against the class-mean path X (mean-field limit)."""
    q, c0 = linear_terms(g, X)
    Qe = g["Q"] + g["Qbar"]

    def one(A, B, Qe_c, R, W, q_c, c0_c, K_c, k_c, x0, x0_cov):
        zero = jnp.zeros(A.shape[0], A.dtype)

        def step(carry, inputs):
            q_t, c0_t, K_t, k_t = inputs
            new = ric.value_step(*carry, A, B, zero, W, Qe_c, q_t, c0_t, K_t, k_t, R, beta)
            return new, None

        (P, s, r), _ = jax.lax.scan(
            step, (Qe_c, -q_c[-1], c0_c[-1]), (q_c[:-1], c0_c[:-1], K_c, k_c), reverse=True
        )
        return ric.expected_value(P, s, r, x0, x0_cov)

    return jax.vmap(one)(g["A"], g["B"], Qe, g["R"], g["noise"], q, c0, K, k, g["x0"], g["x0_cov"])


def _backward_residual(g, K, G, s, k, X, beta):
    q, _ = linear_terms(g, X)
    # one step of each recursion from the solution's own values (not a re-solve)
    F = g["A"][:, None] - jnp.einsum("cnm,ctmk->ctnk", g["B"], K)
    s_step = beta * jnp.einsum("ctji,ctj->cti", F, s[:, 1:]) - q[:, :-1]
    k_step = beta * jnp.linalg.solve(G, jnp.einsum("cnm,ctn->ctm", g["B"], s[:, 1:])[..., None])
    return jnp.maximum(
        jnp.max(jnp.abs(s[:, :-1] - s_step)),
        jnp.maximum(jnp.max(jnp.abs(s[:, -1] + q[:, -1])), jnp.max(jnp.abs(k - k_step[..., 0]))),
    )


def _forward_residual(g, K, k, X):
    F = g["A"][:, None] - jnp.einsum("cnm,ctmk->ctnk", g["B"], K)
    step = jnp.einsum("ctij,ctj->cti", F, X[:, :-1]) - jnp.einsum("cnm,ctm->ctn", g["B"], k)
    return jnp.maximum(jnp.max(jnp.abs(X[:, 1:] - step)), jnp.max(jnp.abs(X[:, 0] - g["x0"])))


# The solvers run as a few compiled stages: the part both methods share (Riccati recursions,
# decoupling field; the outputs) is compiled once, each method only adds its own small program.


@functools.partial(xla_options.jit, static_argnames=("horizon",))
def _prepare(g, beta, horizon):
    P, K, G = _riccati_all(g, beta, horizon)
    return (P, K, G, *_sweep(g, K, G, beta))


@xla_options.jit
def _boundary_path(g, Phi, phi):
    """The class means from the decoupling field: X_{t+1} = Φ_t X_t + φ_t (the boundary solve)."""
    C, n = g["A"].shape[0], g["A"].shape[1]

    def fwd(X, inputs):
        Phi_t, phi_t = inputs
        new = Phi_t @ X + phi_t
        return new, new

    X0 = g["x0"].reshape(-1)
    _, path = jax.lax.scan(fwd, X0, (Phi, phi))
    return jnp.concatenate([X0[None], path]).reshape(-1, C, n).swapaxes(0, 1)


def _damped_loop(respond, start, damping, tol, max_iter):
    """x ← x + λ(respond(x) − x) until the relative step is below tol; returns respond(x), count."""

    def cond(carry):
        return (carry[1] > tol) & (carry[2] < max_iter)

    def body(carry):
        X, _, it = carry
        new = respond(X)
        change = jnp.max(jnp.abs(new - X)) / jnp.maximum(1.0, jnp.max(jnp.abs(new)))
        return X + damping * (new - X), change, it + 1

    X, _, iterations = jax.lax.while_loop(cond, body, (start, jnp.inf, 0))
    return respond(X), iterations  # the response of the last iterate


@functools.partial(xla_options.jit, static_argnames=("max_iter",))
def _damped_path(g, K, G, beta, damping, tol, max_iter):
    C, n, T1 = g["A"].shape[0], g["A"].shape[1], K.shape[1] + 1
    start = jnp.broadcast_to(g["x0"][:, None], (C, T1, n))
    return _damped_loop(lambda X: _respond(g, K, G, X, beta)[2], start, damping, tol, max_iter)


@xla_options.jit
def _finish(g, K, G, X, beta):
    s, k, _ = _respond(g, K, G, X, beta)
    cost = _mf_cost(g, K, k, X, beta)
    residual = jnp.maximum(
        _backward_residual(g, K, G, s, k, X, beta), _forward_residual(g, K, k, X)
    )
    return s, k, cost, residual


def _finite(g, beta, horizon, method, damping, tol, max_iter):
    P, K, G, Phi, phi, L, ell = _prepare(g, beta, horizon)
    if method == "boundary":
        X, iterations = _boundary_path(g, Phi, phi), 1
    else:
        X, iterations = _damped_path(g, K, G, beta, damping, tol, max_iter)
    s, k, cost, residual = _finish(g, K, G, X, beta)
    return P, K, s, k, X, L, ell, cost, iterations, residual


@xla_options.jit
def _stationary_prepare(g, beta):
    Qe = g["Q"] + g["Qbar"]
    P, K, G, sda_it = jax.vmap(ric.stationary_riccati, in_axes=(0, 0, 0, 0, None))(
        g["A"], g["B"], Qe, g["R"], beta
    )
    A, B = g["A"], g["B"]
    F = A - B @ K
    GinvBt = jnp.linalg.solve(G, jnp.swapaxes(B, 1, 2))
    y = g["reference"][:, 0]
    h = jnp.einsum("cij,cj->ci", g["Q"], y) + jnp.einsum("cij,cj->ci", g["Qbar"], g["eta"])
    return P, K, GinvBt, F, h.reshape(-1), jnp.max(sda_it)


def _stationary_blocks(g, F, GinvBt, beta):
    C, n = g["A"].shape[0], g["A"].shape[1]
    return block_diag(F), block_diag(beta * g["B"] @ GinvBt), coupling(g), jnp.eye(C * n)


@xla_options.jit
def _stationary_boundary(g, F, GinvBt, h, beta):
    """S = βFᵀS − HX − h and X = FX − 𝔊S as one linear system in (S, X)."""
    Fd, Gd, H, eye = _stationary_blocks(g, F, GinvBt, beta)
    system = jnp.block([[eye - beta * Fd.T, H], [Gd, eye - Fd]])
    sol = jnp.linalg.solve(system, jnp.concatenate([-h, jnp.zeros_like(h)]))
    return sol[h.size :]


@functools.partial(xla_options.jit, static_argnames=("max_iter",))
def _stationary_damped(g, F, GinvBt, h, beta, damping, tol, max_iter):
    Fd, Gd, H, eye = _stationary_blocks(g, F, GinvBt, beta)

    def respond(X):
        S = jnp.linalg.solve(eye - beta * Fd.T, -(H @ X + h))
        return jnp.linalg.solve(eye - Fd, -Gd @ S)

    return _damped_loop(respond, g["x0"].reshape(-1), damping, tol, max_iter)


@xla_options.jit
def _stationary_finish(g, P, F, GinvBt, h, X, beta):
    Fd, _, H, eye = _stationary_blocks(g, F, GinvBt, beta)
    C, n = g["A"].shape[0], g["A"].shape[1]
    B = g["B"]
    s = jnp.linalg.solve(eye - beta * Fd.T, -(H @ X + h)).reshape(C, n)
    Xc = X.reshape(C, n)
    k = beta * jnp.einsum("cmn,cn->cm", GinvBt, s)
    q, c0 = linear_terms(g, Xc[:, None])
    q, c0 = q[:, 0], c0[:, 0]
    residual = jnp.maximum(
        jnp.max(jnp.abs(s - (beta * jnp.einsum("cji,cj->ci", F, s) - q))),
        jnp.max(jnp.abs(Xc - (jnp.einsum("cij,cj->ci", F, Xc) - jnp.einsum("cnm,cm->cn", B, k)))),
    )
    quad = beta**2 * jnp.einsum("cn,cnm,cm->c", s, B @ GinvBt, s)
    r = (c0 + beta * jnp.trace(P @ g["noise"], axis1=1, axis2=2) - quad) / (1.0 - beta)
    cost = jax.vmap(ric.expected_value)(P, s, r, g["x0"], g["x0_cov"])
    return s, k, Xc, cost, residual


def _stationary(g, beta, method, damping, tol, max_iter):
    P, K, GinvBt, F, h, sda_it = _stationary_prepare(g, beta)
    if method == "boundary":
        X, iterations = _stationary_boundary(g, F, GinvBt, h, beta), 1
    else:
        X, iterations = _stationary_damped(g, F, GinvBt, h, beta, damping, tol, max_iter)
    s, k, Xc, cost, residual = _stationary_finish(g, P, F, GinvBt, h, X, beta)
    return P, K, s, k, Xc, cost, jnp.maximum(iterations, sda_it), residual


def solve(
    game: LQGame,
    method: str = "boundary",
    *,
    damping: float = 0.5,
    tol: float = 1e-13,
    max_iter: int = 10_000,
) -> Equilibrium | StationaryEquilibrium:
    """The decentralised equilibrium of ``game`` (float64).

    Args:
      game: from ``lq_game``; ``horizon=None`` gives the stationary equilibrium.
      method: ``"boundary"`` (one linear two-point boundary solve) or ``"damped"`` (fixed-point
        iteration with step ``damping``, until the relative step is below ``tol`` or
        ``max_iter`` iterations).
    Raises:
      ValueError: a bad method or setting; or the damped iteration did not converge.
    """
    if not isinstance(game, LQGame):
        raise TypeError(f"game: expected an LQGame (from lq_game), got {type(game).__name__}")
    if method not in METHODS:
        raise ValueError(f"method: unknown solver {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(damping, bool) or not isinstance(damping, (int, float)) or not 0 < damping <= 1:
        raise ValueError(f"damping: must be a number in (0, 1], got {damping!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: must be an integer >= 1, got {max_iter!r}")
    if not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"tol: must be a positive number, got {tol!r}")
    with jax.enable_x64(True):
        g = arrays(game)
        beta, lam = jnp.float64(game.discount), jnp.float64(damping)
        if game.infinite:
            out = _stationary(g, beta, method, lam, jnp.float64(tol), max_iter)
            P, K, s, k, X, cost, iterations, residual = jax.device_get(out)
            result = StationaryEquilibrium(
                P, K, s, k, X, game.weights @ X, cost, int(iterations), float(residual), method
            )
        else:
            out = _finite(g, beta, game.horizon, method, lam, jnp.float64(tol), max_iter)
            P, K, s, k, X, L, ell, cost, iterations, residual = jax.device_get(out)
            result = Equilibrium(
                P,
                K,
                s,
                k,
                X,
                np.einsum("c,ctn->tn", game.weights, X),
                Policy(K, L, ell),
                cost,
                int(iterations),
                float(residual),
                method,
            )
    if not np.isfinite(result.residual):
        raise ValueError(
            "game: the equilibrium solve produced non-finite values (is the "
            "mean-field coupling so strong that the boundary problem is singular?)"
        )
    if method == "damped" and result.iterations >= max_iter:
        raise ValueError(
            f"damping: the damped iteration did not converge in {max_iter} iterations (residual "
            f"{result.residual:.3g}); use a smaller damping or method='boundary'"
        )
    return result


def residuals(game: LQGame, eq: Equilibrium) -> tuple[float, float]:
    """Max violation of the backward (offset) and forward (mean-field) recursions by ``eq``,
    one step of each from the solution's own P, K, s, k and class means (numpy)."""
    if not isinstance(eq, Equilibrium):
        raise TypeError(f"eq: expected a finite-horizon Equilibrium, got {type(eq).__name__}")
    beta, A, B = game.discount, game.A, game.B
    xbar = np.einsum("c,ctn->tn", game.weights, eq.mean)
    z = np.einsum("cij,tj->cti", game.Gamma, xbar) + game.eta[:, None]
    q = np.einsum("cij,ctj->cti", game.Q, game.targets()) + np.einsum("cij,ctj->cti", game.Qbar, z)
    F = A[:, None] - np.einsum("cnm,ctmk->ctnk", B, eq.K)
    G = game.R[:, None] + beta * np.einsum("cnm,ctnk,ckl->ctml", B, eq.P[:, 1:], B)
    s_next = eq.s[:, 1:]
    k = beta * np.linalg.solve(G, np.einsum("cnm,ctn->ctm", B, s_next)[..., None])[..., 0]
    backward = max(
        np.abs(eq.s[:, :-1] - (beta * np.einsum("ctji,ctj->cti", F, s_next) - q[:, :-1])).max(),
        np.abs(eq.s[:, -1] + q[:, -1]).max(),
        np.abs(eq.k - k).max(),
    )
    step = np.einsum("ctij,ctj->cti", F, eq.mean[:, :-1]) - np.einsum("cnm,ctm->ctn", B, eq.k)
    forward = max(np.abs(eq.mean[:, 1:] - step).max(), np.abs(eq.mean[:, 0] - game.x0).max())
    return float(backward), float(forward)


def decentralised_policy(eq: Equilibrium, feedback: bool = True) -> Policy:
    """The decentralised equilibrium policy: feedback on the class means (default), or open-loop
    in the mean field (u = −K x − k_t along the equilibrium path, L = 0)."""
    if not isinstance(eq, Equilibrium):
        raise TypeError(f"eq: expected a finite-horizon Equilibrium, got {type(eq).__name__}")
    if feedback:
        return eq.feedback
    return Policy(eq.K, np.zeros_like(eq.feedback.L), eq.k)


def greedy_policy(game: LQGame) -> Policy:
    """The greedy (myopic) decentralised baseline: each step, each agent minimises its next stage
    cost ‖u‖²_R + E c_{t+1}(Ax + Bu) with the mean field held at its current value x̄_t, ignoring
    its own and the mean field's future:

        u = −(R + BᵀQ_eB)⁻¹ Bᵀ (Q_e A x − Q y_{t+1} − Q̄ (Γ x̄_t + η)).
    """
    if game.infinite:
        raise ValueError("horizon: policies for the N-player game need a finite horizon")
    Qe = game.Q + game.Qbar
    G = game.R + np.einsum("cnm,cnk,ckl->cml", game.B, Qe, game.B)
    T, C, n = game.horizon, game.classes, game.n
    K = np.linalg.solve(G, np.einsum("cnm,cnk,ckl->cml", game.B, Qe, game.A))
    pull = np.linalg.solve(G, np.einsum("cnm,cnk,ckl->cml", game.B, game.Qbar, game.Gamma))
    L = -(pull[:, :, None, :] * game.weights[None, None, :, None]).reshape(C, game.m, C * n)
    y = game.targets()[:, 1:]
    lin = np.einsum("cij,ctj->cti", game.Q, y) + (game.Qbar @ game.eta[..., None])[:, None, :, 0]
    k = -np.einsum("cmn,ctn->ctm", np.linalg.solve(G, np.swapaxes(game.B, 1, 2)), lin)
    return Policy(np.repeat(K[:, None], T, axis=1), np.repeat(L[:, None], T, axis=1), k)

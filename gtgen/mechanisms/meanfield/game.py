"""The linear-quadratic mean-field game: type classes, validation, populations.

A game is one ``LQGame`` of float64 numpy arrays with a leading axis of C type classes (agents
of a class share dynamics, weights, noise and targets); every field may be given once for all
classes or once per class. ``lq_game`` validates and broadcasts; a bad field raises one
ValueError naming it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gtgen.checks import integer


class LQGame(NamedTuple):
    """Agents x_{t+1} = A x_t + B u_t + w_t with stage cost ‖x − y_t‖²_Q + ‖x − Γx̄ − η‖²_Q̄ + ‖u‖²_R.

    Arrays have a leading axis of C type classes. ``reference`` is [C, T+1, n] (finite horizon)
    or [C, 1, n] (a constant target, the only kind the stationary infinite-horizon game has).
    ``horizon`` None is the discounted infinite horizon.
    """

    A: np.ndarray  # [C, n, n]
    B: np.ndarray  # [C, n, m]
    Q: np.ndarray  # [C, n, n] tracking weight, PSD
    Qbar: np.ndarray  # [C, n, n] mean-field coupling weight, PSD
    R: np.ndarray  # [C, m, m] control weight, PD
    Gamma: np.ndarray  # [C, n, n] coupling map: the target of the Q̄ term is Γ x̄ + η
    eta: np.ndarray  # [C, n]
    reference: np.ndarray  # [C, T+1, n] or [C, 1, n]
    noise: np.ndarray  # [C, n, n] covariance of w (i.i.d. over agents and time)
    x0: np.ndarray  # [C, n] mean of the initial state
    x0_cov: np.ndarray  # [C, n, n] covariance of the initial state
    weights: np.ndarray  # [C] population shares, sum 1
    horizon: int | None
    discount: float

    @property
    def classes(self) -> int:
        return self.A.shape[0]

    @property
    def n(self) -> int:
        return self.A.shape[1]

    @property
    def m(self) -> int:
        return self.B.shape[2]

    @property
    def infinite(self) -> bool:
        return self.horizon is None

    def targets(self) -> np.ndarray:
        """The tracking reference as [C, T+1, n] (a constant one repeated over the horizon)."""
        if self.infinite:
            return self.reference
        return np.broadcast_to(self.reference, (self.classes, self.horizon + 1, self.n))

    def replace(self, **changes: Any) -> LQGame:
        """A validated copy with some fields changed (``game.replace(Qbar=0.0)``)."""
        fields = self._asdict()
        fields.update(changes)
        return lq_game(**fields)


def _array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be numbers, got {type(value).__name__}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def _per_class(name: str, arr: np.ndarray, base_ndim: int, classes: int | None) -> np.ndarray:
    """``arr`` of base rank (shared) or base rank + 1 (one per class) as [C or 1, ...]."""
    if arr.ndim == base_ndim:
        return arr[None]
    if arr.ndim == base_ndim + 1:
        if classes is not None and arr.shape[0] not in (1, classes):
            raise ValueError(f"{name}: has {arr.shape[0]} type classes, but A has {classes}")
        return arr
    shapes = {1: "[n]", 2: "[n, n]"}
    raise ValueError(
        f"{name}: must be {shapes.get(base_ndim, 'a matrix')} (or one per type class), "
        f"got shape {arr.shape}"
    )


def _matrix(name: str, value: Any, n: int, classes: int, default: float = 0.0) -> np.ndarray:
    """A [C, n, n] weight: a matrix, one per class, or a scalar multiple of the identity."""
    arr = _array(name, default if value is None else value)
    if arr.ndim == 0:
        arr = arr * np.eye(n)
    arr = _per_class(name, arr, 2, classes)
    if arr.shape[1:] != (n, n):
        raise ValueError(f"{name}: must be [{n}, {n}] (n = {n} from A), got shape {arr.shape[1:]}")
    return np.broadcast_to(arr, (classes, n, n)).copy()


def _vector(name: str, value: Any, n: int, classes: int) -> np.ndarray:
    arr = _array(name, 0.0 if value is None else value)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    arr = _per_class(name, arr, 1, classes)
    if arr.shape[1] != n:
        raise ValueError(f"{name}: must have n = {n} entries (n from A), got shape {arr.shape[1:]}")
    return np.broadcast_to(arr, (classes, n)).copy()


def _check_psd(name: str, mats: np.ndarray, definite: bool = False) -> None:
    for c, mat in enumerate(mats):
        scale = max(1.0, float(np.max(np.abs(mat))))
        if np.max(np.abs(mat - mat.T)) > 1e-9 * scale:
            raise ValueError(f"{name}: must be symmetric (type class {c})")
        low = float(np.linalg.eigvalsh(mat).min())
        if definite and low <= 1e-12 * scale:
            raise ValueError(
                f"{name}: must be positive definite, got smallest eigenvalue {low:.3g} "
                f"(type class {c})"
            )
        if not definite and low < -1e-10 * scale:
            raise ValueError(
                f"{name}: must be positive semidefinite, got smallest eigenvalue {low:.3g} "
                f"(type class {c})"
            )


def _reference(value: Any, n: int, classes: int, horizon: int | None) -> np.ndarray:
    arr = _array("reference", 0.0 if value is None else value)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.ndim == 1:
        arr = arr[None, None, :]
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise ValueError(f"reference: must be [n], [T+1, n] or [C, T+1, n], got shape {arr.shape}")
    steps = 1 if horizon is None else horizon + 1
    if arr.shape[0] not in (1, classes):
        raise ValueError(f"reference: has {arr.shape[0]} type classes, but A has {classes}")
    if arr.shape[2] != n:
        raise ValueError(f"reference: must have n = {n} entries per step, got shape {arr.shape}")
    if arr.shape[1] not in (1, steps):
        need = "a constant [n] target" if horizon is None else f"T + 1 = {steps} steps"
        raise ValueError(f"reference: needs {need}, got {arr.shape[1]} steps")
    return np.broadcast_to(arr, (classes, arr.shape[1], n)).copy()


def _uncontrollable_mode(A: np.ndarray, B: np.ndarray) -> complex | None:
    """An eigenvalue |λ| ≥ 1 of A with rank [A − λI, B] < n (PBH test), or None."""
    n = A.shape[0]
    for lam in np.linalg.eigvals(A):
        if abs(lam) >= 1.0 - 1e-9:
            pencil = np.hstack([A - lam * np.eye(n), B.astype(complex)])
            if np.linalg.matrix_rank(pencil, tol=1e-9 * max(1.0, np.abs(pencil).max())) < n:
                return complex(lam)
    return None


def lq_game(
    A: Any,
    B: Any,
    Q: Any,
    R: Any,
    *,
    Qbar: Any = None,
    Gamma: Any = None,
    eta: Any = None,
    reference: Any = None,
    noise: Any = None,
    x0: Any = None,
    x0_cov: Any = None,
    weights: Any = None,
    horizon: int | None = 20,
    discount: float = 1.0,
) -> LQGame:
    """Validate and broadcast a linear-quadratic mean-field game (see the package docstring).

    Args:
      A: dynamics of the state, [n, n], or [C, n, n] for C type classes.
      B: dynamics of the control, [n, m], or [C, n, m].
      Q: tracking weight (PSD); a number means a multiple of I.
      R: control weight (PD); a number means a multiple of I.
      Qbar: weight Q̄ of the coupling term ‖x − Γ x̄ − η‖²_Q̄ (default 0).
      Gamma: Γ of the coupling term (default I).
      eta: η of the coupling term (default 0).
      reference: the tracking target y_t: [n] constant, [T+1, n], or [C, T+1, n].
      noise: covariance of w (default 0).
      x0: mean of x_0 (default 0).
      x0_cov: covariance of x_0 (default 0).
      weights: population shares of the classes (default equal), positive, sum 1.
      horizon: T ≥ 1 steps, or None for the discounted infinite horizon (needs discount < 1
        and a stabilisable, detectable (√β A, √β B, Q + Q̄)).
      discount: β in (0, 1].
    Raises:
      ValueError: a bad field, named.
    """
    A = _array("A", A)
    if A.ndim not in (2, 3) or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A: must be a square matrix [n, n] (or [C, n, n]), got shape {A.shape}")
    A = _per_class("A", A, 2, None)
    n = A.shape[-1]
    B = _array("B", B)
    if B.ndim not in (2, 3):
        raise ValueError(f"B: must be a matrix [n, m] (or [C, n, m]), got shape {B.shape}")
    B = _per_class("B", B, 2, None)
    if B.shape[1] != n:
        raise ValueError(f"B: must have n = {n} rows like A, got shape {B.shape[1:]}")
    if B.shape[2] < 1:
        raise ValueError("B: needs at least one control column")
    classes = max(A.shape[0], B.shape[0])
    for name, arr in (("A", A), ("B", B)):
        if arr.shape[0] not in (1, classes):
            raise ValueError(
                f"{name}: has {arr.shape[0]} type classes, but another field has {classes}"
            )
    for value, base in (
        (Q, 2),
        (R, 2),
        (Qbar, 2),
        (Gamma, 2),
        (noise, 2),
        (x0_cov, 2),
        (eta, 1),
        (x0, 1),
    ):
        if value is not None and np.ndim(value) == base + 1:
            classes = max(classes, np.shape(value)[0])
    if weights is not None:
        classes = max(classes, np.asarray(weights).reshape(-1).shape[0])
    A = np.broadcast_to(A, (classes, n, n)).copy() if A.shape[0] == 1 else A
    B = np.broadcast_to(B, (classes, *B.shape[1:])).copy() if B.shape[0] == 1 else B
    if A.shape[0] != classes or B.shape[0] != classes:
        raise ValueError(
            f"A, B: have {A.shape[0]} and {B.shape[0]} type classes, other fields {classes}"
        )
    m = B.shape[2]
    Q = _matrix("Q", Q, n, classes)
    _check_psd("Q", Q)
    R = _array("R", R)
    if R.ndim == 0:
        R = R * np.eye(m)
    R = _per_class("R", R, 2, classes)
    if R.shape[1:] != (m, m):
        raise ValueError(f"R: must be [{m}, {m}] (m = {m} from B), got shape {R.shape[1:]}")
    R = np.broadcast_to(R, (classes, m, m)).copy()
    _check_psd("R", R, definite=True)
    Qbar = _matrix("Qbar", Qbar, n, classes)
    _check_psd("Qbar", Qbar)
    Gamma = _matrix("Gamma", Gamma, n, classes, default=1.0)
    noise = _matrix("noise", noise, n, classes)
    _check_psd("noise", noise)
    x0_cov = _matrix("x0_cov", x0_cov, n, classes)
    _check_psd("x0_cov", x0_cov)
    eta = _vector("eta", eta, n, classes)
    x0 = _vector("x0", x0, n, classes)
    if weights is None:
        w = np.full(classes, 1.0 / classes)
    else:
        w = _array("weights", weights).reshape(-1)
        if w.shape[0] != classes or np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-9:
            raise ValueError(
                f"weights: must be {classes} positive population shares summing to "
                f"1, got {w.tolist()}"
            )
    if horizon is not None:
        horizon = integer("horizon", horizon)
    if (
        isinstance(discount, bool)
        or not isinstance(discount, (int, float, np.floating))
        or not (0.0 < discount <= 1.0)
    ):
        raise ValueError(f"discount: must be a number in (0, 1], got {discount!r}")
    discount = float(discount)
    reference = _reference(reference, n, classes, horizon)
    if horizon is None:
        if discount >= 1.0:
            raise ValueError(
                "discount: the infinite-horizon game needs a discount in (0, 1), got 1.0"
            )
        _check_infinite(A, B, Q + Qbar, discount)
    return LQGame(A, B, Q, Qbar, R, Gamma, eta, reference, noise, x0, x0_cov, w, horizon, discount)


def _check_infinite(A, B, Qe, beta) -> None:
    """Stabilisable (√β A, √β B) and detectable (√β A, Q + Q̄): the stationary Riccati equation
    then has its unique stabilising solution."""
    for c in range(A.shape[0]):
        a = np.sqrt(beta) * A[c]
        lam = _uncontrollable_mode(a, np.sqrt(beta) * B[c])
        if lam is not None:
            raise ValueError(
                f"A, B: the pair (√β A, √β B) is not stabilisable in type class {c}: the mode "
                f"λ = {lam:.4g} of √β A is uncontrollable (the infinite-horizon game needs every "
                "mode with |λ| ≥ 1 controllable)"
            )
        lam = _uncontrollable_mode(a.T, Qe[c])
        if lam is not None:
            raise ValueError(
                f"Q: (√β A, Q + Qbar) is not detectable in type class {c}: the mode λ = {lam:.4g} "
                "is unpenalised and not stable"
            )


def population(game: LQGame, players: int) -> np.ndarray:
    """Agents per class for a population of ``players`` (largest remainder of the shares, each
    class at least one agent)."""
    players = integer("players", players, low=game.classes)
    raw = game.weights * players
    counts = np.maximum(np.floor(raw).astype(np.int64), 1)
    while counts.sum() < players:
        counts[np.argmax(raw - counts)] += 1
    while counts.sum() > players:
        counts[np.argmax(np.where(counts > 1, counts - raw, -np.inf))] -= 1
    return counts


def check_counts(game: LQGame, counts: Any) -> np.ndarray:
    """Agents per class as a validated int64 [C] array."""
    arr = np.asarray(counts)
    if arr.shape != (game.classes,) or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 1):
        raise ValueError(
            f"counts: must be {game.classes} positive integers (agents per type class), got "
            f"{np.asarray(counts).tolist()}"
        )
    return arr.astype(np.int64)


def random_game(
    seed: int = 0,
    classes: int = 2,
    n: int = 2,
    m: int = 1,
    horizon: int | None = 20,
    coupling: float = 1.0,
    discount: float = 1.0,
) -> LQGame:
    """A game whose type classes are drawn from a type distribution (numpy seed ``seed``).

    Class c: A_c = 0.9 I + 0.15 G_c, B_c = [I; 0] + 0.3 H_c (G, H standard normal), noise
    σ_c² I with σ_c log-uniform in [0.05, 0.5], coupling targets η_c ~ N(0, 1), Q = I,
    Q̄ = ``coupling`` · I, R = 0.5 I, Γ = 0.8 I, shares Dirichlet(2), x_0 ~ N(η_c, 0.1 I), and
    a sinusoidal tracking reference y_t.
    """
    rng = np.random.default_rng(seed)
    A = 0.9 * np.eye(n) + 0.15 * rng.standard_normal((classes, n, n))
    base = np.zeros((n, m))
    base[: min(n, m), : min(n, m)] = np.eye(min(n, m))
    B = base + 0.3 * rng.standard_normal((classes, n, m))
    sigma = np.exp(rng.uniform(np.log(0.05), np.log(0.5), classes))
    eta = rng.standard_normal((classes, n))
    steps = 1 if horizon is None else horizon + 1
    phase = rng.uniform(0, 2 * np.pi, n)
    t = np.arange(steps)[:, None]
    reference = np.sin(2 * np.pi * t / 12.0 + phase) if horizon is not None else np.zeros(n)
    weights = rng.dirichlet(np.full(classes, 2.0))
    return lq_game(
        A,
        B,
        1.0,
        0.5,
        Qbar=coupling,
        Gamma=0.8,
        eta=eta,
        reference=reference,
        noise=sigma[:, None, None] ** 2 * np.eye(n),
        x0=eta,
        x0_cov=0.1,
        weights=weights,
        horizon=horizon,
        discount=discount,
    )

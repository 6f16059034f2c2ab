"""Closed-form equilibrium (``nash_equilibrium``) and ``check`` against independent oracles.

Oracles written here, in float64 numpy:
- the Neumann series μ* = Σ_t Bᵗ D m, summed by repeated squaring (no linear solve);
- reachability of real data by a transitive closure of the graph of α;
- the worked cases of PAPERS.md §1 (two players with α_ii = a; four players all 1/4);
- the Nash gap as a closed-form KL divergence (Gaussian formula, scipy.special.rel_entr);
- ρ(B) by numpy.linalg.eigvals, and the exact error recursion e_{t+1} = B e_t.
"""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

import gtgen
from gtgen import expfam

SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True)

# ----------------------------------------------------------------------------- oracles


def split(alpha):
    d = np.diagonal(alpha).copy()
    return d, alpha - np.diag(d)


def neumann_equilibrium(alpha, m, doublings=80):
    """μ* = Σ_{t≥0} Bᵗ D m by repeated squaring: S_{2k} = S_k + Bᵏ S_k (float64, no solve)."""
    d, b = split(np.asarray(alpha, np.float64))
    acc = d[:, None] * np.asarray(m, np.float64)
    power = b.copy()
    for _ in range(doublings):
        acc = acc + power @ acc
        power = power @ power
        if not np.any(power):
            break
    return acc


def stuck_players(alpha):
    """Players that never reach, along α_ij > 0, a player with α_jj > 0 (transitive closure)."""
    n = len(alpha)
    reach = (np.asarray(alpha) > 0) | np.eye(n, dtype=bool)
    for _ in range(max(1, math.ceil(math.log2(n)) + 1)):
        reach = (reach.astype(int) @ reach.astype(int)) > 0
    anchors = np.diagonal(np.asarray(alpha)) > 0
    return sorted(int(i) for i in np.flatnonzero(~(reach & anchors[None, :]).any(axis=1)))


def named_players(message):
    found = re.search(r"players ([\d, ]+)", message)
    assert found, message
    return sorted(int(s) for s in found.group(1).replace(" ", "").strip(",").split(","))


def dense_alpha(rng, n):
    return rng.dirichlet(np.full(n, rng.uniform(0.3, 3.0)), size=n)


def sparse_alpha(rng, n, p_zero):
    """Random zeros; player 0 is an anchor (α_00 > 0); every row keeps some mass."""
    mask = rng.uniform(size=(n, n)) >= p_zero
    mask[0, 0] = True
    for i in range(n):
        if not mask[i].any():
            mask[i, rng.integers(n)] = True
    a = rng.uniform(0.05, 1.0, (n, n)) * mask
    return a / a.sum(axis=1, keepdims=True)


def ring_alpha(n, a, perm):
    """One anchor (α_00 = a), every other player trusts only its predecessor; relabelled by perm."""
    alpha = np.zeros((n, n))
    alpha[0, 0] = a
    alpha[0, n - 1] += 1.0 - a
    for i in range(1, n):
        alpha[i, i - 1] = 1.0
    p = np.eye(n)[perm]  # player perm[k] of the new labelling is player k of the ring
    return p.T @ alpha @ p


def random_moments(rng, n, k):
    return rng.normal(0.0, rng.uniform(0.1, 10.0), (n, k))


def assert_close_to_oracle(got, want, alpha):
    # Forward error of a linear solve: ~ cond(I − B) · eps · |μ|.
    _, b = split(alpha)
    cond = np.linalg.cond(np.eye(len(alpha)) - b)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * cond * scale + 1e-12)


# ----------------------------------------------------------------------------- nash_equilibrium


@PROPERTY
@given(seed=SEEDS, n=st.integers(1, 8), k=st.integers(1, 4))
def test_dense_alpha_matches_neumann_series(seed, n, k):
    rng = np.random.default_rng(seed)
    alpha, m = dense_alpha(rng, n), random_moments(rng, n, k)
    got = gtgen.expfam.nash_equilibrium(alpha, m)
    assert got.shape == (n, k)
    assert_close_to_oracle(got, neumann_equilibrium(alpha, m), alpha)
    # and it is a fixed point of the best-response map μ = D m + B μ
    d, b = split(alpha)
    np.testing.assert_allclose(got, d[:, None] * m + b @ got, atol=1e-9 * max(1, np.abs(m).max()))


@PROPERTY
@given(seed=SEEDS, n=st.integers(2, 8), k=st.integers(1, 3), p_zero=st.floats(0.2, 0.9))
def test_sparse_alpha_matches_oracle_or_names_stuck_players(seed, n, k, p_zero):
    rng = np.random.default_rng(seed)
    alpha, m = sparse_alpha(rng, n, p_zero), random_moments(rng, n, k)
    stuck = stuck_players(alpha)
    if stuck:
        with pytest.raises(ValueError, match="alpha") as err:
            gtgen.expfam.nash_equilibrium(alpha, m)
        assert named_players(str(err.value)) == stuck
        assert gtgen.spectral_radius(alpha) == pytest.approx(1.0, abs=1e-9)
    else:
        got = gtgen.expfam.nash_equilibrium(alpha, m)
        assert_close_to_oracle(got, neumann_equilibrium(alpha, m), alpha)
        assert gtgen.spectral_radius(alpha) < 1.0


@PROPERTY
@given(
    seed=SEEDS,
    n=st.integers(2, 8),
    k=st.integers(1, 3),
    a=st.floats(0.01, 1.0),
)
def test_ring_with_one_anchor_copies_the_anchor(seed, n, k, a):
    """μ_0 = a m_0 + (1−a) μ_{N−1}, μ_i = μ_{i−1}: every player ends at the anchor's moments."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    alpha = ring_alpha(n, a, perm)
    anchor = int(perm[0])
    m = random_moments(rng, n, k)
    got = gtgen.expfam.nash_equilibrium(alpha, m)
    np.testing.assert_allclose(
        got, np.broadcast_to(m[anchor], (n, k)), atol=1e-9 * max(1, np.abs(m).max()) / a
    )
    assert_close_to_oracle(got, neumann_equilibrium(alpha, m), alpha)
    # B is a weighted cycle: Bᴺ = (1 − a) I, so ρ(B) = (1 − a)^(1/N)
    assert gtgen.spectral_radius(alpha) == pytest.approx((1.0 - a) ** (1.0 / n), abs=1e-7)


@PROPERTY
@given(seed=SEEDS, n=st.integers(2, 6), k=st.integers(1, 3))
def test_permuting_players_permutes_the_equilibrium(seed, n, k):
    rng = np.random.default_rng(seed)
    alpha, m = dense_alpha(rng, n), random_moments(rng, n, k)
    perm = rng.permutation(n)
    got = gtgen.expfam.nash_equilibrium(alpha[np.ix_(perm, perm)], m[perm])
    np.testing.assert_allclose(
        got, gtgen.expfam.nash_equilibrium(alpha, m)[perm], atol=1e-9 * np.abs(m).max()
    )


@PROPERTY
@given(seed=SEEDS, a=st.floats(0.01, 1.0), k=st.integers(1, 4))
def test_worked_case_two_players(seed, a, k):
    """PAPERS.md §1: p_1 = (π_1 + (1 − a) π_2) / (2 − a), and symmetrically for p_2."""
    rng = np.random.default_rng(seed)
    pi = rng.normal(0, 5, (2, k))
    got = gtgen.expfam.nash_equilibrium([[a, 1 - a], [1 - a, a]], pi)
    want = np.stack([(pi[0] + (1 - a) * pi[1]) / (2 - a), (pi[1] + (1 - a) * pi[0]) / (2 - a)])
    np.testing.assert_allclose(got, want, atol=1e-10 * max(1, np.abs(pi).max()) / a)


@PROPERTY
@given(seed=SEEDS, k=st.integers(1, 4))
def test_worked_case_four_players_uniform(seed, k):
    """PAPERS.md §1: all α_ij = 1/4 gives p_i = (2 π_i + Σ_{j≠i} π_j) / 5."""
    pi = np.random.default_rng(seed).normal(0, 5, (4, k))
    got = gtgen.expfam.nash_equilibrium(np.full((4, 4), 0.25), pi)
    want = (2 * pi + (pi.sum(axis=0) - pi)) / 5
    np.testing.assert_allclose(got, want, atol=1e-10 * max(1, np.abs(pi).max()))


def test_self_reliant_players_keep_their_own_moments():
    m = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(gtgen.expfam.nash_equilibrium(np.eye(3), m), m)


@pytest.mark.parametrize(
    "alpha, stuck",
    [
        ([[1, 0, 0], [0, 0, 1], [0, 1, 0]], [1, 2]),
        ([[0, 1], [1, 0]], [0, 1]),
        ([[0.5, 0.5, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0.5, 0, 0.5]], [1, 2]),
        ([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0]], [1, 2, 3]),
    ],
)
def test_non_unique_equilibrium_names_the_closed_group(alpha, stuck):
    alpha = np.asarray(alpha, float)
    assert stuck_players(alpha) == stuck  # the oracle agrees with the hand analysis
    with pytest.raises(ValueError, match=r"alpha: .*not unique") as err:
        gtgen.expfam.nash_equilibrium(alpha, np.ones((len(alpha), 2)))
    assert named_players(str(err.value)) == stuck
    # the same through a Game: game_equilibrium and check refuse too
    game = gtgen.Game([expfam.bernoulli(1)] * len(alpha), alpha, [[[0], [1]]] * len(alpha))
    with pytest.raises(ValueError, match="not unique"):
        gtgen.game_equilibrium(game)
    with pytest.raises(ValueError, match="not unique"):
        gtgen.check(game, game.own_moments())


# ----------------------------------------------------------------------------- spectral radius


@PROPERTY
@given(seed=SEEDS, n=st.integers(1, 9), kind=st.sampled_from(["dense", "sparse"]))
def test_spectral_radius_matches_numpy(seed, n, kind):
    rng = np.random.default_rng(seed)
    alpha = dense_alpha(rng, n) if kind == "dense" else sparse_alpha(rng, n, 0.6)
    _, b = split(alpha)
    want = np.max(np.abs(np.linalg.eigvals(b)))
    assert gtgen.spectral_radius(alpha) == pytest.approx(want, abs=1e-9)
    assert gtgen.spectral_radius(alpha) <= np.max(1 - np.diagonal(alpha)) + 1e-12


# ----------------------------------------------------------------------------- check()


def gaussian_game(seed, n=3, d=2, alpha=None):
    rng = np.random.default_rng(seed)
    alpha = dense_alpha(rng, n) if alpha is None else np.asarray(alpha, float)
    data = [rng.normal(rng.normal(0, 1, d), rng.uniform(0.5, 1.5, d), (40, d)) for _ in range(n)]
    return gtgen.Game([expfam.gaussian(d)] * n, alpha, data), alpha, data


def gaussian_stats(x):
    x = np.asarray(x, np.float64)
    return np.concatenate([x.mean(0), (x * x).mean(0)])


def gaussian_kl(p, q, d):
    mp, vp = p[:d], p[d:] - p[:d] ** 2
    mq, vq = q[:d], q[d:] - q[:d] ** 2
    return float(np.sum(0.5 * (np.log(vq / vp) + (vp + (mp - mq) ** 2) / vq - 1.0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_check_at_closed_form_is_zero(seed):
    game, alpha, data = gaussian_game(seed)
    own = np.stack([gaussian_stats(x) for x in data])
    star = neumann_equilibrium(alpha, own)
    np.testing.assert_allclose(
        gtgen.game_equilibrium(game)[0], star, atol=1e-5 * np.abs(star).max()
    )
    report = gtgen.check(game, (jnp.asarray(star, jnp.float32),))
    scale = np.abs(star).max()
    assert report.residual < 1e-5 * scale
    assert report.distance < 1e-5 * scale
    assert len(report.nash_gap) == 3
    assert np.all(np.abs(report.nash_gap) < 1e-5)
    np.testing.assert_allclose(np.stack(report.closed_form), star, atol=1e-5 * scale)


@pytest.mark.parametrize("seed", [0, 3])
def test_check_away_from_equilibrium_measures_kl_gap(seed):
    """At μ = own moments player i's gap is KL(N(BR_i) ‖ N(μ_i)), BR_i = α_ii m_i + Σ α_ij μ_j."""
    d = 2
    game, alpha, data = gaussian_game(seed, d=d)
    own = np.stack([gaussian_stats(x) for x in data])
    diag, b = split(alpha)
    best = diag[:, None] * own + b @ own
    report = gtgen.check(game, (jnp.asarray(own, jnp.float32),))
    gaps = [gaussian_kl(best[i], own[i], d) for i in range(3)]
    assert all(g > 1e-3 for g in gaps)
    np.testing.assert_allclose(report.nash_gap, gaps, rtol=2e-3, atol=1e-5)
    assert report.residual == pytest.approx(np.abs(own - best).max(), rel=1e-4)
    star = neumann_equilibrium(alpha, own)
    assert report.distance == pytest.approx(np.abs(own - star).max(), rel=1e-4)
    np.testing.assert_allclose(np.stack(report.reached), own, rtol=1e-5, atol=1e-6)


def test_check_nash_gap_bernoulli_by_rel_entr():
    rng = np.random.default_rng(5)
    n, d = 3, 4
    alpha = dense_alpha(rng, n)
    data = [rng.integers(0, 2, (30, d)) for _ in range(n)]
    game = gtgen.Game([expfam.bernoulli(d)] * n, alpha, data)
    mu = rng.uniform(0.1, 0.9, (n, d))  # an arbitrary profile, not the own moments
    own = np.stack([np.mean(x, axis=0) for x in data])
    diag, b = split(alpha)
    best = diag[:, None] * own + b @ mu
    want = [
        float(np.sum(special.rel_entr(best[i], mu[i]) + special.rel_entr(1 - best[i], 1 - mu[i])))
        for i in range(n)
    ]
    report = gtgen.check(game, (jnp.asarray(mu, jnp.float32),))
    np.testing.assert_allclose(report.nash_gap, want, rtol=2e-3, atol=1e-6)
    assert min(report.nash_gap) > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_check_rate_is_spectral_radius_of_b(seed):
    alpha = sparse_alpha(np.random.default_rng(seed), 3, 0.3)
    game, _, _ = gaussian_game(0, alpha=alpha)
    report = gtgen.check(game, game.own_moments())
    _, b = split(alpha)
    assert report.rate == pytest.approx(np.max(np.abs(np.linalg.eigvals(b))), abs=1e-9)


def bernoulli_game(alpha, seed=0, d=3):
    rng = np.random.default_rng(seed)
    n = len(alpha)
    data = [rng.integers(0, 2, (20, d)) for _ in range(n)]
    return gtgen.Game([expfam.bernoulli(d)] * n, alpha, data)


def observed_rounds(game, tol, rounds=300):
    """Exact best-response rounds until max |μ_t − μ*| ≤ tol, read from the solver's trace."""
    star = gtgen.game_equilibrium(game)
    sol = gtgen.solve(
        game, jax.random.key(0), method="exact", rounds=rounds, tol=0.0, reference=star
    )
    below = np.flatnonzero(np.asarray(sol.trace.distance) <= tol)
    assert below.size, "never reached tol"
    return int(below[0]) + 1


@pytest.mark.parametrize("a", [0.5, 0.3, 0.1])
@pytest.mark.parametrize("tol", [1e-3, 1e-4])
def test_rounds_to_tol_matches_exact_iteration(a, tol):
    """Two players with α_ii = a: |e_t|_∞ = (1 − a)ᵗ |e_0|_∞ exactly, so the prediction is sharp."""
    game = bernoulli_game([[a, 1 - a], [1 - a, a]])
    report = gtgen.check(game, game.own_moments(), tol=tol)
    rho = 1 - a
    assert report.rate == pytest.approx(rho)
    assert abs(observed_rounds(game, tol) - report.rounds_to_tol) <= 1
    # solve(tol=...) stops on the step |μ_{t+1} − μ_t| (scale 1 here: moments lie in [0, 1]).
    # With |e_t| = ρᵗ e0 and (1 − ρ)|e_t| ≤ step_t ≤ (1 + ρ)|e_t| (max norm), it stops after
    # t + 1 rounds with t between the first t where (1 + ρ)ρᵗ e0 < tol and where (1 − ρ)ρᵗ e0 < tol.
    star = gtgen.game_equilibrium(game)[0]
    e0 = np.abs(np.asarray(game.own_moments()[0], np.float64) - star).max()

    def first(c):
        return math.ceil(math.log(tol / (c * e0)) / math.log(rho))

    sol = gtgen.solve(game, jax.random.key(0), method="exact", rounds=300, tol=tol)
    assert first(1.0) == report.rounds_to_tol
    assert first(1 - rho) <= sol.rounds_run <= first(1 + rho) + 2


@pytest.mark.parametrize("a", [0.5, 0.2])
def test_rounds_to_tol_ring_within_two_rounds(a):
    n, tol = 4, 1e-4  # N = 4 as below: one compile
    alpha = ring_alpha(n, a, np.arange(n))
    game = bernoulli_game(alpha, seed=4)
    report = gtgen.check(game, game.own_moments(), tol=tol)
    assert abs(observed_rounds(game, tol) - report.rounds_to_tol) <= 2


def exact_error_rounds(alpha, own, tol, cap=10_000):
    """Rounds of e_{t+1} = B e_t (float64) until max |e_t| ≤ tol: the exact count."""
    star = neumann_equilibrium(alpha, own)
    _, b = split(alpha)
    e = own - star
    for t in range(cap):
        if np.abs(e).max() <= tol:
            return t
        e = b @ e
    raise AssertionError("no convergence")


def test_rounds_to_tol_chain_of_followers():
    n, tol = 4, 1e-4
    alpha = np.zeros((n, n))
    alpha[0, 0] = 1.0
    for i in range(1, n):
        alpha[i, i - 1] = 1.0
    game = bernoulli_game(alpha, seed=1)
    own = np.asarray(game.own_moments()[0], np.float64)
    report = gtgen.check(game, game.own_moments(), tol=tol)
    assert report.rate == 0.0
    observed = observed_rounds(game, tol)
    assert observed == exact_error_rounds(alpha, own, tol) == n - 1  # oracle and solver agree
    assert abs(observed - report.rounds_to_tol) <= 1  # exact oracle: no ρ-approximation slack


def test_rounds_to_tol_dense_alpha_within_two_rounds():
    tol = 1e-4
    alpha = dense_alpha(np.random.default_rng(0), 4)
    game = bernoulli_game(alpha, seed=4)
    own = np.asarray(game.own_moments()[0], np.float64)
    report = gtgen.check(game, game.own_moments(), tol=tol)
    observed = observed_rounds(game, tol)
    assert abs(observed - exact_error_rounds(alpha, own, tol)) <= 1  # solver follows the recursion
    assert abs(observed - report.rounds_to_tol) <= 2


def test_spectral_radius_large_games_bracket():
    """Above the dense limit ρ(B) is a Collatz–Wielandt upper bound: tight when power iteration
    converges (uniform rows: ρ = 1 − a exactly), and still ≥ ρ on a cyclic ring."""
    n = gtgen.solvers.equilibrium.DENSE_EIGEN_MAX + 50
    a = 0.3
    uniform_alpha = np.full((n, n), (1 - a) / (n - 1))
    np.fill_diagonal(uniform_alpha, a)
    assert gtgen.spectral_radius(uniform_alpha) == pytest.approx(1 - a, abs=1e-9)
    ring = np.zeros((n, n))
    ring[0, 0], ring[0, n - 1] = 0.5, 0.5
    ring[np.arange(1, n), np.arange(n - 1)] = 1.0
    assert gtgen.spectral_radius(ring) >= 0.5 ** (1 / n) - 1e-12

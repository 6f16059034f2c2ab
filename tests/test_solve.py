"""``gtgen.solve``: exact, Anderson and sampled solvers against independent oracles.

Oracles (float64 numpy, written here):
- own moments: per-player (weighted) numpy means of the sufficient statistics;
- homogeneous equilibria: the Neumann series Σ_t Bᵗ D m by repeated squaring;
- heterogeneous (diagonal + full Gaussian) equilibria: a hierarchical derivation — the means by
  one linear solve, the diagonal second moments by a second, and the full players' off-diagonal
  second moments by a third that feeds in the diagonal players' m mᵀ;
- the sampled solver's noise scale, derived from the covariance of the sufficient statistics at
  the equilibrium (see ``noise_sd``).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

import gtgen
from gtgen import expfam
from gtgen.solvers.solve import compiled

EXACT_ROUNDS = 500  # every exact / Anderson solve uses this, so structures share compiles
SIZES = (25, 40, 61)  # ragged on purpose

# ----------------------------------------------------------------------------- helpers


def split(alpha):
    d = np.diagonal(alpha).copy()
    return d, alpha - np.diag(d)


def neumann_equilibrium(alpha, m, doublings=80):
    """μ* = Σ_t Bᵗ D m, summed by repeated squaring (no linear solve)."""
    d, b = split(np.asarray(alpha, np.float64))
    acc, power = d[:, None] * np.asarray(m, np.float64), b.copy()
    for _ in range(doublings):
        acc = acc + power @ acc
        power = power @ power
    return acc


def stats_np(family, x):
    x = np.asarray(x, np.float64)
    if family == "gaussian":
        return np.concatenate([x, x * x], axis=1)
    if family == "gaussian_full":
        return np.concatenate([x, np.einsum("ni,nj->nij", x, x).reshape(len(x), -1)], axis=1)
    if family == "categorical":
        return np.eye(4)[x.astype(int)]
    return x


def make_data(family, rng, sizes=SIZES):
    out = []
    for i, n in enumerate(sizes):
        if family in ("gaussian", "gaussian_full"):
            a = rng.normal(size=(2, 2)) * (0.3 if family == "gaussian_full" else 0.0) + np.eye(
                2
            ) * (0.6 + 0.3 * i)
            out.append(rng.normal(size=(n, 2)) @ a.T + rng.normal(0, 1.0, 2))
        elif family == "bernoulli":
            out.append((rng.uniform(size=(n, 3)) < rng.uniform(0.1, 0.9, 3)).astype(float))
        elif family == "categorical":
            out.append(rng.choice(4, size=n, p=rng.dirichlet(np.ones(4))))
        elif family == "poisson":
            out.append(rng.poisson(rng.uniform(0.5, 6.0, 2), size=(n, 2)).astype(float))
    return out


PLAYERS = {
    "gaussian": expfam.gaussian(2),
    "gaussian_full": expfam.gaussian_full(2),
    "bernoulli": expfam.bernoulli(3),
    "categorical": expfam.categorical(4),
    "poisson": expfam.poisson(2),
}
ALPHA3 = np.random.default_rng(0).dirichlet(np.ones(3), size=3)


def family_game(family, seed=0, alpha=ALPHA3, weights=None):
    data = make_data(family, np.random.default_rng(seed))
    return gtgen.Game([PLAYERS[family]] * len(data), alpha, data, weights=weights), data


def ulps(n, scale):
    """n float32 roundings at ``scale``: the honest tolerance between two float32 programs that
    compute the same thing with differently ordered operations."""
    return n * float(np.finfo(np.float32).eps) * scale


def f64(per_group):
    return [np.asarray(p, np.float64) for p in per_group]


# ----------------------------------------------------------------------------- exact and Anderson


@pytest.mark.parametrize("family", list(PLAYERS))
@pytest.mark.parametrize("method", ["exact", "anderson"])
def test_exact_and_anderson_reach_closed_form(family, method):
    game, data = family_game(family)
    own = np.stack([stats_np(family, x).mean(axis=0) for x in data])
    star = neumann_equilibrium(ALPHA3, own)
    sol = gtgen.solve(game, jax.random.key(0), method=method, rounds=EXACT_ROUNDS, tol=1e-7)
    scale = max(1.0, np.abs(star).max())
    np.testing.assert_allclose(f64(sol.params)[0], star, rtol=0, atol=1e-5 * scale)
    # and the library's own closed form agrees with the oracle
    np.testing.assert_allclose(gtgen.game_equilibrium(game)[0], star, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("damping", [0.5, 0.8])
def test_damped_exact_reaches_the_same_fixed_point(damping):
    game, data = family_game("gaussian")
    own = np.stack([stats_np("gaussian", x).mean(axis=0) for x in data])
    star = neumann_equilibrium(ALPHA3, own)
    plain = gtgen.solve(game, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS, tol=1e-7)
    damped = gtgen.solve(
        game, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS, tol=1e-7, damping=damping
    )
    np.testing.assert_allclose(f64(damped.params)[0], star, atol=1e-5 * np.abs(star).max())
    assert damped.rounds_run > plain.rounds_run  # damping slows a contraction down


def test_anderson_beats_exact_when_rate_is_close_to_one():
    rng = np.random.default_rng(1)
    n = 4
    self_weight = np.array([0.02, 0.05, 0.08, 0.03])
    alpha = rng.dirichlet(np.ones(n - 1), size=n) * (1 - self_weight)[:, None]
    alpha = np.stack([np.insert(alpha[i], i, self_weight[i]) for i in range(n)])
    rho = np.max(np.abs(np.linalg.eigvals(split(alpha)[1])))
    assert rho >= 0.9
    data = make_data("gaussian", rng, sizes=(30, 30, 30, 30))
    game = gtgen.Game([PLAYERS["gaussian"]] * n, alpha, data)
    own = np.stack([stats_np("gaussian", x).mean(axis=0) for x in data])
    star = neumann_equilibrium(alpha, own)
    runs = {
        m: gtgen.solve(game, jax.random.key(0), method=m, rounds=EXACT_ROUNDS, tol=1e-6)
        for m in ("exact", "anderson")
    }
    for sol in runs.values():
        assert sol.rounds_run < EXACT_ROUNDS
        np.testing.assert_allclose(f64(sol.params)[0], star, atol=2e-4 * np.abs(star).max())
    assert 2 * runs["anderson"].rounds_run < runs["exact"].rounds_run


def test_trace_is_nan_after_rounds_run_and_finite_before():
    game, _ = family_game("bernoulli")
    star = gtgen.game_equilibrium(game)
    sol = gtgen.solve(
        game, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS, tol=1e-4, reference=star
    )
    t = sol.rounds_run
    assert 1 < t < EXACT_ROUNDS
    for series in (sol.trace.step, sol.trace.distance):
        s = np.asarray(series)
        assert s.shape == (EXACT_ROUNDS,)
        assert np.all(np.isfinite(s[:t])) and np.all(np.isnan(s[t:]))
    steps = np.asarray(sol.trace.step)[:t]
    assert steps[-1] < 1e-4 <= steps[-2]  # it stopped at the first step below tol
    # without a reference the distance column is NaN throughout
    assert np.all(
        np.isnan(
            np.asarray(
                gtgen.solve(
                    game, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS
                ).trace.distance
            )
        )
    )


# ----------------------------------------------------------------------------- heterogeneous games


HET_KINDS = ("full", "diag", "full", "diag", "diag")  # interleaved on purpose
HET_ALPHA = np.random.default_rng(4).dirichlet(np.ones(5), size=5)


def hetero_game(seed=0):
    rng = np.random.default_rng(seed)
    data = make_data("gaussian_full", rng, sizes=(30, 45, 20, 50, 35))
    players = [expfam.gaussian_full(2) if k == "full" else expfam.gaussian(2) for k in HET_KINDS]
    return gtgen.Game(players, HET_ALPHA, data), data


def hetero_oracle(alpha, data, kinds):
    """The projected equilibrium, hierarchically (PAPERS.md §1 moment matching per statistic).

    1. means: m̄ = (I − B)⁻¹ D x̄ (every player sees every sender's mean);
    2. diagonal second moments: s = (I − B)⁻¹ D diag(own) (everyone sees E[x_k²]);
    3. full players' second-moment matrices S_F = (I − B_FF)⁻¹ (D_F own_F + B_FD C_D) with
       C_j = diag(s_j − m̄_j²) + m̄_j m̄_jᵀ the second moment a full player sees from diagonal j.
    """
    alpha = np.asarray(alpha, np.float64)
    n, d = len(data), data[0].shape[1]
    dw, b = split(alpha)
    eye = np.eye(n)
    xbar = np.stack([x.mean(0) for x in data])
    means = np.linalg.solve(eye - b, dw[:, None] * xbar)
    own_sq = np.stack([(x * x).mean(0) for x in data])
    second_diag = np.linalg.solve(eye - b, dw[:, None] * own_sq)
    full = [i for i, k in enumerate(kinds) if k == "full"]
    diag = [i for i, k in enumerate(kinds) if k == "diag"]
    own_outer = np.stack([np.einsum("ni,nj->ij", x, x).ravel() / len(x) for x in data])
    seen = np.stack(
        [
            np.diag(second_diag[j] - means[j] ** 2).ravel() + np.outer(means[j], means[j]).ravel()
            for j in diag
        ]
    )
    rhs = dw[full, None] * own_outer[full] + b[np.ix_(full, diag)] @ seen
    second_full = np.linalg.solve(np.eye(len(full)) - b[np.ix_(full, full)], rhs)
    out = []
    for i, k in enumerate(kinds):
        if k == "diag":
            out.append(np.concatenate([means[i], second_diag[i]]))
        else:
            s = second_full[full.index(i)].reshape(d, d)
            np.testing.assert_allclose(np.diag(s), second_diag[i], atol=1e-9)  # steps 2 and 3 agree
            out.append(np.concatenate([means[i], s.ravel()]))
    return out


def test_heterogeneous_game_equilibrium_matches_hierarchical_oracle():
    game, data = hetero_game()
    want = hetero_oracle(HET_ALPHA, data, HET_KINDS)
    # check() at the oracle's answer: its closed form (game_equilibrium) is the oracle, and the
    # residual, distance and Nash gap vanish
    per_group = [np.stack([want[i] for i in grp.members]) for grp in game.groups]
    report = gtgen.check(game, per_group)
    for i, (g, w) in enumerate(zip(report.closed_form, want)):
        np.testing.assert_allclose(g, w, atol=1e-5 * max(1, np.abs(w).max()), err_msg=f"player {i}")
    assert report.residual < 2e-5 and report.distance < 2e-5
    assert max(abs(v) for v in report.nash_gap) < 1e-5


@pytest.mark.parametrize(
    "method, routing",
    [
        ("exact", "expected"),
        ("anderson", "expected"),
        ("sampled", "expected"),
        ("sampled", "sampled"),
    ],
)
def test_heterogeneous_solve_reaches_oracle(method, routing):
    """Both families in one compiled round; routing "sampled" masks items by sender group."""
    game, data = hetero_game()
    want = hetero_oracle(HET_ALPHA, data, HET_KINDS)
    sol = gtgen.solve(
        game,
        jax.random.key(0),
        method=method,
        routing=routing,
        rounds=EXACT_ROUNDS,
        samples=4000,
        tol=1e-7,
    )
    # sampled: T = 250 averaged rounds of m = 4000 samples, noise ~ σ/sqrt(m T) ≈ 1e-3·scale
    atol = 1e-5 if method != "sampled" else 1e-2
    for g, w in zip(game.per_player(sol.params), want):
        np.testing.assert_allclose(g, w, atol=atol * max(1, np.abs(w).max()))


# ----------------------------------------------------------------------------- sampled solver

N4 = 4
A_UNIFORM = np.full((N4, N4), 0.5 / (N4 - 1)) + np.eye(N4) * (0.5 - 0.5 / (N4 - 1))
SAMPLED_ROUNDS = 200  # burn-in rounds // 2 = 100, so T = 100 averaged iterates
SEEDS = tuple(range(8))  # within a seed the statistics are correlated: use several seeds


SAMPLED_OFFSETS = np.array([[-4.0, 2.0], [-1.0, -3.0], [2.0, 4.0], [5.0, -1.0]])


def sampled_game(alpha=A_UNIFORM, seed=7):
    """Players far apart (own fits far from μ*), so a biased average would show against the noise."""
    rng = np.random.default_rng(seed)
    data = [rng.normal(size=(40, 2)) * (0.6 + 0.3 * i) + SAMPLED_OFFSETS[i] for i in range(N4)]
    return gtgen.Game([PLAYERS["gaussian"]] * N4, alpha, data), data


def gaussian_stat_var(mu):
    """Var of T = (x, x²) under N(m, v) per coordinate: (v, 4 m² v + 2 v²)."""
    m, v = mu[:2], mu[2:] - mu[:2] ** 2
    return np.concatenate([v, 4 * m * m * v + 2 * v * v])


def noise_sd(alpha, star, routing, m, t):
    """Predicted std of the averaged iterate's error, per player and statistic [N, K].

    One round: μ ← D m + B μ + η with η the sampling noise. Averaging T rounds at the fixed
    point gives ē ≈ (I − B)⁻¹ η̄, with Cov η̄ = Cov η / T.
    - expected / meanfield: η = B ε, ε_j the mean of m of sender j's statistics, independent
      across senders with variance Var_{p_j*}[T] / m: ē ≈ (I − B)⁻¹ B ε̄ and
      Var ē_ik = Σ_j [(I − B)⁻¹ B]_ij² Var_j[T_k] / (m T).
    - sampled: η_i = (1 − α_ii)(mean of m items from the mixture row i of B, minus its mean);
      the noises of different receivers are correlated (shared pools), so we bound the std of
      ē_i by Σ_j |(I − B)⁻¹|_ij sd(η_j) / sqrt(T) (triangle inequality).
    """
    dw, b = split(alpha)
    inv = np.linalg.inv(np.eye(len(alpha)) - b)
    var = np.stack([gaussian_stat_var(s) for s in star])
    if routing in ("expected", "meanfield"):
        amp = inv @ b
        return np.sqrt((amp**2) @ var / (m * t))
    mix = b / b.sum(axis=1, keepdims=True)
    second = var + star**2  # E_j[T²]
    mix_var = mix @ second - (mix @ star) ** 2
    sd_eta = (1 - dw)[:, None] * np.sqrt(mix_var / m)
    return np.abs(inv) @ sd_eta / np.sqrt(t)


def sampled_errors(routing, m):
    game, data = sampled_game()
    own = np.stack([stats_np("gaussian", x).mean(axis=0) for x in data])
    star = neumann_equilibrium(A_UNIFORM, own)
    errs = []
    for seed in SEEDS:
        sol = gtgen.solve(
            game, jax.random.key(seed), rounds=SAMPLED_ROUNDS, samples=m, routing=routing
        )
        errs.append(f64(sol.params)[0] - star)
    return np.stack(errs), star


@pytest.mark.parametrize("routing", ["expected", "sampled", "meanfield"])
def test_sampled_error_on_the_predicted_scale(routing):
    m, t = 64, SAMPLED_ROUNDS // 2
    errs, star = sampled_errors(routing, m)
    sd = noise_sd(A_UNIFORM, star, routing, m, t)
    z = errs / sd[None]
    assert np.abs(z).max() < 4.5, np.abs(z).max()  # 128 values; P(|z| > 4.5) ≈ 7e-6 each
    if routing != "sampled":  # the scale is exact there, not a bound: it must not be too small
        assert 0.3 < np.mean(z**2) < 2.0, np.mean(z**2)
    # the brief's one-number form: ‖(I − B)⁻¹B‖_∞ σ_max / sqrt(m T), with σ_max including the
    # spread between senders (what a sampled item's source adds)
    dw, b = split(A_UNIFORM)
    amp = np.abs(np.linalg.inv(np.eye(N4) - b)).sum(axis=1).max() * (1 - dw).max()
    sigma = np.sqrt(max(gaussian_stat_var(s).max() for s in star) + np.var(star, axis=0).max())
    assert np.abs(errs).max() < 4.5 * amp * sigma / np.sqrt(m * t)


@pytest.mark.parametrize("routing", ["expected", "sampled"])  # meanfield ≡ expected: see below
def test_sampled_error_shrinks_fourfold_with_sixteen_times_the_samples(routing):
    small, _ = sampled_errors(routing, 64)
    large, _ = sampled_errors(routing, 1024)
    ratio = np.sqrt(np.mean(small**2) / np.mean(large**2))
    assert 2.5 < ratio < 6.4, ratio


def test_meanfield_equals_expected_routing_for_uniform_alpha():
    """Uniform off-diagonal α: the pooled mixture is the α-weighted sum (same key, same answer)."""
    game, _ = sampled_game()
    runs = [
        f64(
            gtgen.solve(
                game, jax.random.key(3), rounds=SAMPLED_ROUNDS, samples=64, routing=r
            ).params
        )[0]
        for r in ("expected", "meanfield")
    ]
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-5, atol=1e-5)


def test_meanfield_with_different_self_weights_reaches_its_closed_form():
    """Meanfield needs uniform off-diagonal rows only: α_ii may differ between players."""
    a = np.array([0.2, 0.4, 0.6, 0.8])
    alpha = np.stack([np.where(np.arange(N4) == i, a[i], (1 - a[i]) / (N4 - 1)) for i in range(N4)])
    game, data = sampled_game(alpha)
    own = np.stack([stats_np("gaussian", x).mean(axis=0) for x in data])
    star = neumann_equilibrium(alpha, own)
    sd = noise_sd(alpha, star, "meanfield", 64, SAMPLED_ROUNDS // 2)
    sol = gtgen.solve(
        game, jax.random.key(0), rounds=SAMPLED_ROUNDS, samples=64, routing="meanfield"
    )
    assert np.abs((f64(sol.params)[0] - star) / sd).max() < 4.5


def test_sampled_same_seed_same_result_different_seed_different():
    game, _ = sampled_game()

    def run(seed):
        sol = gtgen.solve(game, jax.random.key(seed), rounds=SAMPLED_ROUNDS, samples=64)
        return f64(sol.params)[0]

    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("damping", [1.0, 0.2])
def test_last_iterate_fluctuation_matches_lyapunov(damping):
    """burn_in = rounds turns averaging off; the last iterate is then stationary noise.

    With damping λ: e_{t+1} = A e_t + λ B ε_t, A = (1 − λ) I + λ B, so per statistic the
    stationary covariance P solves the discrete Lyapunov equation A P Aᵀ − P + λ² B Σ_ε Bᵀ = 0
    (Σ_ε = diag(Var_j[T_k] / m), independent senders under expected routing).
    """
    m = 64
    game, data = sampled_game()
    own = np.stack([stats_np("gaussian", x).mean(axis=0) for x in data])
    star = neumann_equilibrium(A_UNIFORM, own)
    _, b = split(A_UNIFORM)
    a = (1 - damping) * np.eye(N4) + damping * b
    var = np.stack([gaussian_stat_var(s) for s in star]) / m
    sd = np.stack(
        [
            np.sqrt(np.diag(solve_discrete_lyapunov(a, damping**2 * b @ np.diag(var[:, k]) @ b.T)))
            for k in range(var.shape[1])
        ],
        axis=1,
    )
    z = []
    for seed in SEEDS:
        sol = gtgen.solve(
            game,
            jax.random.key(seed),
            rounds=SAMPLED_ROUNDS,
            samples=m,
            damping=damping,
            burn_in=SAMPLED_ROUNDS,
        )
        assert int(sol.state.count) == 0
        z.append((f64(sol.params)[0] - star) / sd)
    z = np.stack(z)
    # the noise feeds back (samples come from μ_t, not μ*), so tails are a little heavier
    assert np.abs(z).max() < 5.0, np.abs(z).max()
    assert 0.5 < np.mean(z**2) < 2.0, np.mean(z**2)


# ----------------------------------------------------------------------------- data handling


@pytest.mark.parametrize("family", list(PLAYERS))
def test_ragged_own_moments_are_per_player_means(family):
    game, data = family_game(family)
    assert len({len(x) for x in data}) == len(data)  # really ragged
    got = game.per_player(game.own_moments())
    for g, x in zip(got, data):
        np.testing.assert_allclose(g, stats_np(family, x).mean(axis=0), rtol=1e-5, atol=1e-5)
    # with α = I every player keeps its own fit, and solve starts from it
    alone = gtgen.Game([PLAYERS[family]] * 3, np.eye(3), data)
    sol = gtgen.solve(alone, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS)
    for g, x in zip(alone.per_player(sol.params), data):
        np.testing.assert_allclose(g, stats_np(family, x).mean(axis=0), rtol=1e-5, atol=1e-5)


def test_sample_weights_act_as_weighted_means():
    rng = np.random.default_rng(9)
    data = make_data("gaussian", rng)
    weights = [rng.uniform(0, 2, len(x)) * (rng.uniform(size=len(x)) > 0.2) + 1e-3 for x in data]
    game = gtgen.Game([PLAYERS["gaussian"]] * 3, ALPHA3, data, weights=weights)
    own = np.stack(
        [np.average(stats_np("gaussian", x), axis=0, weights=w) for x, w in zip(data, weights)]
    )
    np.testing.assert_allclose(
        np.stack(game.per_player(game.own_moments())), own, rtol=1e-5, atol=1e-5
    )
    unweighted = np.stack([stats_np("gaussian", x).mean(axis=0) for x in data])
    assert np.abs(own - unweighted).max() > 0.01  # the weights matter
    star = neumann_equilibrium(ALPHA3, own)
    sol = gtgen.solve(game, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS, tol=1e-7)
    np.testing.assert_allclose(f64(sol.params)[0], star, atol=1e-5 * np.abs(star).max())
    # integer weights = repeating samples
    reps = [rng.integers(1, 4, len(x)) for x in data]
    g1 = gtgen.Game([PLAYERS["gaussian"]] * 3, ALPHA3, data, weights=reps)
    g2 = gtgen.Game(
        [PLAYERS["gaussian"]] * 3, ALPHA3, [np.repeat(x, r, axis=0) for x, r in zip(data, reps)]
    )
    np.testing.assert_allclose(
        np.stack(g1.per_player(g1.own_moments())),
        np.stack(g2.per_player(g2.own_moments())),
        rtol=1e-5,
        atol=1e-5,
    )


def test_traced_inputs_do_not_recompile():
    """α, damping, burn-in, tol and data values are traced: one compiled program per structure.

    The structures are those the tests above use (so no extra compiles); we count the jitted
    solver's cache entries after a first call and require that no later call adds one.
    """
    rng = np.random.default_rng(11)
    exact_game, _ = family_game("gaussian")
    sampled, _ = sampled_game()
    exact_fn = compiled(exact_game.groups, "exact", "expected", EXACT_ROUNDS, 1000, 5)[0]
    sampled_fn = compiled(sampled.groups, "sampled", "expected", SAMPLED_ROUNDS, 64, 5)[0]
    gtgen.solve(exact_game, jax.random.key(0), method="exact", rounds=EXACT_ROUNDS)
    gtgen.solve(sampled, jax.random.key(0), rounds=SAMPLED_ROUNDS, samples=64)
    sizes = exact_fn._cache_size(), sampled_fn._cache_size()
    assert sizes[0] >= 1 and sizes[1] >= 1
    for k in range(3):
        g3 = gtgen.Game(
            [PLAYERS["gaussian"]] * 3, rng.dirichlet(np.ones(3), size=3), make_data("gaussian", rng)
        )
        g4 = gtgen.Game(
            [PLAYERS["gaussian"]] * N4, rng.dirichlet(np.ones(N4), size=N4), sampled_game(seed=k)[1]
        )
        for damping in (1.0, 0.6):
            gtgen.solve(
                g3,
                jax.random.key(k),
                method="exact",
                rounds=EXACT_ROUNDS,
                damping=damping,
                tol=1e-5 * (k + 1),
            )
            gtgen.solve(
                g4,
                jax.random.key(k),
                rounds=SAMPLED_ROUNDS,
                samples=64,
                damping=damping,
                burn_in=10 * k,
            )
    assert (exact_fn._cache_size(), sampled_fn._cache_size()) == sizes


# ----------------------------------------------------------------------------- batched solver


@pytest.mark.parametrize("method", ["exact", "anderson", "sampled"])
def test_batched_solver_equals_each_game_alone(method):
    """``make_solver(batched=True)`` runs games in lockstep in one loop; each game must come out
    as it does alone, including one that stops early while the others go on.

    The two programs do the same float32 arithmetic, but XLA may fuse and reassociate the
    batched one differently (JAX 0.10 gives bit-equal results, 0.12 differs in Anderson's
    least-squares mixing): they agree to a few roundings at the scale of μ, not to a fixed
    1e-7 that is below one float32 step of a μ above 1. Measured: at most 0.9 eps32·max|μ*|
    (JAX 0.12.0.1, Anderson); the bound allows 8."""
    from gtgen.solvers.solve import make_solver

    other = np.random.default_rng(5).dirichlet(np.ones(3), size=3)
    games = [
        family_game("gaussian", seed=s, alpha=a)[0]
        for s, a in [(0, ALPHA3), (1, other), (0, ALPHA3)]
    ]
    groups = games[0].groups
    rounds, samples = 60, 32
    tols = [1e-2, 0.0, 1e-6] if method != "sampled" else [-1.0, -1.0, -1.0]
    refs = [tuple(np.asarray(r, np.float32) for r in gtgen.game_equilibrium(g)) for g in games]
    single = jax.jit(make_solver(groups, method, "expected", rounds, samples, 5))
    batched = jax.jit(make_solver(groups, method, "expected", rounds, samples, 5, batched=True))
    keys = [jax.random.key(7 + i) for i in range(3)]
    args = [
        (
            keys[i],
            np.asarray(g.alpha, np.float32),
            g.data,
            g.weights,
            np.float32(0.9),
            np.int32(rounds // 2),
            np.float32(tols[i]),
            refs[i],
        )
        for i, g in enumerate(games)
    ]
    stacked = jax.tree.map(lambda *xs: jax.numpy.stack(xs), *args)
    state_b, trace_b, t_b = batched(*stacked)
    runs = []
    for i in range(3):
        state, trace, t = single(*args[i])
        runs.append(int(t))
        assert int(t_b[i]) == int(t)
        scale = max(float(np.abs(r).max()) for r in refs[i])  # max |μ*|: the scale of every μ
        for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(state_b)):
            x, y = np.asarray(x), np.asarray(y[i])
            # a leaf that is no μ (a count, a weight sum) is held to rounding at its own scale
            own = float(np.nanmax(np.abs(x), initial=0.0)) if x.dtype.kind == "f" else 0.0
            np.testing.assert_allclose(y, x, rtol=0, atol=ulps(8, max(scale, own)))
        for x, y in zip(trace, trace_b):  # step and distance: differences of μ values
            np.testing.assert_allclose(np.asarray(y[i]), np.asarray(x), rtol=0, atol=ulps(8, scale))
    if method == "exact":  # game 0 and game 2 differ only in tol: they stop apart
        assert runs[0] < runs[2] and runs[1] == rounds


@pytest.mark.parametrize("method", ["exact", "sampled"])
def test_trace_records_only_the_rounds_asked_for(method):
    """``make_solver(trace=k)`` keeps the first k rows of the full trace (0: none) and changes
    nothing else: the same states and rounds run, in the early-stopping loop and in the scan."""
    from gtgen.solvers.solve import make_solver

    games = [family_game("gaussian", seed=s)[0] for s in (0, 1)]
    groups, rounds = games[0].groups, 40
    tol = np.float32(1e-6 if method == "exact" else -1.0)
    refs = [tuple(np.asarray(r, np.float32) for r in gtgen.game_equilibrium(g)) for g in games]
    args = [
        (
            jax.random.key(3 + i),
            np.asarray(g.alpha, np.float32),
            g.data,
            g.weights,
            np.float32(0.9),
            np.int32(rounds // 2),
            tol,
            refs[i],
        )
        for i, g in enumerate(games)
    ]
    stacked = jax.tree.map(lambda *xs: jax.numpy.stack(xs), *args)
    runs = {
        k: jax.jit(make_solver(groups, method, "expected", rounds, 16, batched=True, trace=k))(
            *stacked
        )
        for k in (None, 0, 7, 10_000)
    }
    full_state, full_trace, full_t = runs[None]
    assert full_trace.step.shape == (2, rounds)
    for k, rows in ((0, 0), (7, 7), (10_000, rounds)):
        state, trace, t = runs[k]
        assert trace.step.shape == trace.distance.shape == (2, rows)
        np.testing.assert_array_equal(np.asarray(trace.step), np.asarray(full_trace.step)[:, :rows])
        np.testing.assert_array_equal(np.asarray(t), np.asarray(full_t))
        for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(full_state)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    if method == "exact":
        assert int(np.max(full_t)) < rounds  # the tolerance stopped it: the while-loop path


def test_anderson_small_solve_matches_numpy():
    """Anderson's unrolled SPD solve against numpy, on a Gram matrix as ill-conditioned as
    its ridge allows and on one with unfilled history slots (identity rows)."""
    from gtgen.solvers.anderson import spd_solve

    rng = np.random.default_rng(0)
    for cond in (1e0, 1e4):
        u, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        a = u @ np.diag(np.geomspace(1.0, 1.0 / cond, 5)) @ u.T
        a[3:, :] = a[:, 3:] = 0.0
        a[3, 3] = a[4, 4] = 1.0
        b = rng.normal(size=5)
        x = np.asarray(
            spd_solve(jax.numpy.asarray(a, np.float32), jax.numpy.asarray(b, np.float32))
        )
        np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=0, atol=1e-6 * cond * 10)


def test_compiled_programs_nest_inside_a_users_jit():
    """gtgen's jitted functions carry compiler options, which JAX accepts only at the top
    level; called inside a user's jit they must still work and agree with the top-level call."""
    from gtgen import xla_options

    f = xla_options.jit(lambda x: jax.numpy.max(jax.numpy.abs(x), axis=(1, 2)))
    x = np.random.default_rng(0).normal(size=(50, 8, 4)).astype(np.float32)
    nested = jax.jit(lambda y: f(y) * 2.0)
    np.testing.assert_array_equal(np.asarray(nested(x)), 2.0 * np.asarray(f(x)))
    np.testing.assert_array_equal(np.asarray(f(x)), np.abs(x).max(axis=(1, 2)))
    options = xla_options.compiler_options()
    assert options is None or (
        jax.default_backend() == "cpu" and options == xla_options.CPU_OPTIONS
    )

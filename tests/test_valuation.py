"""gtgen.mechanisms.valuation against independent oracles: a direct numpy evaluation of v on the
concatenated sets, recomputation of every gain at every step, brute-force permutation Shapley
values, a grid search over ρ for the LP, exact frequencies for the draws."""

from __future__ import annotations

import itertools
import math
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gtgen
from gtgen.mechanisms import valuation as V
from gtgen.mechanisms.valuation import sampling as smp

# --- numpy oracles ---------------------------------------------------------------------------


def kern(a: np.ndarray, b: np.ndarray, ell: float) -> np.ndarray:
    return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2.0 * ell**2))


def v_direct(s: np.ndarray, t: np.ndarray, ell: float) -> float:
    """v(S) = mean_{T×T} k − MMD²_biased(S, T), evaluated term by term."""
    k_tt = kern(t, t, ell).mean()
    mmd2 = kern(s, s, ell).mean() - 2.0 * kern(s, t, ell).mean() + k_tt
    return float(k_tt - mmd2)


def mmd2_unbiased_direct(x: np.ndarray, t: np.ndarray, ell: float) -> float:
    m, n = len(x), len(t)
    kxx, ktt = kern(x, x, ell), kern(t, t, ell)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (ktt.sum() - np.trace(ktt)) / (n * (n - 1))
        - 2.0 * kern(x, t, ell).mean()
    )


class Direct:
    """v(S) = 2 mean_{S×T} k − mean_{S×S} k by definition, S given as indices into T = the
    parties' points then the pool's (one kernel matrix of T, computed once)."""

    def __init__(self, parties, cand, ell):
        self.t = np.concatenate([*parties, cand])
        self.k = kern(self.t, self.t, ell)
        self.start = np.cumsum([0] + [len(p) for p in parties])
        self.pool = self.start[-1]

    def party(self, i) -> np.ndarray:
        return np.arange(self.start[i], self.start[i + 1])

    def value(self, idx) -> float:
        return float(2.0 * self.k[idx].mean() - self.k[np.ix_(idx, idx)].mean())

    def gains(self, i, picked, available):
        """v(X ∪ {x}) − v(X) for every available candidate x, X = D_i ∪ picked, each from S."""
        x = np.concatenate([self.party(i), self.pool + np.asarray(picked, np.int64)])
        base = self.value(x)
        return np.array([self.value(np.r_[x, self.pool + j]) - base for j in available]), base


def clusters(rng, sizes, pool, spread=0.08, d=2):
    """Parties around their own centre; a pool from all centres."""
    centres = rng.uniform(size=(len(sizes), d))
    parties = [rng.normal(centres[i], spread, size=(s, d)) for i, s in enumerate(sizes)]
    cand = rng.normal(centres[rng.integers(len(sizes), size=pool)], spread)
    return parties, cand


@pytest.fixture(scope="module")
def small():
    parties, cand = clusters(np.random.default_rng(0), (30, 40, 25, 35), 300)
    valuation = V.value(parties, cand)
    return parties, cand, valuation


def reference(parties, cand):
    return np.concatenate([*parties, cand])


# --- values, lengthscale, block sums -----------------------------------------------------------


def test_coalition_values_equal_direct_evaluation(small) -> None:
    parties, cand, valuation = small
    t, ell = reference(parties, cand), valuation.lengthscale
    for size in range(1, len(parties) + 1):
        for c in itertools.combinations(range(len(parties)), size):
            direct = v_direct(np.concatenate([parties[i] for i in c]), t, ell)
            assert valuation.table.value(c) == pytest.approx(direct, abs=2e-7), c
    assert valuation.table.value(()) == 0.0
    upper = V.lp.upper_bounds(valuation.sums)
    for i, p in enumerate(parties):
        assert upper[i] == pytest.approx(v_direct(np.concatenate([p, cand]), t, ell), abs=2e-7)


def test_block_sums_equal_a_float64_oracle() -> None:
    """Σ_y k(x, y) per row and part over 3000 points: float32 within a chunk of 512, float64
    across chunks and rows, against numpy in float64."""
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3000, 2))
    ell = 0.3
    k = kern(x, x, ell)
    lay = V.layout([x[:1000], x[1000:]])
    sums = V.kernel.row_part_sums(lay, lay.rows(0, 2), ell)[lay.real(0, 2)]
    np.testing.assert_allclose(sums[:, 0], k[:, :1000].sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(sums[:, 1], k[:, 1000:].sum(axis=1), rtol=1e-6)
    assert sums.sum() == pytest.approx(k.sum(), rel=1e-7)


def test_sampler_sums_need_float64_accumulation(small) -> None:
    """After 300 steps, v from the sampler's float64 sums A = Σ_{X×X} k, B = Σ_{X×T} k is exact
    to 5e-9 (the float32 kernel values); the same recursions in float32, fed the exact
    increments, drift by 30–300× more (2–7e-7 here), and the drift grows with |T| and the
    steps: the 2-D setting takes 4·10^4 steps against |T| = 10^5, where a late step gains 1e-7."""
    parties, cand, valuation = small
    draw = V.sample_rewards(valuation, np.full(4, 10.0), jax.random.key(0), beta=1.0)
    direct = Direct(parties, cand, valuation.lengthscale)
    err64, err32 = [], []
    for i in range(4):
        own = direct.party(i)
        x = np.r_[own, direct.pool + draw.indices[i]]
        exact = direct.value(x)
        err64.append(abs(draw.sampling.value[i] - exact))
        a32 = np.float32(direct.k[np.ix_(own, own)].sum())
        b32 = np.float32(direct.k[own].sum())
        for step, j in enumerate(x[len(own) :]):
            a32 = np.float32(a32 + np.float32(2 * direct.k[j, x[: len(own) + step]].sum() + 1))
            b32 = np.float32(b32 + np.float32(direct.k[j].sum()))
        m, n = len(x), len(direct.t)
        err32.append(abs(2 * float(b32) / (m * n) - float(a32) / m**2 - exact))
    assert np.all(draw.counts == len(cand)) and max(err64) < 5e-9
    assert max(err32) > 30 * max(err64)


def test_lengthscale_is_the_smallest_valid_one(small) -> None:
    parties, cand, valuation = small
    t, ell = reference(parties, cand), valuation.lengthscale
    assert min(v_direct(p, t, ell) for p in parties) >= -1e-9
    below = ell / (1 + 2e-3)  # one relative step below: some party's value is negative
    assert min(v_direct(p, t, below) for p in parties) < 0
    evaluated = np.array(valuation.search.evaluated)
    assert evaluated[0, 0] == 1000.0 and evaluated[1, 0] == 0.01 and len(evaluated) <= 20
    assert not valuation.search.at_lower_end


def test_lengthscale_at_the_lower_end_is_returned() -> None:
    """Two identical parties and |G| ≤ 2|D|: v(D_i) ≥ 0 at any ℓ, so ℓ = low (the authors raise
    here; the smallest valid ℓ in the range is the lower end itself)."""
    rng = np.random.default_rng(2)
    d = rng.uniform(size=(20, 2))
    valuation = V.value([d, d.copy()], rng.uniform(size=(30, 2)))
    assert valuation.lengthscale == 0.01 and valuation.search.at_lower_end
    t = np.concatenate([d, d, rng.uniform(size=(30, 2))])
    assert v_direct(d, t, 0.01) >= 0  # (not the same pool, but any pool of 30 would do)


# --- Shapley values ----------------------------------------------------------------------------


def brute_force_shapley(parties, cand, ell) -> np.ndarray:
    """Average marginal contribution over all n! orders, v evaluated directly (as the authors)."""
    n, t = len(parties), reference(parties, cand)
    v = {(): 0.0}
    for size in range(1, n + 1):
        for c in itertools.combinations(range(n), size):
            v[c] = v_direct(np.concatenate([parties[i] for i in c]), t, ell)
    phi = np.zeros(n)
    orders = list(itertools.permutations(range(n)))
    for order in orders:
        for k, i in enumerate(order):
            phi[i] += v[tuple(sorted(order[: k + 1]))] - v[tuple(sorted(order[:k]))]
    return phi / len(orders), v[tuple(range(n))]


def test_exact_shapley_equals_brute_force_permutations() -> None:
    parties, cand = clusters(np.random.default_rng(3), (12, 8, 15, 10, 9, 14), 60)
    valuation = V.value(parties, cand, lengthscale=0.2)
    phi, v_all = brute_force_shapley(parties, cand, 0.2)
    np.testing.assert_allclose(valuation.phi, phi, atol=5e-7)
    assert valuation.phi.sum() == pytest.approx(valuation.grand_value, abs=1e-12)
    assert valuation.grand_value == pytest.approx(v_all, abs=2e-7)


def test_monte_carlo_shapley_within_four_standard_errors() -> None:
    parties, cand = clusters(np.random.default_rng(4), (10, 20, 15, 12, 18, 8, 25, 14), 100)
    valuation = V.value(parties, cand, lengthscale=0.15)
    mc = V.shapley_monte_carlo(valuation.sums, jax.random.key(0), permutations=3000)
    assert np.all(mc.standard_error > 0)
    assert np.all(np.abs(mc.phi - valuation.phi) <= 4 * mc.standard_error), (
        mc.phi - valuation.phi
    ) / mc.standard_error
    assert mc.phi.sum() == pytest.approx(valuation.grand_value, abs=1e-12)  # every order sums


def test_more_than_twelve_parties_use_permutation_sampling() -> None:
    parties, cand = clusters(np.random.default_rng(5), (6,) * 13, 40)
    valuation = V.value(parties, cand, jax.random.key(1), lengthscale=0.2, permutations=200)
    assert valuation.table is None and valuation.shapley.permutations == 200
    assert np.all(valuation.shapley.standard_error > 0)
    assert valuation.phi.sum() == pytest.approx(valuation.grand_value, abs=1e-12)


# --- the reward LP -----------------------------------------------------------------------------


def vertex_lp(alpha, lower, upper):
    """The LP by enumeration: in ρ the feasible log v* lie between max_i(log l_i − ρ log α_i) and
    min_i(log u_i − ρ log α_i), piecewise linear, so the optimum of log v* + 0.001ρ is at ρ = 0,
    ρ = 1 or where two of these lines cross; try them all."""
    la = np.log(alpha)
    lines = np.concatenate([np.log(upper), np.log(lower)])
    slopes = np.concatenate([la, la])
    rhos = [0.0, 1.0]
    for i, j in itertools.combinations(range(len(lines)), 2):
        if slopes[i] != slopes[j]:
            rhos.append((lines[i] - lines[j]) / (slopes[i] - slopes[j]))
    best = None
    for rho in rhos:
        if not 0.0 <= rho <= 1.0:
            continue
        top = np.min(np.log(upper) - rho * la)
        if top >= np.max(np.log(lower) - rho * la) - 1e-12:
            best = max(best if best is not None else -np.inf, top + 1e-3 * rho)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_lp_matches_vertex_enumeration_and_satisfies_every_constraint(seed) -> None:
    rng = np.random.default_rng(seed)
    n = 5
    alpha = rng.uniform(0.2, 1.0, n)
    alpha[rng.integers(n)] = 1.0
    upper = rng.uniform(0.5, 0.6, n)
    lower = upper * rng.uniform(0.6, 1.0 if seed % 2 else 0.9, n)
    oracle = vertex_lp(alpha, lower, upper)
    solution = V.solve_lp(alpha, lower, upper)
    assert (solution is None) == (oracle is None)
    if solution is None:
        return
    log_v, rho = solution
    assert log_v + 1e-3 * rho == pytest.approx(oracle, abs=1e-9)
    log_r = log_v + rho * np.log(alpha)
    assert 0 <= rho <= 1
    assert np.all(log_r >= np.log(lower) - 1e-7) and np.all(log_r <= np.log(upper) + 1e-7)


def fallback_sums():
    """Five one-cluster parties and a pool too small to lift any of them past v(N): the stable
    program is infeasible (the authors' failure, PAPERS.md §2)."""
    parties, cand = clusters(np.random.default_rng(6), (60,) * 5, 40, spread=0.05)
    return V.value(parties, cand)


def test_infeasible_stable_program_falls_back_to_individual_rationality() -> None:
    valuation = fallback_sums()
    top = int(np.argmax(valuation.phi))
    assert valuation.grand_value > V.lp.upper_bounds(valuation.sums)[top]  # stable infeasible
    with pytest.warns(V.StabilityFallback, match="stable program is infeasible") as caught:
        plan = V.reward_plan(valuation.sums, valuation.phi, "stable")
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert plan.fallback and plan.condition == "rational" and plan.requested == "stable"
    assert plan.note == str(caught[0].message)
    np.testing.assert_allclose(plan.lower, np.maximum(valuation.party_values, 1e-7))
    assert np.all(plan.targets >= plan.lower * (1 - 1e-6))
    assert np.all(plan.targets <= plan.upper * (1 + 1e-6))
    np.testing.assert_allclose(plan.targets, plan.v_star * plan.alpha**plan.rho)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rational = V.reward_plan(valuation.sums, valuation.phi, "rational")
    assert not rational.fallback and rational.note == ""


def test_both_programs_infeasible_raise() -> None:
    valuation = fallback_sums()
    with (
        pytest.warns(V.StabilityFallback),
        pytest.raises(
            ValueError, match="infeasible under stability and individual rationality with ρ = 0"
        ),
    ):
        V.reward_plan(valuation.sums, valuation.phi, "stable", rho=0.0)


# --- weighted sampling -------------------------------------------------------------------------


def lane_state(valuation, targets, beta, greedy=False, key=0):
    """The sampler's inputs for every party (shared pool), as sample_rewards builds them."""
    sums = valuation.sums
    n = sums.n_parties
    width = smp.padded_size(len(valuation.candidates))
    g = len(valuation.candidates)
    cand = np.zeros((g, n + 1))
    cand[:] = sums.candidate_sums
    pad = width - g
    total = np.pad(cand.sum(axis=1), (0, pad))[None]
    own = np.pad(cand[:, :n].T, ((0, 0), (0, pad)))
    avail = np.pad(np.ones((n, g), bool), ((0, 0), (0, pad)))
    points = np.pad(valuation.candidates.T, ((0, 0), (0, pad)))[None]
    pool = smp.Pool(
        jnp.asarray(points, jnp.float32),
        jnp.asarray(total, jnp.float32),
        jnp.asarray(total, jnp.float64),
        jnp.float64(sums.n_reference),
        jnp.float32(V.kernel.inverse_two_l2(sums.lengthscale)),
    )
    lanes = smp.make_lanes(
        np.asarray(targets, np.float64),
        np.full(n, beta),
        np.zeros(n),
        sums.counts[:n],
        np.full(n, width),
        jax.random.split(jax.random.key(key), n),
        width,
    )
    state = smp.init(
        pool, lanes, own, avail, np.diagonal(sums.blocks)[:n], sums.blocks.sum(axis=1)[:n], width
    )
    return pool, lanes, state


def test_incremental_gains_equal_recomputation_at_every_step(small) -> None:
    parties, cand, valuation = small
    ell = valuation.lengthscale
    with jax.enable_x64(True):
        pool, lanes, state = lane_state(valuation, np.full(4, 10.0), 2.0)
        step = jax.jit(
            lambda s: smp.step(pool, lanes, s, False, smp.block_size(pool.points.shape[-1]))
        )
        gains_of = jax.jit(lambda s: smp.marginal_gains(pool, s))
        h_of = jax.jit(lambda s: smp.scaled_gains(pool, smp.current_own(pool, s), s.size))
        g = len(cand)
        direct = Direct(parties, cand, ell)
        for t in range(15):
            gains, h = np.asarray(gains_of(state)), np.asarray(h_of(state))
            for i in (0, 3):
                picked = np.asarray(state.order[i, :t])
                available = np.setdiff1d(np.arange(g), picked)
                assert np.array_equal(np.flatnonzero(np.asarray(state.available[i])), available)
                recomputed, base = direct.gains(i, picked, available)
                assert float(state.value[i]) == pytest.approx(base, abs=2e-7)
                np.testing.assert_allclose(gains[i, available], recomputed, atol=2e-8)

                def rescale(x):
                    return (x - x.min()) / (x.max() - x.min())

                np.testing.assert_allclose(rescale(h[i, available]), rescale(recomputed), atol=2e-4)
            state = step(state)


def test_draw_weights_are_the_softmax_of_rescaled_gains() -> None:
    rng = np.random.default_rng(7)
    h = rng.normal(size=(3, 64)).astype(np.float32)
    avail = rng.random((3, 64)) < 0.7
    h[2] = 0.5  # all gains equal: the authors divide by zero
    for beta in (0.0, 1.0, 8.0):
        with jax.enable_x64(True):
            w = np.asarray(
                smp.draw_weights(jnp.asarray(h), jnp.asarray(avail), jnp.full(3, beta, jnp.float32))
            )
        for i in range(3):
            x = h[i, avail[i]].astype(np.float64)
            span = x.max() - x.min()
            scaled = (x - x.min()) / span if span > 0 else np.zeros_like(x)
            soft = np.exp(beta * scaled) / np.exp(beta * scaled).sum()
            assert np.all(w[i, ~avail[i]] == 0)
            np.testing.assert_allclose(w[i, avail[i]] / w[i, avail[i]].sum(), soft, rtol=1e-5)


def test_inverse_cdf_draws_with_the_weights_and_never_a_zero() -> None:
    """2·10^5 draws against the exact probabilities (each frequency within 5 standard errors)."""
    rng = np.random.default_rng(8)
    block = 8
    w = rng.random(64) * (rng.random(64) < 0.6)
    w[-block:] = 0.0  # a whole empty block at the end
    draws = 200_000
    u = jnp.asarray(rng.random((draws, 2)), jnp.float32)
    idx = np.asarray(
        jax.jit(
            lambda u: smp._inverse_cdf(
                jnp.broadcast_to(jnp.asarray(w, jnp.float32), (draws, 64)), u, block
            )
        )(u)
    )
    freq = np.bincount(idx, minlength=64) / draws
    p = w / w.sum()
    assert np.all(freq[w == 0] == 0)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / draws) + 1e-12)


def test_greedy_takes_a_largest_gain_and_every_party_reaches_its_target(small) -> None:
    parties, cand, valuation = small
    plan = V.reward_plan(valuation.sums, valuation.phi)
    draw = V.sample_rewards(valuation, plan.targets, jax.random.key(0), greedy=True)
    assert np.all(draw.sampling.reached)
    direct = Direct(parties, cand, valuation.lengthscale)
    for i in (0, 2):
        picked = draw.indices[i]
        for t in range(min(len(picked), 20)):
            available = np.setdiff1d(np.arange(len(cand)), picked[:t])
            gains, _ = direct.gains(i, picked[:t], available)
            chosen = gains[np.searchsorted(available, picked[t])]
            assert chosen >= gains.max() - 1e-6 * np.ptp(gains)


def test_rewards_reach_targets_and_report_their_own_values(small) -> None:
    parties, cand, valuation = small
    plan = V.reward_plan(valuation.sums, valuation.phi)
    t, ell = reference(parties, cand), valuation.lengthscale
    for beta in (0.0, 4.0):
        out = V.Rewards(
            valuation, plan, V.sample_rewards(valuation, plan.targets, jax.random.key(1), beta=beta)
        )
        s = out.draw.sampling
        assert np.all(out.reached) and np.all(s.value >= plan.targets)
        for i in range(len(parties)):
            x = np.concatenate([parties[i], out.points(i).astype(np.float64)])
            assert len(set(out.draw.indices[i])) == out.counts[i]  # without replacement
            assert s.value[i] == pytest.approx(v_direct(x, t, ell), abs=2e-7)
            assert out.mmd2[i] == pytest.approx(mmd2_unbiased_direct(x, t, ell), abs=2e-7)
            # the last point was needed: one step earlier the target was not reached
            assert v_direct(x[:-1], t, ell) < plan.targets[i] or out.counts[i] == 0


def test_same_key_same_rewards_and_lanes_do_not_depend_on_each_other(small) -> None:
    _, _, valuation = small
    targets = V.reward_plan(valuation.sums, valuation.phi).targets
    a = V.sample_rewards(valuation, targets, jax.random.key(3), beta=2.0)
    b = V.sample_rewards(valuation, targets, jax.random.key(3), beta=2.0)
    c = V.sample_rewards(
        valuation, targets * np.array([1, 1, 1, 0]), jax.random.key(3), beta=2.0
    )  # party 3 needs nothing now; the others are unchanged
    assert all(np.array_equal(x, y) for x, y in zip(a.indices, b.indices))
    assert all(np.array_equal(x, y) for x, y in zip(a.indices[:3], c.indices[:3]))
    assert c.counts[3] == 0 and c.sampling.status[3] == V.REACHED
    # stopped lanes leaving the batch (as for large pools) change nothing
    d = V.sample_rewards(valuation, targets, jax.random.key(3), beta=2.0, compact=True)
    assert all(np.array_equal(x, y) for x, y in zip(a.indices, d.indices))
    np.testing.assert_array_equal(a.sampling.value, d.sampling.value)


def test_early_stop_step_limit_and_exhaustion(small) -> None:
    _, cand, valuation = small
    unreachable = np.full(4, 10.0)
    stopped = V.sample_rewards(valuation, unreachable, jax.random.key(0), beta=1.0, early_stop=0.1)
    assert np.all(stopped.sampling.status == V.EARLY_STOP)
    assert np.all(stopped.patience == 30)
    for i in range(4):  # the last 30 steps raised no new maximum of v
        trace = stopped.sampling.trace[i, : stopped.counts[i]]
        best = np.maximum.accumulate(np.r_[stopped.sampling.initial[i], trace])
        assert np.all(best[-30:] == best[-31]) and best[-31] > best[-32]
    capped = V.sample_rewards(valuation, unreachable, jax.random.key(0), beta=1.0, max_steps=7)
    assert np.all(capped.counts == 7) and np.all(capped.sampling.status == V.STEP_LIMIT)
    assert all(np.array_equal(c, s[:7]) for c, s in zip(capped.indices, stopped.indices))
    full = V.sample_rewards(valuation, unreachable, jax.random.key(0), greedy=True)
    assert np.all(full.sampling.status == V.EXHAUSTED) and np.all(full.counts == len(cand))
    assert all(np.array_equal(np.sort(ix), np.arange(len(cand))) for ix in full.indices)


def test_all_gains_equal_is_a_uniform_draw(small) -> None:
    """Every candidate at one point: equal gains at every step (the authors divide by zero)."""
    parties, _, _ = small
    valuation = V.value(parties, np.full((300, 2), 0.5), lengthscale=0.5)
    draw = V.sample_rewards(valuation, np.full(4, 10.0), jax.random.key(0), beta=8.0)
    assert np.all(draw.sampling.status == V.EXHAUSTED) and np.all(draw.counts == 300)
    assert np.all(np.isfinite(draw.sampling.trace[:, :300]))


def test_disjoint_shares(small) -> None:
    """Disjoint shares: the shares partition G, each party draws only from its own, and the LP's
    upper bound is v(D_i ∪ G_i), which the parties then reach."""
    parties, cand, _unused = small
    valuation = V.value(parties, cand, jax.random.key(5), pool="disjoint")
    shares = [valuation.candidate_index[valuation.share(i)] for i in range(4)]
    assert sorted(len(s) for s in shares) == [75] * 4
    assert np.array_equal(np.sort(np.concatenate(shares)), np.arange(300))
    t = reference(parties, cand)
    upper = V.lp.upper_bounds(valuation.sums)
    for i in range(4):
        x = np.concatenate([parties[i], cand[shares[i]]])
        assert upper[i] == pytest.approx(v_direct(x, t, valuation.lengthscale), abs=2e-7)
    used = V.sample_rewards(valuation, np.full(4, 10.0), jax.random.key(0))
    assert np.all(used.counts == 75)
    assert all(np.array_equal(np.sort(u), np.sort(s)) for u, s in zip(used.indices, shares))
    plan = V.reward_plan(valuation.sums, valuation.phi, "rational")
    reached = V.sample_rewards(valuation, plan.targets, jax.random.key(0))
    assert np.all(reached.sampling.reached)
    for i in range(4):
        assert np.isin(reached.indices[i], shares[i]).all()
        x = np.concatenate([parties[i], cand[reached.indices[i]]])
        assert reached.sampling.value[i] == pytest.approx(
            v_direct(x, t, valuation.lengthscale), abs=2e-7
        )


# --- the exchange game -------------------------------------------------------------------------


def test_reward_game_on_a_gaussian_game() -> None:
    rng = np.random.default_rng(10)
    centres = ((0, 0), (1, 0), (0, 1), (1, 1))
    data = [rng.normal(c, 0.3, size=(n, 2)) for c, n in zip(centres, (40, 60, 50, 30))]
    alpha = np.array(
        [[0.6, 0.2, 0.1, 0.1], [0.1, 0.8, 0.1, 0.0], [0.3, 0.3, 0.4, 0.0], [0.2, 0.2, 0.2, 0.4]]
    )
    game = gtgen.Game([gtgen.expfam.gaussian(2)] * 4, alpha, data)
    solution = gtgen.solve(game, jax.random.key(0), method="exact")
    out = V.reward_game(game, solution, jax.random.key(1), pool_size=298, beta=2.0)
    assert np.bincount(out.owner).tolist() == [75, 75, 74, 74]
    for i in range(4):
        np.testing.assert_allclose(out.data[i], data[i], rtol=1e-6)
    r = out.rewards
    assert np.all(r.reached)
    pool = r.valuation.candidates
    # the pool comes from the equilibrium models: player j's share has its model's mean
    star = gtgen.game_equilibrium(game)[0]
    for j in range(4):
        share = pool[out.owner == j]
        assert np.all(np.abs(share.mean(0) - star[j, :2]) < 4 * share.std(0) / np.sqrt(len(share)))
    for i in range(4):
        np.testing.assert_array_equal(out.points(i), pool[r.draw.indices[i]])
    assert r.valuation.phi.sum() == pytest.approx(r.valuation.grand_value, abs=1e-12)


# --- bad input ---------------------------------------------------------------------------------

GOOD = [np.zeros((3, 2)) + np.arange(3)[:, None], np.ones((4, 2))]
POOL = np.random.default_rng(0).uniform(size=(20, 2))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: V.value([np.zeros((0, 2)), GOOD[1]], POOL), "parties[0]: has no points"),
        (lambda: V.value([GOOD[0], np.ones((4, 3))], POOL), "parties[1]: has dimension 3"),
        (lambda: V.value([GOOD[0], np.full((4, 2), np.nan)], POOL), "parties[1]: contains NaN"),
        (lambda: V.value([GOOD[0]], POOL), "parties: need at least 2"),
        (lambda: V.value(np.zeros((2, 3, 2)), POOL), "parties: must be a list"),
        (lambda: V.value([np.zeros(3), GOOD[1]], POOL), "parties[0]: must be a 2-D array"),
        (lambda: V.value(GOOD, np.zeros((0, 2))), "candidates: |G| = 0"),
        (lambda: V.value(GOOD, np.zeros((5, 3))), "candidates: have dimension 3"),
        (lambda: V.value(GOOD, np.array([[np.inf, 0.0]])), "candidates: contains NaN"),
        (
            lambda: V.value(GOOD, POOL, lengthscale_range=(5.0, 1.0)),
            "lengthscale_range: [5, 1] is empty",
        ),
        (lambda: V.value(GOOD, POOL, lengthscale_range=(0.0, 1.0)), "lengthscale_range"),
        (
            lambda: V.value(GOOD, POOL, lengthscale_range=(1e-3, 2e-3)),
            "lengthscale_range: no lengthscale in [0.001, 0.002]",
        ),
        (lambda: V.value(GOOD, POOL, lengthscale=-1.0), "lengthscale: must be a number > 0"),
        (
            lambda: V.value(GOOD, POOL, lengthscale_search="grid"),
            "lengthscale_search: must be one of log, linear",
        ),
        (
            lambda: V.rewards(GOOD, POOL, jax.random.key(0), beta=-1.0),
            "beta: must be a number >= 0",
        ),
        (lambda: V.rewards(GOOD, POOL, jax.random.key(0), beta=math.nan), "beta"),
        (
            lambda: V.rewards(GOOD, POOL, jax.random.key(0), rho=1.5),
            "rho: must be a number in [0, 1]",
        ),
        (lambda: V.rewards(GOOD, POOL, jax.random.key(0), rho=-0.1), "rho"),
        (
            lambda: V.rewards(GOOD, POOL, jax.random.key(0), condition="fair"),
            "condition: must be one",
        ),
        (lambda: V.rewards(GOOD, POOL, jax.random.key(0), pool="mine"), "pool: must be one of"),
        (lambda: V.value(GOOD, POOL, pool="disjoint"), "key: disjoint shares are drawn at random"),
        (lambda: V.rewards(GOOD, POOL, jax.random.key(0), early_stop=0.0), "early_stop"),
        (lambda: V.rewards(GOOD, POOL, jax.random.key(0), max_steps=0), "max_steps: must be"),
        (lambda: V.reward_game("game", None, jax.random.key(0)), "game: expected a gtgen.Game"),
    ],
)
def test_bad_input_names_the_field(call, field) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(field)):
        call()


def test_sample_rewards_checks_targets_and_betas(small) -> None:
    _, _, valuation = small
    with pytest.raises(ValueError, match="targets: must be 4 finite numbers"):
        V.sample_rewards(valuation, [0.1, 0.2], jax.random.key(0))
    with pytest.raises(ValueError, match="beta: must be one number or 4"):
        V.sample_rewards(valuation, np.ones(4), jax.random.key(0), beta=[1.0, 2.0])
    with pytest.raises(ValueError, match="phi: party 1 has Shapley value"):
        V.reward_plan(valuation.sums, np.array([0.1, -0.2, 0.3, 0.1]))

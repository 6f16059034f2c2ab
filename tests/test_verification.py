"""gtgen.mechanisms.verification and ``gtgen experiment unravelling``, against independent oracles.

Oracles: numpy simulations from raw samples (risks, test statistics, pass frequencies, trained
classifiers), scipy's SLSQP (welfare weights), an independent numpy implementation of the
participation dynamics (benchmarks/reference/verification_loop.py), the bias-order theorem of
the package docstring computed by enumeration, and the exchange game's closed form
μ_i = (m_i + K m̄) / (K + 1) together with ``gtgen.game_equilibrium`` on sampled data.

Every Monte-Carlo run here uses 1024 replicates and the stated task shapes, so that the study,
the CLI, the notebook and the direct calls share two compiled programs (one per task).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

import gtgen
from gtgen.cli import main
from gtgen.experiments import unravelling
from gtgen.mechanisms import verification as vf
from notebooks import run_notebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import verification_cases
from benchmarks.reference import verification_loop as ref

ROOT = Path(__file__).resolve().parents[1]
R = 1024
CONFIG = unravelling.small_config()
MEAN = CONFIG.tasks()["mean"]
CLS = CONFIG.tasks()["classification"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("unravelling") / "run"
    return unravelling.run(CONFIG, out_dir=out), out


# ---------------------------------------------------------------------------------------------
# closed forms against raw-sample simulations


def test_mean_risk_equals_raw_sample_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    types = np.stack([rng.normal(0, 1, 4), rng.uniform(0.5, 2, 4)], axis=1)
    n, reps = 20, 20_000
    for w in (np.full(4, 0.25), rng.dirichlet(np.ones(4)), np.eye(4)[2]):
        x = rng.normal(types[:, 0, None, None], types[:, 1, None, None], (4, reps, n))
        err = (w @ x.mean(axis=2)) ** 2  # μ_0 = 0
        closed = float(vf.risk("mean", jnp.asarray(w), jnp.asarray(types), n, 1.0))
        assert abs(err.mean() - closed) <= 4 * err.std() / math.sqrt(reps), (w, closed)


def test_classification_closed_form_matches_trained_classifiers() -> None:
    """The large-d formula against centroid classifiers trained on raw samples (d = 50)."""
    rng = np.random.default_rng(1)
    theta, n, d, reps = CLS.types[:, 0], CLS.samples, int(CLS.scale), 300
    closed = vf.closed_form(CLS)
    for w in (np.eye(5)[0], closed.weights, np.full(5, 0.2)):
        errors = np.empty(reps)
        for r in range(reps):
            x = rng.standard_normal((5, n, d))
            labels = (x[..., 0] > 0) ^ (rng.random((5, n)) < theta[:, None])
            centroid = w @ ((2.0 * labels - 1.0)[..., None] * x).mean(axis=1)
            errors[r] = np.arccos(centroid[0] / np.linalg.norm(centroid)) / np.pi
        formula = float(vf.risk("classification", jnp.asarray(w), jnp.asarray(CLS.types), n, d))
        se = errors.std() / math.sqrt(reps)
        assert abs(errors.mean() - formula) <= unravelling.CLASSIFICATION_ALLOWANCE + 4 * se


def test_simplex_weights_are_the_scipy_optimum() -> None:
    rng = np.random.default_rng(2)
    j = 6
    with jax.enable_x64(True):
        weights = jax.jit(vf.simplex_weights)
        for trial in range(30):
            bias = rng.normal(0, 1, j) * (trial % 3 + 0.3)
            var = rng.uniform(0.01, 0.5, j)
            members = rng.random(j) < 0.7
            members[rng.integers(j)] = True
            w = np.asarray(weights(jnp.asarray(bias), jnp.asarray(var), jnp.asarray(members)))
            check_simplex_optimum(rng, w, bias, var, members, trial)


def check_simplex_optimum(rng, w, bias, var, members, trial) -> None:
    """``w`` against SLSQP from two starts on the members' simplex."""
    idx = np.flatnonzero(members)
    q = np.outer(bias[idx], bias[idx]) + np.diag(var[idx])
    starts = (np.full(idx.size, 1 / idx.size), rng.dirichlet(np.ones(idx.size)))
    best = min(
        (
            optimize.minimize(
                lambda x: x @ q @ x,
                x0,
                method="SLSQP",
                bounds=[(0, 1)] * idx.size,
                constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
                options={"ftol": 1e-15, "maxiter": 500},
            )
            for x0 in starts
        ),
        key=lambda res: res.fun,
    )
    ours = w[idx] @ q @ w[idx]
    assert np.all(w >= 0) and w.sum() == pytest.approx(1) and np.all(w[~members] == 0)
    assert ours <= best.fun + 1e-10, (trial, ours, best.fun)
    assert ours <= np.min(np.diag(q)) + 1e-12  # never worse than the best member alone


def test_estimates_have_the_raw_sample_distribution() -> None:
    """The exact-distribution draws of the mean-estimation test statistics (x̄ − x̄_0 and the
    c4-corrected standard deviation from a χ² draw) against raw samples (numpy). The binomial
    of the classification test is held against the exact pass probability by the study."""
    rng = np.random.default_rng(3)
    m, reps = 12, 3000
    keys = jax.random.split(jax.random.key(3), reps)
    types = jnp.asarray(MEAN.types, jnp.float32)
    ours = np.asarray(jax.vmap(lambda k: vf.estimate_types("mean", k, types, 1.0, float(m)))(keys))
    raw = np.stack([ref.estimates("mean", rng, MEAN.types, MEAN.scale, m) for _ in range(reps)])
    for a in range(MEAN.agents):
        for c in range(2):  # bias against the trusted set, and the spread
            assert stats.ks_2samp(ours[:, a, c], raw[:, a, c]).pvalue > 1e-3, (a, c)


@pytest.mark.parametrize("task, eps, m", [(MEAN, 0.2, 100), (CLS, 0.15, 40)])
def test_pass_probability_matches_raw_monte_carlo(task, eps, m) -> None:
    rng = np.random.default_rng(4)
    reps = 6000
    passed = np.array(
        [
            np.all(
                np.abs(ref.estimates(task.kind, rng, task.types, task.scale, m) - task.types) <= eps
            )
            for _ in range(reps)
        ]
    )
    exact = vf.pass_probability(task, eps, m)
    assert abs(passed.mean() - exact) <= 4 * math.sqrt(exact * (1 - exact) / reps)


def test_hoeffding_sample_size() -> None:
    for bound, eps, delta, k in ((1.0, 0.15, 0.05, 5), (2.0, 0.1, 0.01, 20), (3.0, 0.5, 0.2, 2)):
        m = vf.hoeffding_samples(bound, eps, delta, k)
        needed = bound**2 / (2 * eps**2) * math.log(2 * k / delta)
        assert m - 1 < needed <= m
        assert 2 * k * math.exp(-2 * m * eps**2 / bound**2) <= delta  # the bound it promises
    g = vf.guarantee(CLS, 0.15, 0.05)
    assert (g.bound, g.estimates) == (1.0, 5)
    assert g.samples == vf.hoeffding_samples(1.0, 0.15, 0.05, 5)
    g = vf.guarantee(MEAN, 0.2, 0.05)
    assert g.bound == pytest.approx(2 * math.sqrt(2)) and g.estimates == 10
    assert g.affordable == pytest.approx(vf.closed_form(MEAN).gains.min() / MEAN.cost)
    assert g.holds and vf.pass_probability(MEAN, 0.2, g.samples) >= 1 - 0.05


# ---------------------------------------------------------------------------------------------
# the study: the checks


def test_study_claims(study) -> None:
    results, _ = study
    failed = [c for c in unravelling.claims(results) if not c.holds]
    assert not failed, failed
    for tr in results.tasks.values():
        out, worst = tr.outcome, tr.worst
        pool, full = tr.scenario("pooling"), tr.scenario("full information")
        assert np.all(out.members[pool].sum(1) <= 1)
        assert np.all(out.members[pool][:, worst] | ~out.members[pool].any(1))
        assert np.all(out.members[full]) and np.all(out.converged)
        lemons = tr.scenario("no test, lemons")
        np.testing.assert_array_equal(out.members[lemons], out.members[pool])
        freq = unravelling.frequencies(tr)
        assert freq[tr.grid.index(tr.guarantee.samples)] >= 1 - CONFIG.delta
        assert freq[0] < 0.5 < freq[-1]  # the frequency rises from far below to far above


def test_closed_form_utilities_and_monte_carlo(study) -> None:
    results, _ = study
    tr = results.tasks["mean"]
    out, closed = tr.outcome, tr.closed
    full, pool = tr.scenario("full information"), tr.scenario("pooling")
    np.testing.assert_allclose(out.risk[full], closed.full, rtol=1e-5)
    # everyone ends alone, the worst in a coalition of one: each with its alone risk
    np.testing.assert_allclose(out.risk[pool], np.broadcast_to(closed.alone, (R, 5)), rtol=1e-5)
    cost = tr.task.cost * tr.task.samples
    np.testing.assert_allclose(out.utility[full], -closed.full - cost, rtol=1e-5)
    for s in (full, pool, tr.scenario(unravelling.verification_name(tr.guarantee.samples))):
        expected, realised, se = unravelling.risk_agreement(tr, s)
        assert np.all(np.abs(realised - expected) <= 4 * se)


def test_dynamics_match_the_numpy_reference(study) -> None:
    results, _ = study
    for tr in results.tasks.values():
        out, task = tr.outcome, tr.task
        lemon_reports = np.tile(tr.closed.best, (task.agents, 1))
        for s, name in enumerate(out.names):
            reports = lemon_reports if "lemons" in name else task.types
            tested = name.startswith("verification")
            m = int(name.split("m=")[1]) if "m=" in name else tr.guarantee.samples
            fee = task.cost * m if tested else 0.0
            for r in range(0, R, 64):
                members, sizes, moves = ref.dynamics(
                    task.kind,
                    task.types,
                    reports,
                    out.eligible[s, r],
                    fee,
                    task.samples,
                    task.scale,
                    name == "pooling",
                    CONFIG.max_rounds,
                )
                np.testing.assert_array_equal(members, out.members[s, r], err_msg=name)
                np.testing.assert_array_equal(sizes, out.sizes[s, r, : len(sizes)], err_msg=name)
                assert moves == out.moves[s, r]


def upper_set_prediction(bias: np.ndarray, noise: float, n: int) -> np.ndarray:
    """The theorem: from everyone, the members with b_j² + σ²/n < b̄² + σ²/(|C| n) leave at
    once, repeatedly; the end is the first coalition no one leaves."""
    members = np.ones(bias.size, bool)
    while True:
        b = bias[members]
        pooled = b.mean() ** 2 + noise**2 / (members.sum() * n)
        leave = members & (bias**2 + noise**2 / n < pooled * (1 - 1e-6))
        if not leave.any():
            return members
        members &= ~leave


def pooling_and_full_information(profiles: np.ndarray, seed: int) -> vf.Outcome:
    """Both mechanisms on a family of type profiles, one per replicate."""
    mechanisms = [vf.pooling(), vf.full_information()]
    return vf.simulate(
        MEAN, mechanisms, jax.random.key(seed), R, CONFIG.max_rounds, profiles=profiles
    )


def test_pooling_follows_the_bias_order_theorem_on_random_profiles() -> None:
    rng = np.random.default_rng(5)
    bias = np.sort(rng.uniform(0, 2, (R, 5)), axis=1)
    profiles = np.stack([bias, np.ones_like(bias)], axis=2)
    out = pooling_and_full_information(profiles, 5)
    predicted = np.stack([upper_set_prediction(b, 1.0, MEAN.samples) for b in bias])
    np.testing.assert_array_equal(out.members[0], predicted)
    assert 0.2 < (predicted.sum(1) == 1).mean() < 1  # the family has both endings
    assert np.all(out.grand_stable[1])


def test_full_information_is_stable_for_any_types() -> None:
    rng = np.random.default_rng(6)
    profiles = np.stack([rng.normal(0, 1.5, (R, 5)), rng.uniform(0.2, 3, (R, 5))], axis=2)
    out = pooling_and_full_information(profiles, 6)
    assert np.all(out.grand_stable[1])
    assert out.grand_stable[0].mean() < 0.9  # pooling is not


def test_a_lemon_report_never_pays(study) -> None:
    """Caught at the guaranteed m; and — in this common-model reconstruction — unprofitable even
    untested, because a wrong weight makes the liar's own model worse too."""
    results, _ = study
    for tr in results.tasks.values():
        out = tr.outcome
        best = int(np.argmin(tr.closed.alone))
        for name in (
            "full information",
            "no test, truthful",
            unravelling.verification_name(tr.guarantee.samples),
        ):
            gain = out.deviation_gain[tr.scenario(name)].mean(0)
            assert gain[best] == pytest.approx(0, abs=1e-7)
            assert np.all(np.delete(gain, best) < 0), (tr.kind, name, gain)


# ---------------------------------------------------------------------------------------------
# the exchange game


def test_exchange_game_unravels_under_uniform_alpha_and_stays_whole_verified() -> None:
    uniform = vf.play_exchange(MEAN, "uniform")
    own = np.stack([MEAN.types[:, 0], MEAN.types[:, 0] ** 2 + MEAN.types[:, 1] ** 2], axis=1)
    k = MEAN.agents
    closed = (own + own.sum(0)) / (k + 1)  # μ_i = (m_i + K m̄)/(K + 1): PAPERS.md §1
    var = closed[:, 1] - closed[:, 0] ** 2
    kl = 0.5 * np.log(var) + (1 + closed[:, 0] ** 2) / (2 * var) - 0.5
    np.testing.assert_allclose(uniform.grand_risk, kl, rtol=1e-10)
    assert not uniform.whole and uniform.trajectory[-1].tolist() == [0, 0, 0, 0, 1]
    assert np.all(np.diff(uniform.trajectory.sum(1)) < 0)
    verified = vf.play_exchange(
        MEAN,
        "verified",
        passes=vf.verification_passes(
            MEAN, jax.random.key(7), 0.2, vf.guarantee(MEAN, 0.2, 0.05).samples
        ),
    )
    assert verified.whole and np.all(verified.risk <= verified.alone + 1e-12)
    assert np.all(verified.risk[1:] < verified.alone[1:])
    assert np.all(np.triu(verified.alpha, 1) == 0)  # nobody learns from a worse player


def test_exchange_game_on_sampled_data_with_game_equilibrium() -> None:
    rng = np.random.default_rng(8)
    data = [rng.normal(b, s, (20_000, 1)) for b, s in MEAN.types]
    game = gtgen.Game([gtgen.expfam.gaussian(1)] * MEAN.agents, np.full((5, 5), 0.2), data)
    own = game.stack(game.own_moments64)
    np.testing.assert_allclose(
        game_equilibrium_all(game), gtgen.nash_equilibrium(game.alpha, own), atol=1e-10
    )
    uniform = vf.play_exchange(MEAN, "uniform", own_moments=own)
    verified = vf.play_exchange(MEAN, "verified", own_moments=own)
    assert uniform.trajectory[-1].tolist() == [0, 0, 0, 0, 1] and verified.whole


def game_equilibrium_all(game: gtgen.Game) -> np.ndarray:
    return game.stack(gtgen.game_equilibrium(game))


# ---------------------------------------------------------------------------------------------
# outputs, command line, notebook, benchmark


def test_outputs(study) -> None:
    results, out = study
    m = json.loads((out / "results.json").read_text())
    assert all(c["holds"] for c in m["claims"])
    for kind, tr in results.tasks.items():
        rec = m["tasks"][kind]
        assert rec["guarantee"]["samples"] == tr.guarantee.samples
        assert rec["stability"]["measured"] == unravelling.frequencies(tr).tolist()
        assert [s["name"] for s in rec["scenarios"]] == list(tr.outcome.names)
    acc = m["tasks"]["classification"]["scenarios"][1]["accuracy"]
    full = 1 - results.tasks["classification"].closed.full
    assert len(acc) == 5 and acc == pytest.approx([full] * 5, rel=1e-5)  # float32 program
    for name in ("coalition_size.png", "stability.png", "accuracies.png", "exchange.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    text = (out / "report.txt").read_text()
    assert "Hoeffding" in text and "[NO " not in text and "accuracy per agent" in text


def test_cli_runs_and_writes(tmp_path, capsys) -> None:
    status = main(
        ["experiment", "unravelling", "--replicates", str(R), "--out", str(tmp_path / "run")]
    )
    assert status == 0
    assert "claims:" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "results.json").read_text())["replicates"] == R


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--delta", "1.5"], "delta"),
        (["--delta", "0"], "delta"),
        (["--eps", "0"], "eps"),
        (["--cls-eps", "-1"], "cls_eps"),
        (["--cost", "-1"], "cost"),
        (["--samples", "-2"], "samples"),
        (["--replicates", "0"], "replicates"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, field) -> None:
    out = tmp_path / "run"
    status = main(["experiment", "unravelling", *argv, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and field in err, err
    assert not out.exists()


def _mean(**kw):
    return vf.mean_estimation(**{"bias": [0, 1], "noise": 1.0, "samples": 10, **kw})


def _cls(**kw):
    return vf.classification(**{"flip": [0, 0.2], "samples": 10, "dim": 5, **kw})


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: _mean(bias=[0.0]), "bias"),  # J < 2
        (lambda: _mean(bias=[0, np.nan]), "bias"),
        (lambda: _mean(noise=[1, -1]), "noise"),
        (lambda: _mean(noise=[1, 1, 1]), "noise"),
        (lambda: _mean(samples=-5), "samples"),
        (lambda: _mean(samples=2.5), "samples"),
        (lambda: _mean(cost=-1), "cost"),
        (lambda: _mean(target_noise=0), "target_noise"),
        (lambda: _cls(flip=[0.1]), "flip"),
        (lambda: _cls(flip=[0, 0.5]), "flip"),
        (lambda: _cls(samples=0), "samples"),
        (lambda: _cls(dim=1), "dim"),
        (lambda: _cls(cost=-0.5), "cost"),
        (lambda: vf.guarantee(_mean(), 0, 0.05), "eps"),
        (lambda: vf.guarantee(_mean(), -1, 0.05), "eps"),
        (lambda: vf.guarantee(_mean(), math.inf, 0.05), "eps"),
        (lambda: vf.guarantee(_mean(), 0.1, 0), "delta"),
        (lambda: vf.guarantee(_mean(), 0.1, 1), "delta"),
        (lambda: vf.guarantee(_mean(), 0.1, 1.5), "delta"),
        (lambda: vf.hoeffding_samples(1, 0.1, 0.05, 0), "estimates"),
        (lambda: vf.verification(0), "eps"),
        (lambda: vf.verification(-0.1, 10), "eps"),
        (lambda: vf.verification(0.1, -5), "verification_samples"),
        (lambda: vf.verification(0.1, 1), "verification_samples"),
        (lambda: vf.verification(0.1, 10, reports="bogus"), "reports"),
        (lambda: vf.simulate(_mean(), [], jax.random.key(0)), "mechanisms"),
        (lambda: vf.simulate(_mean(), [vf.pooling()], jax.random.key(0), 0), "replicates"),
        (
            lambda: vf.simulate(
                _mean(), [vf.verification(0.1, 10, reports=[[0, 1]])], jax.random.key(0), 4
            ),
            "reports",
        ),
        (lambda: vf.simulate("mean", [vf.pooling()], jax.random.key(0)), "task"),
        (
            lambda: vf.simulate(
                _mean(), [vf.pooling()], jax.random.key(0), 4, profiles=np.ones((3, 2, 2))
            ),
            "profiles",
        ),
        (
            lambda: vf.simulate(
                _mean(), [vf.pooling()], jax.random.key(0), 2, profiles=[[[0, 1], [0, -1]]] * 2
            ),
            "profiles",
        ),
        (lambda: vf.pass_probability(_mean(), 0.1, 1), "verification_samples"),
        (lambda: vf.play_exchange(_cls()), "task"),
        (lambda: vf.play_exchange(_mean(), "bogus"), "policy"),
        (lambda: unravelling.validate(CONFIG._replace(bias=(0.0,))), "bias"),
        (lambda: unravelling.validate(CONFIG._replace(cost=-1.0)), "cost"),
        (lambda: unravelling.validate(CONFIG._replace(samples=-1)), "samples"),
        (lambda: unravelling.validate(CONFIG._replace(cls_samples=0)), "samples"),
        (lambda: unravelling.validate(CONFIG._replace(delta=2.0)), "delta"),
        (lambda: unravelling.validate(CONFIG._replace(eps=0.0)), "eps"),
        (lambda: unravelling.validate(CONFIG._replace(cls_eps=math.inf)), "cls_eps"),
        (lambda: unravelling.validate(CONFIG._replace(fractions=(0.5,))), "fractions"),
        (lambda: unravelling.validate(CONFIG._replace(fractions=(1.0, -2.0))), "fractions"),
        (lambda: unravelling.validate(CONFIG._replace(replicates=0)), "replicates"),
        (lambda: unravelling.validate(CONFIG._replace(flip=(0.2, 0.7))), "flip"),
    ],
)
def test_bad_input_is_one_clear_error(call, field) -> None:
    with pytest.raises((ValueError, TypeError), match=field):
        call()


def test_notebook_runs(study) -> None:
    ns = run_notebook(ROOT / "notebooks" / "07_unravelling.ipynb", {"REPLICATES": R})
    assert ns["pooled"].unravelled(4)[0].all()
    assert ns["frequency_at_guarantee"] >= 0.95
    assert ns["exchange_uniform"].trajectory[-1].sum() == 1 and ns["exchange_verified"].whole


def test_benchmark_case_tiny() -> None:
    out = verification_cases.verification_replicates(quick=True)
    assert out["name"] == "verification-replicates"
    assert out["ratio_vs_loop"] > 0 and out["program_replicate_us"] > 0
    assert out["targets"] == {"ratio_vs_loop": "≥ 100"}
    assert verification_cases.CASES == [verification_cases.verification_replicates]

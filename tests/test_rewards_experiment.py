"""``gtgen experiment rewards``: the authors' data replayed exactly, the 2-D setting's directions
at a test-sized scale through the CLI, bad input, the notebook, the benchmark cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from gtgen.cli import main
from gtgen.experiments import rewards as ex
from gtgen.mechanisms import valuation as val
from notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of the checkout

SMALL = [
    "--datasets",
    "gmm",
    "--party-size",
    "100",
    "--candidates",
    "2000",
    "--generator",
    "numpy",
    "--betas",
    "1",
    "4",
]


def authors_pipeline(split: str, party_data_size: int, candidate_data_size: int):
    """The authors' data/pipeline.py (dataset "creditratings") and core/utils.py, transcribed on
    numpy's global legacy generator as they run it."""
    num_classes = num_parties = 5
    d = 2
    prop = ex.GMM_PROPORTIONS[split]
    np.random.seed(2)
    means = np.random.uniform(size=(num_classes, d))
    covs = np.zeros((num_classes, d, d))
    for i in range(num_classes):
        covs[i] = np.eye(d) / 200
    num_samples = (party_data_size * num_parties) // num_classes
    data_in_classes = np.zeros((num_classes, num_samples, d))
    for i in range(num_classes):
        data_in_classes[i] = np.random.multivariate_normal(
            means[i], covs[i], size=num_samples, check_valid="raise"
        )
    split_datasets = [[] for _ in range(num_parties)]
    dataset_idx = [0] * num_classes
    for i in range(num_parties):
        for j in range(num_classes):
            for _ in range(int(prop[i, j] * (num_classes / num_parties) * num_samples)):
                split_datasets[i].append(data_in_classes[j, dataset_idx[j]])
                dataset_idx[j] += 1
    size = min(len(ds) for ds in split_datasets)
    parties = []
    for i in range(num_parties):
        current = np.array(split_datasets[i])
        p = np.random.permutation(len(current))
        parties.append(current[p][:size])
    samples = np.zeros((candidate_data_size, d))
    for i in range(candidate_data_size):
        cluster = np.random.randint(num_classes)
        samples[i] = np.random.multivariate_normal(
            means[cluster], covs[cluster], check_valid="raise"
        )
    return parties, samples


@pytest.mark.parametrize("split", ["equaldisjoint", "unequal"])
def test_authors_generator_replays_their_points(split) -> None:
    state = np.random.get_state()
    try:
        parties, candidates = authors_pipeline(split, 100, 300)
    finally:
        np.random.set_state(state)
    setting = ex.gmm_setting(split, 100, 300, generator="authors")
    assert len(setting.parties) == 5
    for ours, theirs in zip(setting.parties, parties):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(setting.candidates, candidates)


def test_the_authors_lp_failure_reproduced_on_their_points() -> None:
    """PAPERS.md §2, read from the authors' code: at |D_i| = 200, |G| = 2000 on their GMM the
    stable program is infeasible, v(N) = 0.51762 above v_max = 0.51754. Their points and their
    lengthscale search give these numbers to the digit; gtgen then falls back."""
    setting = ex.gmm_setting("equaldisjoint", 200, 2000, generator="authors")
    valuation = val.value(setting.parties, setting.candidates, lengthscale_search="linear")
    assert len(valuation.search.evaluated) == 2 + 20
    upper = val.lp.upper_bounds(valuation.sums)[int(np.argmax(valuation.phi))]
    assert round(valuation.grand_value, 5) == 0.51762 and round(upper, 5) == 0.51754
    with pytest.warns(val.StabilityFallback):
        plan = val.reward_plan(valuation.sums, valuation.phi, "stable")
    assert plan.condition == "rational"


def test_digits_split_follows_the_authors_proportions() -> None:
    setting = ex.digits_setting("equaldisjoint", candidates=500)
    n = min(len(p) for p in setting.parties)
    for i, labels in enumerate(setting.party_labels):
        counts = np.bincount(labels, minlength=10)
        assert set(np.argsort(counts)[-2:]) == {2 * i, 2 * i + 1}  # two digits per party
    assert all(p.shape == (n, 8) for p in setting.parties)
    assert setting.candidates.shape == (500, 8)


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_runs_the_2d_setting_with_the_authors_directions(capsys, tmp_path) -> None:
    """A test-sized 2-D setting (|D_i| = 100, |G| = 2000, β ∈ {1, 4}): corr(α, |R|) > 0 and
    corr(β, |R|) < 0 in both splits, as in the authors' run; every output written."""
    out = tmp_path / "run"
    status, stdout, err = run_cli(
        capsys, "experiment", "rewards", *SMALL, "--quiet", "--out", str(out)
    )
    assert status == 0, err
    assert "corr(α, |R|)" in stdout and "authors +0.69" in stdout
    for name in ("results.json", "report.txt", "scatter_gmm.png", "bars_gmm.png"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert [s["split"] for s in results["settings"]] == ["equaldisjoint", "unequal"]
    for s in results["settings"]:
        cor = s["correlations"]
        assert cor["alpha_count"][0] > 0 and cor["beta_count"][0] < 0, (s["split"], cor)
        assert s["program"] in ("stable", "rational") and s["fallback"] == (
            s["program"] != "stable"
        )
        assert np.isclose(sum(s["phi"]), s["v_all"])
        for draw in s["draws"]:
            assert len(draw["counts"]) == 5
            assert all(st in ("reached", "early stop") for st in draw["status"])


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--betas", "-1"], "betas: every β must be >= 0"),
        (["--betas", "x"], "--betas"),
        (["--betas", "1", "1"], "betas: must be distinct"),
        (["--party-size", "1"], "party_size: must be an integer >= 2"),
        (["--candidates", "0"], "candidates: must be a positive integer"),
        (["--early-stop", "1.5"], "early_stop: must be a number in (0, 1]"),
        (["--datasets", "mnist"], "--datasets"),
        (["--pool", "mine"], "--pool"),
    ],
)
def test_cli_bad_input_is_one_line_and_status_2(capsys, tmp_path, argv, field) -> None:
    status, _, err = run_cli(
        capsys, "experiment", "rewards", "--out", str(tmp_path / "o"), "--quiet", *argv
    )
    assert status == 2 and field in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_notebook_runs_at_a_small_size() -> None:
    ns = run_notebook(
        ROOT / "notebooks" / "08_rewards.ipynb",
        {"PARTY_SIZE": 100, "CANDIDATES": 2000, "BETAS": (1.0, 4.0), "GAME_POOL": 1000},
    )
    assert ns["corr_alpha"] > 0 and ns["corr_beta"] < 0
    assert abs(ns["val"].phi.sum() - ns["val"].grand_value) < 1e-9
    assert np.all(ns["r"].reached) and len(ns["r"].valuation.candidates) == 1000


def test_benchmark_cases_run_tiny() -> None:
    from benchmarks import run, valuation_cases

    assert "benchmarks.valuation_cases" in run.CASE_MODULES
    assert valuation_cases.CASES == [
        valuation_cases.rewards_sampling,
        valuation_cases.rewards_coalitions,
    ]
    out = valuation_cases.rewards_sampling(
        sizes={
            "party_size": 30,
            "candidates": 300,
            "k1": 5,
            "k2": 25,
            "baseline_steps": 1,
            "repeats": 1,
        }
    )
    assert out["name"] == "rewards-sampling" and out["targets"] == {"ratio_per_step": 100}
    for key in ("gtgen_step_us", "baseline_step_ms", "ratio_per_step", "gtgen_total_s"):
        assert out[key] > 0, key
    assert out["party_size"] == 28  # the authors' split: int(0.96·30) + 4·int(0.01·30)
    assert out["kernel_evals_per_step_baseline"] == 300 * (28 + 5 * 28 + 300)
    coal = valuation_cases.rewards_coalitions(
        sizes={"parties": 3, "party_size": 20, "candidates": 60, "repeats": 1}
    )
    assert coal["coalitions"] == 7 and coal["ratio"] > 0
    assert coal["max_value_difference"] < 1e-6  # both compute the same coalition values

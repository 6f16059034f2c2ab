"""``gtgen experiment meanfield``: the study's outputs and claims, bad input, and the notebook.

The small configuration shares its array shapes with tests/test_meanfield.py (3 classes, n = 2,
T = 30), so the two files together compile each program once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gtgen.cli import main
from gtgen.experiments import meanfield
from notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("meanfield") / "run"
    assert main(["experiment", "meanfield", "--small", "--quiet", "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text()), out


def test_outputs(cli_run) -> None:
    results, out = cli_run
    for name in ("forecasts.png", "costs.png", "gap_vs_n.png", "coupling.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    text = (out / "report.txt").read_text()
    assert "decentralised" in text and "minimax" in text and "checks:" in text
    assert set(results["forecasting"]) == {"periodic", "logistic", "drift"}
    assert results["config"]["agents"] == 30 and results["classes"] == list(meanfield.CLASSES)


def test_claims_hold_at_small_size(cli_run) -> None:
    results, _ = cli_run
    failed = [c["text"] for c in results["claims"] if not c["holds"]]
    assert not failed, failed
    assert len(results["claims"]) == 11


def test_forecasting_science(cli_run) -> None:
    results, _ = cli_run
    for name, f in results["forecasting"].items():
        p = f["policies"]
        # the centralised policy is the exact N-player Nash: zero regret; decentralised is close
        assert p["centralised"]["underperformer_regret"] < 1e-8
        assert (
            0 < p["decentralised"]["underperformer_regret"] < p["greedy"]["underperformer_regret"]
        )
        assert abs(p["decentralised"]["mean_cost"] - p["centralised"]["mean_cost"]) < (
            0.01 * p["centralised"]["mean_cost"]
        )
        # pooling by the mean field helps the worst agent: the minimax coupling beats none
        m = f["minimax"]
        assert m["worst_at_minimax"] < m["worst_rmse"][m["grid"].index(0.0)], name
        # without coupling the agents do not interact: the decentralised policy is Nash
        regret = m["underperformer_regret"]
        assert regret[m["grid"].index(0.0)] < 1e-10 < regret[-1]
        # the server's mixture is no worse than its bound and beats the average client
        h = f["hedge"]
        assert h["regret"] <= h["bound"] and h["hedge_regret"] <= h["hedge_bound"]
        assert h["rmse"] < h["mean_client_rmse"]
    gap = results["gap"]
    assert gap["feedback"]["epsilon"][-1] < gap["open_loop"]["epsilon"][-1]
    sampled = results["exchange"]["sampled"]
    assert sampled["distance"] < 5 * sampled["noise_scale"] + sampled["meanfield_bias"]


def test_views_are_ar1_around_the_class_target() -> None:
    config = meanfield.validate(meanfield.Config(steps=4000))
    y = meanfield.make_series("periodic", config.steps, 0)
    types = np.repeat(np.arange(3), [200, 200, 200])
    nu = meanfield.views(config, y, types, 0) - y[:, None] - np.asarray(config.offsets)[types]
    for c, sigma in enumerate(config.view_noise):
        block = nu[:, types == c]
        assert block.std() == pytest.approx(sigma, rel=0.05)
        lag = np.mean(block[1:] * block[:-1]) / np.mean(block * block)
        assert lag == pytest.approx(config.persistence, abs=0.02)
    for name in meanfield.SERIES:
        s = meanfield.make_series(name, 200, 3)
        assert s.min() == pytest.approx(meanfield.LOW) and s.max() == pytest.approx(meanfield.HIGH)


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--steps", "0"], "steps:"),
        (["--series", "sunspots"], "series:"),
        (["--agents", "2"], "agents:"),
        (["--coupling", "-1"], "coupling:"),
        (["--gap-agents", "10"], "gap_agents:"),
        (["--coupling-grid", "x"], "argument --coupling-grid"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, field) -> None:
    out = tmp_path / "run"
    status = main(["experiment", "meanfield", "--small", "--quiet", "--out", str(out), *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and field in err, err
    assert "Traceback" not in err and not out.exists()


def test_cli_refuses_a_file_as_out(tmp_path, capsys) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["experiment", "meanfield", "--small", "--out", str(target)]) == 2
    assert "--out:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, field",
    [
        ({"shares": (0.5, 0.5, 0.5)}, "shares:"),
        ({"shares": (0.5, 0.5)}, "shares:"),
        ({"view_noise": (0.1, -0.1, 0.1)}, "view_noise[1]:"),
        ({"persistence": 1.0}, "persistence:"),
        ({"coupling_grid": ()}, "coupling_grid:"),
        ({"exchange_sizes": (10,)}, "exchange_sizes:"),
        ({"coupled_agents": 500}, "coupled_agents:"),
        ({"series": ("periodic", "periodic")}, "series:"),
    ],
)
def test_config_validation_names_the_field(change, field) -> None:
    with pytest.raises(ValueError) as err:
        meanfield.validate(meanfield.small_config(**change))
    assert str(err.value).startswith(field), str(err.value)


def test_notebook_runs() -> None:
    ns = run_notebook(
        ROOT / "notebooks" / "06_meanfield.ipynb",
        {
            "HORIZON": 30,
            "POPULATIONS": [10, 100, 1000, 10_000],
            "REPLICAS": 3000,
            "PLAYERS": 20_000,
        },
    )
    assert ns["slope"] <= -0.5 and ns["eps_slope"] <= -0.5
    assert abs(ns["eps_mc"] - ns["exact"].regret[1]) < 4 * ns["eps_se"]
    assert all(c.holds for c in ns["results"].claims)
    assert ns["scaling"].slope <= -0.5

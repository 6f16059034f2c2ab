"""Every run returns finite, valid figures or stops with one line (issue 14, failure 2)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from gtgen.cli import main
from gtgen.game import Game
from gtgen.players.expfam import REAL_LIMIT, family, gaussian, gaussian_full
from gtgen.solvers.equilibrium import check, game_equilibrium
from gtgen.sweep import parse_config

ALPHA = [[0.6, 0.4], [0.3, 0.7]]


def _solve(tmp_path, capsys, fam, arrays, method="exact", extra=""):
    np.savez(tmp_path / "d.npz", player0=arrays[0], player1=arrays[1])
    cfg = tmp_path / "g.toml"
    cfg.write_text(
        f'family = "{fam}"\nalpha = {ALPHA}\ndata = "d.npz"\n{extra}\n'
        f'[solver]\nmethod = "{method}"\nrounds = 40\nsamples = 200\n'
    )
    status = main(["solve", str(cfg), "--json"])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("method", ["exact", "sampled"])
def test_fewer_samples_than_dimensions_is_refused_naming_the_ridge(tmp_path, capsys, method):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 5)), rng.normal(size=(3, 5)) + 1]
    status, out, err = _solve(tmp_path, capsys, "gaussian-full", arrays, method)
    assert (status, out) == (2, "") and err.count("\n") == 1 and "Traceback" not in err
    assert "data[0]" in err and "singular" in err and "ridge" in err


def test_samples_on_a_subspace_are_refused(tmp_path, capsys):
    rng = np.random.default_rng(1)
    flat = rng.normal(size=(50, 3)) @ np.array([[1.0, 0, 0], [0, 1, 0], [1, 1, 0]])
    status, _, err = _solve(tmp_path, capsys, "gaussian-full", [rng.normal(size=(50, 3)), flat])
    assert status == 2 and "data[1]" in err and "subspace" in err


@pytest.mark.parametrize("method", ["exact", "sampled"])
def test_the_ridge_gives_finite_valid_figures(tmp_path, capsys, method):
    import json

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 5)), rng.normal(size=(3, 5)) + 1]
    status, out, err = _solve(tmp_path, capsys, "gaussian-full", arrays, method, "ridge = 1e-2")
    assert status == 0, err
    result = json.loads(out)
    assert all(np.isfinite(result[k]) for k in ("distance", "residual"))
    assert all(0.0 <= g < 1.0 for g in result["nash_gap"])


def test_ridge_kl_is_the_kl_of_the_ridged_gaussians():
    """The ridge player's KL equals the closed-form KL of N(m, Σ + rI) (numpy oracle)."""
    rng = np.random.default_rng(2)
    d, r = 3, 0.05
    player = gaussian_full(d, "x", r)
    mus = []
    covs = []
    for _ in range(2):
        m = rng.normal(size=d)
        a = rng.normal(size=(d, d))
        cov = a @ a.T + 0.1 * np.eye(d)
        mus.append(np.concatenate([m, (cov + np.outer(m, m)).ravel()]))
        covs.append((m, cov + r * np.eye(d)))
    with jax.enable_x64(True):
        got = float(player.kl(np.asarray(mus[0]), np.asarray(mus[1])))
    (m0, s0), (m1, s1) = covs
    inv1 = np.linalg.inv(s1)
    want = 0.5 * (
        np.trace(inv1 @ s0)
        + (m1 - m0) @ inv1 @ (m1 - m0)
        - d
        + np.linalg.slogdet(s1)[1]
        - np.linalg.slogdet(s0)[1]
    )
    assert got == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("fam", ["gaussian", "gaussian-full"])
def test_data_whose_squares_overflow_float32_is_refused_naming_the_player(tmp_path, capsys, fam):
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) * 1e20]
    status, out, err = _solve(tmp_path, capsys, fam, arrays, "sampled")
    assert (status, out) == (2, "") and "data[1]" in err and "overflows float32" in err


@pytest.mark.parametrize("fam", ["gaussian", "gaussian-full"])
def test_large_data_below_the_limit_gives_finite_results(tmp_path, capsys, fam):
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) * REAL_LIMIT / 10]
    status, _, err = _solve(tmp_path, capsys, fam, arrays, "exact")
    assert status == 0, err


def test_api_game_refuses_a_singular_covariance():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"data\[0\]: 2 samples in 4 dimensions.*ridge"):
        Game([gaussian_full(4)] * 2, ALPHA, [rng.normal(size=(2, 4)), rng.normal(size=(9, 4))])
    Game(
        [gaussian_full(4, "x", 1e-3)] * 2, ALPHA, [rng.normal(size=(2, 4)), rng.normal(size=(9, 4))]
    )


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "0.1", True])
def test_ridge_values_are_checked(bad):
    with pytest.raises(ValueError, match="ridge"):
        family("gaussian-full", 3, bad)


def test_ridge_is_only_for_gaussian_full():
    with pytest.raises(ValueError, match='ridge: only for family = "gaussian-full"'):
        family("gaussian", 3, 0.1)


def test_check_refuses_a_non_finite_solution():
    rng = np.random.default_rng(0)
    game = Game([gaussian(2)] * 2, ALPHA, [rng.normal(size=(9, 2)), rng.normal(size=(9, 2))])
    params = [np.array(p) for p in game_equilibrium(game)]
    params[0][1, 0] = np.nan
    with pytest.raises(ValueError, match="solution: player 1's parameters are not finite"):
        check(game, params)
    report = check(game, game_equilibrium(game))
    assert all(g >= 0.0 for g in report.nash_gap)


@pytest.mark.parametrize(
    "raw, words",
    [
        (
            {"family": "gaussian-full", "dim": 8, "data_size": 8},
            "data_size: 8 samples in 8 dimensions",
        ),
        (
            {"family": "gaussian-full", "dim": [2, 16], "data_size": 10},
            "data_size: 10 samples in 16",
        ),
        ({"family": "poisson", "spread": 100.0}, "spread: poisson"),
        ({"spread": 1e9}, "spread: must be a number in [0, 1e+06]"),
    ],
)
def test_sweep_refuses_synthetic_data_that_cannot_give_finite_results(raw, words):
    with pytest.raises(ValueError) as err:
        parse_config(raw)
    assert words in str(err.value)


def test_sweep_data_file_overflow_names_the_player(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz", player0=rng.normal(size=(9, 2)), player1=rng.normal(size=(9, 2)) * 1e25
    )
    (tmp_path / "s.toml").write_text('family = "gaussian"\nplayers = 2\ndata_file = "d.npz"\n')
    status = main(
        [
            "sweep",
            str(tmp_path / "s.toml"),
            "--out",
            str(tmp_path / "o"),
            "--single-device",
            "--no-progress",
            "--no-plots",
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and "data_file: player1 of d.npz" in err and "overflows" in err

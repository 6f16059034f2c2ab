"""Accepted inputs have bounded cost: derived sizes are limited, and a sweep states its size and
memory before it starts and refuses what cannot fit (issue 14, failure 5)."""

from __future__ import annotations

import numpy as np
import pytest

from gtgen.cli import main
from gtgen.players.expfam import MAX_CLASSES, categorical
from gtgen.sweep import budget, parse_config
from gtgen.sweep import config as sweep_config
from gtgen.sweep.config import MAX_POINTS


def _solve(tmp_path, capsys, arrays, extra=""):
    np.savez(tmp_path / "d.npz", player0=arrays[0], player1=arrays[1])
    (tmp_path / "g.toml").write_text(
        f'family = "categorical"\nalpha = [[0.5, 0.5], [0.5, 0.5]]\ndata = "d.npz"\n{extra}\n'
    )
    status = main(["solve", str(tmp_path / "g.toml")])
    return status, capsys.readouterr().err


def test_a_stray_huge_label_is_refused_naming_the_player(tmp_path, capsys):
    status, err = _solve(tmp_path, capsys, [np.array([0, 1]), np.array([0, 10**9])])
    assert status == 2 and "data: player1 holds the label 1000000000" in err
    assert err.count("\n") == 1


def test_num_classes_beyond_the_limit_is_refused(tmp_path, capsys):
    status, err = _solve(
        tmp_path, capsys, [np.array([0, 1]), np.array([0, 1])], f"num_classes = {MAX_CLASSES + 1}"
    )
    assert status == 2 and "num_classes:" in err and str(MAX_CLASSES) in err
    with pytest.raises(ValueError, match="num_classes"):
        categorical(MAX_CLASSES + 1)


def test_seeds_of_ten_million_are_refused_at_once(monkeypatch):
    def expanded(*args, **kwargs):
        raise AssertionError("the grid was expanded before its size was checked")

    monkeypatch.setattr(sweep_config, "_expand", expanded)  # counted, not expanded
    with pytest.raises(ValueError, match=r"seeds: the sweep would have 10,000,000 points"):
        parse_config({"seeds": 10**7})
    with pytest.raises(ValueError, match=r"a: the sweep would have 2,000,000 points or more"):
        parse_config(
            {"seeds": 1000, "a": [0.1 * (i + 1) / 1000 for i in range(1000)], "players": [2, 3]}
        )


def test_points_tables_count_together():
    table = {"seeds": 600_000}
    with pytest.raises(ValueError, match=r"points\[1\]\.seeds: the sweep would have 1,200,000"):
        parse_config({"points": [table, table]})
    assert MAX_POINTS == 1_000_000


def test_memory_estimate_counts_the_arrays_of_a_point():
    cfg = parse_config(
        {
            "family": "gaussian",
            "dim": 3,
            "players": 4,
            "data_size": 50,
            "samples": 100,
            "rounds": 10,
            "seeds": 5,
            "batch": 2,
        }
    )
    est = budget.estimate(cfg)
    # α 16 + data 4·50·4 + params 8·4·6 + samples 4·100·(3+6) + own 4·50·6 + traces 20
    want = 4 * (16 + 800 + 192 + 3600 + 1200 + 20)
    assert est["point_bytes"] == want and est["chunk_bytes"] == 2 * want
    assert est["points"] == 5 and est["shapes"] == 1
    assert "5 points in 1 shape; memory ≈" in budget.describe(est)
    with pytest.raises(ValueError, match="batch: .* more than the 100 B available"):
        budget.check_fits({**est, "point_bytes": 10}, available=100)
    with pytest.raises(ValueError, match="dim: one point alone needs"):
        budget.check_fits(est, available=100)


def test_sweep_states_its_size_before_it_starts_and_refuses_what_cannot_fit(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text("players = 2\nrounds = 3\nsamples = 8\nseeds = 2\n")
    assert (
        main(
            [
                "sweep",
                str(cfg),
                "--out",
                str(tmp_path / "o"),
                "--single-device",
                "--no-plots",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "sweep: 2 points in 1 shape; memory ≈" in capsys.readouterr().err
    cfg.write_text('family = "gaussian-full"\ndim = 4096\ndata_size = 5000\nplayers = 64\n')
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "big")]) == 2
    err = capsys.readouterr().err
    assert "one point alone needs" in err and err.count("\n") == 1
    assert not (tmp_path / "big").exists()

"""gtgen.sweep: agreement with gtgen.solve, one compile per shape, resume, outputs, bad configs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import numpy as np
import pytest
from jax import monitoring

import gtgen
from gtgen.cli import main
from gtgen.sweep import (
    SweepResult,
    alpha_matrix,
    load_config,
    parse_config,
    structure,
    sweep,
    synthetic_data,
)
from gtgen.sweep import config as sweep_config
from gtgen.sweep.structured import closed_form, rate

ROOT = Path(__file__).resolve().parents[1]

SMALL = {"players": 6, "rounds": 30, "samples": 32, "data_size": 40}

# An independent count of XLA compilations (the sweep counts its own the same way).
_COMPILES = [0]
monitoring.register_event_duration_secs_listener(
    lambda name, *a, **k: (
        _COMPILES.__setitem__(0, _COMPILES[0] + 1)
        if name == "/jax/core/compile/backend_compile_duration"
        else None
    )
)


def _game(s: dict) -> gtgen.Game:
    """The game of one point, from its full settings (a row or a parsed point)."""
    player = gtgen.expfam.family(s["family"], s["dim"])
    return gtgen.Game([player] * s["players"], alpha_matrix(s), list(synthetic_data(s)))


@pytest.mark.parametrize("method", ["sampled", "exact", "anderson"])
def test_rows_agree_with_gtgen_solve(method):
    result = sweep(
        **SMALL, method=method, a=[0.3], alpha=["ring", "dirichlet"], seeds=[4], devices=None
    )
    assert len(result.rows) == 2
    for row, trace in zip(result.rows, result.traces):
        game = _game(row)
        star = gtgen.game_equilibrium(game)
        sol = gtgen.solve(
            game, jax.random.key(row["seed"]), method=method, rounds=30, samples=32, reference=star
        )
        report = gtgen.check(game, sol)
        assert row["rounds_run"] == sol.rounds_run
        np.testing.assert_allclose(trace, np.asarray(sol.trace.distance), rtol=1e-4, atol=1e-5)
        assert row["distance"] == pytest.approx(report.distance, rel=1e-3, abs=1e-5)
        assert row["nash_gap_max"] == pytest.approx(max(report.nash_gap), rel=1e-2, abs=1e-6)
        assert row["rate"] == pytest.approx(report.rate, abs=1e-9)
        if method != "sampled":
            assert row["distance"] < 1e-4 and row["rounds_to_tol"] > 0


def test_one_compilation_per_shape():
    before = _COMPILES[0]
    result = sweep(
        **{**SMALL, "players": [4, 6], "rounds": 29},
        a=[0.2, 0.5, 0.9],
        seeds=3,
        alpha=["uniform", "star"],
        method="exact",
        batch=5,
        devices=None,
    )
    meta = result.meta
    assert meta["points"] == 36 and meta["distinct_shapes"] == 2
    assert meta["chunks"] > 2  # several calls per compiled program
    assert meta["compilations"] == meta["programs_compiled"] == 2
    assert _COMPILES[0] - before == 2
    assert {r["shape"] for r in result.rows} == {0, 1}


def test_resume_skips_finished_chunks(tmp_path):
    settings = dict(**SMALL, method="exact", a=[0.3, 0.6, 0.9], seeds=4, batch=4, devices=None)
    full = sweep(**settings)

    def stop_after_first(event):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(**settings, out=tmp_path, on_chunk=stop_after_first, plots=False)
    assert len(list((tmp_path / "chunks").glob("*.npz"))) == 1
    assert not (tmp_path / "sweep.json").exists()  # nothing half-written

    events = []
    again = sweep(**settings, out=tmp_path, on_chunk=events.append, plots=False)
    assert [e["resumed"] for e in events] == [True] + [False] * (len(events) - 1)
    assert again.meta["resumed_points"] == 4 and again.meta["computed_points"] == 8
    np.testing.assert_array_equal(again.column("distance"), full.column("distance"))

    before = _COMPILES[0]
    third = sweep(**settings, out=tmp_path, plots=False)
    assert third.meta["resumed_points"] == 12 and third.meta["compilations"] == 0
    assert _COMPILES[0] == before
    rerun = sweep(**settings)  # no folder: recomputed, with the program compiled above
    assert rerun.meta["compilations"] == 0
    np.testing.assert_array_equal(rerun.column("distance"), full.column("distance"))


def test_output_folder(tmp_path):
    result = sweep(
        **{**SMALL, "samples": [16, 64]}, a=[0.4, 0.8], seeds=2, method="exact", out=tmp_path
    )
    assert isinstance(result, SweepResult)
    meta = json.loads((tmp_path / "sweep.json").read_text())
    for key in ("points", "distinct_shapes", "compilations", "wall_s"):
        assert key in meta
    # the sample count is a traced input of exponential-family programs: one shape for both m
    assert meta["points"] == 8 and meta["distinct_shapes"] == 1
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    for col in (
        "a",
        "seed",
        "samples",
        "draw",
        "rate",
        "rounds_to_tol",
        "distance",
        "nash_gap_max",
        "wall_s",
    ):
        assert col in header
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "results.parquet")
    assert table.num_rows == 8 and len(table.column("trace_distance")[0]) == SMALL["rounds"]
    for png in ("distance_vs_rounds.png", "rate_vs_a.png", "error_vs_samples.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_alpha_families_are_stochastic_with_the_right_rate():
    for kind in ("uniform", "dirichlet", "ring", "star", "small-world"):
        for n in (3, 9):
            s = (
                parse_config(
                    {
                        "players": n,
                        "alpha": kind,
                        "a": 0.35,
                        "seeds": [2],
                        "neighbors": 2,
                        "rewire": 0.5,
                    }
                )
                .points[0]
                .settings
            )
            alpha = alpha_matrix(s)
            gtgen.validate_alpha(alpha, n)
            assert rate(structure(s), alpha) == pytest.approx(
                gtgen.spectral_radius(alpha), abs=1e-9
            )


def test_structured_path_matches_dense(monkeypatch):
    settings = dict(
        **SMALL, method="exact", a=[0.3], alpha=["ring", "uniform", "star"], seeds=2, devices=None
    )
    dense = sweep(**settings)
    monkeypatch.setattr(sweep_config, "DENSE_MAX", 4)  # 6 players now count as a large game
    sparse = sweep(**settings)
    assert [s["structure"] for s in sparse.meta["shapes"]] == ["ring", "uniform", "star"]
    np.testing.assert_array_equal(sparse.column("rounds_run"), dense.column("rounds_run"))
    assert np.all(sparse.column("distance") < 1e-4)
    for row in dense.rows:
        s = (
            parse_config(
                {
                    "players": 6,
                    "alpha": row["alpha"],
                    "a": 0.3,
                    "seeds": [row["seed"]],
                    "data_size": 40,
                }
            )
            .points[0]
            .settings
        )
        game = _game(s)
        own = np.asarray(game.own_moments()[0], np.float64)
        np.testing.assert_allclose(
            closed_form(structure(s), own), gtgen.nash_equilibrium(game.alpha, own), atol=1e-9
        )


def test_data_file(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {f"player{i}": rng.normal(i, 1.0, (20 + 5 * i, 2)) for i in range(3)}
    np.savez(tmp_path / "players.npz", **arrays)
    result = sweep(
        data_file=str(tmp_path / "players.npz"),
        players=3,
        method="exact",
        a=[0.5],
        seeds=1,
        devices=None,
    )
    game = gtgen.Game(
        [gtgen.expfam.gaussian(2)] * 3, alpha_matrix(result.rows[0]), list(arrays.values())
    )
    sol = gtgen.solve(game, jax.random.key(0), method="exact")
    assert result.rows[0]["rounds_run"] == sol.rounds_run
    assert result.rows[0]["distance"] < 1e-4
    assert math.isnan(result.rows[0]["spread"])


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"a": []}, "a: empty list"),
        ({"seeds": []}, "seeds: empty list"),
        ({"colour": "red"}, "colour: unknown setting"),
        ({"seed": 3}, "seed: unknown setting (use seeds)"),
        ({"a": 1.5}, "a: must be a number in [0, 1]"),
        ({"a": [0.5, "x"]}, "a[1]: must be a number"),
        ({"a": 0.0}, "a: 0 leaves every player"),
        ({"players": 4, "alpha": "ring", "neighbors": 4}, "neighbors: 4 neighbours"),
        (
            {
                "alpha": "uniform",
                "routing": "meanfield",
                "method": "sampled",
                "players": [4],
                "points": [{"alpha": "ring"}],
            },
            "points[0].routing: meanfield",
        ),
        ({"points": [{"bogus": 1}]}, "points[0].bogus: unknown setting"),
        ({"points": []}, "points: must be a non-empty list"),
        ({"method": "newton"}, "method: unknown value"),
        ({"rounds": 10, "burn_in": 20}, "burn_in: 20 is more than rounds"),
        ({"players": 5000, "alpha": "dirichlet"}, "alpha: dirichlet rows are dense"),
        ({"batch": 0}, "batch: must be an integer"),
        ({"family": "vae", "method": "exact"}, "method: vae players learn from samples only"),
        ({"family": "vae", "players": 11}, "players: vae players split the 10 digit classes"),
    ],
)
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(ValueError) as err:
        sweep(**settings)
    assert str(err.value).startswith(field), str(err.value)


def test_data_file_shape_mismatch(tmp_path):
    np.savez(tmp_path / "d.npz", player0=np.zeros((5, 2)), player1=np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"^players: 4 does not match data_file"):
        sweep(data_file=str(tmp_path / "d.npz"), players=4)
    with pytest.raises(ValueError, match=r"^dim: gaussian with dim = 3"):
        sweep(data_file=str(tmp_path / "d.npz"), players=2, dim=3)
    with pytest.raises(ValueError, match=r"^data_file: file"):
        sweep(data_file=str(tmp_path / "missing.npz"))


def test_cli(tmp_path, capsys):
    config = tmp_path / "s.toml"
    config.write_text("players = 4\na = [0.5, 0.9]\nseeds = 2\nrounds = 10\nsamples = 8\n")
    assert (
        main(["sweep", str(config), "--out", str(tmp_path / "out"), "--no-progress", "--no-plots"])
        == 0
    )
    assert "4 points in 1 shapes, 1 compilations" in capsys.readouterr().out
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["resumed_points"] == 4 and meta["compilations"] == 0

    config.write_text("players = 4\na = []\n")
    assert main(["sweep", str(config), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "gtgen: error: a: empty list, so the sweep has no points"
    assert not (tmp_path / "bad").exists()
    config.write_text("players = 4\nspeed = 1\n")
    assert main(["sweep", str(config)]) == 2
    assert "speed: unknown setting" in capsys.readouterr().err


def test_example_config():
    cfg = load_config(ROOT / "examples" / "sweep-gaussian.toml")
    assert len(cfg.points) == 320
    assert {p.settings["players"] for p in cfg.points} == {8}
    assert len({p.settings["a"] for p in cfg.points}) == 10
    assert len({p.settings["seed"] for p in cfg.points}) == 32
    assert len({sweep_config.shape_key(p.settings) for p in cfg.points}) == 1


def test_notebook_runs():
    from notebooks import run_notebook

    ns = run_notebook(
        ROOT / "notebooks" / "04_sweeps.ipynb", {"SEEDS": 4, "ROUNDS": 60, "NEURAL_ROUNDS": 20}
    )
    assert ns["result"].meta["compilations"] == ns["result"].meta["distinct_shapes"]


# ----------------------------------------------------------------------------- neural players


def test_neural_sweep_matches_direct_training_and_shares_one_program(tmp_path):
    """``family = "vae"``: VAE players on the digits. Oracle: the same training called directly
    (the exchange round with the keys the sweep derives from the seed) gives the same final loss;
    a sweep mixing neural and Gaussian points compiles one program per shape."""
    from gtgen.exchange import RoundSpec, init_states, make_train
    from gtgen.game import Group
    from gtgen.players.neural import VAEConfig, vae_player
    from gtgen.sweep.neural import digits_split, final_loss

    settings = {
        "family": "vae",
        "players": 2,
        "a": [0.3, 1.0],
        "seeds": 2,
        "rounds": 12,
        "samples": 16,
    }
    result = sweep(**settings, out=tmp_path / "n", progress=False)
    assert result.meta["compilations"] == 1 and result.meta["distinct_shapes"] == 1
    assert result.meta["nonfinite_points"] == 0
    rows = result.rows
    assert all(math.isnan(r["distance"]) and math.isnan(r["nash_gap_max"]) for r in rows)
    assert [r["rate"] for r in rows] == pytest.approx([0.7, 0.7, 0.0, 0.0])  # ρ(B) = 1 − a, N = 2
    assert all(r["rounds_run"] == 12 and np.isfinite(r["final_loss"]) for r in rows)
    assert (tmp_path / "n" / "loss_vs_a.png").is_file()

    player = vae_player(VAEConfig())
    data, counts = digits_split(2)
    train = make_train(player, 2, RoundSpec(16, routing="sampled"))
    row = rows[1]  # a = 0.3, seed 1
    k_init, k_train = jax.random.split(jax.random.key(row["seed"]))
    alpha = np.array([[0.3, 0.7], [0.7, 0.3]], np.float32)
    (states,) = init_states((Group(player, (0, 1)),), k_init, (None,))
    _, info = jax.jit(train, static_argnums=5)(k_train, states, data, counts, alpha, 12)
    assert row["final_loss"] == pytest.approx(float(final_loss(info.metrics[0]["loss"])), rel=1e-4)

    mixed = sweep(
        points=[
            {"family": "vae", "players": 2, "a": 0.5, "rounds": 12, "samples": 16},
            {"family": "gaussian", "players": 3, "method": "exact", "a": 0.5},
        ],
        progress=False,
    )
    assert mixed.meta["distinct_shapes"] == 2 and mixed.meta["compilations"] <= 2
    assert np.isfinite(mixed.rows[0]["final_loss"]) and math.isnan(mixed.rows[1]["final_loss"])
    assert mixed.rows[1]["distance"] < 1e-4


def test_neural_points_refuse_a_data_file(tmp_path):
    np.savez(tmp_path / "d.npz", player0=np.zeros((5, 2)), player1=np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"^data_file: neural players"):
        sweep(data_file=str(tmp_path / "d.npz"), family="vae", players=2)

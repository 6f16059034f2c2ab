"""The command-line contract: `gtgen solve`, `gtgen demo`, and one clear line + exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gtgen.cli import main

GOOD = """
family = "{family}"
alpha = {alpha}
data = "players.npz"
[solver]
method = "{method}"
rounds = {rounds}
samples = 500
seed = 0
"""


def write_game(
    tmp: Path,
    arrays: dict,
    family="gaussian",
    alpha="[[0.6, 0.4], [0.3, 0.7]]",
    method="exact",
    rounds=200,
    extra="",
) -> Path:
    np.savez(tmp / "players.npz", **arrays)
    path = tmp / "game.toml"
    path.write_text(GOOD.format(family=family, alpha=alpha, method=method, rounds=rounds) + extra)
    return path


def gaussian_arrays(rng, dims=(2, 2), sizes=(50, 80)):
    return {f"player{i}": rng.normal(i, 1.0, (n, d)) for i, (n, d) in enumerate(zip(sizes, dims))}


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_solve_json_matches_independent_closed_form(tmp_path, capsys):
    rng = np.random.default_rng(0)
    arrays = gaussian_arrays(rng)
    path = write_game(tmp_path, arrays)
    status, out, err = run_cli(capsys, "solve", str(path), "--json")
    assert status == 0, err
    result = json.loads(out)
    for key in (
        "players",
        "rounds",
        "rate",
        "closed_form",
        "reached",
        "distance",
        "residual",
        "nash_gap",
        "wall_s",
    ):
        assert key in result
    assert result["draw"] == "expected"  # the exact solver uses the closed-form statistics
    # numpy oracle: moments (x, x²) and μ* = (I − B)^{-1} D m
    m = np.stack([np.concatenate([x.mean(0), (x * x).mean(0)]) for x in arrays.values()])
    alpha = np.array([[0.6, 0.4], [0.3, 0.7]])
    d, b = np.diag(np.diag(alpha)), alpha - np.diag(np.diag(alpha))
    star = np.linalg.solve(np.eye(2) - b, d @ m)
    np.testing.assert_allclose(result["closed_form"], star, rtol=1e-9)
    np.testing.assert_allclose(result["reached"], star, rtol=1e-5, atol=1e-5)
    assert result["players"] == 2 and len(result["nash_gap"]) == 2
    assert result["rate"] == pytest.approx(np.sqrt(0.4 * 0.3))


def test_solve_table_is_readable(tmp_path, capsys):
    path = write_game(tmp_path, gaussian_arrays(np.random.default_rng(1)), method="sampled")
    status, out, _ = run_cli(capsys, "solve", str(path))
    assert status == 0
    assert "distance to closed form" in out and "nash gap" in out


@pytest.mark.parametrize(
    "family, make",
    [
        (
            "bernoulli",
            lambda r: {
                f"player{i}": (r.random((30, 4)) < 0.3 + 0.4 * i).astype(float) for i in range(2)
            },
        ),
        (
            "poisson",
            lambda r: {f"player{i}": r.poisson(1 + 3 * i, (30, 3)).astype(float) for i in range(2)},
        ),
        ("categorical", lambda r: {f"player{i}": r.integers(0, 4, 40) for i in range(2)}),
        ("gaussian-full", lambda r: {f"player{i}": r.normal(i, 1, (40, 3)) for i in range(2)}),
    ],
)
def test_solve_every_family(tmp_path, capsys, family, make):
    arrays = make(np.random.default_rng(2))
    path = write_game(tmp_path, arrays, family=family, method="anderson")
    status, out, err = run_cli(capsys, "solve", str(path), "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["distance"] < 1e-4 and max(result["nash_gap"]) < 1e-6


BAD_INPUTS = [
    # (description, file edits, expected words in the message)
    ("alpha not a matrix", dict(alpha='"x"'), "alpha"),
    ("alpha not stochastic", dict(alpha="[[0.6, 0.5], [0.3, 0.7]]"), "alpha: row 0 sums"),
    ("negative weight", dict(alpha="[[1.2, -0.2], [0.3, 0.7]]"), "alpha: negative"),
    ("alpha ragged", dict(alpha="[[1.0], [0.3, 0.7]]"), "alpha"),
    ("size mismatch", dict(alpha="[[0.5, 0.25, 0.25], [0.3, 0.7, 0.0], [0, 0, 1]]"), "data:"),
    ("unknown family", dict(family="gumbel"), "family: unknown family 'gumbel'"),
    ("unknown method", dict(method="magic"), "solver.method"),
    ("negative rounds", dict(rounds=-5), "solver.rounds"),
    ("absurd rounds", dict(rounds=10**12), "solver.rounds"),
    ("non-integer rounds", dict(rounds=2.5), "solver.rounds"),
    ("unknown solver key", dict(extra="warp = 9\n"), "solver.warp: unknown key"),
    ("bad damping", dict(extra="damping = 3.0\n"), "solver.damping"),
    ("zero samples", dict(extra="samples_ = 1\n"), "solver.samples_: unknown key"),
]


@pytest.mark.parametrize("what, edits, words", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, what, edits, words):
    path = write_game(tmp_path, gaussian_arrays(np.random.default_rng(3)), **edits)
    status, out, err = run_cli(capsys, "solve", str(path), "--json")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gtgen: error: ")
    assert words in err
    assert "Traceback" not in err


BAD_DATA = [
    (
        "NaN in data",
        lambda r: {"player0": np.array([[0.0, np.nan]] * 3), "player1": r.normal(size=(4, 2))},
        "data[0]: contains NaN",
    ),
    (
        "inf in data",
        lambda r: {"player0": r.normal(size=(4, 2)), "player1": np.full((3, 2), np.inf)},
        "data[1]: contains NaN or infinite",
    ),
    ("different dimensions", lambda r: gaussian_arrays(r, dims=(2, 3)), "different dimensions"),
    (
        "empty player",
        lambda r: {"player0": np.zeros((0, 2)), "player1": r.normal(size=(4, 2))},
        "data[0]: player 0 has no data",
    ),
    ("missing player", lambda r: {"player0": r.normal(size=(4, 2))}, "lacks player1"),
    ("extra player", lambda r: {**gaussian_arrays(r), "player2": r.normal(size=(4, 2))}, "player2"),
    (
        "1-D data",
        lambda r: {"player0": r.normal(size=4), "player1": r.normal(size=4)},
        "needs [n, dim]",
    ),
]


@pytest.mark.parametrize("what, make, words", BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_bad_data_exits_2(tmp_path, capsys, what, make, words):
    path = write_game(tmp_path, make(np.random.default_rng(4)))
    status, out, err = run_cli(capsys, "solve", str(path))
    assert (status, out) == (2, "")
    assert words in err and err.count("\n") == 1


def test_non_binary_bernoulli_data(tmp_path, capsys):
    arrays = {"player0": np.array([[0.0, 1.0], [0.5, 1.0]]), "player1": np.ones((3, 2))}
    path = write_game(tmp_path, arrays, family="bernoulli")
    status, _, err = run_cli(capsys, "solve", str(path))
    assert status == 2 and "data[0]: bernoulli needs binary data" in err


def test_missing_unreadable_and_broken_files(tmp_path, capsys):
    status, _, err = run_cli(capsys, "solve", str(tmp_path / "nope.toml"))
    assert status == 2 and "nope.toml not found" in err

    path = write_game(tmp_path, gaussian_arrays(np.random.default_rng(5)))
    (tmp_path / "players.npz").write_bytes(b"this is not a zip file")
    status, _, err = run_cli(capsys, "solve", str(path))
    assert status == 2 and "data: cannot read" in err

    (tmp_path / "players.npz").unlink()
    status, _, err = run_cli(capsys, "solve", str(path))
    assert status == 2 and "data: file" in err and "not found" in err

    path.write_text('family = "gaussian"\nalpha = [[1.0]\n')
    status, out, err = run_cli(capsys, "solve", str(path))
    assert (status, out) == (2, "") and "config: not valid TOML" in err


def test_missing_keys_and_unknown_keys(tmp_path, capsys):
    path = tmp_path / "g.toml"
    path.write_text('family = "gaussian"\nalpha = [[1.0]]\n')
    status, _, err = run_cli(capsys, "solve", str(path))
    assert status == 2 and "data: missing" in err
    path.write_text('family = "gaussian"\nalpha = [[1.0]]\ndata = "x.npz"\ncolour = "red"\n')
    status, _, err = run_cli(capsys, "solve", str(path))
    assert status == 2 and "colour: unknown key" in err


def test_usage_errors_exit_2(capsys):
    assert run_cli(capsys, "frobnicate")[0] == 2
    status, _, err = run_cli(capsys, "solve")
    assert status == 2 and "config" in err


def test_console_script_no_traceback(tmp_path):
    """The installed entry point itself: exit status 2 and a single line, no Python traceback."""
    bad = tmp_path / "bad.toml"
    bad.write_text("family = \n")
    proc = subprocess.run(
        [sys.executable, "-m", "gtgen.cli", "solve", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow  # the whole demo (two IV-A runs); `make run` runs it too
def test_demo_writes_run_folder(tmp_path, capsys, monkeypatch):
    from gtgen.experiments import mnist_split

    # The default demo (digits exchange) at the seconds-long smoke size; its full-size claims
    # are checked by hand (README); the output contract is checked here.
    small = mnist_split.smoke_config(iterations=250)  # one chunk
    monkeypatch.setattr(mnist_split, "demo_config", lambda seed=0: small)
    out = tmp_path / "run"
    status, text, err = run_cli(capsys, "demo", "--out", str(out))
    assert status == 0, err
    runs = json.loads((out / "metrics.json").read_text())["runs"]
    assert {(r["alpha"], r["player"]) for r in runs} == {(0.3, 0), (0.3, 1), (1.0, 0), (1.0, 1)}
    assert all(len(r["class_fractions"]) == 10 for r in runs)
    assert (out / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "a = 0.30" in (out / "report.txt").read_text() and str(out) in text

    gaussian = tmp_path / "gaussian"
    status, text, err = run_cli(capsys, "demo", "--game", "gaussian", "--out", str(gaussian))
    assert status == 0, err
    report = json.loads((gaussian / "report.json").read_text())
    assert report["distance"] < 0.1 and len(report["nash_gap"]) == 4
    assert (gaussian / "ellipses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(gaussian) in text


def test_shipped_example_config(capsys):
    example = Path(__file__).resolve().parents[1] / "examples" / "solve-gaussian.toml"
    status, out, err = run_cli(capsys, "solve", str(example), "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["players"] == 3 and result["distance"] < 0.05


def test_bench_only_refuses_a_name_that_matches_no_case(capsys):
    status, out, err = run_cli(capsys, "bench", "--only", "expfam-gaussian,no-such-case")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no-such-case" in err


def test_experiment_option_helpers_keep_unset_options_at_their_defaults():
    import argparse
    from typing import NamedTuple

    from gtgen.commands.experiments import comma_separated, flat, given, replace_set

    ints = comma_separated(int, "an integer or comma-separated integers")
    assert ints(" 2, 5,") == [2, 5] and flat([[2, 5], [7]]) == [2, 5, 7] and flat(None) is None
    with pytest.raises(argparse.ArgumentTypeError, match="^not an integer or comma-sep"):
        ints("2,x")

    class C(NamedTuple):
        a: int = 1
        b: int = 2
        seed: int = 0

    args = argparse.Namespace(a=None, b=5)
    assert replace_set(C(), given(args, "a", "b"), seed=3) == C(a=1, b=5, seed=3)

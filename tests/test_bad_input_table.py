"""Table-driven bad input per command: exit status 2, one line, no traceback, the field named;
and a property test that the CLI never prints a traceback for generated configs (issue 14)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gtgen
from gtgen.cli import main
from gtgen.game import Game
from gtgen.players.expfam import gaussian

RNG = np.random.default_rng(0)
GOOD_NPZ = {"player0": RNG.normal(size=(20, 2)), "player1": RNG.normal(size=(20, 2))}
SOLVE = 'family = "gaussian"\nalpha = [[0.6, 0.4], [0.3, 0.7]]\ndata = "d.npz"\n'


def _files(tmp_path):
    np.savez(tmp_path / "d.npz", **GOOD_NPZ)
    np.save(tmp_path / "a.npy", np.zeros((3, 2)))
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    np.savez(tmp_path / "str.npz", player0=np.array(["a", "b"]), player1=np.array(["a"]))
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")


# (name, config text or bytes, extra argv, the field the message must start with)
SOLVE_CASES = [
    ("npy", SOLVE.replace("d.npz", "a.npy"), [], "data:"),
    ("folder-data", SOLVE.replace("d.npz", "folder"), [], "data:"),
    ("corrupt-npz", SOLVE.replace("d.npz", "bad.npz"), [], "data:"),
    ("missing-data", SOLVE.replace("d.npz", "nope.npz"), [], "data:"),
    ("bom", b"\xef\xbb\xbf" + SOLVE.encode(), [], "config:"),
    ("latin1", SOLVE.replace("gaussian", "gau\xdfsian").encode("latin-1"), [], "config:"),
    ("broken-toml", SOLVE + "[solver\n", [], "config:"),
    ("alpha-string", SOLVE.replace("0.6, 0.4", '"0.6", 0.4'), [], "alpha:"),
    ("alpha-bool", SOLVE.replace("[0.6, 0.4]", "[true, false]"), [], "alpha:"),
    ("alpha-not-stochastic", SOLVE.replace("0.6, 0.4", "0.6, 0.6"), [], "alpha:"),
    ("family", SOLVE.replace('"gaussian"', '"gauss"'), [], "family:"),
    (
        "string-labels",
        SOLVE.replace("d.npz", "str.npz").replace('"gaussian"', '"categorical"'),
        [],
        "data:",
    ),
    ("seed-overflow", SOLVE + "[solver]\nseed = 18446744073709551616\n", [], "solver.seed:"),
    ("seed-negative", SOLVE + "[solver]\nseed = -1\n", [], "solver.seed:"),
    ("seed-float", SOLVE + "[solver]\nseed = 1.5\n", [], "solver.seed:"),
    ("rounds-string", SOLVE + '[solver]\nrounds = "10"\n', [], "solver.rounds:"),
    ("unknown-key", SOLVE + "colour = 1\n", [], "colour:"),
    ("ridge-diag", SOLVE + "ridge = 0.1\n", [], "ridge:"),
    (
        "num-classes-huge",
        SOLVE.replace('"gaussian"', '"categorical"') + "num_classes = 10000000\n",
        [],
        "num_classes:",
    ),
]

SWEEP_CASES = [
    ("seeds-huge", "seeds = 10000000\n", "seeds:"),
    ("seeds-negative-list", "seeds = [-1, 2]\n", "seeds[0]:"),
    ("seeds-overflow-list", "seeds = [4294967296]\n", "seeds[0]:"),
    ("a-string", 'a = "0.5"\n', "a:"),
    ("a-bool", "a = true\n", "a:"),
    ("dim-zero", "dim = 0\n", "dim:"),
    ("players-string", 'players = "8"\n', "players:"),
    ("full-few-samples", 'family = "gaussian-full"\ndim = 8\ndata_size = 4\n', "data_size:"),
    ("poisson-spread", 'family = "poisson"\nspread = 1000\n', "spread:"),
    ("data-file-npy", 'data_file = "a.npy"\nplayers = 2\n', "data_file:"),
    ("data-file-folder", 'data_file = "folder"\nplayers = 2\n', "data_file:"),
    ("data-file-corrupt", 'data_file = "bad.npz"\nplayers = 2\n', "data_file:"),
    ("unknown", "colour = 1\n", "colour:"),
    ("empty-list", "a = []\n", "a:"),
]

ARGV_CASES = [
    ("demo-seed-negative", ["demo", "--game", "gaussian", "--seed", "-1"], "--seed"),
    ("demo-seed-overflow", ["demo", "--game", "gaussian", "--seed", str(2**40)], "--seed"),
    ("demo-out-file", ["demo", "--game", "gaussian", "--out", "{tmp}/afile"], "--out:"),
    ("demo-out-under-file", ["demo", "--game", "gaussian", "--out", "{tmp}/afile/x"], "--out:"),
    ("sweep-out-file", ["sweep", "{tmp}/ok.toml", "--out", "{tmp}/afile"], "--out:"),
    ("sweep-config-folder", ["sweep", "{tmp}/folder"], "config:"),
    ("solve-config-folder", ["solve", "{tmp}/folder"], "config:"),
    ("solve-config-missing", ["solve", "{tmp}/missing.toml"], "config:"),
    ("sweep-watchdog-zero", ["sweep", "{tmp}/ok.toml", "--watchdog", "0"], "watchdog:"),
    ("mnist-seed", ["experiment", "mnist-split", "--seed", "-3"], "--seed"),
    ("mnist-ramp", ["experiment", "mnist-split", "--ramp", "-5", "--out", "{tmp}/o"], "ramp"),
    (
        "mnist-lr-final",
        ["experiment", "mnist-split", "--lr-final", "1.5", "--out", "{tmp}/o"],
        "lr_final",
    ),
    (
        "mnist-ramp-long",
        ["experiment", "mnist-split", "--iterations", "3000", "--out", "{tmp}/o"],
        "ramp",
    ),
]


def _one_line_error(status, out, err, field):
    assert status == 2, err
    assert out == ""
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("gtgen: error: ") and field in err, err


@pytest.mark.parametrize("name, text, argv, field", SOLVE_CASES, ids=[c[0] for c in SOLVE_CASES])
def test_solve_bad_input(tmp_path, capsys, name, text, argv, field):
    _files(tmp_path)
    cfg = tmp_path / "g.toml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    status = main(["solve", str(cfg), *argv])
    _one_line_error(status, *capsys.readouterr(), field)


@pytest.mark.parametrize("name, text, field", SWEEP_CASES, ids=[c[0] for c in SWEEP_CASES])
def test_sweep_bad_input(tmp_path, capsys, name, text, field):
    _files(tmp_path)
    (tmp_path / "s.toml").write_text(text)
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
    _one_line_error(status, *capsys.readouterr(), field)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name, argv, field", ARGV_CASES, ids=[c[0] for c in ARGV_CASES])
def test_command_line_bad_input(tmp_path, capsys, name, argv, field):
    _files(tmp_path)
    (tmp_path / "ok.toml").write_text("players = 2\n")
    status = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    _one_line_error(status, *capsys.readouterr(), field)


def _game():
    return Game([gaussian(2)] * 2, [[0.6, 0.4], [0.3, 0.7]], list(GOOD_NPZ.values()))


API_CASES = [
    ("key-int", lambda g: gtgen.solve(g, 0), TypeError, "key:"),
    ("key-none", lambda g: gtgen.solve(g, None), TypeError, "key:"),
    (
        "key-batch",
        lambda g: gtgen.solve(g, jax.random.split(jax.random.key(0), 3)),
        TypeError,
        "key:",
    ),
    ("key-float", lambda g: gtgen.solve(g, np.zeros(2, np.float32)), TypeError, "key:"),
    ("solution-none", lambda g: gtgen.check(g, None), TypeError, "solution:"),
    ("solution-str", lambda g: gtgen.check(g, "x"), TypeError, "solution:"),
    ("solution-shape", lambda g: gtgen.check(g, [np.zeros((2, 3))]), ValueError, "solution:"),
    (
        "alpha-str",
        lambda g: Game([gaussian(2)] * 2, [["0.6", 0.4], [0.3, 0.7]], list(GOOD_NPZ.values())),
        ValueError,
        "alpha:",
    ),
    (
        "alpha-bool",
        lambda g: Game([gaussian(2)] * 2, [[True, False], [0.3, 0.7]], list(GOOD_NPZ.values())),
        ValueError,
        "alpha:",
    ),
    (
        "alpha-str-array",
        lambda g: Game([gaussian(2)] * 2, np.array([["0.5", "0.5"]] * 2), list(GOOD_NPZ.values())),
        ValueError,
        "alpha:",
    ),
]


@pytest.mark.parametrize("name, call, error, field", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(name, call, error, field):
    with pytest.raises(error) as err:
        call(_game())
    assert str(err.value).startswith(field)


def test_an_ignored_setting_is_warned_and_not_echoed(tmp_path, capsys):
    import json

    _files(tmp_path)
    (tmp_path / "g.toml").write_text(SOLVE + '[solver]\nmethod = "exact"\nsamples = 50\n')
    assert main(["solve", str(tmp_path / "g.toml"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["samples"] is None
    assert "warning: solver.samples: applies to method sampled only" in err
    with pytest.warns(UserWarning, match="tol: applies to methods exact and anderson only"):
        gtgen.solve(_game(), jax.random.key(0), method="sampled", rounds=2, samples=4, tol=1e-3)


def test_distinct_seeds_give_distinct_keys_within_the_rule():
    from gtgen.seeds import SEED_LIMIT, check_seed

    keys = {
        tuple(np.asarray(jax.random.key_data(jax.random.key(check_seed(s)))))
        for s in (0, 1, 2**31, SEED_LIMIT - 1)
    }
    assert len(keys) == 4
    with pytest.raises(ValueError, match="seed: must be an integer in"):
        check_seed(SEED_LIMIT)


_VALUES = st.one_of(
    st.integers(-3, 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
    st.lists(st.integers(-2, 5), max_size=3),
)
_KEYS = st.sampled_from(
    [
        "family",
        "dim",
        "players",
        "a",
        "seeds",
        "alpha",
        "rounds",
        "samples",
        "method",
        "routing",
        "data_size",
        "spread",
        "batch",
        "damping",
        "tol",
        "colour",
    ]
)


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(
            v, "nan" if math.isnan(v) else repr(v)
        )
    if isinstance(v, str):
        return '"' + v.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(map(_toml_value, v)) + "]"
    return str(v)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(_KEYS, _VALUES, max_size=3))
def test_sweep_cli_never_prints_a_traceback(tmp_path_factory, config):
    """Generated sweep configs either run (tiny: rounds and samples are capped) or fail with one
    line and exit status 2."""
    import contextlib
    import io

    tmp = tmp_path_factory.mktemp("prop")
    config = {**config, "rounds": 2, "samples": 4, "data_size": 8}
    text = "".join(f"{k} = {_toml_value(v)}\n" for k, v in config.items())
    (tmp / "s.toml").write_text(text)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(
            [
                "sweep",
                str(tmp / "s.toml"),
                "--out",
                str(tmp / "o"),
                "--single-device",
                "--no-progress",
                "--no-plots",
            ]
        )
    message = err.getvalue()
    assert "Traceback" not in message
    assert status in (0, 2), message
    if status == 2:
        assert message.count("gtgen: error:") == 1

"""What a user gets from the package itself: its version, and (in .ci/run) a wheel that works alone."""

from __future__ import annotations

import platform
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import jax

import gtgen
from gtgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_is_pyprojects_through_the_installed_metadata():
    # A stale install (pyproject bumped, package not reinstalled) fails here, as it should.
    assert gtgen.__version__ == metadata.version("gtgen") == PYPROJECT["project"]["version"]


def test_cli_version_names_gtgen_jax_and_python(capsys):
    assert main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    line = out.strip()
    assert "\n" not in line
    found = re.fullmatch(
        r"gtgen (\S+) \(jax (\S+), jaxlib (\S+), flax (\S+), Python (\S+)\)", line)
    assert found, line
    assert found.groups() == (gtgen.__version__, jax.__version__, metadata.version("jaxlib"),
                              metadata.version("flax"), platform.python_version())


def test_declared_python_range_admits_this_interpreter_and_matches_the_classifiers():
    # requires-python and the "Programming Language :: Python :: 3.X" classifiers say the same.
    project = PYPROJECT["project"]
    low = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert low, project["requires-python"]
    minors = sorted(int(c.rsplit(".", 1)[1]) for c in project["classifiers"]
                    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert minors and minors[0] == int(low.group(1))
    assert minors == list(range(minors[0], minors[-1] + 1))  # no gaps
    assert minors[0] <= sys.version_info.minor <= minors[-1]

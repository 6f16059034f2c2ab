"""What a user gets from the package itself: its version, and (in .ci/run) a wheel that works alone."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import jax
import numpy as np
import pytest

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
    found = re.fullmatch(r"gtgen (\S+) \(jax (\S+), jaxlib (\S+), flax (\S+), Python (\S+)\)", line)
    assert found, line
    assert found.groups() == (
        gtgen.__version__,
        jax.__version__,
        metadata.version("jaxlib"),
        metadata.version("flax"),
        platform.python_version(),
    )


def test_declared_python_range_admits_this_interpreter_and_matches_the_classifiers():
    # requires-python and the "Programming Language :: Python :: 3.X" classifiers say the same.
    project = PYPROJECT["project"]
    low = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert low, project["requires-python"]
    minors = sorted(
        int(c.rsplit(".", 1)[1])
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert minors and minors[0] == int(low.group(1))
    assert minors == list(range(minors[0], minors[-1] + 1))  # no gaps
    assert minors[0] <= sys.version_info.minor <= minors[-1]


# --------------------------------------------------------------------------- the wheel, alone

AUDIT = r"""
import json, os, sys
root, allowed, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
read = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(root + os.sep) and not any(path.startswith(a + os.sep) for a in allowed):
            read.append(path)
sys.addaudithook(hook)
import gtgen
from gtgen.cli import main
status = main(["demo", "--game", "gaussian", "--out", out])
print(json.dumps({"status": status, "file": gtgen.__file__, "source_tree_reads": read}))
"""


@pytest.mark.slow
def test_built_wheel_runs_the_gaussian_demo_without_the_source_tree(tmp_path):
    """Build the wheel (offline: setuptools from the [dev] extra, no build isolation), install it
    alone into a fresh venv, and run ``gtgen demo --game gaussian`` there with an audit hook that
    records every file opened under the source tree. The new venv borrows only the dependencies
    (a .pth naming this venv's site-packages; plain path lines there run no editable-install
    hook, so the source tree's gtgen stays out of reach)."""

    def run(*cmd, **kw):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        done = subprocess.run(
            [str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=600, **kw
        )
        assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        tmp_path / "dist",
        ROOT,
    )
    (wheel,) = (tmp_path / "dist").glob("gtgen-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    deps = sorted({str(Path(m.__file__).resolve().parents[1]) for m in (jax, np, pytest)})
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (site / "borrowed_deps.pth").write_text("".join(d + "\n" for d in deps))

    work = tmp_path / "work"
    work.mkdir()
    # the console script the wheel declares
    assert run(venv / "bin" / "gtgen", "--version", cwd=work).startswith(
        f"gtgen {gtgen.__version__} ("
    )
    report = json.loads(
        run(
            python, "-I", "-c", AUDIT, ROOT.resolve(), json.dumps(deps), tmp_path / "out", cwd=work
        ).splitlines()[-1]
    )
    assert report["status"] == 0
    assert Path(report["file"]).resolve().is_relative_to(venv.resolve())  # the wheel's gtgen
    assert report["source_tree_reads"] == []
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {
        "ellipses.png",
        "report.json",
        "report.txt",
    }
    assert json.loads((tmp_path / "out" / "report.json").read_text())  # written whole, parses


# --------------------------------------------------------------------------- the Colab install cell

sys.path.insert(0, str(ROOT / "tools"))
import make_notebook  # noqa: E402  (tools/ is no package)


def test_every_notebook_has_the_one_install_cell():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        install = [
            "".join(c["source"])
            for c in cells
            if c["cell_type"] == "code"
            and "".join(c["source"]).startswith(make_notebook.INSTALL_MARK)
        ]
        assert install == [make_notebook.COLAB_INSTALL], path.name


def _run_install_cell(monkeypatch, tmp_path, uploads=None, source=""):
    """Execute the install cell as Colab would (a fake google.colab whose upload saves ``uploads``
    into the working folder); return the commands it ran."""
    import types

    ran = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    monkeypatch.chdir(tmp_path)
    if uploads is not None:

        def upload():
            for name in uploads:
                (tmp_path / name).write_bytes(b"PK")
            return {name: b"PK" for name in uploads}

        colab = types.ModuleType("google.colab")
        colab.files = types.SimpleNamespace(upload=upload)
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    cell = make_notebook.COLAB_INSTALL.replace("GTGEN_SOURCE = ''", f"GTGEN_SOURCE = {source!r}")
    exec(compile(cell, "install-cell", "exec"), {"__name__": "__main__"})  # noqa: S102
    return ran


def test_install_cell_installs_the_uploaded_wheel(monkeypatch, tmp_path):
    ran = _run_install_cell(monkeypatch, tmp_path, uploads=["gtgen-0.1.0-py3-none-any.whl"])
    assert ran == [[sys.executable, "-m", "pip", "install", "-q", "gtgen-0.1.0-py3-none-any.whl"]]
    # a wheel already in the folder is taken without asking again (upload would add a second one)
    ran = _run_install_cell(monkeypatch, tmp_path, uploads=["gtgen-9.9.9-py3-none-any.whl"])
    assert ran[0][-1] == "gtgen-0.1.0-py3-none-any.whl"


def test_install_cell_refuses_an_upload_that_is_no_wheel(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="no .whl file was uploaded"):
        _run_install_cell(monkeypatch, tmp_path, uploads=["notes.txt"])


def test_install_cell_prefers_the_source_set_in_make_notebook(monkeypatch, tmp_path):
    assert "GTGEN_SOURCE = ''" in make_notebook.COLAB_INSTALL  # the default: the uploaded wheel
    ran = _run_install_cell(monkeypatch, tmp_path, uploads=[], source="gtgen @ https://x/gtgen.whl")
    assert ran == [[sys.executable, "-m", "pip", "install", "-q", "gtgen @ https://x/gtgen.whl"]]


def test_install_cell_does_nothing_outside_colab(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert _run_install_cell(monkeypatch, tmp_path) == []

"""Write a Colab-ready notebook (nbformat 4 JSON) from a list of ("md" | "code", text) cells.

Usage from another script: ``write_notebook(path, cells)``. Kept dependency-free so the
notebooks can be regenerated anywhere; the test suite executes them (tests/notebooks.py).
``python tools/make_notebook.py`` rewrites the Colab install cell of every notebook in
notebooks/ (after a change of GTGEN_SOURCE), leaving the other cells as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

# Where Colab installs gtgen from, set here once for every notebook: a pip requirement such as
# "gtgen @ git+https://github.com/<owner>/gtgen" or a wheel's URL. Empty: the install cell takes the
# wheel the user uploads (`make wheel` writes dist/gtgen-<version>-py3-none-any.whl).
GTGEN_SOURCE = ""

INSTALL_MARK = "# On Colab, install gtgen first"

COLAB_INSTALL = f"""{INSTALL_MARK} (elsewhere: `make install` in the repository).
# From GTGEN_SOURCE if it is set, else from a gtgen-*.whl in the working folder, else from the
# wheel this cell asks you to upload (`make wheel` writes it to dist/ in the repository).
import glob
import subprocess
import sys

GTGEN_SOURCE = {GTGEN_SOURCE!r}
if "google.colab" in sys.modules:
    wheels = sorted(glob.glob("gtgen-*.whl"))
    if not GTGEN_SOURCE and not wheels:
        from google.colab import files

        print("Upload gtgen's wheel (gtgen-<version>-py3-none-any.whl, from `make wheel`):")
        wheels = sorted(name for name in files.upload() if name.endswith(".whl"))
        if not wheels:
            raise SystemExit("no .whl file was uploaded: upload gtgen's wheel and run this cell again")
    source = GTGEN_SOURCE or wheels[-1]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)"""


def write_notebook(path: str | Path, cells: list[tuple[str, str]]) -> None:
    nb_cells = []
    for kind, text in cells:
        lines = text.strip("\n").splitlines(keepends=True)
        cell = {
            "cell_type": "markdown" if kind == "md" else "code",
            "metadata": {},
            "source": lines,
        }
        if kind != "md":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    notebook = {
        "cells": nb_cells,
        "metadata": {
            "colab": {"provenance": []},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    Path(path).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def refresh_install_cell(path: str | Path) -> bool:
    """Replace the notebook's Colab install cell by COLAB_INSTALL; True if it changed."""
    path = Path(path)
    notebook = json.loads(path.read_text())
    changed = False
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(INSTALL_MARK):
            lines = COLAB_INSTALL.splitlines(keepends=True)
            changed |= cell["source"] != lines
            cell["source"] = lines
    if changed:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return changed


if __name__ == "__main__":
    for notebook in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        if refresh_install_cell(notebook):
            print("rewrote the install cell of", notebook.name)

"""Write a Colab-ready notebook (nbformat 4 JSON) from a list of ("md" | "code", text) cells.

Usage from another script: ``write_notebook(path, cells)``. Kept dependency-free so the
notebooks can be regenerated anywhere; the test suite executes them (tests/notebooks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

COLAB_INSTALL = '''# On Colab, install gtgen first (elsewhere: `make install` in the repository).
import subprocess
import sys

REPO_URL = "git+https://github.com/OWNER/gtgen"  # replace OWNER with the repository's owner
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"gtgen @ {REPO_URL}"], check=True)'''


def write_notebook(path: str | Path, cells: list[tuple[str, str]]) -> None:
    nb_cells = []
    for kind, text in cells:
        lines = text.strip("\n").splitlines(keepends=True)
        cell = {"cell_type": "markdown" if kind == "md" else "code", "metadata": {}, "source": lines}
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

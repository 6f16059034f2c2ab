"""Execute a notebook's code cells top to bottom in one namespace (no Jupyter kernel needed).

Cells are plain Python; the Colab install cell is skipped outside Colab by its own guard.
``overrides`` replaces top-level assignments of the same names (to run a notebook at a small
size): a line ``NAME = value`` whose NAME is in overrides is rewritten before execution.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")


def run_notebook(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every code cell; return the final namespace. Raises whatever a cell raises."""
    cells = json.loads(Path(path).read_text())["cells"]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for name, value in (overrides or {}).items():
            source = re.sub(rf"^{name}\s*=.*$", f"{name} = {value!r}", source, flags=re.MULTILINE)
        exec(compile(source, f"{path}#cell{number}", "exec"), namespace)  # noqa: S102
    return namespace

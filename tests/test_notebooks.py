"""The Colab notebooks run top to bottom (their own asserts check the science)."""

from pathlib import Path

import pytest

from notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # executes the whole notebook
def test_quickstart_notebook_runs():
    ns = run_notebook(ROOT / "notebooks" / "01_quickstart.ipynb", {"ROUNDS": 120, "SAMPLES": 1000})
    assert ns["report"].distance < 0.1
    assert ns["anderson"].rounds_run < ns["exact"].rounds_run

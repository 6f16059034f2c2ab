"""The paper's experiment IV-C: player A of (c, d, z, s, x) helped by (c, s) pairs, on PolyDigits
or PolyMNIST.

``experiment`` computes (data, B's pretraining, one program for every setting × seed, the
authors' Gibbs inference); ``report`` defines what a run leaves behind (results.json,
accuracy.png, sample grids, report.txt). ``run`` does both::

    from gtgen.experiments import polymnist
    results = polymnist.run(polymnist.Config(), out_dir="runs/iv-c")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gtgen.experiments.polymnist.experiment import (
    PAPER_ACCURACY,
    SETTINGS,
    Config,
    Results,
    compute,
    load_data,
    polymnist_config,
    smoke_config,
    validate,
)
from gtgen.experiments.polymnist.report import report_text, results_json, write_outputs
from gtgen.experiments.runner import compute_and_write


def run(config: Any = None, out_dir: str | Path | None = None, **options: Any) -> Results:
    """Run experiment IV-C (``experiment.compute``); with ``out_dir`` write its outputs there
    (atomically) and keep checkpoints in ``out_dir/checkpoints``: running again resumes.
    ``options``: ``checkpoint_dir``, ``progress``, ``log``."""
    return compute_and_write(compute, write_outputs, config, out_dir, **options)


__all__ = [
    "PAPER_ACCURACY",
    "SETTINGS",
    "Config",
    "Results",
    "compute",
    "load_data",
    "polymnist_config",
    "report_text",
    "results_json",
    "run",
    "smoke_config",
    "validate",
    "write_outputs",
]

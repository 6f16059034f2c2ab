"""The paper's experiment IV-B: four players of different capacity, a little labelled data each.

``experiment`` computes (data, the programs of every method, test accuracies); ``report``
defines what a run leaves behind (results.json, accuracy.png, sample grids, report.txt) and the
paper's claim as checked here. ``run`` does both::

    from gtgen.experiments import fmnist_capacity
    results = fmnist_capacity.run(fmnist_capacity.Config(), out_dir="runs/iv-b")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gtgen.experiments.fmnist_capacity.experiment import (
    METHODS,
    PLAYERS,
    Config,
    Results,
    compute,
    fmnist_config,
    load_data,
    player_data,
    smoke_config,
    train,
    validate,
)
from gtgen.experiments.fmnist_capacity.report import claim, report_text, results_json, write_outputs
from gtgen.experiments.runner import compute_and_write


def run(config: Any = None, out_dir: str | Path | None = None, **options: Any) -> Results:
    """Run experiment IV-B (``experiment.compute``); with ``out_dir`` write its outputs there
    (atomically) and keep checkpoints in ``out_dir/checkpoints``: running again resumes.
    ``options``: ``checkpoint_dir``, ``progress``, ``log``."""
    return compute_and_write(compute, write_outputs, config, out_dir, **options)


__all__ = [
    "METHODS",
    "PLAYERS",
    "Config",
    "Results",
    "claim",
    "compute",
    "fmnist_config",
    "load_data",
    "player_data",
    "report_text",
    "results_json",
    "run",
    "smoke_config",
    "train",
    "validate",
    "write_outputs",
]

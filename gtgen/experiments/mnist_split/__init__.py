"""The paper's experiment IV-A: two players, digits 0–4 and 5–9, a sweep over the self-weight a.

``experiment`` computes (data, one compiled training program for every value of a, evaluation);
``report`` defines what a run leaves behind (metrics.json, report.txt, pictures) and the paper's
claims as checked here. ``run`` does both::

    from gtgen.experiments import mnist_split
    results = mnist_split.run(mnist_split.Config(alphas=(0.1, 0.5, 1.0)), out_dir="runs/iv-a")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gtgen.experiments.mnist_split.experiment import (
    CLASS_SETS,
    DEFAULT_ALPHAS,
    DIGITS_MODEL,
    Config,
    Evaluation,
    Results,
    SplitData,
    Trained,
    check_alphas,
    chunking,
    compute,
    demo_config,
    entries,
    evaluate,
    load_data,
    mnist_config,
    smoke_config,
    sweep_program,
    train,
    validate,
)
from gtgen.experiments.mnist_split.report import claims, metrics, report_text, write_outputs


def run(config: Any = None, out_dir: str | Path | None = None, **options: Any) -> Results:
    """Run experiment IV-A (``experiment.compute``: load data, train the sweep in one program,
    evaluate). With ``out_dir`` the pictures, ``metrics.json`` and ``report.txt`` are written there
    (atomically), and checkpoints go to ``out_dir/checkpoints`` unless ``checkpoint_dir`` says
    otherwise; calling ``run`` again with the same configuration resumes from them. ``options``:
    ``checkpoint_dir``, ``progress``, ``log``, ``log_every``."""
    results = compute(config, out_dir=out_dir, **options)
    if out_dir is not None:
        write_outputs(results, out_dir)
    return results


__all__ = [
    "CLASS_SETS",
    "DEFAULT_ALPHAS",
    "DIGITS_MODEL",
    "Config",
    "Evaluation",
    "Results",
    "SplitData",
    "Trained",
    "check_alphas",
    "chunking",
    "claims",
    "compute",
    "demo_config",
    "entries",
    "evaluate",
    "load_data",
    "metrics",
    "mnist_config",
    "report_text",
    "run",
    "smoke_config",
    "sweep_program",
    "train",
    "validate",
    "write_outputs",
]

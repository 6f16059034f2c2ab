"""``gtgen experiment unravelling [...]``: unravelling and its cure by probabilistic verification.

gtgen's formulation of Capitaine et al. (NeurIPS 2024): pooling, full information and
verification on a mean-estimation and a classification task, thousands of Monte-Carlo replicates
of the participation dynamics in one compiled program per task, the Hoeffding sample size beside
the measured frequency, and the exchange game under uniform and verified α. Writes results.json,
report.txt, coalition_size.png, stability.png, accuracies.png and exchange.png.
"""

from __future__ import annotations

import argparse

from gtgen.commands.experiments import given, prepare, replace_set, report
from gtgen.seeds import seed_argument

NAME = "unravelling"


def register(which: argparse._SubParsersAction) -> None:
    u = which.add_parser(
        NAME,
        help="unravelling under private quality, and verification as its cure",
        description="Participation dynamics under pooling, full information and verification "
        "(gtgen's formulation of Capitaine et al., NeurIPS 2024), vmapped over "
        "Monte-Carlo replicates in one compiled program per task.",
    )
    u.add_argument("--replicates", type=int, help="Monte-Carlo replicates (default 4096)")
    u.add_argument("--eps", type=float, help="verification tolerance, mean estimation (0.2)")
    u.add_argument("--cls-eps", type=float, help="verification tolerance, classification (0.15)")
    u.add_argument("--delta", type=float, help="the guarantee's 1 − δ confidence (δ = 0.05)")
    u.add_argument("--cost", type=float, help="cost of one sample (1e-7)")
    u.add_argument("--samples", type=int, help="training samples per agent, mean estimation (50)")
    u.add_argument("--seed", type=seed_argument, default=0)
    u.add_argument("--out", default="runs/unravelling", help="output folder")
    u.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    """The study's configuration the options describe (unset options keep the defaults)."""
    from gtgen.experiments.unravelling import Config

    options = given(args, "replicates", "eps", "cls_eps", "delta", "cost", "samples")
    return replace_set(Config(), options, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import unravelling

    out, config = prepare(args, unravelling, config_from)
    return report(
        unravelling,
        unravelling.run(config, out_dir=out),
        f"wrote {out}/results.json, report.txt, coalition_size.png, stability.png, "
        f"accuracies.png, exchange.png",
    )

"""``gtgen experiment NAME [...]``: the papers' experiments and the mechanisms' studies.

Each experiment's command line is a module in ``gtgen.commands.experiments`` with ``NAME`` (the
subcommand) and ``register(subparsers)``; the experiments themselves live in
``gtgen.experiments`` (the CLI only parses, validates and prints).
"""

from __future__ import annotations

import argparse
import importlib

# Modules of gtgen.commands.experiments, in the order ``gtgen experiment --help`` lists them.
EXPERIMENTS = (
    "mnist_split",
    "fmnist_capacity",
    "polymnist",
    "rewards",
    "meanfield",
    "unravelling",
)


def register(sub: argparse._SubParsersAction) -> None:
    modules = [importlib.import_module(f"gtgen.commands.experiments.{m}") for m in EXPERIMENTS]
    p = sub.add_parser("experiment", help="run one of the papers' experiments at full size")
    names = ",".join(m.NAME for m in modules)
    which = p.add_subparsers(dest="experiment", required=True, metavar=f"{{{names}}}")
    for module in modules:
        module.register(which)

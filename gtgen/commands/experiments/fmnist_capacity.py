"""``gtgen experiment fmnist-capacity [...]``: the paper's IV-B.

Four joint label–image players of increasing capacity with a few labelled images per class each;
the methods discriminative, distillation, symmetric, cooperative (the exchange) and the upper
bound; test accuracy against the training-set size. On the embedded 8×8 digits without
``--data-dir``, on Fashion-MNIST IDX files at the authors' scale with it. Checkpoints go to
``OUT/checkpoints``; running the same command again resumes from them.
"""

from __future__ import annotations

import argparse

from gtgen.commands.experiments import (
    comma_separated,
    flat,
    given,
    log_of,
    names,
    prepare,
    replace_set,
    report,
)
from gtgen.seeds import seed_argument

NAME = "fmnist-capacity"

_ints = comma_separated(int, "an integer or comma-separated integers")


def register(which: argparse._SubParsersAction) -> None:
    f = which.add_parser(
        NAME,
        help="IV-B: four players of different capacity, accuracy against data size",
        description="The paper's IV-B: four joint label–image players of increasing capacity, "
        "bs labelled images per class each; every method and seed of one bs in as "
        "few compiled programs as the shapes allow.",
    )
    f.add_argument(
        "--data-dir", help="folder with the Fashion-MNIST IDX files (default: embedded digits)"
    )
    f.add_argument(
        "--sizes",
        nargs="+",
        type=_ints,
        help="images per class and player, bs (default 2 5 10 20; 10 50 100 500 on Fashion-MNIST)",
    )
    f.add_argument(
        "--methods",
        nargs="+",
        type=names,
        help="discriminative, distillation, symmetric, cooperative, upper-bound (default: all)",
    )
    f.add_argument("--seeds", type=int, help="repetitions (default 3)")
    f.add_argument(
        "--iterations",
        type=int,
        help="steps per player (default 1500 digits, 200,000 Fashion-MNIST)",
    )
    f.add_argument("--chunk", type=int, help="steps between checkpoints")
    f.add_argument("--lr", type=float, help="Adam learning rate (default: the capacities')")
    f.add_argument("--alpha-self", type=float, help="cooperative α_ii (default 1/4)")
    f.add_argument("--small", action="store_true", help="a run of seconds (tiny players)")
    f.add_argument("--seed", type=seed_argument, default=0)
    f.add_argument("--out", default="runs/fmnist-capacity", help="output folder")
    f.add_argument("--quiet", action="store_true", help="no progress bar or accuracy lines")
    f.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    """The configuration the options describe (unset options keep the defaults)."""
    from gtgen.experiments.fmnist_capacity import Config, fmnist_config, smoke_config

    if args.small and args.data_dir is not None:
        raise ValueError("--small: a run of seconds on the digits; leave out --data-dir")
    base = (
        smoke_config()
        if args.small
        else (Config() if args.data_dir is None else fmnist_config(args.data_dir))
    )
    options = {
        "sizes": flat(args.sizes),
        "methods": flat(args.methods),
        "learning_rate": args.lr,
        **given(args, "seeds", "iterations", "chunk", "alpha_self"),
    }
    return replace_set(base, options, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import fmnist_capacity

    out, config = prepare(args, fmnist_capacity, config_from)
    fmnist_capacity.load_data(config)  # bad data or sizes fail here, before anything is written
    results = fmnist_capacity.run(config, out_dir=out, progress=not args.quiet, log=log_of(args))
    return report(
        fmnist_capacity,
        results,
        f"wrote {out}/results.json, report.txt, accuracy.png, samples_*.png "
        f"(checkpoints in {out}/checkpoints)",
    )

"""``gtgen experiment fmnist-capacity [...]``: the paper's IV-B.

Four joint label–image players of increasing capacity with a few labelled images per class each;
the methods discriminative, distillation, symmetric, cooperative (the exchange) and the upper
bound; test accuracy against the training-set size. On the embedded 8×8 digits without
``--data-dir``, on Fashion-MNIST IDX files at the authors' scale with it. Checkpoints go to
``OUT/checkpoints``; running the same command again resumes from them.
"""

from __future__ import annotations

import argparse

from gtgen.seeds import seed_argument

NAME = "fmnist-capacity"


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an integer or comma-separated integers: {text!r}"
        ) from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


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
        type=_names,
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
        "sizes": [b for g in args.sizes for b in g] if args.sizes else None,
        "methods": [m for g in args.methods for m in g] if args.methods else None,
        "seeds": args.seeds,
        "iterations": args.iterations,
        "chunk": args.chunk,
        "learning_rate": args.lr,
        "alpha_self": args.alpha_self,
    }
    return base._replace(seed=args.seed, **{k: v for k, v in options.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import fmnist_capacity
    from gtgen.experiments.runner import check_out_dir

    out = check_out_dir(args.out)
    config = fmnist_capacity.validate(config_from(args))
    fmnist_capacity.load_data(config)  # bad data or sizes fail here, before anything is written
    results = fmnist_capacity.run(
        config, out_dir=out, progress=not args.quiet, log=None if args.quiet else print
    )
    print(fmnist_capacity.report_text(results))
    print(
        f"wrote {out}/results.json, report.txt, accuracy.png, samples_*.png "
        f"(checkpoints in {out}/checkpoints)"
    )
    return 0

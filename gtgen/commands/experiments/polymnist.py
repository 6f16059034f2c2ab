"""``gtgen experiment polymnist [...]``: the paper's IV-C.

Player A of (c, d, z, s, x) on coloured digits in five styles, alone, with real (c, s) pairs, or
with player B's synthetic (c, s) pairs, which it completes by Gibbs sweeps inside the exchange
round; per-style test accuracy of the authors' Gibbs inference over seeds. On PolyDigits (the
embedded 8×8 digits in five styles) by default; at full size with ``--data`` (a PolyMNIST folder)
and ``--mnist-dir`` (MNIST IDX files for the (c, s) pairs). Checkpoints go to
``OUT/checkpoints``; running the same command again resumes from them.
"""

from __future__ import annotations

import argparse

from gtgen.commands.experiments import flat, given, log_of, names, prepare, replace_set, report
from gtgen.seeds import seed_argument

NAME = "polymnist"


def register(which: argparse._SubParsersAction) -> None:
    f = which.add_parser(
        NAME,
        help="IV-C: a (c, d, z, s, x) player helped by real or synthetic (c, s) pairs",
        description="The paper's IV-C: player A of (c, d, z, s, x) alone, with real (c, s) "
        "pairs, or with player B's synthetic pairs; every setting and seed in one compiled "
        "program.",
    )
    f.add_argument("--data", help="PolyMNIST folder (PolyMNIST/{train,test}/m0..m4/*.<label>.png)")
    f.add_argument("--mnist-dir", help="folder with the MNIST IDX files (with --data)")
    f.add_argument(
        "--settings", nargs="+", type=names, help="alone, real, synthetic (default: all)"
    )
    f.add_argument("--seeds", type=int, help="repetitions (default 3)")
    f.add_argument("--iterations", type=int, help="A's learning steps (default 1200 digits)")
    f.add_argument("--pretrain", type=int, help="B's learning steps before A (default 1000)")
    f.add_argument("--chunk", type=int, help="steps between checkpoints")
    f.add_argument("--batch", type=int, help="A's own items per step, as many received")
    f.add_argument("--alpha-self", type=float, help="α_AA with (c, s) pairs (default 0.5)")
    f.add_argument("--test-sweeps", type=int, help="Gibbs sweeps of the inference (default 20)")
    f.add_argument("--small", action="store_true", help="a run of seconds (tiny players)")
    f.add_argument("--seed", type=seed_argument, default=0)
    f.add_argument("--out", default="runs/polymnist", help="output folder")
    f.add_argument("--quiet", action="store_true", help="no progress bar or loss lines")
    f.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    """The configuration the options describe (unset options keep the defaults)."""
    from gtgen.experiments.polymnist import Config, polymnist_config, smoke_config

    full = args.data is not None or args.mnist_dir is not None
    if args.small and full:
        raise ValueError("--small: a run of seconds on PolyDigits; leave out --data/--mnist-dir")
    if full and (args.data is None or args.mnist_dir is None):
        raise ValueError(
            "--data: PolyMNIST at full size needs both --data (the PolyMNIST folder) and "
            "--mnist-dir (MNIST IDX files for the (c, s) pairs)"
        )
    base = (
        smoke_config()
        if args.small
        else (polymnist_config(args.data, args.mnist_dir) if full else Config())
    )
    options = {
        "settings": flat(args.settings),
        **given(
            args, "seeds", "iterations", "pretrain", "chunk", "batch", "alpha_self", "test_sweeps"
        ),
    }
    return replace_set(base, options, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import polymnist

    out, config = prepare(args, polymnist, config_from)
    polymnist.load_data(config)  # bad data fail here, before anything is written
    results = polymnist.run(config, out_dir=out, progress=not args.quiet, log=log_of(args))
    return report(
        polymnist,
        results,
        f"wrote {out}/results.json, report.txt, accuracy.png, samples_masks_b.png, imputed_*.png, "
        f"generated_*.png (checkpoints in {out}/checkpoints)",
    )

"""``gtgen experiment mnist-split [...]``: the paper's IV-A.

Two players (digits 0–4 / 5–9), a sweep over the self-weight a and a baseline on all digits: on
the embedded 8×8 digits without ``--data-dir``, on MNIST at the authors' scale (paper-mnist
model, batch 1000, Adam 1e-4, 10^6 iterations) with it. Checkpoints go to ``OUT/checkpoints``;
running the same command again resumes from them.
"""

from __future__ import annotations

import argparse

from gtgen.commands.experiments import (
    comma_separated,
    flat,
    given,
    log_of,
    prepare,
    replace_set,
    report,
)
from gtgen.seeds import seed_argument

NAME = "mnist-split"


# ``0.1,0.5`` or ``0.1`` (repeated after --alphas): self-weights as floats.
_alphas = comma_separated(float, "a number or comma-separated numbers")


def register(which: argparse._SubParsersAction) -> None:
    m = which.add_parser(
        NAME,
        help="IV-A: digits 0–4 vs 5–9, sweep over a",
        description="The paper's IV-A: two players (digits 0–4 / 5–9), a sweep over the "
        "self-weight a and a baseline on all digits, in one compiled program.",
    )
    m.add_argument("--data-dir", help="folder with the MNIST IDX files (default: embedded digits)")
    m.add_argument(
        "--alphas", nargs="+", type=_alphas, help="self-weights a in (0, 1] (default 0.1 … 1.0)"
    )
    m.add_argument(
        "--iterations",
        type=int,
        help="rounds per model (default: 10,000 on the digits, 10^6 on MNIST)",
    )
    m.add_argument(
        "--warmup", type=int, help="rounds alone (α = I) before the exchange (default 2000 digits)"
    )
    m.add_argument(
        "--ramp",
        type=int,
        help="rounds after the warm-up over which the self-weight falls from 1 to a "
        "(default 4000 digits; 0: at once, as the authors)",
    )
    m.add_argument("--chunk", type=int, help="rounds between checkpoints")
    m.add_argument("--batch", type=int, help="batch size (default: 512 digits, 1000 MNIST)")
    m.add_argument("--lr", type=float, help="Adam learning rate (default: the model's)")
    m.add_argument(
        "--lr-final",
        type=float,
        help="the learning rate decays along a cosine to this factor of --lr at the last "
        "round (default 0.1 digits; 1: constant, as the authors and the MNIST default)",
    )
    m.add_argument(
        "--composition",
        choices=("shares", "weighted"),
        help="α as batch shares (default, the authors') or as loss weights",
    )
    m.add_argument("--model", help="HVAE configuration name, e.g. paper-mnist, digits-small")
    m.add_argument("--eval-samples", type=int, help="samples per model for the evaluation")
    m.add_argument("--no-baseline", action="store_true", help="skip the all-digits baseline")
    m.add_argument("--seed", type=seed_argument, default=0, help="the first seed (default 0)")
    m.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="how many seeds (seed, seed + 1, …), as entries of the one program; "
        "the report states the claims over all of them (default 1)",
    )
    m.add_argument("--out", default="runs/mnist-split", help="output folder")
    m.add_argument("--quiet", action="store_true", help="no progress bar or loss lines")
    m.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    """The experiment configuration the options describe (unset options keep the defaults)."""
    from gtgen.experiments.mnist_split import Config, mnist_config

    base = Config() if args.data_dir is None else mnist_config(args.data_dir)
    options = {
        "alphas": flat(args.alphas),
        "learning_rate": args.lr,
        **given(
            args,
            "iterations",
            "warmup",
            "ramp",
            "chunk",
            "batch",
            "lr_final",
            "model",
            "eval_samples",
            "composition",
        ),
    }
    return replace_set(
        base, options, seed=args.seed, seeds=args.seeds, baseline=not args.no_baseline
    )


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import mnist_split

    out, config = prepare(args, mnist_split, config_from)
    chunks, _ = mnist_split.chunking(config)
    results = mnist_split.run(
        config,
        out_dir=out,
        progress=not args.quiet,
        log=log_of(args),
        log_every=max(1, chunks // 20),
    )
    return report(
        mnist_split,
        results,
        f"wrote {out}/samples.png, samples/, frechet.png, coverage.png, coverage_curves.png, "
        "class_fractions.png, metrics.json, "
        f"report.txt (checkpoints in {out}/checkpoints)",
    )

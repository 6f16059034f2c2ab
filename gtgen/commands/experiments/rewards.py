"""``gtgen experiment rewards [...]``: synthetic data as rewards (Tay et al., AAAI 2022).

The authors' 2-D setting (five parties, a five-cluster Gaussian mixture, |D_i| = 1000, |G| = 10^5,
splits equaldisjoint and unequal, β ∈ {1, 2, 4, 8}) and the embedded digits (PCA to 8
dimensions): valuation, Shapley values, the reward LP and weighted sampling, compared with the
authors' stored figures. A few minutes on two CPU cores at full size.
"""

from __future__ import annotations

import argparse

from gtgen.commands.experiments import as_tuple, given, log_of, prepare, report
from gtgen.seeds import seed_argument

NAME = "rewards"


def register(which: argparse._SubParsersAction) -> None:
    m = which.add_parser(
        NAME,
        help="synthetic data as rewards: MMD valuation, Shapley, reward LP, sampling",
        description="Tay et al. (AAAI 2022) on their 2-D Gaussian-mixture setting and on the "
        "embedded digits: lengthscale, Shapley values, the reward LP and weighted "
        "sampling for every β, beside the authors' figures.",
    )
    m.add_argument(
        "--datasets", nargs="+", choices=("gmm", "digits"), help="which data (default: both)"
    )
    m.add_argument(
        "--splits",
        nargs="+",
        choices=("equaldisjoint", "unequal"),
        help="which splits (default: both)",
    )
    m.add_argument("--betas", nargs="+", type=float, help="inverse temperatures (default 1 2 4 8)")
    m.add_argument("--greedy", action="store_true", help="also sample greedily (β = ∞)")
    m.add_argument("--party-size", type=int, help="|D_i| in the 2-D setting (default 1000)")
    m.add_argument("--candidates", type=int, help="|G| in the 2-D setting (default 100000)")
    m.add_argument("--digits-candidates", type=int, help="|G| for the digits (default 10000)")
    m.add_argument(
        "--generator",
        choices=("authors", "numpy"),
        help="the authors' exact 2-D points (default) or a vectorised draw",
    )
    m.add_argument(
        "--condition",
        choices=("stable", "rational"),
        help="the reward LP's lower bound (default stable, falling back to rational)",
    )
    m.add_argument(
        "--pool",
        choices=("shared", "disjoint"),
        help="every party draws from all of G (default, the authors) or its own share",
    )
    stop = m.add_mutually_exclusive_group()
    stop.add_argument(
        "--early-stop",
        type=float,
        metavar="FRACTION",
        help="stop after FRACTION·|G| steps without a new maximum (default 0.1)",
    )
    stop.add_argument(
        "--no-early-stop",
        action="store_true",
        help="sample until the target is reached or the pool is used up",
    )
    m.add_argument("--seed", type=seed_argument, default=0, help="the sampling's random seed")
    m.add_argument("--out", default="runs/rewards", help="output folder")
    m.add_argument("--quiet", action="store_true", help="no progress lines")
    m.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    """The experiment configuration the options describe (unset options keep the defaults)."""
    from gtgen.experiments.rewards import Config

    options = {
        "datasets": as_tuple(args.datasets),
        "splits": as_tuple(args.splits),
        "betas": as_tuple(args.betas),
        **given(
            args,
            "party_size",
            "candidates",
            "digits_candidates",
            "generator",
            "condition",
            "pool",
            "early_stop",
        ),
    }
    changes = {k: v for k, v in options.items() if v is not None}
    if args.no_early_stop:
        changes["early_stop"] = None
    return Config()._replace(seed=args.seed, greedy=args.greedy, **changes)


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import rewards

    out, config = prepare(args, rewards, config_from)
    results = rewards.run(config, out_dir=out, log=log_of(args))
    names = ", ".join(f"scatter_{d}.png, bars_{d}.png" for d in config.datasets)
    return report(rewards, results, f"wrote {out}/results.json, report.txt, {names}")

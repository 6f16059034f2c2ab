"""``gtgen experiment meanfield [...]``: mean-field forecasting population (MEMOA, gtgen's formulation).

Online forecasting of periodic / logistic-map / concept-drift series by a population of
linear-quadratic mean-field agents, each with its own noisy view: decentralised against greedy
and centralised policies, the server's exponential-weights mixture, the minimax coupling, the
decentralised–centralised gap against N, and the exchange-game tie at 10^6 players.
"""

from __future__ import annotations

import argparse

from gtgen.commands.experiments import (
    as_tuple,
    comma_separated,
    given,
    log_of,
    prepare,
    replace_set,
    report,
)
from gtgen.seeds import seed_argument

NAME = "meanfield"


def _numbers(kind):
    return comma_separated(kind, f"a comma-separated list of {kind.__name__}")


def register(which: argparse._SubParsersAction) -> None:
    m = which.add_parser(
        NAME,
        help="mean-field forecasting population (MEMOA, gtgen's formulation)",
        description="Online forecasting by a population of mean-field agents: decentralised vs "
        "greedy vs centralised, the server's Hedge mixture, the minimax coupling, the "
        "gap against N and the exchange-game tie (see gtgen.experiments.meanfield).",
    )
    m.add_argument(
        "--series",
        type=lambda s: [x for x in s.split(",") if x],
        help="comma-separated subset of periodic,logistic,drift (default all)",
    )
    m.add_argument("--steps", type=int, help="horizon T (default 400)")
    m.add_argument("--agents", type=int, help="population of the forecasting runs (default 300)")
    m.add_argument("--coupling", type=float, help="mean-field coupling weight q̄ (default 1)")
    m.add_argument(
        "--coupling-grid",
        type=_numbers(float),
        help="coupling weights for the minimax choice, e.g. 0,0.5,1,2,4",
    )
    m.add_argument(
        "--gap-agents",
        type=_numbers(int),
        help="population sizes for the gap against N (default 10 … 100000)",
    )
    m.add_argument(
        "--coupled-agents", type=int, help="N for the coupled-Riccati cross-check (default 10)"
    )
    m.add_argument(
        "--exchange-players", type=int, help="players of the sampled exchange (default 1000000)"
    )
    m.add_argument(
        "--exchange-rounds", type=int, help="rounds of the sampled exchange (default 40)"
    )
    m.add_argument("--small", action="store_true", help="the small configuration (seconds)")
    m.add_argument("--seed", type=seed_argument, default=0)
    m.add_argument("--out", default="runs/meanfield", help="output folder")
    m.add_argument("--quiet", action="store_true", help="no progress lines")
    m.set_defaults(func=run)


def config_from(args: argparse.Namespace):
    """The experiment configuration the options describe (unset options keep the defaults)."""
    from gtgen.experiments.meanfield import Config, small_config

    base = small_config() if args.small else Config()
    options = {
        "series": as_tuple(args.series),
        "coupling_grid": as_tuple(args.coupling_grid),
        "gap_agents": as_tuple(args.gap_agents),
        **given(
            args,
            "steps",
            "agents",
            "coupling",
            "coupled_agents",
            "exchange_players",
            "exchange_rounds",
        ),
    }
    return replace_set(base, options, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    from gtgen.experiments import meanfield

    out, config = prepare(args, meanfield, config_from)
    results = meanfield.run(config, out_dir=out, log=log_of(args))
    return report(
        meanfield,
        results,
        f"wrote {out}/results.json, report.txt, forecasts.png, costs.png, gap_vs_n.png, "
        "coupling.png",
    )

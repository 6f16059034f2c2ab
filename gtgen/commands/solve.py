"""``gtgen solve CONFIG.toml [--json]``: one game from a TOML file, checked against the closed form."""

from __future__ import annotations

import argparse
import json
import sys
import time

import jax
import numpy as np

from gtgen.config import load_config
from gtgen.solvers.equilibrium import check, game_equilibrium
from gtgen.solvers.solve import solve


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solve", help="solve one game from a TOML file and check it")
    p.add_argument("config", help="TOML game file (family, alpha, data, [solver])")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def solve_config(path: str) -> dict:
    """Everything ``gtgen solve`` reports, as a JSON-ready dict."""
    cfg = load_config(path)
    for note in cfg.ignored:
        print(f"gtgen: warning: {note}", file=sys.stderr)
    settings = dict(cfg.solver)
    seed = settings.pop("seed")
    star = game_equilibrium(cfg.game)
    start = time.perf_counter()
    solution = solve(cfg.game, jax.random.key(seed), reference=star, **settings)
    jax.block_until_ready(solution.state)
    wall = time.perf_counter() - start
    report = check(cfg.game, solution)
    return {
        "family": cfg.family,
        "players": cfg.game.n_players,
        "method": solution.method,
        "draw": solution.draw,
        "rounds": solution.rounds_run,
        "samples": settings.get("samples") if solution.method == "sampled" else None,
        "rate": report.rate,
        "rounds_to_tol": report.rounds_to_tol,
        "closed_form": [p.tolist() for p in report.closed_form],
        "reached": [p.tolist() for p in report.reached],
        "distance": report.distance,
        "residual": report.residual,
        "nash_gap": report.nash_gap,
        "wall_s": wall,
    }


def format_table(result: dict) -> str:
    """A readable report of ``solve_config``'s result."""
    lines = [
        f"{result['family']} game, {result['players']} players, method {result['method']} "
        f"(draw {result['draw']}): "
        f"{result['rounds']} rounds in {result['wall_s']:.3f} s",
        f"rate ρ(B) = {result['rate']:.4g} (exact best response needs ~{result['rounds_to_tol']} "
        "rounds to 1e-6)",
        f"distance to closed form {result['distance']:.3g}, residual {result['residual']:.3g}",
        "",
        f"{'player':>6}  {'nash gap':>10}  {'reached (first stats)':<34} closed form",
    ]
    for i, (gap, got, want) in enumerate(
        zip(result["nash_gap"], result["reached"], result["closed_form"])
    ):
        lines.append(f"{i:>6}  {gap:>10.3g}  {_short(got):<34} {_short(want)}")
    return "\n".join(lines)


def _short(values: list[float], k: int = 4) -> str:
    shown = np.array2string(np.asarray(values[:k]), precision=4, separator=", ")
    return shown[:-1] + ", …]" if len(values) > k else shown


def run(args: argparse.Namespace) -> int:
    result = solve_config(args.config)
    print(json.dumps(result) if args.json else format_table(result))
    return 0

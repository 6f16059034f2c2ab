"""``gtgen bench [--quick] [--json]``: the benchmarks of the source checkout's benchmarks/ folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the performance benchmarks (ratios measured in one run)")
    p.add_argument(
        "--quick", action="store_true", help="small sizes (compile-bound: minutes on 2 CPU cores)"
    )
    p.add_argument("--json", action="store_true", help='print {"cases": [...]} as JSON')
    p.add_argument(
        "--only",
        action="append",
        help="run only the cases whose name contains one of these (a,b or repeated)",
    )
    p.add_argument(
        "--compile-cache",
        metavar="DIR",
        help="keep compiled programs in JAX's persistent compilation cache in DIR (default: "
        "none, every run compiles cold; a second run with the same DIR reports warm times)",
    )
    p.set_defaults(func=run)


def _benchmarks_module():
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "run.py").is_file():
        raise ValueError(
            f"bench: needs gtgen's source checkout (no benchmarks/ folder beside {root / 'gtgen'})"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks import run as bench_run

    return bench_run


def run(args: argparse.Namespace) -> int:
    bench = _benchmarks_module()
    bench.parse_only(args.only)  # ValueError: one line, exit 2 (gtgen.cli)
    results = bench.run(
        args.quick,
        args.only,
        progress=lambda s: print(s, file=sys.stderr),
        compile_cache=args.compile_cache,
    )
    print(json.dumps(results) if args.json else bench.format_table(results))
    return 0

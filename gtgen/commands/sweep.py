"""``gtgen sweep CONFIG.toml [--out DIR]``: a grid of games, one compiled program per shape.

Writes DIR/results.csv, results.parquet, sweep.json and the plots; rerunning the same command
resumes an interrupted sweep from DIR/chunks. Several hosts: run the same command on each with
``--coordinator HOST:PORT --num-processes N --process-id I`` (see gtgen.sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="solve a grid of games in one compiled program per shape")
    p.add_argument("config", help="TOML sweep file (settings; lists are grid axes)")
    p.add_argument("--out", help="output folder (default: runs/<config name>); rerun to resume")
    p.add_argument("--json", action="store_true", help="print sweep.json on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--single-device", action="store_true", help="do not shard over devices")
    p.add_argument(
        "--watchdog",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="name on stderr any compilation or chunk running longer (default 300)",
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        metavar="SECONDS",
        help="stop (exit status 3, one line) once one compilation or chunk ran this long",
    )
    p.add_argument("--coordinator", help="multi-host: HOST:PORT of process 0")
    p.add_argument("--num-processes", type=int, help="multi-host: number of processes")
    p.add_argument("--process-id", type=int, help="multi-host: this process's rank")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.coordinator or args.num_processes is not None or args.process_id is not None:
        from gtgen.sweep import initialize

        initialize(args.coordinator, args.num_processes, args.process_id)
    elif not args.single_device and not _cpu_devices_chosen():
        from gtgen.sweep import use_cpu_cores

        try:
            use_cpu_cores()  # one CPU device per core (a GPU machine's sweep runs on its GPUs)
        except RuntimeError:
            pass  # JAX already started in this process (gtgen.cli.main called from Python)
    from gtgen.sweep import load_config, sweep

    cfg = load_config(args.config)  # validate before touching the output folder
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    from gtgen.files import check_out_dir

    check_out_dir(out)
    result = sweep(
        cfg,
        out=out,
        progress=not args.no_progress and not args.json,
        devices=None if args.single_device else "all",
        plots=not args.no_plots,
        announce=lambda line: print(line, file=sys.stderr, flush=True),
        watchdog=args.watchdog,
        stall_timeout=args.stall_timeout,
    )
    meta = result.meta
    if args.json:
        print(json.dumps(meta, default=str))
    elif meta["processes"] == 1 or _is_lead():
        resumed = f", {meta['resumed_points']} resumed" if meta["resumed_points"] else ""
        print(
            f"{meta['points']} points in {meta['distinct_shapes']} shapes, "
            f"{meta['compilations']} compilations, {meta['wall_s']:.2f} s{resumed} "
            f"({meta['devices']} device{'s' if meta['devices'] > 1 else ''})",
            file=sys.stdout,
        )
        print(f"results in {out}/ (results.csv, results.parquet, sweep.json, plots)")
    if meta["nonfinite_points"]:
        print(
            f"gtgen: warning: sweep: {meta['nonfinite_points']} of {meta['points']} points "
            "ended with a non-finite distance or loss (NaN rows in results.csv)",
            file=sys.stderr,
        )
    return 0


def _cpu_devices_chosen() -> bool:
    """The user already fixed the CPU device count (JAX_NUM_CPU_DEVICES or XLA_FLAGS)."""
    return "JAX_NUM_CPU_DEVICES" in os.environ or "xla_force_host_platform_device_count" in (
        os.environ.get("XLA_FLAGS", "")
    )


def _is_lead() -> bool:
    import jax

    return jax.process_index() == 0

"""Run gtgen's benchmarks: ``python -m benchmarks.run [--quick] [--json] [--only NAME ...]``.

Every figure is a ratio measured in this run against a named baseline (see each case's module
docstring). Output: a table, or with --json one object ``{"cases": [...], "machine": ...}``.
Every case also reports where its wall time went: ``case_wall_s`` in all, ``case_compile_s`` of
it in XLA compilations (jax's own backend-compile events), ``case_trace_s`` in tracing and
lowering to MLIR, and ``case_compilations``, their number (a case's child processes are not
counted).

``--compile-cache DIR`` (off by default: every run compiles from scratch, and the figures, the
total included, are cold ones) keeps the compiled programs in JAX's persistent compilation cache
in DIR, child processes included: a second run with the same DIR loads them instead of compiling.
Figures that include compile time (``*_end_to_end``, ``compile_s``, the total) are then warm ones;
the output's ``compile_cache`` names the folder.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time

# Modules holding cases, in the order they run; a module that is absent is skipped.
CASE_MODULES = (
    "benchmarks.expfam_cases",
    "benchmarks.neural_cases",
    "benchmarks.multimodal_cases",
    "benchmarks.hetero_cases",
    "benchmarks.sweep_cases",
    "benchmarks.valuation_cases",
    "benchmarks.meanfield_cases",
    "benchmarks.verification_cases",
)


def all_cases():
    for name in CASE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue
            raise
        yield from module.CASES


def machine() -> dict:
    import jax

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "date": datetime.date.today().isoformat(),
    }


def case_names() -> list[str]:
    """Every case's printed name (its function's name with dashes)."""
    return [case.__name__.replace("_", "-") for case in all_cases()]


def parse_only(only: list[str] | None) -> list[str] | None:
    """``--only a,b --only c`` -> [a, b, c]; ValueError for a name that matches no case's name."""
    if not only:
        return None
    names = [n.strip() for part in only for n in part.split(",") if n.strip()]
    known = case_names()
    for n in names:
        if not any(n.lower() in k.lower() for k in known):
            raise ValueError(f"--only: {n!r} matches no case (cases: {', '.join(known)})")
    return names or None


class CompileClock:
    """XLA compilations in this process while it is open: their number and seconds, and the
    seconds of tracing and lowering (jax.monitoring's compile-duration events)."""

    COMPILE = "/jax/core/compile/backend_compile_duration"
    TRACE = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
    )

    def __init__(self):
        self.count, self.seconds, self.trace_seconds = 0, 0.0, 0.0

    def _on_event(self, name: str, duration: float, **_) -> None:
        if name == self.COMPILE:
            self.count += 1
            self.seconds += duration
        elif name in self.TRACE:
            self.trace_seconds += duration

    def __enter__(self):
        from jax import monitoring

        monitoring.register_event_duration_secs_listener(self._on_event)
        return self

    def __exit__(self, *_):
        from jax import monitoring

        monitoring.unregister_event_duration_listener(self._on_event)


COMPILE_CACHE_HELP = (
    "keep compiled programs in JAX's persistent compilation cache in DIR (default: none, every "
    "run compiles cold; a second run with the same DIR reports warm compile times)"
)
CACHE_SETTINGS = {  # JAX's persistent compilation cache: keep every program, however small
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": -1,
}


def use_compile_cache(folder: str | os.PathLike) -> None:
    """Compile through JAX's persistent compilation cache in ``folder``, in this process and in
    the child processes cases start (they inherit the environment)."""
    import jax

    path = os.path.abspath(os.fspath(folder))
    os.makedirs(path, exist_ok=True)
    settings = {"jax_compilation_cache_dir": path, **CACHE_SETTINGS}
    for name, value in settings.items():
        os.environ[name.upper()] = str(value)
        jax.config.update(name, value)


def run(
    quick: bool = False,
    only: list[str] | None = None,
    progress=print,
    compile_cache: str | os.PathLike | None = None,
) -> dict:
    only = parse_only(only)
    if compile_cache is not None:
        use_compile_cache(compile_cache)
    cases = []
    total = time.perf_counter()
    with CompileClock() as clock:
        for case in all_cases():
            label = case.__name__.replace("_", "-")
            if only and not any(o.lower() in label.lower() for o in only):
                continue
            cases.append(_timed_case(case, quick, clock, progress))
    total = time.perf_counter() - total
    progress(f"  total: {total:.1f} s")
    return {
        "cases": cases,
        "machine": machine(),
        "quick": quick,
        "total_s": total,
        "compile_cache": None if compile_cache is None else os.path.abspath(compile_cache),
    }


def _timed_case(case, quick: bool, clock: CompileClock, progress) -> dict:
    start = time.perf_counter()
    before = clock.count, clock.seconds, clock.trace_seconds
    result = case(quick=quick)
    result["case_wall_s"] = time.perf_counter() - start
    result["case_compilations"] = clock.count - before[0]
    result["case_compile_s"] = clock.seconds - before[1]
    result["case_trace_s"] = clock.trace_seconds - before[2]
    progress(
        f"  {result['name']}: {result['case_wall_s']:.1f} s ({result['case_compilations']} "
        f"compilations: {result['case_compile_s']:.1f} s, tracing {result['case_trace_s']:.1f} s)"
    )
    return result


def format_table(results: dict) -> str:
    lines = []
    for case in results["cases"]:
        lines.append(case["name"])
        for key, value in case.items():
            if key in ("name", "targets"):
                continue
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, list):
                value = (
                    "["
                    + ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value)
                    + "]"
                )
            lines.append(f"  {key:<22} {value}")
        for key, target in case.get("targets", {}).items():
            lines.append(f"  target {key:<15} {target}")
    m = results["machine"]
    lines.append(f"total: {results['total_s']:.1f} s")
    lines.append(f"machine: {m['processor']}, {m['cpus']} CPUs, jax {m['jax']}, {m['devices']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (compile-bound: minutes on 2 CPU cores)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        action="append",
        help="run only cases whose name contains one of these (a,b or repeated)",
    )
    parser.add_argument("--compile-cache", metavar="DIR", help=COMPILE_CACHE_HELP)
    args = parser.parse_args(argv)
    try:
        parse_only(args.only)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    results = run(
        args.quick,
        args.only,
        progress=lambda s: print(s, file=sys.stderr),
        compile_cache=args.compile_cache,
    )
    print(json.dumps(results) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

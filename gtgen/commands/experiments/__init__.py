"""One module per ``gtgen experiment`` subcommand: ``NAME`` and ``register(subparsers)``.

The pieces they share: comma-separated option values, unset options keeping the defaults, and
the run itself (check ``--out``, validate, run, print the report and what was written).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def comma_separated(kind: Callable[[str], Any], what: str) -> Callable[[str], list]:
    """An argparse ``type``: ``1,2`` (or ``1``, repeated after the option) as a list of
    ``kind``; anything else is ``not <what>: <text>``."""

    def parse(text: str) -> list:
        try:
            return [kind(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None

    return parse


names = comma_separated(str, "a comma-separated list of names")


def flat(groups: list[list] | None) -> list | None:
    """The values of an ``nargs="+"`` option of comma-separated lists, in order (None if unset)."""
    return [v for group in groups for v in group] if groups else None


def as_tuple(values: list | None) -> tuple | None:
    """A list option's values as a tuple (None if unset)."""
    return tuple(values) if values else None


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options ``names`` (attributes of ``args`` named as the configuration's fields)."""
    return {name: getattr(args, name) for name in names}


def replace_set(base: Any, options: dict[str, Any], **fixed: Any) -> Any:
    """``base`` (a NamedTuple configuration) with ``fixed`` and every option that was set."""
    return base._replace(**fixed, **{k: v for k, v in options.items() if v is not None})


def log_of(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Where progress lines go: ``print``, or nowhere with ``--quiet``."""
    return None if args.quiet else print


def prepare(args: argparse.Namespace, experiment: Any, config_from: Callable) -> tuple[Path, Any]:
    """``(out, config)``: ``--out`` checked, then the configuration the options describe,
    validated by the experiment, before anything is written."""
    from gtgen.experiments.runner import check_out_dir

    out = check_out_dir(args.out)
    return out, experiment.validate(config_from(args))


def report(experiment: Any, results: Any, wrote: str) -> int:
    """Print the experiment's report of ``results``, then ``wrote``; the exit status 0."""
    print(experiment.report_text(results))
    print(wrote)
    return 0

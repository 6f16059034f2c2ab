"""The ``gtgen`` command: parse, validate, call the library, print. No science lives here.

Each subcommand is a module in ``gtgen.commands`` with ``register(subparsers)``; the parser it
adds carries ``func(args) -> int``. Any bad input (ValueError, TypeError, a missing or unreadable
file, broken TOML) becomes one line on stderr and exit status 2; commands write their output
only once everything has been computed, so a failure never leaves partial output.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tomllib

COMMANDS = ("solve", "demo", "bench", "sweep", "experiment")


class UsageError(Exception):
    """Raised by argparse instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, through main()
        raise UsageError(f"{self.prog.removeprefix('gtgen').strip() or 'usage'}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gtgen", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version",
        action="store_true",
        help="print gtgen's version (and JAX's, flax's, Python's) and exit",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"gtgen.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"gtgen.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.version:
            print(version_line())
            return 0
        if not getattr(args, "func", None):
            build_parser().print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except UsageError as err:
        return _fail(str(err))
    except tomllib.TOMLDecodeError as err:
        return _fail(f"config: not valid TOML ({err})")
    except FileNotFoundError as err:
        return _fail(str(err) if not err.filename else f"{err.filename}: file not found")
    except (ValueError, TypeError, OSError) as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        return _fail("interrupted", status=130)


def version_line() -> str:
    """``gtgen 0.1.0 (jax 0.10.2, jaxlib 0.10.2, flax 0.12.8, Python 3.11.7)``: what a bug report needs."""
    import platform
    from importlib import metadata

    from gtgen import __version__

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    deps = ", ".join(f"{name} {installed(name)}" for name in ("jax", "jaxlib", "flax"))
    return f"gtgen {__version__} ({deps}, Python {platform.python_version()})"


def _fail(message: str, status: int = 2) -> int:
    print(f"gtgen: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Subcommands of the ``gtgen`` command line, one module each (see gtgen.cli)."""

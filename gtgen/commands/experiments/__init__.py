"""One module per ``gtgen experiment`` subcommand: ``NAME`` and ``register(subparsers)``."""

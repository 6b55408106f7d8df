"""Entry point of the `vla` command.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed namespace, returns an exit code). The registry below is
an explicit list: add a module here when you add a subcommand. Modules keep heavy imports
(torch, engines) inside their functions so `vla --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from vla import __version__
from vla.cli import (
    bench_cmd,
    compare_cmd,
    data_cmd,
    demo_cmd,
    eval_cmd,
    export_cmd,
    record_cmd,
    replay_cmd,
    serve_cmd,
    sim_cmd,
    text_cache_cmd,
    train_cmd,
)
from vla.cli.common import DEBUG_ENV, ArgumentParser, one_line

SUBCOMMAND_MODULES: list = [
    bench_cmd,
    data_cmd,
    record_cmd,
    replay_cmd,
    demo_cmd,
    eval_cmd,
    compare_cmd,
    sim_cmd,
    serve_cmd,
    train_cmd,
    text_cache_cmd,
    export_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    """The `vla` parser: every subcommand's parser shares the grammar of ``vla.cli.common``."""
    parser = ArgumentParser(
        prog="vla",
        description="Vision-Language-Action robotics stack.",
        epilog="Flags are --kebab-case VALUE (or --flag=VALUE) in every command; `vla train` also "
        "takes training-config overrides --<field>=<value> (see `vla train --help`). --device is "
        f"always a torch device. Errors end in one line (exit code 2 for usage and input "
        f"errors); set {DEBUG_ENV}=1 to see the traceback.",
    )
    parser.add_argument("--version", action="version", version=f"vla {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in SUBCOMMAND_MODULES:
        module.register(sub)
    return parser


# What a user gets wrong (a missing or damaged file, a value out of range, a preset that does
# not exist) and the commands raise with a message that names the fix. The traceback adds
# nothing for them; VLA_DEBUG=1 brings it back for a bug report.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, KeyError, LookupError)


def main(argv: list[str] | None = None) -> int:
    """Run one `vla` command; returns its exit code (2: usage or input error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"{_command_name(args)}: error: {one_line(exc)}", file=sys.stderr)
        return 2


def _command_name(args: argparse.Namespace) -> str:
    words = ["vla", args.command]
    words += [getattr(args, a) for a in ("data_command", "sim_command") if getattr(args, a, None)]
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())

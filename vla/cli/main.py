"""Entry point of the `vla` command.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed namespace, returns an exit code). The registry below is
an explicit list: add a module here when you add a subcommand. Modules keep heavy imports
(torch, engines) inside their functions so `vla --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

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
    parser = argparse.ArgumentParser(
        prog="vla", description="Vision-Language-Action robotics stack."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in SUBCOMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

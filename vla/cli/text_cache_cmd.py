"""`vla text-cache`: precompute frozen-MiniLM instruction embeddings into a safetensors file.

    vla text-cache --dataset DIR [--dataset DIR2] [--instruction "put ..."] --out FILE

Run it where the MiniLM package is installed; pass FILE to `vla train --text-cache FILE` (or
Policy.from_pretrained(..., text_cache=FILE)) on machines without it.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "text-cache",
        help="precompute MiniLM instruction embeddings for training without the package",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", action="append", default=[], help="LeRobot v3 dataset folder")
    p.add_argument("--instruction", action="append", default=[], help="an extra instruction")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.data.reader import LeRobotDatasetReader
    from vla.model.text import precompute_instruction_embeddings

    instructions = set(args.instruction)
    for root in args.dataset:
        instructions.update(LeRobotDatasetReader(root).tasks)
    if not instructions:
        raise SystemExit("no instructions: pass --dataset DIR and/or --instruction TEXT")
    path = precompute_instruction_embeddings(sorted(instructions), args.out)
    print(f"wrote {len(instructions)} instruction embeddings to {path}")
    return 0

"""Average the weights of policy checkpoints that share an architecture and action tokenizer.

    python scripts/average_checkpoints.py --out /tmp/soup checkpoints/pick_place_v7 /tmp/a/final
    python scripts/average_checkpoints.py --out /tmp/soup A B --weights 0.7 0.3

A "model soup" (Wortsman et al., 2022): checkpoints fine-tuned from one parent usually lie in one
basin, and the mean of their weights can generalise better than either. The first checkpoint's
folder is copied as the base (config, statistics, tokenizer, policy metadata, text cache); the
others must have the same config.json and action tokenizer, or the average would mix weights
that mean different things. Weights are averaged in fp32 and stored in the first checkpoint's
dtype. Whether a soup is better is decided by ``vla eval``, never by this script.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
MUST_MATCH = (
    "config.json",
    "action_tokenizer/action_tokenizer.json",
    "action_tokenizer/action_stats.json",
)


def _check_compatible(base: Path, other: Path) -> None:
    for name in MUST_MATCH:
        a, b = base / name, other / name
        if not a.is_file() or not b.is_file():
            raise FileNotFoundError(
                f"{a if not a.is_file() else b}: missing; pass policy checkpoint "
                "folders written by `vla train`"
            )
        if json.loads(a.read_text()) != json.loads(b.read_text()):
            raise ValueError(
                f"{name} differs between {base} and {other}: only checkpoints of one "
                "architecture and action tokenizer (e.g. fine-tuned from one parent) "
                "can be averaged"
            )


def average(folders: list[Path], weights: list[float] | None = None) -> dict[str, torch.Tensor]:
    """The weighted mean of the checkpoints' tensors (weights normalised to sum 1)."""
    if len(folders) < 2:
        raise ValueError("pass at least two checkpoints to average")
    weights = [1.0] * len(folders) if weights is None else weights
    if len(weights) != len(folders) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(
            f"--weights: need {len(folders)} non-negative numbers with a positive sum, "
            f"got {weights}"
        )
    total = sum(weights)
    for other in folders[1:]:
        _check_compatible(folders[0], other)
    base = load_file(folders[0] / WEIGHTS)
    acc = {k: v.float() * (weights[0] / total) for k, v in base.items()}
    for folder, w in zip(folders[1:], weights[1:], strict=True):
        state = load_file(folder / WEIGHTS)
        if state.keys() != base.keys():
            raise ValueError(
                f"{folder}: its tensors differ from {folders[0]}'s "
                f"({sorted(state.keys() ^ base.keys())[:3]} ...)"
            )
        for k, v in state.items():
            if v.shape != base[k].shape:
                raise ValueError(
                    f"{folder}: {k} has shape {tuple(v.shape)}, "
                    f"{folders[0]} has {tuple(base[k].shape)}"
                )
            acc[k] += v.float() * (w / total)
    return {k: v.to(base[k].dtype) for k, v in acc.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path, help="policy checkpoint folders")
    ap.add_argument("--out", type=Path, required=True, help="folder to write (must not exist)")
    ap.add_argument(
        "--weights", type=float, nargs="+", help="one weight per checkpoint (default: equal)"
    )
    args = ap.parse_args(argv)
    if args.out.exists():
        raise SystemExit(f"--out {args.out} exists: pick a new folder (nothing is overwritten)")
    state = average(args.checkpoints, args.weights)
    shutil.copytree(
        args.checkpoints[0],
        args.out,
        ignore=shutil.ignore_patterns(WEIGHTS, "eval_*", "selection", "README.md"),
    )
    save_file(state, args.out / WEIGHTS, metadata={"format": "pt"})
    print(f"averaged {len(args.checkpoints)} checkpoints -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

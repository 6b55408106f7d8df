"""`vla demo`: the main job — evaluate the shipped policy in simulated pick-and-place.

    vla demo [--checkpoint PATH] [--episodes-per-task 10] [--out outputs/demo]

Runs `vla eval` on the shipped checkpoint in MuJoCo (every task family of the pick_place suite,
seeded), then the scripted expert on the same seeds as a reference, and writes for each:
a success table (printed, and JSON), a bar chart PNG and videos (scene | wrist) under --out.

Without --checkpoint the shipped one is used, found by this rule (vla/resources.py): the
VLA_CHECKPOINT environment variable, else the repository's checkpoints/pick_place_v7, else the
cache folder ~/.cache/vla/checkpoints/pick_place_v7 ($VLA_HOME/checkpoints/... when set).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="evaluate the shipped policy in MuJoCo (videos + success table)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="checkpoint folder (default: the shipped one, by the rule above)")  # fmt: skip
    p.add_argument("--episodes-per-task", type=int, default=10, help="episodes per task family")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes")
    p.add_argument("--backend", choices=("mujoco", "pybullet"), default="mujoco",
                   help="physics engine")  # fmt: skip
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="worker processes")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder")
    p.add_argument("--no-expert", action="store_true", help="skip the scripted-expert reference")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.cli import eval_cmd
    from vla.cli.common import ArgumentParser
    from vla.resources import find_checkpoint

    args.checkpoint = find_checkpoint(args.checkpoint)  # a one-line error names the fix
    runs = [("policy", str(args.checkpoint))]
    if not args.no_expert:
        runs.append(("expert", "expert"))
    parser = ArgumentParser()
    eval_cmd.register(parser.add_subparsers())
    code = 0
    for name, checkpoint in runs:
        out = args.out / name
        print(f"\n== {name}: {checkpoint} ({args.backend}, {args.episodes_per_task} episodes/task)")
        eval_args = parser.parse_args([
            "eval", "--checkpoint", checkpoint, "--backend", args.backend,
            "--episodes-per-task", str(args.episodes_per_task), "--seed", str(args.seed),
            "--workers", str(args.workers), "--video-dir", str(out / "videos"),
            "--json", str(out / "eval.json"),
        ])  # fmt: skip
        code = max(code, int(eval_args.func(eval_args) or 0))
    print(f"\nwrote {args.out}/{{policy,expert}}/eval.json, eval.png and videos/")
    return code

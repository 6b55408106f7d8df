"""`vla demo`: the main job — evaluate the shipped policy in simulated pick-and-place.

    vla demo [--checkpoint checkpoints/pick_place_v7] [--episodes-per-task 10] [--out outputs/demo]

Runs `vla eval` on the shipped checkpoint in MuJoCo (every task family of the pick_place suite,
seeded), then the scripted expert on the same seeds as a reference, and writes for each:
a success table (printed, and JSON), a bar chart PNG and videos (scene | wrist) under --out.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vla.constants import SHIPPED_CHECKPOINT


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="evaluate the shipped policy in MuJoCo (videos + success table)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    p.add_argument("--episodes-per-task", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("mujoco", "pybullet"), default="mujoco")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    p.add_argument("--out", type=Path, default=Path("outputs/demo"))
    p.add_argument("--no-expert", action="store_true", help="skip the scripted-expert reference")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.cli import eval_cmd

    if not (args.checkpoint / "config.json").exists():
        raise SystemExit(
            f"vla demo: no checkpoint at {args.checkpoint} (expected config.json there); pass "
            "--checkpoint PATH or train one with `vla train`"
        )
    runs = [("policy", str(args.checkpoint))]
    if not args.no_expert:
        runs.append(("expert", "expert"))
    parser = argparse.ArgumentParser()
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

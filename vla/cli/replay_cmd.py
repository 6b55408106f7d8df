"""`vla replay`: replay a recorded episode's actions in the simulator and report success.

    vla replay --dataset DIR --episode K [--backend mujoco|pybullet] [--video OUT.mp4] [--json F]

Needs the episode's entry in ``DIR/meta/vla_record.json`` (written by ``vla record``). Exit code
0 when the replay succeeds, 1 when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("replay", help="replay a recorded episode in the simulator")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder")
    parser.add_argument("--episode", type=int, required=True, help="episode index")
    parser.add_argument("--backend", default=None,
                        help="mujoco | pybullet (default: the engine it was recorded in)")  # fmt: skip
    parser.add_argument("--video", type=Path, default=None, help="write scene | wrist MP4 here")
    parser.add_argument("--json", type=Path, default=None, help="write the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.teleop.replay import replay_episode

    try:
        result = replay_episode(args.dataset, args.episode, args.backend,
                                record_frames=args.video is not None)  # fmt: skip
    except (KeyError, IndexError, FileNotFoundError, ValueError) as err:
        print(f"vla replay: {err}", file=sys.stderr)
        return 2
    if args.video is not None:
        from vla.rollout.video import write_video

        write_video(args.video, result.frames)
    summary = {k: v for k, v in asdict(result).items() if k != "frames"}
    print(f"episode {result.episode} ({result.family}, seed {result.seed}) replayed in "
          f"{result.backend} (recorded in {result.recorded_backend}): {result.steps} steps, "
          f"success={result.success} (recorded success={result.recorded_success}, goal first "
          f"held at step {result.first_success_step})")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if result.success else 1

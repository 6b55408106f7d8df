"""`vla record`: teleoperate a simulated task and record kept episodes into a dataset.

    vla record --suite pick_place --task FAMILY --backend mujoco|pybullet
               --teleop-device keyboard|gamepad|spacemouse|scripted [--script FILE.json]
               --episodes N --dataset DIR [--resume] [--seed S] [--preview FILE.png|.mp4]

``--episodes`` counts the episodes to keep in this session. Each kept episode's scene (family,
seed, backend, split) goes to ``DIR/meta/vla_record.json`` for ``vla replay``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vla.cli.common import add_image_size


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "record", help="teleoperate a simulated task and record demonstrations",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_device_help(),
    )  # fmt: skip
    parser.add_argument("--suite", default="pick_place", help="task suite (default pick_place)")
    parser.add_argument("--task", default="pick", metavar="FAMILY", help="task family")
    parser.add_argument("--backend", default="mujoco", help="physics engine: mujoco | pybullet")
    parser.add_argument("--teleop-device", default="keyboard", choices=TELEOP_DEVICES,
                        help="input device (--device is a torch device in every command)")  # fmt: skip
    # the old spelling (before --device meant a torch device everywhere): deprecated
    parser.add_argument("--device", dest="old_device", choices=TELEOP_DEVICES,
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--script", default=None,
                        help="JSON device script (--teleop-device scripted)")  # fmt: skip
    parser.add_argument("--episodes", type=int, default=1, help="episodes to keep this session")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder")
    parser.add_argument("--resume", action="store_true", help="append to an existing dataset")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scene sequence")
    parser.add_argument("--split", default="train", help="task split (default train)")
    add_image_size(parser, default=(128, 128))
    parser.add_argument("--preview", type=Path, default=None,
                        help="preview file: .png rewritten each tick, .mp4 per episode")  # fmt: skip
    parser.add_argument("--no-window", action="store_true", help="never open an OpenCV window")
    parser.add_argument("--fast", action="store_true",
                        help="do not pace at the control rate (scripted devices only)")  # fmt: skip
    parser.set_defaults(func=run)


TELEOP_DEVICES = ("keyboard", "gamepad", "spacemouse", "scripted")  # vla.teleop.registry.DEVICES


def _device_help() -> str:
    return (
        "keyboard: see vla/teleop/keyboard.py (w/s a/d r/f move, u/o i/k j/l rotate, space "
        "gripper, +/- speed, Enter start, y keep, x discard, n new scene, q quit)\n"
        "gamepad: see vla/teleop/gamepad.py (hold LB; sticks move; A/B gripper; Start, Y, X, "
        "Back, Guide)\nspacemouse: see vla/teleop/spacemouse.py"
    )


def run(args: argparse.Namespace) -> int:
    from vla.teleop import DeviceUnavailableError, make_device
    from vla.teleop.recorder import RecordConfig, record

    if args.old_device is not None:
        print("warning: vla record --device is deprecated: use --teleop-device", file=sys.stderr)
        args.teleop_device = args.old_device
    if args.fast and args.teleop_device != "scripted":
        print("vla record: error: --fast only applies to --teleop-device scripted (a person "
              "needs the real rate)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        cfg = RecordConfig(
            dataset=args.dataset, task=args.task, suite=args.suite, backend=args.backend,
            episodes=args.episodes, seed=args.seed, split=args.split,
            image_size=tuple(args.image_size), resume=args.resume, realtime=not args.fast,
            preview=args.preview, window=False if args.no_window else None,
            device_name=args.teleop_device,
        )  # fmt: skip
        options = {"script": args.script} if args.teleop_device == "scripted" else {}
        device = make_device(args.teleop_device, **options)
    except (ValueError, DeviceUnavailableError, FileNotFoundError) as err:
        print(f"vla record: {err}", file=sys.stderr)
        return 2
    try:
        with device:
            result = record(cfg, device)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"vla record: {err}", file=sys.stderr)
        return 2
    return 0 if result.saved or result.quit else 1

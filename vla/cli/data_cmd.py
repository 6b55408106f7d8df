"""`vla data`: generate demonstrations, inspect and view LeRobot v3 datasets.

    vla data generate --suite pick_place --backend mujoco --episodes 100 --workers 4 \
        --out data/pick_place --seed 0 [--task FAMILY] [--split train] [--image-size 128 128] \
        [--action-noise 0.5] [--randomize 1.0 [--randomize-fraction 0.5]]
    vla data generate ... --learner CKPT [--expert-prob 0.5] [--dagger-block 4] \
        [--device cpu]   (DAgger; --device: the learner's torch device)
    vla data info DIR [--recompute-stats]
    vla data view DIR --episode K --out episode.mp4 [--show]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vla.cli.common import add_image_size, one_line


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="generate, inspect and view datasets")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    gen = sub.add_parser("generate", help="run scripted experts in parallel into a dataset")
    gen.add_argument("--suite", default="pick_place", help="task suite in sim.tasks.SUITES")
    gen.add_argument("--backend", default="mujoco", choices=["mujoco", "pybullet"])
    gen.add_argument(
        "--episodes", type=int, required=True, help="attempts (failures dropped unless --learner)"
    )
    gen.add_argument("--workers", type=int, default=1, help="worker processes (0: in-process)")
    gen.add_argument("--out", type=Path, required=True, help="dataset folder (resumed if exists)")
    gen.add_argument("--seed", type=int, default=0, help="base seed of the attempts")
    gen.add_argument("--task", default=None, help="only this task family (default: all)")
    gen.add_argument("--split", default="train", help="task split (train / test objects)")
    add_image_size(gen, help_text="camera image size (default: 128 128)")
    gen.add_argument("--max-steps", type=int, default=None, help="cap on an attempt's steps")
    gen.add_argument("--action-noise", type=float, default=0.0, metavar="SIGMA",
                     help="DART noise injection: execute the expert's action + Gaussian noise of "
                     "up to SIGMA x the per-step limit (drawn per attempt), record the clean "
                     "action; e.g. 0.3 (default 0: the plain expert)")  # fmt: skip
    gen.add_argument("--randomize", type=float, default=0.0, metavar="S",
                     help="scene variation per attempt (camera, light, table look, distractors, "
                     "friction, mass; sim/variation.py) of strength S: 0 off (default), 1 the "
                     "training range; deterministic per seed")  # fmt: skip
    gen.add_argument("--randomize-fraction", type=float, default=1.0, metavar="F",
                     help="with --randomize: the share of attempts that get a variation, the "
                     "rest show the default scene (default 1: all); drawn per attempt's seed")  # fmt: skip
    gen.add_argument("--learner", type=Path, default=None, metavar="CKPT",
                     help="DAgger: this Policy folder drives a share of the control blocks, the "
                     "expert labels every state; failed attempts are kept")  # fmt: skip
    gen.add_argument("--expert-prob", type=float, default=0.5, metavar="P",
                     help="DAgger: fraction of blocks the expert drives (default 0.5)")  # fmt: skip
    gen.add_argument("--dagger-block", type=int, default=4, metavar="N",
                     help="DAgger: control steps per block of one driver (default 4)")  # fmt: skip
    gen.add_argument("--device", "--learner-device", dest="learner_device", default="cpu",
                     help="torch device of the DAgger learner: cpu, cuda[:N] or auto "
                     "(--learner-device: deprecated spelling)")  # fmt: skip
    gen.add_argument("--text-cache", type=Path, default=None,
                     help="the learner's MiniLM instruction states (`vla text-cache --plan-...`), "
                     "for a machine without the MiniLM package")  # fmt: skip
    gen.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop starting attempts after this long (resume continues)",
    )
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    gen.add_argument("--json", type=Path, default=None, help="also write the summary here")
    gen.set_defaults(func=run_generate)

    info = sub.add_parser("info", help="episodes, frames, tasks, features and statistics")
    info.add_argument("root", type=Path, help="dataset folder")
    info.add_argument("--recompute-stats", action="store_true",
                      help="recompute meta/stats.json from the data first (exact quantiles)")  # fmt: skip
    info.set_defaults(func=run_info)

    view = sub.add_parser("view", help="write an episode's cameras side by side to MP4")
    view.add_argument("root", type=Path, help="dataset folder")
    view.add_argument("--episode", type=int, default=0, help="episode index")
    view.add_argument("--out", type=Path, default=None, help="MP4 path (default episode_K.mp4)")
    view.add_argument("--show", action="store_true", help="also open a window (needs a display)")
    view.set_defaults(func=run_view)


def run_generate(args: argparse.Namespace) -> int:
    from vla.constants import DEFAULT_IMAGE_SIZE
    from vla.model.text import MissingInstructionError
    from vla.rollout.generate import GenerateConfig, generate
    from vla.rollout.learner import LearnerSpec
    from vla.rollout.pool import terminate_on_sigterm

    try:
        learner = None
        if args.learner is not None:
            learner = LearnerSpec(
                str(args.learner), args.expert_prob, args.dagger_block, args.learner_device,
                str(args.text_cache) if args.text_cache else None,
            )  # fmt: skip
        elif args.text_cache is not None:
            raise ValueError("--text-cache feeds the learner's instructions: pass --learner too")
        cfg = GenerateConfig(
            out=args.out, suite=args.suite, backend=args.backend, episodes=args.episodes,
            workers=args.workers, seed=args.seed,
            families=(args.task,) if args.task else None, split=args.split,
            image_size=tuple(args.image_size) if args.image_size else DEFAULT_IMAGE_SIZE,
            max_steps=args.max_steps, action_noise=args.action_noise, randomize=args.randomize,
            randomize_fraction=args.randomize_fraction, max_minutes=args.max_minutes,
            learner=learner, progress=not args.no_progress,
        )  # fmt: skip
        with terminate_on_sigterm():  # SIGTERM exits as cleanly as Ctrl-C
            summary = generate(cfg)
    except (ValueError, OSError, MissingInstructionError) as exc:
        # bad input (a resume with other settings, a checkpoint that does not fit the suite, a
        # learner's instruction neither MiniLM nor --text-cache covers): the message names the
        # fix; no traceback
        print(f"vla data generate: error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(
        f"{summary['new_successes']}/{summary['new_attempts']} new attempts succeeded; "
        f"dataset {cfg.out}: {summary['episodes_in_dataset']} episodes, "
        f"{summary['frames_in_dataset']} frames; success rate overall "
        f"{summary['success_rate']:.1%} ({summary['succeeded']}/{summary['attempted']}); "
        f"{summary['episodes_per_min']:.1f} attempts/min with {cfg.workers} worker(s)"
    )
    if cfg.learner is not None:
        print(
            f"DAgger: the learner drove {summary['learner_step_fraction']:.1%} of the new "
            f"steps; {summary['kept_failures']} failed attempts kept (expert labels)"
        )
    split, n = summary["time_split"], max(1, summary["new_attempts"])
    print(
        f"worker time per attempt: env build {split['env_build_s'] / n:.3f} s "
        f"({split['env_builds']} builds), simulate + render {split['rollout_s'] / n:.3f} s, "
        f"encode + stats {split['encode_stats_s'] / n:.3f} s; parent writes "
        f"{split['parent_write_s']:.1f} s in all"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    return 0


def _fmt(values) -> str:
    import numpy as np

    flat = np.asarray(values, dtype=float).ravel()
    return " ".join(f"{v:8.3f}" for v in flat)


def run_info(args: argparse.Namespace) -> int:
    from collections import Counter

    from vla.data import LeRobotDatasetReader
    from vla.rollout.generate import RECORD

    if args.recompute_stats:
        from vla.data.dataset_stats import recompute_stats

        recompute_stats(args.root)
        print(f"recomputed   {args.root / 'meta/stats.json'}")
    r = LeRobotDatasetReader(args.root)
    print(f"dataset      {r.root}")
    print(f"format       LeRobot {r.info['codebase_version']}, robot {r.info.get('robot_type')}, "
          f"{r.fps:g} fps")  # fmt: skip
    print(f"episodes     {r.num_episodes}")
    print(f"frames       {r.num_frames} ({r.num_frames / r.fps:.1f} s)")
    counts = Counter(t for ep in r.episodes for t in ep["tasks"])
    print(f"tasks        {len(r.tasks)}")
    for task in r.tasks:
        print(f"  {counts.get(task, 0):5d} episodes  {task}")
    print("features")
    for key, ft in r.features.items():
        extra = ""
        if ft["dtype"] == "video":
            extra = f"  codec {ft.get('info', {}).get('video.codec')}"
        print(f"  {key:28s} {ft['dtype']:8s} {str(ft['shape']):14s}{extra}")
    stats = r.stats
    print("statistics (per dimension; images per channel in [0, 1])")
    for key in [*r.camera_keys, *(k for k in ("observation.state", "action") if k in stats)]:
        if key not in stats:
            continue
        print(f"  {key}")
        for name in ("min", "max", "mean", "std", "q01", "q99"):
            print(f"    {name:5s} {_fmt(stats[key][name])}")
    record = r.root / RECORD
    if record.exists():
        rec = json.loads(record.read_text())
        ok, bad = len(rec["successes"]), len(rec["failures"])
        rate = ok / (ok + bad) if ok + bad else 0.0
        kept = len(rec.get("kept_failures", []))
        print(f"generation   {ok}/{ok + bad} attempts succeeded ({rate:.1%}), {kept} failed "
              f"attempts kept; config {rec['config']}")  # fmt: skip
    return 0


def run_view(args: argparse.Namespace) -> int:
    import numpy as np

    from vla.data import LeRobotDatasetReader
    from vla.data.video import encode_video

    r = LeRobotDatasetReader(args.root)
    if not 0 <= args.episode < r.num_episodes:
        print(f"episode {args.episode} out of range: {r.num_episodes} episodes", file=sys.stderr)
        return 2
    cams = r.camera_keys
    if not cams:
        print(f"{args.root}: dataset has no cameras to view", file=sys.stderr)
        return 2
    frames = [r.episode_frames(args.episode, k) for k in cams]
    height = max(f.shape[1] for f in frames)
    padded = [np.pad(f, ((0, 0), (0, height - f.shape[1]), (0, 0), (0, 0))) for f in frames]
    video = np.concatenate(padded, axis=2)  # (T, H, sum W, 3): cameras side by side
    video = video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2]
    out = args.out or Path(f"episode_{args.episode}.mp4")
    encode_video(out, np.ascontiguousarray(video), r.fps)
    print(f"wrote {out}: episode {args.episode} ({len(video)} frames, {' | '.join(cams)}), "
          f"task: {r.episode_task(args.episode)}")  # fmt: skip
    if args.show:
        _show(video, r.fps)
    return 0


def _show(video, fps: float) -> None:
    from vla.teleop.status import window_problem

    problem = window_problem()
    if problem is not None:
        print(f"vla data view: cannot open a window: {problem}; the MP4 is written",
              file=sys.stderr)  # fmt: skip
        return
    import cv2

    for frame in video:
        cv2.imshow("vla data view", frame[..., ::-1])
        if cv2.waitKey(int(1000 / fps)) & 0xFF == ord("q"):
            break
    cv2.destroyAllWindows()

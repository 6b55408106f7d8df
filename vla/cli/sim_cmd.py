"""`vla sim run`: run a policy (the scripted expert) through a simulated task suite on the
rollout engine (``vla.rollout.suite_run``: its jobs, pool and episode loop).

    vla sim run --suite pick_place [--task FAMILY ...] --backend mujoco|pybullet --policy expert
                --episodes-per-task N --seed S [--workers W] [--video-dir DIR] [--json OUT]

Prints a per-family success table; writes a JSON summary and MP4 videos (scene | wrist).
Episode i of each family uses seed S + i in every engine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from vla.cli.common import add_image_size


def register(subparsers) -> None:
    parser = subparsers.add_parser("sim", help="simulation: run task suites in MuJoCo/PyBullet")
    sub = parser.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sub.required = True
    run_p = sub.add_parser("run", help="run a policy through a task suite, report success")
    run_p.add_argument("--suite", default="pick_place", help="task suite (default pick_place)")
    run_p.add_argument(
        "--task",
        action="append",
        default=None,
        metavar="FAMILY",
        help="task family (repeatable); default: every family of the suite",
    )
    run_p.add_argument("--backend", default="mujoco", help="physics engine: mujoco | pybullet")
    run_p.add_argument("--policy", default="expert", help="policy name (expert)")
    run_p.add_argument("--episodes-per-task", "--episodes", dest="episodes", type=int, default=10,
                       help="episodes per task family (as in vla eval; --episodes: the old "
                       "spelling)")  # fmt: skip
    run_p.add_argument("--seed", type=int, default=0, help="seed of episode 0 (episode i: S+i)")
    run_p.add_argument(
        "--split", default="train", help="train | heldout | heldout_object | heldout_phrasing"
    )
    run_p.add_argument("--workers", type=int, default=1, help="worker processes")
    add_image_size(run_p, default=(128, 128))
    run_p.add_argument("--video-dir", type=Path, default=None, help="write MP4s here")
    run_p.add_argument(
        "--videos-per-task",
        type=int,
        default=1,
        help="episodes per family recorded to video (default 1)",
    )
    run_p.add_argument("--json", type=Path, default=None, help="write the JSON summary here")
    run_p.add_argument("--no-progress", action="store_true", help="no progress bar")
    run_p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.env import BACKENDS
    from sim.report import format_table, summarize, video_name
    from sim.tasks import SPLITS, SUITES
    from vla.rollout.jobs import consecutive_seed
    from vla.rollout.suite_run import POLICIES, EpisodeJob, run_episodes
    from vla.rollout.video import write_video

    if args.suite not in SUITES:
        return _fail(f"unknown suite {args.suite!r}; valid suites: {sorted(SUITES)}")
    families = args.task or list(SUITES[args.suite])
    unknown = [f for f in families if f not in SUITES[args.suite]]
    if unknown:
        return _fail(f"unknown task(s) {unknown}; valid tasks: {list(SUITES[args.suite])}")
    if args.backend not in BACKENDS:
        return _fail(f"unknown backend {args.backend!r}; valid backends: {list(BACKENDS)}")
    if args.policy not in POLICIES:
        return _fail(f"unknown policy {args.policy!r}; valid policies: {list(POLICIES)}")
    if args.split not in SPLITS:
        return _fail(f"unknown split {args.split!r}; valid splits: {list(SPLITS)}")
    if args.episodes < 1 or args.workers < 1:
        return _fail("--episodes and --workers must be >= 1")

    # The scripted expert reads privileged state: render only the episodes that become videos.
    needs_images = args.policy != "expert"
    jobs = []
    for family in families:
        for i in range(args.episodes):
            video = args.video_dir is not None and i < args.videos_per_task
            jobs.append(EpisodeJob(family, consecutive_seed(args.seed, i), backend=args.backend,
                                   suite=args.suite, split=args.split,
                                   image_size=tuple(args.image_size),
                                   render=needs_images or video, record=video))  # fmt: skip
    t0 = time.perf_counter()
    results = []
    bar = tqdm(total=len(jobs), desc=f"{args.backend} {args.policy}", unit="ep",
               disable=args.no_progress, file=sys.stderr)  # fmt: skip
    for result in run_episodes(jobs, POLICIES[args.policy], workers=args.workers):
        if result.frames and args.video_dir is not None:
            name = video_name(result.family, result.seed, result.success)
            write_video(args.video_dir / name, result.frames)
        result.observations, result.frames = [], []  # keep only the outcome in memory
        results.append(result)
        bar.update(1)
        bar.set_postfix(success=f"{sum(r.success for r in results) / len(results):.0%}")
    bar.close()
    seconds = time.perf_counter() - t0
    summary = summarize(results, seed=args.seed, backend=args.backend, suite=args.suite,
                        policy=args.policy, split=args.split, workers=args.workers,
                        episodes_per_task=args.episodes, seconds=round(seconds, 2))  # fmt: skip
    print(format_table(summary))
    print(f"{len(results)} episodes in {seconds:.1f} s ({args.backend}, {args.workers} workers)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")
    if args.video_dir is not None:
        print(f"videos in {args.video_dir}")
    return 0


def _fail(message: str) -> int:
    print(f"vla sim run: error: {message}", file=sys.stderr)
    return 2

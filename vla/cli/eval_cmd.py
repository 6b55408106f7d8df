"""`vla eval`: success rates of a checkpoint (or the scripted expert) in simulation.

    vla eval --checkpoint PATH|expert --suite pick_place --backend mujoco \\
        --episodes-per-task 50 --seed 0 --split both --workers 4 \\
        --video-dir eval_out/videos --json eval_out/eval.json

Prints a table (success, Wilson 95% interval, episodes, mean length per task family and
split; for suites with difficulty groups also per group and the mean over groups), writes the
JSON report (schema: ``vla/eval/report.py``), a bar chart PNG and a few videos of successes and
failures per task family (scene | wrist).

Robustness (issue #33): ``--perturb NAME[=VALUE] ...`` (or ``--perturb all``) also runs each
perturbation on the baseline's episode seeds and reports the paired change with an exact
McNemar p (table, JSON "perturbations", a second PNG <json stem>_perturbations.png):

    vla eval --checkpoint PATH --episodes-per-task 5 --perturb all --workers 2 \
        --json eval_out/perturb.json
    vla eval --checkpoint PATH --perturb camera_shift=0.02 camera_shift=0.05 latency paraphrase

Meta-World MT50 (``--suite mt50``, needs the metaworld extra) with the published protocol
(configs/eval/mt50.yaml): 10 episodes per task, 500-step horizon (the suite's default), object
and goal placement seeded per episode from --seed:

    vla eval --checkpoint PATH --suite mt50 --episodes-per-task 10 --seed 0 --workers 16 \
        --json eval_out/mt50.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vla.cli.common import add_device, add_image_size

#: sim.perturb.PERTURBATIONS with default values (a test keeps the two in step; importing
#: sim.perturb here would load gymnasium for every `vla` command)
PERTURB_NAMES = (
    "camera_shift=0.05 (m), camera_rotate=5 (deg), lighting=0.5 (x), light_color=0.4, color=1, "
    "texture=checker|noise|stripes, distractors=3, drop_wrist, drop_scene, state_noise=0.01, "
    "latency=1 (steps), paraphrase"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint (or the scripted expert) in simulation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, or 'expert'")
    p.add_argument("--suite", default="pick_place")
    p.add_argument("--task", action="append", dest="tasks", metavar="FAMILY",
                   help="evaluate only this task family (repeatable; default: all)")  # fmt: skip
    p.add_argument("--backend", choices=("mujoco", "pybullet"), default="mujoco")
    p.add_argument("--episodes-per-task", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=("train", "heldout", "both"), default="train")
    p.add_argument("--workers", type=int, default=1, help="worker processes (0: in-process)")
    p.add_argument("--video-dir", type=Path, help="write success/failure videos here")
    p.add_argument("--videos-per-outcome", type=int, default=2,
                   help="videos of successes and of failures per task family and split")  # fmt: skip
    p.add_argument("--json", type=Path, help="write the JSON report here")
    p.add_argument("--chart", type=Path,
                   help="bar chart PNG (default: next to --json, else in --video-dir)")  # fmt: skip
    add_device(p, help_text="torch device of the policy in each worker")
    add_image_size(p, help_text="render size (default: the checkpoint's)")
    p.add_argument("--max-steps", type=int, help="episode step limit (default: the task's)")
    p.add_argument(
        "--execution-horizon",
        type=int,
        help="actions executed per predicted chunk (default: the checkpoint's)",
    )
    p.add_argument(
        "--temporal-ensemble",
        action="store_true",
        help="re-plan every step and average overlapping chunks (ACT)",
    )
    p.add_argument(
        "--text-cache",
        help="MiniLM instruction states (`vla text-cache --eval-episodes N --eval-seed S`), "
        "for a machine without the MiniLM package",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")  # fmt: skip
    p.add_argument(
        "--perturb", nargs="+", metavar="NAME[=VALUE]",
        help="also run these perturbations on the same seeds (sim/perturb.py): " + PERTURB_NAMES
        + "; 'all': every one at its default",
    )  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.eval.report import build_report, format_table, plot_success_chart
    from vla.eval.runner import EvalConfig, evaluate, resolve_image_size, run_info
    from vla.rollout.jobs import BOTH_SPLITS

    splits = BOTH_SPLITS if args.split == "both" else (args.split,)
    try:
        perturbations = ()
        if args.perturb:
            from sim.perturb import parse_perturbations

            perturbations = parse_perturbations(args.perturb)
        cfg = EvalConfig(
            checkpoint=str(args.checkpoint), suite=args.suite,
            families=tuple(args.tasks) if args.tasks else None, backend=args.backend,
            episodes_per_task=args.episodes_per_task, seed=args.seed, splits=splits,
            workers=args.workers, video_dir=args.video_dir,
            videos_per_outcome=args.videos_per_outcome, device=args.device,
            image_size=args.image_size, max_steps=args.max_steps, progress=not args.no_progress,
            execution_horizon=args.execution_horizon, temporal_ensemble=args.temporal_ensemble,
            text_cache=args.text_cache, perturbations=perturbations,
        )  # fmt: skip
        image_size = resolve_image_size(cfg)
        results, timing = evaluate(cfg)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        # bad input (mismatched checkpoint/environment, missing statistics, unknown task...):
        # the message names both sides and the fix; no traceback
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"vla eval: {message}", file=sys.stderr)
        return 2
    from vla.eval.sim_adapter import suite_groups

    baseline = [r for r in results if r.perturbation is None]
    report = build_report(baseline, run_info=run_info(cfg, image_size), timing=timing,
                          groups=suite_groups(cfg.suite))  # fmt: skip
    report["videos"] = sorted(r.video for r in baseline if r.video)
    chart = args.chart
    if chart is None and args.json is not None:
        chart = args.json.with_suffix(".png")
    elif chart is None and args.video_dir is not None:
        chart = args.video_dir / "success_rates.png"
    if chart is not None:
        report["chart"] = str(plot_success_chart(report, chart))
    print(format_table(report))
    if cfg.perturbations:
        _add_perturbations(report, results, cfg, chart)
    print(f"{len(results)} episodes in {timing['wall_s']:.1f} s with {cfg.workers} worker(s)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"report: {args.json}" + (f", chart: {chart}" if chart else "")
              + (f", perturbation chart: {report['perturbation_chart']}"
                 if "perturbation_chart" in report else ""))  # fmt: skip
    return 0


def _add_perturbations(report: dict, results: list, cfg, chart: Path | None) -> None:
    """The paired perturbation section, its table (printed) and its chart (beside ``chart``)."""
    from vla.eval.perturb_report import (
        format_perturbation_table,
        perturbation_section,
        plot_perturbation_chart,
    )

    report["perturbations"] = perturbation_section(results, cfg.perturbations)
    report["perturbation_videos"] = sorted(r.video for r in results
                                           if r.video and r.perturbation)  # fmt: skip
    print()
    print(format_perturbation_table(report["perturbations"]))
    if chart is not None:
        path = chart.with_name(f"{chart.stem}_perturbations.png")
        report["perturbation_chart"] = str(plot_perturbation_chart(report, path))

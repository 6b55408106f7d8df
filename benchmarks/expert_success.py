"""Scripted-expert success per task family and engine over seeded episodes (issue target:
>= 95% of 100 episodes per family in each engine). Episode i uses seed S + i.

    python benchmarks/expert_success.py [--backends mujoco pybullet] [--episodes 100]
                                        [--seed 0] [--workers 2] [--action-noise 0.5] [--json OUT]
                                        [--randomize 1.0]

--action-noise executes perturbed actions (vla.rollout.episode.perturb), as `vla data generate
--action-noise` does: the share of attempts a generation run keeps. --randomize draws a scene
variation per episode (sim/variation.py), as `vla data generate --randomize` does; without
cameras only its physical part (friction, mass, distractors) can matter to the expert, which
reads privileged state.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv: list[str] | None = None) -> int:
    from sim.report import format_table, summarize
    from sim.tasks import SUITES
    from vla.rollout.suite_run import expert_policy, run_episodes, seeded_jobs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["mujoco", "pybullet"])
    parser.add_argument("--suite", default="pick_place")
    parser.add_argument("--episodes", type=int, default=100, help="per family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--action-noise", type=float, default=0.0)
    parser.add_argument("--randomize", type=float, default=0.0, help="scene variation strength")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    families = list(SUITES[args.suite])
    out = {}
    for backend in args.backends:
        t0 = time.perf_counter()
        # the expert reads privileged state: no cameras needed to measure its success
        jobs = seeded_jobs(families, args.episodes, args.seed, backend=backend, suite=args.suite,
                           split=args.split, render=False,
                           action_noise=args.action_noise, randomize=args.randomize)  # fmt: skip
        results = list(run_episodes(jobs, expert_policy, workers=args.workers))
        seconds = time.perf_counter() - t0
        summary = summarize(results, backend=backend, seed=args.seed, split=args.split,
                            episodes_per_task=args.episodes, seconds=round(seconds, 1),
                            action_noise=args.action_noise, randomize=args.randomize)  # fmt: skip
        print(f"== {backend} ({args.episodes} episodes/family, seeds {args.seed}.."
              f"{args.seed + args.episodes - 1}, {seconds:.0f} s)")  # fmt: skip
        print(format_table(summary), flush=True)
        out[backend] = summary
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

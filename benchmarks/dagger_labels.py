"""DAgger generation with a trained learner: cost, who drove, and whether the expert's labels
at the learner's states are good ones.

    MUJOCO_GL=egl .venv/bin/python benchmarks/dagger_labels.py \\
        --learner checkpoints/pick_place_v7 --per-family 8 --expert-prob 0.5 --seed 5 \\
        --workers 2 --json benchmarks/results/dagger_labels.json

1. ``vla.data.generate.generate`` with the learner (the real `vla data generate --learner`
   path) into a temporary dataset: wall time per attempt, the fraction of control steps the
   learner drove, successes and kept failures per family.
2. Label quality. Each attempt is run again in this process (same seed, same blocks; it must
   reproduce the dataset's labels, which is checked and reported), keeping the executed actions.
   At every step where a stretch of learner control ended and the expert was about to drive,
   ``sim.dagger.take_over`` replays the episode to that state and lets the expert drive for the
   rest of the episode: does it complete the task? Once with the expert resynced (what the
   labels come from) and once with its stale bookkeeping (``resync`` off), from the same states.
   A label is only as good as the expert's behaviour from that state: states from which the
   expert cannot finish are states whose labels teach nothing useful.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def rerun_attempts(spec, jobs):
    """Per attempt: the DaggerDriver's log after an in-process rerun, and the labels."""
    import sim
    from sim.experts import make_expert
    from vla.data.learner import dagger_rollout

    envs, runs = {}, []
    for job in jobs:
        env = envs.get(job.family)
        if env is None:
            env = envs[job.family] = sim.make(job.family, job.backend, suite=job.suite,
                                              seed=job.base_seed, image_size=job.image_size,
                                              split=job.split)  # fmt: skip
        result, driver = dagger_rollout(env, make_expert(env), spec, job.seed)
        runs.append({"labels": np.stack(result.actions), "success": result.success,
                     "executed": list(driver.executed),
                     "drove": list(driver.learner_drove_at)})  # fmt: skip
    return runs


def take_overs(jobs, runs):
    """Per attempt: for each handover step, (t0, success with resync, success without, expert
    steps until the episode ended with resync, without)."""
    import sim
    from sim.dagger import handover_steps, take_over
    from sim.experts import make_expert

    envs, out = {}, []
    for job, run in zip(jobs, runs, strict=True):
        env = envs.get(job.family)
        if env is None:  # no rendering: the expert reads physics, replays are cheap
            env = envs[job.family] = sim.make(job.family, job.backend, suite=job.suite,
                                              seed=job.base_seed, image_size=job.image_size,
                                              split=job.split, render=False)  # fmt: skip
        rows = []
        for t0 in handover_steps(run["drove"]):
            (ok, n), (ok_stale, n_stale) = [
                take_over(env, make_expert(env), job.seed, run["executed"], run["drove"], t0, r)
                for r in (True, False)
            ]
            rows.append((t0, ok, ok_stale, n, n_stale))
        out.append(rows)
    return out


def main() -> None:
    from vla.constants import SHIPPED_CHECKPOINT

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--learner", default=str(SHIPPED_CHECKPOINT))
    p.add_argument("--per-family", type=int, default=8, help="attempts per task family")
    p.add_argument("--expert-prob", type=float, default=0.5)
    p.add_argument("--block", type=int, default=4)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    import torch

    from vla.data import LeRobotDatasetReader
    from vla.data.generate import RECORD, GenerateConfig, generate, make_jobs, sim_families
    from vla.data.learner import LearnerSpec
    from vla.policy.checkpoint import PolicyMeta

    torch.set_num_threads(1)  # as in the workers: the rerun reproduces their numerics
    spec = LearnerSpec(args.learner, args.expert_prob, args.block)
    size = tuple(PolicyMeta.read(Path(args.learner)).image_size)
    fams = sim_families("pick_place")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = GenerateConfig(out=Path(tmp) / "ds", episodes=args.per_family * len(fams),
                             workers=args.workers, seed=args.seed, image_size=size,
                             learner=spec, progress=False)  # fmt: skip
        summary = generate(cfg)
        record = json.loads((cfg.out / RECORD).read_text())
        reader = LeRobotDatasetReader(cfg.out)
        saved = sorted(record["successes"] + record["kept_failures"])
        dataset_labels = {i: reader.episode_arrays(e)["action"] for e, i in enumerate(saved)}
    jobs = make_jobs(cfg, fams, 0)
    t0 = time.perf_counter()
    runs = rerun_attempts(spec, jobs)
    rerun_s = time.perf_counter() - t0
    same = sum(i in dataset_labels and np.array_equal(dataset_labels[i], r["labels"])
               for i, r in enumerate(runs))  # fmt: skip
    t0 = time.perf_counter()
    handovers = take_overs(jobs, runs)
    takeover_s = time.perf_counter() - t0

    per_family = {}
    for fam in fams:
        idx = [i for i, j in enumerate(jobs) if j.family == fam]
        rows = [row for i in idx for row in handovers[i]]
        steps = sum(len(runs[i]["drove"]) for i in idx)
        per_family[fam] = {
            "attempts": len(idx),
            "successes": sum(i in record["successes"] for i in idx),
            "kept_failures": sum(i in record["kept_failures"] for i in idx),
            "learner_step_fraction": sum(sum(runs[i]["drove"]) for i in idx) / steps,
            "handovers": len(rows),
            "expert_completes_resync": sum(r[1] for r in rows),
            "expert_completes_no_resync": sum(r[2] for r in rows),
            # steps the expert drove from the handover to the episode's end (success or limit)
            "expert_steps_resync": float(np.mean([r[3] for r in rows])) if rows else None,
            "expert_steps_no_resync": float(np.mean([r[4] for r in rows])) if rows else None,
        }
    n = summary["new_attempts"]
    report = {
        "learner": args.learner, "expert_prob": args.expert_prob, "block": args.block,
        "seed": args.seed, "workers": args.workers, "image_size": list(size),
        "attempts": n, "wall_s": summary["seconds"], "wall_s_per_attempt": summary["seconds"] / n,
        "worker_rollout_s_per_attempt": summary["time_split"]["rollout_s"] / n,
        "learner_step_fraction": summary["learner_step_fraction"],
        "successes": summary["succeeded"], "kept_failures": summary["kept_failures"],
        "episodes_in_dataset": summary["episodes_in_dataset"],
        "rerun_reproduces_dataset": f"{same}/{len(runs)}", "rerun_s": rerun_s,
        "takeover_s": takeover_s, "per_family": per_family,
    }  # fmt: skip
    print(f"DAgger with {args.learner}: expert_prob {args.expert_prob}, block {args.block}, "
          f"seed {args.seed}, {args.workers} workers")  # fmt: skip
    print(f"{n} attempts in {summary['seconds']:.0f} s: {report['wall_s_per_attempt']:.1f} s per "
          f"attempt (wall), {report['worker_rollout_s_per_attempt']:.1f} s simulate + learner in "
          f"a worker; learner drove {summary['learner_step_fraction']:.1%} of the steps; rerun "
          f"reproduces {same}/{len(runs)} episodes' labels")  # fmt: skip
    print(f"{'family':8s} {'success':>8s} {'kept':>5s} {'learner':>8s} {'handovers':>9s} "
          f"{'expert ok':>10s} {'no resync':>10s} {'steps':>6s} {'stale':>6s}")  # fmt: skip
    for fam, row in per_family.items():
        h = max(1, row["handovers"])
        print(f"{fam:8s} {row['successes']:>4d}/{row['attempts']:<3d} {row['kept_failures']:>5d} "
              f"{row['learner_step_fraction']:>8.1%} {row['handovers']:>9d} "
              f"{row['expert_completes_resync'] / h:>10.1%} "
              f"{row['expert_completes_no_resync'] / h:>10.1%} "
              f"{row['expert_steps_resync'] or 0:>6.1f} "
              f"{row['expert_steps_no_resync'] or 0:>6.1f}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""`vla text-cache`: precompute frozen-MiniLM instruction embeddings into a safetensors file.

    vla text-cache --dataset DIR [--dataset DIR2] [--instruction "put ..."] --out FILE
    vla text-cache --plan-episodes N --plan-seed S [--suite pick_place --split train] --out FILE
    vla text-cache --eval-episodes N --eval-seed S [--eval-seed S2] [--suite pick_place] --out FILE

`--plan-*` covers the instructions `vla data generate` with the same suite/split/seed/episodes
will produce (episode sampling is physics-free and seeded), so a dataset generated on a machine
without MiniLM can be trained there from a cache made here beforehand. Meta-World MT50 has one
fixed instruction per task: `--suite mt50 --plan-episodes 50` (or more) covers all 50.

`--int8` stores the states as int8 with one absmax scale per token: half the bytes to copy to
the training machine (benchmarks/RESULTS.md, "Data", measures what it changes).

Run it where the MiniLM package is installed; pass FILE to `vla train --text-cache FILE` (or
Policy.from_pretrained(..., text_cache=FILE)) on machines without it.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "text-cache",
        help="precompute MiniLM instruction embeddings for training without the package",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", action="append", default=[], help="LeRobot v3 dataset folder")
    p.add_argument("--instruction", action="append", default=[], help="an extra instruction")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument(
        "--plan-episodes",
        type=int,
        default=0,
        help="add the instructions of a `vla data generate` plan of N attempts",
    )
    p.add_argument("--plan-seed", type=int, action="append", default=[],
                   help="seed of that plan (repeatable, e.g. the training and validation "
                   "seeds; default: 0)")  # fmt: skip
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=0,
        help="add the instructions `vla eval --episodes-per-task N --seed S --split both` "
        "meets (both splits)",
    )
    p.add_argument("--eval-seed", type=int, action="append", default=[],
                   help="--seed of that evaluation (repeatable; default: 0)")  # fmt: skip
    p.add_argument("--suite", default="pick_place", help="suite of that plan")
    p.add_argument(
        "--split", action="append", default=[], help="split(s) of that plan (default: train)"
    )
    p.add_argument("--int8", action="store_true",
                   help="store the states as int8 with one scale per token (half the size)")  # fmt: skip
    p.add_argument("--device", default="cpu",
                   help="torch device MiniLM runs on: cpu (default), cuda[:N] or auto; "
                   "--with-rewrites plans hold ~60,000 instructions: minutes on a CPU, "
                   "seconds on a GPU")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--with-rewrites", action="store_true",
                   help="also every rewrite `vla train --instruction_aug` can draw for these "
                   "instructions (vla/train/instruction_aug.py; ~35 per instruction)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.data.reader import LeRobotDatasetReader
    from vla.model.text import precompute_instruction_embeddings

    instructions = set(args.instruction)
    for root in args.dataset:
        instructions.update(LeRobotDatasetReader(root).tasks)
    if args.plan_episodes:
        for seed in args.plan_seed or [0]:
            instructions.update(
                plan_instructions(args.suite, args.split or ["train"], args.plan_episodes, seed)
            )
    if args.eval_episodes:
        for seed in args.eval_seed or [0]:
            instructions.update(eval_instructions(args.suite, args.eval_episodes, seed))
    if not instructions:
        raise ValueError(  # a usage error: one line, exit code 2 (vla.cli.main)
            "no instructions: pass --dataset DIR, --instruction TEXT, --plan-episodes N or "
            "--eval-episodes N"
        )
    if args.with_rewrites:
        from vla.train.instruction_aug import with_variants

        instructions = set(with_variants(sorted(instructions), 1.0))
    from vla.rollout.learner import resolve_device

    device = resolve_device(args.device, "--device")
    path = precompute_instruction_embeddings(sorted(instructions), args.out, device=device,
                                             int8=args.int8, progress=not args.no_progress)  # fmt: skip
    print(f"wrote {len(instructions)} instruction embeddings to {path}")
    return 0


def episode_instruction(suite: str, family: str, split: str, seed: int) -> str:
    """The instruction of the episode ``reset(seed)`` samples (physics-free); Meta-World tasks
    have one fixed instruction each."""
    import numpy as np

    from sim.tasks import MetaWorldTask, get_task

    task = get_task(suite, family)
    if isinstance(task, MetaWorldTask):
        return task.instruction
    return task.sample_episode(np.random.default_rng(seed), split).instruction


def plan_instructions(suite: str, splits: list[str], episodes: int, seed: int) -> set[str]:
    """Instructions of the attempts `vla data generate` makes for (suite, split, seed, N)."""
    from vla.rollout.generate import GenerateConfig, make_jobs, sim_families

    out: set[str] = set()
    families = sim_families(suite)
    for split in splits:
        cfg = GenerateConfig(
            suite=suite, backend="mujoco", episodes=episodes, seed=seed, split=split, out="unused"
        )
        out.update(episode_instruction(suite, job.family, split, job.seed)
                   for job in make_jobs(cfg, families, 0))  # fmt: skip
    return out


def eval_instructions(suite: str, episodes_per_task: int, seed: int) -> set[str]:
    """Instructions of the episodes `vla eval --suite SUITE --episodes-per-task N --seed S
    --split both` runs (its per-episode seeds, sampled without physics), so an evaluation can
    run on a machine without MiniLM (`vla eval --text-cache FILE`)."""
    from vla.eval.sim_adapter import suite_families
    from vla.rollout.jobs import BOTH_SPLITS, eval_seed

    return {
        episode_instruction(suite, family, split, eval_seed(seed, split, family, e))
        for split in BOTH_SPLITS
        for family in suite_families(suite)
        for e in range(episodes_per_task)
    }

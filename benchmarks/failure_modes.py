"""Why a checkpoint fails: each pick_place episode classified by what it ended up moving
(sim.tasks.pick_place.episode_outcome): success, wrong_object (acted on something the
instruction did not name), target_moved (the right object, but the goal not reached),
nothing_moved. Same per-episode seeds as `vla eval --seed S`, so the episodes match its report.

    python benchmarks/failure_modes.py --checkpoint checkpoints/pick_place_v3 --episodes 12 \
        --seed 0 --split train --workers 2 --json out/failure_modes.json

Prints a family x outcome table and writes the per-episode log as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_POLICY = {}


def _init(checkpoint: str, execution_horizon: int | None, max_steps: int | None) -> None:
    import torch

    from vla.policy import Policy

    torch.set_num_threads(1)
    _POLICY["p"] = Policy.from_pretrained(checkpoint, execution_horizon=execution_horizon)
    _POLICY["envs"] = {}
    _POLICY["max_steps"] = max_steps


def _run(job: tuple[str, str, str, int, int]) -> dict:
    import sim
    from sim.rollout import run_episode
    from sim.tasks.pick_place import episode_outcome

    family, split, backend, episode, seed = job
    env = _POLICY["envs"].get((family, split, backend))
    if env is None:
        env = sim.make(family, backend, split=split, max_steps=_POLICY["max_steps"],
                       image_size=tuple(_POLICY["p"].meta.image_size))  # fmt: skip
        _POLICY["envs"][(family, split, backend)] = env
    res = run_episode(env, _POLICY["p"], seed, record=False)
    u = env.unwrapped
    outcome, moved = episode_outcome(u.physics, u.episode, res.success)
    return {"family": family, "split": split, "episode": episode, "seed": seed,
            "instruction": res.instruction, "success": res.success, "length": res.length,
            "outcome": outcome, "target": u.episode.target,
            "moved_m": {k: round(v, 4) for k, v in moved.items()}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from sim.tasks import SUITES
    from sim.tasks.pick_place import OUTCOMES
    from vla.eval.runner import episode_seed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--episodes", type=int, default=12, help="per family")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=("train", "heldout"), default="train")
    ap.add_argument("--backend", default="mujoco")
    ap.add_argument("--execution-horizon", type=int, default=None)
    ap.add_argument("--max-steps", type=int, default=None, help="default: the task's")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    families = list(SUITES["pick_place"])
    jobs = [(f, args.split, args.backend, e, episode_seed(args.seed, args.split, f, e))
            for f in families for e in range(args.episodes)]  # fmt: skip
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_init,
                             initargs=(args.checkpoint, args.execution_horizon, args.max_steps)) as pool:  # fmt: skip
        log = list(pool.map(_run, jobs))
    wall = time.perf_counter() - t0
    counts = {f: {o: 0 for o in OUTCOMES} for f in families}
    for r in log:
        counts[r["family"]][r["outcome"]] += 1
    print(f"{args.checkpoint}, {args.backend}, split {args.split}, seed {args.seed}, "
          f"{args.episodes} episodes/family ({wall:.0f} s, {args.workers} workers)")  # fmt: skip
    print(f"{'family':8s}" + "".join(f"{o:>15s}" for o in OUTCOMES))
    for f in [*families, "all"]:
        row = counts[f] if f != "all" else {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
        print(f"{f:8s}" + "".join(f"{row[o]:>15d}" for o in OUTCOMES))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"checkpoint": args.checkpoint, "backend": args.backend,
                                         "split": args.split, "seed": args.seed,
                                         "episodes_per_family": args.episodes, "counts": counts,
                                         "wall_s": wall, "episodes": log}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

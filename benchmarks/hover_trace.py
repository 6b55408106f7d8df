"""What does a policy do where the scripted expert would lower the held object? Re-run one seeded
pick_place episode under a checkpoint and, at every control step, put the policy's executed
action beside the label the expert gives at that same state (``resync`` first, as DAgger
labels), with the expert's phase and where the TCP is relative to its drop point.

    python benchmarks/hover_trace.py --checkpoint checkpoints/pick_place_v7 --task stack \
        --split train --seed 1575755012 [--execution-horizon 2] [--json OUT]

The summary counts ``hover`` steps: the TCP within 2 cm of the drop point in xy and more than
5 cm above it (carry height) while the policy commands no descent (dz > -2 mm). The expert
lowers from such states (sim.experts.LOWER_XY); a policy that sits there to the step limit is
the "hover" failure of benchmarks/RESULTS.md. Only the carry families (place, stack) have a
drop point.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

NEAR_XY, ABOVE_Z, NO_DESCENT = 0.02, 0.05, -0.002


def trace_episode(policy, env, seed: int) -> tuple[list[dict], bool]:
    """One episode under ``policy``: (a row per control step, policy action vs expert label;
    whether it succeeded)."""
    from sim.experts import make_expert
    from vla.eval import sim_adapter

    expert = make_expert(env)
    rows: list[dict] = []

    class Traced:  # drives with the policy, asks the expert what it would do at each state
        def reset(self):
            policy.reset()
            expert.reset()

        def select_action(self, obs):
            action = np.asarray(policy.select_action(obs), dtype=np.float32)
            expert.resync()
            label = np.asarray(expert.select_action(obs), dtype=np.float32)
            tcp, _ = expert.physics.ee_pose()
            drop, _ = expert.drop_point()
            rows.append({
                "step": len(rows), "phase": expert.phase,
                "xy_cm": round(100 * float(np.linalg.norm(drop[:2] - tcp[:2])), 2),
                "dz_cm": round(100 * float(tcp[2] - drop[2]), 2),
                "policy": [round(float(x), 4) for x in action[[0, 1, 2, 6]]],
                "expert": [round(float(x), 4) for x in label[[0, 1, 2, 6]]],
            })  # fmt: skip
            return action

    result = sim_adapter.run_episode(env, Traced(), seed, record=False)
    return rows, bool(result.success)


def hover_steps(rows: list[dict]) -> int:
    """Steps near the drop point at carry height where the policy does not descend."""
    return sum(r["xy_cm"] < 100 * NEAR_XY and r["dz_cm"] > 100 * ABOVE_Z
               and r["policy"][2] > NO_DESCENT for r in rows)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from vla.eval import sim_adapter
    from vla.policy import Policy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--task", default="stack", choices=["place", "stack"])
    parser.add_argument("--split", default="train", choices=["train", "heldout"])
    parser.add_argument("--seed", type=int, nargs="+", required=True)
    parser.add_argument("--execution-horizon", type=int, default=2)
    parser.add_argument("--image-size", type=int, nargs=2, default=None, help="default: suite's")
    parser.add_argument("--max-steps", type=int, default=None, help="default: the family's")
    parser.add_argument("--every", type=int, default=3, help="print every N-th step")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    policy = Policy.from_pretrained(Path(args.checkpoint),
                                    execution_horizon=args.execution_horizon)  # fmt: skip
    out = []
    for seed in args.seed:
        env = sim_adapter.make_env("pick_place", args.task, "mujoco", args.split, seed,
                                   tuple(args.image_size or sim_adapter.default_image_size()),
                                   args.max_steps)  # fmt: skip
        rows, success = trace_episode(policy, env, seed)
        env.close()
        hover = hover_steps(rows)
        print(f"== {args.task}/{args.split} seed {seed}: success={success} "
              f"length {len(rows)}, hover steps {hover}")  # fmt: skip
        print("step phase     xy cm  dz cm   policy dx dy dz grip       expert dx dy dz grip")
        for r in rows:
            if r["step"] % args.every == 0 or r["step"] >= len(rows) - 5:
                print(f"{r['step']:4d} {r['phase']:<8} {r['xy_cm']:6.1f} {r['dz_cm']:6.1f}   "
                      f"{np.round(r['policy'], 3)}   {np.round(r['expert'], 3)}")  # fmt: skip
        out.append({"seed": seed, "success": success, "hover_steps": hover, "rows": rows})
    if args.json:
        report = {"checkpoint": args.checkpoint, "task": args.task, "split": args.split,
                  "episodes": out}  # fmt: skip
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Why does a policy keep holding the cube? Re-run the episodes of a `vla eval` report that ended
in a given outcome (default ``not_released``: the target still between both fingers at the step
limit) and record, at every re-plan, the policy's probability that the gripper should be closed
for the action it executes next, plus where the target ends relative to its goal.

    python benchmarks/release_probe.py --checkpoint checkpoints/pick_place_v7 \
        --report benchmarks/results/v7_attempt/eval_v6_place_stack_outcomes_seed0.json \
        --json out/release_probe.json

P(closed) is the softmax mass of the gripper token on the closing half of the bins (the binary
gripper closes at bins >= n_bins / 2, as decoding does). Each episode is placed in a 2 x 2 table:

- where the target ends: ``over_goal`` (within two cube half-widths of the goal in xy, i.e.
  the arm got there) or ``away``;
- ``sure_closed``: mean P(closed) over the last 20 re-plans >= 0.9, i.e. the policy did not
  consider letting go; otherwise it was at least partly deciding to open.

Over the goal and sure closed means the policy believes it has not arrived (e.g. it hovers too
high); away means it never got there, which no change to the release decision can fix.

Only binning checkpoints (one token per action dimension) with a binary gripper are supported.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SURE_CLOSED = 0.9
LAST_REPLANS = 20


def gripper_closed_probability(logits, tokenizer, chunk_size: int):
    """Logits (1, T, >=V) of a parallel binning model -> P(closed) (H,) for each chunk step."""
    import torch

    cfg = tokenizer.config
    if not getattr(cfg, "gripper_binary", False):
        raise ValueError("the release probe needs a binning tokenizer with a binary gripper")
    n, d = cfg.n_bins, tokenizer.action_dim
    probs = torch.softmax(logits[0, : chunk_size * d, :n].float(), dim=-1)  # (H*D, n)
    grip = probs.reshape(chunk_size, d, n)[:, cfg.gripper_index % d]  # (H, n)
    return grip[:, n // 2 :].sum(-1).cpu().numpy()


def record_p_closed(policy) -> list[float]:
    """Make ``policy`` record, for every chunk it plans, P(closed) of the chunk's first action
    (the one executed next); returns the list it appends to (clear it between episodes). It
    reads the logits of the policy's own forward pass, so the episode is the one it runs and
    no forward runs twice."""
    record: list[float] = []
    forward = policy.model.forward

    def recording_forward(*args, **kwargs):
        out = forward(*args, **kwargs)
        p = gripper_closed_probability(out["logits"], policy.tokenizer, policy.meta.chunk_size)
        record.append(float(p[0]))
        return out

    policy.model.forward = recording_forward
    return record


def main(argv: list[str] | None = None) -> int:
    from sim.tasks import objects as ob
    from vla.eval import sim_adapter
    from vla.policy import Policy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--report", type=Path, required=True, help="a `vla eval --json` report")
    ap.add_argument("--outcome", default="not_released", help="which failures to re-run")
    ap.add_argument("--max-episodes", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    report = json.loads(args.report.read_text())
    if report.get("suite") != "pick_place":
        raise SystemExit(
            f"{args.report}: the probe needs a pick_place report, got {report.get('suite')}"
        )
    picked = [e for e in report["episode_log"] if e.get("outcome") == args.outcome]
    if args.max_episodes is not None:
        picked = picked[: args.max_episodes]
    if not picked:
        raise SystemExit(f"{args.report} has no {args.outcome!r} episodes to re-run")
    policy = Policy.from_pretrained(  # run as the report's evaluation ran
        Path(args.checkpoint), execution_horizon=report.get("execution_horizon"),
        temporal_ensemble=bool(report.get("temporal_ensemble")),
        readout_window=int(report.get("readout_window") or 0),
    )  # fmt: skip
    p_closed = record_p_closed(policy)
    size = tuple(report.get("image_size") or sim_adapter.default_image_size())
    rows, t0 = [], time.time()
    for i, e in enumerate(picked):
        env = sim_adapter.make_env("pick_place", e["task"], report["backend"], e["split"],
                                   e["seed"], size, report.get("max_steps"))  # fmt: skip
        p_closed.clear()
        res = sim_adapter.run_episode(env, policy, e["seed"], record=False)
        u = env.unwrapped
        outcome = sim_adapter.episode_outcome(env, bool(res.success))
        target = np.asarray(u.physics.object_pose(u.episode.target)[0])
        goal = np.asarray(u.physics.object_pose(u.episode.goal)[0])
        xy_off = float(np.linalg.norm(target[:2] - goal[:2]))
        p = list(p_closed)
        tail_mean = float(np.mean(p[-LAST_REPLANS:])) if p else None
        row = {
            "split": e["split"], "family": e["task"], "seed": e["seed"],
            "instruction": res.instruction, "outcome_rerun": outcome,
            "length": int(res.length), "replans": len(p), "p_closed": [round(x, 4) for x in p],
            "mean_p_closed_last": None if tail_mean is None else round(tail_mean, 4),
            "xy_off_cm": round(100 * xy_off, 1), "dz_cm": round(100 * float(target[2] - goal[2]), 1),
            "where": "over_goal" if xy_off <= 2 * ob.CUBE_HALF else "away",
            "sure_closed": tail_mean is not None and tail_mean >= SURE_CLOSED,
        }  # fmt: skip
        rows.append(row)
        print(f"[{i + 1}/{len(picked)}] {e['split']:>7} {e['task']:<5} rerun={outcome:<12} "
              f"{row['where']:<9} P(closed) last {LAST_REPLANS}: {row['mean_p_closed_last']:.2f}  "
              f"xy {row['xy_off_cm']:5.1f} cm  dz {row['dz_cm']:5.1f} cm", flush=True)  # fmt: skip
        env.close()
    table = {f"{w}/{'sure_closed' if c else 'opening'}":
             sum(r["where"] == w and r["sure_closed"] == c for r in rows)
             for w in ("over_goal", "away") for c in (True, False)}  # fmt: skip
    reproduced = sum(r["outcome_rerun"] == args.outcome for r in rows)
    print(f"\n{len(rows)} {args.outcome} episodes re-run ({reproduced} reproduced): "
          + ", ".join(f"{k} {v}" for k, v in table.items()) + f"  ({time.time() - t0:.0f} s)")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "checkpoint": args.checkpoint, "report": str(args.report), "outcome": args.outcome,
            "episodes": len(rows), "reproduced": reproduced, "table": table,
            "sure_closed": SURE_CLOSED, "last_replans": LAST_REPLANS, "rows": rows,
        }, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Success tables, JSON summaries and video file names of episodes (`vla sim run`, the expert
benchmark); the videos themselves: ``vla.rollout.video``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def summarize(results: Iterable, **meta) -> dict:
    """JSON-ready summary of episode results (objects with .family, .success, .length, .seed,
    .instruction): {"success_rate", "per_task": {family: {...}}, "episodes", **meta,
    "results": [per-episode rows]}."""
    rows = [r.summary() if hasattr(r, "summary") else dict(r) for r in results]
    per_task: dict[str, dict] = {}
    for family in dict.fromkeys(r["family"] for r in rows):
        fam = [r for r in rows if r["family"] == family]
        succ = [r["success"] for r in fam]
        per_task[family] = {
            "success_rate": float(np.mean(succ)),
            "successes": int(np.sum(succ)),
            "episodes": len(fam),
            "mean_length": float(np.mean([r["length"] for r in fam])),
            "failed_seeds": [r["seed"] for r in fam if not r["success"]],
        }
    overall = float(np.mean([r["success"] for r in rows])) if rows else 0.0
    return {"success_rate": overall, "per_task": per_task, "episodes": len(rows), **meta,
            "results": rows}  # fmt: skip


def format_table(summary: dict) -> str:
    """A fixed-width per-family success table (plus the overall row)."""
    lines = [f"{'task':<10} {'success':>8} {'rate':>7} {'mean len':>9}"]
    lines.append("-" * len(lines[0]))
    for family, s in summary["per_task"].items():
        lines.append(f"{family:<10} {s['successes']:>4}/{s['episodes']:<3} "
                     f"{s['success_rate']:>7.1%} {s['mean_length']:>9.1f}")  # fmt: skip
    lines.append("-" * len(lines[0]))
    n = summary["episodes"]
    wins = sum(s["successes"] for s in summary["per_task"].values())
    lines.append(f"{'all':<10} {wins:>4}/{n:<3} {summary['success_rate']:>7.1%}")
    return "\n".join(lines)


def video_name(family: str, seed: int, success: bool) -> str:
    """File name of an episode video: <family>_seed<seed>_<success|fail>.mp4."""
    return f"{family}_seed{seed}_{'success' if success else 'fail'}.mp4"

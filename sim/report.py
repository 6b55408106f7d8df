"""Success tables, JSON summaries and MP4 videos of episodes (shared by `vla sim run` and
`vla eval`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

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


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: float = 10.0,
                scale: int = 2) -> Path:  # fmt: skip
    """Encode uint8 (H, W, 3) frames to an H.264 MP4 (pyav through imageio), each frame
    upscaled `scale` times (nearest) so 128 px images stay legible."""
    import imageio.v3 as iio

    if len(frames) == 0:
        raise ValueError(f"no frames to write to {path}; record the episode with render=True")
    video = np.stack(frames)  # (T, H, W, 3)
    if scale > 1:
        video = video.repeat(scale, axis=1).repeat(scale, axis=2)
    if video.shape[1] % 2 or video.shape[2] % 2:  # H.264 needs even sizes
        video = np.pad(video, ((0, 0), (0, video.shape[1] % 2), (0, video.shape[2] % 2), (0, 0)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, video, plugin="pyav", codec="libx264", fps=fps)
    return path


def video_name(family: str, seed: int, success: bool) -> str:
    """File name of an episode video: <family>_seed<seed>_<success|fail>.mp4."""
    return f"{family}_seed{seed}_{'success' if success else 'fail'}.mp4"

"""Turning episode outcomes into the evaluation report: JSON dict, printed table, bar chart.

JSON written by ``vla eval --json OUT`` (``REPORT_SCHEMA_VERSION`` = 1)::

    {
      "schema_version": 1,
      "checkpoint": "runs/x/checkpoint" | "expert",
      "suite": "pick_place", "backend": "mujoco", "seed": 0,
      "split": "train" | "heldout" | "both",       # what was asked for
      "episodes_per_task": 50,
      "success_rate": 0.93,                         # of the first split evaluated (train if any)
      "ci95": [0.89, 0.95],                         # Wilson 95% interval of success_rate
      "per_task": {...},                            # of the first split, as below
      "episodes": 300,                              # episodes in that split
      "mean_length": 87.2,
      "splits": {                                   # every evaluated split, reported separately
        "train": {
          "success_rate": 0.93, "ci95": [lo, hi], "episodes": 300, "successes": 279,
          "mean_length": 87.2, "mean_task_success": 0.93,   # unweighted mean over families
          "per_task": {
            "<family>": {"success_rate": 0.96, "ci95": [lo, hi], "episodes": 50,
                         "successes": 48, "mean_length": 80.1}
          }
        },
        "heldout": {...}
      },
      "episode_log": [{"task": ..., "split": ..., "seed": ..., "instruction": ..., "success": ...,
                       "length": ..., "duration_s": ..., "video": "path" | null}, ...],
      "timing": {"wall_s": 123.4, "episodes_per_s": 2.4, "workers": 4, "policy_load_s": ...},
      "videos": ["DIR/train_pick_cube_ep003_success.mp4", ...],
      "chart": "DIR/success_rates.png"
    }
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vla.eval.stats import wilson_interval

REPORT_SCHEMA_VERSION = 1
SPLIT_ORDER = ("train", "heldout")


@dataclass(frozen=True)
class EpisodeResult:
    """Outcome of one evaluation episode."""

    task: str  # task family
    split: str
    seed: int
    success: bool
    length: int  # control steps taken
    instruction: str = ""
    duration_s: float = 0.0
    video: str | None = None


def _block(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    n = len(results)
    k = sum(r.success for r in results)
    lo, hi = wilson_interval(k, n)
    return {
        "success_rate": k / n if n else 0.0,
        "ci95": [lo, hi],
        "episodes": n,
        "successes": k,
        "mean_length": sum(r.length for r in results) / n if n else 0.0,
    }


def summarize_split(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """Pooled and per-family success, Wilson intervals and mean lengths for one split."""
    families = sorted({r.task for r in results})
    per_task = {f: _block([r for r in results if r.task == f]) for f in families}
    block = _block(results)
    rates = [v["success_rate"] for v in per_task.values()]
    block["mean_task_success"] = sum(rates) / len(rates) if rates else 0.0
    block["per_task"] = per_task
    return block


def build_report(
    results: Sequence[EpisodeResult], *, run_info: dict[str, Any], timing: dict[str, Any]
) -> dict[str, Any]:
    """The JSON-ready report (schema in the module docstring)."""
    if not results:
        raise ValueError("no episode results to report")
    present = {r.split for r in results}
    splits = {s: summarize_split([r for r in results if r.split == s]) for s in SPLIT_ORDER
              if s in present}  # fmt: skip
    first = next(iter(splits.values()))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        **run_info,
        "success_rate": first["success_rate"],
        "ci95": first["ci95"],
        "per_task": first["per_task"],
        "episodes": first["episodes"],
        "mean_length": first["mean_length"],
        "splits": splits,
        "episode_log": [asdict(r) for r in results],
        "timing": timing,
    }


def format_table(report: dict[str, Any]) -> str:
    """A fixed-width text table: one row per split and task family, plus split totals."""
    header = f"{'split':<8} {'task':<24} {'success':>8} {'95% CI (Wilson)':>17} {'n':>5} {'len':>7}"
    lines = [header, "-" * len(header)]

    def row(split: str, name: str, b: dict[str, Any]) -> str:
        lo, hi = b["ci95"]
        return (
            f"{split:<8} {name:<24} {100 * b['success_rate']:7.1f}% "
            f"{f'[{100 * lo:5.1f}, {100 * hi:5.1f}]':>17} {b['episodes']:>5} "
            f"{b['mean_length']:7.1f}"
        )

    for split, block in report["splits"].items():
        for family, b in block["per_task"].items():
            lines.append(row(split, family, b))
        lines.append(row(split, "ALL", block))
    return "\n".join(lines)


def plot_success_chart(report: dict[str, Any], path: str | Path) -> Path:
    """Bar chart of per-family success with Wilson 95% intervals as error bars (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    splits = report["splits"]
    families = sorted({f for b in splits.values() for f in b["per_task"]})
    x = np.arange(len(families))
    width = 0.8 / max(1, len(splits))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(families) + 2), 4.0))
    for i, (split, block) in enumerate(splits.items()):
        rates, err_lo, err_hi = [], [], []
        for f in families:
            b = block["per_task"].get(f)
            rate, (lo, hi) = (b["success_rate"], b["ci95"]) if b else (np.nan, (np.nan, np.nan))
            rates.append(100 * rate)
            err_lo.append(100 * (rate - lo))
            err_hi.append(100 * (hi - rate))
        pos = x - 0.4 + width * (i + 0.5)
        n = block["episodes"] // max(1, len(block["per_task"]))
        ax.bar(pos, rates, width, yerr=[err_lo, err_hi], capsize=4, label=f"{split} (n={n}/task)")
        for px, rate in zip(pos, rates, strict=True):
            if not np.isnan(rate):
                ax.text(px, 2, f"{rate:.0f}%", ha="center", va="bottom", fontsize=8, color="white")
    ax.set_xticks(x, families, rotation=20, ha="right")
    ax.set_ylim(0, 119)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("success rate (%)")
    ax.set_title(
        f"{Path(str(report.get('checkpoint', ''))).name or 'policy'} | "
        f"{report.get('backend', '')} | error bars: Wilson 95%"
    )
    ax.legend(loc="upper center", ncol=len(splits), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

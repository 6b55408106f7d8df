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
          "outcomes": {"success": 279, "wrong_object": 9, ...},  # pick_place only (see below)
          "per_task": {
            "<family>": {"success_rate": 0.96, "ci95": [lo, hi], "episodes": 50,
                         "successes": 48, "mean_length": 80.1}
          },
          # only for suites with difficulty groups (sim.tasks.TASK_GROUPS, e.g. mt50):
          "per_group": {
            "<group>": {"success_rate": ..., "ci95": [lo, hi], "episodes": ..., "successes": ...,
                        "mean_length": ..., "mean_task_success": 0.82, "tasks": 28}
          },
          "mean_group_success": 0.57                # unweighted mean of the groups'
        },                                          # mean_task_success (SmolVLA's "Avg")
        "heldout": {...}
      },
      "episode_log": [{"task": ..., "split": ..., "seed": ..., "instruction": ..., "success": ...,
                       "length": ..., "duration_s": ..., "video": "path" | null,
                       "outcome": "success" | "wrong_object" | "goal_moved" | "not_released"
                                  | "wrong_goal" | "target_moved" | "nothing_moved" | null}, ...],   # per family in "outcomes"

      "timing": {"wall_s": 123.4, "episodes_per_s": 2.4, "workers": 4, "policy_load_s": ...},
      "videos": ["DIR/train_pick_cube_ep003_success.mp4", ...],
      "chart": "DIR/success_rates.png"
    }
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vla.eval.stats import wilson_interval
from vla.rollout.episode import EpisodeResult
from vla.rollout.jobs import SPLITS

REPORT_SCHEMA_VERSION = 1
SPLIT_ORDER = SPLITS  # the order splits are reported in


def episode_entry(r: EpisodeResult) -> dict[str, Any]:
    """One episode_log entry (``perturbation`` only for a perturbed episode)."""
    entry = {"task": r.family, "split": r.split, "seed": r.seed, "success": r.success,
             "length": r.length, "instruction": r.instruction, "duration_s": r.duration_s,
             "video": r.video, "outcome": r.outcome}  # fmt: skip
    if r.perturbation is not None:
        entry["perturbation"] = r.perturbation
    return entry


def _block(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    n = len(results)
    k = sum(r.success for r in results)
    lo, hi = wilson_interval(k, n)
    block = {
        "success_rate": k / n if n else 0.0,
        "ci95": [lo, hi],
        "episodes": n,
        "successes": k,
        "mean_length": sum(r.length for r in results) / n if n else 0.0,
    }
    outcomes = [r.outcome for r in results if r.outcome is not None]
    if outcomes:
        block["outcomes"] = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    return block


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarize_split(
    results: Sequence[EpisodeResult], groups: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """Pooled and per-family success, Wilson intervals and mean lengths for one split; with
    ``groups`` (group -> families) also per-group blocks and the mean over groups."""
    families = sorted({r.family for r in results})
    per_task = {f: _block([r for r in results if r.family == f]) for f in families}
    block = _block(results)
    block["mean_task_success"] = _mean([v["success_rate"] for v in per_task.values()])
    block["per_task"] = per_task
    if groups:
        per_group = {}
        for group, members in groups.items():
            present = [f for f in members if f in per_task]
            if not present:  # a partial run (--task): report only the groups it touched
                continue
            per_group[group] = _block([r for r in results if r.family in present]) | {
                "mean_task_success": _mean([per_task[f]["success_rate"] for f in present]),
                "tasks": len(present),
            }
        block["per_group"] = per_group
        # SmolVLA's MT50 "Avg" is this: the unweighted mean of the groups' task means
        block["mean_group_success"] = _mean([g["mean_task_success"] for g in per_group.values()])
    return block


def build_report(
    results: Sequence[EpisodeResult],
    *,
    run_info: dict[str, Any],
    timing: dict[str, Any],
    groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The JSON-ready report (schema in the module docstring); ``groups``: the suite's
    difficulty groups (group -> task families), if it has any."""
    if not results:
        raise ValueError("no episode results to report")
    present = {r.split for r in results}
    splits = {s: summarize_split([r for r in results if r.split == s], groups)
              for s in SPLIT_ORDER if s in present}  # fmt: skip
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
        "episode_log": [episode_entry(r) for r in results],
        "timing": timing,
    }


def format_table(report: dict[str, Any]) -> str:
    """A fixed-width text table: one row per split and task family, plus split totals (and,
    for suites with difficulty groups, one row per group and the mean over groups)."""
    names = [f for b in report["splits"].values() for f in b["per_task"]]
    wn = max([24, *map(len, names)])  # MT50 names run to 28 characters
    header = (
        f"{'split':<8} {'task':<{wn}} {'success':>8} {'95% CI (Wilson)':>17} {'n':>5} {'len':>7}"
    )
    lines = [header, "-" * len(header)]

    def row(split: str, name: str, b: dict[str, Any]) -> str:
        lo, hi = b["ci95"]
        return (
            f"{split:<8} {name:<{wn}} {100 * b['success_rate']:7.1f}% "
            f"{f'[{100 * lo:5.1f}, {100 * hi:5.1f}]':>17} {b['episodes']:>5} "
            f"{b['mean_length']:7.1f}"
        )

    for split, block in report["splits"].items():
        for family, b in block["per_task"].items():
            lines.append(row(split, family, b))
        lines.append(row(split, "ALL", block))
        if "outcomes" in block:
            failed = ", ".join(f"{o} {c}" for o, c in block["outcomes"].items() if o != "success")
            lines.append(f"{split:<8} {'failures':<{wn}} {failed or 'none'}")
        for group, b in block.get("per_group", {}).items():
            lines.append(row(split, f"{group} ({b['tasks']} tasks)", b)
                         + f"  task mean {100 * b['mean_task_success']:5.1f}%")  # fmt: skip
        if "mean_group_success" in block:
            lines.append(f"{split:<8} {'mean over groups':<{wn}} "
                         f"{100 * block['mean_group_success']:7.1f}%")  # fmt: skip
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
    n = len(families)  # MT50 has 50: narrower bars, vertical labels
    fig, ax = plt.subplots(figsize=(max(5.0, (1.3 if n <= 12 else 0.4) * n + 2), 4.0))
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
    ax.set_xticks(x, families, rotation=20 if n <= 12 else 90, ha="right" if n <= 12 else "center")
    ax.set_ylim(0, 119)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("success rate (%)")
    ax.set_title(
        f"{Path(str(report.get('checkpoint', ''))).name or 'policy'} | "
        f"{report.get('backend', '')} | error bars: Wilson 95%"
    )
    ax.legend(loc="upper center", ncol=len(splits), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Lay out, write (PNG, 100 dpi, parent folders made) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

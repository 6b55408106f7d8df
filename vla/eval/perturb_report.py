"""`vla eval --perturb`: each perturbation against the unperturbed baseline, paired by seed.

    results (baseline: perturbation None; each perturbation: its label)
        -> pair by (split, family, seed) -> per perturbation x split x family:
           successes, rate, change vs baseline in points, discordant b / c, exact McNemar p,
           retained = perturbed / baseline success
        -> report["perturbations"] (JSON), a table (stdout), a dot plot (PNG)

JSON section (beside the baseline's own report, whose blocks are unchanged)::

    "perturbations": {
      "paired_on": "episode seed", "order": ["camera_shift=0.05", ...],
      "results": {
        "camera_shift=0.05": {
          "name": "camera_shift", "value": 0.05, "kind": "scene" | "wrapper",
          "description": "...",
          "splits": {"train": {<block>, "per_task": {"<family>": <block>}}}
        }
      },
      "episode_log": [{..., "perturbation": "camera_shift=0.05"}, ...]
    }
    block: {"successes", "episodes", "success_rate", "ci95" (Wilson), "baseline_successes",
            "baseline_rate", "change_pts" (100 x (rate - baseline_rate)),
            "b" (baseline succeeded, perturbed failed), "c" (perturbed succeeded, baseline
            failed), "mcnemar_p" (exact, two-sided), "retained" (rate / baseline_rate; null when
            the baseline never succeeded)}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vla.eval.report import SPLIT_ORDER, episode_entry, save_figure
from vla.eval.stats import mcnemar_exact, wilson_interval
from vla.rollout.episode import EpisodeResult

SIGNIFICANT = 0.05  # McNemar p below which the chart colours a change


def paired_block(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """Statistics of (baseline success, perturbed success) pairs of the same episodes."""
    n = len(pairs)
    k = sum(p for _, p in pairs)
    kb = sum(b for b, _ in pairs)
    lost = sum(b and not p for b, p in pairs)
    gained = sum(p and not b for b, p in pairs)
    lo, hi = wilson_interval(k, n)
    return {
        "successes": k, "episodes": n, "success_rate": k / n if n else 0.0, "ci95": [lo, hi],
        "baseline_successes": kb, "baseline_rate": kb / n if n else 0.0,
        "change_pts": 100.0 * (k - kb) / n if n else 0.0,
        "b": lost, "c": gained, "mcnemar_p": mcnemar_exact(lost, gained),
        "retained": k / kb if kb else None,
    }  # fmt: skip


def pair_results(
    baseline: Sequence[EpisodeResult], perturbed: Sequence[EpisodeResult]
) -> list[tuple[EpisodeResult, EpisodeResult]]:
    """(baseline, perturbed) episode pairs of the same (split, family, seed); every perturbed
    episode must have its baseline episode (the runner runs both on the same seeds)."""
    by_key = {(r.split, r.family, r.seed): r for r in baseline}
    pairs = []
    for r in perturbed:
        base = by_key.get((r.split, r.family, r.seed))
        if base is None:
            raise ValueError(f"perturbed episode {r.split}/{r.family}/seed {r.seed} has no "
                             "baseline episode on that seed: run both in one `vla eval`")  # fmt: skip
        pairs.append((base, r))
    return pairs


def perturbation_section(results: Sequence[EpisodeResult], perturbations: Sequence[Any]) -> dict:
    """The report's ``perturbations`` section (schema above) from one run's results, baseline
    and perturbed together; ``perturbations``: the run's sim.perturb.Perturbation list."""
    baseline = [r for r in results if r.perturbation is None]
    out: dict[str, Any] = {"paired_on": "episode seed", "order": [], "results": {}}
    for p in perturbations:
        pairs = pair_results(baseline, [r for r in results if r.perturbation == p.label])
        splits = {}
        for split in SPLIT_ORDER:
            here = [(b, q) for b, q in pairs if b.split == split]
            if not here:
                continue
            block = paired_block([(b.success, q.success) for b, q in here])
            families = sorted({b.family for b, _ in here})
            block["per_task"] = {
                f: paired_block([(b.success, q.success) for b, q in here if b.family == f])
                for f in families
            }
            splits[split] = block
        out["order"].append(p.label)
        out["results"][p.label] = {
            "name": p.name, "value": p.value, "kind": p.spec.kind,
            "description": p.spec.description, "splits": splits,
        }  # fmt: skip
    out["episode_log"] = [episode_entry(r) for r in results if r.perturbation is not None]
    return out


def format_perturbation_table(section: dict[str, Any]) -> str:
    """One row per perturbation and split: pooled success vs the baseline, change, discordant
    pairs, McNemar p, retained fraction, then the change per family (points)."""
    results = section["results"]
    families = sorted({f for r in results.values() for s in r["splits"].values()
                       for f in s["per_task"]})  # fmt: skip
    wl = max([20, *map(len, results)])
    header = (f"{'perturbation':<{wl}} {'split':<7} {'success':>7} {'baseline':>8} "
              f"{'change':>10} {'b/c':>6} {'p':>7} {'kept':>5}  "
              + " ".join(f"{f[:7]:>7}" for f in families))  # fmt: skip
    lines = ["change vs the unperturbed run on the same seeds (points); b/c: episodes lost / "
             "gained; p: exact McNemar", header, "-" * len(header)]  # fmt: skip
    for label in section["order"]:
        for split, b in results[label]["splits"].items():
            kept = "-" if b["retained"] is None else f"{100 * b['retained']:4.0f}%"
            cells = [f"{b['per_task'][f]['change_pts']:+7.0f}" if f in b["per_task"] else
                     f"{'':>7}" for f in families]  # fmt: skip
            lines.append(
                f"{label:<{wl}} {split:<7} {b['successes']:>3}/{b['episodes']:<3} "
                f"{b['baseline_successes']:>4}/{b['episodes']:<3} {b['change_pts']:+6.1f} pts "
                f"{b['b']:>2}/{b['c']:<3} {b['mcnemar_p']:7.3f} {kept:>5}  " + " ".join(cells)
            )
    return "\n".join(lines)


def plot_perturbation_chart(report: dict[str, Any], path: str | Path) -> Path:
    """Dot plot per split: each perturbation's pooled success (Wilson 95% bar) against the
    baseline (dashed line, grey arrow from it), per-family success as small marks, the change
    and McNemar p written beside it; red/green where p < SIGNIFICANT."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    section = report["perturbations"]
    order = section["order"]
    splits = [s for s in SPLIT_ORDER if any(s in section["results"][lb]["splits"] for lb in order)]
    families = sorted({f for r in section["results"].values() for s in r["splits"].values()
                       for f in s["per_task"]})  # fmt: skip
    markers = dict(zip(families, "os^vDP*X<>", strict=False))
    fig, axes = plt.subplots(1, len(splits), figsize=(7.5 * len(splits), 0.42 * len(order) + 2.2),
                             squeeze=False, sharey=True)  # fmt: skip
    for ax, split in zip(axes[0], splits, strict=True):
        base = report["splits"][split]
        ax.axvline(100 * base["success_rate"], color="0.4", ls="--", lw=1,
                   label=f"baseline {100 * base['success_rate']:.0f}%")  # fmt: skip
        for y, label in enumerate(order):
            b = section["results"][label]["splits"].get(split)
            if b is None:
                continue
            rate, (lo, hi) = 100 * b["success_rate"], b["ci95"]
            colour = "0.25"
            if b["mcnemar_p"] < SIGNIFICANT:
                colour = "tab:red" if b["change_pts"] < 0 else "tab:green"
            ax.annotate("", (rate, y), (100 * b["baseline_rate"], y),
                        arrowprops={"arrowstyle": "->", "color": "0.7", "lw": 1.5})  # fmt: skip
            for f, fb in b["per_task"].items():
                ax.plot(100 * fb["success_rate"], y + 0.22, markers.get(f, "o"), ms=4,
                        color="tab:blue", alpha=0.6, mfc="none")  # fmt: skip
            ax.errorbar(rate, y, xerr=[[rate - 100 * lo], [100 * hi - rate]], fmt="o",
                        color=colour, ms=7, capsize=3)  # fmt: skip
            ax.text(103, y, f"{b['change_pts']:+.0f} pts  p={b['mcnemar_p']:.2g}", va="center",
                    fontsize=8, color=colour)  # fmt: skip
        for f in families:  # legend entries for the family marks
            ax.plot([], [], markers.get(f, "o"), ms=4, color="tab:blue", mfc="none", label=f)
        n = base["episodes"] // max(1, len(base["per_task"]))
        ax.set_title(f"{split} (n={n}/task, paired by seed)", fontsize=10)
        ax.set_xlim(-2, 135)
        ax.set_xticks(range(0, 101, 20))
        ax.set_xlabel("success rate (%)")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5 / (len(order) ** 0.5 + 1)),
                  ncol=len(families) + 1, fontsize=7, frameon=False)  # fmt: skip
    axes[0][0].set_yticks(range(len(order)), order)
    axes[0][0].set_ylim(len(order) - 0.5, -0.7)
    fig.suptitle(f"{Path(str(report.get('checkpoint', ''))).name or 'policy'} | "
                 f"{report.get('backend', '')} | perturbations vs baseline; bars: Wilson 95%; "
                 f"red/green: McNemar p < {SIGNIFICANT}", fontsize=10)  # fmt: skip
    return save_figure(fig, path)

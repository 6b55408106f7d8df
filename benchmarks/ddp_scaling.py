"""Data-parallel scaling: a 1-GPU and an N-GPU `vla train` run of the same preset, compared.

    python benchmarks/ddp_scaling.py --single RUN_1GPU --multi RUN_2GPU --json ddp.json \
        --plot ddp.png [--single-rank-batch RUN_1GPU_AT_THE_PER_RANK_BATCH]

Each RUN is an ``output_dir`` of `vla train` (its ``train_log.jsonl``). Both runs should use the
same global batch and step count (``--batch_size`` is per GPU: halve it on 2), so that their loss
curves are comparable step by step. Reported:

- throughput: samples/s per logging interval (from the cumulative ``samples_per_s`` and
  ``elapsed_s`` the trainer logs), the median over the intervals after the first ``--skip``
  share of steps (start-up: cuDNN autotuning, allocator growth), and the speed-up;
- loss curves: on the steps both logged, the difference N-GPU minus 1-GPU, against the
  runs' own logging noise (each logged loss is one batch's, so consecutive logs scatter
  around the trend; sigma = the std of loss minus its 5-point moving average, pooled). Two runs
  with the same expected curve differ by about sigma*sqrt(2) RMS; the verdict "within noise"
  means the RMS difference is at most 1.5x that and the mean difference at most 3 standard
  errors;
- with ``--single-rank-batch``: where a speed-up below N comes from. speed-up / N = (one GPU's
  efficiency at the per-rank batch vs the full batch) x (the N-GPU run's efficiency against N
  independent GPUs at that per-rank batch: all-reduce and synchronisation).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np


def read_log(run: Path) -> list[dict]:
    path = Path(run) / "train_log.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} not found: pass the output_dir of a `vla train` run")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if len(rows) < 3:
        raise SystemExit(f"{path}: {len(rows)} log records; need 3+ (lower --log_every)")
    # a resumed run appends: keep the last record of each step
    by_step = {r["step"]: r for r in rows}
    return [by_step[s] for s in sorted(by_step)]


def interval_rates(rows: list[dict], skip: float) -> list[float]:
    """Samples/s between consecutive log records, after the first ``skip`` share of steps."""
    last = rows[-1]["step"]
    rates = []
    for a, b in zip(rows[:-1], rows[1:], strict=True):
        if a["step"] < skip * last:
            continue
        samples = b["samples_per_s"] * b["elapsed_s"] - a["samples_per_s"] * a["elapsed_s"]
        dt = b["elapsed_s"] - a["elapsed_s"]
        if dt > 0:
            rates.append(samples / dt)
    return rates


def moving_average(x: np.ndarray, k: int = 5) -> np.ndarray:
    pad = k // 2
    padded = np.pad(x, pad, mode="edge")
    return np.convolve(padded, np.ones(k) / k, mode="valid")


def compare(single: list[dict], multi: list[dict], skip: float = 0.2) -> dict:
    out: dict = {}
    for name, rows in (("single", single), ("multi", multi)):
        rates = interval_rates(rows, skip)
        if not rates:
            raise SystemExit(f"{name}: no logging intervals after --skip {skip}; lower it")
        tail = rows[-5:]
        out[name] = {
            "world": rows[-1].get("world", 1),
            "global_batch": rows[-1].get("global_batch"),
            "steps": rows[-1]["step"],
            "train_seconds": rows[-1]["elapsed_s"],
            "samples_per_s_median": statistics.median(rates),
            "samples_per_s_p25_p75": [
                float(np.percentile(rates, 25)),
                float(np.percentile(rates, 75)),
            ],  # fmt: skip
            "samples_per_s_whole_run": rows[-1]["samples_per_s"],
            "intervals": len(rates),
            "final_loss_last5": statistics.mean(r["loss"] for r in tail),
            "final_accuracy_last5": statistics.mean(r["accuracy"] for r in tail),
        }
    s, m = out["single"], out["multi"]
    out["speedup_median"] = m["samples_per_s_median"] / s["samples_per_s_median"]
    out["same_global_batch"] = s["global_batch"] == m["global_batch"]
    steps = sorted({r["step"] for r in single} & {r["step"] for r in multi})
    a = np.array([next(r["loss"] for r in single if r["step"] == st) for st in steps])
    b = np.array([next(r["loss"] for r in multi if r["step"] == st) for st in steps])
    resid = np.concatenate([a - moving_average(a), b - moving_average(b)])
    sigma = float(resid.std())
    diff = b - a
    half = diff[len(diff) // 2 :]
    rms = float(np.sqrt(np.mean(diff**2)))
    mean_half = float(half.mean())
    sem_half = sigma * math.sqrt(2) / math.sqrt(len(half))
    out["loss_curve"] = {
        "common_steps": len(steps),
        "log_noise_sigma": sigma,
        "rms_diff": rms,
        "expected_rms_diff_if_same": sigma * math.sqrt(2),
        "mean_diff_second_half": mean_half,
        "sem_second_half": sem_half,
        "within_noise": bool(rms <= 1.5 * sigma * math.sqrt(2) and abs(mean_half) <= 3 * sem_half),
    }
    out["curves"] = {"steps": steps, "single": a.tolist(), "multi": b.tolist()}
    return out


def decompose(result: dict, rank_batch_rows: list[dict], skip: float = 0.2) -> dict:
    """With a 1-GPU run at the N-GPU run's per-rank batch: split the speed-up shortfall into the
    single GPU's loss of efficiency at the smaller batch and the data-parallel overhead
    (gradient all-reduce, rank synchronisation) at equal per-GPU work."""
    rates = interval_rates(rank_batch_rows, skip)
    if not rates:
        raise SystemExit(f"rank-batch run: no logging intervals after --skip {skip}; lower it")
    rb = statistics.median(rates)
    world = result["multi"]["world"]
    out = {
        "global_batch": rank_batch_rows[-1].get("global_batch"),
        "samples_per_s_median": rb,
        # < 1: one GPU does less work per second at the per-rank batch than at the full batch
        "gpu_efficiency_at_rank_batch": rb / result["single"]["samples_per_s_median"],
        # < 1: N GPUs each at the per-rank batch fall short of N independent GPUs
        "ddp_efficiency_same_per_gpu_batch": result["multi"]["samples_per_s_median"] / (world * rb),
    }
    result["rank_batch"] = out
    return out


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result["curves"]
    s, m = result["single"], result["multi"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]})
    ax1.plot(c["steps"], c["single"], label=f"1 GPU (batch {s['global_batch']})", alpha=0.8)
    ax1.plot(c["steps"], c["multi"], label=f"{m['world']} GPUs (global batch {m['global_batch']})",
             alpha=0.8)  # fmt: skip
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (logged batch)")
    ax1.legend()
    ax1.set_title("loss curves, same global batch")
    ax2.bar(["1 GPU", f"{m['world']} GPUs"], [s["samples_per_s_median"], m["samples_per_s_median"]],
            color=["tab:blue", "tab:orange"])  # fmt: skip
    ax2.set_ylabel("samples/s (median interval)")
    ax2.set_title(f"speed-up {result['speedup_median']:.2f}x")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def table(result: dict) -> str:
    s, m, lc = result["single"], result["multi"], result["loss_curve"]
    lines = [
        "| run | GPUs | global batch | steps | train s | samples/s (median [p25, p75]) "
        "| final loss | final acc |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("single", s), ("multi", m)):
        lo, hi = r["samples_per_s_p25_p75"]
        lines.append(
            f"| {name} | {r['world']} | {r['global_batch']} | {r['steps']} | "
            f"{r['train_seconds']:.0f} | {r['samples_per_s_median']:.0f} [{lo:.0f}, {hi:.0f}] | "
            f"{r['final_loss_last5']:.3f} | {r['final_accuracy_last5']:.3f} |"
        )
    lines.append(f"speed-up (median samples/s): {result['speedup_median']:.2f}x (target >= 1.8)")
    lines.append(
        f"loss curves on {lc['common_steps']} common steps: RMS diff {lc['rms_diff']:.4f} "
        f"(same-curve expectation {lc['expected_rms_diff_if_same']:.4f}, log noise sigma "
        f"{lc['log_noise_sigma']:.4f}); mean diff over the second half {lc['mean_diff_second_half']:+.4f} "
        f"(SE {lc['sem_second_half']:.4f}) -> within noise: {lc['within_noise']}"
    )
    if "rank_batch" in result:
        rb = result["rank_batch"]
        lines.append(
            f"1 GPU at the per-rank batch {rb['global_batch']}: {rb['samples_per_s_median']:.0f} "
            f"samples/s -> GPU efficiency at that batch {rb['gpu_efficiency_at_rank_batch']:.2f}, "
            f"DDP efficiency at equal per-GPU batch {rb['ddp_efficiency_same_per_gpu_batch']:.2f} "
            f"(speed-up / GPUs = their product)"
        )
    if not result["same_global_batch"]:
        lines.append("warning: the runs' global batches differ; the curves are not comparable")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--single", required=True, type=Path, help="output_dir of the 1-GPU run")
    p.add_argument("--multi", required=True, type=Path, help="output_dir of the N-GPU run")
    p.add_argument("--single-rank-batch", type=Path, default=None,
                   help="output_dir of a 1-GPU run at the N-GPU run's per-rank batch (optional)")  # fmt: skip
    p.add_argument("--skip", type=float, default=0.2,
                   help="share of steps left out of the throughput median (start-up)")  # fmt: skip
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None)
    args = p.parse_args(argv)
    result = compare(read_log(args.single), read_log(args.multi), args.skip)
    if args.single_rank_batch:
        decompose(result, read_log(args.single_rank_batch), args.skip)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

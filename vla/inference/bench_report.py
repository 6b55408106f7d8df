"""Human-readable text of a ``run_bench`` result (the JSON holds the same figures)."""

from __future__ import annotations


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def format_report(r: dict) -> str:
    """Rows table, speed-ups, parity, bytes/FLOPs and the latency floors, one block each."""
    cfg = r["config"]
    lines = [
        f"vla bench: {cfg['checkpoint']}  device={cfg['device']} ({r['gpu'] or 'CPU'})  "
        f"batch={cfg['batch']}  torch {r['torch']}  fast dtype={r['fast_dtype']}  "
        f"cuda graphs={r['cuda_graphs']}",
        f"instruction: {r['instruction']!r} (synthetic random images + state)",
        "",
        f"{'row':<18} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'chunks/s':>10} "
        f"{'actions/s':>11} {'peak mem':>11}  iters",
    ]
    for name, row in r["rows"].items():
        lines.append(
            f"{name:<18} {row['p50_ms']:9.3f} {row['p95_ms']:9.3f} {row['p99_ms']:9.3f} "
            f"{row['chunks_per_s']:10.1f} {row['actions_per_s']:11.1f} "
            f"{_mib(row['peak_mem_bytes']):>11}  {row['iters']}"
        )
    lines += ["", "what each row measures (latency = one chunk for every sample of the batch):"]
    lines += [f"  {k}: {v}" for k, v in r["row_docs"].items()]
    lines += ["", "speed-up (p50 ratio, slower/faster):"]
    lines += [f"  {k}: {v:.1f}x" for k, v in r["speedup_p50"].items()]
    p = r["parity"]
    lines += [
        "",
        f"token parity fast vs plain_parallel: {p['agreement'] * 100:.2f} % identical of "
        f"{p['tokens']} ids ({p['samples']} samples; tolerance >= "
        f"{p['min_agreement_required'] * 100:.0f} %), mean |bin diff| "
        f"{p['mean_abs_bin_distance']:.3f}, max {p['max_bin_distance']} bins",
        "",
        f"weights: {_mib(r['weight_bytes']['fast'])} at {r['fast_dtype']} "
        f"({_mib(r['weight_bytes']['plain_fp32'])} fp32); FLOPs per chunk: "
        f"{r['flops_per_chunk'] / 1e9:.3f} GFLOP ({r['flops_note']})",
        f"latency floor per batch of {cfg['batch']} = max(weight bytes / bandwidth, "
        "FLOPs / dense fp16-bf16 peak):",
    ]
    for v in r["floors_ms"].values():
        lines.append(
            f"  {v['name']:<22} {v['bandwidth'] / 1e9:7.1f} GB/s {v['peak_flops'] / 1e12:6.1f} "
            f"TFLOP/s -> memory {v['memory_floor_ms']:.4f} ms, compute "
            f"{v['compute_floor_ms']:.4f} ms ({v['bound']}-bound)  [{v['note']}]"
        )
    proj = r["orin_projection_ms"]
    if proj:
        lines += [
            f"projected fast-path latency (fraction of floor reached here: "
            f"{proj['fraction_of_floor_here']:.3f}; {proj['assumption']}):",
            f"  AGX Orin {proj['agx-orin']:.2f} ms, Orin Nano {proj['orin-nano']:.2f} ms",
        ]
    return "\n".join(lines)

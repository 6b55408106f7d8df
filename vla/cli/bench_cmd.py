"""`vla bench`: fast vs plain inference latency of one checkpoint, measured in the same run.

vla bench --checkpoint PATH --device cuda --batch 1 --json OUT.json
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``bench`` subcommand."""
    p = subparsers.add_parser(
        "bench",
        help="latency of the fast inference path vs the plain paths (same run)",
        description="p50/p95/p99 latency per action chunk, chunks/s, actions/s and peak GPU "
        "memory of FastPolicy (bf16 + CUDA graphs), the plain fp32 Policy and a generate()-"
        "style autoregressive decode of the same model; token parity; weight bytes, FLOPs "
        "per chunk and latency floors (this GPU, Jetson AGX Orin, Orin Nano).",
    )
    p.add_argument("--checkpoint", required=True, help="policy checkpoint folder")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--batch", type=int, default=1, help="observations per call")
    p.add_argument("--iters", type=int, default=200, help="timed iterations per row")
    p.add_argument("--warmup", type=int, default=20, help="untimed iterations per row")
    p.add_argument("--ar-iters", type=int, default=10,
                   help="timed iterations of the (slow) autoregressive row")  # fmt: skip
    p.add_argument("--skip-generate", action="store_true", help="omit the autoregressive row")
    p.add_argument("--text-cache", default=None,
                   help="instruction embeddings file (default: the checkpoint's own)")  # fmt: skip
    p.add_argument("--instruction", default=None,
                   help="instruction text (default: the first one in the text cache)")  # fmt: skip
    p.add_argument("--synthetic-text", action="store_true",
                   help="no text cache at hand: random MiniLM-shaped instruction states "
                   "(latency is unaffected; parity still compares like with like)")  # fmt: skip
    p.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default=None,
                   help="fast-path dtype (default float16 on cuda, float32 on cpu)")  # fmt: skip
    p.add_argument("--onnx", default=None,
                   help="a `vla export` folder: add rows for its policy.onnx (fp32) and "
                   "policy_int8.onnx (--int8) under ONNX Runtime on the CPU")  # fmt: skip
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the fast path's model inside its CUDA graphs (CUDA only)",
    )
    p.add_argument("--json", default=None, help="write the full result here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the report, write the JSON."""
    import json
    from pathlib import Path

    from vla.inference.bench import BenchConfig, run_bench
    from vla.inference.bench_report import format_report

    cfg = BenchConfig(
        checkpoint=args.checkpoint, device=args.device, batch=args.batch, iters=args.iters,
        warmup=args.warmup, ar_iters=args.ar_iters, text_cache=args.text_cache,
        instruction=args.instruction, dtype=args.dtype, skip_generate=args.skip_generate,
        synthetic_text=args.synthetic_text, onnx=args.onnx, compile=args.compile,
    )  # fmt: skip
    result = run_bench(cfg)
    print(format_report(result))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"wrote {out}")
    return 0

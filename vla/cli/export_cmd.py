"""`vla export`: export a checkpoint to ONNX for edge devices (see vla/export/onnx_export.py)."""

from __future__ import annotations

import argparse
import json
import sys

FORMATS = ("onnx",)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a policy checkpoint to ONNX (one graph) + a parity check with ONNX Runtime",
        description="Export a policy checkpoint to DIR/policy.onnx (uint8 cameras + MiniLM text "
        "states [+ state] -> action ids and logits) with policy_meta.json, stats.json, "
        "action_tokenizer/ and export_meta.json; then compare ONNX Runtime (CPU) with PyTorch "
        "fp32 on random inputs. TensorRT: see the vla.export.onnx_export module docstring.",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--format", default="onnx", choices=FORMATS)
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--batch", type=int, default=1, help="static batch size of the graph")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (18 with this torch)")
    p.add_argument(
        "--exporter", default="auto", choices=("auto", "dynamo", "torchscript"),
        help="torch.onnx exporter (auto: dynamo, then TorchScript)",
    )  # fmt: skip
    p.add_argument("--int8", nargs="?", const="weight_only", default=None,
                   choices=("dynamic", "blockwise", "weight_only"),
                   help="also write policy_int8.onnx: the decoder's weight MatMuls in int8 for "
                   "CPU-only robots (default method weight_only; not faithful for v7: see "
                   "vla/export/quantize.py)")  # fmt: skip
    p.add_argument("--parity-runs", type=int, default=4, help="random batches compared (0: skip)")
    p.add_argument("--latency-repeats", type=int, default=20, help="timed ORT runs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vla.export import ExportConfig, check_parity, export_onnx
    from vla.export.parity import record_parity

    try:
        config = ExportConfig(batch=args.batch, opset=args.opset, exporter=args.exporter)
        meta = export_onnx(args.checkpoint, args.out, config)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"vla export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}/{meta['file']} ({meta['onnx_bytes'] / 1e6:.1f} MB, "
          f"exporter={meta['exporter']}, opset={meta['opset']})")  # fmt: skip
    if args.int8:
        from vla.export.quantize import quantize_int8

        info = quantize_int8(args.out, args.int8)
        print(f"wrote {args.out}/{info['file']} ({info['onnx_bytes'] / 1e6:.1f} MB; "
              f"fp32 kept: {info['kept_fp32']})")  # fmt: skip
    if args.parity_runs > 0:
        report = check_parity(args.checkpoint, args.out, args.parity_runs, args.latency_repeats)
        record_parity(args.out, report)
        print(json.dumps(report.to_json(), indent=1))
    return 0

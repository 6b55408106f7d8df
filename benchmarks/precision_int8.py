"""int8 builds of an exported policy under ONNX Runtime (CPU): fidelity per readout and latency.

    DIR/policy.onnx (`vla export`) --> dynamic | static_qdq | weight_only | blockwise int8 files
      static_qdq: ORT quantize_static, QDQ format, per-channel int8 weights, uint8 activations
        calibrated (MinMax) on recorded observations; the action head's MatMul stays fp32
    every file's logits on recorded observations vs the fp32 PyTorch Policy's, under each
    readout; median ms per chunk at batch 1 (ORT, --threads intra-op threads)

    python benchmarks/precision_int8.py --export DIR --methods dynamic,static_qdq,weight_only \\
        --json benchmarks/results/edge_inference/int8_cpu.json
    taskset -c 0,1 python benchmarks/precision_int8.py --export DIR ...   # 2 pinned cores

Observations: the committed ``results/edge_inference/observations_seed3400.npz``; the even
ones are measured, ``--calibration`` of the odd ones calibrate ``static_qdq`` (disjoint
frames). Builds are written to ``--work`` (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from precision_fidelity import RECORDED_OBS, load_observations, plain_logits

from vla.inference.fidelity import fidelity_rows

METHODS = ("dynamic", "static_qdq", "weight_only", "blockwise")


def build(method: str, src: Path, dst: Path, calib_feeds: list[dict]) -> None:
    """Write the int8 file of ``method`` (head MatMul kept fp32, see vla.export.quantize)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from vla.export.quantize import QUANTIZED_OPS, head_nodes, write_int8

    model = onnx.load(str(src))
    head = head_nodes(model)
    if method != "static_qdq":
        write_int8(model, head, method, dst)
        return

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib_feeds)

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=head,
                    calibrate_method=CalibrationMethod.MinMax)  # fmt: skip


def run_file(
    path: Path, feeds: list[dict], threads: int, repeats: int
) -> tuple[torch.Tensor, dict]:
    """Logits (N, T, V) of every feed, and batch-1 latency over ``repeats`` passes."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as OnnxPolicy
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    logits = np.concatenate([sess.run(["logits"], f)[0] for f in feeds])  # also the warm-up
    times = []
    for _ in range(repeats):
        for f in feeds:
            t0 = time.perf_counter()
            sess.run(["action_ids"], f)
            times.append((time.perf_counter() - t0) * 1e3)
    t = np.asarray(times)
    lat = {"p50_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)), "n": len(t),
           "loadavg_1min_after": os.getloadavg()[0]}  # fmt: skip
    return torch.from_numpy(logits), lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--export", required=True, help="`vla export` folder holding policy.onnx")
    ap.add_argument("--checkpoint", default=None, help="fp32 reference (default: the export's)")
    ap.add_argument("--methods", default="dynamic,static_qdq,weight_only")
    ap.add_argument("--readouts", default="argmax,smoothed,mean")
    ap.add_argument("--obs", default=str(RECORDED_OBS))
    ap.add_argument(
        "--text-cache", default=str(RECORDED_OBS.parent / "text_cache_seed3400.safetensors")
    )
    ap.add_argument("--calibration", type=int, default=32, help="observations for static_qdq")
    ap.add_argument("--max-obs", type=int, default=256, help="of the file (half are measured)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timed passes over the observations")
    ap.add_argument("--work", default=None, help="folder for the int8 files (default: temp)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from vla.inference.onnx_policy import OnnxPolicy
    from vla.policy import Policy

    torch.set_num_threads(args.threads)
    export = Path(args.export)
    ckpt = args.checkpoint or json.loads((export / "export_meta.json").read_text())["checkpoint"]
    obs = load_observations(args.obs)[: args.max_obs]
    measured, calib = obs[0::2], obs[1::2][: args.calibration]
    policy = Policy.from_pretrained(ckpt, text_cache=args.text_cache)
    onnx = OnnxPolicy(export, "policy.onnx", args.threads, text_cache=args.text_cache)
    feeds = [onnx._feed([o]) for o in measured]
    ref = plain_logits(policy, measured, 32)
    work = Path(args.work or tempfile.mkdtemp(prefix="int8_"))
    work.mkdir(parents=True, exist_ok=True)
    files = {"fp32": export / "policy.onnx"}
    for m in filter(None, args.methods.split(",")):
        if m not in METHODS:
            raise SystemExit(f"--methods: {m!r} is not one of {METHODS}")
        files[m] = work / f"policy_int8_{m}.onnx"
        t0 = time.perf_counter()
        build(m, export / "policy.onnx", files[m], [onnx._feed([o]) for o in calib])
        print(f"built {m} in {time.perf_counter() - t0:.0f} s", flush=True)
    variants, latency = {}, {}
    for name, path in files.items():
        variants[f"onnxruntime {name}"], latency[name] = run_file(path, feeds, args.threads,
                                                                  args.repeats)  # fmt: skip
        print(f"{name:12s} p50 {latency[name]['p50_ms']:.1f} ms per chunk "
              f"(load {latency[name]['loadavg_1min_after']:.1f})", flush=True)  # fmt: skip
    rows = fidelity_rows(policy, ref, variants, args.readouts.split(","))
    for k, r in rows.items():
        print(f"{k:40s} agree {r['token_agreement']:.4f}  <=1 bin {r['within_1_bin']:.4f}  "
              f">2 bins {r['tokens_over_2_bins_continuous']:5d}  max {r['max_bins_continuous']:g}"
              f"  grip flips {r.get('gripper_flips', 0)}")  # fmt: skip
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"config": vars(args), "observations": len(measured),
                                   "cpu_count": os.cpu_count(), "latency_batch1": latency,
                                   "fidelity": rows}, indent=1))  # fmt: skip
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

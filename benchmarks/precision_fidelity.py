"""Reduced precision vs fp32 on real observations: token agreement, bins, gripper flips, cause.

    recorded episodes --real_observations--> obs
      fp32 Policy (plain path)        --> reference logits
      FastPolicy float16 / bfloat16   --> logits (head in fp32, the default)
      ..._half_logits                 --> the same with the head in half precision (the old path)
      ONNX Runtime fp32 / int8 (--onnx DIR, from `vla export [--int8]`; CPU, or TensorRT
        with --ort-tensorrt fp16 on a Jetson)                                --> logits
      --> vla.inference.fidelity.fidelity(): agreement, max |bin diff| per dimension, gripper flips
    --components: the same model in fp32 except ONE component in fp16 (the cause table)

    python benchmarks/precision_fidelity.py --device cpu --json out.json \\
        [--checkpoint checkpoints/pick_place_v7] [--onnx exports/v7] [--components] \\
        [--readouts argmax,mean] [--dataset DATA | --obs FILE.npz]

Every row is measured under each readout (``vla.policy.readout``); the ``[mean] fp32 mean vs
fp32 argmax`` row is the readout's own change of behaviour. Observations: by default the
committed ``results/edge_inference/observations_seed3400.npz``; or DATA, a LeRobot folder of
recorded episodes at the checkpoint's image size, e.g.
``vla data generate --episodes 40 --image-size 128 128 --action-noise 0.3 --out DATA``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from vla.constants import OBS_STATE, SHIPPED_CHECKPOINT, TASK
from vla.inference.fidelity import fidelity_rows, real_observations

HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}
# 256 observations of 40 recorded episodes (`vla data generate --episodes 40 --seed 3400
# --action-noise 0.3 --image-size 128 128`, every 4th frame), for machines without the sim
RECORDED_OBS = Path(__file__).parent / "results/edge_inference/observations_seed3400.npz"


def save_observations(path: str, observations: list[dict]) -> None:
    """Observations as one compressed .npz (for a machine without the dataset's video codec)."""
    keys = [k for k in observations[0] if k not in (OBS_STATE, TASK)]
    arrays = {k: np.stack([o[k] for o in observations]) for k in keys}
    arrays[OBS_STATE] = np.stack([o[OBS_STATE] for o in observations])
    arrays[TASK] = np.asarray([o[TASK] for o in observations])
    np.savez_compressed(path, **arrays)


def load_observations(path: str) -> list[dict]:
    """The inverse of :func:`save_observations`."""
    data = np.load(path)
    n = len(data[TASK])
    return [{k: (str(data[k][i]) if k == TASK else data[k][i]) for k in data.files}
            for i in range(n)]  # fmt: skip


def plain_logits(policy, observations: list[dict], batch: int) -> torch.Tensor:
    """fp32 logits (B, T, V) of the plain Policy path."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(observations), batch):
            b = policy._batch(observations[i : i + batch])
            out.append(policy.model(b["images"], b[OBS_STATE], b["text"], b["text_mask"])
                       ["logits"].float().cpu())  # fmt: skip
    return torch.cat(out)


def fast_logits(policy, observations: list[dict], dtype: str, batch: int,
                half_logits: bool = False) -> torch.Tensor:  # fmt: skip
    """Logits of FastPolicy in ``dtype``; ``half_logits`` puts the action head back in
    half precision (the path before the float32 head)."""
    from vla.inference import FastConfig, FastPolicy

    fast = FastPolicy(policy, FastConfig(dtype=dtype, buckets=(batch,), cuda_graphs=False))
    if half_logits:
        fast.model.action_head = fast.model.action_head.head.to(HALF[dtype])
    return fast.predict_logits(observations).cpu()


def _cast(x, dtype):
    if torch.is_tensor(x) and x.is_floating_point():
        return x.to(dtype)
    if isinstance(x, tuple):
        return tuple(_cast(y, dtype) for y in x)
    return x


def component_logits(policy, observations: list[dict], names: list[str], batch: int,
                     dtype: torch.dtype = torch.float16) -> torch.Tensor:  # fmt: skip
    """fp32 model with only the modules ``names`` in ``dtype`` (inputs cast in, outputs back)."""
    model = copy.deepcopy(policy.model).eval()
    for name, mod in model.named_modules():
        if name in names:
            mod.to(dtype)
            mod.register_forward_pre_hook(
                lambda m, a, k: (_cast(a, dtype), {n: _cast(v, dtype) for n, v in k.items()}),
                with_kwargs=True,
            )
            mod.register_forward_hook(lambda m, a, o: _cast(o, torch.float32))
    half = copy.copy(policy)
    half.model = model
    return plain_logits(half, observations, batch)


def components(config) -> dict[str, list[str]]:
    """The groups of the cause table (module names of a CNN-tower VLAModel)."""
    layers = [f"backbone.layers.{i}" for i in range(config.num_layers)]
    return {
        "vision CNN stages (conv + GroupNorm)": [f"vision.tower.stages.{i}"
                                                 for i in range(len(config.cnn_channels))],
        "vision FiLM MLP": ["vision.tower.film"],
        "text projection": ["text_proj"],
        "decoder attention (all layers)": [f"{x}.self_attn" for x in layers],
        "decoder MLP (all layers)": [f"{x}.mlp" for x in layers],
        "decoder RMSNorms (all layers)": [f"{x}.{n}" for x in layers
                                          for n in ("input_layernorm", "post_attention_layernorm")],
        "final RMSNorm": ["backbone.norm"],
        "action head (logits in fp16)": ["action_head"],
    }  # fmt: skip


def ort_providers(tensorrt: str | None) -> list:
    """CPU only, or TensorRT (fp32/fp16) first with CUDA and the CPU behind it."""
    if not tensorrt:
        return ["CPUExecutionProvider"]
    trt = ("TensorrtExecutionProvider", {"trt_fp16_enable": tensorrt == "fp16"})
    return [trt, "CUDAExecutionProvider", "CPUExecutionProvider"]


def onnx_logits(
    export_dir: Path, filename: str, observations: list[dict], threads: int, providers: list
) -> tuple[torch.Tensor, float]:
    """Logits of an exported ONNX file under ONNX Runtime CPU; also its median ms per call."""
    from vla.inference.onnx_policy import OnnxPolicy

    onnx = OnnxPolicy(export_dir, filename, threads, providers=providers)
    out, times = [], []
    for obs in observations:
        t0 = time.perf_counter()
        out.append(onnx.predict_logits([obs]))
        times.append((time.perf_counter() - t0) * 1e3)
    return torch.cat(out), sorted(times)[len(times) // 2]


def format_table(rows: dict[str, dict]) -> str:
    head = (f"{'[readout] variant':46s} {'agree':>7s} {'<=1bin':>7s} "
            f"{'max bins/dim (dx dy dz dr dp dy)':>34s} "
            f"{'>2 bins':>7s} {'grip flips':>10s} {'logit err':>9s}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        dims = " ".join(f"{x:g}" for x in r["max_bins_per_dim"][:-1])
        lines.append(f"{name:46s} {r['token_agreement']:7.4f} {r['within_1_bin']:7.4f} {dims:>34s} "
                     f"{r['tokens_over_2_bins_continuous']:7d} "
                     f"{r.get('gripper_flips', 0):10d} {r['logit_max_abs_diff']:9.4f}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED_CHECKPOINT))
    ap.add_argument("--dataset", help="LeRobot folder of recorded episodes")
    ap.add_argument("--obs", help=f"observations saved by --save-obs (default {RECORDED_OBS})")
    ap.add_argument("--save-obs", help="also save the observations used here (.npz)")
    ap.add_argument("--text-cache", default=None, help="MiniLM states (`vla text-cache`)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--max-obs", type=int, default=256)
    ap.add_argument("--stride", type=int, default=4, help="every N-th frame of each episode")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dtypes", default="float32,float16,bfloat16")
    ap.add_argument(
        "--readouts",
        default="argmax,mean",
        help="readouts (vla.policy.readout) every row is measured under",
    )
    ap.add_argument("--half-logits", action="store_true", help="also the half-precision head")
    ap.add_argument("--components", action="store_true", help="the cause table (fp16 per part)")
    ap.add_argument("--onnx", default=None, help="export folder: ORT fp32 (+ int8 if present)")
    ap.add_argument(
        "--ort-tensorrt",
        choices=("fp32", "fp16"),
        default=None,
        help="run --onnx under ONNX Runtime's TensorRT provider (Jetson, onnxruntime-gpu)",
    )
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch and ORT)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from vla.policy import Policy

    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = False  # the fp32 reference: no TF32 convolutions
    policy = Policy.from_pretrained(args.checkpoint, device=args.device,
                                    text_cache=args.text_cache)  # fmt: skip
    if args.dataset:
        obs = real_observations(args.dataset, policy.meta.camera_keys, args.max_obs, args.stride)
    else:
        obs = load_observations(args.obs or str(RECORDED_OBS))[: args.max_obs]
    if args.save_obs:
        save_observations(args.save_obs, obs)
    ref = plain_logits(policy, obs, args.batch)
    variants: dict[str, torch.Tensor] = {}
    extra: dict[str, float] = {}
    for dt in filter(None, args.dtypes.split(",")):
        variants[f"fast {dt}"] = fast_logits(policy, obs, dt, args.batch)
        if args.half_logits and dt in HALF:
            variants[f"fast {dt}, head in {dt}"] = fast_logits(policy, obs, dt, args.batch, True)
    if args.onnx:
        for fname in ("policy.onnx", "policy_int8.onnx"):
            if (Path(args.onnx) / fname).is_file():
                where = f"tensorrt {args.ort_tensorrt}" if args.ort_tensorrt else "cpu"
                got, ms = onnx_logits(Path(args.onnx), fname, obs, args.threads,
                                      ort_providers(args.ort_tensorrt))  # fmt: skip
                variants[f"onnxruntime {where} {fname}"] = got
                extra[f"{fname} median ms per chunk (batch 1)"] = ms
    if args.components:
        for label, names in components(policy.model.config).items():
            variants[f"fp16 only in: {label}"] = component_logits(policy, obs, names, args.batch)
    rows = fidelity_rows(policy, ref, variants, args.readouts.split(","))
    print(f"{len(obs)} observations from {args.dataset or args.obs or RECORDED_OBS}; "
          f"reference: fp32 Policy on {args.device}; checkpoint readout: {policy.meta.readout}")  # fmt: skip
    print(format_table(rows))
    for k, v in extra.items():
        print(f"{k}: {v:.2f}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        device = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
        out.write_text(json.dumps({"config": vars(args), "device": device,
                                   "torch": torch.__version__, "observations": len(obs),
                                   "rows": rows, "timing": extra}, indent=1))  # fmt: skip
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""GPU edge figures in one run (issue 34): fidelity per dtype and readout on recorded
observations, and the fast path's batch-1 latency with and without torch.compile; one JSON.

    recorded observations (results/edge_inference/observations_seed3400.npz + its text cache;
    no simulator, no MiniLM needed)
      fp32 Policy (plain path, TF32 off)               --> reference logits
      FastPolicy {float32, float16, bfloat16}, eager   --> logits --fidelity per readout-->
      FastPolicy {float16, float32} x readout x {eager graph, compiled graph}, bucket 1:
        ids of every observation through the real path (CUDA graph) vs the fp32 Policy's ids,
        end to end p50/p99 (numpy in -> chunk out) and the captured forward alone (CUDA events)

    python benchmarks/edge_gpu.py --checkpoint checkpoints/pick_place_v7 --device cuda \\
        --json benchmarks/results/edge_inference/edge_gpu_h100.json
    python benchmarks/edge_gpu.py --device cpu --max-obs 8 --iters 5 --warmup 1  # smoke test

Baseline in the same run: ``float16 argmax no-compile`` is the fast path as it was before the
readout option (CUDA graph, no torch.compile). ``--compile`` rows cost ~15 s of inductor compilation each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from precision_fidelity import RECORDED_OBS, fast_logits, load_observations, plain_logits

from vla.constants import SHIPPED_CHECKPOINT
from vla.inference.fidelity import fidelity_rows, id_agreement

TEXT_CACHE = RECORDED_OBS.parent / "text_cache_seed3400.safetensors"


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "n": len(a)}  # fmt: skip


def time_fast(fast, obs: list[dict], iters: int, warmup: int) -> dict:
    """End to end (numpy in, chunk out) and captured-forward latency at batch 1."""
    cuda = fast.device.type == "cuda"
    for i in range(warmup):
        fast.predict_batch([obs[i % len(obs)]])
    e2e = []
    for i in range(iters):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fast.predict_batch([obs[i % len(obs)]])  # returns numpy: synchronised by the copy
        e2e.append((time.perf_counter() - t0) * 1e3)
    out = {"end_to_end": percentiles(e2e), "graphs": fast.graph_status()}
    if cuda:
        st, dev = fast.bucket_for(1), []
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            st.run()
            b.record()
            b.synchronize()
            dev.append(a.elapsed_time(b))
        out["captured_forward"] = percentiles(dev)
    return out


def path_ids(fast, obs: list[dict]) -> torch.Tensor:
    """Ids (N, T) of every observation through the served path (bucket 1, graph if CUDA)."""
    return torch.cat([fast.predict_tokens([o]).cpu() for o in obs])


def latency_row(policy, dt: str, comp: bool, obs: list[dict], ref_logits: torch.Tensor, args,
                d: int, grip: int | None) -> dict:  # fmt: skip
    """One FastPolicy (bucket 1): latency, and its served ids vs the fp32 Policy's."""
    from vla.inference import FastConfig, FastPolicy

    t0 = time.perf_counter()
    fast = FastPolicy(policy, FastConfig(dtype=dt, buckets=(1,), compile=comp))
    fast.warmup()
    build_s = time.perf_counter() - t0
    row = time_fast(fast, obs, args.iters, args.warmup)
    want = policy.readout(ref_logits)  # the fp32 Policy's ids under this readout
    f = id_agreement(want.cpu(), path_ids(fast, obs), d, grip, ref_logits.shape[-1])
    keep = ("token_agreement", "within_1_bin", "max_bins_per_dim",
            "tokens_over_2_bins_continuous", "gripper_flips")  # fmt: skip
    row["ids_vs_fp32_policy"] = {k: f[k] for k in keep}
    row["build_s"] = build_s
    return row


def latency_rows(args, obs: list[dict], ref_logits: torch.Tensor) -> dict[str, dict]:
    from vla.policy import Policy

    rows = {}
    compiles = (False, True) if args.compile and args.device == "cuda" else (False,)
    for readout in args.readouts.split(","):
        policy = Policy.from_pretrained(args.checkpoint, device=args.device,
                                        text_cache=args.text_cache, readout=readout)  # fmt: skip
        d, tok = len(policy.meta.action_names), policy.tokenizer.config
        grip = tok.gripper_index if getattr(tok, "gripper_binary", False) else None
        for dt in args.latency_dtypes.split(","):
            for comp in compiles:
                name = f"{dt} {readout} {'compile' if comp else 'no-compile'}"
                try:
                    rows[name] = latency_row(policy, dt, comp, obs, ref_logits, args, d, grip)
                except Exception as exc:  # noqa: BLE001 - one failing row must not lose the run
                    rows[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                    print(f"{name:28s} FAILED {rows[name]['error']}", flush=True)
                    continue
                row, f = rows[name], rows[name]["ids_vs_fp32_policy"]
                e = row["end_to_end"]
                print(f"{name:28s} e2e p50 {e['p50_ms']:.3f} p99 {e['p99_ms']:.3f} ms"
                      + (f"  forward p50 {row['captured_forward']['p50_ms']:.3f}"
                         if "captured_forward" in row else "")
                      + f"  ids agree {f['token_agreement']:.4f} max bins "
                      f"{max(f['max_bins_per_dim'][:-1]):g}  build {row['build_s']:.0f} s",
                      flush=True)  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED_CHECKPOINT))
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--obs", default=str(RECORDED_OBS), help="observations (.npz)")
    ap.add_argument("--text-cache", default=str(TEXT_CACHE), help="their MiniLM states")
    ap.add_argument("--max-obs", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32, help="batch of the fidelity passes")
    ap.add_argument("--dtypes", default="float32,float16,bfloat16", help="fidelity rows")
    ap.add_argument("--readouts", default="argmax,mean")
    ap.add_argument("--latency-dtypes", default="float16,float32")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                    help="also the torch.compile rows (CUDA only)")  # fmt: skip
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from vla.policy import Policy

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch sees no CUDA GPU: pass --device cpu")
    torch.backends.cudnn.allow_tf32 = False  # the fp32 reference: no TF32 convolutions
    # each compiled row is a new model object: a recompile of VLAModel.forward, not a fallback
    for knob in ("cache_size_limit", "recompile_limit"):
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, 64)
    obs = load_observations(args.obs)[: args.max_obs]
    policy = Policy.from_pretrained(args.checkpoint, device=args.device,
                                    text_cache=args.text_cache)  # fmt: skip
    ref = plain_logits(policy, obs, args.batch)
    variants = {f"fast {dt}": fast_logits(policy, obs, dt, args.batch)
                for dt in filter(None, args.dtypes.split(","))}  # fmt: skip
    fid = fidelity_rows(policy, ref, variants, args.readouts.split(","))
    for name, r in fid.items():
        print(f"{name:44s} agree {r['token_agreement']:.4f}  <=1 bin {r['within_1_bin']:.4f}  "
              f">2 bins {r['tokens_over_2_bins_continuous']:4d}  max/dim "
              f"{r['max_bins_per_dim']}  grip flips {r.get('gripper_flips', 0)}")  # fmt: skip
    del policy
    lat = latency_rows(args, obs, ref)
    result = {
        "config": vars(args), "torch": torch.__version__, "observations": len(obs),
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "checkpoint_readout": json.loads((Path(args.checkpoint) / "policy_meta.json")
                                         .read_text()).get("readout", "argmax"),
        "fidelity": fid, "latency_batch1": lat,
    }  # fmt: skip
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

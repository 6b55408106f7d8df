"""Latency benchmark: the fast path and the plain paths of one checkpoint, side by side.

    checkpoint --Policy (fp32 eager)---------------------> row plain_parallel
               --AR twin (same weights, untrained AR head;
                 token-by-token greedy, DynamicCache)-----> row plain_generate
               --FastPolicy (bf16, static buckets, graphs)-> rows fast_e2e, fast_device,
                                                             fast_no_graph_e2e
    + token parity (fast vs plain parallel), weight bytes, FLOPs per chunk, latency floors

Every row times one action chunk per sample for ``batch`` synthetic observations (random uint8
images, random state, the first instruction of the text cache). End-to-end rows go from numpy
observations to numpy actions (``predict_batch``, which ends in a device->host copy, hence a
synchronisation); ``fast_device`` is the captured forward alone, timed with CUDA events, inputs
already on the device. Warm-up iterations are excluded; percentiles are over the timed ones.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vla.constants import OBS_STATE, TASK
from vla.inference.cost import count_flops, floors, gpu_spec, weight_bytes
from vla.inference.fast_policy import PARITY_MIN_AGREEMENT, FastConfig, FastPolicy
from vla.model.text import WordVocab
from vla.policy import Policy
from vla.policy.transforms import EmbedInstruction

ROW_DOCS: dict[str, str] = {
    "fast_e2e": "FastPolicy.predict_batch: numpy obs -> actions; fp16/bf16 weights, static "
    "bucket, uint8 pre-processing on device, CUDA graph replay (CPU: eager fp32)",
    "fast_device": "the captured forward alone (graph replay / eager), inputs resident on the "
    "device; CUDA events",
    "fast_no_graph_e2e": "FastPolicy with cuda_graphs=False (same dtype/buckets): what the "
    "graph saves",
    "plain_parallel": "Policy.predict_batch: fp32 eager parallel forward (the shipped path)",
    "onnx_fp32": "OnnxPolicy.predict_batch: the exported fp32 graph under ONNX Runtime (CPU)",
    "onnx_int8": "OnnxPolicy.predict_batch: the int8 build (int8 weight MatMuls of the "
    "decoder, vla export --int8) under ONNX Runtime (CPU)",
    "plain_generate": "generate()-style greedy autoregressive decode of the same model: one "
    "backbone call per action token with a transformers DynamicCache, fp32 eager (shipped "
    "checkpoint is parallel-trained: the AR token embedding is freshly initialised, so its "
    "tokens are meaningless; latency only)",
}


@dataclass(frozen=True)
class BenchConfig:
    """What ``vla bench`` measures (see the module docstring)."""

    checkpoint: str
    device: str = "cuda"
    batch: int = 1
    iters: int = 200
    warmup: int = 20
    ar_iters: int = 10
    text_cache: str | None = None
    instruction: str | None = None
    dtype: str | None = None
    skip_generate: bool = False
    synthetic_text: bool = False
    parity_samples: int = 32
    seed: int = 0
    onnx: str | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        if self.device not in ("cuda", "cpu"):
            raise ValueError(f"device={self.device!r}: choose cuda or cpu")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device cuda but torch sees no CUDA GPU: pass --device cpu")
        for name in ("batch", "iters", "ar_iters", "parity_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.compile and self.device != "cuda":
            raise ValueError("--compile needs --device cuda (torch.compile inside CUDA graphs)")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")


SYNTHETIC_INSTRUCTION = "synthetic instruction with random minilm states"


def pick_instruction(policy: Policy, wanted: str | None, synthetic: bool = False) -> str:
    """``wanted``, else the first instruction of the checkpoint's text cache (file order).

    ``synthetic`` (latency only, MiniLM checkpoints): registers ``SYNTHETIC_INSTRUCTION`` with
    random 12-token MiniLM-shaped states in the policy's text cache and returns it.
    """
    if wanted:
        return wanted
    enc = next(t for t in policy.chain if isinstance(t, EmbedInstruction)).encoder
    if synthetic and not isinstance(enc, WordVocab):
        gen = torch.Generator().manual_seed(0)
        dim = policy.model.config.text_dim
        enc.entries[SYNTHETIC_INSTRUCTION] = torch.randn(12, dim, generator=gen).half()
        return SYNTHETIC_INSTRUCTION
    if isinstance(enc, WordVocab):  # trainable words: any text embeds (unknown words -> UNK)
        return " ".join(enc.words[2:6]) or "pick up the cube"
    if not enc.entries:
        raise ValueError(
            "the checkpoint has no text_cache.safetensors and no --instruction was given: pass "
            "--text-cache FILE (written by `vla text-cache`), --instruction TEXT (needs MiniLM) "
            "or --synthetic-text (random instruction states: latency figures only)"
        )
    return next(iter(enc.entries))


def synthetic_observations(policy: Policy, n: int, instruction: str | Sequence[str],
                           seed: int = 0) -> list[dict]:  # fmt: skip
    """``n`` observations with random uint8 images and random state (fixed seed); the
    instruction, or each of a list in turn."""
    tasks = [instruction] if isinstance(instruction, str) else list(instruction)
    rng = np.random.default_rng(seed)
    h, w = policy.meta.image_size
    out = []
    for i in range(n):
        obs = {k: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for k in policy.meta.camera_keys}
        obs[OBS_STATE] = rng.normal(size=len(policy.meta.state_names)).astype(np.float32)
        obs[TASK] = tasks[i % len(tasks)]
        out.append(obs)
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_row(
    fn: Callable[[], object], iters: int, warmup: int, device: torch.device, batch: int,
    chunk_size: int, cuda_events: bool = False,
) -> dict:  # fmt: skip
    """Latency percentiles (ms per call = per chunk of every sample), throughput, peak memory."""
    for _ in range(warmup):
        fn()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    lat = []
    for _ in range(iters):
        if cuda_events and device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            lat.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            _sync(device)
            lat.append((time.perf_counter() - t0) * 1e3)
    ms = np.asarray(lat)
    chunks_s = batch / (ms.mean() / 1e3)
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "iters": iters,
        "warmup": warmup,
        "chunks_per_s": float(chunks_s),
        "actions_per_s": float(chunks_s * chunk_size),
        "peak_mem_bytes": int(torch.cuda.max_memory_allocated(device))
        if device.type == "cuda"
        else None,  # fmt: skip
    }


def autoregressive_twin(policy: Policy) -> Policy:
    """A Policy over an autoregressive copy of the model: every shared weight (vision, text,
    state, decoder, head) copied; the action-token embedding freshly initialised."""
    from vla.model import VLAModel

    cfg = copy.deepcopy(policy.model.config)
    cfg.decode_mode = "autoregressive"
    torch.manual_seed(0)
    twin = VLAModel(cfg)
    missing, _ = twin.load_state_dict(policy.model.state_dict(), strict=False)
    unexpected_missing = [k for k in missing if not k.startswith("action_embed")]
    if unexpected_missing:
        raise RuntimeError(f"AR twin lacks weights {unexpected_missing}")
    text = next(t for t in policy.chain if isinstance(t, EmbedInstruction))
    return Policy(twin, policy.tokenizer, policy.stats, policy.meta, text, str(policy.device))


def token_parity(policy: Policy, fast: FastPolicy, observations: list[dict]) -> dict:
    """Fast vs plain parallel action ids on the same observations."""
    plain = policy.predict_ids(observations)  # the same readout as the fast path
    fast_ids = fast.predict_tokens(observations)
    diff = (plain.cpu() - fast_ids.cpu()).abs()
    return {
        "samples": len(observations),
        "tokens": int(diff.numel()),
        "agreement": float((diff == 0).float().mean()),
        "max_bin_distance": int(diff.max()),
        "mean_abs_bin_distance": float(diff.float().mean()),
        "min_agreement_required": PARITY_MIN_AGREEMENT[str(fast.dtype).removeprefix("torch.")],
    }


def onnx_rows(cfg: BenchConfig, policy: Policy, obs: list[dict],
              log: Callable[[str], None]) -> dict[str, dict]:  # fmt: skip
    """Rows ``onnx_fp32`` / ``onnx_int8`` for the files present in the ``cfg.onnx`` folder."""
    from vla.export.quantize import INT8_FILENAME
    from vla.inference.onnx_policy import OnnxPolicy

    text = next(t for t in policy.chain if isinstance(t, EmbedInstruction))
    rows = {}
    for row, fname in (("onnx_fp32", "policy.onnx"), ("onnx_int8", INT8_FILENAME)):
        if not (Path(cfg.onnx) / fname).is_file():
            continue
        onnx = OnnxPolicy(cfg.onnx, fname, text_encoder=text)
        log(f"[bench] {row} ({cfg.iters} iters)")
        rows[row] = time_row(lambda o=onnx: o.predict_batch(obs), cfg.iters, cfg.warmup,
                             torch.device("cpu"), cfg.batch, policy.meta.chunk_size)  # fmt: skip
    return rows


def run_bench(cfg: BenchConfig, log: Callable[[str], None] = print) -> dict:
    """Measure every row (see ``ROW_DOCS``); returns the JSON-able result."""
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    policy = Policy.from_pretrained(cfg.checkpoint, device=cfg.device, text_cache=cfg.text_cache)
    h = policy.meta.chunk_size
    instruction = pick_instruction(policy, cfg.instruction, cfg.synthetic_text)
    obs = synthetic_observations(policy, cfg.batch, instruction, cfg.seed)
    timing = {"device": device, "batch": cfg.batch, "chunk_size": h}
    rows: dict[str, dict] = {}
    one = policy._batch(obs[:1])
    flops = count_flops(policy.model, (one["images"], one[OBS_STATE], one["text"],
                                       one["text_mask"]))  # fmt: skip

    log(f"[bench] plain_parallel ({cfg.iters} iters)")
    rows["plain_parallel"] = time_row(lambda: policy.predict_batch(obs), cfg.iters, cfg.warmup,
                                      **timing)  # fmt: skip
    if not cfg.skip_generate:
        twin = autoregressive_twin(policy)
        log(f"[bench] plain_generate ({cfg.ar_iters} iters)")
        rows["plain_generate"] = time_row(lambda: twin.predict_batch(obs), cfg.ar_iters,
                                          min(cfg.warmup, 2), **timing)  # fmt: skip
        del twin
    if cfg.onnx:
        rows.update(onnx_rows(cfg, policy, obs, log))
    log("[bench] building FastPolicy (graph capture)")
    fast = FastPolicy(policy, FastConfig(dtype=cfg.dtype, compile=cfg.compile))
    fast.warmup([cfg.batch])
    many = synthetic_observations(policy, cfg.parity_samples, instruction, cfg.seed + 1)
    parity = token_parity(policy, fast, many)
    fast_bytes, plain_bytes = weight_bytes(fast.model), weight_bytes(policy.model)
    policy.model.to("cpu")  # the fast rows' peak memory holds the fast model only
    if device.type == "cuda":
        torch.cuda.empty_cache()
    log(f"[bench] fast rows ({cfg.iters} iters)")
    rows["fast_e2e"] = time_row(lambda: fast.predict_batch(obs), cfg.iters, cfg.warmup, **timing)
    static = fast.bucket_for(cfg.batch)
    rows["fast_device"] = time_row(static.run, cfg.iters, cfg.warmup, cuda_events=True, **timing)
    graphs = fast.graph_status()
    if device.type == "cuda":
        eager = FastPolicy(policy, FastConfig(dtype=cfg.dtype, cuda_graphs=False))
        eager.model = fast.model  # same weights; nothing else differs
        eager.warmup([cfg.batch])
        rows["fast_no_graph_e2e"] = time_row(lambda: eager.predict_batch(obs), cfg.iters,
                                             cfg.warmup, **timing)  # fmt: skip
    p50 = {k: r["p50_ms"] for k, r in rows.items()}
    speedups = {
        f"{plain}/{f}": p50[plain] / p50[f]
        for plain in ("plain_generate", "plain_parallel", "fast_no_graph_e2e", "onnx_fp32")
        for f in ("fast_e2e", "fast_device", "onnx_int8")
        if plain in p50 and f in p50
    }
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    table = floors(fast_bytes, flops, cfg.batch)
    spec = gpu_spec(gpu) if gpu else None
    projection = None
    if spec is not None:
        here = next(v for v in table.values() if v["name"] == spec.name)
        efficiency = here["floor_ms_per_batch"] / p50["fast_device"]
        projection = {
            "assumption": "a projection, not a measurement: the fast path is assumed to reach "
            "on the Jetson the same fraction of its latency floor (max(weight bytes / bandwidth, "
            "FLOPs / dense fp16 peak), spec-sheet figures in vla.inference.cost.DEVICE_SPECS) as "
            "fast_device reaches here; the path here is launch-bound, and a Jetson's slower CPU "
            "and kernel launches can make it slower than projected (or TensorRT faster): "
            "measure on the device (trtexec / vla bench there)",
            "fraction_of_floor_here": efficiency,
            **{
                k: table[k]["floor_ms_per_batch"] / efficiency for k in ("agx-orin", "orin-nano")
            },  # fmt: skip
        }
    return {
        "config": asdict(cfg),
        "gpu": gpu,
        "torch": torch.__version__,
        "instruction": instruction,
        "fast_dtype": str(fast.dtype).removeprefix("torch."),
        "cuda_graphs": {str(k): v for k, v in graphs.items()},
        "rows": rows,
        "row_docs": {k: ROW_DOCS[k] for k in rows},
        "speedup_p50": speedups,
        "parity": parity,
        "weight_bytes": {"fast": fast_bytes, "plain_fp32": plain_bytes},
        "flops_per_chunk": flops,
        "flops_note": "FlopCounterMode over one batch-1 parallel forward (real text length); "
        "a multiply-add counts 2",
        "floors_ms": table,
        "orin_projection_ms": projection,
    }

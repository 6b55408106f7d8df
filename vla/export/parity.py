"""Parity and latency of an exported ONNX policy: ONNX Runtime (CPU) vs PyTorch fp32.

Both run the same random inputs (``example_inputs``); token agreement is the fraction of
identical action ids, action RMSE is over the decoded chunks (robot units, via the exported
``action_tokenizer/``), logits max-abs-diff shows how close the two float paths are.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vla.export.onnx_export import (
    EXPORT_META_FILENAME,
    ONNX_FILENAME,
    build_graph,
    example_inputs,
)
from vla.policy.action_tokens import decode_tokens
from vla.policy.checkpoint import TOKENIZER_DIRNAME
from vla.tokenizers import load_tokenizer


@dataclass(frozen=True)
class ParityReport:
    """ORT-vs-PyTorch figures over ``samples`` random inputs (``samples / batch`` runs)."""

    samples: int
    token_agreement: float  # fraction of identical ids, 1.0 = all
    action_rmse: float  # robot units, over decoded chunks
    logits_max_abs_diff: float
    ort_latency_ms_median: float  # one ORT CPU run of one batch
    ort_latency_ms_p90: float
    onnx_bytes: int

    def to_json(self) -> dict:
        """Plain-dict form (for export_meta.json)."""
        return asdict(self)


def ort_session(out_dir: str | Path, threads: int = 0):
    """A CPU ONNX Runtime session on ``DIR/policy.onnx`` (``threads`` 0 = ORT's default)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(Path(out_dir) / ONNX_FILENAME), opts,
                                providers=["CPUExecutionProvider"])  # fmt: skip


def check_parity(
    checkpoint: str | Path,
    out_dir: str | Path,
    runs: int = 4,
    latency_repeats: int = 20,
    threads: int = 0,
) -> ParityReport:
    """Compare ``DIR/policy.onnx`` under ORT with the checkpoint's fp32 PyTorch forward."""
    from vla.policy import Policy

    out_dir = Path(out_dir)
    meta = json.loads((out_dir / EXPORT_META_FILENAME).read_text())
    specs = meta["inputs"]
    policy = Policy.from_pretrained(checkpoint, device="cpu")
    graph = build_graph(policy)
    tokenizer = load_tokenizer(out_dir / TOKENIZER_DIRNAME)
    sess = ort_session(out_dir, threads)
    ids_t, ids_o, logit_diff = [], [], 0.0
    for seed in range(runs):
        feed = example_inputs(specs, seed=seed + 1)
        with torch.no_grad():
            ids, logits = graph(*(torch.from_numpy(feed[s["name"]]) for s in specs))
        o_ids, o_logits = sess.run(["action_ids", "logits"], feed)
        ids_t.append(ids.numpy())
        ids_o.append(o_ids)
        logit_diff = max(logit_diff, float(np.abs(logits.numpy() - o_logits).max()))
    a, b = np.concatenate(ids_t), np.concatenate(ids_o)
    chunk, eos = meta["chunk_size"], meta["eos_id"]
    act_t, act_o = decode_tokens(tokenizer, a, chunk, eos), decode_tokens(tokenizer, b, chunk, eos)
    feed = example_inputs(specs, seed=0)
    sess.run(["action_ids"], feed)  # warm-up
    times = []
    for _ in range(latency_repeats):
        t0 = time.perf_counter()
        sess.run(["action_ids"], feed)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return ParityReport(
        samples=int(a.shape[0]),
        token_agreement=float((a == b).mean()),
        action_rmse=float(np.sqrt(np.mean((act_t - act_o) ** 2))),
        logits_max_abs_diff=logit_diff,
        ort_latency_ms_median=statistics.median(times),
        ort_latency_ms_p90=times[min(len(times) - 1, int(0.9 * len(times)))],
        onnx_bytes=(out_dir / ONNX_FILENAME).stat().st_size,
    )


def record_parity(out_dir: str | Path, report: ParityReport) -> None:
    """Add the parity figures to ``DIR/export_meta.json``."""
    path = Path(out_dir) / EXPORT_META_FILENAME
    meta = json.loads(path.read_text())
    meta["parity_onnxruntime_cpu"] = report.to_json()
    path.write_text(json.dumps(meta, indent=1))

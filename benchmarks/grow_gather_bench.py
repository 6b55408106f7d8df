"""What training while generating costs per step: ``MemoryBatches.batch`` over 1 vs many segments.

    .venv/bin/python benchmarks/grow_gather_bench.py [--frames 20000] [--segments 1 8 32]
        [--batch 256] [--repeats 200] [--device cpu|cuda] [--json OUT]

A grown memory set holds one segment per ``extend`` (``vla train --grow_s``: one per poll, ~25
in an 8-minute run polling every 20 s). A batch then sorts its indices and gathers each
segment's run. This times that gather (both 128x128 cameras, state, targets, masks) against the
single-segment gather on the same frames, and checks that both return the same batch. Synthetic
frames: the gather's cost does not depend on their content.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from vla.data.episode_arrays import EpisodeArrays
from vla.tokenizers import BinningActionTokenizer, BinningConfig
from vla.train.data import MemoryBatches


def synthetic(frames: int, chunk: int = 8, dim: int = 7, size: int = 128) -> EpisodeArrays:
    rng = np.random.default_rng(0)
    cams = ("observation.images.scene", "observation.images.wrist")
    return EpisodeArrays(
        frames={k: rng.integers(0, 256, (frames, size, size, 3), np.uint8) for k in cams},
        state=rng.standard_normal((frames, 15), np.float32),
        chunks=rng.uniform(-0.05, 0.05, (frames, chunk, dim)).astype(np.float32),
        is_pad=np.zeros((frames, chunk), bool),
        task_index=rng.integers(0, 10, frames),
        instructions=[f"task {i}" for i in range(10)],
    )


def sliced(a: EpisodeArrays, lo: int, hi: int) -> EpisodeArrays:
    return EpisodeArrays({k: v[lo:hi] for k, v in a.frames.items()}, a.state[lo:hi],
                         a.chunks[lo:hi], a.is_pad[lo:hi], a.task_index[lo:hi],
                         a.instructions)  # fmt: skip


def build(a: EpisodeArrays, segments: int, tok, device: str) -> MemoryBatches:
    cuts = np.linspace(0, len(a.state), segments + 1).astype(int)
    data = MemoryBatches(sliced(a, cuts[0], cuts[1]), tok, 64, 1, device)
    for lo, hi in zip(cuts[1:-1], cuts[2:], strict=True):
        data.extend(sliced(a, lo, hi))
    return data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--segments", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    arrays = synthetic(args.frames)
    stats = {
        k: v * np.ones(7)
        for k, v in (
            ("min", -0.05),
            ("max", 0.05),
            ("q01", -0.05),
            ("q99", 0.05),
            ("mean", 0.0),
            ("std", 0.03),
        )
    }
    tok = BinningActionTokenizer(stats, BinningConfig())
    dev = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    idxs = [torch.randint(args.frames, (args.batch,), generator=g) for _ in range(args.repeats)]
    reference = None
    rows = []
    print(f"{'segments':>8s} {'median ms':>10s} {'p90 ms':>8s}  (batch {args.batch}, "
          f"{args.frames} frames, {dev})")  # fmt: skip
    for segments in args.segments:
        data = build(arrays, segments, tok, args.device)
        first = data.batch(idxs[0], dev)
        if reference is None:
            reference = first
        else:  # the same batch whatever the segmentation
            for k, v in reference.items():
                assert torch.equal(first[k], v), f"segments={segments}: {k} differs"
        times = []
        for idx in idxs:
            t0 = time.perf_counter()
            out = data.batch(idx, dev)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(1e3 * (time.perf_counter() - t0))
        del out
        q = statistics.quantiles(times, n=10)
        rows.append({"segments": segments, "median_ms": statistics.median(times), "p90_ms": q[8]})
        print(f"{segments:8d} {rows[-1]['median_ms']:10.2f} {rows[-1]['p90_ms']:8.2f}")
        del data
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": str(dev), "frames": args.frames,
                                         "batch": args.batch, "rows": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

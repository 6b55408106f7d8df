"""Dataset throughput: writing, and PyTorch DataLoader samples/s with 0 and 2 workers.

    nice .venv/bin/python benchmarks/dataset_bench.py [--episodes 40] [--length 100] \
        [--json benchmarks/results/dataset_bench.json]

Builds a synthetic dataset (128x128 scene + wrist cameras: a moving square over a gradient,
H.264), then reads it through ``LeRobotTorchDataset`` (chunk 16, batch 32) with random
shuffling and with ``EpisodeChunkSampler``, for one cold epoch (decoding) and one warm epoch
(decoded episodes cached), plus a first-8-batches figure with a cache of only 8 episodes.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE, TASK
from vla.data import DatasetWriter, default_features
from vla.data.torch_dataset import EpisodeChunkSampler, LeRobotTorchDataset


def synthetic_episode(e: int, length: int, size: int = 128):
    rng = np.random.default_rng(e)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 40 * (e % 6))], -1)
    for t in range(length):
        img = base.astype(np.uint8).copy()
        cx, cy = int(20 + t * 0.8) % (size - 16), int(60 + 20 * np.sin(t / 10)) % (size - 16)
        img[cy : cy + 16, cx : cx + 16] = (220, 30, 30)
        yield {
            IMAGE_KEYS[0]: img,
            IMAGE_KEYS[1]: img[::-1].copy(),
            OBS_STATE: rng.normal(size=15).astype(np.float32),
            ACTION: rng.uniform(-1, 1, 7).astype(np.float32),
            TASK: f"pick up cube {e % 4}",
        }


def bench_loader(ds, sampler, workers: int, batch: int = 32, max_batches: int = 0) -> dict:
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, sampler=sampler,
                                         num_workers=workers, persistent_workers=workers > 0)  # fmt: skip
    out = {}
    for epoch in ("cold", "warm"):
        t0, n = time.perf_counter(), 0
        for i, b in enumerate(loader):
            n += len(b[TASK])
            if max_batches and i + 1 >= max_batches:
                break
        out[epoch] = n / (time.perf_counter() - t0)
        if max_batches:
            break
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        t0 = time.perf_counter()
        w = DatasetWriter(root, 10, default_features((128, 128)), "panda")
        for e in range(args.episodes):
            for frame in synthetic_episode(e, args.length):
                w.add_frame(frame)
            w.save_episode()
        w.finalize()
        write_s = time.perf_counter() - t0
        frames = args.episodes * args.length
        size_mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
        results = {
            "episodes": args.episodes, "frames": frames, "image_size": [128, 128],
            "write_frames_per_s": frames / write_s, "dataset_mb": size_mb, "loader": {},
        }  # fmt: skip
        ds = LeRobotTorchDataset(root, chunk_size=16, cache_bytes=2 << 30)
        t0 = time.perf_counter()
        ds.episode_frames(0)
        results["decode_episode_ms"] = 1000 * (time.perf_counter() - t0)
        for workers in (0, 2):
            for name in ("random", "episode_blocks"):
                ds = LeRobotTorchDataset(root, chunk_size=16, cache_bytes=2 << 30)
                sampler = (torch.utils.data.RandomSampler(ds, generator=torch.Generator().manual_seed(0))
                           if name == "random" else EpisodeChunkSampler(ds, 8))  # fmt: skip
                results["loader"][f"{name}/workers={workers}"] = bench_loader(ds, sampler, workers)
        # a cache holding 8 of the episodes: random order re-decodes for nearly every sample
        episode_bytes = 2 * args.length * 128 * 128 * 3
        for name in ("random", "episode_blocks"):
            ds = LeRobotTorchDataset(root, chunk_size=16, cache_bytes=8 * episode_bytes)
            sampler = (torch.utils.data.RandomSampler(ds, generator=torch.Generator().manual_seed(0))
                       if name == "random" else EpisodeChunkSampler(ds, 8))  # fmt: skip
            results["loader"][f"{name}/workers=0/cache=8ep"] = bench_loader(
                ds, sampler, 0, max_batches=8
            )
    print(f"write: {results['write_frames_per_s']:.0f} frames/s (2 cameras, H.264), "
          f"{results['dataset_mb']:.1f} MB for {frames} frames; decode one "
          f"{args.length}-frame episode (2 cameras): {results['decode_episode_ms']:.0f} ms")  # fmt: skip
    print(f"{'sampler/workers':28s} {'cold samples/s':>15s} {'warm samples/s':>15s}")
    for key, r in results["loader"].items():
        warm = f"{r['warm']:15.0f}" if "warm" in r else f"{'-':>15s}"
        print(f"{key:28s} {r['cold']:15.0f} {warm}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

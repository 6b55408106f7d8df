"""Keyframe spacing (GOP) of dataset videos: random-access decode time against file size.

    nice .venv/bin/python benchmarks/video_gop_bench.py [--episodes 6] [--gops 2 20] \
        [--samples 300] [--json benchmarks/results/video_gop_bench.json]

Renders ``--episodes`` scripted-expert episodes of pick_place in MuJoCo (128x128 scene camera,
10 Hz: what `vla data generate` records), encodes each with every GOP in ``--gops`` (H.264,
the dataset encoder's settings), and measures per GOP: encode ms/frame, bytes/frame, random
access ms/frame (one frame at a random timestamp, seek + decode: what a shuffled training loader
or LeRobot's loader does per sample) and sequential decode ms/frame (a whole episode). All GOPs
are measured in the same run on the same frames. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from vla.constants import OBS_IMAGE_SCENE
from vla.data.video import decode_window, encode_video


def render_episodes(n: int, seed: int) -> list[np.ndarray]:
    """Scene-camera frames (T, 128, 128, 3) of ``n`` expert attempts (successful or not)."""
    from vla.rollout.generate import GenerateConfig, make_jobs, sim_families, sim_rollout

    cfg = GenerateConfig(out=Path("unused"), episodes=n, seed=seed, progress=False)
    jobs = make_jobs(cfg, sim_families(cfg.suite), 0)
    return [sim_rollout(job).arrays[OBS_IMAGE_SCENE] for job in jobs]


def encode_all(videos: list[np.ndarray], gop: int, tmp: Path, fps: float) -> dict:
    paths, t_encode = [], 0.0
    for i, video in enumerate(videos):
        path = tmp / f"gop{gop}_{i}.mp4"
        t0 = time.perf_counter()
        encode_video(path, video, fps, gop=gop)
        t_encode += time.perf_counter() - t0
        paths.append(path)
    frames = sum(map(len, videos))
    size = sum(p.stat().st_size for p in paths)
    return {"gop": gop, "paths": paths, "frames": frames, "bytes_per_frame": size / frames,
            "encode_ms_per_frame": 1000 * t_encode / frames}  # fmt: skip


def time_reads(videos: list[np.ndarray], rows: list[dict], samples: int, fps: float) -> None:
    """Random single-frame reads, the GOPs interleaved per sample (a busy machine's load hits
    them alike), then a sequential decode of every episode."""
    rng = np.random.default_rng(0)
    spent = {r["gop"]: 0.0 for r in rows}
    for _ in range(samples):
        e = int(rng.integers(len(videos)))
        k = int(rng.integers(len(videos[e])))
        for r in rows:
            t0 = time.perf_counter()
            decode_window(r["paths"][e], k / fps, (k + 1) / fps, fps, expected=1)
            spent[r["gop"]] += time.perf_counter() - t0
    for r in rows:
        r["random_access_ms_per_frame"] = 1000 * spent[r["gop"]] / samples
        t0 = time.perf_counter()
        for path, video in zip(r["paths"], videos, strict=True):
            decode_window(path, 0.0, len(video) / fps, fps, expected=len(video))
        r["sequential_decode_ms_per_frame"] = 1000 * (time.perf_counter() - t0) / r["frames"]
        del r["paths"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=8, help="expert episodes rendered")
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes")
    p.add_argument("--gops", type=int, nargs="+", default=[2, 20], help="keyframe intervals")
    p.add_argument("--samples", type=int, default=300, help="random single-frame reads per GOP")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    t0 = time.perf_counter()
    videos = render_episodes(args.episodes, args.seed)
    print(f"rendered {len(videos)} episodes ({sum(map(len, videos))} frames, 128x128) in "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        rows = [encode_all(videos, g, Path(tmp), 10.0) for g in args.gops]
        time_reads(videos, rows, args.samples, 10.0)
    print(f"{'GOP':>4} {'KB/frame':>9} {'encode ms/fr':>13} {'random ms/fr':>13} "
          f"{'sequential ms/fr':>17}")  # fmt: skip
    for r in rows:
        print(f"{r['gop']:>4} {r['bytes_per_frame'] / 1024:>9.2f} {r['encode_ms_per_frame']:>13.2f} "
              f"{r['random_access_ms_per_frame']:>13.2f} "
              f"{r['sequential_decode_ms_per_frame']:>17.2f}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"episodes": args.episodes, "rows": rows}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

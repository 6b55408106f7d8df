"""Demonstration generation throughput: episodes/min per worker, and 1 -> 2 worker scaling.

    nice .venv/bin/python benchmarks/datagen_bench.py --backend mujoco --episodes 8 \
        [--workers 1 2] [--json /tmp/datagen_bench.json]

Runs ``vla.rollout.generate.generate`` (scripted experts, real simulator) into a fresh temporary
dataset per worker count and reports attempts/min (all attempts, failed ones included, since
they cost the same), successful episodes/min, attempts/min per worker, and the speed-up over
one worker. ``--fake`` swaps in a CPU-bound stand-in rollout (to check the machinery only).
Worker start-up (spawn, simulator import) is included, as a user would see it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from vla.constants import ACTION, IMAGE_KEYS, OBS_STATE
from vla.rollout.generate import EpisodeJob, EpisodeResult, GenerateConfig, generate, sim_rollout


def fake_rollout(job: EpisodeJob) -> EpisodeResult:
    """~0.5 s of numpy work and a 60-frame episode: a stand-in for a simulator."""
    rng = np.random.default_rng(job.seed)
    a = rng.normal(size=(300, 300))
    for _ in range(40):
        a = np.tanh(a @ a.T / 300)
    n, (h, w) = 60, job.image_size
    frames = {k: rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8) for k in IMAGE_KEYS}
    frames[OBS_STATE] = rng.normal(size=(n, 15)).astype(np.float32)
    frames[ACTION] = rng.uniform(-1, 1, (n, 7)).astype(np.float32)
    return EpisodeResult(
        job.seed,
        job.family,
        f"{job.family} task",
        True,
        len(frames[ACTION]),
        index=job.index,
        arrays=frames,
    )


def dataset_actions(root: Path) -> list[np.ndarray]:
    """Per-episode action arrays (to compare datasets made with different worker counts)."""
    from vla.data import LeRobotDatasetReader

    if not (root / "meta/episodes").exists():
        return []
    r = LeRobotDatasetReader(root)
    return [r.episode_arrays(e)[ACTION] for e in range(r.num_episodes)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="mujoco", choices=["mujoco", "pybullet"])
    p.add_argument("--suite", default="pick_place")
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fake", action="store_true", help="stand-in rollout, no simulator")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    rollout = fake_rollout if args.fake else sim_rollout
    families = ["fake"] if args.fake else None
    rows, contents = [], []
    tmp = tempfile.TemporaryDirectory()
    for workers in args.workers:
        cfg = GenerateConfig(out=Path(tmp.name) / f"w{workers}", suite=args.suite,
                             backend=args.backend, episodes=args.episodes, workers=workers,
                             seed=args.seed, progress=False)  # fmt: skip
        t0 = time.perf_counter()
        s = generate(cfg, rollout, families)
        minutes = (time.perf_counter() - t0) / 60
        contents.append(dataset_actions(cfg.out))
        rows.append({
            "workers": workers, "attempts": s["attempted"], "successes": s["succeeded"],
            "frames": s["frames_in_dataset"], "seconds": 60 * minutes,
            "attempts_per_min": s["attempted"] / minutes,
            "episodes_per_min": s["succeeded"] / minutes,
            "attempts_per_min_per_worker": s["attempted"] / minutes / workers,
        })  # fmt: skip
    tmp.cleanup()
    identical = all(
        len(c) == len(contents[0])
        and all(np.array_equal(a, b) for a, b in zip(c, contents[0], strict=True))
        for c in contents
    )
    base = rows[0]["attempts_per_min"]
    for r in rows:
        r["speedup"] = r["attempts_per_min"] / base
    mode = "fake rollout" if args.fake else f"{args.suite}/{args.backend}"
    print(f"datagen {mode}, {args.episodes} attempts per run")
    print(f"{'workers':>7s} {'attempts/min':>12s} {'episodes/min':>12s} {'per worker':>10s} "
          f"{'speed-up':>8s} {'success':>8s} {'seconds':>8s}")  # fmt: skip
    for r in rows:
        print(f"{r['workers']:7d} {r['attempts_per_min']:12.1f} {r['episodes_per_min']:12.1f} "
              f"{r['attempts_per_min_per_worker']:10.1f} {r['speedup']:8.2f} "
              f"{r['successes']:3d}/{r['attempts']:<4d} {r['seconds']:8.1f}")  # fmt: skip
    print(f"datasets identical across worker counts: {identical}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"mode": mode, "runs": rows, "identical": identical}, indent=2)
        )


if __name__ == "__main__":
    main()

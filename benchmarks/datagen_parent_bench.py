"""Parent-side cost of demonstration generation: ms per episode the single parent spends.

    MUJOCO_GL=egl nice .venv/bin/python benchmarks/datagen_parent_bench.py [--saves 50] \
        [--mode old new generate] [--cache /tmp/datagen_parent_episodes.npz] [--json OUT]

Records a few real expert episodes once (MuJoCo pick_place, 128x128, cached in ``--cache``),
then writes ``--saves`` episodes (cycling them) into a fresh dataset the way generation's
parent does, with its batched commits (``COMMIT_EVERY``):

- ``old``: the raw frames arrive from the worker (unpickle) and the parent runs
  ``add_frame`` per frame + ``save_episode`` (H.264 encoding, image statistics, parquet, fsyncs);
- ``new``: the worker ran ``prepare_episode`` (encoding + statistics, timed separately as worker
  cost); the parent unpickles the compact result and calls ``save_prepared``.

- ``generate``: the real ``generate()`` loop (in-process, the recorded episodes replayed as
  rollouts) over ``--saves`` attempts; reports its own ``parent_write_s`` split plus the final
  merge (``finalize``), so per-run costs that grow with the dataset (table rewrites, merges)
  show up at large ``--saves`` (e.g. 2000), which the per-save modes above do not exercise.

Reports wall and CPU ms per episode in the parent (the parent is the serial bottleneck: with W
workers generation cannot exceed 60000 / parent_ms episodes/min). ``old`` uses only the public
writer API, so it also runs against an older checkout via PYTHONPATH.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from vla.constants import TASK
from vla.data import DatasetWriter
from vla.data.generate import COMMIT_EVERY, GenerateConfig, dataset_features, make_jobs


def record_episodes(cache: Path, count: int) -> list[tuple[dict, str]]:
    """Real expert episodes (successful attempts of the first ``count * 2`` seeds), cached."""
    if not cache.exists():
        from vla.data.generate import sim_families, sim_rollout

        cfg = GenerateConfig(out=Path("unused"), episodes=count * 2, progress=False)
        saved: dict[str, np.ndarray] = {}
        n = 0
        for job in make_jobs(cfg, sim_families(cfg.suite), 0):
            res = sim_rollout(job)
            if res.success and n < count:
                saved |= {f"{n}/{k}": v for k, v in res.frames.items()}
                saved[f"{n}/{TASK}"] = np.array(res.task)
                n += 1
        np.savez(cache, **saved)
    data = np.load(cache)
    n = len({k.split("/")[0] for k in data.files})
    return [
        ({k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"{i}/")
          and not k.endswith(TASK)}, str(data[f"{i}/{TASK}"]))
        for i in range(n)
    ]  # fmt: skip


def run(mode: str, episodes: list[tuple[dict, str]], saves: int, root: Path) -> dict:
    cfg = GenerateConfig(out=root, progress=False)
    writer = DatasetWriter(root, cfg.fps, dataset_features(cfg), "panda",
                           commit_every=COMMIT_EVERY, consolidate_every=0)  # fmt: skip
    payloads, worker_s = [], 0.0
    for frames, task in episodes:  # what a worker sends back, pickled
        if mode == "old":
            payloads.append(pickle.dumps((frames, task)))
        else:
            from vla.data.episode_prep import prepare_episode

            t0 = time.perf_counter()
            prepared = prepare_episode(writer.episode_spec(), frames, task)
            worker_s += time.perf_counter() - t0
            payloads.append(pickle.dumps(prepared))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(saves):
        payload = pickle.loads(payloads[i % len(payloads)])
        if mode == "old":
            frames, task = payload
            for t in range(len(frames["action"])):
                writer.add_frame({**{k: v[t] for k, v in frames.items()}, TASK: task})
            writer.save_episode()
        else:
            writer.save_prepared(payload)
    writer.commit()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    writer.close()
    return {
        "mode": mode, "saves": saves, "parent_wall_ms": 1000 * wall / saves,
        "parent_cpu_ms": 1000 * cpu / saves,
        "payload_kb": np.mean([len(p) for p in payloads]) / 1024,
        "worker_prepare_ms": 1000 * worker_s / len(episodes) if mode == "new" else 0.0,
    }  # fmt: skip


_REPLAY: list[tuple[dict, str]] = []


def _replay(job):
    """A rollout that replays recorded episode ``job.index % n`` (every attempt succeeds)."""
    from vla.data.generate import EpisodeResult

    frames, task = _REPLAY[job.index % len(_REPLAY)]
    return EpisodeResult(job.index, True, task, dict(frames), 0.0)


def run_generate(episodes: list[tuple[dict, str]], saves: int, root: Path) -> dict:
    from vla.data.generate import generate

    _REPLAY[:] = episodes
    cfg = GenerateConfig(out=root, episodes=saves, workers=0, progress=False)
    t0 = time.perf_counter()
    summary = generate(cfg, _replay, ["replay"])
    total = time.perf_counter() - t0
    split = summary["time_split"]
    loop = split["parent_write_s"]
    final = total - split["rollout_s"] - split["encode_stats_s"] - loop
    kept = summary["new_successes"]
    return {"mode": "generate", "saves": kept, "parent_wall_ms": 1000 * (loop + final) / kept,
            "loop_ms": 1000 * loop / kept, "finalize_s": final,
            "worker_prepare_ms": 1000 * split["encode_stats_s"] / kept}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--saves", type=int, default=50)
    p.add_argument("--episodes", type=int, default=4, help="distinct recorded episodes")
    p.add_argument("--mode", nargs="+", default=["old", "new"], choices=["old", "new", "generate"])
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    p.add_argument("--cache", type=Path, default=Path("/tmp/datagen_parent_episodes.npz"))
    args = p.parse_args()
    episodes = record_episodes(args.cache, args.episodes)
    frames = np.mean([len(f["action"]) for f, _ in episodes])
    print(f"{len(episodes)} recorded episodes, {frames:.1f} frames each on average")
    print(f"{'mode':>5s} {'parent wall ms/ep':>17s} {'parent CPU ms/ep':>16s} "
          f"{'payload KB':>10s} {'worker prepare ms/ep':>20s}")  # fmt: skip
    rows = []
    for mode in args.mode:
        with tempfile.TemporaryDirectory() as tmp:
            if mode == "generate":
                r = run_generate(episodes, args.saves, Path(tmp) / "ds")
                print(
                    f"generate: {r['saves']} episodes, parent {r['parent_wall_ms']:.1f} ms/ep "
                    f"= loop {r['loop_ms']:.1f} ms/ep + final merge {r['finalize_s']:.1f} s "
                    f"(worker prepare {r['worker_prepare_ms']:.1f} ms/ep, not included)"
                )
            else:
                r = run(mode, episodes, args.saves, Path(tmp) / "ds")
                print(f"{r['mode']:>5s} {r['parent_wall_ms']:17.1f} {r['parent_cpu_ms']:16.1f} "
                      f"{r['payload_kb']:10.1f} {r['worker_prepare_ms']:20.1f}")  # fmt: skip
        rows.append(r)
    if args.json:
        import json

        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

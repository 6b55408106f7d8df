"""Control steps per second of the simulated environments, per engine.

One step = env.step(action): validation, IK, every physics substep of one 10 Hz control period,
the success predicate and (with cameras) rendering both 128x128 images. Actions come from the
scripted expert, so the arm moves and touches objects as in real rollouts. Episode resets
(scene build) are timed separately.

    python benchmarks/sim_speed.py [--backends mujoco pybullet] [--steps 600] [--workers 1 4]
                                   [--json benchmarks/sim_speed.json]

With --workers N, N processes step independent environments at once and the summed rate is
reported (the target on a 16-core GPU host: >= 2,000 steps/s summed over workers with EGL).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time


def measure(backend: str, render: bool, steps: int, image_size=(128, 128), family="pick") -> dict:
    """Steps/s of one environment over `steps` expert-driven control steps."""
    import sim
    from sim.experts import make_expert

    env = sim.make(family, backend, image_size=image_size, render=render)
    expert = make_expert(env)
    step_time = reset_time = cpu_time = 0.0
    done_steps = resets = 0
    seed = 0
    while done_steps < steps:
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=seed)
        reset_time += time.perf_counter() - t0
        resets += 1
        expert.reset()
        seed += 1
        while done_steps < steps:
            action = expert.select_action(obs)
            t0, c0 = time.perf_counter(), time.process_time()
            obs, _, terminated, truncated, _ = env.step(action)
            step_time += time.perf_counter() - t0
            cpu_time += time.process_time() - c0
            done_steps += 1
            if terminated or truncated:
                break
    env.close()
    return {"backend": backend, "render": render, "image_size": list(image_size),
            "steps": done_steps, "steps_per_s": done_steps / step_time,
            "ms_per_step": 1e3 * step_time / done_steps,
            # CPU time of this process (incl. Mesa's render threads): on a loaded machine
            # 1000 / cpu_ms_per_step estimates the steps/s of an idle core
            "cpu_ms_per_step": 1e3 * cpu_time / done_steps,
            "ms_per_reset": 1e3 * reset_time / resets}  # fmt: skip


def _worker(args) -> dict:
    return measure(*args)


def measure_parallel(backend: str, render: bool, steps: int, workers: int) -> dict:
    """Summed steps/s of `workers` processes stepping their own environments."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.map(_worker, [(backend, render, 20)] * workers)  # warm up imports and GL
        t0 = time.perf_counter()
        results = pool.map(_worker, [(backend, render, steps)] * workers)
        wall = time.perf_counter() - t0
    return {"backend": backend, "render": render, "workers": workers,
            "steps_per_s_summed": sum(r["steps_per_s"] for r in results),
            "steps_per_s_wall": workers * steps / wall}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["mujoco", "pybullet"])
    parser.add_argument("--steps", type=int, default=600, help="control steps per measurement")
    parser.add_argument("--workers", type=int, nargs="*", default=[], help="parallel runs")
    parser.add_argument("--json", default=None, help="write results here")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'backend':<10} {'cameras':<12} {'steps/s':>9} {'ms/step':>8} {'cpu ms':>7} "
          f"{'ms/reset':>9}")  # fmt: skip
    for backend in args.backends:
        for render in (False, True):
            r = measure(backend, render, args.steps)
            rows.append(r)
            cams = "2x128x128" if render else "none"
            print(f"{backend:<10} {cams:<12} {r['steps_per_s']:>9.1f} {r['ms_per_step']:>8.2f} "
                  f"{r['cpu_ms_per_step']:>7.2f} {r['ms_per_reset']:>9.1f}", flush=True)  # fmt: skip
    parallel = []
    for backend in args.backends:
        for workers in args.workers:
            r = measure_parallel(backend, True, args.steps, workers)
            parallel.append(r)
            print(f"{backend:<10} {workers} workers, cameras: "
                  f"{r['steps_per_s_summed']:.0f} steps/s summed", flush=True)  # fmt: skip
    out = {"single": rows, "parallel": parallel, "cpu_count": os.cpu_count(),
           "machine": platform.platform(), "MUJOCO_GL": os.environ.get("MUJOCO_GL")}  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Control steps per second of the PyBullet backend (benchmark, not a test).

One control step = what one 10 Hz action costs: read the TCP pose and Jacobian, set joint
targets, run every physics substep of the control period (round(0.1 s / timestep)), then
render the requested cameras. Modes:

    physics      no rendering
    tiny         scene + wrist cameras with ER_TINY_RENDERER (CPU)
    egl          scene + wrist cameras through the eglRenderer plugin (GPU if present,
                 Mesa llvmpipe otherwise); skipped with a note if the plugin does not load

Usage:
    nice .venv/bin/python benchmarks/sim_speed_pybullet.py --steps 200 --json out.json
    .venv/bin/python benchmarks/sim_speed_pybullet.py --modes egl --workers 8   # GPU box

With --workers N, N processes run the same loop in parallel; steps/s is summed over them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
import warnings

import numpy as np

MODES = ("physics", "tiny", "egl")


def bench_scene():
    """A pick-and-place-like scene: cubes, a cylinder, a bin and a region marker."""
    from sim.scene import COLORS, TABLE_HEIGHT, CameraSpec, GeomSpec, ObjectSpec, SceneSpec

    objs = []
    for i, color in enumerate(("red", "green", "blue", "yellow")):
        box = GeomSpec("box", (0.02, 0.02, 0.02), COLORS[color])
        objs.append(ObjectSpec(f"{color}_cube", "cube", color, (box,),
                               (0.4 + 0.1 * i, -0.15 + 0.1 * i, TABLE_HEIGHT + 0.02)))  # fmt: skip
    cyl = GeomSpec("cylinder", (0.02, 0.03), COLORS["purple"])
    objs.append(ObjectSpec("purple_cylinder", "cylinder", "purple", (cyl,), (0.35, 0.25, 0.03)))
    wall = (0.005, 0.06, 0.025)
    objs.append(ObjectSpec("white_bin", "bowl", "white", (
        GeomSpec("box", (0.06, 0.06, 0.004), COLORS["white"], (0, 0, 0.004)),
        GeomSpec("box", wall, COLORS["white"], (0.055, 0, 0.025)),
        GeomSpec("box", wall, COLORS["white"], (-0.055, 0, 0.025)),
    ), (0.65, -0.25, TABLE_HEIGHT), movable=False))  # fmt: skip
    return SceneSpec(objs, [CameraSpec("scene"), CameraSpec("wrist")])


def run_mode(mode: str, steps: int, seed: int = 0) -> dict:
    """Time `steps` control steps in one process; returns a result row."""
    from sim.physics.pybullet_physics import PyBulletPhysics
    from vla.robot.panda import HOME_Q

    renderer = "egl" if mode == "egl" else "tiny"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        phys = PyBulletPhysics(render=mode != "physics", renderer=renderer)
    if mode == "egl" and phys.renderer != "egl":
        phys.close()
        return {"mode": mode, "skipped": "; ".join(str(w.message) for w in caught)}
    phys.build(bench_scene())
    n_sub = int(round(0.1 / phys.timestep))
    rng = np.random.default_rng(seed)
    home = np.asarray(HOME_Q)
    cams = () if mode == "physics" else ("scene", "wrist")

    def one_step(k: int) -> None:
        phys.ee_pose()
        phys.ee_jacobian()
        phys.joint_positions()
        target = home + 0.3 * np.sin(0.05 * k + np.arange(7)) * rng.uniform(0.9, 1.0)
        phys.set_joint_targets(target, gripper_closed=(k // 20) % 2 == 1)
        phys.step(n_sub)
        for c in cams:
            phys.render(c)

    for k in range(5):  # warm-up (first frames load meshes/textures)
        one_step(k)
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        one_step(k)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    phys.close()
    # cpu ms/step (all threads of this process) is the figure to trust on a shared machine
    return {"mode": mode, "steps": steps, "seconds": dt, "steps_per_s": steps / dt,
            "cpu_ms_per_step": 1e3 * cpu / steps, "substeps_per_step": n_sub,
            "timestep": phys.timestep}  # fmt: skip


def _worker(args):
    return run_mode(*args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--steps", type=int, default=100, help="timed control steps per worker")
    ap.add_argument("--workers", type=int, default=1, help="parallel processes per mode")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.workers < 1:
        ap.error("--steps and --workers must be >= 1")
    results = []
    for mode in args.modes:
        if args.workers == 1:
            rows = [run_mode(mode, args.steps)]
        else:
            with mp.get_context("spawn").Pool(args.workers) as pool:
                rows = pool.map(_worker, [(mode, args.steps, i) for i in range(args.workers)])
        if "skipped" in rows[0]:
            results.append(rows[0])
            print(f"{mode:8s} skipped: {rows[0]['skipped']}")
            continue
        total = sum(r["steps_per_s"] for r in rows)
        results.append({"mode": mode, "workers": args.workers, "steps_per_s": total,
                        "per_worker": [round(r["steps_per_s"], 2) for r in rows],
                        "ms_per_step": 1000.0 * args.workers / total,
                        "cpu_ms_per_step": float(np.mean([r["cpu_ms_per_step"] for r in rows])),
                        "substeps_per_step": rows[0]["substeps_per_step"],
                        "timestep": rows[0]["timestep"]})  # fmt: skip
        print(f"{mode:8s} {total:9.1f} control steps/s  ({args.workers} worker(s), "
              f"{1000.0 * args.workers / total:.2f} ms/step, "
              f"{results[-1]['cpu_ms_per_step']:.2f} CPU ms/step)")  # fmt: skip
    out = {"engine": "pybullet", "machine": platform.node(), "cpu_count": mp.cpu_count(),
           "image_size": [128, 128], "results": results}  # fmt: skip
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

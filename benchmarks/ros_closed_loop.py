"""Closed loop over DDS: the policy drives the simulated Panda through ROS 2 topics.

    python benchmarks/ros_closed_loop.py --checkpoint checkpoints/pick_place_v7 \
        --task pick --task place --episodes 10 --seed 0 [--remote] --json out/ros_loop.json

Per task family, ``ros2 launch vla_bringup sim.launch.py`` starts the simulated robot, the
heartbeat and the lifecycle policy node (in-process policy, or with ``--remote`` a policy node
that calls ``vla serve`` through the torch-free client). Episode e of the family gets the seed
``vla eval --seed S --split train`` gives it (``vla.eval.runner.episode_seed``): the harness sets
the sim robot's ``seed`` parameter, clears the instruction (the policy holds), calls
``~/reset`` and counts a success if ``/vla/sim/success`` turns true within the family's step
budget (its ``max_steps`` control periods). Two clocks:

- real time (default): the simulated robot runs on the wall clock, so a policy slower than the
  control rate loses time exactly as on a robot; the budget is wall-clock time;
- ``--lockstep``: the simulated robot publishes /clock and advances one control period per
  command (every node on ``use_sim_time``), so the loop is the in-process evaluation's whatever
  the CPU's speed; the budget is simulated time.

Also read from the policy node's /diagnostics: camera stamp -> command publish latency (p50,
p99, max; commands later than one control period; missed control periods). Needs ROS 2 (`make
ros`, then `source ros_ws/jazzy_env.bash`). Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_server(checkpoint: str, log: Path) -> tuple[subprocess.Popen, int]:
    """`vla serve` on a free loopback port -> (process, port)."""
    cmd = [sys.executable, "-m", "vla.cli.main", "serve", "--checkpoint", checkpoint,
           "--host", "127.0.0.1", "--port", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    with open(log, "w") as out:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            out.write(line)
            if not line and proc.poll() is not None:
                break
            if m := re.search(r"serving on 127\.0\.0\.1:(\d+)", line):
                threading.Thread(target=proc.stderr.read, daemon=True).start()
                return proc, int(m.group(1))
    proc.kill()
    raise SystemExit(f"vla serve did not start; see {log}")


class Harness:
    """An rclpy node that resets episodes and watches success and diagnostics."""

    def __init__(self, sim_time: bool):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rcl_interfaces.srv import SetParameters
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.parameter import Parameter
        from std_msgs.msg import Bool, String
        from std_srvs.srv import Trigger

        rclpy.init()
        self.node = n = rclpy.create_node(
            "vla_closed_loop_harness",
            parameter_overrides=[Parameter("use_sim_time", value=sim_time)],
        )
        self.success = False
        self.latency: dict = {}
        self.reasons: dict[str, int] = {}  # /vla/status reasons seen during the episode
        n.create_subscription(Bool, "/vla/sim/success", self._on_success, 10)
        n.create_subscription(String, "/vla/status", self._on_status, 10)
        n.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.instruction = n.create_publisher(String, "/vla/instruction", 10)
        self.set_params = n.create_client(SetParameters, "/vla_sim_robot/set_parameters")
        self.reset = n.create_client(Trigger, "/vla_sim_robot/reset")
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(n)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def _on_success(self, msg):
        self.success = self.success or msg.data

    def _on_status(self, msg):
        reason = json.loads(msg.data).get("reason", "?")
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def _on_diag(self, msg):
        for st in msg.status:
            if st.name.endswith(": latency"):
                self.latency = {kv.key: kv.value for kv in st.values}

    def call(self, client, request, timeout=60.0):
        if not client.wait_for_service(timeout_sec=timeout):
            raise SystemExit(f"{client.srv_name} did not appear in {timeout:.0f} s")
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            raise SystemExit(f"{client.srv_name}: no answer in {timeout:.0f} s")
        return future.result()

    def episode(self, seed: int, budget_s: float) -> tuple[bool, float]:
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=seed)
        req = SetParameters.Request(parameters=[Parameter(name="seed", value=value)])
        result = self.call(self.set_params, req).results[0]
        assert result.successful, f"could not set the sim seed: {result.reason}"
        self.instruction.publish(String(data=""))  # the policy holds and forgets its chunk
        time.sleep(0.3)
        assert self.call(self.reset, Trigger.Request()).success
        self.success = False
        time.sleep(0.2)  # success of the previous scene may still be in flight
        self.success = False
        self.reasons = {}
        clock = self.node.get_clock()
        t0, wall_cap = clock.now().nanoseconds, time.monotonic() + 30 * budget_s + 60
        while time.monotonic() < wall_cap:
            elapsed = (clock.now().nanoseconds - t0) / 1e9
            if self.success:
                return True, elapsed
            if elapsed >= budget_s:
                return False, budget_s
            time.sleep(0.01)
        raise SystemExit(f"the simulated clock stalled (episode seed {seed})")

    def wait_active(self, timeout=240.0):
        from lifecycle_msgs.srv import GetState

        client = self.node.create_client(GetState, "/vla_policy_node/get_state")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.wait_for_service(timeout_sec=2.0):
                if self.call(client, GetState.Request()).current_state.label == "active":
                    return
            time.sleep(1.0)
        raise SystemExit("the policy node did not become active")

    def close(self):
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def run_family(args, family: str, port: int | None, logdir: Path) -> dict:
    from sim.tasks import SUITES
    from vla.eval.runner import episode_seed

    max_steps = SUITES["pick_place"][family].max_steps
    budget = args.budget_scale * max_steps / 10.0  # control periods at 10 Hz
    launch_cmd = ["ros2", "launch", "vla_bringup", "sim.launch.py",
                  f"policy_path:={Path(args.checkpoint).resolve()}", f"task:={family}",
                  f"backend:={args.backend}"]  # fmt: skip
    if port is not None:
        launch_cmd += ["policy_host:=127.0.0.1", f"policy_port:={port}"]
    if args.lockstep:
        launch_cmd += ["lockstep:=true"]
    log = open(logdir / f"launch_{family}{'_remote' if port else ''}.log", "w")  # noqa: SIM115
    launch = subprocess.Popen(launch_cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    harness = Harness(sim_time=args.lockstep)
    rows = []
    try:
        harness.wait_active()
        for e in range(args.episodes):
            seed = episode_seed(args.seed, "train", family, e)
            ok, t = harness.episode(seed, budget)
            reasons = dict(harness.reasons)
            rows.append({"episode": e, "seed": seed, "success": ok, "seconds": round(t, 2),
                         "status_reasons": reasons})  # fmt: skip
            print(f"  {family} ep {e} seed {seed}: {'success' if ok else 'failure'} ({t:.1f} s)"
                  f"  status changes: {reasons}")  # fmt: skip
        latency = dict(harness.latency)
    finally:
        harness.close()
        os.killpg(launch.pid, 2)
        try:
            launch.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(launch.pid, 9)
        log.close()
    return {"family": family, "budget_s": budget, "episodes": rows,
            "successes": sum(r["success"] for r in rows), "latency": latency}  # fmt: skip


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/pick_place_v7")
    ap.add_argument("--task", action="append", help="task family (repeatable; default: all four)")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0, help="the `vla eval --seed` to replay")
    ap.add_argument("--backend", default="mujoco", choices=["mujoco", "pybullet"])
    ap.add_argument("--remote", action="store_true", help="policy in `vla serve` (loopback)")
    ap.add_argument("--lockstep", action="store_true", help="simulated time (see above)")
    ap.add_argument(
        "--budget-scale",
        type=float,
        default=1.0,
        help="episode time budget in units of the family's max_steps periods",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--log-dir", type=Path, default=Path("outputs/ros_closed_loop"))
    args = ap.parse_args(argv)
    families = args.task or ["pick", "place", "stack", "push"]
    os.environ["ROS_DOMAIN_ID"] = str(random.randint(1, 100))  # a private graph
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    args.log_dir.mkdir(parents=True, exist_ok=True)
    server = port = None
    if args.remote:
        server, port = start_server(args.checkpoint, args.log_dir / "serve.log")
    try:
        results = [run_family(args, f, port, args.log_dir) for f in families]
    finally:
        if server is not None:
            server.terminate()
            server.wait(20)
    mode = ("remote (vla serve)" if args.remote else "in-process") + (
        ", lockstep" if args.lockstep else ", real time"
    )
    print(f"\nclosed loop over DDS, {mode}, {args.backend}, seed {args.seed}, split train")
    print(f"{'family':8} {'success':>9} {'p50 ms':>8} {'p99 ms':>8} {'late':>6} {'missed':>7}")
    for r in results:
        lat = r["latency"]
        print(f"{r['family']:8} {r['successes']:>4}/{len(r['episodes']):<4} "
              f"{lat.get('p50_ms', '-'):>8} {lat.get('p99_ms', '-'):>8} {lat.get('late', '-'):>6} "
              f"{lat.get('missed_periods', '-'):>7}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"checkpoint": args.checkpoint, "seed": args.seed, "mode": mode,
                "budget_scale": args.budget_scale,
                "backend": args.backend, "date": time.strftime("%Y-%m-%d")}  # fmt: skip
        args.json.write_text(json.dumps({**meta, "families": results}, indent=1))


if __name__ == "__main__":
    main()

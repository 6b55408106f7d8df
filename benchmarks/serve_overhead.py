"""The policy server's own cost per request: `vla serve`'s event loop with a policy that costs
nothing (zeros of the right shape), on one pinned core, loaded by robots on another core.

    python benchmarks/serve_overhead.py --robots 64,96,128 --repeats 3 --json overhead.json

What it answers: how many robots one server process can take before its Python work (receive,
decode, validate, batch, reply) saturates its core, whatever the model and the accelerator.
Reports per robot count, as medians over ``--repeats`` runs: requests served per second, the
robots' p99 round trip, and the server process's CPU time per request (user + system, all its
threads) while loaded. The observation layout is the checkpoint's (``--checkpoint``, default
the shipped one: two 128x128 cameras, 15 state values, 8x7 chunks). Needs two CPUs (server
on CPU 0, load generator on CPU 1; Linux, ``os.sched_setaffinity``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

import serve_bench  # noqa: E402 (the load generator: robots at a fixed rate)

from vla.serving.server import PolicyServer, ServerConfig  # noqa: E402


class NullPolicy:
    """The checkpoint's interface (``metadata``) and no inference: zeros (B, H, D).

    ``device_wait_s`` > 0 stands in for a GPU forward: the cameras are copied into a staging
    buffer (FastPolicy's host-side work), then the thread sleeps with the GIL released, as it
    does while it waits on the device, and must take the GIL back to return."""

    def __init__(self, checkpoint: Path, device_wait_s: float = 0.0, wait_parts: int = 1) -> None:
        meta = json.loads((checkpoint / "policy_meta.json").read_text())
        self.metadata = meta
        self.shape = (int(meta["chunk_size"]), len(meta["action_names"]))
        self.cameras = list(meta["camera_keys"])
        self.device_wait_s = device_wait_s
        self.wait_parts = wait_parts
        self._stage: np.ndarray | None = None

    def predict_batch(self, observations: list[dict]) -> np.ndarray:
        if self.device_wait_s > 0:
            first = np.asarray(observations[0][self.cameras[0]])
            if self._stage is None or len(self._stage) < len(observations):
                self._stage = np.zeros((max(len(observations), 128), len(self.cameras),
                                        *first.shape), np.uint8)  # fmt: skip
            for i, obs in enumerate(observations):
                for c, key in enumerate(self.cameras):
                    self._stage[i, c] = np.asarray(obs[key])
            for _ in range(self.wait_parts):  # GIL released, like a wait on the device; each
                time.sleep(self.device_wait_s / self.wait_parts)  # part takes it back after
        return np.zeros((len(observations), *self.shape), np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=REPO / "checkpoints" / "pick_place_v7")
    ap.add_argument("--robots", default="64,96,128")
    ap.add_argument("--hz", type=float, default=30.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-batch", type=int, default=128)
    ap.add_argument("--device-wait-ms", type=float, default=0.0,
                    help="each forward stages the cameras, then waits this long with the GIL "
                    "released (a stand-in for a GPU forward; default 0: no forward cost)")  # fmt: skip
    ap.add_argument("--wait-parts", type=int, default=1,
                    help="split the device wait into this many waits, each ending with the "
                    "thread taking the GIL back (torch calls that release it)")  # fmt: skip
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="the interpreter's thread switch interval while serving (default: "
                    "Python's 5 ms)")  # fmt: skip
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        print("serve_overhead: needs two CPUs (server and load generator apart)", file=sys.stderr)
        return 2
    return run(args)


def run(args) -> int:
    os.sched_setaffinity(0, {0})  # the server's threads start here and stay on CPU 0
    robots = [int(v) for v in args.robots.split(",")]
    server = PolicyServer(NullPolicy(args.checkpoint, args.device_wait_ms / 1e3, args.wait_parts),
                          ServerConfig(port=0, max_batch=args.max_batch,
                                       max_connections=max(robots) + 8))  # fmt: skip
    if args.switch_interval_ms is not None:  # the server runs in this process
        sys.setswitchinterval(args.switch_interval_ms / 1e3)
    handle = server.start_in_thread()
    rows = []
    try:
        for n in robots:
            runs = [measure(handle.port, n, args, server) for _ in range(args.repeats)]
            med = {k: float(np.median([r[k] for r in runs]))
                   for k in ("served_hz", "p99_ms", "server_cpu_ms_per_request", "server_cores",
                             "client_cores", "forward_ms", "mean_batch")}  # fmt: skip
            rows.append({"robots": n, "offered_hz": n * args.hz, "repeats": args.repeats,
                         **med, "runs": runs})  # fmt: skip
            print(f"N={n:3d}  served {med['served_hz']:7.1f}/s  p99 {med['p99_ms']:6.2f} ms  "
                  f"server CPU {med['server_cpu_ms_per_request']:.3f} ms/request "
                  f"({med['server_cores']:.2f} cores; robots {med['client_cores']:.2f}); "
                  f"forward {med['forward_ms']:.2f} ms at batch {med['mean_batch']:.1f}",
                  flush=True)  # fmt: skip
    finally:
        handle.stop()
    print(f"\nserver: null policy (device wait {args.device_wait_ms} ms in {args.wait_parts}, "
          f"switch interval "
          f"{args.switch_interval_ms or 'default'}), {args.checkpoint.name} layout, pinned to "
          f"CPU 0; medians of {args.repeats}")  # fmt: skip
    print(f"{'robots':>6} {'offered/s':>10} {'served/s':>9} {'p99 ms':>8} {'CPU ms/req':>11} "
          f"{'cores':>6} {'robots':>7} {'fwd ms':>7} {'batch':>6}")  # fmt: skip
    for r in rows:
        print(f"{r['robots']:>6} {r['offered_hz']:>10.0f} {r['served_hz']:>9.1f} "
              f"{r['p99_ms']:>8.2f} {r['server_cpu_ms_per_request']:>11.3f} "
              f"{r['server_cores']:>6.2f} {r['client_cores']:>7.2f} {r['forward_ms']:>7.2f} "
              f"{r['mean_batch']:>6.1f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({
            "levels": rows, "checkpoint": str(args.checkpoint), "hz": args.hz,
            "duration_s": args.duration, "max_batch": args.max_batch,
            "device_wait_ms": args.device_wait_ms, "wait_parts": args.wait_parts,
            "switch_interval_ms": args.switch_interval_ms,
            "cpu": platform.processor() or platform.machine(), "host": platform.node(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": " ".join(sys.argv),
        }, indent=1))  # fmt: skip
    return 0


def measure(port: int, robots: int, args, server: PolicyServer) -> dict:
    """One run: the robots in a child process on CPU 1, the server's CPU time from /proc."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    t_start = time.perf_counter() + 3.0  # the child imports first
    t_end = t_start + args.warmup + args.duration
    seeds = [1000 + i for i in range(robots)]
    os.sched_setaffinity(0, {1})
    child = ctx.Process(target=serve_bench._client_process,
                        args=(port, args.hz, t_start, t_end, args.warmup, seeds, out))  # fmt: skip
    child.start()
    os.sched_setaffinity(0, {0})
    time.sleep(max(0.0, t_start + args.warmup - time.perf_counter()))
    st = server.batcher.stats
    cpu0, client0, f0 = _cpu_s(), _proc_cpu_s(child.pid), (st.forwards, st.requests, st.forward_s)
    time.sleep(args.duration)
    cpu1, client1, f1 = _cpu_s(), _proc_cpu_s(child.pid), (st.forwards, st.requests, st.forward_s)
    got = out.get(timeout=120)
    child.join(30)
    if isinstance(got, BaseException):
        raise RuntimeError(f"the load generator failed: {got!r}")
    lat = np.concatenate([np.asarray(r[0]) for r in got]) * 1e3
    served = len(lat) / args.duration
    cpu = cpu1 - cpu0
    return {"served_hz": served, "p99_ms": float(np.percentile(lat, 99)),
            "late_ticks": int(sum(r[1] for r in got)), "server_cores": cpu / args.duration,
            "client_cores": (client1 - client0) / args.duration,
            "server_cpu_ms_per_request": 1e3 * cpu / max(1, len(lat)),
            # wall time inside predict_batch per forward, and requests per forward
            "forward_ms": 1e3 * (f1[2] - f0[2]) / max(1, f1[0] - f0[0]),
            "mean_batch": (f1[1] - f0[1]) / max(1, f1[0] - f0[0])}  # fmt: skip


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds of process ``pid`` (user + system, /proc/PID/stat): the load generator's,
    to tell a saturated generator from a saturated server."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_s() -> float:
    """This process's CPU seconds (user + system, every thread): the server, since the robots
    run in their own process and this thread sleeps while measuring."""
    t = os.times()
    return t.user + t.system


if __name__ == "__main__":
    sys.exit(main())

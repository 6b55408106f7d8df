"""Policy server load test: N simulated robots at 30 Hz each, p50/p99 latency vs N.

    vla serve (subprocess, the real server) <──ws/msgpack──> N asyncio robots in K client processes
    each robot: every 1/hz s (random phase) send an observation, wait for the chunk, record the
    round-trip latency; a reply later than the next tick makes the next send immediate (late).

Reports, per N: offered and served request rates, latency p50/p95/p99/max, late ticks, and the
largest N whose p99 stays under the control period (33 ms at 30 Hz); and which inference path
the server runs (``fast``: FastPolicy, the default on CUDA; ``plain``: Policy, the default on
CPU; ``--fast`` / ``--no-fast`` force one). Without ``--checkpoint`` it serves a tiny randomly
initialised checkpoint (tests/serving/tiny_checkpoint.py) at ``--image-size``, so the payload
matches the real cameras while the model is small. Requests are encoded once per robot ahead
of time and robots are spread over ``--client-procs`` processes (default: one per 16 robots,
at most a quarter of the CPUs), so that at 64 robots the load generator's own Python time does
not show up as server latency.

    python benchmarks/serve_bench.py --robots 1,2,4,8 --duration 5 --torch-threads 1
    python benchmarks/serve_bench.py --checkpoint checkpoints/pick_place_v7 --device cuda \
        --robots 1,4,16,32,64 --duration 6 --max-batch 64 --json serve_bench_gpu.json
    (the server is started with --max-connections = the most robots + 8)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "serving"))

from vla.serving import codec  # noqa: E402


def start_server(args: argparse.Namespace, checkpoint: Path) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "vla.cli.main", "serve", "--checkpoint", str(checkpoint),
           "--port", "0", "--device", args.device, "--max-batch", str(args.max_batch),
           "--batch-window-ms", str(args.batch_window_ms),
           # one connection per robot: the server's default cap (64) would refuse the rest
           "--max-connections", str(max(int(v) for v in args.robots.split(",")) + 8)]  # fmt: skip
    if args.compile:
        cmd.append("--compile")
    if args.workers > 1:
        cmd += ["--workers", str(args.workers)]
    if args.torch_threads:
        cmd += ["--torch-threads", str(args.torch_threads)]
    if args.fast is not None:
        cmd.append("--fast" if args.fast else "--no-fast")
    if args.text_cache:
        cmd += ["--text-cache", str(args.text_cache)]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline, lines = time.monotonic() + 300, []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        match = re.search(r"serving on [^:]+:(\d+)", line)
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain the pipe
            return proc, int(match.group(1))
    proc.kill()
    raise RuntimeError("vla serve did not start:\n" + "".join(lines[-20:]))


DEFAULT_TASKS = ["pick up the green cube", "put the red cube in the blue bowl"]
TASKS_ENV = "VLA_SERVE_BENCH_TASKS"


def make_requests(meta: dict, n: int, seed: int) -> list[bytes]:
    """``n`` act requests with random images/state, msgpack-encoded once (the load generator
    should spend its time sending, not re-encoding the same observation)."""
    rng = np.random.default_rng(seed)
    # --instruction reaches the client processes through the environment (they are spawned)
    tasks = os.environ.get(TASKS_ENV, "").split("|") if os.environ.get(TASKS_ENV) else DEFAULT_TASKS
    h, w = meta["image_size"]
    out = []
    for i in range(n):
        obs = {f"observation.images.{c}": rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
               for c in meta["camera_names"]}  # fmt: skip
        obs["observation.state"] = rng.normal(size=meta["state_dim"]).astype(np.float32)
        obs["task"] = tasks[i % len(tasks)]
        out.append(codec.encode({"op": "act", "obs": obs}))
    return out


async def robot(port: int, hz: float, t_start: float, t_end: float, warmup: float,
                seed: int) -> tuple[list[float], int]:  # fmt: skip
    from websockets.asyncio.client import connect

    latencies, late = [], 0
    async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression=None) as ws:
        await ws.send(codec.encode({"op": "metadata"}))
        meta = codec.decode(await ws.recv())["metadata"]
        requests = make_requests(meta, 4, seed)
        period = 1.0 / hz
        tick = t_start + random.Random(seed).random() * period  # robots are not in lockstep
        while tick < time.perf_counter():  # a process that started late skips, not bursts
            tick += period
        k = 0
        while tick < t_end:
            now = time.perf_counter()
            if tick > now:
                await asyncio.sleep(tick - now)
            sent = time.perf_counter()
            await ws.send(requests[k % 4])
            reply = codec.decode(await ws.recv())
            done = time.perf_counter()
            if not reply.get("ok"):
                raise RuntimeError(f"server error: {reply.get('error')}")
            if sent >= t_start + warmup:
                latencies.append(done - sent)
                late += done > tick + period
            k += 1
            tick += period
            tick = max(tick, done) if done > tick else tick
    return latencies, late


async def _robots(port: int, hz: float, t0: float, t_end: float, warmup: float,
                  seeds: list[int]) -> list[tuple[list[float], int]]:  # fmt: skip
    return await asyncio.gather(*(robot(port, hz, t0, t_end, warmup, s) for s in seeds))


def _client_process(port: int, hz: float, t0: float, t_end: float, warmup: float,
                    seeds: list[int], out: mp.Queue) -> None:  # fmt: skip
    """One load-generator process (perf_counter is the system-wide monotonic clock on Linux and
    macOS, so every process shares ``t0``)."""
    try:
        out.put(asyncio.run(_robots(port, hz, t0, t_end, warmup, seeds)))
    except BaseException as exc:  # reported by the parent
        out.put(exc)


async def server_request(port: int, op: str) -> dict:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
        await ws.send(codec.encode({"op": op}))
        return codec.decode(await ws.recv())[op]


def run_level(port: int, n: int, hz: float, duration: float, warmup: float,
              procs: int) -> dict:  # fmt: skip
    before = asyncio.run(server_request(port, "stats"))
    seeds = [1000 + i for i in range(n)]
    procs = max(1, min(procs, n))
    t0 = time.perf_counter() + (0.5 if procs == 1 else 3.0)  # spawned processes import first
    t_end = t0 + warmup + duration
    if procs == 1:
        results = asyncio.run(_robots(port, hz, t0, t_end, warmup, seeds))
    else:
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        workers = [ctx.Process(target=_client_process, args=(port, hz, t0, t_end, warmup,
                                                              seeds[i::procs], out))
                   for i in range(procs)]  # fmt: skip
        for w in workers:
            w.start()
        results = []
        for _ in workers:
            got = out.get(timeout=t_end - time.perf_counter() + 120)
            if isinstance(got, BaseException):
                raise RuntimeError(f"a load-generator process failed: {got!r}")
            results.extend(got)
        for w in workers:
            w.join(30)
    after = asyncio.run(server_request(port, "stats"))
    forwards = after["forwards"] - before["forwards"]
    mean_batch = (after["requests"] - before["requests"]) / forwards if forwards else 0.0
    # older servers do not report forward time
    fwd_s = after.get("forward_s", float("nan")) - before.get("forward_s", float("nan"))
    lat = np.concatenate([np.asarray(r[0]) for r in results]) * 1e3
    late = sum(r[1] for r in results)
    return {
        "robots": n,
        "client_procs": procs,
        "offered_hz": n * hz,
        "served_hz": len(lat) / duration,
        "requests": int(len(lat)),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "late_ticks": int(late),
        "mean_batch": mean_batch,  # requests per forward on the server (warm-up included)
        "forward_ms": 1e3 * fwd_s / forwards if forwards else float("nan"),  # mean predict_batch
    }


def inference_path(meta: dict) -> str:
    """``fast (...)`` when the server runs FastPolicy (its metadata has ``fast_dtype``)."""
    if "fast_dtype" not in meta:
        return "plain"
    graphs = meta.get("cuda_graphs", {})
    modes = "/".join(sorted(set(graphs.values()))) or "no buckets built"
    return f"fast ({meta['fast_dtype']}, buckets {sorted(int(b) for b in graphs)}, {modes})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", help="policy checkpoint (default: tiny random one)")
    ap.add_argument("--image-size", type=int, default=128, help="tiny checkpoint's image side")
    ap.add_argument("--robots", default="1,2,4,8,16,32", help="comma-separated robot counts")
    ap.add_argument("--hz", type=float, default=30.0)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per level")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per level")
    ap.add_argument("--device", default="cpu", help="the server's torch device (cpu, cuda)")
    ap.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force FastPolicy / the plain Policy (default: the server's choice)",
    )
    ap.add_argument("--text-cache", help="passed to vla serve (MiniLM checkpoints)")
    ap.add_argument("--compile", action="store_true",
                    help="vla serve --compile: torch.compile inside each bucket's CUDA graph")  # fmt: skip
    ap.add_argument("--instruction", action="append", default=None,
                    help="instruction(s) the robots send (default: two pick_place ones); "
                    "repeat for several")  # fmt: skip
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--batch-window-ms", type=float, default=0.0)
    ap.add_argument("--torch-threads", type=int, default=None)
    ap.add_argument("--workers", type=int, default=1,
                    help="vla serve --workers: server processes on the port")  # fmt: skip
    ap.add_argument(
        "--client-procs",
        type=int,
        default=None,
        help="load-generator processes (default: one per 16 robots, <= CPUs/4)",
    )
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()  # fmt: skip
    if args.instruction:
        os.environ[TASKS_ENV] = "|".join(args.instruction)

    tmp = tempfile.TemporaryDirectory()
    if args.checkpoint:
        checkpoint = Path(args.checkpoint)
    else:
        from tiny_checkpoint import make_tiny_checkpoint

        side = args.image_size
        checkpoint = make_tiny_checkpoint(Path(tmp.name) / "tiny", image_size=(side, side))
    proc, port = start_server(args, checkpoint)
    budget_ms = 1e3 / args.hz
    levels = []
    try:
        path = inference_path(asyncio.run(server_request(port, "metadata")))
        print(
            f"server: device {args.device}, inference {path}, {args.workers} worker(s)", flush=True
        )
        for n in (int(v) for v in args.robots.split(",")):
            procs = args.client_procs or min(math.ceil(n / 16), max(1, (os.cpu_count() or 1) // 4))
            levels.append(run_level(port, n, args.hz, args.duration, args.warmup, procs))
            lv = levels[-1]
            print(f"N={n:3d}  offered {lv['offered_hz']:7.1f}/s  served {lv['served_hz']:7.1f}/s  "
                  f"p50 {lv['p50_ms']:6.2f} ms  p99 {lv['p99_ms']:7.2f} ms  late {lv['late_ticks']}  "
                  f"batch {lv['mean_batch']:.1f}  forward {lv['forward_ms']:.2f} ms  "
                f"({lv['client_procs']} client procs)",
                  flush=True)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
        tmp.cleanup()
    ok = [lv["robots"] for lv in levels if lv["p99_ms"] < budget_ms]
    best = max(ok) if ok else 0
    print(f"\nserver inference: {path} on {args.device}")
    print(f"{'robots':>6} {'offered/s':>10} {'served/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'late':>5} {'batch':>6} {'fwd ms':>7}")  # fmt: skip
    for lv in levels:
        print(f"{lv['robots']:>6} {lv['offered_hz']:>10.1f} {lv['served_hz']:>9.1f} "
              f"{lv['p50_ms']:>8.2f} {lv['p95_ms']:>8.2f} {lv['p99_ms']:>8.2f} "
              f"{lv['max_ms']:>8.2f} {lv['late_ticks']:>5} {lv['mean_batch']:>6.1f} "
              f"{lv['forward_ms']:>7.2f}")  # fmt: skip
    print("fwd ms: mean time inside predict_batch per forward (server side)")
    print(f"largest N with p99 < {budget_ms:.1f} ms: {best}")
    if args.json:
        report = {
            "levels": levels,
            "largest_robots_p99_under_budget": best,
            "budget_ms": budget_ms,
            "hz": args.hz,
            "checkpoint": str(args.checkpoint or f"tiny random ({args.image_size}px)"),
            "device": args.device,
            "inference": path,
            "max_batch": args.max_batch,
            "workers": args.workers,
            "batch_window_ms": args.batch_window_ms,
            "duration_s": args.duration,
            "host": platform.node(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": " ".join(sys.argv),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Policy server load test: N simulated robots at 30 Hz each, p50/p99 latency vs N.

    vla serve (subprocess, the real server) <──ws/msgpack──> N asyncio robots in this process
    each robot: every 1/hz s (random phase) send an observation, wait for the chunk, record the
    round-trip latency; a reply later than the next tick makes the next send immediate (late).

Reports, per N: offered and served request rates, latency p50/p95/p99/max, late ticks, and the
largest N whose p99 stays under the control period (33 ms at 30 Hz). Without ``--checkpoint``
it serves a tiny randomly initialised checkpoint (tests/serving/tiny_checkpoint.py) at
``--image-size``, so the payload matches the real cameras while the model is small.

    python benchmarks/serve_bench.py --robots 1,2,4,8,16,32 --duration 5 --json serve_bench.json
    python benchmarks/serve_bench.py --checkpoint checkpoints/pick_place --device cuda ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
           "--batch-window-ms", str(args.batch_window_ms)]  # fmt: skip
    if args.torch_threads:
        cmd += ["--torch-threads", str(args.torch_threads)]
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


def make_observations(meta: dict, n: int, seed: int) -> list[bytes]:
    """Pre-encoded act requests with random images/state (encoding is part of the client)."""
    rng = np.random.default_rng(seed)
    h, w = meta["image_size"]
    out = []
    for i in range(n):
        obs = {f"observation.images.{c}": rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
               for c in meta["camera_names"]}  # fmt: skip
        obs["observation.state"] = rng.normal(size=meta["state_dim"]).astype(np.float32)
        obs["task"] = "put the red cube in the blue bowl" if i % 2 else "pick up the green cube"
        out.append(obs)
    return out


async def robot(port: int, hz: float, t_start: float, t_end: float, warmup: float,
                seed: int) -> tuple[list[float], int]:  # fmt: skip
    from websockets.asyncio.client import connect

    latencies, late = [], 0
    async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression=None) as ws:
        await ws.send(codec.encode({"op": "metadata"}))
        meta = codec.decode(await ws.recv())["metadata"]
        observations = make_observations(meta, 4, seed)
        period = 1.0 / hz
        tick = t_start + random.Random(seed).random() * period  # robots are not in lockstep
        k = 0
        while tick < t_end:
            now = time.perf_counter()
            if tick > now:
                await asyncio.sleep(tick - now)
            sent = time.perf_counter()
            await ws.send(codec.encode({"op": "act", "obs": observations[k % 4]}))
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


async def server_stats(port: int) -> dict:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
        await ws.send(codec.encode({"op": "stats"}))
        return codec.decode(await ws.recv())["stats"]


async def run_level(port: int, n: int, hz: float, duration: float, warmup: float) -> dict:
    before = await server_stats(port)
    t0 = time.perf_counter() + 0.5
    results = await asyncio.gather(*(robot(port, hz, t0, t0 + warmup + duration, warmup, 1000 + i)
                                     for i in range(n)))  # fmt: skip
    after = await server_stats(port)
    forwards = after["forwards"] - before["forwards"]
    mean_batch = (after["requests"] - before["requests"]) / forwards if forwards else 0.0
    lat = np.concatenate([np.asarray(r[0]) for r in results]) * 1e3
    late = sum(r[1] for r in results)
    return {
        "robots": n,
        "offered_hz": n * hz,
        "served_hz": len(lat) / duration,
        "requests": int(len(lat)),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "late_ticks": int(late),
        "mean_batch": mean_batch,  # requests per forward on the server (warm-up included)
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", help="policy checkpoint (default: tiny random one)")
    ap.add_argument("--image-size", type=int, default=128, help="tiny checkpoint's image side")
    ap.add_argument("--robots", default="1,2,4,8,16,32", help="comma-separated robot counts")
    ap.add_argument("--hz", type=float, default=30.0)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per level")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per level")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--batch-window-ms", type=float, default=2.0)
    ap.add_argument("--torch-threads", type=int, default=None)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()

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
        for n in (int(v) for v in args.robots.split(",")):
            levels.append(asyncio.run(run_level(port, n, args.hz, args.duration, args.warmup)))
            lv = levels[-1]
            print(f"N={n:3d}  offered {lv['offered_hz']:7.1f}/s  served {lv['served_hz']:7.1f}/s  "
                  f"p50 {lv['p50_ms']:6.2f} ms  p99 {lv['p99_ms']:7.2f} ms  late {lv['late_ticks']}  "
                  f"batch {lv['mean_batch']:.1f}",
                  flush=True)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
        tmp.cleanup()
    ok = [lv["robots"] for lv in levels if lv["p99_ms"] < budget_ms]
    best = max(ok) if ok else 0
    print(f"\n{'robots':>6} {'offered/s':>10} {'served/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'late':>5} {'batch':>6}")  # fmt: skip
    for lv in levels:
        print(f"{lv['robots']:>6} {lv['offered_hz']:>10.1f} {lv['served_hz']:>9.1f} "
              f"{lv['p50_ms']:>8.2f} {lv['p95_ms']:>8.2f} {lv['p99_ms']:>8.2f} "
              f"{lv['max_ms']:>8.2f} {lv['late_ticks']:>5} {lv['mean_batch']:>6.1f}")  # fmt: skip
    print(f"largest N with p99 < {budget_ms:.1f} ms: {best}")
    if args.json:
        report = {
            "levels": levels,
            "largest_robots_p99_under_budget": best,
            "budget_ms": budget_ms,
            "hz": args.hz,
            "checkpoint": str(args.checkpoint or f"tiny random ({args.image_size}px)"),
            "device": args.device,
            "max_batch": args.max_batch,
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

"""Policy server under attack: hostile frames, floods and idle clients against the real server.

    vla serve (subprocess) <──ws──> C fuzzing connections, each: N frames, one in ten a valid
    request whose actions must equal the first answer to the same request (exactness)

Phases (each one counted, the server's RSS read from /proc before and after):
  fuzz      random bytes, truncated/wrong-typed msgpack, NaN/inf and wrong-shaped arrays, arrays
            claiming more bytes than sent, huge length claims, depth bombs, bad ops and fields,
            empty/long/non-string instructions, openpi-shaped garbage, text frames, frames over
            the size limit (the server closes that connection: 1009), dropped connections
  long      unique instructions over the model's token limit (were embedded and cached: D1/D9)
  unique    unique valid instructions (each embedded once; the cache is a bounded LRU)
  flood     max_connections clients send 8 frames just under the size limit back to back
  idle      max_connections idle clients, then a new robot must still get served

A crash is a connection closed by the server for any reason but the size limit, or a server
that stops answering; a wrong answer is a valid request whose actions differ from the first.

    python benchmarks/serve_fuzz.py --json benchmarks/results/serve_fuzz.json
    python benchmarks/serve_fuzz.py --requests 300 --unique 0   # quick look, tiny checkpoint
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import msgpack
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "serving"))

from vla.serving import codec  # noqa: E402


@dataclass
class FuzzStats:
    """What a fuzzing run saw; ``crashes`` and ``wrong`` must be 0."""

    requests: int = 0
    error_replies: int = 0
    valid_ok: int = 0
    wrong: int = 0  # hostile frame accepted, or a valid one refused or off by > tolerance
    max_abs_diff: float = 0.0  # valid answers vs the first answer to the same request
    accepted: list[str] = field(default_factory=list)  # kinds of hostile frames answered ok
    closed_by_limit: int = 0  # frames over max_message_bytes (close code 1009, by design)
    crashes: int = 0  # any other close by the server, or no reply
    kinds: dict[str, int] = field(default_factory=dict)


def valid_obs(meta: dict, seed: int, task: str = "put the red cube in the blue bowl") -> dict:
    """A valid observation for the served policy (``meta``: the server's metadata)."""
    rng = np.random.default_rng(seed)
    h, w = meta["image_size"]
    obs = {f"observation.images.{c}": rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
           for c in meta["camera_names"]}  # fmt: skip
    obs["observation.state"] = rng.normal(size=meta["state_dim"]).astype(np.float32)
    obs["task"] = task
    return obs


def _ext(dtype: str, shape: list, raw: bytes) -> msgpack.ExtType:
    return msgpack.ExtType(codec.NDARRAY_EXT, msgpack.packb([dtype, shape, raw]))


def _random_value(rng: np.random.Generator, depth: int = 0):
    pick = int(rng.integers(0, 8 if depth < 4 else 5))
    simple = [
        None,
        True,
        int(rng.integers(-(2**40), 2**40)),
        float(rng.normal()) * 1e30,
        "".join(chr(int(c)) for c in rng.integers(32, 0x2FFF, int(rng.integers(0, 40)))),
    ]
    if pick < 5:
        return simple[pick]
    if pick == 5:
        return rng.bytes(int(rng.integers(0, 64)))
    if pick == 6:
        return [_random_value(rng, depth + 1) for _ in range(int(rng.integers(0, 5)))]
    return {str(_random_value(rng, depth + 1)): _random_value(rng, depth + 1)
            for _ in range(int(rng.integers(0, 5)))}  # fmt: skip


def _other_than(rng: np.random.Generator, n: int) -> int:
    """A size in 0..63 that is not ``n``."""
    k = int(rng.integers(0, 63))
    return k + (k >= n)


def _obs_attack(rng: np.random.Generator, obs: dict) -> tuple[str, dict]:
    """A valid observation with one field made hostile."""
    bad = dict(obs)
    state, img_key = obs["observation.state"], next(k for k in obs if k.startswith("observation.i"))
    attacks = {
        "nan_state": lambda: np.where(np.arange(state.size) % 2 == 0, np.nan, state).astype("f4"),
        "inf_state": lambda: np.full_like(state, np.inf),
        "state_shape": lambda: np.zeros(_other_than(rng, state.size), np.float32),
        "state_dtype": lambda: state.astype(rng.choice(["f8", "i4", "f2", "u1"])),
        "image_shape": lambda: np.zeros((int(rng.integers(1, 90)), 7, 3), np.uint8),
        "image_dtype": lambda: obs[img_key].astype(np.float32),
        "image_claim": lambda: _ext("|u1", [100000, 100000, 3], b"\x00" * 16),
        "object_dtype": lambda: _ext("|O", [1], b"\x00" * 8),
        "task_empty": lambda: "   ",
        "task_long": lambda: "x" * int(rng.integers(513, 5000)),
        "task_type": lambda: [None, 5, 1.5, [], {}, b"pick"][int(rng.integers(0, 6))],
        "task_tokens": lambda: "a " * 120,  # 240 characters, 120+ tokens
        "extra_key": lambda: 1,
        "openpi_garbage": lambda: {
            b"__ndarray__": True,
            b"data": b"\x00",
            b"dtype": "<f4",
            b"shape": [2**40],
        },  # fmt: skip
    }
    kind = str(rng.choice(sorted(attacks)))
    value = attacks[kind]()
    target = {"image_shape": img_key, "image_dtype": img_key, "image_claim": img_key,
              "extra_key": "observation.bogus", "openpi_garbage": "observation.state"}.get(
        kind, "task" if kind.startswith("task") else "observation.state")  # fmt: skip
    bad[target] = value
    return kind, bad


def hostile_frame(rng: np.random.Generator, obs: dict, max_bytes: int) -> tuple[str, bytes | str]:
    """One hostile frame and its kind."""
    good = codec.encode({"op": "act", "obs": obs})
    pick = int(rng.integers(0, 12))
    if pick == 0:
        return "random_bytes", rng.bytes(int(rng.integers(0, 2000)))
    if pick == 1:
        return "truncated", good[: int(rng.integers(0, len(good)))]
    if pick == 2:
        return "random_msgpack", msgpack.packb(_random_value(rng), use_bin_type=True)
    if pick == 3:
        return "bad_op", codec.encode({"op": _random_value(rng), "obs": obs, "x": 1})
    if pick == 4:
        depth = int(rng.integers(100, 20000))
        return "depth_bomb", b"\x91" * depth + b"\xc0"
    if pick == 5:  # map32 / str32 / array32 headers claiming billions of entries
        return "huge_claim", bytes(
            [int(rng.choice([0xDF, 0xDB, 0xDD, 0xC6]))]
        ) + b"\x7f\xff\xff\xff"
    if pick == 6:
        return "text_frame", "".join(chr(int(c)) for c in rng.integers(32, 0x2FFF, 50))
    if pick == 7:
        return "oversize", b"\x00" * (max_bytes + 1 + int(rng.integers(0, 1000)))
    kind, bad = _obs_attack(rng, obs)
    return kind, codec.encode({"op": str(rng.choice(["act", "step"])), "obs": bad})


def fuzz_connection(port: int, frames: int, seed: int, max_bytes: int, stats: FuzzStats,
                    lock: threading.Lock, reference: dict, drops: bool,
                    tolerance: float) -> None:  # fmt: skip
    """``frames`` frames on one connection (reconnecting after a close); ``drops``: every
    50th frame is a valid request whose connection closes before the reply."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from vla.serving.protocol import VLA_SUBPROTOCOL

    rng = np.random.default_rng(seed)
    uri = f"ws://127.0.0.1:{port}"

    def open_ws():
        ws = ExitStack().enter_context(connect(  # closed by ws.close() below
            uri, compression=None, max_size=None, subprotocols=[VLA_SUBPROTOCOL], open_timeout=30
        ))  # fmt: skip
        ws.send(codec.encode({"op": "metadata"}))
        return ws, codec.decode(ws.recv(timeout=60))["metadata"]

    ws, meta = open_ws()
    for i in range(frames):
        if i % 10 == 9:
            kind, key = "valid", i // 10 % 4
            frame = codec.encode({"op": "act", "obs": valid_obs(meta, key)})
        elif drops and i % 50 == 25:  # a dropped connection: request sent, reply never read
            kind, frame = "dropped", codec.encode({"op": "act", "obs": valid_obs(meta, 9)})
        else:
            kind, frame = hostile_frame(rng, valid_obs(meta, 0), max_bytes)
        with lock:
            stats.requests += 1
            stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
        try:
            ws.send(frame)
            if kind == "dropped":
                ws.close()
                ws, meta = open_ws()
                continue
            reply = codec.decode(ws.recv(timeout=120))
        except ConnectionClosed as exc:
            by_limit = exc.rcvd is not None and exc.rcvd.code == 1009 and kind == "oversize"
            with lock:
                stats.closed_by_limit += by_limit
                stats.crashes += not by_limit
            ws, meta = open_ws()
            continue
        except TimeoutError:
            with lock:
                stats.crashes += 1
            ws.close()
            ws, meta = open_ws()
            continue
        _score(kind, reply, reference, i // 10 % 4, stats, lock, tolerance)
    ws.close()


def _score(kind: str, reply: dict, reference: dict, key: int, stats: FuzzStats,
           lock: threading.Lock, tolerance: float) -> None:  # fmt: skip
    with lock:
        if kind != "valid":
            stats.error_replies += not reply.get("ok")
            # a hostile frame answered ok is accepted garbage: counted as wrong
            if reply.get("ok"):
                stats.wrong += 1
                stats.accepted.append(kind)
            return
        if not reply.get("ok"):
            stats.wrong += 1
            return
        stats.valid_ok += 1
        first = reference.setdefault(key, reply["actions"])
        diff = float(np.abs(first - reply["actions"]).max())
        stats.max_abs_diff = max(stats.max_abs_diff, diff)
        stats.wrong += diff > tolerance


def run_fuzz(port: int, frames: int, connections: int, seed: int, max_bytes: int,
             drops: bool = True, tolerance: float = 0.0) -> FuzzStats:  # fmt: skip
    """``frames`` frames in all over ``connections`` concurrent connections. Valid answers
    may differ from the first by ``tolerance`` (a batch of another size may round a logit
    differently on some hardware; 0 = exact)."""
    stats, lock, reference = FuzzStats(), threading.Lock(), {}
    per = max(1, frames // connections)
    threads = [
        threading.Thread(target=fuzz_connection,
                         args=(port, per, seed + c, max_bytes, stats, lock, reference, drops,
                               tolerance))
        for c in range(connections)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats


def instruction_flood(port: int, n: int, long: bool, seed: int) -> dict:
    """``n`` unique instructions (over the token limit when ``long``): replies by outcome."""
    from vla.serving.client import PolicyClient, PolicyServerError

    out = {"sent": 0, "ok": 0, "bad_request": 0, "other": 0}
    with PolicyClient(port=port, timeout=120) as client:
        for i in range(n):
            words = " ".join(f"w{seed}x{i}y{j}" for j in range(60 if long else 3))
            try:
                client.act(valid_obs(client.metadata, 0, task=f"pick up {words}"))
                out["ok"] += 1
            except PolicyServerError as exc:
                out["bad_request" if exc.code == "bad_request" else "other"] += 1
            out["sent"] += 1
    return out


def flood(port: int, connections: int, frames: int, size: int) -> dict:
    """``connections`` clients each send ``frames`` frames of ``size`` bytes back to back, then
    read the replies: the server's buffers at their fullest (peak RSS is read after)."""
    from websockets.sync.client import connect

    from vla.serving.protocol import VLA_SUBPROTOCOL

    frame = codec.encode({"op": "act", "obs": {"pad": b"\x00" * (size - 64)}})
    out = {"frames": 0, "error_replies": 0, "closed": 0}
    lock = threading.Lock()

    def one() -> None:
        try:
            with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None,
                         subprotocols=[VLA_SUBPROTOCOL], open_timeout=60) as ws:  # fmt: skip
                for _ in range(frames):
                    ws.send(frame)
                errors = sum(not codec.decode(ws.recv(timeout=120))["ok"] for _ in range(frames))
            with lock:
                out["frames"] += frames
                out["error_replies"] += errors
        except Exception:  # noqa: BLE001 - counted: the server closed it
            with lock:
                out["closed"] += 1

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def idle_lockout(port: int, max_connections: int, evict_idle_s: float) -> dict:
    """Fill the server with idle clients; a new robot must still be served."""
    from vla.serving.client import PolicyClient, PolicyServerError

    idle = [PolicyClient(port=port, timeout=60) for _ in range(max_connections)]
    time.sleep(evict_idle_s + 0.5)
    try:
        with PolicyClient(port=port, timeout=60) as newcomer:
            newcomer.act(valid_obs(newcomer.metadata, 1))
            served = True
    except PolicyServerError:
        served = False
    for c in idle:
        c.close()
    return {"idle_clients": max_connections, "new_robot_served": served}


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _serve(checkpoint: Path, max_bytes: int, max_connections: int, evict_idle_s: float):
    from serve_process import start_serve

    return start_serve(checkpoint, "--device", "cpu", "--torch-threads", "1",
                       "--max-message-bytes", str(max_bytes),
                       "--max-connections", str(max_connections),
                       "--evict-idle-s", str(evict_idle_s))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, help="default: the shipped checkpoint")
    ap.add_argument("--requests", type=int, default=2000, help="fuzz frames per round")
    ap.add_argument("--rounds", type=int, default=2, help="fuzz rounds (memory growth)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--long", type=int, default=2000, help="unique over-long instructions")
    ap.add_argument("--unique", type=int, default=200, help="unique valid instructions")
    ap.add_argument("--max-connections", type=int, default=64)
    ap.add_argument("--max-message-bytes", type=int, default=1024 * 1024)
    ap.add_argument("--evict-idle-s", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tolerance", type=float, default=0.0, help="valid answers: max |diff|")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from vla.constants import SHIPPED_CHECKPOINT

    checkpoint = args.checkpoint or SHIPPED_CHECKPOINT
    proc, port, _ = _serve(checkpoint, args.max_message_bytes, args.max_connections,
                           args.evict_idle_s)  # fmt: skip
    rows: list[tuple[str, float, float, str]] = []
    result: dict = {"checkpoint": str(checkpoint), "machine": platform.processor() or
                    platform.machine(), "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    try:
        instruction_flood(port, 1, long=False, seed=-1)  # warm-up: the model and MiniLM load
        crashes = wrong = 0
        rss = [rss_mb(proc.pid)]
        for r in range(args.rounds):  # later rounds: does memory keep growing?
            t0 = time.perf_counter()
            fuzz = run_fuzz(port, args.requests, args.connections, args.seed + 1000 * r,
                            args.max_message_bytes, tolerance=args.tolerance)  # fmt: skip
            result[f"fuzz_{r + 1}"] = asdict(fuzz) | {"seconds": time.perf_counter() - t0}
            rss.append(rss_mb(proc.pid))
            rows.append((f"fuzz {r + 1}", *rss[-1], f"{fuzz.requests} frames, {fuzz.error_replies} "
                         f"errors, {fuzz.crashes} crashes, {fuzz.wrong} wrong"))  # fmt: skip
            crashes, wrong = crashes + fuzz.crashes, wrong + fuzz.wrong
        for name, n, long in (("long", args.long, True), ("unique", args.unique, False)):
            if n:
                result[name] = instruction_flood(port, n, long, args.seed)
                rss.append(rss_mb(proc.pid))
                rows.append((name, *rss[-1], json.dumps(result[name])))
        size = args.max_message_bytes - 1024
        result["flood"] = flood(port, args.max_connections, 8, size) | {"frame_bytes": size}
        rss.append(rss_mb(proc.pid))
        rows.append(("flood", *rss[-1], json.dumps(result["flood"])))
        result["idle"] = idle_lockout(port, args.max_connections, args.evict_idle_s)
        rss.append(rss_mb(proc.pid))
        rows.append(("idle", *rss[-1], json.dumps(result["idle"])))
        result["server_alive"] = proc.poll() is None
        result["rss_mb"] = {"before": rss[0][0], "after": rss[-1][0], "peak": rss[-1][1]}
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"server RSS before: {result['rss_mb']['before']:.0f} MB (after warm-up)")
    print(f"{'phase':8} {'RSS MB':>8} {'peak MB':>8}  outcome")
    for name, cur, peak, what in rows:
        print(f"{name:8} {cur:8.0f} {peak:8.0f}  {what}")
    print(f"server alive: {result['server_alive']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0 if result["server_alive"] and not crashes and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())

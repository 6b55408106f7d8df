"""What background decoding costs the training loop: the feed's decode in a thread vs a child.

    .venv/bin/python benchmarks/grow_feed_bench.py --dataset DIR [--episodes 38] [--workers 2]
        [--repeats 3] [--json OUT]

``vla train --grow_s`` decodes newly committed episodes while the training loop runs. Until
2026-12-06 the decode ran in a thread of the training process (``load_episode_arrays``, PyAV in a
thread pool, parquet reads in the feed thread); it now runs in a child process
(``vla.train.growing.EpisodeFeed``). This runs a stand-in training loop (a small conv net,
forward + backward + AdamW on a batch of 32 64x64 images, one torch thread) in the main thread
and, meanwhile, decodes the same episodes once each way. It reports the loop's steps/s alone and
during each decode, and each decode's wall time. The dataset is any ``vla data generate``
folder, e.g. ``vla data generate --suite pick_place --episodes 40 --workers 2 --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import torch

from vla.data.episode_arrays import load_episode_arrays
from vla.data.reader import LeRobotDatasetReader
from vla.train.growing import EpisodeFeed


def stand_in_step(model, opt, x):
    loss = model(x).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def loop_rate(model, opt, x, busy: threading.Event | None, seconds: float) -> float:
    """Steps/s of the stand-in loop while ``busy`` is set (or for ``seconds`` when None)."""
    n, t0 = 0, time.perf_counter()
    while (busy.is_set() if busy is not None else time.perf_counter() - t0 < seconds) or n < 3:
        stand_in_step(model, opt, x)
        n += 1
    return n / (time.perf_counter() - t0)


def run_beside(decode, model, opt, x) -> tuple[float, float]:
    """(loop steps/s, decode wall s) with ``decode()`` in a background thread."""
    busy, out = threading.Event(), {}
    busy.set()

    def work():
        t0 = time.perf_counter()
        decode()
        out["s"] = time.perf_counter() - t0
        busy.clear()

    th = threading.Thread(target=work)
    th.start()
    rate = loop_rate(model, opt, x, busy, 0)
    th.join()
    return rate, out["s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--episodes", type=int, default=0, help="decode this many (0: all)")
    ap.add_argument("--workers", type=int, default=2, help="decoding threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    reader = LeRobotDatasetReader(args.dataset)
    n = args.episodes or reader.num_episodes
    table = sorted({reader.episode_task(e) for e in range(n)})
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3, 2, 1),
        torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64 * 16 * 16, 64),
    )  # fmt: skip
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    x = torch.randn(32, 3, 64, 64)
    feed = EpisodeFeed(args.dataset, 8, 0, table, args.workers, poll_s=3600, max_batch=n)
    try:
        ways = {
            "thread (old)": lambda: load_episode_arrays(
                args.dataset, 8, list(range(n)), args.workers, table
            ),  # fmt: skip
            "child process (new)": lambda: feed._decode_in_child(0, n, table),
        }
        rows = {"alone": {"steps_per_s": [], "decode_s": []}}
        rows.update({k: {"steps_per_s": [], "decode_s": []} for k in ways})
        for _ in range(args.repeats):
            rows["alone"]["steps_per_s"].append(loop_rate(model, opt, x, None, 5.0))
            for name, decode in ways.items():
                rate, secs = run_beside(decode, model, opt, x)
                rows[name]["steps_per_s"].append(rate)
                rows[name]["decode_s"].append(secs)
    finally:
        feed.close()
    print(f"{n} episodes, {args.workers} decoding threads, median of {args.repeats} runs")
    print(f"{'decode':<22}{'loop steps/s':>14}{'decode wall s':>15}")
    summary = {}
    for name, r in rows.items():
        steps = statistics.median(r["steps_per_s"])
        dec = statistics.median(r["decode_s"]) if r["decode_s"] else None
        summary[name] = {"steps_per_s": steps, "decode_s": dec, "runs": r}
        print(f"{name:<22}{steps:>14.2f}{'-' if dec is None else f'{dec:.1f}':>15}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": args.dataset, "episodes": n, "workers": args.workers,
                   "repeats": args.repeats, "results": summary}  # fmt: skip
        Path(args.json).write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()

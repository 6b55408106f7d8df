"""Time the in-memory training load (``vla.data.episode_arrays.load_episode_arrays``): the step between
`vla data generate` and the first training step, which decodes every episode's videos.

    .venv/bin/python benchmarks/train_load_bench.py --dataset DIR [--episodes 1000] \\
        [--workers 2 4] [--repeats 3] [--json OUT]

DIR is any LeRobot v3 folder, e.g. one written by `vla data generate`. Prints the median
seconds over ``--repeats`` loads per worker count, and a pixel checksum so that runs of
different code can be checked for equal output. An older checkout runs the same script through PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from vla.data.episode_arrays import load_episode_arrays


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--episodes", type=int, default=1000, help="the first N episodes")
    p.add_argument("--workers", type=int, nargs="+", default=[2])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    rows = []
    print(f"{'workers':>7s} {'median s':>9s} {'ms/episode':>10s} {'frames':>8s} {'checksum':>12s}")
    for workers in args.workers:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            arrays = load_episode_arrays(str(args.dataset), 8, list(range(args.episodes)), workers)
            times.append(time.perf_counter() - t0)
        first = next(iter(arrays.frames.values()))
        checksum = int(sum(int(v[::97].sum()) for v in arrays.frames.values()))
        med = statistics.median(times)
        rows.append({"workers": workers, "episodes": args.episodes, "median_s": med,
                     "times_s": times, "frames": len(first), "checksum": checksum})  # fmt: skip
        print(f"{workers:7d} {med:9.1f} {1000 * med / args.episodes:10.1f} {len(first):8d} "
              f"{checksum:12d}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

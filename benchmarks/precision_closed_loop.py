"""Closed-loop check of reduced precision: `vla eval` episodes driven by FastPolicy in a dtype.

    for dtype in --dtypes:   same seeds, same episodes (vla.eval.runner jobs)
      worker: vla eval's worker + its Policy wrapped in FastPolicy(dtype, CUDA graphs on CUDA)
      -> one `vla eval`-format JSON report per dtype (OUT/eval_<dtype>.json)
    then pair them episode by episode:  vla compare OUT/eval_float32.json OUT/eval_float16.json

    python benchmarks/precision_closed_loop.py --device cuda --episodes-per-task 25 \\
        --workers 8 --out eval_precision [--dtypes float32,float16] [--text-cache FILE]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vla.constants import SHIPPED_CHECKPOINT
from vla.eval import runner
from vla.eval.report import build_report, format_table


def init_fast_worker(cfg: runner.EvalConfig, image_size, quota, slots, dtype: str) -> None:
    """`vla eval`'s worker initialiser, then its Policy served through FastPolicy(dtype)."""
    from vla.inference import FastConfig, FastPolicy

    runner.init_worker(cfg, image_size, quota, slots)
    source = runner._WORKER["source"]
    fast = FastPolicy(source.policy, FastConfig(dtype=dtype, buckets=(1,)))
    fast.warmup()
    source.policy = fast


def evaluate(cfg: runner.EvalConfig, dtype: str) -> dict:
    """Every episode of ``cfg`` with the policy in ``dtype``; the `vla eval` JSON report."""
    import time

    image_size = runner.resolve_image_size(cfg)
    families = list(cfg.families) if cfg.families else runner.sim_adapter.suite_families(cfg.suite)
    jobs = runner.make_jobs(cfg, families)
    ctx = mp.get_context("spawn")
    quota = ctx.Array("i", 1)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=init_fast_worker,
                             initargs=(cfg, image_size, quota, [], dtype)) as pool:  # fmt: skip
        results = list(pool.map(runner.run_job, jobs))
    wall = time.perf_counter() - t0
    info = {**runner.run_info(cfg, image_size), "fast_dtype": dtype}
    timing = {"wall_s": wall, "episodes_per_s": len(results) / wall, "workers": cfg.workers}
    return build_report(results, run_info=info, timing=timing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED_CHECKPOINT))
    ap.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    ap.add_argument("--dtypes", default="float32,float16")
    ap.add_argument("--episodes-per-task", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="train", choices=("train", "heldout"))
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--text-cache", default=None)
    ap.add_argument("--out", required=True, help="folder for eval_<dtype>.json")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for dtype in args.dtypes.split(","):
        cfg = runner.EvalConfig(
            checkpoint=args.checkpoint, episodes_per_task=args.episodes_per_task, seed=args.seed,
            splits=(args.split,), workers=args.workers, device=args.device,
            text_cache=args.text_cache, progress=False, videos_per_outcome=0,
        )  # fmt: skip
        report = evaluate(cfg, dtype)
        print(f"== FastPolicy {dtype} on {args.device}")
        print(format_table(report))
        path = out / f"eval_{dtype}.json"
        path.write_text(json.dumps(report, indent=1))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Action tokenizer benchmark: reconstruction error, tokens per chunk, encode/decode speed.

How to run (from the repository root)::

    # on a LeRobot v3 dataset (expert demonstrations, e.g. from `vla data generate`)
    nice .venv/bin/python benchmarks/tokenizers_bench.py --dataset DIR --horizon 10
    # scripted experts rolled out directly (no rendering, no dataset written)
    nice .venv/bin/python benchmarks/tokenizers_bench.py --sim-experts 200 --backend mujoco
    # without a simulator: smooth min-jerk chunks (vla/tokenizers/synthetic.py)
    nice .venv/bin/python benchmarks/tokenizers_bench.py --synthetic --horizon 10

Episodes are split at random (``--test-fraction`` held out, seeded); FAST's BPE is fitted
on the training episodes' chunks and everything is measured on the held-out chunks, with the
dataset's own ``meta/stats.json`` for normalisation (experts / synthetic: stats of the training
episodes).
Errors are against the raw actions, in action units, so they include clipping at q01/q99.
Speed: median over ``--repeats`` of a batch encode/decode of all test chunks (chunks/s), and of
single-chunk calls (microseconds, the latency a policy sees per step). Prints a table and writes
JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vla.constants import ACTION_DIM, EEF_ACTION_NAMES  # noqa: E402
from vla.data.reader import dataset_episode_actions  # noqa: E402
from vla.tokenizers import (  # noqa: E402
    ActionTokenizer,
    BinningActionTokenizer,
    BinningConfig,
    FastActionTokenizer,
    FastConfig,
)
from vla.tokenizers.chunks import sliding_chunks  # noqa: E402
from vla.tokenizers.normalization import compute_action_stats  # noqa: E402
from vla.tokenizers.synthetic import min_jerk_episode  # noqa: E402


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def load_episodes(args: argparse.Namespace) -> tuple[list[np.ndarray], dict | None, str]:
    """Episodes (T, D) and the dataset's action stats (None: computed from the train split)."""
    if args.synthetic:
        rng = np.random.default_rng(args.seed)
        episodes = [min_jerk_episode(args.episode_length, rng) for _ in range(args.episodes)]
        return episodes, None, f"synthetic min-jerk ({args.episodes} episodes)"
    if args.sim_experts:
        from sim.experts import expert_episode_actions  # the simulator: only this source

        episodes = expert_episode_actions(args.sim_experts, args.backend, args.seed)
        name = f"{args.backend} scripted experts ({len(episodes)}/{args.sim_experts} succeeded)"
        return episodes, None, name
    episodes, stats = dataset_episode_actions(args.dataset)
    return episodes, stats, str(args.dataset)


def measure(
    name: str, tok: ActionTokenizer, test: np.ndarray, repeats: int, fit_s: float | None
) -> dict:
    """Error, token counts and speeds of one tokenizer on test chunks (N, H, D)."""
    ids = tok.encode(test)
    if isinstance(tok, FastActionTokenizer):
        decoded, ok = tok.decode(ids, strict=False)
        lengths = np.array([len(i) for i in ids])
        failures = int((~ok).sum())
        decoded = decoded[ok]
        ref = test[ok]
    else:
        decoded = tok.decode(ids)
        lengths = np.full(len(test), ids[0].size)
        failures = 0
        ref = test
    err = (decoded - ref).reshape(-1, test.shape[-1])
    # Error against actions clipped to the normalisation range: the tokenizer's own error,
    # without what clipping at q01/q99 (or min/max, mean +- k std) removes on purpose.
    half = tok.normalizer.half_range
    centre = tok.normalizer.unnormalize(np.zeros(test.shape[-1]))
    err_in = (decoded - np.clip(ref, centre - half, centre + half)).reshape(err.shape)
    one = test[0]
    one_ids = tok.encode(one)
    enc_s = _median_time(lambda: tok.encode(test), repeats)
    dec_s = _median_time(lambda: tok.decode(ids), repeats)
    enc1 = _median_time(lambda: tok.encode(one), repeats * 20)
    dec1 = _median_time(lambda: tok.decode(one_ids), repeats * 20)
    return {
        "name": name,
        "config": tok.config_dict(),
        "vocab_size": tok.vocab_size,
        "rmse_per_dim": np.sqrt((err**2).mean(0)).tolist(),
        "max_abs_err_per_dim": np.abs(err).max(0).tolist(),
        "rmse_in_range_per_dim": np.sqrt((err_in**2).mean(0)).tolist(),
        "max_abs_err_in_range_per_dim": np.abs(err_in).max(0).tolist(),
        "tokens_per_chunk_mean": float(lengths.mean()),
        "tokens_per_chunk_p95": float(np.percentile(lengths, 95)),
        "tokens_per_chunk_max": int(lengths.max()),
        "decode_failures": failures,
        "encode_chunks_per_s": len(test) / enc_s,
        "decode_chunks_per_s": len(test) / dec_s,
        "encode_one_chunk_us": enc1 * 1e6,
        "decode_one_chunk_us": dec1 * 1e6,
        "fit_s": fit_s,
    }


def print_table(results: list[dict], meta: dict) -> None:
    print(
        f"\ndata: {meta['data']}  H={meta['horizon']} D={meta['action_dim']}  "
        f"train chunks={meta['train_chunks']} test chunks={meta['test_chunks']}"
    )
    head = (
        f"{'tokenizer':<22}{'tok/chunk':>10}{'p95':>6}{'enc ch/s':>11}{'dec ch/s':>11}"
        f"{'enc1 us':>9}{'dec1 us':>9}{'fails':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r['name']:<22}{r['tokens_per_chunk_mean']:>10.1f}{r['tokens_per_chunk_p95']:>6.0f}"
            f"{r['encode_chunks_per_s']:>11.0f}{r['decode_chunks_per_s']:>11.0f}"
            f"{r['encode_one_chunk_us']:>9.0f}{r['decode_one_chunk_us']:>9.0f}"
            f"{r['decode_failures']:>6d}"
        )
    names = meta["dim_names"]
    for suffix, what in (("", "vs raw actions"), ("_in_range", "vs actions clipped to range")):
        print(f"\nreconstruction error per dim (action units, {what}): RMSE / max")
        print(f"{'tokenizer':<22}" + "".join(f"{n:>18}" for n in names))
        for r in results:
            rmse, mx = r[f"rmse{suffix}_per_dim"], r[f"max_abs_err{suffix}_per_dim"]
            cells = "".join(f"{a:>9.2e}/{b:<8.1e}" for a, b in zip(rmse, mx, strict=True))
            print(f"{r['name']:<22}{cells}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", type=Path, help="LeRobot v3 dataset folder")
    src.add_argument("--synthetic", action="store_true", help="min-jerk synthetic episodes")
    src.add_argument(
        "--sim-experts", type=int, metavar="N", help="roll out N scripted-expert episodes"
    )
    p.add_argument("--backend", default="mujoco", help="simulator for --sim-experts")
    p.add_argument("--horizon", type=int, default=10, help="chunk length H")
    p.add_argument("--stride", type=int, default=1, help="steps between chunk starts")
    p.add_argument("--test-fraction", type=float, default=0.2, help="episodes held out")
    p.add_argument("--episodes", type=int, default=300, help="synthetic episodes")
    p.add_argument("--episode-length", type=int, default=120, help="synthetic episode length")
    p.add_argument("--n-bins", type=int, default=256)
    p.add_argument("--fast-scales", type=float, nargs="+", default=[10.0])
    p.add_argument("--fast-vocab", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/tokenizers_bench.json"))
    args = p.parse_args(argv)

    episodes, stats, data_name = load_episodes(args)
    held_out = set(
        np.random.default_rng(args.seed)
        .permutation(len(episodes))[: int(round(args.test_fraction * len(episodes)))]
        .tolist()
    )
    test_eps = [e for i, e in enumerate(episodes) if i in held_out]
    train_eps = [e for i, e in enumerate(episodes) if i not in held_out]
    if not test_eps or not train_eps:  # tiny datasets: measure on what there is, say so
        print("note: too few episodes to hold any out; fitting and measuring on all of them")
        train_eps = test_eps = episodes
    train = sliding_chunks(train_eps, args.horizon, args.stride)
    test = sliding_chunks(test_eps, args.horizon, args.stride)
    if stats is None:
        stats = compute_action_stats(np.concatenate(train_eps))

    results = []
    # The binary gripper mode assumes the -1 open / +1 close convention of vla.constants; a
    # dataset whose last dimension is not such a command would only measure the mismatch.
    grip = float(np.asarray(stats["min"])[-1]), float(np.asarray(stats["max"])[-1])
    binary_modes = [False]
    if np.allclose(grip, (-1.0, 1.0), atol=1e-3):
        binary_modes.append(True)
    else:
        print(f"note: last action dim spans {grip}, not the -1/+1 gripper command: no grip2 run")
    for binary in binary_modes:
        name = "binning" + ("+grip2" if binary else "") + f"-{args.n_bins}"
        cfg = BinningConfig(n_bins=args.n_bins, gripper_binary=binary)
        results.append(measure(name, BinningActionTokenizer(stats, cfg), test, args.repeats, None))
    for scale in args.fast_scales:
        fast = FastActionTokenizer(stats, FastConfig(scale=scale, vocab_size=args.fast_vocab))
        t0 = time.perf_counter()
        fast.fit(train)
        fit_s = time.perf_counter() - t0
        results.append(
            measure(f"fast-s{scale:g}-v{args.fast_vocab}", fast, test, args.repeats, fit_s)
        )

    d = test.shape[-1]

    meta = {
        "data": data_name,
        "horizon": args.horizon,
        "stride": args.stride,
        "action_dim": d,
        "dim_names": list(EEF_ACTION_NAMES) if d == ACTION_DIM else [f"a{i}" for i in range(d)],
        "train_chunks": len(train),
        "test_chunks": len(test),
        "machine": f"{platform.processor() or platform.machine()} python {platform.python_version()}",
    }
    print_table(results, meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

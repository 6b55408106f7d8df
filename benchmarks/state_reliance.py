"""CPU-scale experiment: does the policy localise from the cameras or read the state?

    MUJOCO_GL=egl nice .venv/bin/python benchmarks/state_reliance.py \
        --train DS_TRAIN --test DS_TEST --steps 600 [--variants state nostate dropout] \
        [--json /tmp/state_reliance.json]

Trains the tiny model once per variant (``state``: the old recipe; ``nostate``:
``--model.use_state=false``; ``dropout``: ``--state_dropout=0.5 --state_noise_std=0.1``) on the
same episodes, then measures the open-loop error of the first predicted action (dx, dy, in cm)
against the expert's, at frame 0 (the home pose: the state is the same in every episode, so
only the images tell where the target is) and at later frames, on training and held-out
episodes; plus the last logged token accuracy with real and with shuffled states.
A state-memorising model is exact on later training frames but wrong at frame 0 and on
held-out episodes. Small scale: expect noisy numbers; the direction is what it shows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from vla.constants import ACTION, OBS_STATE
from vla.data import LeRobotDatasetReader
from vla.policy import Policy
from vla.train import load_config, train

VARIANTS: dict[str, list[str]] = {
    "state": [],
    "nostate": ["--model.use_state=false"],
    "dropout": ["--state_dropout=0.5", "--state_noise_std=0.1"],
}


def open_loop_errors(policy: Policy, root: Path, max_frames: int = 6) -> dict[str, float]:
    """Mean |dx, dy| error (cm) of the first predicted action: frame 0 vs frames 1..max."""
    r = LeRobotDatasetReader(root)
    first, later = [], []
    for e in range(r.num_episodes):
        arrays = r.episode_arrays(e)
        frames = {k: r.episode_frames(e, k) for k in r.camera_keys}
        obs = [
            {**{k: frames[k][t] for k in r.camera_keys}, OBS_STATE: arrays[OBS_STATE][t],
             "task": r.episode_task(e)}
            for t in range(min(max_frames, len(arrays[ACTION])))
        ]  # fmt: skip
        pred = policy.predict_batch(obs)[:, 0, :2]  # (T, 2) first action of each chunk
        err = 100 * np.abs(pred - arrays[ACTION][: len(obs), :2]).mean(axis=1)
        first.append(err[0])
        later.extend(err[1:])
    return {"frame0_cm": float(np.mean(first)), "later_cm": float(np.mean(later))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=Path, required=True, help="training dataset folder")
    p.add_argument("--test", type=Path, required=True, help="held-out dataset folder")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", type=Path, default=Path("/tmp/state_reliance"))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.variants:
        t0 = time.perf_counter()
        cfg = load_config("configs/train/tiny_cpu.yaml", [
            f"--dataset={args.train}", f"--output_dir={args.out / name}", "--progress=false",
            "--model.text_encoder=trainable", f"--steps={args.steps}",
            f"--batch_size={args.batch_size}", f"--log_every={max(1, args.steps // 10)}",
            f"--save_every={args.steps}", "--lr=2e-3", f"--warmup_steps={min(30, args.steps // 4)}", *VARIANTS[name],
        ])  # fmt: skip
        summary = train(cfg)
        policy = Policy.from_pretrained(summary["final_checkpoint"])
        last = summary["history"][-1]
        row = {
            "variant": name, "train_s": time.perf_counter() - t0, "loss": last["loss"],
            "accuracy": last["accuracy"], "accuracy_shuffled_state": last["accuracy_shuffled_state"],
            **{f"train_{k}": v for k, v in open_loop_errors(policy, args.train).items()},
            **{f"test_{k}": v for k, v in open_loop_errors(policy, args.test).items()},
        }  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = ["variant", "loss", "accuracy", "accuracy_shuffled_state", "train_frame0_cm",
            "train_later_cm", "test_frame0_cm", "test_later_cm"]  # fmt: skip
    print(" ".join(f"{c:>14s}" for c in cols))
    for r in rows:
        print(" ".join(f"{r[c]:>14.3f}" if c != "variant" else f"{r[c]:>14s}" for c in cols))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

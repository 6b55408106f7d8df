"""Golden losses: a tiny training run gives the losses, metrics and weights it gave when the
numbers in ``golden/train_runs.json`` were recorded (a refactor of the loop changes none of them).

Three runs on a generated 3-episode dataset (fixed seed): the in-memory path with every per-step
feature on (augmentation, state noise and dropout, soft labels, EMA, validation, a periodic
checkpoint), the same run resumed from its step-3 checkpoint, and the DataLoader path.
Regenerate (only for an intended change of the numbers, and say why in the commit):

    PYTHONPATH=. python tests/train/test_train_golden.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from vla_synthetic import overrides, write_dataset  # noqa: E402

from vla.train import load_config, train  # noqa: E402

PRESET = "configs/train/tiny_cpu.yaml"
GOLDEN = Path(__file__).parent / "golden" / "train_runs.json"
LOGGED = ("loss", "accuracy", "accuracy_shuffled_state", "grad_norm", "lr", "progress")
MEMORY = ("--steps=6", "--batch_size=4", "--log_every=1", "--save_every=3", "--warmup_steps=2",
          "--keep_checkpoints=5", "--ema_decay=0.5", "--state_dropout=0.3",
          "--state_noise_std=0.05", "--label_sigma=1.0", "--val_every=2", "--val_samples=8",
          "--save_dtype=float32")  # fmt: skip
LOADER = ("--steps=3", "--batch_size=4", "--log_every=1", "--data_mode=loader",
          "--num_workers=0", "--save_dtype=float32")  # fmt: skip


def _weights(folder: Path) -> dict[str, float]:
    """Per tensor of the shipped weights: the sum and the sum of squares (float64)."""
    from safetensors.torch import load_file

    out = {}
    for k, v in sorted(load_file(str(folder / "model.safetensors")).items()):
        v = v.double()
        out[k] = [float(v.sum()), float((v * v).sum())]
    return out


def _run(dataset: Path, out: Path, *extra: str) -> dict:
    summary = train(load_config(PRESET, overrides(dataset, out, *extra)))
    return {
        "history": [
            {k: r[k] for k in ("step", *LOGGED) if k in r}
            | {k: v for k, v in r.items() if k.startswith("val_")}
            for r in summary["history"]
        ],
        "val": summary["val"],
        "weights": _weights(Path(summary["final_checkpoint"])),
    }


def measure(tmp: Path) -> dict:
    """The three runs' numbers (one intra-op thread: the sums do not depend on the box's load)."""
    torch.set_num_threads(1)
    dataset = write_dataset(tmp / "ds", episodes=3, length=12)
    val = write_dataset(tmp / "val", episodes=1, length=12)
    memory = (*MEMORY, f"--val_dataset={val}")
    step3 = tmp / "memory" / "checkpoints" / "step_0000003"
    return {
        "memory": _run(dataset, tmp / "memory", *memory),
        "resumed": _run(dataset, tmp / "resumed", *memory, f"--resume={step3}"),
        "loader": _run(dataset, tmp / "loader", *LOADER),
    }


def _close(got, want, path="") -> list[str]:
    """Where ``got`` differs from ``want`` beyond float rounding: 1e-6 relative for the logged
    numbers, 1e-4 for the weight sums. Another CPU's kernels round differently, and six Adam
    steps plus the cancellation in a sum amplify that in the weights (an AMD EPYC gave up to
    2.4e-5 against the recording machine, losses within 2e-7). A changed draw, order or formula
    moves these numbers far more: --ema_decay 0.51 instead of 0.5 put 136 weight sums over 1e-4
    (up to 1.1e-2) and 13 logged numbers over 1e-6."""
    if isinstance(want, dict):
        if set(got) != set(want):
            return [f"{path}: keys {sorted(set(got) ^ set(want))} differ"]
        return [d for k in want for d in _close(got[k], want[k], f"{path}.{k}")]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{path}: length {len(got)} != {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in _close(g, w, f"{path}[{i}]")
        ]
    if isinstance(want, float):
        rel = 1e-4 if ".weights." in path else 1e-6
        return [] if got == pytest.approx(want, rel=rel, abs=1e-9) else [f"{path}: {got} != {want}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def test_training_numbers_match_the_recorded_run(tmp_path):
    got = measure(tmp_path)
    want = json.loads(GOLDEN.read_text())
    assert len(got["memory"]["history"]) == 6 and "val_loss" in got["memory"]["history"][1]

    # the resumed run draws the batches and states the uninterrupted run drew (its validation
    # counts val_every from the resumed step)
    def train_only(history):
        return [{k: v for k, v in r.items() if not k.startswith("val_")} for r in history]

    assert train_only(got["resumed"]["history"]) == train_only(got["memory"]["history"][3:])
    assert got["resumed"]["weights"] == got["memory"]["weights"]
    diffs = _close(got, want)
    assert not diffs, "\n".join(diffs[:20])


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(json.dumps(measure(Path(tmp)), indent=1) + "\n")
    print(f"wrote {GOLDEN}")

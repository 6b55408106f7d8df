"""A checkpoint folder made small enough to travel with a GPU-machine call, for a warm start.

    python scripts/gpu_init.py pack checkpoints/pick_place_v7 .init    # here: ~13 MB instead of 25
    python scripts/gpu_init.py unpack .init /tmp/v3init                 # there: a Policy folder

A device call carries at most 64 MiB; the simulator wheels, GL loaders and text caches take ~46
of it, so the shipped fp16 weights (25 MB) do not fit beside them and a warm start needed a
second call (whose gap to the first has lost three runs). ``pack`` stores every weight matrix as
int8 with one fp16 absmax scale per output row (vectors stay fp16), plus the folder's small
files; ``unpack`` writes the fp16 ``model.safetensors`` back, with the same keys, shapes and
dtypes. The rounding error (at most half a quantisation step, 1/254 of a row's largest weight)
is an initialisation detail: training moves the weights much further in its first steps.
``unpack`` writes into a temporary folder and renames it, so a reader waiting for DEST sees a
complete folder or none.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

WEIGHTS = "model.safetensors"
PACKED = "model_int8.safetensors"
SCALE = ".__int8_scale"  # key suffix of a quantised matrix's per-row scales


def _rows(t: torch.Tensor) -> torch.Tensor:
    """The rows that share one scale: a conv kernel per output channel, else the last dim."""
    return t.reshape(t.shape[0], -1) if t.dim() == 4 else t.reshape(-1, t.shape[-1])


def quantize(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """int8 rows + fp16 scales for tensors of 2+ dims; others as fp16."""
    packed = {}
    for key, w in weights.items():
        if w.dim() < 2:
            packed[key] = w.to(torch.float16)
            continue
        rows = _rows(w.float())  # (rows, row length)
        scale = rows.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # (rows,)
        packed[key] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(w.shape)
        packed[key + SCALE] = scale.to(torch.float16)
    return packed


def dequantize(packed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of ``quantize``, as fp16 tensors."""
    weights = {}
    for key, t in packed.items():
        if key.endswith(SCALE):
            continue
        if key + SCALE in packed:
            scale = packed[key + SCALE].float()
            rows = _rows(t.float()) * scale[:, None]
            weights[key] = rows.reshape(t.shape).to(torch.float16)
        else:
            weights[key] = t.to(torch.float16)
    return weights


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


def _copy_small_files(src: Path, dst: Path, skip: set[str]) -> None:
    for item in src.iterdir():
        if item.name in skip:
            continue
        if item.is_dir():
            shutil.copytree(item, dst / item.name)
        else:
            shutil.copy2(item, dst / item.name)


def pack(checkpoint: Path, out: Path) -> Path:
    """Write the int8 copy of ``checkpoint`` into ``out`` (replaced); returns ``out``."""
    if not (checkpoint / WEIGHTS).is_file():
        raise FileNotFoundError(f"{checkpoint} has no {WEIGHTS}: pass a Policy checkpoint folder")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    weights, meta = _read(checkpoint / WEIGHTS)
    save_file(quantize(weights), str(out / PACKED), metadata=meta)
    # evaluation reports, plots and logs do not help a warm start
    keep = {"config.json", "stats.json", "policy_meta.json", "train_config.yaml",
            "action_tokenizer"}  # fmt: skip
    _copy_small_files(checkpoint, out, {i.name for i in checkpoint.iterdir()} - keep)
    return out


def unpack(packed_dir: Path, dest: Path) -> Path:
    """Write the fp16 Policy folder of a packed one to ``dest`` (replaced); returns ``dest``."""
    if not (packed_dir / PACKED).is_file():
        raise FileNotFoundError(
            f"{packed_dir} has no {PACKED}: make it with `python scripts/gpu_init.py pack CKPT DIR`"
        )
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    packed, meta = _read(packed_dir / PACKED)
    save_file(dequantize(packed), str(tmp / WEIGHTS), metadata=meta)
    _copy_small_files(packed_dir, tmp, {PACKED})
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["pack", "unpack"])
    parser.add_argument("src", type=Path, help="pack: a checkpoint folder; unpack: a packed one")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    done = pack(args.src, args.dest) if args.mode == "pack" else unpack(args.src, args.dest)
    size = sum(p.stat().st_size for p in done.rglob("*") if p.is_file())
    print(f"{args.mode}: {done} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

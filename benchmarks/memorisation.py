"""How much of a checkpoint's token accuracy carries over to demonstrations it never saw?

Scores a Policy folder's model on fixed samples of each dataset given (teacher-forced, no
augmentation, the model in eval mode) with the metrics `vla train --val_dataset` logs, plus the
bin error per action dimension:

    python benchmarks/memorisation.py --checkpoint checkpoints/pick_place_v7 \
        --dataset seen=/tmp/d3 --dataset fresh=/tmp/d4 --json out/memorisation.json

(/tmp/d3 and /tmp/d4 from `vla data generate --suite pick_place --backend mujoco --episodes 60
--seed 3|4 --action-noise 0.5`: seed 3's first episodes are among v4's training data, seed 4's
are not). The gap between the rows is what the model memorised rather than learned.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace


def main(argv: list[str] | None = None) -> int:
    import torch

    from vla.policy import Policy
    from vla.train.validation import Validation

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--dataset", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    policy = Policy.from_pretrained(args.checkpoint, device=args.device)
    model, meta = policy.model, policy.meta
    text_tf = policy.chain[-1]
    cfg = SimpleNamespace(chunk_size=meta.chunk_size, decode_workers=2,
                          state_norm_mode=meta.state_norm_mode)  # fmt: skip
    dims = meta.action_names
    width = policy.tokenizer.bin_width  # action units per bin, per dimension
    rows = {}
    for spec in args.dataset:
        name, sep, root = spec.partition("=")
        if not sep:
            ap.error(f"--dataset {spec!r}: write NAME=DIR, e.g. fresh=/tmp/d4")
        t0 = time.time()
        val = Validation(root, args.samples, cfg=cfg, tokenizer=policy.tokenizer,
                         vcfg=model.config, stats=policy.stats, cams=list(meta.camera_keys),
                         text_src=text_tf.encoder, text_tf=text_tf,
                         device=torch.device(args.device))  # fmt: skip
        loss_sum, pred, target, keep = val.predictions(model, nullcontext())
        metrics = val.metrics(loss_sum, pred, target, keep)
        err = (pred - target).abs().float()
        n_bin = meta.chunk_size * len(dims)  # step-major: token i is dimension i % len(dims)
        per_dim = {}
        for d, dim in enumerate(dims):
            cols = torch.arange(d, n_bin, len(dims))
            e = err[:, cols][keep[:, cols]]  # the kept tokens of dimension d
            per_dim[dim] = {"mean": float(e.mean()), "median": float(e.median()),
                            "within_1": float((e <= 1).float().mean()),
                            "mean_action_units": float(e.mean()) * float(width[d])}  # fmt: skip
        rows[name] = {"dataset": root, "episodes": val.episodes, "samples": len(val.idx),
                      **metrics, "per_dim": per_dim, "seconds": time.time() - t0}  # fmt: skip

    print(f"{args.checkpoint}, {args.samples} samples per dataset")
    print(f"{'dataset':10s} {'episodes':>8s} {'loss':>7s} {'acc':>6s} {'bin err':>8s}  "
          + "  ".join(f"{d[:9]:>9s}" for d in dims))  # fmt: skip
    for name, r in rows.items():
        per = "  ".join(f"{v['median']:4.0f}/{v['mean']:4.1f}" for v in r["per_dim"].values())
        print(f"{name:10s} {r['episodes']:8d} {r['val_loss']:7.3f} {r['val_accuracy']:6.3f} "
              f"{r['val_bin_error']:8.2f}  {per}")  # fmt: skip
    for name, r in rows.items():
        per = "  ".join(f"{v['mean_action_units']:9.2g}" for v in r["per_dim"].values())
        print(f"{name + ' (units)':41s} {per}")
    print("(per dimension: median/mean |predicted - target| in bins, then the mean in action "
          "units: m, rad per step; a binary gripper's flip is 2)")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"checkpoint": args.checkpoint, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training-time robustness augmentation that acts on a transformed batch (after the image
chain): camera dropout.

Camera dropout: with probability ``p`` per sample, one of the cameras (chosen uniformly) is
replaced by a black frame, as a policy sees it when that camera's driver delivers zeros or the
camera is unplugged. The model then learns to act from the remaining camera instead of failing
outright (`vla eval --perturb drop_wrist` / `drop_scene` measure it).

Random numbers come from the caller's seeded generator, so resumed runs replay exactly; with
``p == 0`` nothing is drawn, so runs without dropout are unchanged bit for bit.
"""

from __future__ import annotations

import torch


def drop_cameras(batch: dict, p: float, g: torch.Generator) -> torch.Tensor | None:
    """Black out one camera per sample with probability ``p``, in place on ``batch["images"]``
    ((B, N_cam, 3, H, W) floats in [0, 1] after the image chain). Returns the (B,) index of the
    dropped camera (-1: none) or None when ``p`` is 0 or there is a single camera."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"camera_dropout must be a probability in [0, 1], got {p}")
    images = batch["images"]
    b, n = images.shape[:2]
    if p == 0.0 or n < 2:
        return None
    hit = torch.rand(b, generator=g) < p
    which = torch.randint(n, (b,), generator=g)
    dropped = torch.where(hit, which, torch.full_like(which, -1))
    keep = torch.ones(b, n, dtype=images.dtype)
    rows = torch.nonzero(hit).squeeze(1)
    keep[rows, which[rows]] = 0.0
    batch["images"] = images * keep.to(images.device)[:, :, None, None, None]
    return dropped

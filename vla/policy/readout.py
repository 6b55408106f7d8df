"""Readout: action logits (B, T, V) -> one bin id per position (B, T), shared by every path.

    logits (B, T, V) --softmax--> p over the V ordinal bins
      "argmax":   the most likely bin (ids = logits.argmax(-1))
      "smoothed": argmax of p convolved with a Gaussian of 4 bins: the centre of the densest
                  neighbourhood, not the tallest spike on a plateau
      "mean":     round(sum_i p_i * i), the expected bin (HL-Gauss's own readout)
    --> ids (B, T) --ActionTokenizer.decode--> actions

Why a choice: a checkpoint trained against HL-Gauss soft labels (``label_sigma`` > 0 bins)
predicts a wide unimodal distribution whose top is a plateau (v7: sigma 8 bins, the runner-up
within 0.01 logits of the argmax for a third of the tokens). The argmax of a plateau is decided
by rounding noise: a different dtype, kernel or quantisation moves it across the plateau, and
where two modes are nearly tied, from one end of the range to the other. The expectation is a
smooth function of the logits: a logit error of e moves it by about e bins * sigma, never by a
jump, so reduced-precision paths land on the same bin or its neighbour.

``Readout`` is a small ``nn.Module`` of tensor ops only (softmax, a matmul with the bin
indices, round), so the same object runs in ``Policy``, inside ``FastPolicy``'s CUDA graph and
inside the exported ONNX graph; ``OnnxPolicy`` and the server therefore agree with ``Policy``.
The mode is part of the checkpoint (``policy_meta.json`` key ``readout``; absent = "argmax",
what every checkpoint before it was evaluated with).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

READOUT_MODES = ("argmax", "smoothed", "mean")
# "smoothed": the probabilities convolved with a Gaussian of this width (bins) before the argmax
SMOOTH_SIGMA_BINS = 4.0


class Readout(nn.Module):
    """Logits (..., V) -> ids (...) int64 by ``mode`` (see the module docstring)."""

    def __init__(self, mode: str = "argmax"):
        super().__init__()
        if mode not in READOUT_MODES:
            raise ValueError(
                f"readout {mode!r}: choose one of {READOUT_MODES} (policy_meta.json 'readout')"
            )
        self.mode = mode

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if self.mode == "argmax":
            return logits.argmax(-1)
        v = logits.shape[-1]
        p = torch.softmax(logits.float(), dim=-1)  # (..., V) fp32 whatever the model's dtype
        if self.mode == "smoothed":
            return smooth(p, SMOOTH_SIGMA_BINS).argmax(-1)
        bins = torch.arange(v, device=logits.device, dtype=torch.float32)  # (V,)
        expected = (p * bins).sum(-1)  # (...) in [0, V-1]
        return expected.round().clamp(0, v - 1).long()

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def smooth(p: torch.Tensor, sigma: float) -> torch.Tensor:
    """``p`` (..., V) convolved over bins with a Gaussian of ``sigma`` bins, renormalised by
    the kernel's mass inside the range (so the end bins are not pulled inwards)."""
    half = int(3 * sigma)
    x = torch.arange(-half, half + 1, device=p.device, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2).view(1, 1, -1)  # (1, 1, K)
    flat = p.reshape(-1, 1, p.shape[-1])  # (N, 1, V)
    num = F.conv1d(flat, k, padding=half)
    den = F.conv1d(torch.ones_like(flat[:1]), k, padding=half)  # (1, 1, V)
    return (num / den).reshape(p.shape)


def readout_ids(logits: torch.Tensor, mode: str) -> torch.Tensor:
    """``Readout(mode)(logits)``: ids (B, T) from logits (B, T, V)."""
    return Readout(mode)(logits)

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
from torch import nn

READOUT_MODES = ("argmax", "smoothed", "mean")
# "smoothed": the probabilities convolved with a Gaussian of this width (bins) before the argmax
SMOOTH_SIGMA_BINS = 4.0


class Readout(nn.Module):
    """Logits (..., V) -> ids (...) int64 by ``mode`` (see the module docstring)."""

    def __init__(self, mode: str = "argmax"):
        super().__init__()
        self._kernels: dict[tuple, torch.Tensor] = {}  # (V, device) -> smoothing matrix
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
            key = (v, p.device)
            if key not in self._kernels:  # built once (before a CUDA graph captures the call)
                self._kernels[key] = smoothing_matrix(v, SMOOTH_SIGMA_BINS, p.device)
            return (p @ self._kernels[key]).argmax(-1)
        bins = torch.arange(v, device=logits.device, dtype=torch.float32)  # (V,)
        expected = (p * bins).sum(-1)  # (...) in [0, V-1]
        return expected.round().clamp(0, v - 1).long()

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def smoothing_matrix(v: int, sigma: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """(V, V) ``k`` such that ``p @ k`` convolves ``p`` over bins with a Gaussian of ``sigma``
    bins (cut at 3 sigma), renormalised by the kernel's mass inside the range (the end bins
    are not pulled inwards). A banded matmul: conv1d of this shape took ~25 ms on a CPU."""
    bins = torch.arange(v, device=device, dtype=torch.float32)
    dist = bins[:, None] - bins[None, :]  # (V, V): input bin i - output bin j
    k = torch.exp(-0.5 * (dist / sigma) ** 2) * (dist.abs() <= int(3 * sigma))
    return k / k.sum(0, keepdim=True)  # column j: the weights of output bin j, summing to 1


def readout_ids(logits: torch.Tensor, mode: str) -> torch.Tensor:
    """``Readout(mode)(logits)``: ids (B, T) from logits (B, T, V)."""
    return Readout(mode)(logits)

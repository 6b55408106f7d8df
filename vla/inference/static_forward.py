"""One batch bucket of the fast path: static input buffers + the whole forward, graph-captured.

    host (pinned)                      device (static buffers, one set per bucket size)
    uint8 (B, N_cam, H, W, 3) --copy--> images_u8 --+
    float32 (B, S)           --copy--> state      --+--> forward_tokens(...)  --> ids (B, T) int64
    [instruction cache]     --copy--> text, mask --+     (uint8 -> [0, 1] float, state
                                                          normalisation, VLAModel.forward,
                                                          the policy's Readout: ONE CUDA
                                                          graph replay)

On CUDA the body is captured once with ``torch.cuda.CUDAGraph`` (every kernel launch of the
vision tower, the fusion decoder and the head becomes one ``graph.replay()``). Raw CUDA graphs
rather than ``torch.compile(mode="reduce-overhead")``: capture takes milliseconds per bucket
where compilation takes tens of seconds (and recompiles per bucket), nothing depends on a
compiler toolchain on the robot's computer, and the replay runs exactly the eager kernels, so
graph and eager outputs of one dtype are bit-identical (GPU test). The forward is shape-static
once the text is padded to ``max_text_tokens``. On CPU (or if capture fails, reported by
``FastPolicy.graph_status``) the same body runs eagerly on the same buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vla.model import VLAModel
from vla.policy.readout import Readout


@dataclass(frozen=True)
class Preprocess:
    """State normalisation constants (on device) applied inside the captured body."""

    centre: torch.Tensor  # (S,)
    scale: torch.Tensor  # (S,)
    clip: float


def forward_logits(
    model: VLAModel,
    pre: Preprocess,
    images_u8: torch.Tensor,
    state: torch.Tensor,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Action logits (B, T, V) from raw uint8 images and raw state (fused pre-processing).

    ``images_u8`` (B, N, H, W, 3) uint8; ``state`` (B, S) float32 in robot units; ``text``
    (B, L, 384) float / (B, L) ids; ``text_mask`` (B, L) bool.
    """
    imgs = images_u8.permute(0, 1, 4, 2, 3).float().div_(255.0).to(dtype)  # (B, N, 3, H, W)
    st = ((state - pre.centre) / pre.scale).clamp_(-pre.clip, pre.clip)  # (B, S) float32
    if text.is_floating_point():
        text = text.to(dtype)
    # float32 runs without TF32 convolutions (cuDNN's default on CUDA): TF32 rounds conv inputs
    # to 10 mantissa bits, enough to flip near-tied bins against the CPU fp32 reference
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=dtype != torch.float32):
        return model(imgs, st, text, text_mask)["logits"]  # (B, T, V); fp32 (Float32Head)


def forward_tokens(
    model: VLAModel,
    pre: Preprocess,
    images_u8: torch.Tensor,
    state: torch.Tensor,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    dtype: torch.dtype,
    readout: Readout | None = None,
) -> torch.Tensor:
    """Parallel action ids (B, T): ``readout`` (the Policy's; None: argmax) of
    :func:`forward_logits`."""
    readout = readout or Readout("argmax")
    return readout(forward_logits(model, pre, images_u8, state, text, text_mask, dtype))


class StaticForward:
    """Static buffers of one batch size and the (optionally CUDA-graph captured) forward."""

    def __init__(
        self,
        model: VLAModel,
        pre: Preprocess,
        batch: int,
        image_shape: tuple[int, int, int, int],
        state_dim: int,
        text_shape: tuple[int, ...],
        text_dtype: torch.dtype,
        dtype: torch.dtype,
        use_graph: bool,
        readout: Readout | None = None,
    ):
        dev = next(model.parameters()).device
        self.model, self.pre, self.batch, self.dtype = model, pre, batch, dtype
        self.readout = readout or Readout("argmax")
        self.images = torch.zeros((batch, *image_shape), dtype=torch.uint8, device=dev)
        self.state = torch.zeros(batch, state_dim, device=dev)
        self.text = torch.zeros((batch, *text_shape), dtype=text_dtype, device=dev)
        self.text_mask = torch.zeros(batch, text_shape[0], dtype=torch.bool, device=dev)
        self.text_mask[:, 0] = True  # padded slots stay valid (no fully masked text rows)
        self.slot_task: list[str | None] = [None] * batch  # instruction held in each text slot
        pinned = dev.type == "cuda"
        self.host_images = torch.zeros(self.images.shape, dtype=torch.uint8, pin_memory=pinned)
        self.host_state = torch.zeros(self.state.shape, pin_memory=pinned)
        self.copied: torch.cuda.Event | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_error: str | None = None
        self.out: torch.Tensor | None = None
        if use_graph and dev.type == "cuda":
            self._capture()

    def _body(self) -> torch.Tensor:
        return forward_tokens(
            self.model,
            self.pre,
            self.images,
            self.state,
            self.text,
            self.text_mask,
            self.dtype,
            self.readout,
        )

    def _capture(self) -> None:
        """Warm up on a side stream (cuBLAS/cuDNN workspaces, lazy inits), then capture."""
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.no_grad():
                for _ in range(3):
                    self._body()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.no_grad():
                self.out = self._body()
            self.graph = graph
        except Exception as exc:  # noqa: BLE001 - recorded and reported by `vla bench`
            self.graph, self.out = None, None
            self.graph_error = f"{type(exc).__name__}: {exc}"
            torch.cuda.synchronize()

    def upload(self, n: int) -> None:
        """Copy the first ``n`` staged host rows to the device buffers (non-blocking)."""
        self.images[:n].copy_(self.host_images[:n], non_blocking=True)
        self.state[:n].copy_(self.host_state[:n], non_blocking=True)
        if self.images.is_cuda:
            self.copied = torch.cuda.Event()
            self.copied.record()

    def wait_upload(self) -> None:
        """Block until the last ``upload`` left the pinned host buffers (safe to restage)."""
        if self.copied is not None:
            self.copied.synchronize()

    @torch.no_grad()
    def run(self) -> torch.Tensor:
        """Action ids (batch, T) for what the buffers hold now (graph replay or eager)."""
        if self.graph is not None:
            self.graph.replay()
            return self.out
        return self._body()

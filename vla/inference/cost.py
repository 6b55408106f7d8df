"""What one action chunk costs: weight bytes, FLOPs, and the resulting latency floors.

    floor(device) = max(weight_bytes / bandwidth, flops / peak_compute)

A batch-1 chunk must at least stream every weight once from DRAM (activations of this small
model fit in cache and are ignored) and do its FLOPs at the dense tensor-core peak; real
latency sits above both (kernel launches, small-matrix inefficiency). The device table states
its assumptions; Jetson figures are spec-sheet numbers, not measurements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class DeviceSpec:
    """Peak DRAM bandwidth (bytes/s) and dense half-precision tensor throughput (FLOP/s)."""

    name: str
    bandwidth: float
    peak_flops: float
    note: str


DEVICE_SPECS: dict[str, DeviceSpec] = {
    "h100-sxm": DeviceSpec("NVIDIA H100 SXM", 3.35e12, 989e12, "bf16 dense tensor cores"),
    "h100-pcie": DeviceSpec("NVIDIA H100 PCIe", 2.0e12, 756e12, "bf16 dense tensor cores"),
    "h200": DeviceSpec("NVIDIA H200", 4.8e12, 989e12, "bf16 dense tensor cores"),
    "agx-orin": DeviceSpec(
        "Jetson AGX Orin 64GB", 204.8e9, 42.5e12,
        "assumed fp16 dense = 170 sparse int8 GPU TOPS / 2 (dense) / 2 (fp16); 275 TOPS is "
        "sparse int8 GPU+DLA",
    ),
    "orin-nano": DeviceSpec(
        "Jetson Orin Nano 8GB", 102e9, 10e12,
        "assumed fp16 dense = 40 sparse int8 TOPS / 4 (67 TOPS 'Super' mode would give ~17)",
    ),
}  # fmt: skip


def gpu_spec(device_name: str) -> DeviceSpec | None:
    """The table entry for a CUDA device name (``torch.cuda.get_device_name``), if known."""
    name = device_name.lower()
    if "h200" in name:
        return DEVICE_SPECS["h200"]
    if "h100" in name:
        return DEVICE_SPECS["h100-pcie" if "pcie" in name else "h100-sxm"]
    return None


def weight_bytes(model: torch.nn.Module, dtype: torch.dtype | None = None) -> int:
    """Bytes of every parameter and buffer (at ``dtype``'s element size when given)."""
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        size = torch.empty((), dtype=dtype).element_size() if dtype else t.element_size()
        total += t.numel() * (size if t.is_floating_point() else t.element_size())
    return total


def count_flops(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """FLOPs of one ``model(*inputs)`` call (matmuls, convs, SDPA) by ``FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*inputs)
    return int(counter.get_total_flops())


def floors(nbytes: int, flops: int, batch: int = 1) -> dict[str, dict]:
    """Per-chunk latency floors (ms) on every ``DEVICE_SPECS`` device for ``batch`` chunks
    sharing one weight read (``flops`` is per chunk)."""
    out = {}
    for key, spec in DEVICE_SPECS.items():
        mem_ms = nbytes / spec.bandwidth * 1e3
        compute_ms = flops * batch / spec.peak_flops * 1e3
        out[key] = {
            **asdict(spec),
            "memory_floor_ms": mem_ms,
            "compute_floor_ms": compute_ms,
            "floor_ms_per_batch": max(mem_ms, compute_ms),
            "bound": "memory" if mem_ms >= compute_ms else "compute",
        }
    return out

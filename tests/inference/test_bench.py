"""Cost model and `vla bench` on CPU with the tiny checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from vla.inference.bench import BenchConfig, run_bench
from vla.inference.bench_report import format_report
from vla.inference.cost import DEVICE_SPECS, count_flops, floors, gpu_spec, weight_bytes


def test_weight_bytes_and_flops_of_a_linear_layer():
    layer = nn.Linear(4, 3)  # 12 weights + 3 biases
    assert weight_bytes(layer) == 15 * 4
    assert weight_bytes(layer, torch.float16) == 15 * 2
    assert count_flops(layer, (torch.zeros(5, 4),)) == 2 * 5 * 4 * 3


def test_floors_pick_the_binding_limit():
    orin = DEVICE_SPECS["agx-orin"]
    out = floors(int(orin.bandwidth / 1e3), 1, batch=1)["agx-orin"]  # 1 ms of weight traffic
    assert out["bound"] == "memory" and out["floor_ms_per_batch"] == pytest.approx(1.0)
    out = floors(1, int(orin.peak_flops / 1e3), batch=4)["agx-orin"]  # 4 ms of maths
    assert out["bound"] == "compute" and out["floor_ms_per_batch"] == pytest.approx(4.0)


def test_gpu_names_map_to_specs():
    assert gpu_spec("NVIDIA H100 80GB HBM3").name == "NVIDIA H100 SXM"
    assert gpu_spec("NVIDIA H200").bandwidth == 4.8e12
    assert gpu_spec("Tesla T4") is None


def test_bench_config_validation():
    with pytest.raises(ValueError, match="batch"):
        BenchConfig(checkpoint="x", device="cpu", batch=0)
    with pytest.raises(ValueError, match="device"):
        BenchConfig(checkpoint="x", device="tpu")


def test_run_bench_cpu_reports_every_row(tiny_checkpoint: Path):
    cfg = BenchConfig(
        checkpoint=str(tiny_checkpoint), device="cpu", batch=2, iters=3, warmup=1, ar_iters=1,
        parity_samples=4,
    )  # fmt: skip
    r = run_bench(cfg, log=lambda _: None)
    assert set(r["rows"]) == {"plain_parallel", "plain_generate", "fast_e2e", "fast_device"}
    for row in r["rows"].values():
        assert 0 < row["p50_ms"] <= row["p99_ms"] and row["iters"] in (1, 3)
        assert row["actions_per_s"] == pytest.approx(row["chunks_per_s"] * 4)  # chunk_size 4
    assert r["parity"]["agreement"] == 1.0 and r["parity"]["tokens"] == 4 * 28
    assert r["speedup_p50"]["plain_generate/fast_e2e"] > 0
    assert r["flops_per_chunk"] > 0 and r["weight_bytes"]["fast"] > 0
    assert r["floors_ms"]["orin-nano"]["bandwidth"] == 102e9
    text = format_report(r)
    assert "plain_generate" in text and "Jetson AGX Orin" in text and "token parity" in text


def test_cli_writes_json(tiny_checkpoint: Path, tmp_path: Path, capsys):
    from vla.cli.main import main

    out = tmp_path / "bench.json"
    rc = main(["bench", "--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--iters", "2",
               "--warmup", "0", "--skip-generate", "--json", str(out)])  # fmt: skip
    assert rc == 0
    data = json.loads(out.read_text())
    assert "plain_generate" not in data["rows"] and data["rows"]["fast_e2e"]["iters"] == 2
    assert "p99 ms" in capsys.readouterr().out

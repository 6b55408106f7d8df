"""FastPolicy on a CUDA GPU: graph capture, graph == eager, fp16/bf16 parity (run on the GPU box).

.venv/bin/python -m pytest -q -m gpu tests/inference/test_fast_policy_gpu.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from conftest import make_observations

from vla.constants import SHIPPED_CHECKPOINT
from vla.inference import FastConfig, FastPolicy
from vla.inference.bench import pick_instruction, token_parity
from vla.inference.fast_policy import PARITY_MIN_AGREEMENT
from vla.policy import Policy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
SHIPPED = Path(
    os.environ.get(
        "VLA_SHIPPED_CHECKPOINT",
        SHIPPED_CHECKPOINT,
    )
)


@pytest.fixture(scope="module")
def shipped() -> Policy:
    if not (SHIPPED / "config.json").is_file():
        pytest.skip(f"set VLA_SHIPPED_CHECKPOINT (no checkpoint at {SHIPPED})")
    return Policy.from_pretrained(SHIPPED, device="cuda")


def instruction(policy: Policy) -> str:
    """The checkpoint's first cached instruction, else random MiniLM-shaped states."""
    try:
        return pick_instruction(policy, None)
    except ValueError:
        return pick_instruction(policy, None, synthetic=True)


def test_graphs_capture_and_replay_new_inputs(tiny_checkpoint: Path):
    """Graph replay equals the eager forward of the same dtype, for changing inputs."""
    policy = Policy.from_pretrained(tiny_checkpoint, device="cuda")
    graph = FastPolicy(policy, FastConfig(dtype="float32", buckets=(1, 4)))
    eager = FastPolicy(policy, FastConfig(dtype="float32", buckets=(1, 4), cuda_graphs=False))
    graph.warmup()
    assert set(graph.graph_status().values()) == {"graph"}, graph.graph_status()
    for seed in range(3):
        obs = make_observations(policy, 3, seed=seed)
        assert torch.equal(graph.predict_tokens(obs), eager.predict_tokens(obs))
        assert torch.equal(graph.predict_tokens(obs[:1]), eager.predict_tokens(obs[:1]))
        plain = policy.predict_ids(obs)  # the checkpoint's readout, as the fast path
        agree = (plain == graph.predict_tokens(obs)).float().mean().item()
        assert agree >= 0.95  # fp32 on GPU: TF32 convs (cuDNN default) may flip a near-tie


BF16_BELOW_TOLERANCE = pytest.mark.xfail(
    strict=False,  # v7 reads out argmax (85%); under the smoothed readout near the line (91%)
    reason="measured on an H100, 2026-12-07: pick_place_v7 in bfloat16 (head in fp32) agrees on "
    "85.3% of 1,792 tokens of random images (86% on recorded episodes) under argmax, below "
    "the 90% tolerance; under the smoothed readout bf16 agrees on 91% of recorded-episode "
    "tokens on the CPU machine with 45 tokens > 2 bins off. Cause: vla/inference/"
    "fast_policy.py, 'Fidelity'",
)


@pytest.mark.parametrize("dtype", ["float16", pytest.param("bfloat16", marks=BF16_BELOW_TOLERANCE)])
def test_shipped_policy_parity_within_tolerance(shipped: Policy, dtype: str):
    fast = FastPolicy(shipped, FastConfig(dtype=dtype, buckets=(16,)))
    obs = make_observations(shipped, 32, tasks=[instruction(shipped)])
    parity = token_parity(shipped, fast, obs)
    print(dtype, parity)
    assert parity["agreement"] >= PARITY_MIN_AGREEMENT[dtype], parity
    assert set(fast.graph_status().values()) == {"graph"}, fast.graph_status()


def test_shipped_policy_latency_budget(shipped: Policy):
    """Issue 5 target: p50 <= 2 ms per chunk at batch 1 on an H100 (graph replay path)."""
    import time

    fast = FastPolicy(shipped, FastConfig(buckets=(1,)))
    obs = make_observations(shipped, 1, tasks=[instruction(shipped)])
    for _ in range(20):
        fast.predict_batch(obs)
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        fast.predict_batch(obs)
        times.append(time.perf_counter() - t0)
    p50 = sorted(times)[50] * 1e3
    print(f"p50 {p50:.3f} ms")
    assert p50 <= 2.0

"""FastPolicy on CPU: the same action ids as Policy (fp32), buckets, instruction cache, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import INSTRUCTIONS, make_observations

from vla.constants import OBS_STATE, SHIPPED_CHECKPOINT, TASK
from vla.inference import FastConfig, FastPolicy
from vla.inference.bench import autoregressive_twin
from vla.policy import Policy


def plain_ids(policy: Policy, observations: list[dict]) -> torch.Tensor:
    return policy.predict_ids(observations)


@pytest.fixture
def policy(tiny_checkpoint: Path) -> Policy:
    return Policy.from_pretrained(tiny_checkpoint)


@pytest.mark.parametrize("n, buckets", [(1, (1, 2, 4)), (3, (1, 2, 4)), (5, (2,)), (7, (1, 4))])
def test_same_tokens_and_actions_as_policy(policy: Policy, n: int, buckets):
    """Padded buckets and batches split over the largest bucket change nothing in fp32."""
    fast = FastPolicy(policy, FastConfig(buckets=buckets))
    obs = make_observations(policy, n, seed=n)
    assert torch.equal(fast.predict_tokens(obs).cpu(), plain_ids(policy, obs))
    np.testing.assert_array_equal(fast.predict_batch(obs), policy.predict_batch(obs))


def test_buffers_follow_each_new_observation(policy: Policy):
    """Consecutive calls through one static bucket see their own inputs (no stale buffers)."""
    fast = FastPolicy(policy, FastConfig(buckets=(1,)))
    outs = []
    for obs in make_observations(policy, 4, seed=3):
        chunk = fast.act(obs)
        np.testing.assert_array_equal(chunk, policy.act(obs))
        outs.append(chunk)
    assert any(not np.array_equal(outs[0], o) for o in outs[1:]), "inputs had no effect"


class CountingText:
    """Wraps an EmbedInstruction and counts ``embed`` calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def embed(self, texts):
        self.calls += 1
        return self.inner.embed(texts)


def test_instruction_embedded_once_and_slot_recopied_on_change(policy: Policy):
    fast = FastPolicy(policy, FastConfig(buckets=(1,)))
    counter = CountingText(fast.text_encoder)
    fast.text_encoder = counter
    obs = make_observations(policy, 3, seed=1, tasks=[INSTRUCTIONS[0]])
    for o in obs:
        fast.act(o)
    assert counter.calls == 1
    slot = fast.bucket_for(1)
    other = dict(obs[0], **{TASK: INSTRUCTIONS[1]})
    np.testing.assert_array_equal(fast.act(other), policy.act(other))
    assert counter.calls == 2 and slot.slot_task[0] == INSTRUCTIONS[1]
    text, mask = fast._embed(INSTRUCTIONS[1])
    assert torch.equal(slot.text[0], text) and torch.equal(slot.text_mask[0], mask)
    np.testing.assert_array_equal(fast.act(obs[0]), policy.act(obs[0]))  # switched back
    assert counter.calls == 2  # served from the device-side cache


def test_policy_api(policy: Policy):
    fast = FastPolicy(policy)
    obs = make_observations(policy, 1)[0]
    fast.reset()
    a = fast.select_action(obs)
    assert a.shape == (7,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, policy.act(obs)[0])
    meta = fast.metadata
    assert meta["camera_keys"] == policy.meta.camera_keys and meta["fast_dtype"] == "float32"
    assert set(meta["cuda_graphs"].values()) == {"eager"}  # CPU: no graphs


@pytest.mark.parametrize(
    "mutate, error, words",
    [
        (lambda o, k: o.update({k: np.zeros((8, 8, 3), np.uint8)}), ValueError, "render"),
        (lambda o, k: o.update({k: np.zeros((32, 32, 3), np.float32)}), TypeError, "uint8"),
        (lambda o, k: o.pop(k), KeyError, "lacks"),
        (lambda o, k: o.update({OBS_STATE: np.zeros(3, np.float32)}), ValueError, "state has 3"),
    ],
)
def test_bad_observations_raise_clear_errors(policy: Policy, mutate, error, words):
    fast = FastPolicy(policy)
    obs = make_observations(policy, 1)[0]
    mutate(obs, policy.meta.camera_keys[0])
    with pytest.raises(error, match=words):
        fast.act(obs)
    with pytest.raises(ValueError, match="at least one"):
        fast.predict_batch([])


def test_config_and_decode_mode_are_validated(policy: Policy):
    with pytest.raises(ValueError, match="dtype"):
        FastConfig(dtype="int8")
    with pytest.raises(ValueError, match="buckets"):
        FastConfig(buckets=(0,))
    with pytest.raises(ValueError, match="parallel action head only"):
        FastPolicy(autoregressive_twin(policy))


SHIPPED = Path(
    os.environ.get(
        "VLA_SHIPPED_CHECKPOINT",
        SHIPPED_CHECKPOINT,
    )
)


@pytest.mark.slow
@pytest.mark.skipif(not (SHIPPED / "config.json").is_file(), reason="no shipped checkpoint")
def test_shipped_checkpoint_fp32_parity():
    from vla.inference.bench import pick_instruction
    from vla.model.text import minilm_available

    policy = Policy.from_pretrained(SHIPPED)
    try:
        task = pick_instruction(policy, None)
    except ValueError:
        if not minilm_available():
            pytest.skip("no text cache and no MiniLM")
        task = "put the red cube in the blue bowl"
    obs = make_observations(policy, 3, tasks=[task])
    fast = FastPolicy(policy, FastConfig(buckets=(4,)))
    assert torch.equal(fast.predict_tokens(obs).cpu(), plain_ids(policy, obs))


def test_forward_is_static_graph_capturable(policy: Policy):
    """CPU proxy for CUDA-graph capture: ``torch.export`` traces the whole fused forward with no
    data-dependent op (``.item()``, ``nonzero``: host syncs that break a capture)."""
    from vla.inference.static_forward import forward_tokens

    fast = FastPolicy(policy, FastConfig(buckets=(2,)))
    st = fast.bucket_for(2)

    class Body(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = fast.model

        def forward(self, images, state, text, mask):
            return forward_tokens(self.model, fast.pre, images, state, text, mask, fast.dtype)

    ep = torch.export.export(Body(), (st.images, st.state, st.text, st.text_mask), strict=False)
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert not [t for t in targets if "local_scalar_dense" in t or "nonzero" in t or ".item" in t]
    out = ep.module()(st.images, st.state, st.text, st.text_mask)
    assert torch.equal(out, st.run())

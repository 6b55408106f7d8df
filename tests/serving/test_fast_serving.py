"""The server on FastPolicy (the default path on CUDA), exercised on CPU with a tiny checkpoint:
the loader picks the path, and served actions equal ``FastPolicy.predict_batch``."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from fake_policy import make_obs
from serve_process import start_serve
from tiny_checkpoint import make_tiny_checkpoint

from vla.inference import FastConfig, FastPolicy
from vla.policy import Policy
from vla.serving.client import PolicyClient
from vla.serving.policy_adapter import describe_inference, fast_buckets, load_policy
from vla.serving.server import PolicyServer, ServerConfig


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", random_state_stats=True)


@pytest.fixture(scope="module")
def reference(checkpoint: Path) -> FastPolicy:
    """An independent FastPolicy of the same checkpoint (what the served one must equal), with
    the buckets of a server batching up to 4 (same padded shapes, so bit-identical on CPU)."""
    config = FastConfig(buckets=fast_buckets(4))
    return FastPolicy.from_pretrained(checkpoint, device="cpu", config=config)


class Recording:
    """Serves ``policy`` and records every batch it ran with its output."""

    def __init__(self, policy: FastPolicy) -> None:
        self.policy = policy
        self.metadata = policy.metadata
        self.calls: list[tuple[list[dict], np.ndarray]] = []

    def predict_batch(self, observations: list[dict]) -> np.ndarray:
        out = self.policy.predict_batch(observations)
        self.calls.append((list(observations), out.copy()))
        return out


def _served_row(calls: list[tuple[list[dict], np.ndarray]], obs: dict) -> np.ndarray:
    """The recorded output row of the served observation equal to ``obs`` (matched by state)."""
    for batch, out in calls:
        for row, served in enumerate(batch):
            if np.array_equal(served["observation.state"], obs["observation.state"]):
                return out[row]
    raise AssertionError("the observation was never served")


@pytest.mark.parametrize(
    ("max_batch", "buckets"),
    [(1, (1,)), (4, (1, 2, 4)), (16, (1, 2, 4, 8, 16)), (20, (1, 2, 4, 8, 16, 20)),
     (64, (1, 2, 4, 8, 16, 32, 64))],
)  # fmt: skip
def test_fast_buckets_cover_max_batch(max_batch: int, buckets: tuple[int, ...]) -> None:
    assert fast_buckets(max_batch) == buckets


def test_load_policy_picks_the_path(checkpoint: Path) -> None:
    # CPU default: the plain Policy (FastPolicy's eager fp32 is not faster there: load_policy)
    plain = load_policy(checkpoint, "cpu", max_batch=8)
    assert type(plain) is Policy and describe_inference(plain) == "plain (Policy)"
    assert type(load_policy(checkpoint, "cpu", fast=False)) is Policy
    fast = load_policy(checkpoint, "cpu", fast=True, max_batch=8)
    assert isinstance(fast, FastPolicy)
    assert fast.buckets == (1, 2, 4, 8)
    assert fast.graph_status() == {1: "eager", 2: "eager", 4: "eager", 8: "eager"}  # warmed up
    assert describe_inference(fast).startswith("fast (FastPolicy float32, buckets [1, 2, 4, 8]")


def test_served_fast_policy_equals_fast_predict_batch(checkpoint: Path, reference) -> None:
    served = Recording(load_policy(checkpoint, "cpu", fast=True, max_batch=4))
    # a window long enough that robots released together share one forward (bucket 4)
    handle = PolicyServer(served, ServerConfig(port=0, max_batch=4, batch_window_ms=300))
    handle = handle.start_in_thread()
    try:
        with PolicyClient(port=handle.port) as client:
            assert client.metadata["fast_dtype"] == "float32"
            for seed in range(3):
                obs = make_obs(seed, task="pick up the green cube")
                chunk = client.act(obs)
                assert chunk.dtype == np.float32 and chunk.shape == (4, 7)
                assert np.all(np.isfinite(chunk))
                np.testing.assert_array_equal(chunk, reference.predict_batch([obs])[0])

        replies: dict[int, tuple[dict, np.ndarray]] = {}
        barrier = threading.Barrier(3)

        def robot(i: int) -> None:
            with PolicyClient(port=handle.port) as c:
                obs = make_obs(20 + i, task=["pick up the green cube", "put the red cube in "
                                             "the blue bowl"][i % 2])  # fmt: skip
                barrier.wait()
                replies[i] = (obs, c.act(obs))

        threads = [threading.Thread(target=robot, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        handle.stop()
    assert sorted(replies) == [0, 1, 2]
    assert max(len(batch) for batch, _ in served.calls) > 1, "no batched forward was served"
    for batch, out in served.calls:
        # the served batch's actions are exactly FastPolicy.predict_batch of the same inputs
        np.testing.assert_array_equal(out, reference.predict_batch(batch))
    for obs, chunk in replies.values():  # each robot got its own row of its batch
        np.testing.assert_array_equal(chunk, _served_row(served.calls, obs))


def test_cli_serves_fast_policy_with_the_flag(checkpoint: Path, reference) -> None:
    proc, port, lines = start_serve(checkpoint, "--device", "cpu", "--torch-threads", "1",
                                    "--max-batch", "4", "--fast")  # fmt: skip
    try:
        assert any("inference on cpu: fast (FastPolicy float32, buckets [1, 2, 4]" in ln
                   for ln in lines), "".join(lines)  # fmt: skip
        with PolicyClient(port=port) as client:
            obs = make_obs(5, task="put the red cube in the blue bowl")
            np.testing.assert_array_equal(client.act(obs), reference.predict_batch([obs])[0])
    finally:
        proc.terminate()
        proc.wait(30)


def test_autoregressive_checkpoint_is_served_plain_or_refused_with_fast(tmp_path: Path) -> None:
    ar = make_tiny_checkpoint(tmp_path / "ar", decode_mode="autoregressive")
    assert type(load_policy(ar, "cpu")) is Policy
    with pytest.raises(ValueError, match="--no-fast"):
        load_policy(ar, "cpu", fast=True)


def test_text_cache_reaches_the_served_policy(tmp_path: Path) -> None:
    """`vla serve --text-cache FILE`: a MiniLM checkpoint embeds instructions from the file."""
    import torch

    from vla.model.text import InstructionEmbeddings

    ckpt = make_tiny_checkpoint(tmp_path / "minilm", text_encoder="minilm")
    states = torch.randn(5, 384, generator=torch.Generator().manual_seed(0)).half()
    cache = InstructionEmbeddings(8, {"pick up the green cube": states}).save(tmp_path / "tc.st")
    policy = load_policy(ckpt, "cpu", fast=True, max_batch=2, text_cache=cache)
    entries = policy.text_encoder.encoder.entries
    torch.testing.assert_close(entries["pick up the green cube"], states)
    chunk = policy.predict_batch([make_obs(1, task="pick up the green cube")])
    assert chunk.shape == (1, 4, 7) and np.all(np.isfinite(chunk))

"""`vla serve --compile` is a fast-path (CUDA) option: elsewhere it is refused, naming the fix."""

from __future__ import annotations

import pytest
from tiny_checkpoint import make_tiny_checkpoint

from vla.serving.policy_adapter import load_policy


@pytest.mark.parametrize("fast", [None, False])
def test_compile_without_the_fast_path_is_refused(tmp_path, fast):
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="fast path"):
        load_policy(ckpt, "cpu", fast, max_batch=2, compile=True)


def test_compile_on_cpu_fast_path_names_cuda(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="CUDA"):
        load_policy(ckpt, "cpu", True, max_batch=2, compile=True)
    assert type(load_policy(ckpt, "cpu", True, max_batch=2)).__name__ == "FastPolicy"

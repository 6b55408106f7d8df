"""Fixtures for the model and policy tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """One intra-op thread: on a shared 2-core box, spinning OpenMP threads make CPU maths
    ~10x slower under load (see tests/train/conftest.py)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

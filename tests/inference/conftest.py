"""Fixtures: a tiny random checkpoint (the serving tests' writer) and observations for it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))

from tiny_checkpoint import INSTRUCTIONS, make_tiny_checkpoint  # noqa: E402

from vla.inference.bench import synthetic_observations  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")


def make_observations(policy, n: int, seed: int = 0, tasks=INSTRUCTIONS) -> list[dict]:
    """``n`` random observations cycling through ``tasks``."""
    return synthetic_observations(policy, n, list(tasks), seed)

"""Fixtures for the training tests: a small learnable dataset written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from vla_synthetic import write_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("ds") / "synthetic", episodes=4, length=16)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("ds2") / "synthetic", episodes=2, length=12)


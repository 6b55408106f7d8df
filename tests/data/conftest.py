"""Fixtures for the dataset tests (helpers live in synthetic_dataset.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_dataset import FIXTURE, IMAGE_SIZE

from vla.data.layout import default_features


@pytest.fixture
def features():
    return default_features(IMAGE_SIZE, fps=10)


@pytest.fixture
def fixture_root() -> Path:
    if not FIXTURE.exists():
        pytest.skip(f"LeRobot fixture not found at {FIXTURE}")
    return FIXTURE

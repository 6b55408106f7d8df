"""Re-export of tests/serving's word-vocabulary tiny checkpoint (for the refusal test)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))

from tiny_checkpoint import make_tiny_checkpoint  # noqa: E402

__all__ = ["make_tiny_checkpoint"]

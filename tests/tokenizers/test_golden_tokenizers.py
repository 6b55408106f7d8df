"""Golden outputs: saved tokenizers must keep mapping actions to the same ids (checkpoints
are trained on those ids). Regenerate with tests/tokenizers/golden/regenerate.py only when a
mapping change is intended."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vla.tokenizers import load_tokenizer

GOLDEN = Path(__file__).parent / "golden"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", ["binning", "fast"])
def test_golden_ids_and_decoded_actions(name: str) -> None:
    tok = load_tokenizer(GOLDEN / name)
    assert tok.type_name == name
    chunks = np.asarray(EXPECTED["chunks"])
    ids = tok.encode(chunks)
    got = [i.tolist() for i in ids] if isinstance(ids, list) else ids.tolist()
    assert got == EXPECTED[name]["ids"]
    assert np.allclose(tok.decode(ids), EXPECTED[name]["decoded"], rtol=0, atol=1e-12)

"""Regenerate the golden tokenizer outputs (only when a token mapping change is intended).

A checkpoint is trained on token ids; if the mapping from actions to ids changes, every
checkpoint silently decodes to different actions. ``test_golden_tokenizers.py`` holds the saved
tokenizers here to the ids they produced when committed. Run from the repository root:

    .venv/bin/python tests/tokenizers/golden/regenerate.py

and say in the commit message why the mapping changed (old checkpoints need re-training).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from vla.constants import ACTION_DIM
from vla.tokenizers import BinningActionTokenizer, BinningConfig, FastActionTokenizer, FastConfig
from vla.tokenizers.normalization import compute_action_stats
from vla.tokenizers.synthetic import min_jerk_chunks

HERE = Path(__file__).resolve().parent


def main() -> None:
    train = min_jerk_chunks(500, 10, seed=0)
    stats = compute_action_stats(train.reshape(-1, ACTION_DIM))
    chunks = min_jerk_chunks(4, 10, seed=123).astype(np.float64)
    toks = {
        "binning": BinningActionTokenizer(stats, BinningConfig(offset=32000, gripper_binary=True)),
        "fast": FastActionTokenizer(stats, FastConfig(vocab_size=256, offset=32000)).fit(train),
    }
    expected: dict = {"chunks": chunks.tolist()}
    for name, tok in toks.items():
        shutil.rmtree(HERE / name, ignore_errors=True)
        tok.save_pretrained(HERE / name)
        ids = tok.encode(chunks)
        ids_list = [i.tolist() for i in ids] if isinstance(ids, list) else ids.tolist()
        expected[name] = {"ids": ids_list, "decoded": np.asarray(tok.decode(ids)).tolist()}
    (HERE / "expected.json").write_text(json.dumps(expected))
    print(f"wrote {HERE}")


if __name__ == "__main__":
    main()

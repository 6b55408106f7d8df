"""The explicit tokenizer registry and ``load_tokenizer``.

Lives apart from ``base.py`` because it imports the subclasses, which import ``base``.
"""

from __future__ import annotations

from pathlib import Path

from vla.tokenizers.base import ActionTokenizer, read_config
from vla.tokenizers.binning import BinningActionTokenizer
from vla.tokenizers.fast import FastActionTokenizer

TOKENIZERS: dict[str, type[ActionTokenizer]] = {
    "binning": BinningActionTokenizer,
    "fast": FastActionTokenizer,
}


def load_tokenizer(directory: str | Path) -> ActionTokenizer:
    """Load any saved action tokenizer, dispatching on the type stored in its config."""
    payload = read_config(directory)
    name = payload["type"]
    if name not in TOKENIZERS:
        raise ValueError(
            f"{directory}: unknown action tokenizer type {name!r}; known: {sorted(TOKENIZERS)}"
        )
    return TOKENIZERS[name].from_pretrained(directory)

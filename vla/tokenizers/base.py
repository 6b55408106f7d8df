"""The action tokenizer interface shared by every tokenizer.

    actions (float, dataset units)  --encode-->  ids (int64, in [offset, offset + vocab_size))
    ids                             --decode-->  actions (float64, dataset units)

A tokenizer folder (written by ``save_pretrained``) holds ``action_tokenizer.json`` (the type
and typed config), ``action_stats.json`` (the normalisation statistics, LeRobot layout) and any
vocabulary files the tokenizer needs. ``vla.tokenizers.load_tokenizer(dir)`` reads the saved type
and dispatches through the explicit ``TOKENIZERS`` registry (``vla/tokenizers/registry.py``;
kept out of this module because the registry must import the subclasses, which import this).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from vla.tokenizers.normalization import ActionNormalizer, action_stats_from, save_stats

CONFIG_FILENAME = "action_tokenizer.json"


class ActionTokenizer(ABC):
    """Turns continuous actions into discrete token ids placed at ``offset`` and back."""

    #: the name stored in ``action_tokenizer.json`` and used as the registry key
    type_name: str = ""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of action token ids (the ids are ``offset .. offset + vocab_size - 1``)."""

    @property
    @abstractmethod
    def offset(self) -> int:
        """First action token id inside the language model vocabulary."""

    @property
    @abstractmethod
    def action_dim(self) -> int:
        """Action dimension D."""

    @abstractmethod
    def encode(self, actions: np.ndarray) -> Any:
        """Encode actions into token ids (int64)."""

    @abstractmethod
    def decode(self, ids: Any) -> Any:
        """Decode token ids back into actions in dataset units."""

    @abstractmethod
    def config_dict(self) -> dict[str, Any]:
        """The JSON-serialisable config (without the statistics)."""

    @abstractmethod
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config, statistics and vocabulary into ``directory``; return it."""

    @classmethod
    @abstractmethod
    def from_pretrained(cls, directory: str | Path) -> ActionTokenizer:
        """Load a tokenizer written by ``save_pretrained``."""

    def max_tokens(self, horizon: int) -> int:
        """Most action tokens a chunk of ``horizon`` steps can take (a generation budget).

        H*D for both tokenizers: binning always uses H*D; BPE never emits more tokens than the
        H*D coefficient characters it merges.
        """
        return horizon * self.action_dim

    # ---- helpers shared by the subclasses ---------------------------------------------------
    def _write_config(self, directory: Path) -> None:
        payload = {"type": self.type_name, "config": self.config_dict()}
        (directory / CONFIG_FILENAME).write_text(json.dumps(payload, indent=1))

    def check_id_range(self, ids: np.ndarray) -> None:
        """Raise ValueError naming the first id outside ``[offset, offset + vocab_size)``."""
        ids = np.asarray(ids)
        bad = (ids < self.offset) | (ids >= self.offset + self.vocab_size)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"token id {int(ids[idx])} at index {idx} is not an action token: action ids "
                f"are [{self.offset}, {self.offset + self.vocab_size}) for this "
                f"{self.type_name} tokenizer (is the model's offset / vocabulary right?)"
            )


class NormalizedActionTokenizer(ActionTokenizer):
    """An ``ActionTokenizer`` normalised by dataset statistics and set up by a dataclass config.

    Shared by the binning and FAST tokenizers: ``config`` is a frozen dataclass with ``offset``,
    ``norm_mode`` and ``std_k`` fields; ``normalizer`` maps actions to the normalised range.
    """

    config: Any
    normalizer: ActionNormalizer

    def _init_normalizer(self, stats: dict[str, Any] | str | Path, config: Any) -> None:
        """Store ``config`` and build the normaliser from LeRobot ``stats`` (dict or path)."""
        self.config = config
        self.normalizer = ActionNormalizer(config.norm_mode, action_stats_from(stats), config.std_k)

    @property
    def offset(self) -> int:
        return self.config.offset

    @property
    def action_dim(self) -> int:
        return self.normalizer.dim

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def _save_config_and_stats(self, directory: str | Path) -> Path:
        """Create ``directory`` and write the config and statistics into it; return it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._write_config(directory)
        save_stats(self.normalizer, directory)
        return directory

    @classmethod
    def _read_own_config(cls, directory: str | Path) -> dict[str, Any]:
        """``read_config(directory)``, raising ValueError if it holds another tokenizer type."""
        payload = read_config(directory)
        if payload["type"] != cls.type_name:
            raise ValueError(
                f"{directory} holds a {payload['type']!r} tokenizer, not {cls.type_name!r}: "
                "use vla.tokenizers.load_tokenizer(dir)"
            )
        return payload


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read ``action_tokenizer.json`` from a tokenizer folder, naming the fix when absent."""
    path = Path(directory) / CONFIG_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: {directory} is not a saved action tokenizer "
            "(write one with tokenizer.save_pretrained(dir))"
        )
    payload = json.loads(path.read_text())
    if "type" not in payload or "config" not in payload:
        raise ValueError(f"{path} lacks 'type' or 'config': re-save the tokenizer")
    return payload

"""The generation record: which attempts of a `vla data generate` run are done, so a killed or
time-limited run resumes exactly where it stopped.

    <dataset>/meta/vla_generation.json = {"config": settings a resume must share,
        "next_index": first attempt not yet done, "successes": [...], "failures": [...],
        "kept_failures": the failures saved all the same (a subset of "failures": DAgger runs
            keep them, their labels are the expert's),
        "pending": the batch being committed, or None}

Commit protocol (``commit``): write the batch as pending, commit the dataset, then fold the
batch in. On load, a pending batch counts only if the dataset's episode count shows it landed
(``settle_pending``); otherwise resume simply attempts it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vla.data.layout import atomic_write_json
from vla.data.writer import DatasetWriter

RECORD = "meta/vla_generation.json"
# Settings added after records existed, with the value older records implicitly used.
IDENTITY_DEFAULTS: dict[str, Any] = {"action_noise": 0.0, "learner": None, "randomize": 0.0}


def load_record(out: Path, identity: dict[str, Any]) -> dict:
    """The record of ``out`` (a fresh one if there is none), checked against ``identity``."""
    path = out / RECORD
    if not path.exists() and (out / "meta/info.json").exists():
        raise FileExistsError(
            f"{out} holds a dataset without {RECORD}: it was not made by `vla data generate`; "
            "choose a new --out"
        )
    if not path.exists():
        return {"config": identity, "next_index": 0, "successes": [], "failures": [],
                "kept_failures": [], "pending": None}  # fmt: skip
    record = json.loads(path.read_text())
    for key, value in identity.items():
        saved = record["config"].get(key, IDENTITY_DEFAULTS.get(key))
        if saved != value:
            raise ValueError(
                f"{path}: this dataset was generated with {key}={saved!r}, "
                f"not {value!r}; resume with the same settings or choose another --out"
            )
    return record


def commit(out: Path, record: dict, writer: DatasetWriter, batch: dict) -> dict:
    """Commit a batch of attempts: record intent, commit the dataset, then the record.
    Returns the next, empty batch."""
    record["pending"] = batch
    atomic_write_json(out / RECORD, record)
    writer.commit()
    settle_pending(record, writer.num_episodes)
    atomic_write_json(out / RECORD, record)
    return new_batch(record["next_index"])


def new_batch(next_index: int) -> dict:
    """An empty batch of attempts starting at ``next_index``."""
    return {"successes": [], "failures": [], "kept_failures": [], "next_index": next_index}


def saved_episodes(record_or_batch: dict) -> int:
    """Episodes a record (or batch) put in the dataset: successes and kept failures."""
    return len(record_or_batch["successes"]) + len(record_or_batch.get("kept_failures", []))


def settle_pending(record: dict, saved: int) -> None:
    """Apply a pending batch if the dataset committed it (episode count agrees), else drop it."""
    pending = record.get("pending")
    if pending is None:
        return
    if isinstance(pending, int):  # records written before batched commits: one episode
        pending = {"successes": [pending], "failures": [], "next_index": pending + 1}
    if saved == saved_episodes(record) + saved_episodes(pending):
        record["successes"].extend(pending["successes"])
        record["failures"].extend(pending["failures"])
        record.setdefault("kept_failures", []).extend(pending.get("kept_failures", []))
        record["next_index"] = pending["next_index"]
    record["pending"] = None

"""The recorder's sidecar file ``meta/vla_record.json``: how to rebuild each episode's scene.

Format (one entry per recorded episode index; written atomically *before* the episode is saved,
so every saved episode has its entry; entries at or past the dataset's episode count are left
by a killed recorder and are pruned on resume)::

    {"version": 1,
     "episodes": {"0": {"suite": "pick_place", "family": "pick", "seed": 123, "split": "train",
                        "backend": "mujoco", "image_size": [128, 128], "fps": 10,
                        "device": "keyboard", "success": true, "late_frames": 0,
                        "wall_duration_s": 6.3}}}

Episodes of the same dataset written by other tools (e.g. ``vla data generate``) have no entry;
``vla replay`` says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vla.data.layout import atomic_write_json

RECORD_META = "meta/vla_record.json"
VERSION = 1


def load(root: str | Path) -> dict[str, Any]:
    """The sidecar's content ({"version", "episodes"}; empty episodes when absent)."""
    path = Path(root) / RECORD_META
    if not path.exists():
        return {"version": VERSION, "episodes": {}}
    with open(path) as f:
        meta = json.load(f)
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported version {meta.get('version')}, expected {VERSION}")
    return meta


def save(root: str | Path, meta: dict[str, Any]) -> None:
    """Write the sidecar atomically."""
    atomic_write_json(Path(root) / RECORD_META, meta)


def prune(meta: dict[str, Any], num_episodes: int) -> dict[str, Any]:
    """Drop entries of episodes that were never saved (index >= num_episodes)."""
    kept = {k: v for k, v in meta["episodes"].items() if int(k) < num_episodes}
    return {**meta, "episodes": kept}


def episode_entry(root: str | Path, index: int) -> dict[str, Any]:
    """The entry of episode ``index``; KeyError naming the fix when there is none."""
    episodes = load(root)["episodes"]
    if str(index) not in episodes:
        raise KeyError(
            f"episode {index} of {root} has no entry in {RECORD_META} (recorded episodes: "
            f"{sorted(int(k) for k in episodes)}); only episodes recorded with `vla record` "
            "carry the scene seed needed for replay"
        )
    return episodes[str(index)]

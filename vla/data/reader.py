"""Read LeRobotDataset v3 folders (ours or LeRobot's) without the lerobot package.

The episode table (``meta/episodes``) is the source of truth: an episode is in the dataset
exactly when it has a row there. Data and video files are only read where that table points,
so files left behind by an interrupted writer are ignored (see ``vla.data.writer``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from vla.constants import ACTION
from vla.data.layout import (
    STATS_PATH,
    DatasetFormatError,
    FilePointer,
    data_file,
    numeric_keys,
    parquet_columns,
    read_info,
    read_parquet,
    read_tasks,
    video_file,
    visual_keys,
)
from vla.data.stats import from_json
from vla.data.video import decode_window


def read_episode_rows(root: Path) -> list[dict]:
    """Rows of meta/episodes/*/*.parquet without the per-episode stats columns, by index."""
    files = sorted((Path(root) / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise DatasetFormatError(f"{root}/meta/episodes: no episode table (chunk-*/file-*.parquet)")
    rows: list[dict] = []
    for path in files:
        names = [n for n in parquet_columns(path) if not n.startswith("stats/")]
        rows.extend(read_parquet(path, columns=names).to_pylist())
    rows.sort(key=lambda r: r["episode_index"])
    for i, r in enumerate(rows):
        if r["episode_index"] != i:
            raise DatasetFormatError(
                f"{root}/meta/episodes: episode indices are not contiguous from 0 "
                f"(position {i} holds episode {r['episode_index']})"
            )
    return rows


class LeRobotDatasetReader:
    """A LeRobot v3 dataset on disk: metadata, per-episode arrays and decoded video frames.

    Example::

        ds = LeRobotDatasetReader("data/pick_place")
        arrays = ds.episode_arrays(0)            # {"observation.state": (T, S), "action": ...}
        frames = ds.episode_frames(0, "observation.images.scene")   # uint8 (T, H, W, 3)
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.info = read_info(self.root)
        self.features: dict[str, dict] = self.info["features"]
        self.fps = float(self.info["fps"])
        self.tasks: list[str] = read_tasks(self.root)
        self.episodes: list[dict] = read_episode_rows(self.root)
        self._file_start: dict[tuple, int] = {}
        for ep in self.episodes:  # first global index stored in each data file
            key = (ep["data/chunk_index"], ep["data/file_index"])
            start = self._file_start.get(key, ep["dataset_from_index"])
            self._file_start[key] = min(start, ep["dataset_from_index"])
        self._tables: dict[tuple, pa.Table] = {}

    # ---- metadata ---------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return sum(int(ep["length"]) for ep in self.episodes)

    @property
    def camera_keys(self) -> list[str]:
        return visual_keys(self.features)

    @property
    def numeric_keys(self) -> list[str]:
        return numeric_keys(self.features)

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """meta/stats.json as numpy arrays ({} when absent)."""
        path = self.root / STATS_PATH
        if not path.exists():
            return {}
        try:
            return from_json(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(f"{path}: corrupt JSON ({exc})") from exc

    def episode_task(self, index: int) -> str:
        """The (first) task string of an episode."""
        return self.episodes[index]["tasks"][0]

    def episode_length(self, index: int) -> int:
        return int(self.episodes[index]["length"])

    # ---- frames -------------------------------------------------------------------------------
    def _data_table(self, ptr: FilePointer) -> pa.Table:
        key = (ptr.chunk_index, ptr.file_index)
        if key not in self._tables:
            path = data_file(self.root, ptr)
            table = read_parquet(path)
            for name in self.numeric_keys:
                if name not in table.column_names:
                    raise DatasetFormatError(
                        f"{path}: missing feature column {name!r} declared in meta/info.json"
                    )
            self._tables[key] = table
        return self._tables[key]

    def episode_table(self, index: int) -> pa.Table:
        """The episode's rows of its data file (all numeric columns)."""
        ep = self.episodes[index]
        ptr = FilePointer(ep["data/chunk_index"], ep["data/file_index"])
        table = self._data_table(ptr)
        offset = ep["dataset_from_index"] - self._file_start[(ptr.chunk_index, ptr.file_index)]
        length = int(ep["length"])
        rows = table.slice(offset, length)
        ep_col = np.asarray(rows["episode_index"].to_numpy())
        if len(rows) != length or not np.all(ep_col == index):
            raise DatasetFormatError(
                f"{data_file(self.root, ptr)}: rows {offset}..{offset + length} should hold "
                f"episode {index} ({length} frames); the file is truncated or inconsistent "
                "with meta/episodes"
            )
        return rows

    def episode_arrays(self, index: int) -> dict[str, np.ndarray]:
        """Numeric features of an episode as arrays: vectors (T, D), scalars (T,)."""
        table = self.episode_table(index)
        out: dict[str, np.ndarray] = {}
        for name in self.numeric_keys:
            out[name] = column_to_numpy(table[name], self.features[name]["dtype"])
        return out

    def episode_frames(self, index: int, key: str) -> np.ndarray:
        """Decoded uint8 frames (T, H, W, 3) of one camera for one episode."""
        if key not in self.camera_keys:
            raise KeyError(f"{key!r} is not a camera of this dataset; cameras: {self.camera_keys}")
        ep = self.episodes[index]
        ptr = FilePointer(ep[f"videos/{key}/chunk_index"], ep[f"videos/{key}/file_index"])
        path = video_file(self.root, key, ptr)
        frames = decode_window(
            path,
            float(ep[f"videos/{key}/from_timestamp"]),
            float(ep[f"videos/{key}/to_timestamp"]),
            self.fps,
            expected=int(ep["length"]),
        )
        want = tuple(self.features[key]["shape"])
        if frames.shape[1:] != want:
            raise DatasetFormatError(
                f"{path}: camera {key!r} frames are {frames.shape[1:]}, meta/info.json "
                f"declares {want}"
            )
        return frames


def column_to_numpy(column: pa.ChunkedArray, dtype: str) -> np.ndarray:
    """A parquet column (scalars or fixed-size lists) as a numpy array of ``dtype``."""
    arr = column.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type):
        flat = arr.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(arr), arr.type.list_size).astype(dtype, copy=False)
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        return np.asarray(arr.to_pylist(), dtype=dtype)
    return arr.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def dataset_episode_actions(root: str | Path) -> tuple[list[np.ndarray], dict]:
    """The ``action`` arrays of every episode of a LeRobot v3 dataset and its action stats.

    Returns ``(episodes, stats)``; ``stats`` is the ``action`` entry of ``meta/stats.json``
    (``{}`` when the file is absent, which the tokenizers then reject with the fix).
    """
    reader = LeRobotDatasetReader(root)
    episodes = [reader.episode_arrays(i)[ACTION] for i in range(reader.num_episodes)]
    return episodes, reader.stats.get(ACTION, {})

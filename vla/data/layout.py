"""LeRobotDataset v3 folder layout: paths, feature declarations and atomic file writes.

The layout (held against the LeRobot-written fixture ``shared/fixtures/lerobot_v3_sample``)::

    meta/info.json                              codebase_version "v3.0", fps, features, totals
    meta/stats.json                             dataset statistics per feature
    meta/tasks.parquet                          task string (pandas index) -> task_index
    meta/episodes/chunk-000/file-000.parquet    one row per episode: lengths, file pointers, stats
    data/chunk-XXX/file-XXX.parquet             frames of many episodes (low-dimensional columns)
    videos/<camera key>/chunk-XXX/file-XXX.mp4  frames of many episodes, concatenated in time
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla.constants import (
    ACTION,
    ACTION_DIM,
    DEFAULT_IMAGE_SIZE,
    EEF_ACTION_NAMES,
    IMAGE_KEYS,
    OBS_STATE,
    STATE_DIM,
    STATE_NAMES,
)

CODEBASE_VERSION = "v3.0"
DEFAULT_CHUNKS_SIZE = 1000  # files per chunk folder
DEFAULT_DATA_FILE_SIZE_MB = 100
DEFAULT_VIDEO_FILE_SIZE_MB = 200
# the codec new videos are written with (vla.data.video encodes it), and the one info.json
# implies where a video feature names none
DEFAULT_CODEC = "h264"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_META_PATH = "meta/episodes/chunk-000/file-000.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"

# Columns LeRobot adds to every frame; the writer fills them, callers never pass them.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
VISUAL_DTYPES = ("video", "image")


class DatasetFormatError(ValueError):
    """A dataset file is missing, corrupt or does not follow the LeRobot v3 layout."""


@dataclass(frozen=True)
class FilePointer:
    """Where an episode's frames live: (chunk_index, file_index) of a data or video file."""

    chunk_index: int
    file_index: int

    def next(self, chunks_size: int) -> FilePointer:
        """The pointer after this one, rolling into the next chunk folder when full."""
        if self.file_index + 1 >= chunks_size:
            return FilePointer(self.chunk_index + 1, 0)
        return FilePointer(self.chunk_index, self.file_index + 1)


def data_file(root: Path, ptr: FilePointer) -> Path:
    return Path(root) / DATA_PATH.format(chunk_index=ptr.chunk_index, file_index=ptr.file_index)


def video_file(root: Path, key: str, ptr: FilePointer) -> Path:
    return Path(root) / VIDEO_PATH.format(
        video_key=key, chunk_index=ptr.chunk_index, file_index=ptr.file_index
    )


def video_feature(height: int, width: int, fps: float, codec: str = "h264") -> dict[str, Any]:
    """Declaration of a camera stream stored as MP4, in LeRobot's info.json form."""
    return {
        "dtype": "video",
        "shape": [int(height), int(width), 3],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": int(height),
            "video.width": int(width),
            "video.codec": codec,
            "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": 3,
            "has_audio": False,
        },
    }


def default_features(
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    fps: float = 10,
    state_dim: int = STATE_DIM,
    action_dim: int = ACTION_DIM,
    image_keys: tuple[str, ...] = IMAGE_KEYS,
) -> dict[str, dict[str, Any]]:
    """Features of this stack's datasets: both cameras, observation.state and action."""
    h, w = image_size
    feats: dict[str, dict[str, Any]] = {k: video_feature(h, w, fps) for k in image_keys}
    feats[OBS_STATE] = {
        "dtype": "float32",
        "shape": [state_dim],
        "names": list(STATE_NAMES) if state_dim == STATE_DIM else None,
    }
    feats[ACTION] = {
        "dtype": "float32",
        "shape": [action_dim],
        "names": list(EEF_ACTION_NAMES) if action_dim == ACTION_DIM else None,
    }
    return feats


def user_features(features: dict[str, dict]) -> dict[str, dict]:
    """The features a caller provides per frame (all but LeRobot's bookkeeping columns)."""
    return {k: v for k, v in features.items() if k not in DEFAULT_FEATURES}


def visual_keys(features: dict[str, dict]) -> list[str]:
    return [k for k, v in features.items() if v["dtype"] in VISUAL_DTYPES]


def numeric_keys(features: dict[str, dict]) -> list[str]:
    return [k for k, v in features.items() if v["dtype"] not in VISUAL_DTYPES + ("string",)]


def validate_features(features: dict[str, dict]) -> None:
    """Raise with the feature's name when a declaration cannot be written."""
    for key, ft in features.items():
        for field in ("dtype", "shape"):
            if field not in ft:
                raise ValueError(f"feature {key!r} lacks {field!r}; declare dtype and shape")
        if ft["dtype"] == "image":
            raise ValueError(
                f"feature {key!r}: dtype 'image' (PNG in parquet) is not supported by this "
                "writer; declare it as 'video' (see vla.data.layout.video_feature)"
            )
        if ft["dtype"] == "video" and (len(ft["shape"]) != 3 or ft["shape"][2] != 3):
            raise ValueError(f"video feature {key!r} must have shape [H, W, 3], got {ft['shape']}")
        if ft["dtype"] not in VISUAL_DTYPES and ft["dtype"] not in (
            "float32", "float64", "int64", "int32", "bool",
        ):  # fmt: skip
            raise ValueError(f"feature {key!r}: unsupported dtype {ft['dtype']!r}")


# ---- arrow schema of data files ------------------------------------------------------------
def _hf_feature(ft: dict) -> dict:
    """The Hugging Face `datasets` feature JSON LeRobot stores in the parquet metadata."""
    shape = list(ft["shape"])
    if shape == [1]:
        return {"dtype": ft["dtype"], "_type": "Value"}
    if len(shape) == 1:
        return {
            "feature": {"dtype": ft["dtype"], "_type": "Value"},
            "length": shape[0],
            "_type": "List",
        }
    return {"shape": shape, "dtype": ft["dtype"], "_type": f"Array{len(shape)}D"}


def data_schema(features: dict[str, dict]) -> pa.Schema:
    """Arrow schema of data/*.parquet: vectors as fixed-size lists, as LeRobot writes them."""
    fields, hf = [], {}
    for key, ft in features.items():
        if ft["dtype"] in VISUAL_DTYPES:
            continue
        base = pa.from_numpy_dtype(np.dtype(ft["dtype"]))
        shape = list(ft["shape"])
        if shape == [1]:
            typ = base
        elif len(shape) == 1:
            typ = pa.list_(base, shape[0])
        else:
            raise ValueError(f"feature {key!r}: only 1-D numeric features are supported")
        fields.append(pa.field(key, typ))
        hf[key] = _hf_feature(ft)
    meta = {"huggingface": json.dumps({"info": {"features": hf}})}
    return pa.schema(fields, metadata=meta)


def frames_table(schema: pa.Schema, columns: dict[str, np.ndarray]) -> pa.Table:
    """One episode's per-frame columns as a table of ``schema`` (vectors as fixed-size lists)."""
    arrays = []
    for field in schema:
        value = columns[field.name]
        if pa.types.is_fixed_size_list(field.type):
            flat = pa.array(value.reshape(-1), type=field.type.value_type)
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, field.type.list_size))
        else:
            arrays.append(pa.array(value.reshape(-1), type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# ---- atomic writes ---------------------------------------------------------------------------
def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be creating
    files); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file 0600; a dataset is shared (other users, containers under another
    # uid), so give it the mode open() would: 0666 less the umask
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON so readers see the old or the new file, never a partial one."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=4)

    _atomic(path, write)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a parquet table atomically (temporary file + os.replace)."""
    _atomic(path, lambda tmp: pq.write_table(table, tmp))


def atomic_write_file(path: Path, write) -> None:
    """Run ``write(tmp_path)`` and move the result into place atomically."""
    _atomic(path, write)


# ---- tasks.parquet ---------------------------------------------------------------------------
def tasks_table(tasks: list[str]) -> pa.Table:
    """tasks.parquet as LeRobot writes it with pandas: the task string is the frame index."""
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [
            {"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
             "metadata": {"encoding": "UTF-8"}},
        ],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None},
        ],
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }  # fmt: skip
    schema = pa.schema(
        [pa.field("task_index", pa.int64()), pa.field("__index_level_0__", pa.large_string())],
        metadata={"pandas": json.dumps(pandas_meta)},
    )
    return pa.table(
        {"task_index": list(range(len(tasks))), "__index_level_0__": list(tasks)}, schema=schema
    )


def read_tasks(root: Path) -> list[str]:
    """Task strings ordered by task_index."""
    path = Path(root) / TASKS_PATH
    table = read_parquet(path)
    name = "task" if "task" in table.column_names else "__index_level_0__"
    if name not in table.column_names or "task_index" not in table.column_names:
        raise DatasetFormatError(f"{path}: expected columns task_index and the task string")
    pairs = sorted(zip(table["task_index"].to_pylist(), table[name].to_pylist(), strict=True))
    return [t for _, t in pairs]


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a parquet file; a missing or corrupt file raises DatasetFormatError naming it."""
    path = Path(path)
    if not path.exists():
        raise DatasetFormatError(f"{path}: file is missing")
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DatasetFormatError(f"{path}: corrupt or truncated parquet file ({exc})") from exc
    except KeyError as exc:
        raise DatasetFormatError(f"{path}: missing column {exc}") from exc


def parquet_columns(path: Path) -> list[str]:
    """Column names of a parquet file (reads only the footer)."""
    try:
        return pq.read_schema(path).names
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DatasetFormatError(f"{path}: corrupt or truncated parquet file ({exc})") from exc


def read_info(root: Path) -> dict:
    """meta/info.json, checked for the fields this package relies on."""
    path = Path(root) / INFO_PATH
    if not path.exists():
        raise DatasetFormatError(f"{path}: missing; {root} is not a LeRobot v3 dataset folder")
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: corrupt JSON ({exc})") from exc
    version = info.get("codebase_version")
    if version != CODEBASE_VERSION:
        raise DatasetFormatError(
            f"{path}: codebase_version {version!r}; only {CODEBASE_VERSION!r} datasets are "
            "supported (convert older ones with lerobot's convert_dataset_v21_to_v30)"
        )
    for field in ("fps", "features", "data_path", "video_path"):
        if field not in info:
            raise DatasetFormatError(f"{path}: missing field {field!r}")
    return info


def episodes_table(rows: list[dict]) -> pa.Table:
    """The episode table from its rows (column types inferred, as LeRobot's pandas path does)."""
    return pa.Table.from_pylist(rows)


def info_json(
    features: dict[str, dict],
    fps: float,
    robot_type: str | None,
    total_episodes: int,
    total_frames: int,
    total_tasks: int,
    chunks_size: int,
    data_files_size_in_mb: float,
    video_files_size_in_mb: float,
) -> dict[str, Any]:
    """The ``meta/info.json`` document of a LeRobot v3 dataset."""
    has_video = bool(visual_keys(features))
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type,
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": total_tasks,
        "chunks_size": chunks_size,
        "data_files_size_in_mb": data_files_size_in_mb,
        "video_files_size_in_mb": video_files_size_in_mb,
        "fps": fps,
        "splits": {"train": f"0:{total_episodes}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": (
            "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
            if has_video
            else None
        ),
        "features": features,
    }


def codec_of_info(info: dict) -> str:
    """The codec of a dataset's videos, from its info.json (default for video-less datasets)."""
    for ft in info["features"].values():
        if ft.get("dtype") == "video":
            return ft.get("info", {}).get("video.codec", DEFAULT_CODEC)
    return DEFAULT_CODEC


def acquire_writer_lock(root: Path):
    """One writer per dataset: an exclusive flock, released by the OS when the process dies."""
    import fcntl

    path = root / "meta" / ".writer.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # noqa: SIM115 - held for the writer's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"{root} is being written by another DatasetWriter (lock {path}); wait for it to "
            "finish or write to another folder"
        ) from None
    return handle

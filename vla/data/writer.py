"""Write LeRobotDataset v3 folders episode by episode, durably.

Durability design (an episode is fully in the dataset or not at all):

1. ``add_frame`` only buffers in memory; nothing on disk changes.
2. ``save_episode`` writes the episode's data parquet and one MP4 per camera as *new files of
   their own* (temporary name + fsync + ``os.replace``), then the task table, then the episode
   table ``meta/episodes/chunk-000/file-000.parquet`` (atomic replace: the commit point), then
   the derived ``meta/stats.json`` and ``meta/info.json``.
3. Every ``consolidate_every`` episodes and at ``finalize`` the one-episode files are merged into
   multi-episode files (up to ``data_files_size_in_mb`` / ``video_files_size_in_mb``), in place
   into the first file of each run: that file's old content stays a prefix of the new one, so
   the committed episode table stays valid while the episode table is rewritten to point at the
   merged file, after which the merged-away files are deleted.

Readers trust only the episode table, so a SIGKILL at any moment leaves a loadable dataset
holding every saved episode. Leftovers (temporary files, files no episode points to, a merged
file whose table update was lost) are repaired by :meth:`DatasetWriter.resume`, which then
appends with contiguous episode indices. Until then ``info.json``/``stats.json`` may lag the
table by one episode, so readers count episodes from the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vla.constants import TASK
from vla.data import consolidate as cons
from vla.data.episode_prep import EpisodeSpec, PreparedEpisode, check_frame, prepare_episode
from vla.data.episode_table import EpisodeTableBuilder
from vla.data.layout import (
    DEFAULT_CHUNKS_SIZE,
    DEFAULT_CODEC,
    DEFAULT_DATA_FILE_SIZE_MB,
    DEFAULT_FEATURES,
    DEFAULT_VIDEO_FILE_SIZE_MB,
    EPISODES_META_PATH,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    FilePointer,
    acquire_writer_lock,
    atomic_write_file,
    atomic_write_json,
    atomic_write_table,
    codec_of_info,
    data_file,
    data_schema,
    frames_table,
    info_json,
    numeric_keys,
    read_info,
    read_parquet,
    read_tasks,
    tasks_table,
    user_features,
    validate_features,
    video_file,
    visual_keys,
)
from vla.data.running_stats import RunningStats
from vla.data.stats import array_stats, to_json


class DatasetWriter:
    """Append episodes to a LeRobot v3 dataset folder.

    Example::

        w = DatasetWriter("out/ds", fps=10, features=default_features(), robot_type="panda")
        for obs, act in steps:
            w.add_frame({**obs, "action": act, "task": "put the red cube in the bowl"})
        w.save_episode()          # or w.discard_episode() for a failed demonstration
        w.finalize()              # merge files; the folder is a LeRobot v3 dataset throughout

    ``features`` maps keys to ``{"dtype", "shape", "names"}`` (cameras: dtype "video", shape
    [H, W, 3]); LeRobot's bookkeeping columns are added automatically.
    """

    def __init__(
        self,
        root: str | Path,
        fps: float,
        features: dict[str, dict[str, Any]],
        robot_type: str | None = None,
        *,
        codec: str = DEFAULT_CODEC,
        chunks_size: int = DEFAULT_CHUNKS_SIZE,
        data_files_size_in_mb: float = DEFAULT_DATA_FILE_SIZE_MB,
        video_files_size_in_mb: float = DEFAULT_VIDEO_FILE_SIZE_MB,
        consolidate_every: int = 50,
        commit_every: int = 1,
        _resume: bool = False,
    ):
        self.root = Path(root)
        if not _resume and self.root.exists() and any(self.root.iterdir()):
            raise FileExistsError(
                f"{self.root} exists and is not empty; use DatasetWriter.resume({str(root)!r}) "
                "to append to it, or choose a new folder"
            )
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        user = user_features(features)
        validate_features(user)
        for key in visual_keys(user):
            user[key] = {**user[key]}
            user[key].setdefault("info", {})
            user[key]["info"] = {**user[key]["info"], "video.codec": codec, "video.fps": fps}
        self.fps = int(fps) if float(fps).is_integer() else float(fps)
        self.features = {**user, **DEFAULT_FEATURES}
        self.robot_type = robot_type
        self.codec = codec
        self.chunks_size = chunks_size
        self.data_mb = data_files_size_in_mb
        self.video_mb = video_files_size_in_mb
        self.consolidate_every = consolidate_every
        # commit_every=1 (default): each save_episode commits, so a kill loses at most the episode
        # being recorded. Bulk producers that can redo work (generation) pass a larger value: the
        # episode table (O(episodes) to write) is then written once per `commit_every` saves, and
        # a kill loses the uncommitted saves (their files are removed by `resume`'s repair).
        if commit_every < 1:
            raise ValueError(f"commit_every must be >= 1, got {commit_every}")
        self.commit_every = commit_every
        self._uncommitted = 0
        self._user_keys = list(user)
        self._cameras = visual_keys(user)
        self._numeric = numeric_keys(self.features)
        self._schema = data_schema(self.features)
        self.tasks: list[str] = []
        self.episode_rows: list[dict] = []  # full rows of the episode table, stats included
        self._table = EpisodeTableBuilder()  # commits convert only the rows added since
        self._last_ptr: dict[str, FilePointer | None] = {}  # newest file per kind
        self._stats = RunningStats(self.features, self._numeric, self._cameras)
        self._since_consolidation = 0
        self._buffer: dict[str, list] = {}
        self.discard_episode()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = acquire_writer_lock(self.root)
        if not _resume:
            self._write_meta()

    # ---- resume -------------------------------------------------------------------------------
    @classmethod
    def resume(cls, root: str | Path, **options: Any) -> DatasetWriter:
        """Reopen a dataset (possibly left by a killed writer) to append episodes.

        Repairs the folder first (see the module docstring); the next saved episode gets index
        ``num_episodes``. ``options`` override writer settings such as ``consolidate_every``.
        """
        root = Path(root)
        info = read_info(root)
        writer = cls(
            root, info["fps"], info["features"], info.get("robot_type"),
            codec=options.pop("codec", codec_of_info(info)),
            chunks_size=info.get("chunks_size", DEFAULT_CHUNKS_SIZE),
            data_files_size_in_mb=info.get("data_files_size_in_mb", DEFAULT_DATA_FILE_SIZE_MB),
            video_files_size_in_mb=info.get("video_files_size_in_mb", DEFAULT_VIDEO_FILE_SIZE_MB),
            _resume=True, **options,
        )  # fmt: skip
        writer.tasks = read_tasks(root) if (root / TASKS_PATH).exists() else []
        if (root / EPISODES_META_PATH).exists():
            writer.episode_rows = read_parquet(root / EPISODES_META_PATH).to_pylist()
            writer.episode_rows.sort(key=lambda r: r["episode_index"])
        cons.repair(root, writer.episode_rows, writer._cameras)
        writer._stats.add_committed(root, writer.episode_rows)
        writer._write_meta()
        return writer

    # ---- frames -------------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self.episode_rows)

    @property
    def num_frames(self) -> int:
        return sum(int(r["length"]) for r in self.episode_rows)

    @property
    def episode_buffer_length(self) -> int:
        return len(self._buffer[TASK])

    def add_frame(self, frame: dict[str, Any]) -> None:
        """Buffer one frame: every declared feature plus ``task`` (the instruction string)."""
        checked = check_frame(frame, self._user_keys, self.features)
        for key, value in checked.items():
            self._buffer[key].append(value)
        self._buffer[TASK].append(frame[TASK])

    def discard_episode(self) -> None:
        """Drop the frames buffered since the last save (e.g. a failed demonstration)."""
        self._buffer = {k: [] for k in [*self._user_keys, TASK]}

    def episode_spec(self) -> EpisodeSpec:
        """What ``prepare_episode`` needs to prepare episodes for this dataset (picklable)."""
        return EpisodeSpec(user_features(self.features), self.fps, self.codec)

    def save_episode(self) -> int:
        """Write the buffered frames as the next episode; returns its episode index."""
        if self.episode_buffer_length == 0:
            raise ValueError("save_episode: no frames buffered; call add_frame first")
        stacked = {k: np.stack(self._buffer[k]) for k in self._user_keys}
        ep = self._save(prepare_episode(self.episode_spec(), stacked, self._buffer[TASK]))
        self.discard_episode()
        return ep

    def save_prepared(self, episode: PreparedEpisode) -> int:
        """Write an episode prepared by ``prepare_episode`` (e.g. in a worker process).

        Same files, statistics and durability as ``add_frame`` + ``save_episode``; the parent
        only assigns indices and writes. Returns the episode index.
        """
        if self.episode_buffer_length:
            raise RuntimeError(
                f"save_prepared: {self.episode_buffer_length} frames are buffered by add_frame; "
                "save_episode() or discard_episode() them first"
            )
        spec = self.episode_spec()
        if episode.spec != spec:
            raise ValueError(
                "save_prepared: the episode was prepared for another dataset layout "
                f"({episode.spec}); prepare it with this writer's episode_spec() ({spec})"
            )
        return self._save(episode)

    def _save(self, prep: PreparedEpisode) -> int:
        length = prep.length
        ep = self.num_episodes
        start = self.num_frames
        tasks = list(dict.fromkeys(prep.tasks))
        for t in tasks:
            if t not in self.tasks:
                self.tasks.append(t)
        columns: dict[str, np.ndarray] = dict(prep.columns)
        columns["timestamp"] = (np.arange(length) / self.fps).astype(np.float32)
        columns["frame_index"] = np.arange(length, dtype=np.int64)
        columns["episode_index"] = np.full(length, ep, dtype=np.int64)
        columns["index"] = np.arange(start, start + length, dtype=np.int64)
        columns["task_index"] = np.array([self.tasks.index(t) for t in prep.tasks])
        row: dict[str, Any] = {
            "episode_index": ep,
            "tasks": tasks,
            "length": length,
        }
        # data file of its own (merged later); never overwrite a committed file
        used: dict[str, FilePointer] = {}
        dptr = used["data"] = self._next_pointer("data")
        atomic_write_table(data_file(self.root, dptr), frames_table(self._schema, columns))
        row.update({"data/chunk_index": dptr.chunk_index, "data/file_index": dptr.file_index,
                    "dataset_from_index": start, "dataset_to_index": start + length})  # fmt: skip
        ep_stats = {
            k: prep.stats[k] if k in prep.stats else array_stats(columns[k].reshape(length, -1))
            for k in self._numeric
        }  # the bookkeeping columns' statistics depend on the position: computed here
        for key in self._cameras:
            vptr = used[key] = self._next_pointer(key)
            atomic_write_file(
                video_file(self.root, key, vptr),
                lambda tmp, data=prep.videos[key]: Path(tmp).write_bytes(data),
            )
            row.update({
                f"videos/{key}/chunk_index": vptr.chunk_index,
                f"videos/{key}/file_index": vptr.file_index,
                f"videos/{key}/from_timestamp": 0.0,
                f"videos/{key}/to_timestamp": length / self.fps,
            })  # fmt: skip
            ep_stats[key] = prep.stats[key]
        for key in [*self._cameras, *self._numeric]:  # LeRobot's column order: cameras first
            for name, value in ep_stats[key].items():
                row[f"stats/{key}/{name}"] = np.asarray(value).tolist()
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        self.episode_rows.append(row)
        self._last_ptr.update(used)
        self._uncommitted += 1
        if self._uncommitted >= self.commit_every:
            try:
                self.commit()
            except BaseException:
                self.episode_rows.pop()
                self._last_ptr = {}
                self._uncommitted -= 1
                raise
        self._stats.add(columns, ep_stats, length)
        self._since_consolidation += 1
        if self.consolidate_every and self._since_consolidation >= self.consolidate_every:
            self.consolidate()
            self._write_meta()
        # else: info.json was refreshed by commit() (if this save committed). Dataset-wide
        # quantiles cost O(frames so far): refreshing stats.json on every save made long
        # generation runs quadratic. It is refreshed at each consolidation and at finalize;
        # resume recomputes it from the committed episodes.
        return ep

    def commit(self) -> None:
        """Write the task table, the episode table (the commit point) for all saved episodes,
        then ``info.json`` to match (not per save: one fsync less per uncommitted episode)."""
        atomic_write_table(self.root / TASKS_PATH, tasks_table(self.tasks))
        atomic_write_table(self.root / EPISODES_META_PATH, self._table(self.episode_rows))
        self._uncommitted = 0
        self._write_meta(stats=False)

    @property
    def uncommitted_episodes(self) -> int:
        """Episodes saved since the last commit (lost if the process dies now)."""
        return self._uncommitted

    def consolidate(self) -> None:
        """Merge one-episode files into multi-episode files up to the configured sizes."""
        if self._uncommitted:
            self.commit()
        limits = {"data": self.data_mb, **{k: self.video_mb for k in self._cameras}}
        self.episode_rows = cons.consolidate(self.root, self.episode_rows, self._cameras, limits)
        self._last_ptr = {}  # merged-away files are gone: recompute from the rows
        self._since_consolidation = 0

    def finalize(self) -> None:
        """Consolidate files and write the final metadata. The writer may not be used after."""
        if self.episode_buffer_length:
            raise RuntimeError(
                f"finalize: {self.episode_buffer_length} unsaved frames buffered; call "
                "save_episode() or discard_episode() first"
            )
        self.consolidate()
        self._write_meta()
        self.close()

    def close(self) -> None:
        """Release the dataset without consolidating (saved episodes stay; buffered are lost)."""
        if not self._lock.closed and self._uncommitted:
            self.commit()
        if not self._lock.closed:
            Path(self._lock.name).unlink(missing_ok=True)
            self._lock.close()  # releases the flock

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()

    # ---- internals ----------------------------------------------------------------------------
    def _next_pointer(self, kind: str) -> FilePointer:
        """The file after the newest one of ``kind``. The rows are scanned once per change of
        rows, not per save (that made a run quadratic); ``_save`` records the files it used."""
        prefix = "data" if kind == "data" else f"videos/{kind}"
        if kind not in self._last_ptr:
            ptrs = [FilePointer(r[f"{prefix}/chunk_index"], r[f"{prefix}/file_index"])
                    for r in self.episode_rows]  # fmt: skip
            self._last_ptr[kind] = max(ptrs, key=lambda p: (p.chunk_index, p.file_index),
                                       default=None)  # fmt: skip
        last = self._last_ptr[kind]
        return FilePointer(0, 0) if last is None else last.next(self.chunks_size)

    def _write_meta(self, stats: bool = True) -> None:
        if stats or not (self.root / STATS_PATH).exists():
            atomic_write_json(self.root / STATS_PATH, to_json(self._stats.dataset_stats()))
        info = info_json(
            self.features, self.fps, self.robot_type, self.num_episodes, self.num_frames,
            len(self.tasks), self.chunks_size, self.data_mb, self.video_mb,
        )  # fmt: skip
        atomic_write_json(self.root / INFO_PATH, info)

"""Merging one-episode files into multi-episode files, and repairing interrupted writes.

A merge writes the concatenation of a run of files ``F_i .. F_j`` *into F_i* (atomic replace),
so F_i's old content is a prefix of the new one and the committed episode table stays valid;
then the table is rewritten to point at F_i (commit) and ``F_i+1 .. F_j`` are deleted. A crash
between the steps leaves either extra trailing frames in F_i or unreferenced files, which
:func:`repair` trims or deletes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from vla.data.layout import (
    EPISODES_META_PATH,
    DatasetFormatError,
    FilePointer,
    atomic_write_file,
    atomic_write_table,
    data_file,
    episodes_table,
    read_parquet,
    video_file,
)
from vla.data.video import concat_videos, video_duration_frames, video_signature


def _prefix(kind: str) -> str:
    return "data" if kind == "data" else f"videos/{kind}"


def _ptr(row: dict, kind: str) -> FilePointer:
    p = _prefix(kind)
    return FilePointer(row[f"{p}/chunk_index"], row[f"{p}/file_index"])


def _path(root: Path, kind: str, ptr: FilePointer) -> Path:
    return data_file(root, ptr) if kind == "data" else video_file(root, kind, ptr)


def _files(rows: list[dict], kind: str) -> dict[FilePointer, list[dict]]:
    """Files of one kind in episode order, each with the rows (episodes) it holds."""
    groups: dict[FilePointer, list[dict]] = {}
    for row in rows:
        groups.setdefault(_ptr(row, kind), []).append(row)
    return groups


def iter_episode_tables(root: Path, rows: list[dict]) -> Iterator[tuple[dict, pa.Table]]:
    """(row, frames table) per episode, reading each data file once."""
    for ptr, members in _files(rows, "data").items():
        table = read_parquet(data_file(root, ptr))
        offset = 0
        for row in members:
            yield row, table.slice(offset, int(row["length"]))
            offset += int(row["length"])


def repair(root: Path, rows: list[dict], cameras: list[str]) -> None:
    """Make the folder match the episode table after an interrupted writer."""
    root = Path(root)
    for base in ("data", "videos", "meta"):
        for tmp in (root / base).rglob(".*.tmp"):
            tmp.unlink()
    for kind in ["data", *cameras]:
        files = _files(rows, kind)
        keep = {_path(root, kind, p).resolve() for p in files}
        folder = root / "data" if kind == "data" else root / "videos" / kind
        pattern = "*.parquet" if kind == "data" else "*.mp4"
        for path in folder.rglob(pattern) if folder.exists() else []:
            if path.resolve() not in keep:
                path.unlink()  # written by a save or merge whose commit never happened
        for ptr, members in files.items():
            path = _path(root, kind, ptr)
            expected = sum(int(r["length"]) for r in members)
            if kind == "data":
                table = read_parquet(path)
                if len(table) < expected:
                    raise DatasetFormatError(f"{path}: {len(table)} rows, table expects {expected}")
                if len(table) > expected:
                    atomic_write_table(path, table.slice(0, expected))
            else:
                have = video_duration_frames(path)
                if have < expected:
                    raise DatasetFormatError(f"{path}: {have} frames, table expects {expected}")
                if have > expected:
                    keep_s = float(members[-1][f"videos/{kind}/to_timestamp"]) - 1e-6
                    atomic_write_file(
                        path, lambda tmp, p=path, k=keep_s: concat_videos([p], tmp, [k])
                    )


def _runs(root: Path, kind: str, files: dict, limit_mb: float) -> list[list[FilePointer]]:
    """Greedy runs of consecutive files whose summed size stays under the limit.

    Videos join a run only when encoded alike (e.g. LeRobot's AV1 files and episodes we append
    later with another encoder stay in separate files).
    """
    ptrs = list(files)
    sizes = [_path(root, kind, p).stat().st_size for p in ptrs]
    sigs = [None if kind == "data" else video_signature(_path(root, kind, p)) for p in ptrs]
    limit = limit_mb * 1024 * 1024
    runs, i = [], 0
    while i < len(ptrs):
        total, j = sizes[i], i + 1
        while j < len(ptrs) and total + sizes[j] <= limit and sigs[j] == sigs[i]:
            total += sizes[j]
            j += 1
        if j > i + 1:
            runs.append(ptrs[i:j])
        i = j
    return runs


def _merge_videos(paths: list[Path], ends: list[float]) -> list[float]:
    holder: list[list[float]] = []
    keep = [e - 1e-6 for e in ends]  # a file's frames end where its last episode ends
    atomic_write_file(paths[0], lambda tmp: holder.append(concat_videos(paths, tmp, keep)))
    return holder[0]


def consolidate(
    root: Path, rows: list[dict], cameras: list[str], limits_mb: dict[str, float]
) -> list[dict]:
    """Merge runs of files of every kind; returns the new (committed) episode rows."""
    root = Path(root)
    new_rows = [dict(r) for r in rows]
    by_index = {r["episode_index"]: r for r in new_rows}
    doomed: list[Path] = []
    for kind in ["data", *cameras]:
        files = _files(rows, kind)
        prefix = _prefix(kind)
        for run in _runs(root, kind, files, limits_mb[kind]):
            target = run[0]
            paths = [_path(root, kind, p) for p in run]
            counts = [sum(int(r["length"]) for r in files[p]) for p in run]
            if kind == "data":
                tables = [read_parquet(p).slice(0, n) for p, n in zip(paths, counts, strict=True)]
                atomic_write_table(paths[0], pa.concat_tables(tables))
                starts = [0.0] * len(run)
            else:
                ends = [float(files[p][-1][f"{prefix}/to_timestamp"]) for p in run]
                starts = _merge_videos(paths, ends)
            for ptr, start in zip(run, starts, strict=True):
                for old in files[ptr]:
                    row = by_index[old["episode_index"]]
                    row[f"{prefix}/chunk_index"] = target.chunk_index
                    row[f"{prefix}/file_index"] = target.file_index
                    if kind != "data":
                        row[f"{prefix}/from_timestamp"] = old[f"{prefix}/from_timestamp"] + start
                        row[f"{prefix}/to_timestamp"] = old[f"{prefix}/to_timestamp"] + start
            doomed.extend(paths[1:])
    if doomed:
        atomic_write_table(root / EPISODES_META_PATH, episodes_table(new_rows))  # commit
        for path in doomed:
            os.unlink(path)
    return new_rows


def file_episode_counts(rows: list[dict], kind: str) -> dict[FilePointer, int]:
    """How many episodes each file of a kind holds (for tests and `vla data info`)."""
    counts: dict[FilePointer, int] = defaultdict(int)
    for row in rows:
        counts[_ptr(row, kind)] += 1
    return dict(counts)

"""Per-frame arrays of a set of episodes, decoded into memory: the start-up load of
``vla train``'s in-memory path, and the child process that decodes for a growing dataset.

Kept free of torch and the model so that ``python -m vla.data.episode_arrays`` (the decoder
child of ``vla.train.growing.EpisodeFeed``) starts in ~0.5 s, not the ~9 s of ``vla.train``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla.constants import ACTION, OBS_STATE
from vla.data.reader import LeRobotDatasetReader


@dataclass
class EpisodeArrays:
    """Per-frame arrays of a set of episodes (numpy, CPU)."""

    frames: dict[str, np.ndarray]  # camera -> uint8 (N, H, W, 3)
    state: np.ndarray  # (N, S) float32
    chunks: np.ndarray  # (N, H, D) float32: actions t .. t+H-1 (last repeated past the end)
    is_pad: np.ndarray  # (N, H) bool
    task_index: np.ndarray  # (N,) int64 into ``instructions``
    instructions: list[str]


def episode_chunks(actions: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, D) actions -> (T, chunk, D) future chunks and (T, chunk) padding flags."""
    length = len(actions)
    steps = np.arange(length)[:, None] + np.arange(chunk)[None, :]  # (T, chunk)
    return actions[np.minimum(steps, length - 1)], steps >= length


def load_episode_arrays(
    root: str,
    chunk_size: int,
    episodes: list[int] | None = None,
    workers: int = 4,
    instructions: list[str] | None = None,
) -> EpisodeArrays:
    """Decode the selected episodes of a dataset into memory (video in ``workers`` threads).

    ``instructions``: the table the task indices point into (default: the selected episodes'
    own instructions, sorted); a data-parallel rank loading its share passes the whole set's,
    so that every rank indexes one table."""
    reader = LeRobotDatasetReader(root)
    eps = list(range(reader.num_episodes)) if episodes is None else list(episodes)
    if not eps:
        raise ValueError(f"{root}: no episodes selected; the dataset has {reader.num_episodes}")
    cams = reader.camera_keys
    own = sorted({reader.episode_task(e) for e in eps})
    if instructions is None:
        instructions = own
    elif missing := set(own) - set(instructions):
        raise ValueError(f"instructions table lacks {len(missing)} of the episodes' tasks")
    tindex = {t: i for i, t in enumerate(instructions)}
    states, chunks, pads, tasks = [], [], [], []
    for e in eps:
        arrays = reader.episode_arrays(e)
        c, p = episode_chunks(arrays[ACTION].astype(np.float32), chunk_size)
        states.append(arrays[OBS_STATE].astype(np.float32))
        chunks.append(c)
        pads.append(p)
        tasks.append(np.full(len(c), tindex[reader.episode_task(e)], dtype=np.int64))
    # each episode's frames go straight to their place in one preallocated array per camera, from
    # decoding threads. The process pool before pickled every frame back through the parent, then
    # concatenated them (120 s for 4840 episodes on the H200 machine). On 2 cores threads decode
    # 1.4x faster than one (21.8 vs 30.5 ms per episode); 16-core scaling is not yet measured.
    lengths = [len(t) for t in tasks]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    frames = {k: np.empty((int(starts[-1]), *reader.features[k]["shape"]), np.uint8) for k in cams}

    def decode(i: int) -> None:
        for k in cams:
            frames[k][starts[i] : starts[i + 1]] = reader.episode_frames(eps[i], k)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(eps)))) as pool:
        for _ in pool.map(decode, range(len(eps))):  # re-raises a decoding error here
            pass
    return EpisodeArrays(
        frames, np.concatenate(states), np.concatenate(chunks), np.concatenate(pads),
        np.concatenate(tasks), instructions,
    )  # fmt: skip


SPOOL_FIELDS = ("state", "chunks", "is_pad", "task_index")


def write_spool(arrays: EpisodeArrays, spool: str) -> None:
    """``arrays`` as .npy files (one per field and camera) in ``spool``, for :func:`read_spool`."""
    cams = list(arrays.frames)
    for i, key in enumerate(cams):
        np.save(Path(spool, f"frames_{i}.npy"), arrays.frames[key])
    for name in SPOOL_FIELDS:
        np.save(Path(spool, f"{name}.npy"), getattr(arrays, name))
    meta = {"cameras": cams, "instructions": arrays.instructions}
    Path(spool, "arrays.json").write_text(json.dumps(meta))


def read_spool(spool: str) -> EpisodeArrays:
    meta = json.loads(Path(spool, "arrays.json").read_text())
    frames = {k: np.load(Path(spool, f"frames_{i}.npy")) for i, k in enumerate(meta["cameras"])}
    fields = {name: np.load(Path(spool, f"{name}.npy")) for name in SPOOL_FIELDS}
    return EpisodeArrays(frames, instructions=meta["instructions"], **fields)


def _decode_main(argv: list[str]) -> int:
    """Child of ``vla.train.growing.EpisodeFeed``: ROOT CHUNK START END WORKERS SPOOL -> SPOOL/*.npy."""
    root, chunk, start, end, workers, spool = argv
    os.nice(5)  # the training loop keeps its core
    instructions = json.loads(Path(spool, "instructions.json").read_text())
    t0 = time.perf_counter()
    arrays = load_episode_arrays(
        root, int(chunk), list(range(int(start), int(end))), int(workers), instructions
    )
    t1 = time.perf_counter()
    write_spool(arrays, spool)
    # where the child's time went (EpisodeFeed sums it: on a 16-core GPU host the feed decoded only
    # ~13 episodes/s with 14 workers, 2 cores here do ~28; this tells decoding from spooling)
    timing = {"decode_s": t1 - t0, "spool_write_s": time.perf_counter() - t1}
    Path(spool, "timing.json").write_text(json.dumps(timing))
    return 0


if __name__ == "__main__":
    sys.exit(_decode_main(sys.argv[1:]))

"""Train while the dataset is still being generated (``vla train --grow_s=S``).

A ``vla data generate`` run commits episodes in batches (``vla.rollout.generate.COMMIT_EVERY``);
readers trust only the committed episode table (``vla.data.writer``), so a second process can
read a dataset that is still growing. :class:`EpisodeFeed` polls the table every ``poll_s``
seconds from a background thread, decodes the newly committed episodes (video in a thread pool,
like the start-up load) and hands them to the training loop, which appends them to the
device-resident set (``MemoryBatches.extend``) between steps. The GPU trains from the first
committed batch on instead of idling through generation and the whole-set load::

    vla data generate ... --out D --max-minutes 6 &
    vla train --dataset=D --data_mode=memory --grow_s=20 --grow_min_episodes=200 --max_minutes=8

Known limits: the normalisation statistics and the binning tokenizer's range are those of the
episodes committed when training starts (its first ``grow_min_episodes`` or more: a generator
writes ``meta/stats.json`` only when it finishes, so they are computed here); one process only (no
DDP); batches are drawn uniformly over the frames loaded so far, so the first episodes are seen
more often than the last.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vla.constants import ACTION, OBS_STATE
from vla.data.dataset_stats import compute_dataset_stats
from vla.data.episode_arrays import EpisodeArrays, read_spool
from vla.data.layout import DatasetFormatError
from vla.data.reader import LeRobotDatasetReader
from vla.train.instruction_aug import with_variants


def wait_for_episodes(root: str, count: int, timeout_s: float, poll_s: float = 2.0):
    """A reader of ``root`` once its committed table holds ``count`` episodes.

    Raises ``TimeoutError`` naming what was last seen when ``timeout_s`` passes first."""
    t0, seen = time.time(), "no dataset yet"
    while True:
        try:
            reader = LeRobotDatasetReader(root)
            if reader.num_episodes >= count:
                return reader
            seen = f"{reader.num_episodes} committed episodes"
        except (OSError, ValueError) as e:  # not written far enough yet (DatasetFormatError)
            seen = f"not readable yet ({type(e).__name__}: {e})"
        if time.time() - t0 > timeout_s:
            raise TimeoutError(
                f"{root}: waited {timeout_s:.0f} s for {count} committed episodes, {seen}. "
                "Start `vla data generate --out` on it first, or lower --grow_min_episodes"
            )
        time.sleep(poll_s)


def load_retrying(load, tries: int = 5, wait_s: float = 2.0):
    """``load()``, tried again on a fresh read where a file was replaced under it (a
    generator's final merge rewrites the episode table, then deletes the merged-away files)."""
    for attempt in range(tries):
        try:
            return load()
        except (OSError, DatasetFormatError):
            if attempt == tries - 1:
                raise
            time.sleep(wait_s)


class EpisodeFeed:
    """Decode episodes committed to ``root`` after the first ``start`` ones, in the background.

    Each poll decodes in a child process (``python -m vla.data.episode_arrays``: the start-up load's
    thread pool, niced) that writes the arrays to a spool folder; the feed thread only waits for
    it and reads the files back. Decoding in a thread of the training process held its GIL: on the
    H200 machine (2026-12-06) training fell from ~4,100 to 2,530 samples/s while the feed decoded
    ~10 episodes/s, and the interpreter's exit waited for a 2,000-episode decode in flight.
    :meth:`close` kills a running child.

    ``instructions``: the training table; tasks new to it are appended (indices stay valid), and
    each delivered :class:`EpisodeArrays` carries the whole table as of its load. ``take()``
    returns what has been decoded since the last call. A read that fails (a file replaced under
    it, e.g. by the generator's final merge) is retried at the next poll; ``errors`` counts them.
    """

    def __init__(self, root: str, chunk_size: int, start: int, instructions: list[str],
                 workers: int = 4, poll_s: float = 20.0, max_batch: int = 400):  # fmt: skip
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s}")
        self.root, self.chunk_size, self.workers = str(root), chunk_size, workers
        self.poll_s, self.max_batch = poll_s, max_batch
        self.loaded = start  # episodes [0, loaded) are decoded (or were loaded at start)
        self.taken = start  # ... of which handed to the trainer by take()
        self.instructions = list(instructions)
        self.errors, self.last_error = 0, ""
        self.decode_s = 0.0  # wall time of the polls' decodes, child start to arrays back
        # ... of which: decoding in the child, writing the spool there, reading it back here
        self.split_s = {"decode_s": 0.0, "spool_write_s": 0.0, "spool_read_s": 0.0}
        self._out: queue.Queue[tuple[int, EpisodeArrays]] = queue.Queue()
        self._stop = threading.Event()
        self._child: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, name="episode-feed", daemon=True)
        self._thread.start()

    def poll_once(self) -> int:
        """Load what is committed beyond ``loaded`` (at most ``max_batch`` episodes); returns how
        many episodes it queued."""
        reader = LeRobotDatasetReader(self.root)
        end = min(reader.num_episodes, self.loaded + self.max_batch)
        if end <= self.loaded:
            return 0
        instructions = list(self.instructions)
        known = set(instructions)
        for e in range(self.loaded, end):
            task = reader.episode_task(e)
            if task not in known:
                instructions.append(task)
                known.add(task)
        t0 = time.time()
        arrays = self._decode_in_child(self.loaded, end, instructions)
        self.decode_s += time.time() - t0
        self.instructions = instructions
        count, self.loaded = end - self.loaded, end
        self._out.put((count, arrays))
        return count

    def _decode_in_child(self, start: int, end: int, instructions: list[str]) -> EpisodeArrays:
        with tempfile.TemporaryDirectory(prefix="vla-feed-") as spool:
            Path(spool, "instructions.json").write_text(json.dumps(instructions))
            cmd = [sys.executable, "-m", "vla.data.episode_arrays", self.root, str(self.chunk_size),
                   str(start), str(end), str(self.workers), spool]  # fmt: skip
            with open(Path(spool, "stderr.txt"), "wb") as err:
                self._child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
                if self._stop.is_set():  # close() came between its check and this start
                    self._child.kill()
                rc = self._child.wait()
                self._child = None
            if rc != 0:
                tail = Path(spool, "stderr.txt").read_text(errors="replace").strip().splitlines()
                raise OSError(f"episode decoder exited with {rc}: {tail[-1] if tail else ''}")
            t0 = time.time()
            arrays = read_spool(spool)
            self.split_s["spool_read_s"] += time.time() - t0
            timing = Path(spool, "timing.json")
            if timing.is_file():
                for k, v in json.loads(timing.read_text()).items():
                    self.split_s[k] = self.split_s.get(k, 0.0) + v
            return arrays

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                while self.poll_once() == self.max_batch and not self._stop.is_set():
                    pass  # a backlog: keep loading before sleeping again
            except (OSError, ValueError, KeyError, IndexError) as e:  # DatasetFormatError too
                if self._stop.is_set():
                    return
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"

    def report(self, samples: int) -> str:
        """One line on what the trainer took in and where the feed's time went; episodes decoded
        after the trainer's last ``take()`` are named apart (they were not trained on)."""
        split = ", ".join(f"{k.removesuffix('_s')} {v:.0f} s" for k, v in self.split_s.items())
        retried = f": {self.last_error}" if self.errors else ""
        late = self.loaded - self.taken
        late_text = f"; {late} more decoded too late to train on" if late else ""
        return (f"grew to {self.taken} episodes ({samples} samples{late_text}; decoding took "
                f"{self.decode_s:.0f} s in the background ({split}), {self.errors} retried "
                f"reads{retried})")  # fmt: skip

    def take(self) -> list[EpisodeArrays]:
        """Everything decoded since the last call (possibly nothing); never blocks."""
        got = []
        while True:
            try:
                count, arrays = self._out.get_nowait()
            except queue.Empty:
                return got
            self.taken += count
            got.append(arrays)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop polling; a decode in flight is killed, not waited for."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()
        self._thread.join(timeout_s)


def start_stats(reader: LeRobotDatasetReader) -> dict:
    """The statistics to train with: ``meta/stats.json`` where it is complete (a finished
    dataset), else those of the episodes committed so far (a generator still writing)."""
    stats = reader.stats
    if {OBS_STATE, ACTION} <= set(stats):
        return stats
    return compute_dataset_stats(reader.root)


def extend_text(text_src, text_tf, instructions: list[str], device, aug: float = 0.0):
    """The instruction transform over a longer table (new tasks at its end). MiniLM states of
    the new instructions come from the text cache (or the encoder, where installed); a word
    vocabulary stays as trained from the first episodes (new words map to UNK). ``aug``: the
    run's ``instruction_aug`` (the new instructions' rewrites are needed too)."""
    if hasattr(text_src, "ensure"):  # MissingInstructionError names the fix
        text_src.ensure(with_variants(instructions, aug))
    return text_tf.with_table(instructions, device)


def check_grow_config(cfg, world: int) -> None:
    """Growing needs the in-memory path, a tokenizer fixed at start and one process."""
    if cfg.data_mode != "memory":
        raise ValueError("grow_s > 0 trains on episodes as they arrive: use data_mode=memory")
    if cfg.tokenizer != "binning":
        raise ValueError("grow_s > 0: the FAST tokenizer is fitted on every chunk at start; "
                         "use tokenizer=binning, or train after generation ends")  # fmt: skip
    if world > 1:
        raise ValueError("grow_s > 0 runs in one process; launch without torchrun")
    if cfg.episodes is not None:
        raise ValueError("grow_s > 0 trains on every committed episode: drop `episodes`")
    if not Path(cfg.dataset).parent.exists():
        raise FileNotFoundError(f"{cfg.dataset}: its parent folder does not exist")

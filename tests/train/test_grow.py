"""Training while the dataset grows (``--grow_s``): the feed, the trainer loop, the checks."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import torch
from vla_synthetic import TASKS, frame, overrides

from vla.constants import TASK
from vla.data import DatasetWriter, LeRobotDatasetReader, default_features
from vla.data.episode_arrays import load_episode_arrays
from vla.policy import Policy
from vla.train import load_config, train
from vla.train.growing import EpisodeFeed, wait_for_episodes

PRESET = "configs/train/tiny_cpu.yaml"
NEW_TASK = "stack the red cube on the blue cube"


def open_writer(root, episodes: int = 0):
    """A writer that commits every episode, like `vla data generate` does in batches, with
    ``episodes`` episodes already saved."""
    w = DatasetWriter(root, fps=10, features=default_features((32, 32), fps=10))
    for e in range(episodes):
        save(w, e)
    return w


def save(writer, e, length=16, task=None):
    for t in range(length):
        f = frame(e, t, length)
        writer.add_frame(f if task is None else {**f, TASK: task})
    writer.save_episode()


def test_feed_delivers_committed_episodes_and_extends_the_instruction_table(tmp_path):
    root = tmp_path / "grow"
    w = open_writer(root, episodes=2)
    feed = EpisodeFeed(str(root), 4, start=2, instructions=sorted(TASKS), poll_s=3600)
    try:
        assert feed.poll_once() == 0 and feed.take() == []  # nothing new yet
        save(w, 2, task=NEW_TASK)
        save(w, 3)
        assert feed.poll_once() == 2
        (got,) = feed.take()
    finally:
        feed.close(timeout_s=0.1)
        w.finalize()
    assert got.instructions == [*sorted(TASKS), NEW_TASK]  # old indices keep their meaning
    want = load_episode_arrays(str(root), 4, [2, 3], workers=1, instructions=got.instructions)
    for key, frames in want.frames.items():
        np.testing.assert_array_equal(got.frames[key], frames)
    np.testing.assert_array_equal(got.chunks, want.chunks)
    assert got.task_index[0] == 2 and got.task_index[-1] == sorted(TASKS).index(TASKS[1])
    assert feed.loaded == 4 and feed.taken == 4 and feed.errors == 0
    split = feed.split_s  # the child's decode and spool write, the parent's spool read
    assert set(split) == {"decode_s", "spool_write_s", "spool_read_s"}
    assert all(v > 0 for v in split.values()) and sum(split.values()) <= feed.decode_s


def test_report_counts_only_what_the_trainer_took(tmp_path):
    # a batch decoded after the trainer's last take() was not trained on: the GPU log once said
    # "grew to 5900 episodes" for a run that had trained on fewer
    root = tmp_path / "grow"
    w = open_writer(root, episodes=3)
    feed = EpisodeFeed(str(root), 4, start=1, instructions=sorted(TASKS), poll_s=3600)
    try:
        assert feed.poll_once() == 2 and len(feed.take()) == 1
        save(w, 3)
        assert feed.poll_once() == 1  # decoded, never taken
    finally:
        feed.close(timeout_s=0.1)
        w.finalize()
    assert (feed.loaded, feed.taken) == (4, 3)
    line = feed.report(samples=30)
    assert line.startswith("grew to 3 episodes (30 samples; 1 more decoded too late to train on;")


def test_close_kills_a_decode_in_flight(tmp_path, monkeypatch):
    # on a GPU host the interpreter's exit once waited minutes for a backlog decode
    import vla.train.growing as growing

    root = tmp_path / "grow"
    w = open_writer(root, episodes=2)
    w.finalize()
    slow = tmp_path / "slow_python"
    slow.write_text("#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    monkeypatch.setattr(growing.sys, "executable", str(slow))
    feed = EpisodeFeed(str(root), 4, start=1, instructions=sorted(TASKS), poll_s=3600)
    errors = []
    poller = threading.Thread(target=lambda: errors.append(pytest.raises(OSError, feed.poll_once)))
    poller.start()
    t0 = time.time()
    while feed._child is None and time.time() - t0 < 10:
        time.sleep(0.01)
    child = feed._child
    assert child is not None, "the decoder child never started"
    feed.close(timeout_s=1)
    poller.join(5)
    assert not poller.is_alive() and child.returncode == -9
    assert "exited with -9" in str(errors[0].value) and feed.loaded == 1


def test_training_takes_in_episodes_committed_while_it_runs(tmp_path):
    root, out = tmp_path / "grow", tmp_path / "run"
    w = open_writer(root, episodes=2)

    def generator():  # starts once training logged its first steps, like a slower generator
        log = out / "train_log.jsonl"
        t0 = time.time()
        while not log.exists() and time.time() - t0 < 120:
            time.sleep(0.05)
        save(w, 2, task=NEW_TASK)
        save(w, 3)
        save(w, 4)
        w.finalize()  # the final merge replaces files under the reader: retried, not fatal

    thread = threading.Thread(target=generator)
    thread.start()
    cfg = load_config(PRESET, overrides(root, out, "--steps=100000", "--max_minutes=0.25",
                                        "--batch_size=4", "--log_every=2", "--grow_s=0.2",
                                        "--grow_min_episodes=2"))  # fmt: skip
    summary = train(cfg)
    thread.join()
    assert summary["episodes"] == 5 == LeRobotDatasetReader(root).num_episodes
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["samples"] == 2 * 16 and log[-1]["samples"] == 5 * 16
    policy = Policy.from_pretrained(summary["final_checkpoint"])
    assert policy.act({**frame(0, 0, 16), TASK: NEW_TASK}).shape == (8, 7)


def test_a_finished_dataset_starts_on_grow_min_episodes_and_feeds_the_rest(tmp_path):
    # a resumed run once found 14,736 committed episodes and spent ten minutes loading them
    # before the first step: the start-up load is capped, the feed brings
    # the rest in the background
    root, out = tmp_path / "grow", tmp_path / "run"
    w = open_writer(root, episodes=5)
    w.finalize()
    cfg = load_config(PRESET, overrides(root, out, "--steps=100000", "--max_minutes=0.25",
                                        "--batch_size=4", "--log_every=2", "--grow_s=0.2",
                                        "--grow_min_episodes=2"))  # fmt: skip
    summary = train(cfg)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["samples"] == 2 * 16 and log[-1]["samples"] == 5 * 16
    assert summary["episodes"] == 5


def test_grow_waits_for_a_dataset_and_names_the_fix(tmp_path):
    with pytest.raises(TimeoutError, match="vla data generate"):
        wait_for_episodes(str(tmp_path / "none"), 1, timeout_s=0.05, poll_s=0.01)
    root = tmp_path / "ds"
    w = open_writer(root)
    save(w, 0)
    assert wait_for_episodes(str(root), 1, timeout_s=1).num_episodes == 1
    with pytest.raises(TimeoutError, match="1 committed episodes"):
        wait_for_episodes(str(root), 2, timeout_s=0.05, poll_s=0.01)
    w.finalize()
    for bad, match in (("--data_mode=loader", "data_mode=memory"),
                       ("--tokenizer=fast", "tokenizer=binning")):  # fmt: skip
        extra = ("--model.decode_mode=autoregressive",) if "fast" in bad else ()
        cfg = load_config(PRESET, overrides(root, tmp_path / "r", "--grow_s=1", bad, *extra))
        with pytest.raises(ValueError, match=match):
            train(cfg)


def test_segments_gather_what_one_array_gathers(dataset):
    from vla.constants import ACTION
    from vla.tokenizers import BinningActionTokenizer, BinningConfig
    from vla.train.data import MemoryBatches

    tok = BinningActionTokenizer(LeRobotDatasetReader(dataset).stats[ACTION], BinningConfig())
    table = sorted(TASKS)

    def load(eps):
        return load_episode_arrays(str(dataset), 4, eps, workers=1, instructions=table)

    whole = MemoryBatches(load([0, 1, 2, 3]), tok, 40, 1, "cpu")
    grown = MemoryBatches(load([0, 1]), tok, 40, 1, "cpu")
    grown.extend(load([2]))
    grown.extend(load([3]))
    assert len(grown) == len(whole) == 64 and grown.bounds == [0, 32, 48, 64]
    idx = torch.tensor([63, 0, 40, 31, 32, 5, 47, 48, 40])  # unsorted, repeated, on the bounds
    for key, want in whole.batch(idx, torch.device("cpu")).items():
        torch.testing.assert_close(grown.batch(idx, torch.device("cpu"))[key], want)
    with pytest.raises(ValueError, match="does not extend"):
        grown.extend(load_episode_arrays(str(dataset), 4, [0], 1, instructions=table[::-1]))

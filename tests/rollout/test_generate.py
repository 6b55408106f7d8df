"""Demonstration generation: ordering, determinism across worker counts, resume, filtering."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_sim import FAMILIES, fake_rollout

from vla.constants import ACTION, OBS_STATE
from vla.data import LeRobotDatasetReader
from vla.rollout.generate import RECORD, GenerateConfig, episode_seed, generate


def _cfg(out, **kw):
    return GenerateConfig(out=out, episodes=kw.pop("episodes", 10), image_size=(16, 16),
                          progress=False, **kw)  # fmt: skip


def _content(root):
    r = LeRobotDatasetReader(root)
    return [
        (
            r.episode_task(e),
            r.episode_arrays(e)[ACTION].tolist(),
            r.episode_arrays(e)[OBS_STATE].tolist(),
        )  # fmt: skip
        for e in range(r.num_episodes)
    ]


def test_keeps_successes_in_attempt_order(tmp_path):
    summary = generate(_cfg(tmp_path / "a", workers=0), fake_rollout, FAMILIES)
    expected = [i for i in range(10) if fake_rollout(_job(i)).success]
    record = json.loads((tmp_path / "a" / RECORD).read_text())
    assert record["successes"] == expected
    assert sorted(record["successes"] + record["failures"]) == list(range(10))
    assert summary["succeeded"] == len(expected) and summary["attempted"] == 10
    assert summary["success_rate"] == pytest.approx(len(expected) / 10)
    r = LeRobotDatasetReader(tmp_path / "a")
    assert [r.episode_task(e) for e in range(r.num_episodes)] == [
        f"{FAMILIES[i % 3]} #{i}" for i in expected
    ]  # round-robin families, attempt order


def _job(i, seed=0):
    from vla.rollout.generate import EpisodeJob

    return EpisodeJob(i, episode_seed(seed, i), FAMILIES[i % 3], "pick_place", "mujoco",
                      "train", (16, 16))  # fmt: skip


def test_same_dataset_for_any_worker_count(tmp_path):
    generate(_cfg(tmp_path / "w0", workers=0), fake_rollout, FAMILIES)
    generate(_cfg(tmp_path / "w2", workers=2), fake_rollout, FAMILIES)
    assert _content(tmp_path / "w0") == _content(tmp_path / "w2")


def _files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".writer.lock"
    }


def test_generation_is_byte_identical_for_any_worker_count(tmp_path):
    """Workers encode and summarise (prepared episodes), the parent writes: the files are the
    same bytes whatever the worker count."""
    generate(_cfg(tmp_path / "w0", workers=0, episodes=8), fake_rollout, FAMILIES)
    generate(_cfg(tmp_path / "w2", workers=2, episodes=8), fake_rollout, FAMILIES)
    files = _files(tmp_path / "w0")
    assert any(k.endswith(".mp4") for k in files) and files == _files(tmp_path / "w2")


def test_resume_skips_attempted_and_matches_one_run(tmp_path):
    generate(_cfg(tmp_path / "once", episodes=9, workers=0), fake_rollout, FAMILIES)
    generate(_cfg(tmp_path / "twice", episodes=4, workers=0), fake_rollout, FAMILIES)
    summary = generate(_cfg(tmp_path / "twice", episodes=9, workers=0), fake_rollout, FAMILIES)
    assert summary["new_attempts"] == 5
    assert _content(tmp_path / "once") == _content(tmp_path / "twice")
    with pytest.raises(ValueError, match="seed=0.*not 5"):
        generate(_cfg(tmp_path / "twice", seed=5), fake_rollout, FAMILIES)
    (tmp_path / "twice" / RECORD).unlink()
    with pytest.raises(FileExistsError, match="not made by `vla data generate`"):
        generate(_cfg(tmp_path / "twice"), fake_rollout, FAMILIES)


def test_pending_record_is_reconciled(tmp_path):
    out = tmp_path / "ds"
    generate(_cfg(out, episodes=6, workers=0), fake_rollout, FAMILIES)
    record = json.loads((out / RECORD).read_text())
    last = record["successes"].pop()  # as if killed after the save, before the record
    record["pending"], record["next_index"] = last, last
    (out / RECORD).write_text(json.dumps(record))
    summary = generate(_cfg(out, episodes=6, workers=0), fake_rollout, FAMILIES)
    assert summary["new_attempts"] == 6 - (last + 1)
    assert LeRobotDatasetReader(out).num_episodes == len(record["successes"]) + 1


def test_family_filter_and_seeds(tmp_path):
    generate(_cfg(tmp_path / "f", families=("stack",), workers=0), fake_rollout, FAMILIES)
    r = LeRobotDatasetReader(tmp_path / "f")
    assert all(r.episode_task(e).startswith("stack") for e in range(r.num_episodes))
    assert episode_seed(0, 1) != episode_seed(0, 2) != episode_seed(1, 1)
    assert np.isclose(r.fps, 10)


def test_time_budget_stops_early_and_resume_completes(tmp_path):
    out = tmp_path / "budget"
    # a zero budget stops after the first attempt (checked after each result), cleanly
    summary = generate(_cfg(out, episodes=9, workers=2, max_minutes=0.0), fake_rollout, FAMILIES)
    assert 1 <= summary["new_attempts"] < 9
    r = LeRobotDatasetReader(out)
    assert r.num_episodes == summary["succeeded"]  # committed and readable as it stands
    rest = generate(_cfg(out, episodes=9, workers=0), fake_rollout, FAMILIES)
    assert rest["new_attempts"] == 9 - summary["new_attempts"]
    generate(_cfg(tmp_path / "once", episodes=9, workers=0), fake_rollout, FAMILIES)
    assert _content(out) == _content(tmp_path / "once")


def test_parent_work_is_linear_in_episodes(tmp_path, monkeypatch):
    """Each commit converts only the new rows of the episode table, files are merged once (at
    finalize), and the dataset still reads back whole: the parent's work grows linearly."""
    import vla.data.consolidate as cons
    import vla.data.layout as layout
    import vla.rollout.generate as gen

    converted, merges = [], []
    real_table, real_cons = layout.episodes_table, cons.consolidate
    monkeypatch.setattr(layout, "episodes_table", lambda rows: converted.append(len(rows))
                        or real_table(rows))  # fmt: skip
    monkeypatch.setattr(cons, "consolidate", lambda *a, **k: merges.append(1) or real_cons(*a, **k))
    monkeypatch.setattr(gen, "COMMIT_EVERY", 3)
    summary = generate(_cfg(tmp_path / "lin", episodes=30, workers=0), fake_rollout, FAMILIES)
    kept = summary["succeeded"]
    assert kept >= 10
    assert len(merges) == 1  # finalize only
    # every saved row converted once by the commits (the finalize merge rebuilds its table once)
    assert sum(converted) <= 2 * kept
    r = LeRobotDatasetReader(tmp_path / "lin")  # every kept attempt, in order, after one merge
    record = json.loads((tmp_path / "lin" / RECORD).read_text())
    assert [r.episode_task(e) for e in range(r.num_episodes)] == [
        f"{FAMILIES[i % 3]} #{i}" for i in record["successes"]
    ]
    assert r.num_episodes == kept and len(r.episode_arrays(kept - 1)[ACTION]) > 0

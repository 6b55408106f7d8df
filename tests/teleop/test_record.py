"""Recording with a scripted device in both engines, replay, SIGKILL + resume through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vla.constants import ACTION
from vla.data import LeRobotDatasetReader
from vla.teleop import session_meta
from vla.teleop.devices import Event, ScriptedDevice
from vla.teleop.recorder import RecordConfig, record, scene_seed
from vla.teleop.replay import replay_episode

REPO = Path(__file__).resolve().parents[2]
IDLE = [0.0, 0, 0, 0, 0, 0, -1.0]


def expert_actions(family: str, backend: str, seed: int) -> list[np.ndarray]:
    import sim
    from sim.experts import make_expert
    from vla.rollout.episode import run_episode

    env = sim.make(family, backend)
    try:
        result = run_episode(env, make_expert(env), seed=seed, record=True)
    finally:
        env.close()
    assert result.success, f"expert failed on {family}/{backend} seed {seed}"
    return result.actions


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_record_expert_session_and_replay(tmp_path, backend):
    # attempt 0 is started and discarded (same scene again), then reset (attempt 1): the kept
    # episode is the expert's demonstration of scene_seed(0, 0, 1)
    actions = expert_actions("pick", backend, scene_seed(0, 0, 1))
    device = ScriptedDevice([Event.START, IDLE, IDLE, Event.DISCARD, Event.RESET,
                             Event.START, *actions, Event.FINISH])  # fmt: skip
    out = tmp_path / "ds"
    cfg = RecordConfig(dataset=out, task="pick", backend=backend, realtime=False, window=False,
                       preview=tmp_path / "preview.png")  # fmt: skip
    result = record(cfg, device)
    assert result.saved == [0] and result.discarded == 1 and not result.quit
    assert (tmp_path / "preview.png").stat().st_size > 0

    reader = LeRobotDatasetReader(out)
    assert reader.num_episodes == 1 and reader.episode_length(0) == len(actions)
    np.testing.assert_array_equal(reader.episode_arrays(0)[ACTION], np.stack(actions))
    entry = session_meta.episode_entry(out, 0)
    assert entry["seed"] == scene_seed(0, 0, 1) and entry["backend"] == backend
    assert entry["success"] is True

    replayed = replay_episode(out, 0)
    assert replayed.success and replayed.first_success_step == len(actions)


def test_replay_cli_writes_video_and_rejects_unknown_episode(tmp_path, capsys):
    from vla.cli.main import main

    actions = expert_actions("pick", "mujoco", scene_seed(3, 0, 0))
    out = tmp_path / "ds"
    cfg = RecordConfig(dataset=out, task="pick", seed=3, realtime=False, window=False)
    assert record(cfg, ScriptedDevice([Event.START, *actions, Event.FINISH])).saved == [0]
    video = tmp_path / "replay.mp4"
    assert main(["replay", "--dataset", str(out), "--episode", "0", "--video", str(video)]) == 0
    assert video.stat().st_size > 0 and "success=True" in capsys.readouterr().out
    assert main(["replay", "--dataset", str(out), "--episode", "5"]) == 2
    # an existing dataset without --resume is refused with a hint
    assert main(["record", "--dataset", str(out), "--teleop-device", "scripted", "--script",
                 str(_script(tmp_path, ["start", IDLE, "finish"])), "--fast"]) == 2  # fmt: skip
    assert "--resume" in capsys.readouterr().err
    # a bad family is refused before any dataset folder exists
    fresh = tmp_path / "fresh"
    assert main(["record", "--dataset", str(fresh), "--task", "juggle", "--teleop-device", "scripted",
                 "--script", str(tmp_path / "script.json"), "--fast"]) == 2  # fmt: skip
    assert "juggle" in capsys.readouterr().err and not fresh.exists()


def _script(tmp_path: Path, items: list, name: str = "script.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(items))
    return path


def _record_cmd(out: Path, script: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "vla.cli.main", "record", "--task", "pick", "--backend",
            "mujoco", "--teleop-device", "scripted", "--script", str(script), "--dataset", str(out),
            "--no-window", *extra]  # fmt: skip


def test_sigkill_mid_episode_then_resume(tmp_path):
    out = tmp_path / "ds"
    # episode 0 (3 frames) is kept; episode 1 runs at 10 Hz for 30 s and is killed midway
    first = _script(tmp_path, ["start", IDLE, IDLE, IDLE, "finish", "start", *[IDLE] * 300])
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_record_cmd(out, first, "--episodes", "2"), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = []
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            lines.append(line)
            if "recording episode 1" in line or time.monotonic() > deadline:
                break
        assert any("saved episode 0" in ln for ln in lines), "".join(lines)
        time.sleep(0.5)  # some frames of episode 1 are buffered
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert LeRobotDatasetReader(out).num_episodes == 1  # loads; only the kept episode

    second = _script(tmp_path, ["start", IDLE, IDLE, "finish"], "second.json")
    done = subprocess.run(_record_cmd(out, second, "--resume", "--fast"), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    reader = LeRobotDatasetReader(out)
    assert reader.num_episodes == 2
    assert [reader.episode_length(i) for i in range(2)] == [3, 2]
    for i in range(2):
        assert set(reader.episode_arrays(i)["episode_index"].tolist()) == {i}
    assert reader.episode_arrays(1)["index"].tolist() == [3, 4]  # global frame index contiguous
    assert sorted(session_meta.load(out)["episodes"]) == ["0", "1"]
    assert session_meta.episode_entry(out, 1)["seed"] == scene_seed(0, 1, 0)


class SlowDevice(ScriptedDevice):
    """Takes 0.25 s (2.5 periods) to answer on the polls listed in ``slow``."""

    def __init__(self, items, slow: set[int]):
        super().__init__(items)
        self.slow, self.polls = slow, 0

    def poll(self):
        self.polls += 1
        if self.polls in self.slow:
            time.sleep(0.25)
        return super().poll()


def test_late_frames_are_counted_not_dropped(tmp_path):
    out = tmp_path / "ds"
    device = SlowDevice(["start", *[IDLE] * 6, "finish"], slow={3, 5})
    result = record(RecordConfig(dataset=out, task="pick", window=False), device)
    assert result.late_frames == 2
    assert LeRobotDatasetReader(out).episode_length(0) == 6  # every tick is still recorded
    assert session_meta.episode_entry(out, 0)["late_frames"] == 2


def test_keyboard_session_through_a_pty(tmp_path):
    """`vla record --teleop-device keyboard` in a terminal with no display: Enter, hold w, y."""
    out = tmp_path / "ds"
    master, slave = os.openpty()
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    cmd = [sys.executable, "-m", "vla.cli.main", "record", "--task", "pick", "--teleop-device",
           "keyboard", "--dataset", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        for line in proc.stdout:
            if "press start" in line:
                break
        os.write(master, b"\r")
        for _ in range(8):  # auto-repeat of a held key at ~20 Hz
            os.write(master, b"w")
            time.sleep(0.05)
        time.sleep(0.3)
        os.write(master, b"y")
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        os.close(master)
        os.close(slave)
    actions = LeRobotDatasetReader(out).episode_arrays(0)[ACTION]
    moving = actions[:, 0] > 0
    assert moving.sum() >= 3 and np.all(actions[moving, 0] == pytest.approx(0.02))
    assert not moving[-1]  # released once the repeats stopped


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
@pytest.mark.parametrize("family", ["place", "stack", "push"])  # pick: tested above
def test_expert_recordings_replay_in_every_family(tmp_path, family, backend):
    actions = expert_actions(family, backend, scene_seed(1, 0, 0))
    out = tmp_path / "ds"
    cfg = RecordConfig(dataset=out, task=family, backend=backend, seed=1, realtime=False,
                       window=False)  # fmt: skip
    assert record(cfg, ScriptedDevice([Event.START, *actions, Event.FINISH])).saved == [0]
    assert replay_episode(out, 0).success

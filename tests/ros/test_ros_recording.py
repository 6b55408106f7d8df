"""The recorder core writing a real LeRobot v3 dataset, and the optional MCAP log."""

from __future__ import annotations

import numpy as np
import pytest

from vla.constants import ACTION, OBS_STATE
from vla.data import DatasetWriter, LeRobotDatasetReader, default_features
from vla.robot.kinematics import PANDA_HOME_Q, pose_delta
from vla.ros_core import messages as m
from vla.ros_core.node_configs import RecorderConfig
from vla.ros_core.recording import EpisodeRecorder

MS = 1_000_000
SIZE = (32, 32)


def make(tmp_path, **cfg):
    config = RecorderConfig(
        dataset_root=str(tmp_path / "ds"),
        image_height=SIZE[0],
        image_width=SIZE[1],
        **cfg,
    )

    def factory():
        return DatasetWriter(
            config.dataset_root,
            fps=config.fps,
            features=default_features(SIZE, config.fps),
            robot_type="panda",
        )

    return EpisodeRecorder(config, factory)


def feed(rec, now, q, value=50):
    img = np.full((48, 64, 3), value, np.uint8)
    rec.set_image("scene", img, now)
    rec.set_image("wrist", img, now)
    rec.set_joint_state(q, 0.08, now)


def test_two_episodes_saved_one_discarded(tmp_path):
    rec = make(tmp_path)
    assert rec.start() == (False, "no instruction yet: publish one on the instruction topic first")
    rec.set_instruction("put the red cube in the bowl")
    for episode, keep in enumerate([True, False, True]):
        assert rec.start()[0]
        q = PANDA_HOME_Q.copy()
        for i in range(5):
            now = (episode * 10 + i) * 100 * MS
            feed(rec, now, q, value=10 * i)
            target = q + 0.01
            rec.set_joint_command(target, now)
            rec.set_gripper_command(0.0 if i >= 3 else 0.08)
            assert rec.sample(now + MS)
            q = target
        assert (rec.stop() if keep else rec.discard())[0]
    rec.finalize()
    assert rec.stats.episodes_saved == 2 and rec.stats.episodes_discarded == 1

    ds = LeRobotDatasetReader(tmp_path / "ds")
    assert ds.num_episodes == 2 and ds.num_frames == 10
    assert ds.episode_task(1) == "put the red cube in the bowl"
    arrays = ds.episode_arrays(1)  # the third recorded episode (the second was discarded)
    state, action = arrays[OBS_STATE], arrays[ACTION]
    assert state.shape == (5, 15) and action.shape == (5, 7)
    np.testing.assert_allclose(state[3, 8:], PANDA_HOME_Q + 0.03, atol=1e-5)
    # the action is the TCP change commanded at that frame, gripper +1 once the command closes
    expected = pose_delta(PANDA_HOME_Q + 0.03, PANDA_HOME_Q + 0.04)
    np.testing.assert_allclose(action[3, :6], expected, atol=1e-5)
    assert action[3, 6] == 1.0 and action[0, 6] == -1.0
    frames = ds.episode_frames(1, "observation.images.scene")
    assert frames.shape == (5, 32, 32, 3)
    assert abs(int(frames[4].mean()) - 40) <= 3  # the image fed at that frame (value 40)


def test_stale_streams_skip_frames_and_empty_episode_is_not_saved(tmp_path):
    rec = make(tmp_path, max_sample_age_s=0.05)
    rec.set_instruction("stack")
    rec.start()
    feed(rec, 0, PANDA_HOME_Q)
    assert not rec.sample(60 * MS)  # 60 ms old > 50 ms
    assert rec.stats.skipped_stale == 1
    ok, msg = rec.stop()
    assert not ok and "nothing saved" in msg


def test_twist_commands_are_integrated_over_the_frame(tmp_path):
    rec = make(tmp_path, command_interface="twist", fps=10.0)
    rec.set_instruction("wipe")
    rec.start()
    feed(rec, 0, PANDA_HOME_Q)
    rec.set_twist_command([0.1, 0.0, -0.2, 0.0, 0.0, 0.5], 0)
    rec.sample(MS)
    action = rec.last_action
    np.testing.assert_allclose(action[:6], [0.01, 0.0, -0.02, 0.0, 0.0, 0.05], atol=1e-7)
    rec.set_twist_command([10.0, 0, 0, 0, 0, 0], 100 * MS)  # 1 m per frame: clipped, counted
    feed(rec, 100 * MS, PANDA_HOME_Q)
    rec.sample(101 * MS)
    assert rec.last_action[0] == pytest.approx(0.05)
    assert rec.stats.clipped_actions == 1


def test_shutdown_discards_an_unfinished_episode(tmp_path):
    rec = make(tmp_path)
    rec.set_instruction("stack")
    rec.start()
    feed(rec, 0, PANDA_HOME_Q)
    assert rec.sample(MS)
    assert rec.stop()[0]
    rec.start()
    feed(rec, 100 * MS, PANDA_HOME_Q)
    assert rec.sample(101 * MS)
    assert rec.finalize().startswith("discarded the unfinished episode")
    ds = LeRobotDatasetReader(tmp_path / "ds")
    assert ds.num_episodes == 1 and ds.num_frames == 1


def test_control_words(tmp_path):
    rec = make(tmp_path)
    rec.set_instruction("x")
    assert rec.control("START")[0] and rec.recording
    assert rec.control("start") == (False, "already recording")
    assert not rec.control("pause")[0]
    assert rec.control("discard")[0] and not rec.recording
    assert rec.status()["episodes_discarded"] == 1


def test_mcap_log_roundtrip(tmp_path, types, typestore):
    from rosbags.rosbag2 import Reader

    from vla.ros_core.mcap_log import McapLog

    log = McapLog(tmp_path / "bag")
    js = m.joint_state_msg(types, 5, ["a"], [1.5])
    log.write(
        "/joint_states",
        "sensor_msgs/msg/JointState",
        5,
        typestore.serialize_cdr(js, js.__msgtype__),
    )
    s = m.make_header(types, 7)
    log.write("/h", "std_msgs/msg/Header", 7, typestore.serialize_cdr(s, s.__msgtype__))
    log.close()
    assert list((tmp_path / "bag").glob("*.mcap"))
    with Reader(tmp_path / "bag") as reader:
        got = [
            (c.topic, t, typestore.deserialize_cdr(raw, c.msgtype))
            for c, t, raw in reader.messages()
        ]
    assert [(topic, t) for topic, t, _ in got] == [("/joint_states", 5), ("/h", 7)]
    assert got[0][2].position[0] == 1.5
    with pytest.raises(FileExistsError, match="mcap_path"):
        McapLog(tmp_path / "bag")


def test_non_finite_inputs_are_refused_and_the_last_good_values_kept(tmp_path):
    rec = make(tmp_path)
    rec.set_instruction("stack")
    rec.start()
    feed(rec, 0, PANDA_HOME_Q)
    bad_q = PANDA_HOME_Q.copy()
    bad_q[2] = np.nan
    with pytest.raises(ValueError, match="joint state is not finite"):
        rec.set_joint_state(bad_q, 0.08, MS)
    with pytest.raises(ValueError, match="joint command is not finite"):
        rec.set_joint_command(bad_q, MS)
    with pytest.raises(ValueError, match="expected 7 values, got 9"):
        rec.set_joint_command(np.zeros(9), MS)
    with pytest.raises(ValueError, match="twist command is not finite"):
        rec.set_twist_command([np.inf, 0, 0, 0, 0, 0], MS)
    with pytest.raises(ValueError, match="gripper command is not finite"):
        rec.set_gripper_command(float("nan"))
    assert rec.sample(2 * MS)  # the frame is built from the last good values
    assert np.all(np.isfinite(rec.last_action)) and rec.stats.frames == 1
    assert rec.stale_streams(2 * MS) == ["command"]  # no (good) command yet

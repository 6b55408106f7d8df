"""The policy node's control tick: observation assembly, chunking, IK, safety (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robot_double import META  # the scripted policies' metadata, shared

from vla.constants import OBS_STATE, TASK
from vla.robot.kinematics import PANDA_HOME_Q, PANDA_JOINT_LIMITS, forward_kinematics
from vla.ros_core.node_configs import PolicyNodeConfig
from vla.ros_core.policy_loop import PolicyLoop, warmup_observation
from vla.ros_core.safety import SafetyConfig

MS = 1_000_000
PERIOD_NS = 100 * MS


class FakePolicy:
    """Returns queued chunks (or random ones) and records what it was asked."""

    def __init__(self, chunks=None, seed=0):
        self.chunks = list(chunks or [])
        self.rng = np.random.default_rng(seed)
        self.observations = []
        self.on_act = None

    def act(self, obs):
        self.observations.append(obs)
        if self.on_act:
            self.on_act()
        if self.chunks:
            return self.chunks.pop(0)
        return self.rng.uniform(-0.05, 0.05, (8, 7)).astype(np.float32)


def make_loop(policy, **safety):
    cfg = PolicyNodeConfig(safety=SafetyConfig(**safety))
    loop = PolicyLoop(cfg, policy.act, META)
    loop.set_instruction("put the red cube in the bowl")
    return loop


def feed(loop, now, q=PANDA_HOME_Q, heartbeat=True):
    img = np.full((48, 64, 3), 100, np.uint8)
    loop.set_image("scene", img, now)
    loop.set_image("wrist", img, now)
    loop.set_joint_state(q, 0.08, now)
    if heartbeat:
        loop.heartbeat(now)


def test_command_from_a_chunk_and_the_observation_it_saw():
    policy = FakePolicy([np.tile([0.01, 0, 0, 0, 0, 0, 1], (8, 1)).astype(np.float32)])
    loop = make_loop(policy)
    feed(loop, 0)
    out = loop.tick(10 * MS)
    assert out.kind == "command" and out.verdict.ok
    obs = policy.observations[0]
    assert obs["observation.images.scene"].shape == (32, 32, 3)  # resized to the policy's size
    assert obs[TASK] == "put the red cube in the bowl"
    state = obs[OBS_STATE]
    assert state.shape == (15,) and state.dtype == np.float32
    np.testing.assert_allclose(state[:3], forward_kinematics(PANDA_HOME_Q)[0], atol=1e-6)
    assert state[7] == pytest.approx(0.08)
    np.testing.assert_allclose(state[8:], PANDA_HOME_Q, atol=1e-6)
    # +x 1 cm: the target moves the TCP forward; gripper closes
    dpos = forward_kinematics(out.q)[0] - forward_kinematics(PANDA_HOME_Q)[0]
    assert dpos[0] == pytest.approx(0.01, abs=1e-3) and out.gripper_closed
    assert out.trajectory.shape == (4, 7)  # this target + 3 queued look-ahead targets
    np.testing.assert_allclose(out.trajectory[0], out.q)
    assert np.all(np.abs(np.diff(out.trajectory, axis=0)) <= 0.05 + 1e-12)
    assert out.twist[0] == pytest.approx(0.1, abs=0.01)  # 1 cm per 0.1 s


def test_receding_horizon_calls_the_policy_every_k_ticks():
    policy = FakePolicy()
    loop = make_loop(policy)
    for i in range(9):
        feed(loop, i * PERIOD_NS)
        assert loop.tick(i * PERIOD_NS + MS).kind == "command"
    assert len(policy.observations) == 3  # ticks 0, 4, 8


def test_heartbeat_loss_holds_once_flushes_and_replans():
    policy = FakePolicy()
    loop = make_loop(policy)
    feed(loop, 0)
    first = loop.tick(MS)
    assert first.kind == "command"
    q_meas = PANDA_HOME_Q + 0.01
    loop.set_joint_state(q_meas, 0.08, 550 * MS)
    for cam in ("scene", "wrist"):
        loop.set_image(cam, np.zeros((32, 32, 3), np.uint8), 550 * MS)
    out = loop.tick(600 * MS)  # last heartbeat at 0: lost
    assert out.kind == "hold" and "heartbeat" in out.verdict.reason
    # hold the last target sent (where the arm was told to be), never zeros
    np.testing.assert_array_equal(out.q, first.q)
    assert np.abs(out.q).sum() > 1.0
    assert out.flushed == 3
    assert loop.tick(700 * MS).kind == "none"  # one hold, then silence
    feed(loop, 800 * MS)
    assert loop.tick(800 * MS).kind == "command"
    assert len(policy.observations) == 2  # fresh chunk, the old one was not replayed


def test_estop_during_inference_drops_the_chunk():
    policy = FakePolicy()
    loop = make_loop(policy)
    policy.on_act = lambda: loop.e_stop("operator")
    feed(loop, 0)
    out = loop.tick(MS)
    assert out.kind == "hold" and out.verdict.reason == "operator"
    assert len(loop.executor) == 0
    feed(loop, PERIOD_NS)
    assert loop.tick(PERIOD_NS).kind == "none"
    policy.on_act = None
    assert loop.reset_estop(PERIOD_NS)[0]
    assert loop.tick(PERIOD_NS + MS).kind == "command"


def test_stale_image_blocks_commands():
    loop = make_loop(FakePolicy())
    feed(loop, 0)
    assert loop.tick(MS).kind == "command"
    loop.set_joint_state(PANDA_HOME_Q, 0.08, 250 * MS)
    loop.heartbeat(250 * MS)
    out = loop.tick(250 * MS)  # images 2.5 periods old
    assert out.kind == "hold" and "stale" in out.verdict.reason


def test_new_instruction_flushes_and_marks_a_new_episode():
    loop = make_loop(FakePolicy())
    feed(loop, 0)
    loop.tick(MS)
    loop.new_episode = False
    loop.set_instruction("stack the cubes")
    assert loop.new_episode and len(loop.executor) == 0 and loop.task == "stack the cubes"
    with pytest.raises(ValueError, match="empty"):
        loop.set_instruction("  ")
    loop.clear_instruction()
    feed(loop, PERIOD_NS)
    assert loop.tick(PERIOD_NS).verdict.reason.startswith("not active")


def test_metadata_mismatches_name_the_fix():
    with pytest.raises(ValueError, match="control_rate: 15.0"):
        PolicyLoop(PolicyNodeConfig(), FakePolicy().act, {**META, "control_hz": 15.0})
    with pytest.raises(ValueError, match="camera_names"):
        PolicyLoop(
            PolicyNodeConfig(camera_names=["scene"], camera_topics=["/a"]), FakePolicy().act, META
        )


def test_nan_from_the_policy_raises():
    loop = make_loop(FakePolicy([np.full((8, 7), np.nan, np.float32)]))
    feed(loop, 0)
    with pytest.raises(ValueError, match="non-finite"):
        loop.tick(MS)


def test_warmup_observation_and_status():
    obs = warmup_observation(META)
    assert obs["observation.images.wrist"].shape == (32, 32, 3) and obs[OBS_STATE].shape == (15,)
    loop = make_loop(FakePolicy())
    status = loop.status()
    assert status["task"] and status["state"] == "hold" and not status["dry_run"]


# ---- safety properties under random policies and random event orders -----------------------
LO = PANDA_JOINT_LIMITS[:, 0] + SafetyConfig().joint_limit_margin
HI = PANDA_JOINT_LIMITS[:, 1] - SafetyConfig().joint_limit_margin
EVENTS = st.lists(
    st.sampled_from(["tick", "tick", "tick", "beat", "estop", "reset", "wait"]),
    min_size=5,
    max_size=40,
)
CHUNKS = st.lists(
    st.lists(st.lists(st.floats(-10, 10), min_size=7, max_size=7), min_size=1, max_size=8),
    min_size=12,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=EVENTS, chunks=CHUNKS, start=st.lists(st.floats(-1, 1), min_size=7, max_size=7))
def test_no_unsafe_command_under_random_policies(events, chunks, start):
    policy = FakePolicy([np.array(c, np.float32) for c in chunks])
    loop = make_loop(policy)
    q = np.clip(PANDA_HOME_Q + 0.3 * np.array(start), LO, HI)
    now, last_beat, estopped = 0, None, False
    for ev in events:
        now += PERIOD_NS
        feed(loop, now, q, heartbeat=False)  # the robot reports where it is, fresh
        if ev == "beat":
            loop.heartbeat(now)
            last_beat = now
        elif ev == "estop":
            loop.e_stop("test")
            estopped = True
        elif ev == "reset":
            if loop.reset_estop(now)[0]:
                estopped = False
        elif ev == "wait":
            now += 4 * PERIOD_NS
        elif ev == "tick":
            if not policy.chunks:
                policy.chunks.append(np.zeros((4, 7), np.float32))
            out = loop.tick(now)
            if out.kind == "command":
                # never after heartbeat loss, never while e-stopped
                assert last_beat is not None and now - last_beat <= 500 * MS
                assert not estopped
                # never beyond the limits band or the per-step change
                assert np.all(out.q >= LO - 1e-9) and np.all(out.q <= HI + 1e-9)
                assert np.abs(out.q - q).max() <= 0.05 + 1e-9
                assert np.all(out.trajectory >= LO - 1e-9) and np.all(out.trajectory <= HI + 1e-9)
                assert np.all(np.abs(np.diff(out.trajectory, axis=0)) <= 0.05 + 1e-9)
                q = out.q  # the arm tracks the command
            elif out.kind == "hold":
                np.testing.assert_array_equal(out.q, q)  # hold in place, never zeros
                assert len(loop.executor) == 0


def test_early_duplicate_tick_consumes_nothing():
    loop = make_loop(FakePolicy())
    feed(loop, 0)
    assert loop.tick(MS).kind == "command"
    queued = len(loop.executor)
    assert loop.tick(20 * MS).kind == "none"  # a second timer call in the same period
    assert len(loop.executor) == queued
    feed(loop, PERIOD_NS)
    assert loop.tick(PERIOD_NS).kind == "command"
    feed(loop, 5 * PERIOD_NS)
    loop.tick(5 * PERIOD_NS)  # ticks due at 201, 301, 401 ms: one action, two skipped
    assert loop.status()["missed_periods"] == 2


# ---- defects found under attack (issue 35: D2, D4, D7), each failing on the code before ------
def test_future_stamped_inputs_are_stale_and_then_silence_holds():
    """D2: one image stamped an hour ahead, then silence: no tick may command motion."""
    loop = make_loop(FakePolicy())
    feed(loop, 0)
    assert loop.tick(MS).kind == "command"
    hour = 3600 * 1_000_000_000
    loop.set_image("scene", np.zeros((32, 32, 3), np.uint8), hour)
    kinds = []
    for i in range(1, 101):  # 10 s of ticks with the heartbeat and joints kept fresh
        now = i * PERIOD_NS
        loop.set_joint_state(PANDA_HOME_Q, 0.08, now)
        loop.heartbeat(now)
        out = loop.tick(now + MS)
        kinds.append(out.kind)
        if i == 1:
            assert "future" in out.verdict.reason and "scene" in out.verdict.reason
    assert "command" not in kinds and kinds[0] == "hold"


def test_small_clock_skew_is_tolerated():
    loop = make_loop(FakePolicy())
    feed(loop, 20 * MS)  # stamped 20 ms ahead of the tick (< max_clock_skew_s = 50 ms)
    assert loop.tick(0).kind == "command"


def test_clock_jump_back_holds_and_is_counted():
    loop = make_loop(FakePolicy())
    feed(loop, 10_000 * MS)
    assert loop.tick(10_000 * MS).kind == "command"
    feed(loop, 5_000 * MS)
    out = loop.tick(5_000 * MS)
    assert out.kind == "hold" and "clock jumped back" in out.verdict.reason
    assert loop.status()["clock_jumps"] == 1


def test_nan_joint_state_holds_the_last_good_target_and_never_raises_in_tick():
    """D4: a NaN arm joint must give a finite hold, not an exception in the timer callback."""
    loop = make_loop(FakePolicy())
    feed(loop, 0)
    first = loop.tick(MS)
    assert first.kind == "command"
    q_bad = np.array(PANDA_HOME_Q, float)
    q_bad[2] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        loop.set_joint_state(q_bad, 0.08, PERIOD_NS)
    loop.heartbeat(PERIOD_NS)
    out = loop.tick(PERIOD_NS + MS)
    assert out.kind == "hold" and "not finite" in out.verdict.reason
    assert np.all(np.isfinite(out.q)) and np.array_equal(out.q, first.q)
    assert loop.tick(2 * PERIOD_NS).kind == "none"
    feed(loop, 3 * PERIOD_NS)  # a good joint state clears the fault
    assert loop.tick(3 * PERIOD_NS + MS).kind == "command"


@pytest.mark.parametrize("event", ["clear", "new_instruction", "deactivate", "estop_reset"])
def test_events_during_inference_void_the_chunk(event):
    """D7: whatever happens while the policy runs, the chunk it returns is not executed."""
    marker = np.tile(np.float32([0.02, 0, 0, 0, 0, 0, 1]), (8, 1))
    policy = FakePolicy([marker])
    loop = make_loop(policy)
    actions = {
        "clear": loop.clear_instruction,
        "new_instruction": lambda: loop.set_instruction("stack the cubes"),
        "deactivate": lambda: setattr(loop, "enabled", False),
        "estop_reset": lambda: (loop.e_stop("operator"), loop.reset_estop(0)),
    }
    policy.on_act = actions[event]
    feed(loop, 0)
    out = loop.tick(MS)
    assert out.kind in ("hold", "none") and out.action is None
    assert len(loop.executor) == 0  # nothing of the voided chunk is queued
    if event in ("new_instruction", "estop_reset"):
        policy.on_act = None
        feed(loop, PERIOD_NS)
        nxt = loop.tick(PERIOD_NS + MS)
        assert nxt.kind == "command" and len(policy.observations) == 2  # re-planned
        assert not np.allclose(nxt.action, marker[0])


def test_inputs_arriving_during_a_slow_inference_do_not_void_the_chunk():
    """Heartbeats and frames stamped while the policy runs are newer than the tick's clock;
    they must not read as 'in the future' and drop every chunk of a slow policy."""
    policy = FakePolicy()
    loop = make_loop(policy)
    feed(loop, 0)
    policy.on_act = lambda: feed(loop, 150 * MS)  # 150 ms of inference, inputs keep coming
    out = loop.tick(MS)
    assert out.kind == "command", out.verdict.reason

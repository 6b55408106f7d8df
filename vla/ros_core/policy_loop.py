"""The policy node's control loop, without ROS: observations in, safe commands out.

    camera images (stamped) --+
    joint states (stamped) ---+--> Observation --act()--> chunk --ChunkExecutor--> action
    instruction --------------+                                                     |
    heartbeat / e-stop --> SafetyMonitor.check(now) --not OK--> flush, hold once    |
                                                    --OK-----> action_to_joint_target (DLS IK)
                                                               --> CommandFilter --> TickOutput

The node calls the ``set_*`` methods from its subscriptions and :meth:`PolicyLoop.tick` from its
control timer, then publishes whatever the returned :class:`TickOutput` says. Thread-safe: the
observation snapshot is taken under a lock, the policy runs outside it, and every event that may
arrive while it runs (e-stop, reset, a new or cleared instruction, deactivation) bumps an epoch:
a chunk computed in an older epoch is dropped, never executed.

A hold commands the last target sent (or, before any, the last finite measured position): never
zeros, never NaN, whatever the inputs are doing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vla.constants import ACTION_SPACE_EEF_DELTA, OBS_IMAGES_PREFIX, OBS_STATE, TASK
from vla.robot.chunks import ChunkExecutor
from vla.robot.kinematics import PANDA_HOME_Q, forward_kinematics, jacobian
from vla.ros_core.arm_control import action_to_joint_target
from vla.ros_core.command_filter import CommandFilter
from vla.ros_core.images import resize_rgb
from vla.ros_core.node_configs import PolicyNodeConfig
from vla.ros_core.safety import SafetyMonitor, SafetyState, Verdict
from vla.ros_core.scheduling import RateController


@dataclass
class TickOutput:
    """What to publish this tick. ``kind``: "none" (publish nothing), "hold" (the measured
    position, once, on a stop), or "command"."""

    kind: str
    verdict: Verdict
    q: np.ndarray | None = None  # (7,) joint target (hold: the measured position)
    trajectory: np.ndarray | None = None  # (N, 7) this target + filtered look-ahead
    twist: np.ndarray | None = None  # (6,) base-frame twist for a servo interface
    gripper_closed: bool | None = None
    action: np.ndarray | None = None  # the raw policy action
    clamped: dict[str, bool] = field(default_factory=dict)
    flushed: int = 0
    obs_stamp_ns: int | None = None  # oldest camera stamp of the observation behind a new chunk


def build_state(q: np.ndarray, gripper_opening: float) -> np.ndarray:
    """observation.state (15,) float32 from the arm joints: TCP pose by FK, opening, q."""
    pos, quat = forward_kinematics(q)
    return np.concatenate([pos, quat, [gripper_opening], q]).astype(np.float32)


def warmup_observation(metadata: dict, task: str = "warm up") -> dict:
    """A synthetic observation of the policy's shapes (grey images, home-pose state) used to
    warm up kernels and caches in ``on_configure`` before the robot depends on latency."""
    h, w = metadata.get("image_size", (128, 128))
    obs = {k: np.full((h, w, 3), 127, np.uint8) for k in metadata.get("camera_keys", [])}
    obs[OBS_STATE] = build_state(PANDA_HOME_Q, 0.08)
    obs[TASK] = task
    return obs


class PolicyLoop:
    """Observation bookkeeping + chunk scheduling + IK + safety for one policy."""

    def __init__(self, config: PolicyNodeConfig, act: Callable[[dict], np.ndarray], metadata: dict):
        self.config = config
        self.act = act
        self.action_space = metadata.get("action_space", ACTION_SPACE_EEF_DELTA)
        hz = metadata.get("control_hz")
        if hz is not None and abs(float(hz) - config.control_rate) > 1e-6:
            raise ValueError(
                f"the policy was trained at {hz} Hz but control_rate is "
                f"{config.control_rate}: set control_rate: {float(hz)} in the params"
            )
        self.camera_keys = list(
            metadata.get("camera_keys", [OBS_IMAGES_PREFIX + c for c in config.camera_names])
        )
        missing = [
            k
            for k in self.camera_keys
            if k.removeprefix(OBS_IMAGES_PREFIX) not in config.camera_names
        ]
        if missing:
            raise ValueError(
                f"the policy needs cameras {missing}; add them to camera_names / "
                "camera_topics in the params file"
            )
        self.image_size = tuple(metadata.get("image_size", (128, 128)))
        steps = config.execute_steps or int(metadata.get("execution_horizon", 1))
        action_dim = 8 if self.action_space != ACTION_SPACE_EEF_DELTA else 7
        self.executor = ChunkExecutor(steps, action_dim)  # open loop, `steps` per chunk
        self.rate = RateController(config.control_rate)  # drops early duplicate timer calls
        self.safety = SafetyMonitor(config.safety, config.period_s)
        self.filter = CommandFilter(config.safety)
        self._lock = threading.Lock()
        self._images: dict[str, tuple[np.ndarray, int]] = {}
        self._joints: tuple[np.ndarray, float, int] | None = None
        self._joint_fault: str | None = None  # a bad joint state holds the arm until a good one
        self._task: str | None = None
        self._enabled = True
        self._epoch = 0  # bumped by every event that invalidates a chunk being computed
        self._last_target: np.ndarray | None = None  # last joint target sent (the hold target)
        # the per-step limit's reference: the last command while commands flow (consecutive
        # commands never differ by more than max_joint_step, however the measured position
        # lags), the measured position again after any stop
        self._step_ref: np.ndarray | None = None
        self.new_episode = False  # set when the instruction changes: the node resets the policy

    @property
    def enabled(self) -> bool:
        """False while the lifecycle node is inactive: nothing but a hold goes out."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        with self._lock:
            if bool(value) != self._enabled:
                self._enabled = bool(value)
                self._epoch += 1
                self.executor.flush()

    # ---- inputs (subscription callbacks) --------------------------------------------------------
    def set_image(self, camera: str, rgb: np.ndarray, stamp_ns: int) -> None:
        key = OBS_IMAGES_PREFIX + camera
        if key not in self.camera_keys:
            return
        rgb = resize_rgb(rgb, self.image_size)
        with self._lock:
            self._images[key] = (rgb, stamp_ns)

    def set_joint_state(self, q, gripper_opening: float, stamp_ns: int) -> None:
        """Store a joint state. A non-finite one is refused (ValueError, for the node's log)
        and holds the arm until a finite one arrives; the last good one is kept."""
        q = np.asarray(q, dtype=np.float64)
        with self._lock:
            if not (np.all(np.isfinite(q)) and np.isfinite(gripper_opening)):
                bad = [i + 1 for i in range(q.size) if not np.isfinite(q[i])]
                self._joint_fault = (
                    f"joint state not finite (joints {bad}, opening {gripper_opening})"
                )
                raise ValueError(self._joint_fault + ": holding the last good target")
            self._joint_fault = None
            self._joints = (q, float(gripper_opening), stamp_ns)

    def set_instruction(self, text: str) -> None:
        text = text.strip()
        if not text:
            raise ValueError("empty instruction")
        with self._lock:
            if text != self._task:
                self._task = text
                self.new_episode = True
                self._epoch += 1
                self.executor.flush()

    def clear_instruction(self) -> None:
        with self._lock:
            self._task = None
            self._epoch += 1
            self.executor.flush()

    def heartbeat(self, now_ns: int) -> None:
        self.safety.heartbeat(now_ns)

    def e_stop(self, reason: str = "e-stop requested") -> None:
        """Latch the e-stop; the next tick holds position and flushes the chunk."""
        with self._lock:
            self.safety.e_stop(reason)
            self._epoch += 1

    def reset_estop(self, now_ns: int) -> tuple[bool, str]:
        with self._lock:
            self._epoch += 1
            return self.safety.reset(now_ns)

    def hold_target(self) -> np.ndarray | None:
        """Where a hold keeps the arm: the last target sent, else the last finite measured
        position, else None (nothing known yet: publish nothing)."""
        if self._last_target is not None:
            return self._last_target.copy()
        return None if self._joints is None else self._joints[0].copy()

    def hold(self, verdict: Verdict, flushed: int = 0) -> TickOutput:
        """A hold command (or "none" when no position is known yet). Never raises."""
        q = self.hold_target()
        if q is None:
            return TickOutput("none", verdict, flushed=flushed)
        return TickOutput("hold", verdict, q=q, trajectory=q[None], twist=np.zeros(6),
                          flushed=flushed)  # fmt: skip

    @property
    def task(self) -> str | None:
        return self._task

    # ---- the control tick ------------------------------------------------------------------------
    def tick(self, now_ns: int) -> TickOutput:
        """One control period: check safety, run the policy when the chunk is used up, and
        return the command (or hold / nothing) to publish."""
        with self._lock:
            stamps = {k: self._images[k][1] if k in self._images else None
                      for k in self.camera_keys}  # fmt: skip
            joints, epoch = self._joints, self._epoch
            verdict = self._check(now_ns, stamps, joints)
            if not verdict.ok:
                flushed = self.executor.flush()
                self._step_ref = None
                if verdict.just_stopped:
                    return self.hold(verdict, flushed)
                return TickOutput("none", verdict, flushed=flushed)
            if not self.rate.due(now_ns):
                return TickOutput("none", verdict)
            q_meas, opening, _ = joints
            obs = None
            if self.executor.needs_chunk():
                obs = {k: self._images[k][0] for k in self.camera_keys}
                obs[OBS_STATE] = build_state(q_meas, opening)
                obs[TASK] = self._task
        obs_stamp = None
        if obs is not None:
            chunk = self.act(obs)  # outside the lock: images keep arriving during inference
            obs_stamp = min(stamps.values())
        with self._lock:
            # anything that happened during inference (e-stop, reset, new or cleared
            # instruction, deactivation, a bad joint state) voids the chunk. Freshness is not
            # re-judged here: it was judged when the observation was taken, and inputs stamped
            # during inference would look "ahead" of this tick's clock
            if self._epoch != epoch or self._joint_fault is not None:
                flushed = self.executor.flush()
                self._step_ref = None
                return self.hold(self._voided_verdict(now_ns, stamps, joints), flushed)
            if obs is not None:
                self.executor.push(chunk)
            action = self.executor.pop()
            rest = self.executor.peek_all()
            step_ref = self._step_reference(q_meas)
        out = self._command(verdict, q_meas, step_ref, action, rest)
        out.obs_stamp_ns = obs_stamp
        with self._lock:
            if self._epoch == epoch:
                self._last_target = out.q.copy()
                self._step_ref = out.q.copy()
                return out
            return self.hold(self.safety.last, self.executor.flush())

    def _step_reference(self, q_meas: np.ndarray) -> np.ndarray:
        """The last command, unless the arm is far from it (moved by someone else, reset,
        blocked): then the measured position, so that no command jumps away from the arm."""
        ref = self._step_ref
        far = 3 * self.config.safety.max_joint_step
        if ref is None or np.max(np.abs(ref - q_meas)) > far:
            return q_meas
        return ref

    def _voided_verdict(self, now_ns: int, stamps: dict, joints) -> Verdict:
        """Why a chunk was dropped after inference (an e-stop, deactivation, a cleared
        instruction or a joint fault say so themselves; otherwise the instruction changed)."""
        if self.safety.estopped or not self._enabled or self._task is None or self._joint_fault:
            return self._check(now_ns, stamps, joints)
        return Verdict(SafetyState.HOLD, "the instruction changed during inference", False)

    def _check(self, now_ns: int, stamps: dict, joints) -> Verdict:
        return self.safety.check(
            now_ns,
            stamps,
            None if joints is None else joints[2],
            active=self._enabled and self._task is not None,
            fault=self._joint_fault,
        )

    def _command(
        self,
        verdict: Verdict,
        q_meas: np.ndarray,
        step_ref: np.ndarray,
        action: np.ndarray,
        rest: np.ndarray,
    ) -> TickOutput:
        """IK at the measured position, then the command filter around ``step_ref``."""
        damping = self.config.ik_damping
        target, closed = action_to_joint_target(action, q_meas, self.action_space, damping)
        res = self.filter.apply(step_ref, target)
        traj = [res.q]
        for a in rest:  # look-ahead for a joint_trajectory_controller, filtered step by step
            nxt, _ = action_to_joint_target(a, traj[-1], self.action_space, damping)
            traj.append(self.filter.apply(traj[-1], nxt).q)
        twist = jacobian(q_meas) @ (res.q - q_meas) / self.config.period_s
        return TickOutput(
            "command",
            verdict,
            q=res.q,
            trajectory=np.stack(traj),
            twist=twist,
            gripper_closed=closed,
            action=np.asarray(action),
            clamped={
                "step": res.step_clamped,
                "limits": res.limit_clamped,
                "workspace": res.workspace_clamped,
            },
        )

    def status(self) -> dict:
        """The latched status topic's content (JSON-able)."""
        v = self.safety.last
        return {
            "state": v.state.value,
            "reason": v.reason,
            "estopped": self.safety.estopped,
            "dry_run": self.config.safety.dry_run,
            "task": self._task,
            "queued_actions": len(self.executor),
            "chunks": self.executor.chunks_received,
            "missed_periods": self.rate.missed,
            "clock_jumps": self.safety.clock_jumps,
        }


__all__ = ["PolicyLoop", "SafetyState", "TickOutput", "build_state", "warmup_observation"]

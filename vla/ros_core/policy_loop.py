"""The policy node's control loop, without ROS: observations in, safe commands out.

    camera images (stamped) --+
    joint states (stamped) ---+--> Observation --act()--> chunk --ChunkScheduler--> action
    instruction --------------+                                                      |
    heartbeat / e-stop --> SafetyMonitor.check(now) --not OK--> flush, hold once     |
                                                    --OK-----> action_to_joint_target (DLS IK)
                                                               --> CommandFilter --> TickOutput

The node calls the ``set_*`` methods from its subscriptions and :meth:`PolicyLoop.tick` from its
control timer, then publishes whatever the returned :class:`TickOutput` says. Thread-safe: the
observation snapshot is taken under a lock, the policy runs outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vla.constants import ACTION_SPACE_EEF_DELTA, OBS_IMAGES_PREFIX, OBS_STATE, TASK
from vla.robot.kinematics import PANDA_HOME_Q, forward_kinematics, jacobian
from vla.ros_core.arm_control import action_to_joint_target
from vla.ros_core.command_filter import CommandFilter
from vla.ros_core.images import resize_rgb
from vla.ros_core.node_configs import PolicyNodeConfig
from vla.ros_core.safety import SafetyMonitor, SafetyState, Verdict
from vla.ros_core.scheduling import ChunkScheduler, RateController


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
        self.scheduler = ChunkScheduler(action_dim, steps)
        self.rate = RateController(config.control_rate)  # drops early duplicate timer calls
        self.safety = SafetyMonitor(config.safety, config.period_s)
        self.filter = CommandFilter(config.safety)
        self._lock = threading.Lock()
        self._images: dict[str, tuple[np.ndarray, int]] = {}
        self._joints: tuple[np.ndarray, float, int] | None = None
        self._task: str | None = None
        self.enabled = True  # the lifecycle node clears this when deactivated
        self.new_episode = False  # set when the instruction changes: the node resets the policy

    # ---- inputs (subscription callbacks) --------------------------------------------------------
    def set_image(self, camera: str, rgb: np.ndarray, stamp_ns: int) -> None:
        key = OBS_IMAGES_PREFIX + camera
        if key not in self.camera_keys:
            return
        rgb = resize_rgb(rgb, self.image_size)
        with self._lock:
            self._images[key] = (rgb, stamp_ns)

    def set_joint_state(self, q, gripper_opening: float, stamp_ns: int) -> None:
        q = np.asarray(q, dtype=np.float64)
        with self._lock:
            self._joints = (q, float(gripper_opening), stamp_ns)

    def set_instruction(self, text: str) -> None:
        text = text.strip()
        if not text:
            raise ValueError("empty instruction")
        with self._lock:
            if text != self._task:
                self._task = text
                self.new_episode = True
                self.scheduler.flush()

    def clear_instruction(self) -> None:
        with self._lock:
            self._task = None
            self.scheduler.flush()

    def heartbeat(self, now_ns: int) -> None:
        self.safety.heartbeat(now_ns)

    def e_stop(self, reason: str = "e-stop requested") -> None:
        """Latch the e-stop; the next tick holds position and flushes the chunk."""
        self.safety.e_stop(reason)

    def reset_estop(self, now_ns: int) -> tuple[bool, str]:
        return self.safety.reset(now_ns)

    @property
    def task(self) -> str | None:
        return self._task

    # ---- the control tick ------------------------------------------------------------------------
    def tick(self, now_ns: int) -> TickOutput:
        with self._lock:
            stamps = {
                k: (self._images[k][1] if k in self._images else None) for k in self.camera_keys
            }
            joints = self._joints
            verdict = self.safety.check(
                now_ns,
                stamps,
                None if joints is None else joints[2],
                active=self.enabled and self._task is not None,
            )
            if not verdict.ok:
                flushed = self.scheduler.flush()
                if verdict.just_stopped and joints is not None:
                    # hold where the arm *is*: pre-empts a trajectory still being executed
                    q = joints[0].copy()
                    return TickOutput(
                        "hold", verdict, q=q, trajectory=q[None], twist=np.zeros(6), flushed=flushed
                    )
                return TickOutput("none", verdict, flushed=flushed)
            if not self.rate.due(now_ns):
                return TickOutput("none", verdict)
            q_meas, opening, _ = joints
            obs = None
            if self.scheduler.needs_chunk():
                obs = {k: self._images[k][0] for k in self.camera_keys}
                obs[OBS_STATE] = build_state(q_meas, opening)
                obs[TASK] = self._task
        if obs is not None:
            chunk = self.act(obs)  # outside the lock: images keep arriving during inference
            with self._lock:
                self.scheduler.push(chunk)
        with self._lock:
            if self.safety.estopped and self.config.safety.estop_enabled:
                # e-stopped while the policy was thinking: drop its chunk, hold
                self.safety.check(now_ns, stamps, joints[2])
                flushed = self.scheduler.flush()
                return TickOutput(
                    "hold",
                    self.safety.last,
                    q=q_meas.copy(),
                    trajectory=q_meas[None].copy(),
                    twist=np.zeros(6),
                    flushed=flushed,
                )
            action = self.scheduler.pop()
            rest = self.scheduler.peek_all()
        return self._command(verdict, q_meas, action, rest)

    def _command(
        self, verdict: Verdict, q_meas: np.ndarray, action: np.ndarray, rest: np.ndarray
    ) -> TickOutput:
        damping = self.config.ik_damping
        target, closed = action_to_joint_target(action, q_meas, self.action_space, damping)
        res = self.filter.apply(q_meas, target)
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
            "queued_actions": len(self.scheduler),
            "chunks": self.scheduler.chunks_received,
            "missed_periods": self.rate.missed,
        }


__all__ = ["PolicyLoop", "SafetyState", "TickOutput", "build_state", "warmup_observation"]

"""Safety state machine: deadman heartbeat, latched e-stop, observation freshness.

A pure function of the events it is told about and the clock it is given (nanoseconds), so
every rule is testable without ROS. The policy node asks :meth:`SafetyMonitor.check` once per
control tick; only ``SafetyState.OK`` lets a policy-derived command out.

    heartbeat(now)  e_stop(now)  reset(now)      (events from topics / services)
            \\            |          /
             v           v         v
    check(now, image stamps, joint stamp, fault) -> Verdict(state, reason, just_stopped)

States: OK; HOLD (recoverable by itself: no heartbeat yet / lost, stale observations (too old,
or stamped further ahead than max_clock_skew_s), an input fault such as a NaN joint, not
active, the clock jumping back); ESTOP (latched until an explicit reset, which itself needs a
fresh heartbeat).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from vla.robot.kinematics import PANDA_JOINT_LIMITS as _URDF_LIMITS

NS = 1_000_000_000


class SafetyState(str, enum.Enum):
    """What the robot may do this tick."""

    OK = "ok"  # policy commands may be published
    HOLD = "hold"  # hold position; resumes by itself when the cause clears
    ESTOP = "estop"  # latched: hold until an explicit reset


@dataclass
class SafetyConfig:
    """Safety settings (ROS params ``safety.*``). Every check is on unless YAML turns it off."""

    heartbeat_enabled: bool = True
    heartbeat_timeout_s: float = 0.5
    estop_enabled: bool = True
    staleness_enabled: bool = True
    max_image_age_periods: float = 2.0  # images older than this many control periods are dropped
    max_joint_state_age_s: float = 0.2
    # stamps further in the future than this are stale too: a camera whose clock runs ahead and
    # then freezes must not look fresh forever
    max_clock_skew_s: float = 0.05
    joint_limits_enabled: bool = True
    # joint position limits (rad); defaults: the Panda URDF's. Narrow them for a cell, never widen
    joint_lower_limits: list[float] = field(default_factory=lambda: _URDF_LIMITS[:, 0].tolist())
    joint_upper_limits: list[float] = field(default_factory=lambda: _URDF_LIMITS[:, 1].tolist())
    joint_limit_margin: float = 0.05  # rad kept clear of each limit
    max_joint_step: float = 0.05  # rad per control period per joint
    workspace_enabled: bool = True
    workspace_min: list[float] = field(default_factory=lambda: [0.15, -0.5, 0.0])
    workspace_max: list[float] = field(default_factory=lambda: [0.85, 0.5, 0.7])
    dry_run: bool = False

    def __post_init__(self):
        for name in (
            "heartbeat_timeout_s",
            "max_image_age_periods",
            "max_joint_state_age_s",
            "max_clock_skew_s",
            "max_joint_step",
        ):
            value = getattr(self, name)
            # inf would silently switch the check off: every limit is finite and positive
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"safety.{name} must be finite and positive, got {value}")
        if not (np.isfinite(self.joint_limit_margin) and self.joint_limit_margin >= 0):
            raise ValueError(
                f"safety.joint_limit_margin must be finite and >= 0, got {self.joint_limit_margin}"
            )
        for name in ("joint_lower_limits", "joint_upper_limits", "workspace_min", "workspace_max"):
            if not np.all(np.isfinite(np.asarray(getattr(self, name), float))):
                raise ValueError(f"safety.{name} must be finite, got {getattr(self, name)}")
        jlo = np.asarray(self.joint_lower_limits, float)
        jhi = np.asarray(self.joint_upper_limits, float)
        if jlo.shape != (7,) or jhi.shape != (7,) or not np.all(jlo < jhi):
            raise ValueError(
                "safety.joint_lower_limits/joint_upper_limits need 7 values each with lower < "
                f"upper, got {self.joint_lower_limits} / {self.joint_upper_limits}"
            )
        if np.any(jlo < _URDF_LIMITS[:, 0] - 1e-9) or np.any(jhi > _URDF_LIMITS[:, 1] + 1e-9):
            raise ValueError(
                "safety.joint_*_limits may only narrow the Panda URDF limits "
                f"{_URDF_LIMITS.tolist()}"
            )
        if np.any(jhi - jlo <= 2 * self.joint_limit_margin):
            raise ValueError(
                f"safety.joint_limit_margin {self.joint_limit_margin} leaves no range for a joint"
            )
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(lo < hi):
            raise ValueError(
                f"safety.workspace_min/max must be 3 values each with min < max, got "
                f"{self.workspace_min} / {self.workspace_max}"
            )


@dataclass(frozen=True)
class Verdict:
    """The result of one safety check."""

    state: SafetyState
    reason: str
    just_stopped: bool  # OK -> HOLD/ESTOP on this tick: flush the chunk and hold once

    @property
    def ok(self) -> bool:
        return self.state is SafetyState.OK


class SafetyMonitor:
    """Deadman heartbeat + latched e-stop + freshness checks over a nanosecond clock."""

    def __init__(self, config: SafetyConfig, control_period_s: float):
        if control_period_s <= 0:
            raise ValueError(f"control period must be positive, got {control_period_s}")
        self.config = config
        self.period_ns = int(control_period_s * NS)
        self._last_heartbeat_ns: int | None = None
        self._estop_reason: str | None = None
        self._was_ok = False
        self._last = Verdict(SafetyState.HOLD, "starting", False)
        self._last_check_ns: int | None = None
        self.clock_jumps = 0  # times the clock given to check() went backwards

    # ---- events ---------------------------------------------------------------------------------
    def heartbeat(self, now_ns: int) -> None:
        """A deadman heartbeat arrived (teleop pedal, operator UI, supervisor)."""
        self._last_heartbeat_ns = now_ns

    def e_stop(self, reason: str = "e-stop requested") -> None:
        """Latch the e-stop. Only :meth:`reset` clears it."""
        self._estop_reason = reason

    def reset(self, now_ns: int) -> tuple[bool, str]:
        """Clear a latched e-stop. Refused while the heartbeat is missing (the operator must be
        present to re-arm). Returns (accepted, message)."""
        if self._estop_reason is None:
            return True, "not e-stopped"
        if self.config.heartbeat_enabled and not self._heartbeat_fresh(now_ns):
            return False, "reset refused: no fresh heartbeat (hold the deadman, then reset)"
        self._estop_reason = None
        return True, "e-stop reset"

    @property
    def estopped(self) -> bool:
        return self._estop_reason is not None

    @property
    def last(self) -> Verdict:
        """The most recent verdict (for the latched status topic)."""
        return self._last

    # ---- per tick -------------------------------------------------------------------------------
    def _heartbeat_fresh(self, now_ns: int) -> bool:
        hb = self._last_heartbeat_ns
        skew = self.config.max_clock_skew_s * NS
        return hb is not None and -skew <= now_ns - hb <= self.config.heartbeat_timeout_s * NS

    def max_image_age_ns(self) -> int:
        return int(self.config.max_image_age_periods * self.period_ns)

    def _stale(self, now_ns: int, stamp_ns: int, max_age_ns: float) -> str | None:
        """Why a stamp is not fresh (too old, or ahead of the clock beyond the skew), or None."""
        age = now_ns - stamp_ns
        if age > max_age_ns:
            return "stale"
        if -age > self.config.max_clock_skew_s * NS:
            return f"stamped {-age / NS:.3f} s in the future (clock skew)"
        return None

    def check(
        self,
        now_ns: int,
        image_stamps_ns: Mapping[str, int | None],
        joint_stamp_ns: int | None,
        active: bool = True,
        fault: str | None = None,
    ) -> Verdict:
        """Decide this tick. ``image_stamps_ns`` maps each camera the policy needs to the stamp of
        its latest image (None: none yet); ``joint_stamp_ns`` likewise for /joint_states;
        ``fault`` names a bad input (e.g. a NaN joint) that holds the arm until it clears."""
        state, reason = SafetyState.OK, "ok"
        cfg = self.config
        jumped = self._last_check_ns is not None and now_ns < self._last_check_ns
        self.clock_jumps += jumped
        if self._estop_reason is not None and cfg.estop_enabled:
            state, reason = SafetyState.ESTOP, self._estop_reason
        elif jumped:
            back = (self._last_check_ns - now_ns) / NS
            state, reason = SafetyState.HOLD, f"clock jumped back by {back:.3f} s"
        elif fault is not None:
            state, reason = SafetyState.HOLD, fault
        elif not active:
            state, reason = SafetyState.HOLD, "not active (no instruction or node inactive)"
        elif cfg.heartbeat_enabled and not self._heartbeat_fresh(now_ns):
            state, reason = (
                SafetyState.HOLD,
                (
                    "no heartbeat yet"
                    if self._last_heartbeat_ns is None
                    else f"heartbeat lost (> {cfg.heartbeat_timeout_s} s)"
                ),
            )
        elif joint_stamp_ns is None:
            state, reason = SafetyState.HOLD, "no joint state yet"
        elif cfg.staleness_enabled and (
            why := self._stale(now_ns, joint_stamp_ns, cfg.max_joint_state_age_s * NS)
        ):
            state, reason = SafetyState.HOLD, f"joint state {why}"
        else:
            for cam, stamp in image_stamps_ns.items():
                if stamp is None:
                    state, reason = SafetyState.HOLD, f"no image yet from camera {cam!r}"
                    break
                if cfg.staleness_enabled and (
                    why := self._stale(now_ns, stamp, self.max_image_age_ns())
                ):
                    state, reason = SafetyState.HOLD, f"image from camera {cam!r} {why}"
                    break
        # re-based every tick: a jump back holds one tick and is counted; stamps from before
        # it are then in the future, which the skew rule catches
        self._last_check_ns = now_ns
        ok = state is SafetyState.OK
        verdict = Verdict(state, reason, just_stopped=self._was_ok and not ok)
        self._was_ok = ok
        self._last = verdict
        return verdict

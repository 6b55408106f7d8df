"""The command filter every joint target passes before it reaches a topic.

    target q --(per-step limit around the reference)--(joint limits minus margin)
             --(workspace box: the TCP of the result must stay inside)--> safe q

The per-step limit and the joint limits are applied together as one interval per joint, so a
result never moves more than ``max_joint_step`` from its reference and never moves further out of
the limit band than the reference already was. The workspace check backs the step off along the
segment reference -> target (bisection) until the tool centre point is inside the box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla.robot.kinematics import forward_kinematics
from vla.ros_core.safety import SafetyConfig


@dataclass(frozen=True)
class FilterResult:
    """A filtered target and what the filter changed (for the status topic and logs)."""

    q: np.ndarray
    step_clamped: bool
    limit_clamped: bool
    workspace_clamped: bool


class CommandFilter:
    """Clamp joint targets to the limits, the per-step change and the workspace box."""

    def __init__(self, config: SafetyConfig):
        margin = config.joint_limit_margin
        self.config = config
        self.lower = np.asarray(config.joint_lower_limits, dtype=float) + margin
        self.upper = np.asarray(config.joint_upper_limits, dtype=float) - margin
        self.ws_min = np.asarray(config.workspace_min, dtype=float)
        self.ws_max = np.asarray(config.workspace_max, dtype=float)

    def in_workspace(self, q: np.ndarray) -> bool:
        pos, _ = forward_kinematics(q)
        return bool(np.all(pos >= self.ws_min) and np.all(pos <= self.ws_max))

    def _box_distance(self, q: np.ndarray) -> float:
        pos, _ = forward_kinematics(q)
        return float(
            np.linalg.norm(np.maximum(0, self.ws_min - pos) + np.maximum(0, pos - self.ws_max))
        )

    def apply(self, q_ref, q_target) -> FilterResult:
        """Filter ``q_target`` given ``q_ref`` (the last command sent, or the measured position
        when none was). Raises on non-finite input: a NaN target is a bug upstream."""
        q_ref = np.asarray(q_ref, dtype=float)
        q_target = np.asarray(q_target, dtype=float)
        if q_ref.shape != self.lower.shape or q_target.shape != self.lower.shape:
            raise ValueError(
                f"need ({len(self.lower)},) joint vectors, got {q_ref.shape} and {q_target.shape}"
            )
        if not (np.all(np.isfinite(q_ref)) and np.all(np.isfinite(q_target))):
            raise ValueError(f"non-finite joint target {q_target} (reference {q_ref})")
        cfg = self.config
        step = cfg.max_joint_step
        lo, hi = q_ref - step, q_ref + step
        q = np.clip(q_target, lo, hi)
        step_clamped = not np.allclose(q, q_target)
        limit_clamped = False
        if cfg.joint_limits_enabled:
            # intersect [ref - step, ref + step] with the band; if they do not meet (reference
            # outside the band by more than a step) move a full step towards the band.
            band_lo = np.minimum(np.maximum(self.lower, lo), hi)
            band_hi = np.maximum(np.minimum(self.upper, hi), lo)
            clipped = np.clip(q, band_lo, band_hi)
            limit_clamped = not np.allclose(clipped, q)
            q = clipped
        ws_clamped = False
        if cfg.workspace_enabled and not self.in_workspace(q):
            ws_clamped = True
            ref_d = self._box_distance(q_ref)
            good, bad = 0.0, 1.0  # fraction of the way from q_ref to q
            for _ in range(12):
                mid = (good + bad) / 2
                cand = q_ref + mid * (q - q_ref)
                if self.in_workspace(cand) if ref_d == 0 else self._box_distance(cand) <= ref_d:
                    good = mid
                else:
                    bad = mid
            q = q_ref + good * (q - q_ref)
        return FilterResult(q, step_clamped, limit_clamped, ws_clamped)

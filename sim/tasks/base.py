"""Backend-agnostic task interface: what an episode is, and when it is solved.

A Task samples an :class:`Episode` (scene + instruction + the names its predicate needs) from a
seeded RNG and judges success from Physics queries only (object poses, finger contacts, the TCP
pose), so the same task and the same seed mean the same thing in every engine.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from sim.physics.base import Physics
from sim.scene import SceneSpec

# Splits: "train" never contains a held-out colour/shape pairing (not even as a distractor) nor
# a held-out phrasing. "heldout" episodes use both; the two single-factor splits isolate one.
SPLITS: tuple[str, ...] = ("train", "heldout", "heldout_object", "heldout_phrasing")


@dataclass(frozen=True)
class Episode:
    """One sampled episode.

    family: task family ("pick", "place", "stack", "push").
    target: name of the object to manipulate; goal: name of the container / base cube / region
    (None for pick). target_rest_z: the target's initial centre height.
    """

    family: str
    scene: SceneSpec
    instruction: str
    target: str
    goal: str | None
    target_rest_z: float
    split: str = "train"
    heldout_object: bool = False
    heldout_phrasing: bool = False


class Task(abc.ABC):
    """One task family: episode sampling (scene + language) and the success predicate."""

    #: family name used in the registry, info["family"] and reports
    family: str
    #: default episode length limit in control steps (10 Hz)
    max_steps: int

    @abc.abstractmethod
    def sample_episode(
        self, rng: np.random.Generator, split: str = "train", image_size=(128, 128)
    ) -> Episode:
        """A random episode; everything random comes from `rng` (same seed -> same episode)."""

    @abc.abstractmethod
    def success(self, physics: Physics, episode: Episode) -> bool:
        """Whether the episode's goal holds in the physics' current state."""

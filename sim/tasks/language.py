"""Instruction templates per family, and the held-out language / object split.

Instructions are filled from the sampled scene ("the red cube", "the blue bowl", "the left
area"), never hard-coded. Each family has several training phrasings and exactly one held-out
phrasing that never appears with split="train".
"""

from __future__ import annotations

import numpy as np

# (colour, shape) pairings that never appear in split="train" (neither as target nor as
# distractor); in the held-out object splits the target is one of them.
HELDOUT_OBJECTS: tuple[tuple[str, str], ...] = (("purple", "cube"), ("orange", "cylinder"))

# Placeholders: {obj} target, {goal} container / base cube / region, {prep} "in" or "on".
TEMPLATES: dict[str, tuple[str, ...]] = {
    "pick": (
        "pick up the {obj}",
        "lift the {obj}",
        "grab the {obj} and raise it",
        "pick the {obj} up off the table",
    ),
    "place": (
        "put the {obj} {prep} the {goal}",
        "place the {obj} {prep} the {goal}",
        "move the {obj} {prep}to the {goal}",
    ),
    "stack": (
        "stack the {obj} on the {goal}",
        "put the {obj} on top of the {goal}",
        "place the {obj} onto the {goal}",
    ),
    "push": (
        "push the {obj} to the {goal}",
        "slide the {obj} into the {goal}",
        "push the {obj} until it is in the {goal}",
    ),
}
HELDOUT_TEMPLATES: dict[str, str] = {
    "pick": "raise the {obj} into the air",
    "place": "drop the {obj} {prep} the {goal}",
    "stack": "set the {obj} down on the {goal}",
    "push": "nudge the {obj} over to the {goal}",
}


def describe(color: str, category: str) -> str:
    """Noun phrase of an object or container: "red cube", "blue bowl"."""
    return f"{color} {category}"


def instruction(family: str, rng: np.random.Generator, heldout_phrasing: bool, **slots: str) -> str:
    """Fill one phrasing of `family` (a training one, or the held-out one)."""
    template = (
        HELDOUT_TEMPLATES[family]
        if heldout_phrasing
        else TEMPLATES[family][int(rng.integers(len(TEMPLATES[family])))]
    )
    return template.format(**slots)

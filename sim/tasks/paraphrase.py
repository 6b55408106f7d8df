"""Instruction paraphrases for evaluation only: phrasings the policy has never been trained on.

    "pick up the red cube"  --parse_slots (match a TEMPLATES / HELDOUT_TEMPLATES form)-->
        {obj: "red cube"}  --one of PHRASINGS["pick"], one of WRAPPERS (seeded rng)-->
    "could you take hold of the red cube and lift it"

The noun phrases ("the red cube", "the blue bowl", "the left area") are kept verbatim; only
the verb, the clause order and a polite wrapper change. No output equals a fill of a training
or held-out template (tests/sim/test_paraphrase.py checks every combination), and nothing under
vla/train or vla/data may import this module (same test): a paraphrase that reached training
data would no longer measure anything.

Outputs stay inside the environment's instruction charset (letters, digits, " ,.'-"), so
"the red cube: pick it up" is written "the red cube, pick it up".
"""

from __future__ import annotations

import re

import numpy as np

from sim.tasks.language import HELDOUT_TEMPLATES, TEMPLATES

#: family -> core phrasings of our own (placeholders as in language.TEMPLATES)
PHRASINGS: dict[str, tuple[str, ...]] = {
    "pick": (
        "take hold of the {obj} and lift it",
        "hoist the {obj}",
        "get the {obj} up off the table",
        "the {obj}, pick it up",
        "lift up the {obj} from the table",
        "grasp the {obj} and hold it up",
    ),
    "place": (
        "transfer the {obj} {prep}to the {goal}",
        "take the {obj} and put it {prep} the {goal}",
        "the {obj} goes {prep} the {goal}",
        "the {obj}, place it {prep} the {goal}",
        "pick up the {obj} and leave it {prep} the {goal}",
        "get the {obj} {prep}to the {goal}",
    ),
    "stack": (
        "pile the {obj} on the {goal}",
        "take the {obj} and stack it on the {goal}",
        "the {obj} goes on top of the {goal}",
        "the {obj}, stack it on the {goal}",
        "put the {obj} down on top of the {goal}",
        "rest the {obj} on the {goal}",
    ),
    "push": (
        "shove the {obj} to the {goal}",
        "slide the {obj} over to the {goal}",
        "the {obj}, push it into the {goal}",
        "without lifting it, move the {obj} to the {goal}",
        "push the {obj} along the table to the {goal}",
        "get the {obj} into the {goal} by pushing it",
    ),
}

#: polite or conversational wrappers around an imperative core phrasing ("{s}": the core)
WRAPPERS: tuple[str, ...] = (
    "{s}",
    "please {s}",
    "could you {s}",
    "can you {s}",
    "{s}, please",
    "i need you to {s}",
    "go ahead and {s}",
)
#: wrappers for a reordered core ("the red cube, pick it up"), which takes no "could you"
REORDERED_WRAPPERS: tuple[str, ...] = ("{s}", "{s}, please")

_SLOT = re.compile(r"\{(obj|goal|prep)\}")


def _pattern(template: str) -> re.Pattern[str]:
    """A template as a regex with one named group per placeholder ({prep} is in/on)."""
    parts, pos = [], 0
    for m in _SLOT.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        slot = m.group(1)
        parts.append(r"(?P<prep>in|on)" if slot == "prep" else rf"(?P<{slot}>[a-z0-9' -]+?)")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts) + r"\Z")


_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    family: [_pattern(t) for t in (*TEMPLATES[family], HELDOUT_TEMPLATES[family])]
    for family in TEMPLATES
}


def parse_slots(instruction: str, family: str) -> dict[str, str]:
    """The slot values ({obj}, {goal}, {prep}) of an instruction filled from one of
    ``family``'s training or held-out templates."""
    if family not in PHRASINGS:
        raise ValueError(
            f"no paraphrases for task family {family!r}: the generator covers the pick_place "
            f"families {sorted(PHRASINGS)}"
        )
    for pattern in _PATTERNS[family]:
        m = pattern.match(instruction)
        if m:
            return {k: v for k, v in m.groupdict().items() if v is not None}
    raise ValueError(
        f"{instruction!r} matches none of the {family!r} templates in sim/tasks/language.py: "
        "add a PHRASINGS entry or fix the instruction"
    )


def paraphrase(instruction: str, family: str, rng: np.random.Generator) -> str:
    """A phrasing of ``instruction`` (a ``family`` template fill) that no template produces.

    Deterministic given ``rng``'s state; the target and goal noun phrases are kept verbatim.
    """
    slots = parse_slots(instruction, family)
    core = PHRASINGS[family][int(rng.integers(len(PHRASINGS[family])))]
    wrappers = _wrappers(core)
    wrapper = wrappers[int(rng.integers(len(wrappers)))]
    return wrapper.format(s=core.format(**slots))


def _wrappers(core: str) -> tuple[str, ...]:
    return REORDERED_WRAPPERS if core.startswith("the {obj}") else WRAPPERS


def all_paraphrases(family: str, **slots: str) -> list[str]:
    """Every output the generator can give for these slots (for tests and audits)."""
    return [w.format(s=c.format(**slots)) for c in PHRASINGS[family] for w in _wrappers(c)]

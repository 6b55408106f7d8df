"""Instruction augmentation for training (``--instruction_aug P``): with probability P a sample's
instruction is rewritten before it is embedded, so the policy sees more than the templates'
exact strings.

    "put the red cube in the blue bowl" --one wrapper, articles kept or dropped, "." or not-->
    "robot, put red cube in blue bowl."

A rewritten sample takes one of the instruction's :func:`variants` uniformly. Rewrites are
generic (no knowledge of the task suite): a conversational wrapper of this file's
own, the articles ("the", "a") dropped, a full stop. They are kept apart from the evaluation's
paraphrases (sim/tasks/paraphrase.py: its verbs, clause orders and wrappers such as "please" or
"could you") and from the held-out templates, so ``vla eval --perturb paraphrase`` still measures
phrasings the policy never saw: tests/train/test_instruction_aug.py checks every rewrite of every
template fill against both. The draws come from the step's generator, so a resumed run repeats
them.
"""

from __future__ import annotations

import functools
import re

import torch

#: wrappers around the instruction ("{s}"); none is one of the evaluation's (paraphrase.py)
WRAPPERS: tuple[str, ...] = (
    "{s}",
    "now {s}",
    "{s} now",
    "robot, {s}",
    "ok, {s}",
    "next, {s}",
    "{s} for me",
    "your task is to {s}",
    "time to {s}",
)
_ARTICLES = re.compile(r"\b(the|a) ")


def variants(text: str) -> list[str]:
    """Every rewrite :func:`rewrite` can give for ``text`` (``text`` itself excluded), in a
    fixed order: to embed them all before training starts."""
    cores = dict.fromkeys((text, _ARTICLES.sub("", text)))
    out = dict.fromkeys(w.format(s=c) + end for w in WRAPPERS for c in cores for end in ("", "."))
    out.pop(text, None)
    return list(out)


def augment_instructions(tasks: list[str], p: float, g: torch.Generator) -> list[str]:
    """``tasks`` with each replaced, with probability ``p``, by one of its :func:`variants`
    (uniformly; draws from ``g``, none when ``p`` is 0, so runs without augmentation keep
    their random numbers)."""
    if p <= 0:
        return list(tasks)
    hit = torch.rand(len(tasks), generator=g) < p
    pick = torch.randint(0, 1 << 30, (len(tasks),), generator=g).tolist()
    out = []
    for t, h, k in zip(tasks, hit.tolist(), pick, strict=True):
        options = _variants(t) if h else ()
        out.append(options[k % len(options)] if options else t)
    return out


def with_variants(instructions: list[str], p: float) -> list[str]:
    """``instructions`` followed by every variant of each when augmenting (``p`` > 0): the
    strings whose states must be at hand before training starts."""
    if p <= 0:
        return list(instructions)
    return list(dict.fromkeys([*instructions, *(v for t in instructions for v in _variants(t))]))


@functools.lru_cache(maxsize=65536)
def _variants(text: str) -> tuple[str, ...]:
    return tuple(variants(text))

"""The Meta-World MT50 suite as data: task names, instructions, difficulty groups, horizon.

Pure data (no ``metaworld`` import), so ``sim.tasks.SUITES["mt50"]`` lists the 50 tasks on
machines without the optional package; the environments themselves live in
``sim/metaworld_env.py``.

Task names are Meta-World's own environment names (``"reach-v3"``, Meta-World 3.x). The
instruction of a task is fixed (Meta-World has one goal per task; objects and goals are placed
at random). The instructions below are ours: short imperative English written from Meta-World's
task descriptions (Yu et al., 2019, appendix table) and the scripted policies, each one unique
-- LeRobot's list gives push-v3 and push-back-v3 the same sentence, which a language-conditioned
multitask policy cannot tell apart.

Difficulty groups (for per-group averages): the split of Seo et al., "Masked World Models for
Visual Control" (CoRL 2022, appendix), which SmolVLA (Shukor et al., 2025) reports against and
LeRobot's Meta-World integration ships (``lerobot/envs/metaworld_config.json``,
``DIFFICULTY_TO_TASKS``): 28 easy, 11 medium, 6 hard, 5 very hard tasks.
``configs/eval/mt50.yaml`` repeats it next to the evaluation protocol (a test keeps the two in
step).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Meta-World's horizon: ``SawyerXYZEnv.max_path_length`` (500 control steps at 80 Hz, 6.25 s),
#: also the episode limit of LeRobot's Meta-World evaluation.
MT50_MAX_STEPS = 500

MT50_INSTRUCTIONS: dict[str, str] = {
    "assembly-v3": "pick up the nut and fit it onto the peg",
    "basketball-v3": "pick up the basketball and dunk it into the hoop",
    "bin-picking-v3": "pick the puck out of one bin and place it into the other bin",
    "box-close-v3": "pick up the lid and put it on the box to close it",
    "button-press-topdown-v3": "press the button down from above",
    "button-press-topdown-wall-v3": "press the button down from above, behind the wall",
    "button-press-v3": "press the button in from the front",
    "button-press-wall-v3": "press the button in from the front, behind the wall",
    "coffee-button-v3": "push the button on the coffee machine",
    "coffee-pull-v3": "pull the mug out from under the coffee machine",
    "coffee-push-v3": "push the mug under the coffee machine",
    "dial-turn-v3": "turn the dial half a turn",
    "disassemble-v3": "pick the nut up and off the peg",
    "door-close-v3": "push the door closed",
    "door-lock-v3": "lock the door by turning the lock down",
    "door-open-v3": "pull the door open by its handle",
    "door-unlock-v3": "unlock the door by turning the lock up",
    "drawer-close-v3": "push the drawer closed",
    "drawer-open-v3": "pull the drawer open",
    "faucet-close-v3": "turn the faucet handle clockwise to close it",
    "faucet-open-v3": "turn the faucet handle counter-clockwise to open it",
    "hammer-v3": "pick up the hammer and hammer the nail into the wall",
    "hand-insert-v3": "push the gripper down into the hole in the table",
    "handle-press-side-v3": "press the handle down from the side",
    "handle-press-v3": "press the handle down from the front",
    "handle-pull-side-v3": "pull the handle up from the side",
    "handle-pull-v3": "pull the handle up from the front",
    "lever-pull-v3": "pull the lever up a quarter turn",
    "peg-insert-side-v3": "pick up the peg and insert it sideways into the hole",
    "peg-unplug-side-v3": "pull the peg sideways out of the hole",
    "pick-out-of-hole-v3": "pick the puck up out of the hole",
    "pick-place-v3": "pick up the puck and place it at the goal",
    "pick-place-wall-v3": "pick up the puck, lift it over the wall and place it at the goal",
    "plate-slide-back-side-v3": "slide the plate sideways out of the cabinet",
    "plate-slide-back-v3": "slide the plate back out of the cabinet",
    "plate-slide-side-v3": "slide the plate sideways into the cabinet",
    "plate-slide-v3": "slide the plate forward into the cabinet",
    "push-back-v3": "pull the puck back towards the robot to the goal",
    "push-v3": "push the puck forward to the goal",
    "push-wall-v3": "push the puck around the wall to the goal",
    "reach-v3": "move the gripper to the goal position",
    "reach-wall-v3": "move the gripper over the wall to the goal position",
    "shelf-place-v3": "pick up the puck and place it on the shelf",
    "soccer-v3": "push the soccer ball into the goal",
    "stick-pull-v3": "grasp the stick and pull the thermos with it",
    "stick-push-v3": "grasp the stick and push the thermos with it",
    "sweep-into-v3": "sweep the puck into the hole",
    "sweep-v3": "sweep the puck off the edge of the table",
    "window-close-v3": "slide the window closed",
    "window-open-v3": "slide the window open",
}

#: difficulty group -> tasks (Seo et al., 2022; the grouping SmolVLA's MT50 numbers use)
MT50_GROUPS: dict[str, tuple[str, ...]] = {
    "easy": (
        "button-press-v3", "button-press-topdown-v3", "button-press-topdown-wall-v3",
        "button-press-wall-v3", "coffee-button-v3", "dial-turn-v3", "door-close-v3",
        "door-lock-v3", "door-open-v3", "door-unlock-v3", "drawer-close-v3", "drawer-open-v3",
        "faucet-close-v3", "faucet-open-v3", "handle-press-v3", "handle-press-side-v3",
        "handle-pull-v3", "handle-pull-side-v3", "lever-pull-v3", "plate-slide-v3",
        "plate-slide-back-v3", "plate-slide-back-side-v3", "plate-slide-side-v3", "reach-v3",
        "reach-wall-v3", "window-close-v3", "window-open-v3", "peg-unplug-side-v3",
    ),
    "medium": (
        "basketball-v3", "bin-picking-v3", "box-close-v3", "coffee-pull-v3", "coffee-push-v3",
        "hammer-v3", "peg-insert-side-v3", "push-wall-v3", "soccer-v3", "sweep-v3",
        "sweep-into-v3",
    ),
    "hard": (
        "assembly-v3", "hand-insert-v3", "pick-out-of-hole-v3", "pick-place-v3", "push-v3",
        "push-back-v3",
    ),
    "very_hard": (
        "shelf-place-v3", "disassemble-v3", "stick-pull-v3", "stick-push-v3",
        "pick-place-wall-v3",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class MetaWorldTask:
    """One MT50 task: its Meta-World environment name, instruction, difficulty and horizon.

    ``family`` is the name used everywhere a task family is (``sim.make(family, suite="mt50")``,
    reports, dataset generation): Meta-World's environment name itself.
    """

    family: str
    instruction: str
    difficulty: str
    max_steps: int = MT50_MAX_STEPS


def _build() -> dict[str, MetaWorldTask]:
    group_of = {t: g for g, tasks in MT50_GROUPS.items() for t in tasks}
    if sorted(group_of) != sorted(MT50_INSTRUCTIONS) or len(group_of) != 50:
        raise AssertionError("MT50_GROUPS must cover exactly the 50 tasks of MT50_INSTRUCTIONS")
    return {
        name: MetaWorldTask(name, MT50_INSTRUCTIONS[name], group_of[name])
        for name in sorted(MT50_INSTRUCTIONS)
    }


#: task name -> MetaWorldTask, in alphabetical order (Meta-World's own MT50 order)
MT50: dict[str, MetaWorldTask] = _build()

"""Task sampling (language, held-out split) and success predicates in constructed states,
parametrised over engine x family."""

from __future__ import annotations

import numpy as np
import pytest
from sim_test_params import BACKENDS, FAMILIES, SMALL

import sim
from sim.tasks import SPLITS, SUITES
from sim.tasks.language import HELDOUT_OBJECTS, HELDOUT_TEMPLATES, TEMPLATES

TASKS = SUITES["pick_place"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_predicate_true_when_solved_false_otherwise(backend, family):
    env = sim.make(family, backend, image_size=SMALL, render=False)
    try:
        for seed in range(3):
            env.reset(seed=seed)
            task, ep, physics = env.unwrapped.env.task, env.unwrapped.episode, env.unwrapped.physics
            assert not task.success(physics, ep), "initial state must not be a success"
            task.solved_state(physics, ep)
            assert task.success(physics, ep), "constructed success state"
            # failure: the target put back on the table far from the goal
            pos, _ = physics.object_pose(ep.target)
            far = np.array([0.7, -0.35 if pos[1] > 0 else 0.35, ep.target_rest_z])
            physics.set_object_pose(ep.target, far)
            assert not task.success(physics, ep), "target on the table, away from the goal"
    finally:
        env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_place_and_stack_need_the_object_released_and_resting(backend):
    for family in ("place", "stack"):
        env = sim.make(family, backend, image_size=SMALL, render=False)
        try:
            env.reset(seed=4)
            task, ep, physics = env.unwrapped.env.task, env.unwrapped.episode, env.unwrapped.physics
            task.solved_state(physics, ep)
            pos, quat = physics.object_pose(ep.target)
            physics.set_object_pose(ep.target, pos + [0, 0, 0.08], quat)  # hovering above
            assert not task.success(physics, ep)
        finally:
            env.close()


@pytest.mark.parametrize("family", FAMILIES)
def test_instruction_names_the_sampled_objects(family):
    for seed in range(20):
        ep = TASKS[family].sample_episode(np.random.default_rng(seed))
        target = ep.scene.object(ep.target)
        assert f"{target.color} {target.category}" in ep.instruction
        if family in ("place", "stack"):
            goal = ep.scene.object(ep.goal)
            assert f"{goal.color} {goal.category}" in ep.instruction
        if family == "push":
            goal = ep.scene.object(ep.goal)
            assert f"{goal.color} zone" in ep.instruction or "area" in ep.instruction
        movable = [o for o in ep.scene.objects if o.movable]
        assert len(movable) >= 2, "at least one distractor"
        pairs = [(o.color, o.category) for o in ep.scene.objects]
        assert len(pairs) == len(set(pairs)), "every object is uniquely describable"


@pytest.mark.parametrize("family", FAMILIES)
def test_heldout_split_is_disjoint_from_train(family):
    held_phrases = HELDOUT_TEMPLATES[family].split("{")[0]
    for seed in range(40):
        train = TASKS[family].sample_episode(np.random.default_rng(seed), "train")
        pairs = {(o.color, o.category) for o in train.scene.objects}
        assert not pairs & set(HELDOUT_OBJECTS), "held-out pairing leaked into train"
        assert not train.instruction.startswith(held_phrases)
        assert not train.heldout_object and not train.heldout_phrasing
        held = TASKS[family].sample_episode(np.random.default_rng(seed), "heldout")
        target = held.scene.object(held.target)
        assert (target.color, target.category) in HELDOUT_OBJECTS
        assert held.instruction.startswith(held_phrases)
    assert len(TEMPLATES[family]) >= 3  # several training phrasings


def test_every_split_samples():
    for family, task in TASKS.items():
        for split in SPLITS:
            ep = task.sample_episode(np.random.default_rng(0), split)
            assert ep.split == split and ep.family == family
    with pytest.raises(ValueError, match="unknown split"):
        TASKS["pick"].sample_episode(np.random.default_rng(0), "validation")


def test_suite_covers_colours_and_shapes():
    colours, shapes, containers = set(), set(), set()
    for seed in range(60):
        for task in TASKS.values():
            for o in task.sample_episode(np.random.default_rng(seed)).scene.objects:
                (shapes if o.movable else containers).add(o.category)
                colours.add(o.color)
    assert len(colours) >= 6
    assert {"cube", "cylinder"} <= shapes
    assert {"bowl", "bin", "plate", "region"} <= containers


def test_a_crowded_layout_is_redrawn_not_raised():
    # Attempt 1 of `vla data generate --seed 7` (episode seed 369571992) used to stop the whole
    # run: its place scene left no room for a distractor.
    from sim.tasks.pick_place import LayoutFull

    task, seed = TASKS["place"], 369571992
    with pytest.raises(LayoutFull):
        task._sample_scene(np.random.default_rng(seed), "train", (64, 64))
    ep = task.sample_episode(np.random.default_rng(seed), "train", (64, 64))
    again = task.sample_episode(np.random.default_rng(seed), "train", (64, 64))
    assert ep.instruction == again.instruction and ep.scene == again.scene
    # a seed whose first draw fits draws exactly what it drew before the retry existed
    first = task._sample_scene(np.random.default_rng(5), "train", (64, 64))
    assert task.sample_episode(np.random.default_rng(5), "train", (64, 64)).scene == first.scene

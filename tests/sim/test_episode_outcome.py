"""episode_outcome: which object a finished episode handled, from the final object poses."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.tasks.pick_place import MOVED, episode_outcome


@pytest.fixture(scope="module")
def env():
    e = sim.make("place", "mujoco", render=False)
    yield e
    e.close()


def _reset(env, seed: int):
    env.reset(seed=seed)
    u = env.unwrapped
    others = [o.name for o in u.episode.scene.objects
              if o.category in ("cube", "cylinder") and o.name != u.episode.target]  # fmt: skip
    return u, others


def test_untouched_scene_is_nothing_moved(env):
    u, _ = _reset(env, 3)
    outcome, moved = episode_outcome(u.physics, u.episode, success=False)
    assert outcome == "nothing_moved"
    assert u.episode.target in moved and max(moved.values()) < MOVED


def test_moving_a_distractor_is_wrong_object_and_the_target_is_target_moved(env):
    u, others = _reset(env, 4)
    assert others  # every place episode has 1-3 graspable distractors
    pos, _ = u.physics.object_pose(others[0])
    u.physics.set_object_pose(others[0], np.asarray(pos) + [0.0, 0.0, 0.1])
    assert episode_outcome(u.physics, u.episode, success=False)[0] == "wrong_object"
    u, _ = _reset(env, 4)
    pos, _ = u.physics.object_pose(u.episode.target)
    u.physics.set_object_pose(u.episode.target, np.asarray(pos) + [0.0, 0.0, 0.1])
    assert episode_outcome(u.physics, u.episode, success=False)[0] == "target_moved"
    # a success is a success whatever moved
    assert episode_outcome(u.physics, u.episode, success=True)[0] == "success"


def test_target_in_the_other_container_is_wrong_goal(env):
    u, _ = _reset(env, 5)
    other = next(o.name for o in u.episode.scene.objects
                 if o.category in ("bowl", "bin", "plate") and o.name != u.episode.goal)  # fmt: skip
    cpos, _ = u.physics.object_pose(other)
    u.physics.set_object_pose(u.episode.target, np.asarray(cpos) + [0.0, 0.0, 0.05])
    assert episode_outcome(u.physics, u.episode, success=False)[0] == "wrong_goal"
    gpos, _ = u.physics.object_pose(u.episode.goal)  # near the named goal, but not a success
    u.physics.set_object_pose(u.episode.target, np.asarray(gpos) + [0.0, 0.0, 0.3])
    assert episode_outcome(u.physics, u.episode, success=False)[0] == "target_moved"


def test_stack_base_cube_moved_is_goal_moved_not_wrong_object():
    """Stack names two cubes: moving the base (the goal) is its own outcome, a distractor stays
    wrong_object."""
    e = sim.make("stack", "mujoco", render=False)
    try:
        e.reset(seed=6)
        u = e.unwrapped
        assert u.episode.goal in {o.name for o in u.episode.scene.objects if o.category == "cube"}
        pos, _ = u.physics.object_pose(u.episode.goal)
        u.physics.set_object_pose(u.episode.goal, np.asarray(pos) + [0.0, 0.0, 0.1])
        outcome, moved = episode_outcome(u.physics, u.episode, success=False)
        assert outcome == "goal_moved" and moved[u.episode.goal] > MOVED
        e.reset(seed=6)
        others = [o.name for o in u.episode.scene.objects if o.category in ("cube", "cylinder")
                  and o.name not in (u.episode.target, u.episode.goal)]  # fmt: skip
        assert others, "stack episode without a graspable distractor: pick another seed"
        pos, _ = u.physics.object_pose(others[0])
        u.physics.set_object_pose(others[0], np.asarray(pos) + [0.0, 0.0, 0.1])
        assert episode_outcome(u.physics, u.episode, success=False)[0] == "wrong_object"
    finally:
        e.close()


def test_carried_but_never_set_down_is_not_released():
    """The stack expert stopped while it carries the cube (both fingers on it, lifted): a
    failure there is not_released; once the cube is out of the fingers it is not."""
    from sim.experts import make_expert

    e = sim.make("stack", "mujoco", render=False)
    try:
        obs, _ = e.reset(seed=6)
        u = e.unwrapped
        expert = make_expert(e)
        expert.reset()
        start_z = u.physics.object_pose(u.episode.target)[0][2]
        held = False
        for _ in range(u.env.max_steps):
            obs, *_ = e.step(expert.select_action(obs))
            lifted = u.physics.object_pose(u.episode.target)[0][2] > start_z + 0.03
            if lifted and all(u.physics.finger_contacts(u.episode.target)):
                held = True
                break
        assert held, "the stack expert never carried its cube: the test's premise broke"
        assert episode_outcome(u.physics, u.episode, success=False)[0] == "not_released"
        # out of the gripper (moved 15 cm aside): target_moved or wrong_goal by where it lies
        pos, _ = u.physics.object_pose(u.episode.target)
        u.physics.set_object_pose(u.episode.target, np.asarray(pos) + [0.15, 0.0, 0.0])
        assert not any(u.physics.finger_contacts(u.episode.target))
        outcome = episode_outcome(u.physics, u.episode, success=False)[0]
        assert outcome in ("target_moved", "wrong_goal")
    finally:
        e.close()

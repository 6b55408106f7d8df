"""sim's Controller over the robot layer's ArmController, and `import sim` without side effects."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sim_test_params import BACKENDS, SMALL

import sim
from sim.controller import Controller, table_workspace
from vla.robot.controller import WORKSPACE_HIGH, WORKSPACE_LOW, ArmController, ArmState
from vla.robot.kinematics import PandaKinematics


def test_robot_default_workspace_is_the_table_box() -> None:
    """The ROS side clips to the robot layer's default box; the simulator to its table."""
    low, high = table_workspace()
    np.testing.assert_allclose(low, WORKSPACE_LOW, rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, WORKSPACE_HIGH, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_physics_is_an_arm_state_and_gets_the_numpy_models_targets(backend: str) -> None:
    """The same ArmController on the engine and on numpy FK at the engine's joints agrees: the
    simulated arm and the real robot's side emit the same joint targets."""
    env = sim.make("pick", backend, image_size=SMALL, render=False)
    try:
        env.reset(seed=3)
        physics = env.unwrapped.physics
        controller = env.unwrapped.env.controller
        assert isinstance(controller, Controller) and isinstance(physics, ArmState)
        action = np.array([0.03, -0.02, -0.04, 0.1, -0.15, 0.2, 1.0])
        expected = controller.joint_targets(controller.validate(action))
        numpy_arm = PandaKinematics(physics.joint_positions())
        got, closed, _ = ArmController(controller.config).command(numpy_arm, action)
        np.testing.assert_allclose(got, expected, atol=1e-4)
        assert closed
        q_before = physics.joint_positions()
        applied = controller.step(action)
        assert applied.dtype == np.float32 and not np.allclose(physics.joint_positions(), q_before)
    finally:
        env.close()


def test_import_sim_has_no_side_effects() -> None:
    """No MUJOCO_GL set, no gymnasium ids registered, no engine imported by `import sim`; the
    MuJoCo physics sets its EGL default when it is imported, and register_envs() adds the ids."""
    code = (
        "import os, sys, gymnasium as gym, sim\n"
        "print(os.environ.get('MUJOCO_GL'), any(i.startswith('sim/') for i in gym.registry),\n"
        "      'mujoco' in sys.modules, 'pybullet' in sys.modules)\n"
        "import sim.physics.mujoco_physics\n"
        "print(os.environ.get('MUJOCO_GL'), len(sim.register_envs()) > 50,\n"
        "      'sim/PickPlace-pick-mujoco-v0' in gym.registry)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["None False False False", "egl True True"]

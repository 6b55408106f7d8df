"""sim: simulated Franka Panda pick-and-place in MuJoCo and PyBullet.

Public entry points: :func:`sim.make` (a gymnasium environment for one task family and engine)
and :func:`sim.register_envs`, which registers the gymnasium ids
``sim/PickPlace-<family>-<backend>-v0`` (and ``sim/Mt50-<task>-mujoco-v0``) for ``gym.make``.
Importing ``sim`` changes nothing outside it: no gymnasium ids are registered and MUJOCO_GL is
left alone (MuJoCo's renderers default it to ``egl`` where they are made: ``sim.physics.gl``).
"""

from sim.env import BACKENDS, make, register_envs

__all__ = ["BACKENDS", "make", "register_envs"]

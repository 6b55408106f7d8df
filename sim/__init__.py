"""sim: simulated Franka Panda pick-and-place in MuJoCo and PyBullet."""

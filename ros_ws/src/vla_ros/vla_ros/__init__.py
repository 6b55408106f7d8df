"""ROS 2 adapters of the VLA stack; the logic lives in ``vla.ros_core``."""

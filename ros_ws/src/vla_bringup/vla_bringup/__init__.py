"""Launch files and parameter files of the VLA ROS 2 stack (installed to share/vla_bringup)."""

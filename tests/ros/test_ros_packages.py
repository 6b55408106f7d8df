"""Static checks of the ROS 2 packages: manifests, entry points, node shape, launch files, lint.

These hold what `colcon build` / `ros2 launch` would trip over, without ROS installed.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "ros_ws" / "src"
PACKAGES = ("vla_ros", "vla_bringup")
LAUNCH = ROOT / "launch"
LAUNCH_ARGS = {
    "robot.launch.py": {"policy_path", "params_file", "camera_topics", "command_interface",
                        "control_rate", "dry_run", "use_sim"},
    "sim.launch.py": {"policy_path", "params_file", "command_interface", "control_rate",
                      "dry_run", "backend"},
    "teleop_record.launch.py": {"dataset_root", "params_file", "camera_topics", "use_sim",
                                "use_joy", "mcap_path"},
}  # fmt: skip
# executables of other packages a launch file may start (and the package must exec_depend on)
EXTERNAL = {("joy", "joy_node")}


def entry_points(pkg: str) -> dict[str, str]:
    """console_scripts of a package's setup.py, parsed (not executed)."""
    tree = ast.parse((SRC / pkg / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            value = ast.literal_eval(node.value)
            return dict(
                (s.strip() for s in line.split("=", 1)) for line in value["console_scripts"]
            )
    raise AssertionError(f"{pkg}/setup.py has no entry_points")


@pytest.mark.parametrize("pkg", PACKAGES)
def test_package_xml_is_valid_format_3(pkg):
    from catkin_pkg.package import parse_package

    manifest = parse_package(str(SRC / pkg / "package.xml"))
    manifest.validate()
    assert manifest.package_format == 3 and manifest.name == pkg
    assert manifest.get_build_type() == "ament_python"
    assert {"ament_flake8", "ament_pep257", "python3-pytest"} <= {
        d.name for d in manifest.test_depends
    }


@pytest.mark.parametrize("pkg", PACKAGES)
def test_ament_python_layout(pkg):
    d = SRC / pkg
    assert (d / "resource" / pkg).is_file()  # the ament index marker
    assert (d / pkg / "__init__.py").is_file()
    cfg = configparser.ConfigParser()
    cfg.read(d / "setup.cfg")
    assert cfg["develop"]["script_dir"] == f"$base/lib/{pkg}"
    assert cfg["install"]["install_scripts"] == f"$base/lib/{pkg}"
    assert {p.name for p in (d / "test").glob("test_*.py")} >= {
        "test_flake8.py",
        "test_pep257.py",
        "test_copyright.py",
    }


def test_vla_ros_exec_depends_cover_its_imports():
    from catkin_pkg.package import parse_package

    deps = {d.name for d in parse_package(str(SRC / "vla_ros" / "package.xml")).exec_depends}
    imported = set()
    for f in (SRC / "vla_ros" / "vla_ros").glob("*.py"):
        if f.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
    ros = {
        m for m in imported if m.endswith(("_msgs", "_srvs")) or m in ("rclpy", "vla_interfaces")
    }
    assert ros <= deps, f"missing exec_depend: {ros - deps}"


def test_entry_points_name_existing_main_functions():
    eps = entry_points("vla_ros")
    assert set(eps) == {"policy_node", "sim_robot_node", "recorder_node", "heartbeat_node",
                        "teleop_node", "robot_state_node"}  # fmt: skip
    for name, target in eps.items():
        module, func = target.split(":")
        path = SRC / "vla_ros" / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{name}: {path} missing"
        tree = ast.parse(path.read_text())
        funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert func in funcs, f"{name}: {module} has no top-level {func}()"


def _node_classes(tree):
    return [n for n in tree.body if isinstance(n, ast.ClassDef)
            and any(getattr(b, "id", None) == "Node" for b in n.bases)]  # fmt: skip


@pytest.mark.parametrize("module", ["policy_node", "sim_robot_node", "recorder_node",
                                    "heartbeat_node", "teleop_node"])  # fmt: skip
def test_one_node_class_per_file_with_clean_main(module):
    text = (SRC / "vla_ros" / "vla_ros" / f"{module}.py").read_text()
    tree = ast.parse(text)
    assert len(_node_classes(tree)) == 1
    assert "declare_parameter" in text or "declare_config(self" in text
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    body = ast.unparse(main)  # main delegates to the shared runner, which does the cleanup
    assert "run(" in body
    runner = (SRC / "vla_ros" / "vla_ros" / "node_main.py").read_text()
    assert "rclpy.init" in runner and "try_shutdown" in runner and "destroy_node" in runner
    if "Image" in text:  # every image subscription / publication uses sensor-data QoS
        assert "qos_profile_sensor_data" in text


def test_policy_node_is_a_lifecycle_node():
    text = (SRC / "vla_ros" / "vla_ros" / "policy_node.py").read_text()
    tree = ast.parse(text)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "rclpy.lifecycle"
               and "Node" in {a.name for a in n.names} for n in tree.body)  # fmt: skip
    cls = _node_classes(tree)[0]
    methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert {"on_configure", "on_activate", "on_deactivate", "on_cleanup",
            "on_shutdown"} <= methods  # fmt: skip
    # activate/deactivate must call the base class, which (de)activates lifecycle publishers
    for name in ("on_activate", "on_deactivate"):
        fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)
        assert f"super().{name}(state)" in ast.unparse(fn)


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]  # fmt: skip


def _kw(call, name):
    for k in call.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant):
            return k.value.value
    return None


@pytest.mark.parametrize("name", sorted(LAUNCH_ARGS))
def test_launch_file_declares_documented_args_and_real_executables(name):
    tree = ast.parse((LAUNCH / name).read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree.body)  # fmt: skip
    declared = {c.args[0].value for c in _calls(tree, "DeclareLaunchArgument")}
    assert LAUNCH_ARGS[name] <= declared, f"missing: {LAUNCH_ARGS[name] - declared}"
    eps = set(entry_points("vla_ros"))
    for call in _calls(tree, "Node") + _calls(tree, "LifecycleNode"):
        pkg, exe = _kw(call, "package"), _kw(call, "executable")
        assert (pkg == "vla_ros" and exe in eps) or (pkg, exe) in EXTERNAL, (pkg, exe)
    # every params file a launch file names is shipped
    for call in _calls(tree, "config_path"):
        if call.args and isinstance(call.args[0], ast.Constant):
            assert (ROOT / "configs" / "ros" / call.args[0].value).is_file()
    # every lifecycle/other package it imports from is an exec_depend of vla_bringup
    from catkin_pkg.package import parse_package

    deps = {d.name for d in parse_package(str(SRC / "vla_bringup" / "package.xml")).exec_depends}
    used = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert used - {"os"} <= deps | {"launch_ros"}, used - deps


def test_external_executables_are_exec_depends():
    from catkin_pkg.package import parse_package

    deps = {d.name for d in parse_package(str(SRC / "vla_bringup" / "package.xml")).exec_depends}
    assert {pkg for pkg, _ in EXTERNAL} <= deps


def test_bringup_installs_the_top_level_launch_and_config_files():
    pkg = SRC / "vla_bringup"
    assert (pkg / "launch").resolve() == LAUNCH.resolve()
    assert (pkg / "config").resolve() == (ROOT / "configs" / "ros").resolve()
    text = (pkg / "setup.py").read_text()
    assert "glob('launch/*.launch.py')" in text and "glob('config/*.yaml')" in text
    assert sorted(p.name for p in (pkg / "launch").glob("*.launch.py")) == sorted(LAUNCH_ARGS)


def test_readme_documents_build_and_every_launch_file():
    readme = (ROOT / "ros_ws" / "README.md").read_text()
    assert "colcon build" in readme and "Humble" in readme and "Jazzy" in readme
    for name in LAUNCH_ARGS:
        assert f"ros2 launch vla_bringup {name}" in readme


LINT_TARGETS = [SRC / "vla_ros", SRC / "vla_bringup", LAUNCH]


def test_action_server_is_wired_into_the_policy_node():
    text = (SRC / "vla_ros" / "vla_ros" / "instruction_action.py").read_text()
    assert "from vla_interfaces.action import FollowInstruction" in text
    assert "'~/follow_instruction'" in text and "cancel_callback" in text
    assert (
        "InstructionActionServer(self)"
        in (SRC / "vla_ros" / "vla_ros" / "policy_node.py").read_text()
    )


@pytest.mark.parametrize("target", LINT_TARGETS, ids=lambda p: p.name)
def test_ament_flake8(target, monkeypatch):
    main = pytest.importorskip(
        "ament_flake8.main", reason="ament_flake8 not installed (pip install ament-lint-flake8)"
    )
    monkeypatch.chdir(target)
    rc, errors = main.main_with_errors(argv=["."])
    assert rc == 0, "\n".join(errors)


@pytest.mark.parametrize("target", LINT_TARGETS, ids=lambda p: p.name)
def test_ament_pep257(target, monkeypatch):
    main = pytest.importorskip(
        "ament_pep257.main", reason="ament_pep257 not installed (pip install ament-lint-pep257)"
    )
    monkeypatch.chdir(target)
    assert main.main(argv=["."]) == 0


@pytest.mark.parametrize("target", LINT_TARGETS, ids=lambda p: p.name)
def test_ruff_with_ament_rules(target):
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    res = subprocess.run([ruff, "check", str(target)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr

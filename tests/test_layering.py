"""The layers, checked on the source: every import statement (module level or inside a function)
of every module, read with ``ast``, nothing imported.

    vla.constants, vla.robot   numpy only: the robot (facts, kinematics, controller)
        ^            ^
       sim       vla.ros_core   the simulator and the real robot's side: neither imports the other,
                                and ros_core imports no torch
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the file, at any depth; ``from a import b``
    yields ``a.b`` (b may be a module or a name in a)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1]  # what level-1 relative imports name, for a module and an __init__
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the file's package
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return sorted(found)


def _violations(package: str, allowed) -> list[str]:
    """``file:line imports name`` for every import under ``package`` that ``allowed`` rejects."""
    bad = []
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        for line, name in _imports(path):
            if not allowed(name):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return bad


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _robot_allowed(name: str) -> bool:
    return name.split(".")[0] in STDLIB or _under(name, "numpy", "vla.constants", "vla.robot")


def _ros_core_allowed(name: str) -> bool:
    return not _under(name, "sim", "torch")


def _sim_allowed(name: str) -> bool:
    return not _under(name, "vla") or _under(name, "vla.constants", "vla.robot")


def _tokenizers_allowed(name: str) -> bool:
    return not _under(name, "sim", "vla.data")


RULES = {
    "vla.robot": (_robot_allowed, "the robot layer imports only the standard library, numpy, "
                  "vla.constants and vla.robot"),
    "vla.ros_core": (_ros_core_allowed, "vla.ros_core (the real robot's side) imports neither sim "
                     "nor torch: take robot facts from vla.robot, put simulator code in sim/"),
    "sim": (_sim_allowed, "sim imports from vla only vla.constants and vla.robot: move the code "
            "that needs more up into vla/"),
    "vla.tokenizers": (_tokenizers_allowed, "vla.tokenizers sits below the data and the "
                       "simulator: put code that reads datasets or rolls out experts there"),
}  # fmt: skip


@pytest.mark.parametrize("package", sorted(RULES))
def test_layer_imports(package: str) -> None:
    allowed, rule = RULES[package]
    bad = _violations(package, allowed)
    assert not bad, f"{rule}:\n" + "\n".join(bad)


def test_checker_sees_function_local_and_relative_imports(tmp_path: Path, monkeypatch) -> None:
    """The rules would pass vacuously if the walk missed imports hidden in functions."""
    pkg = tmp_path / "vla" / "ros_core"
    pkg.mkdir(parents=True)
    (pkg / "bad.py").write_text(
        "import numpy\n\ndef f():\n    if True:\n        from sim.env import make\n"
        "    from ..robot import panda\n    import torch.nn\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations("vla.ros_core", _ros_core_allowed) == [
        "vla/ros_core/bad.py:5 imports sim.env.make",
        "vla/ros_core/bad.py:7 imports torch.nn",
    ]
    assert _imports(pkg / "bad.py")[2] == (6, "vla.robot.panda")
    assert not _robot_allowed("scipy.spatial") and _robot_allowed("vla.robot.kinematics")
    assert not _sim_allowed("vla.data") and _sim_allowed("vla.constants")


def test_ros_core_and_robot_load_without_sim_or_torch() -> None:
    """At run time too: every vla.ros_core module imported, and nothing pulled sim or torch."""
    code = (
        "import importlib, pkgutil, sys, vla.ros_core as r\n"
        "for m in pkgutil.iter_modules(r.__path__):\n"
        "    importlib.import_module(f'vla.ros_core.{m.name}')\n"
        "import vla.robot.controller\n"
        "print(sorted(m for m in ('sim', 'torch', 'gymnasium', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

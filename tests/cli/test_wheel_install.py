"""`pip install .` as a user gets it: build the wheel from the files a clone has, install it into
a fresh venv, and run the installed `vla` outside the repository.

A fresh venv with all dependencies would download and install torch and the rest (minutes, GBs)
on every CI run. The venv here is fresh where it matters: it is created empty
(``--without-pip``, no ``--system-site-packages``), the wheel goes in with ``--no-deps``, and the
dependencies come from the test's own environment through a ``.pth`` path line. Such a line adds
the directory to ``sys.path`` after the venv's own site-packages and, unlike a site directory,
does not run the ``.pth`` files in it, so the developer's editable install of this repository is
not active there: ``vla`` and ``sim`` resolve to the wheel's copies, which the test checks.
Marked slow (it evaluates one episode); ``.ci/run`` runs it after ``make test``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from vla.constants import SHIPPED_CHECKPOINT, SHIPPED_CHECKPOINT_NAME

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _clone_files(dest: Path) -> None:
    """The tracked files a wheel build reads (what `git clone` gives, minus the checkpoint)."""
    listed = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "setup.py", "README.md", "vla", "sim", "configs"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in listed:
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


def test_wheel_installs_and_runs_outside_the_repository(tmp_path):
    src, wheels, venv, work = (tmp_path / n for n in ("src", "wheels", "venv", "work"))
    for d in (src, wheels, work):
        d.mkdir()
    _clone_files(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)])
    (wheel,) = wheels.glob("vla_stack-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
                     ).stdout.strip())  # fmt: skip
    (site / "_vla_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    # the shipped checkpoint, found through the cache-folder rule (no repository here)
    home = tmp_path / "vla_home"
    (home / "checkpoints").mkdir(parents=True)
    (home / "checkpoints" / SHIPPED_CHECKPOINT_NAME).symlink_to(SHIPPED_CHECKPOINT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VLA_CHECKPOINT")}
    env |= {"VLA_HOME": str(home), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    probe = _run([str(python), "-c", (
        "import json, vla, sim, vla.resources as r; print(json.dumps({'vla': vla.__file__, "
        "'sim': sim.__file__, 'configs': str(r.configs_dir()), 'ckpt': str(r.find_checkpoint()),"
        " 'presets': sorted(p.name for p in r.preset_dir('model').glob('*.yaml'))}))"
    )], cwd=work, env=env)  # fmt: skip
    where = json.loads(probe.stdout)
    for key in ("vla", "sim", "configs"):
        assert where[key].startswith(str(site)), where  # the wheel's copy, not the repository
    assert where["presets"] == sorted(p.name for p in (REPO / "configs" / "model").glob("*.yaml"))
    assert where["ckpt"] == str(home / "checkpoints" / SHIPPED_CHECKPOINT_NAME)

    vla = str(venv / "bin" / "vla")
    assert _run([vla, "--version"], cwd=work, env=env).stdout.startswith("vla ")
    report = work / "eval.json"
    _run([vla, "eval", "--checkpoint", where["ckpt"], "--task", "pick", "--episodes-per-task",
          "1", "--workers", "0", "--no-progress", "--json", str(report)], cwd=work, env=env)  # fmt: skip
    episodes = json.loads(report.read_text())["episode_log"]
    assert len(episodes) == 1 and episodes[0]["task"] == "pick"

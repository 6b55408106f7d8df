"""The declared minimums of transformers and numpy (pyproject.toml) are true: install exactly
those versions (and the huggingface_hub / tokenizers transformers needs) into a private folder
placed first on PYTHONPATH, then run the stack end to end with them (``min_versions_probe.py``).
torch's minimum (2.4: a 5 GB CUDA wheel set on the index) was run through the same probe by
hand.

Needs the package index (skipped when pip cannot download); slow: ``.ci/run`` runs it through
``make test-install``. transformers 4.46.3 fails this probe (``from_pretrained(dtype=...)``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def declared_minimum(package: str) -> str:
    text = (REPO / "pyproject.toml").read_text()
    match = re.search(rf'"{package}>=([0-9.]+)"', text)
    assert match, f"pyproject.toml declares no {package}>= bound"
    return match.group(1)


def test_declared_minimums_run_the_stack(tmp_path):
    version = declared_minimum("transformers")
    numpy_version = declared_minimum("numpy")
    target = tmp_path / "min"
    # transformers 4.x needs huggingface_hub < 1 and tokenizers < 0.23; requests for the hub
    pins = [f"transformers=={version}.*" if version.count(".") == 1 else f"transformers=={version}",
            "huggingface_hub<1.0", "tokenizers<0.23,>=0.22", "requests", "urllib3", "idna",
            "charset_normalizer", "certifi", f"numpy=={numpy_version}.*"]  # fmt: skip
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         *pins], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if pip.returncode != 0:
        pytest.skip(
            f"cannot install transformers {version} / numpy {numpy_version} here: {pip.stderr.strip()[-300:]}"
        )
    env = {**os.environ, "PYTHONPATH": str(target), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("min_versions_probe.py"))],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert out.returncode == 0 and "PROBE OK" in out.stdout, out.stdout + out.stderr[-3000:]
    # the probe ran the minimums, not the venv's versions
    assert f"transformers {version}" in out.stdout and f"numpy {numpy_version}" in out.stdout

"""Packaging beyond what pyproject.toml can say: the repository's ``configs/`` folder ships
inside the wheel as ``vla/configs/`` (package data), so an installed ``vla train`` finds its
presets (``vla.resources.configs_dir``). Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
CONFIG_KINDS = sorted(p.name for p in (ROOT / "configs").iterdir() if p.is_dir())

setup(
    packages=[
        *find_packages(include=["vla", "vla.*", "sim", "sim.*"]),
        "vla.configs",
        *(f"vla.configs.{kind}" for kind in CONFIG_KINDS),
    ],
    package_dir={"vla.configs": "configs"},
    package_data={"": ["*.yaml", "*.json"]},
)

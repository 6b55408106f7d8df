"""Where the presets and the shipped checkpoint are, in a clone and in an installed wheel.

Presets (``configs/``): the repository's ``configs/`` folder when running from a clone (editable
install), else the copy the wheel ships as package data (``vla/configs/``).

The shipped checkpoint (``vla.constants.SHIPPED_CHECKPOINT_NAME``) is looked up in this order:

1. an explicit path (``--checkpoint PATH``);
2. the ``VLA_CHECKPOINT`` environment variable (a checkpoint folder);
3. the repository's ``checkpoints/<name>/`` (a clone, or an editable install);
4. the cache folder ``$VLA_HOME/checkpoints/<name>/`` (``VLA_HOME`` defaults to
   ``$XDG_CACHE_HOME/vla``, i.e. ``~/.cache/vla``): where a pip-installed package finds it after
   the folder is copied there (``cp -r checkpoints/pick_place_v7 ~/.cache/vla/checkpoints/``).
"""

from __future__ import annotations

import os
from pathlib import Path

from vla.constants import SHIPPED_CHECKPOINT_NAME

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
CHECKPOINT_ENV = "VLA_CHECKPOINT"
HOME_ENV = "VLA_HOME"


def configs_dir() -> Path:
    """The ``configs/`` folder: the repository's, else the installed package's copy."""
    for candidate in (REPO_ROOT / "configs", PACKAGE_DIR / "configs"):
        if (candidate / "model").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no presets found (looked in {REPO_ROOT / 'configs'} and {PACKAGE_DIR / 'configs'}): "
        "reinstall the package (`pip install .` ships them) or pass a preset file path"
    )


def preset_dir(kind: str) -> Path:
    """``configs/<kind>`` (model, train, eval, ros)."""
    return configs_dir() / kind


def cache_dir() -> Path:
    """``$VLA_HOME``, else ``$XDG_CACHE_HOME/vla``, else ``~/.cache/vla``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "vla"


def checkpoint_candidates(name: str = SHIPPED_CHECKPOINT_NAME) -> list[tuple[str, Path]]:
    """(rule, path) pairs in lookup order (the explicit flag excluded)."""
    out = []
    if os.environ.get(CHECKPOINT_ENV):
        out.append((f"${CHECKPOINT_ENV}", Path(os.environ[CHECKPOINT_ENV]).expanduser()))
    out.append(("the repository", REPO_ROOT / "checkpoints" / name))
    out.append(("the cache folder", cache_dir() / "checkpoints" / name))
    return out


def find_checkpoint(
    explicit: str | Path | None = None, name: str = SHIPPED_CHECKPOINT_NAME
) -> Path:
    """The checkpoint folder by the documented rule (module docstring); an error lists where it
    looked and how to fix it."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no checkpoint at {path} (expected config.json there)")
        return path
    candidates = checkpoint_candidates(name)
    for rule, path in candidates:
        if (path / "config.json").is_file():
            return path
        if rule.startswith("$"):  # an explicit environment setting that is wrong: say so
            raise FileNotFoundError(f"{rule}={path} holds no checkpoint (no config.json)")
    looked = ", ".join(str(p) for _, p in candidates)
    raise FileNotFoundError(
        f"checkpoint {name} not found (looked in {looked}): pass --checkpoint PATH, set "
        f"{CHECKPOINT_ENV}=PATH, or copy the folder to {cache_dir() / 'checkpoints' / name}"
    )

"""The documented lookup rule of the shipped checkpoint and the presets (vla/resources.py)."""

from __future__ import annotations

import pytest

from vla import resources
from vla.constants import SHIPPED_CHECKPOINT, SHIPPED_CHECKPOINT_NAME


def _fake_checkpoint(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.delenv(resources.CHECKPOINT_ENV, raising=False)
    monkeypatch.setenv(resources.HOME_ENV, str(tmp_path / "home"))
    # a clone: the repository's folder
    assert resources.find_checkpoint() == SHIPPED_CHECKPOINT
    # an explicit path wins; a wrong one is an error naming it
    explicit = _fake_checkpoint(tmp_path / "mine")
    assert resources.find_checkpoint(explicit) == explicit
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        resources.find_checkpoint(tmp_path / "nothing")
    # the environment variable comes before the repository, and must point at a checkpoint
    monkeypatch.setenv(resources.CHECKPOINT_ENV, str(explicit))
    assert resources.find_checkpoint() == explicit
    monkeypatch.setenv(resources.CHECKPOINT_ENV, str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="VLA_CHECKPOINT"):
        resources.find_checkpoint()
    monkeypatch.delenv(resources.CHECKPOINT_ENV)
    # no repository (an installed wheel): the cache folder, else an error saying where to put it
    monkeypatch.setattr(resources, "REPO_ROOT", tmp_path / "site-packages")
    with pytest.raises(FileNotFoundError, match="VLA_CHECKPOINT=PATH, or copy the folder to"):
        resources.find_checkpoint()
    cached = _fake_checkpoint(tmp_path / "home" / "checkpoints" / SHIPPED_CHECKPOINT_NAME)
    assert resources.find_checkpoint() == cached


def test_cache_dir_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv(resources.HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert resources.cache_dir() == tmp_path / "vla"


def test_presets_from_the_repository_or_the_package(tmp_path, monkeypatch):
    assert (resources.preset_dir("model") / "tiny.yaml").is_file()
    monkeypatch.setattr(resources, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(resources, "PACKAGE_DIR", tmp_path / "vla")
    with pytest.raises(FileNotFoundError, match="no presets found"):
        resources.configs_dir()
    (tmp_path / "vla" / "configs" / "model").mkdir(parents=True)
    assert resources.configs_dir() == tmp_path / "vla" / "configs"

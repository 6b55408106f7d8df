"""``VLAConfig`` / ``VLAModel`` in the transformers Auto classes (model type ``vla``).

After ``import vla``, a checkpoint folder loads the way transformers users expect::

    import vla  # noqa: F401  (registers the "vla" model type)
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained("checkpoints/pick_place_v7")  # VLAConfig
    model = AutoModel.from_pretrained("checkpoints/pick_place_v7")  # VLAModel (weights only)

``AutoModel`` gives the network; ``vla.policy.Policy.from_pretrained`` adds what a robot needs
around it (action tokenizer, statistics, the instruction encoder, checks).

``import vla`` must stay light (``vla --help`` does not import torch), so the registration runs
when transformers' auto modules are first imported (an import hook installed by ``vla``), or
when ``vla.model`` is imported, whichever comes first.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

MODEL_TYPE = "vla"
_AUTO_MODULES = (
    "transformers.models.auto.configuration_auto",
    "transformers.models.auto.modeling_auto",
)


def register_auto_classes() -> None:
    """Register ``VLAConfig`` with ``AutoConfig`` and ``VLAModel`` with ``AutoModel`` (idempotent)."""
    from transformers import AutoConfig, AutoModel

    from vla.model.config import VLAConfig
    from vla.model.vla_model import VLAModel

    AutoConfig.register(MODEL_TYPE, VLAConfig, exist_ok=True)
    AutoModel.register(VLAConfig, VLAModel, exist_ok=True)


def _after_auto_module_import() -> None:
    model_pkg = sys.modules.get("vla.model")
    if model_pkg is None:
        importlib.import_module("vla.model")  # registers at the end of its import
    elif not getattr(model_pkg.__spec__, "_initializing", False):
        register_auto_classes()
    # else: vla.model is being imported right now and registers when it is complete


class _Loader(importlib.abc.Loader):
    """Wraps the real loader of a transformers auto module: run it, then register."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _after_auto_module_import()


class _AutoImportHook(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loader of transformers' two auto modules."""

    def find_spec(self, name, path, target=None):
        if name not in _AUTO_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def install() -> None:
    """Register now if transformers' auto modules are loaded, else when they are."""
    if any(name in sys.modules for name in _AUTO_MODULES):
        _after_auto_module_import()
    if not any(isinstance(f, _AutoImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _AutoImportHook())

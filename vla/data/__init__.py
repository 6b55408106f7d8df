"""LeRobotDataset v3 datasets: writer, reader, PyTorch Dataset (demonstration generation, which
drives the simulator, is the layer above: ``vla.rollout.generate``).

Public API::

    from vla.data import DatasetWriter, LeRobotDatasetReader, LeRobotTorchDataset
    from vla.data import default_features, video_feature, DatasetFormatError

Submodules import torch or PyAV only when used (``vla.data.torch_dataset`` needs torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vla.data.layout import DatasetFormatError, default_features, video_feature
from vla.data.reader import LeRobotDatasetReader
from vla.data.writer import DatasetWriter

if TYPE_CHECKING:
    from vla.data.torch_dataset import EpisodeChunkSampler, LeRobotTorchDataset

__all__ = [
    "DatasetFormatError",
    "DatasetWriter",
    "EpisodeChunkSampler",
    "LeRobotDatasetReader",
    "LeRobotTorchDataset",
    "default_features",
    "video_feature",
]


def __getattr__(name: str):
    if name in ("LeRobotTorchDataset", "EpisodeChunkSampler"):
        from vla.data import torch_dataset

        return getattr(torch_dataset, name)
    raise AttributeError(f"module 'vla.data' has no attribute {name!r}")

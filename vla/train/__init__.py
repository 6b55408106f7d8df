"""Training: typed config (``TrainConfig``), the loop (``train``), runtime helpers.

from vla.train import load_config, train
summary = train(load_config("configs/train/tiny_cpu.yaml", ["--dataset=DIR"]))
"""

from vla.train.config import TrainConfig, load_config, parse_overrides
from vla.train.trainer import train

__all__ = ["TrainConfig", "load_config", "parse_overrides", "train"]

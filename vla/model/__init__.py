"""The VLA model: config, vision towers, text encoders and the fusion decoder with action head.

from vla.model import VLAConfig, VLAModel
"""

from vla.model.config import DECODE_MODES, VLAConfig
from vla.model.text import (
    InstructionEmbeddings,
    MiniLMEncoder,
    MissingInstructionError,
    WordVocab,
    precompute_instruction_embeddings,
)
from vla.model.vla_model import VLAModel
from vla.registration import register_auto_classes

register_auto_classes()  # AutoConfig / AutoModel know model_type "vla" (vla.registration)

__all__ = [
    "DECODE_MODES",
    "InstructionEmbeddings",
    "MiniLMEncoder",
    "MissingInstructionError",
    "VLAConfig",
    "VLAModel",
    "WordVocab",
    "precompute_instruction_embeddings",
    "register_auto_classes",
]

"""Inference: ``Policy`` (checkpoint + input chain + tokenizer + chunk broker) and checkpoints.

from vla.policy import Policy
policy = Policy.from_pretrained(path, device="cpu", decode="parallel")
"""

from vla.policy.checkpoint import PolicyMeta, save_policy
from vla.policy.policy import Policy, build_text_encoder
from vla.policy.transforms import input_transforms
from vla.robot.chunks import ChunkBroker

__all__ = [
    "ChunkBroker",
    "Policy",
    "PolicyMeta",
    "build_text_encoder",
    "input_transforms",
    "save_policy",
]

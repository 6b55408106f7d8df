"""Fast inference: ``FastPolicy`` (static shapes, bf16, CUDA graphs) and its cost model / bench.

from vla.inference import FastPolicy
fast = FastPolicy.from_pretrained("checkpoints/pick_place", device="cuda")
chunk = fast.act(obs)  # (H, D), same API as vla.policy.Policy
"""

from vla.inference.fast_policy import FastConfig, FastPolicy

__all__ = ["FastConfig", "FastPolicy"]

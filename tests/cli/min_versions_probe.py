"""Run by tests/cli/test_min_versions.py with the declared minimum versions first on the path:
the shipped policy acts in simulation; an autoregressive model trains one step and decodes with
its KV cache; save + reload gives the same tokens. Prints the versions and PROBE OK."""

import tempfile

import numpy as np
import torch
import transformers

import sim
from vla.constants import SHIPPED_CHECKPOINT
from vla.model import VLAConfig, VLAModel
from vla.policy import Policy

print("transformers", transformers.__version__, "torch", torch.__version__, "numpy", np.__version__)
env = sim.make("pick", "mujoco", seed=0, image_size=(128, 128))
obs, _ = env.reset(seed=0)
policy = Policy.from_pretrained(SHIPPED_CHECKPOINT, device="cpu")
chunk = policy.act(obs)
assert chunk.shape[1] == 7 and np.isfinite(chunk).all(), chunk
print("parallel policy ok", chunk[0])
torch.manual_seed(0)
cfg = VLAConfig(
    image_size=(32, 32),
    cnn_channels=[8, 16],
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    intermediate_size=128,
    decode_mode="autoregressive",
)
model = VLAModel(cfg)
B = 2
batch = dict(
    images=torch.rand(B, 2, 3, 32, 32),  # normalised floats, as the input transforms give
    state=torch.randn(B, 15),
    text=torch.randn(B, 5, 384),
    text_mask=torch.ones(B, 5, dtype=torch.bool),
)
out = model(**batch, action_tokens=torch.randint(0, 256, (B, cfg.max_action_tokens)))
out["loss"].backward()
model.eval()
with torch.no_grad():
    ids = model.predict_tokens(**batch)
print("autoregressive ok", tuple(ids.shape))
with tempfile.TemporaryDirectory() as d:
    model.save_pretrained(d)
    again = VLAModel.from_pretrained(d)
    with torch.no_grad():
        assert torch.equal(again.predict_tokens(**batch), ids)
print("PROBE OK")

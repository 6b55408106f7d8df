"""`import vla` registers the model with the transformers Auto classes: AutoConfig and AutoModel
load the shipped checkpoint folder, whichever of vla and transformers is imported first; the
model card carries its metadata block."""

from __future__ import annotations

import subprocess
import sys

from vla.constants import SHIPPED_CHECKPOINT

CHECK = """
import torch
from safetensors.torch import load_file
{imports}
config = AutoConfig.from_pretrained({path!r})
model = AutoModel.from_pretrained({path!r})
assert type(config).__name__ == "VLAConfig" and type(model).__name__ == "VLAModel"
assert config.model_type == "vla" and config.hidden_size == 384
stored = load_file({path!r} + "/model.safetensors")
state = model.state_dict()
assert stored and all(torch.equal(state[k].float(), v.float()) for k, v in stored.items())
print("AUTO OK", len(stored))
"""


def _check(imports: str) -> None:
    code = CHECK.format(imports=imports, path=str(SHIPPED_CHECKPOINT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0 and "AUTO OK" in out.stdout, out.stderr[-2000:]


def test_auto_classes_after_import_vla():
    _check("import vla\nfrom transformers import AutoConfig, AutoModel")


def test_auto_classes_when_transformers_comes_first():
    _check("from transformers import AutoConfig, AutoModel\nimport vla")


def test_model_card_metadata():
    from huggingface_hub import ModelCard

    card = ModelCard.load(SHIPPED_CHECKPOINT / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0" and data["pipeline_tag"] == "robotics"
    assert data["library_name"] == "vla-stack" and "robotics" in data["tags"] and data["datasets"]
    assert {r.metric_value for r in card.data.eval_results} == {0.91, 0.82}
    assert "AutoModel.from_pretrained" in card.text and "Policy.from_pretrained" in card.text

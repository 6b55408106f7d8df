"""State options of VLAModel: ``use_state=False`` (no state token) and the learned "no state"
embedding used by training's ``state_dropout``."""

from __future__ import annotations

import pytest
import torch
from test_vla_model import VOCAB, B, inputs, tiny_config

from vla.model import VLAConfig, VLAModel


def test_without_state_the_prefix_has_no_state_token_and_state_is_ignored(tmp_path):
    torch.manual_seed(0)
    with_state = VLAModel(tiny_config()).eval()
    model = VLAModel(tiny_config(use_state=False)).eval()
    assert not hasattr(model, "state_proj") and not hasattr(model, "no_state")
    images, state, text, mask = inputs()
    p_with, _ = with_state.embed_prefix(images, state, text, mask)
    p, valid = model.embed_prefix(images, None, text, mask)
    assert p.shape[1] == p_with.shape[1] - 1 and valid.shape == p.shape[:2]
    with torch.no_grad():
        a = model(images, state, text, mask)["logits"]
        b = model(images, state * 0 + 7.0, text, mask)["logits"]  # any state: same actions
    assert torch.equal(a, b)
    # the checkpoint records it; inference after reload respects it
    model.save_pretrained(tmp_path)
    again = VLAModel.from_pretrained(str(tmp_path), dtype=torch.float32).eval()
    assert again.config.use_state is False
    assert torch.equal(again.predict_tokens(images, None, text, mask), a.argmax(-1))


def test_state_drop_replaces_the_state_token_per_sample():
    torch.manual_seed(0)
    model = VLAModel(tiny_config()).eval()
    images, state, text, mask = inputs()
    other = state + 3.0
    drop = torch.tensor([True, False])
    with torch.no_grad():
        a = model(images, state, text, mask, state_drop=drop)["logits"]
        b = model(images, other, text, mask, state_drop=drop)["logits"]
        c = model(images, state, text, mask)["logits"]
    assert torch.allclose(a[0], b[0], atol=1e-6)  # dropped: the state no longer matters
    assert not torch.allclose(a[1], b[1])  # kept: it still does
    assert torch.equal(a[1], c[1]) and not torch.allclose(a[0], c[0])
    # the "no state" embedding is trained by the dropped samples
    model.train()
    targets = torch.randint(0, VOCAB, (B, 6))
    model(images, state, text, mask, targets, state_drop=drop)["loss"].backward()
    assert model.no_state.weight.grad.abs().sum() > 0


def test_use_state_must_be_a_bool_and_state_drop_needs_a_state():
    with pytest.raises(ValueError, match="use_state"):
        VLAConfig(use_state="no")
    model = VLAModel(tiny_config(use_state=False))
    with pytest.raises(ValueError, match="use_state=True"):
        model(*inputs(), state_drop=torch.ones(B, dtype=torch.bool))


def test_checkpoints_without_the_no_state_embedding_still_load(tmp_path):
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    model = VLAModel(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    weights = load_file(str(tmp_path / "model.safetensors"))
    del weights["no_state.weight"]  # as saved before state_dropout existed
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    again = VLAModel.from_pretrained(str(tmp_path), dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(model(*inputs())["logits"], again(*inputs())["logits"])

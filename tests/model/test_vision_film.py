"""vision_film: the instruction modulates the CNN (FiLM); identity at init, text-dependent after
training, saved and loaded with the checkpoint, and rejected where it cannot apply."""

from __future__ import annotations

import pytest
import torch

from tests.model.test_vla_model import VOCAB, B, inputs, tiny_config
from vla.model import VLAConfig, VLAModel
from vla.train.build import _same_architecture


def test_film_starts_as_the_identity():
    """At init gamma = beta = 0: the FiLM model's vision tokens equal a plain tower's with the
    same conv weights, whatever the instruction."""
    torch.manual_seed(0)
    film = VLAModel(tiny_config(vision_film=True)).eval()
    plain = VLAModel(tiny_config()).eval()
    missing, unexpected = plain.load_state_dict(film.state_dict(), strict=False)
    assert not missing and all(".film." in k for k in unexpected) and unexpected
    images, state, text, mask = inputs()
    with torch.no_grad():
        a, _ = film.embed_prefix(images, state, text, mask)
        b, _ = plain.embed_prefix(images, state, text, mask)
    assert torch.allclose(a, b, atol=1e-6)


def test_film_vision_tokens_depend_on_the_instruction_and_ignore_padding():
    torch.manual_seed(0)
    model = VLAModel(tiny_config(vision_film=True)).eval()
    torch.nn.init.normal_(model.vision.tower.film.mlp[-1].weight, std=0.05)  # as if trained
    images, state, text, mask = inputs()
    n_vis = model.config.num_cameras * model.config.tokens_per_camera
    other = torch.randn_like(text)
    padded = text.clone()
    padded[1, 3:] = 50.0  # garbage under the padding mask
    with torch.no_grad():
        a = model.embed_prefix(images, state, text, mask)[0][:, :n_vis]
        b = model.embed_prefix(images, state, other, mask)[0][:, :n_vis]
        c = model.embed_prefix(images, state, padded, mask)[0][:, :n_vis]
    assert (a - b).abs().max() > 1e-3  # another instruction -> other vision tokens
    assert torch.allclose(a, c, atol=1e-5)  # padded positions do not leak into the pooling


def test_film_gets_gradients_and_roundtrips(tmp_path):
    torch.manual_seed(0)
    model = VLAModel(tiny_config(vision_film=True))
    out = model(*inputs(), torch.randint(0, VOCAB, (B, 6)))
    out["loss"].backward()
    grad = model.vision.tower.film.mlp[-1].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    model.eval().save_pretrained(tmp_path)
    again = VLAModel.from_pretrained(str(tmp_path), dtype=torch.float32).eval()
    assert again.config.vision_film is True
    with torch.no_grad():
        assert torch.equal(model(*inputs())["logits"], again(*inputs())["logits"])


def test_film_bad_config_names_the_fix():
    with pytest.raises(ValueError, match="vision_backbone='cnn'"):
        tiny_config(vision_backbone="siglip", siglip_patch_size=8, vision_film=True)
    with pytest.raises(ValueError, match="vision_film must be true or false"):
        tiny_config(vision_film="yes")
    assert VLAConfig().vision_film is False  # old checkpoints (no field) load text-agnostic


def test_config_from_before_the_pooling_choice_left_loads_or_names_the_fix():
    """config.json files of earlier checkpoints (pick_place_v7 included) name film_pool='mean'
    and film_queries; they load as before. The query pooling is gone: a config asking for it
    is refused rather than silently run with the mean."""
    cfg = tiny_config(vision_film=True, film_pool="mean", film_queries=2)
    assert not hasattr(cfg, "film_pool") and "film_queries" not in cfg.to_dict()
    with pytest.raises(ValueError, match="only 'mean' pooling"):
        tiny_config(vision_film=True, film_pool="queries")


def test_warm_start_keeps_the_architecture():
    model = VLAModel(tiny_config(vision_film=True, use_state=False))
    assert _same_architecture(model, {"vision_film": True, "use_state": False}) is model
    with pytest.raises(ValueError, match=r"hidden_size.*train from scratch"):
        _same_architecture(model, {"hidden_size": 128})
    with pytest.raises(ValueError, match=r"use_state.*train from scratch"):
        _same_architecture(model, {"use_state": True})

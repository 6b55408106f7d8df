"""vision_film: the instruction modulates the CNN (FiLM); identity at init, text-dependent after
training, saved and loaded with the checkpoint, and rejected where it cannot apply."""

from __future__ import annotations

import pytest
import torch

from tests.model.test_vla_model import VOCAB, B, inputs, tiny_config
from vla.model import VLAConfig, VLAModel
from vla.model.grow import apply_init_overrides, grow_film_queries, grow_state_token


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


def test_query_pooling_ignores_padding_learns_and_roundtrips(tmp_path):
    """film_pool='queries': K learned queries attend over the valid text tokens; their outputs,
    concatenated, feed FiLM (identity at init like the mean pooling)."""
    torch.manual_seed(0)
    model = VLAModel(tiny_config(vision_film=True, film_pool="queries", film_queries=2))
    images, state, text, mask = inputs()
    txt, cond = model.embed_text(text, mask)
    assert cond.shape == (B, 2 * model.config.hidden_size)
    padded = text.clone()
    padded[1, 3:] = 50.0  # garbage under the padding mask
    assert torch.allclose(cond, model.embed_text(padded, mask)[1], atol=1e-5)
    plain = VLAModel(tiny_config()).eval()
    plain.load_state_dict(model.state_dict(), strict=False)
    with torch.no_grad():  # identity at init: the vision tokens of a text-agnostic tower
        a = model.eval().embed_prefix(images, state, text, mask)[0]
        b = plain.embed_prefix(images, state, text, mask)[0]
    assert torch.allclose(a, b, atol=1e-6)
    model.train()
    model(*inputs(), torch.randint(0, VOCAB, (B, 6)))["loss"].backward()
    assert model.vision.tower.film.mlp[-1].weight.grad.abs().sum() > 0
    torch.nn.init.normal_(model.vision.tower.film.mlp[-1].weight, std=0.05)  # as if trained
    model.film_queries.grad = None
    model(*inputs(), torch.randint(0, VOCAB, (B, 6)))["loss"].backward()
    assert model.film_queries.grad.abs().sum() > 0  # the queries learn once FiLM is live
    model.eval().save_pretrained(tmp_path)
    again = VLAModel.from_pretrained(str(tmp_path), dtype=torch.float32).eval()
    assert again.config.film_pool == "queries" and again.config.film_queries == 2
    with torch.no_grad():
        assert torch.equal(model(*inputs())["logits"], again(*inputs())["logits"])


def test_film_pool_bad_config_names_the_choices():
    with pytest.raises(ValueError, match="film_pool='max'.*mean"):
        tiny_config(vision_film=True, film_pool="max")
    with pytest.raises(ValueError, match="film_queries must be >= 1"):
        tiny_config(vision_film=True, film_pool="queries", film_queries=0)


def _trained_mean_film_model() -> VLAModel:
    torch.manual_seed(0)
    model = VLAModel(tiny_config(vision_film=True))
    for p in model.vision.tower.film.parameters():  # as if trained: every FiLM weight live
        torch.nn.init.normal_(p, std=0.05)
    return model.eval()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_grow_film_queries_keeps_the_function_and_can_learn(k, tmp_path):
    """A mean-pooled FiLM model grown to film_pool='queries' predicts exactly what it did
    (padding included), and the new query path gets gradients once it trains."""
    mean = _trained_mean_film_model()
    grown = grow_film_queries(mean, k).eval()
    assert grown.config.film_pool == "queries" and grown.config.film_queries == k
    assert mean.config.film_pool == "mean"  # the source is left as it was
    images, state, text, mask = inputs()
    with torch.no_grad():
        want, got = mean(images, state, text, mask)["logits"], grown(images, state, text, mask)
        assert torch.allclose(want, got["logits"], atol=1e-5)
        # the FiLM modulation really is in play: another instruction changes the logits
        other = mean(images, state, torch.randn_like(text), mask)["logits"]
        assert (want - other).abs().max() > 1e-3
    grown.train()
    grown(images, state, text, mask, torch.randint(0, VOCAB, (B, 6)))["loss"].backward()
    assert grown.film_key.weight.grad.abs().sum() > 0  # K leaves 0 -> the queries specialise
    extra = grown.vision.tower.film.mlp[-1].weight.grad[:, mean.config.hidden_size :]
    assert k == 1 or extra.abs().sum() > 0  # the added hidden units are not dead
    grown.eval().save_pretrained(tmp_path)
    again = VLAModel.from_pretrained(str(tmp_path), dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.allclose(again(images, state, text, mask)["logits"], want, atol=1e-5)


def test_init_overrides_grow_or_name_what_cannot_change():
    mean = _trained_mean_film_model()
    same = {"vision_film": True, "film_pool": "mean", "hidden_size": 64}
    assert apply_init_overrides(mean, same) is mean
    grown = apply_init_overrides(mean, {"film_pool": "queries", "film_queries": 3})
    assert grown.config.film_queries == 3
    with pytest.raises(ValueError, match=r"hidden_size.*train from scratch"):
        apply_init_overrides(mean, {"hidden_size": 128})
    with pytest.raises(ValueError, match="film_pool='mean'"):
        grow_film_queries(VLAModel(tiny_config()))  # no FiLM to grow


def test_grow_state_token_keeps_the_weights_and_the_state_path_learns():
    """v6 has no state token; a warm start may add one (--model.use_state=true). The trained
    weights carry over, the zero-initialised projection makes the state irrelevant at first,
    and one optimiser step makes it matter."""
    torch.manual_seed(0)
    old = VLAModel(tiny_config(vision_film=True, use_state=False))
    grown = apply_init_overrides(old, {"use_state": True})
    assert grown.config.use_state and not old.config.use_state
    new_sd = grown.state_dict()
    for k, v in old.state_dict().items():
        assert torch.equal(new_sd[k], v), k
    images, state, text, mask = inputs()
    grown.eval()
    with torch.no_grad():
        a = grown(images, state, text, mask)["logits"]
        b = grown(images, torch.randn_like(state), text, mask)["logits"]
    assert torch.equal(a, b)  # the projection is zero: any state gives the same token

    grown.train()
    targets = torch.randint(0, VOCAB, (B, 6))
    loss = grown(images, state, text, mask, action_tokens=targets)["loss"]
    loss.backward()
    assert grown.state_proj.weight.grad.abs().sum() > 0
    torch.optim.SGD(grown.parameters(), lr=1.0).step()
    grown.eval()
    with torch.no_grad():
        a = grown(images, state, text, mask)["logits"]
        b = grown(images, torch.randn_like(state), text, mask)["logits"]
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="use_state=False"):
        grow_state_token(grown)

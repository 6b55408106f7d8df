"""VLAModel: shapes, both decoding modes, attention structure, save/load, loaded backbones."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaModel

from vla.model import VLAConfig, VLAModel

B, L, VOCAB = 2, 5, 16


def tiny_config(**kw) -> VLAConfig:
    base = dict(
        image_size=(32, 32), cnn_channels=(8, 16, 32), hidden_size=64, num_layers=2,
        num_heads=4, intermediate_size=128, chunk_size=2, action_dim=3, action_vocab_size=VOCAB,
    )  # fmt: skip
    return VLAConfig(**{**base, **kw})


def targets_and_mask(pad_row: int, pad_from: int):
    """Random (B, 6) target ids with row ``pad_row`` padded (ignored) from ``pad_from`` on."""
    targets = torch.randint(0, VOCAB, (B, 6))
    mask = torch.ones(B, 6, dtype=torch.bool)
    mask[pad_row, pad_from:] = False
    return targets, mask


def inputs(seed: int = 0, text_dim: int = 384):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(B, 2, 3, 32, 32, generator=g)
    state = torch.randn(B, 15, generator=g)
    text = torch.randn(B, L, text_dim, generator=g)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[1, 3:] = False
    return images, state, text, mask


@pytest.mark.parametrize("mode", ["parallel", "autoregressive"])
def test_forward_loss_and_predict_shapes(mode):
    torch.manual_seed(0)
    model = VLAModel(tiny_config(decode_mode=mode))
    targets, mask = targets_and_mask(0, 3)  # padded steps are ignored by the loss
    out = model(*inputs(), targets, mask)
    assert out["logits"].shape[:2] == (B, 6)
    assert torch.isfinite(out["loss"]) and out["loss"] > 0
    out["loss"].backward()
    assert model.vision.tower.stages[0].down[0].weight.grad.abs().sum() > 0
    model.eval()
    ids = model.predict_tokens(*inputs())
    assert ids.shape == (B, 6) and ids.min() >= 0 and ids.max() < VOCAB  # constrained


def test_loss_ignores_masked_targets():
    torch.manual_seed(0)
    model = VLAModel(tiny_config())
    targets = torch.randint(0, VOCAB, (B, 6))
    mask = torch.ones(B, 6, dtype=torch.bool)
    mask[:, 4:] = False
    other = targets.clone()
    other[:, 4:] = (targets[:, 4:] + 1) % VOCAB
    a = model(*inputs(), targets, mask)["loss"]
    b = model(*inputs(), other, mask)["loss"]
    assert torch.allclose(a, b)


def test_autoregressive_has_no_lookahead_and_kv_cache_matches_full_recompute():
    torch.manual_seed(0)
    model = VLAModel(tiny_config(decode_mode="autoregressive")).eval()
    x = inputs()  # sample 1 has text padding: cached positions must skip it too
    t1 = torch.randint(0, VOCAB, (B, 6))
    t2 = t1.clone()
    t2[:, 3:] = (t1[:, 3:] + 5) % VOCAB
    with torch.no_grad():
        l1, l2 = model(*x, t1)["logits"], model(*x, t2)["logits"]
    # position i predicts token i from tokens < i: positions 0..3 must not see the change at 3+
    assert torch.allclose(l1[:, :4], l2[:, :4], atol=1e-5)
    assert not torch.allclose(l1[:, 4:], l2[:, 4:])
    ids = model.predict_tokens(*x)
    with torch.no_grad():  # greedy by full recompute: each position's argmax given the prefix
        ref = model(*x, ids)["logits"][..., :VOCAB].argmax(-1)
    assert torch.equal(ids, ref)


def test_autoregressive_eos_ends_the_sequence():
    torch.manual_seed(0)
    model = VLAModel(tiny_config(decode_mode="autoregressive")).eval()
    with torch.no_grad():
        model.action_head.bias[model.config.eos_id] = 1e4  # the model wants to stop at once
    ids = model.predict_tokens(*inputs(), allow_eos=True)
    assert (ids == model.config.eos_id).all()
    ids = model.predict_tokens(*inputs(), allow_eos=False)  # fixed length: EOS is masked out
    assert ids.max() < VOCAB


def test_text_padding_is_ignored_and_prefix_is_bidirectional():
    torch.manual_seed(0)
    model = VLAModel(tiny_config()).eval()
    images, state, text, mask = inputs()
    noisy = text.clone()
    noisy[1, 3:] = 100.0  # garbage under the padding mask
    with torch.no_grad():
        a = model(images, state, text, mask)["logits"]
        b = model(images, state, noisy, mask)["logits"]
    assert torch.allclose(a, b, atol=1e-5)
    # padding to a longer instruction (as a batch with a longer one does) changes nothing
    longer = torch.cat([text, torch.randn(B, 4, 384)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(B, 4, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        c = model(images, state, longer, longer_mask)["logits"]
    assert torch.allclose(a, c, atol=1e-5)
    # the prefix is bidirectional: vision tokens see the instruction (which comes after them)
    p, valid = model.embed_prefix(images, state, text, mask)
    m = model.prefix_lm_mask(valid, p.shape[1], causal_suffix=False)
    assert m[0, 0, 0, p.shape[1] - 1]  # first vision token attends to the state token


def test_siglip_backbone_and_trainable_text():
    torch.manual_seed(0)
    cfg = tiny_config(vision_backbone="siglip", siglip_patch_size=8, siglip_layers=1,
                      text_encoder="trainable", text_vocab_size=10)  # fmt: skip
    model = VLAModel(cfg)
    assert cfg.tokens_per_camera == 16
    images, state, _, mask = inputs()
    ids = torch.randint(0, 10, (B, L))
    out = model(images, state, ids, mask, torch.randint(0, VOCAB, (B, 6)))
    assert torch.isfinite(out["loss"])


def test_save_and_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = VLAModel(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    again = VLAModel.from_pretrained(str(tmp_path), dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(model(*inputs())["logits"], again(*inputs())["logits"])


def test_loads_pretrained_llama_backbone_from_local_folder(tmp_path):
    torch.manual_seed(1)
    lcfg = LlamaConfig(vocab_size=32, hidden_size=48, intermediate_size=96, num_hidden_layers=1,
                       num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    LlamaModel(lcfg).save_pretrained(tmp_path / "backbone")
    reference = LlamaModel.from_pretrained(str(tmp_path / "backbone"))
    model = VLAModel.from_backbone(tiny_config(), tmp_path / "backbone")
    assert model.config.hidden_size == 48
    w = model.backbone.layers[0].self_attn.k_proj.weight
    assert w.shape == (24, 48)  # grouped-query attention from the loaded config
    assert torch.equal(w, reference.layers[0].self_attn.k_proj.weight)
    out = model(*inputs(), torch.randint(0, VOCAB, (B, 6)))
    assert torch.isfinite(out["loss"])
    # the checkpoint carries the architecture: it reloads without the backbone folder
    model.save_pretrained(tmp_path / "vla")
    import shutil

    shutil.rmtree(tmp_path / "backbone")
    again = VLAModel.from_pretrained(str(tmp_path / "vla"), dtype=torch.float32)
    assert torch.equal(again.backbone.layers[0].self_attn.k_proj.weight, w)


def test_config_errors_name_the_fix():
    with pytest.raises(ValueError, match="divisible"):
        tiny_config(image_size=(30, 30))
    with pytest.raises(ValueError, match="decode_mode"):
        tiny_config(decode_mode="beam")
    with pytest.raises(ValueError, match="text_vocab_size"):
        tiny_config(text_encoder="trainable")
    with pytest.raises(FileNotFoundError, match="LlamaModel"):
        VLAModel.from_backbone(tiny_config(), "/nonexistent/backbone")


def test_default_size_is_in_budget():
    model = VLAModel(VLAConfig())
    n = model.num_trainable_parameters()
    assert 8e6 < n < 25e6
    assert n * 2 < 50e6  # fp16 checkpoint bytes


def test_hl_gauss_targets_are_distributions_peaked_at_the_target():
    from vla.model.vla_model import hl_gauss_targets

    target = torch.tensor([0, 7, 15, VOCAB])  # an edge bin, an inner bin, the last bin, EOS
    soft = hl_gauss_targets(target, VOCAB, VOCAB + 2, sigma=1.0)
    assert soft.shape == (4, VOCAB + 2) and torch.allclose(soft.sum(-1), torch.ones(4))
    assert soft[:3].argmax(-1).tolist() == [0, 7, 15] and (soft[:3, VOCAB:] == 0).all()
    assert torch.allclose(soft[1, 6], soft[1, 8]) and soft[1, 6] < soft[1, 7]  # symmetric inside
    assert soft[1, 7] == pytest.approx(0.383, abs=1e-3)  # N(0, 1) mass in [-0.5, 0.5]
    assert soft[3].tolist() == [0.0] * VOCAB + [1.0, 0.0]  # EOS stays one-hot
    narrow = hl_gauss_targets(target[:3], VOCAB, VOCAB, sigma=0.01)
    assert torch.allclose(narrow, torch.nn.functional.one_hot(target[:3], VOCAB).float())


@pytest.mark.parametrize("mode", ["parallel", "autoregressive"])
def test_soft_label_loss_reduces_to_cross_entropy_and_prefers_near_misses(mode):
    torch.manual_seed(0)
    from vla.model.vla_model import hl_gauss_targets

    model = VLAModel(tiny_config(decode_mode=mode))
    targets, mask = targets_and_mask(0, 4)
    hard = model(*inputs(), targets, mask)["loss"]
    narrow = model(*inputs(), targets, mask, label_sigma=1e-3)["loss"]
    assert torch.allclose(hard, narrow, atol=1e-5)
    # at a real width: the soft cross-entropy over the kept tokens, bins = the action vocabulary
    # (autoregressive logits also hold BOS/EOS, which get no label mass)
    out = model(*inputs(), targets, mask, label_sigma=1.5)
    logits = out["logits"].float()[mask]
    soft = hl_gauss_targets(targets[mask], VOCAB, logits.shape[-1], 1.5)
    want = -(soft * torch.log_softmax(logits, -1)).sum(-1).mean()
    assert torch.allclose(out["loss"], want, atol=1e-5)
    # logits that put all mass one bin off cost less than two bins off under soft labels only

    t = torch.tensor([8])
    soft = hl_gauss_targets(t, VOCAB, VOCAB, sigma=1.0)
    near, far = torch.full((1, VOCAB), -20.0), torch.full((1, VOCAB), -20.0)
    near[0, 9], far[0, 11] = 20.0, 20.0
    cost = [-(soft * torch.log_softmax(x, -1)).sum() for x in (near, far)]
    assert cost[0] < cost[1]
    assert torch.nn.functional.cross_entropy(near, t) == pytest.approx(
        float(torch.nn.functional.cross_entropy(far, t))
    )

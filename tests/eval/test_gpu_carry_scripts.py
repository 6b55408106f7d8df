"""What a warm start carries to the GPU machine in one call: scripts/gpu_init.py (the checkpoint
as int8, back to an fp16 Policy folder) and scripts/pack_wheels.sh (wheels as one xz archive)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gpu_init", ROOT / "scripts" / "gpu_init.py")
gpu_init = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_init)


def _checkpoint(path: Path) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    weights = {
        "fusion.layers.0.mlp.weight": torch.randn(64, 32, generator=g).half(),
        "vision.conv.weight": (torch.randn(16, 3, 3, 3, generator=g) * 0.05).half(),
        "head.queries": torch.randn(1, 56, 32, generator=g).half(),
        "vision.conv.bias": torch.randn(16, generator=g).half(),
        "dead_row.weight": torch.cat([torch.zeros(1, 8), torch.ones(3, 8)]).half(),
    }
    path.mkdir()
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps({"model_type": "vla"}))
    (path / "stats.json").write_text("{}")
    (path / "action_tokenizer").mkdir()
    (path / "action_tokenizer" / "tokenizer.json").write_text("{}")
    (path / "eval_mujoco.png").write_bytes(b"not needed for a warm start")
    return weights


def test_pack_unpack_round_trip_is_within_half_a_step_per_row(tmp_path):
    weights = _checkpoint(tmp_path / "ckpt")
    gpu_init.pack(tmp_path / "ckpt", tmp_path / "packed")
    packed = load_file(str(tmp_path / "packed" / gpu_init.PACKED))
    assert packed["fusion.layers.0.mlp.weight"].dtype == torch.int8
    assert packed["vision.conv.bias"].dtype == torch.float16  # vectors stay fp16
    assert not (tmp_path / "packed" / "eval_mujoco.png").exists()

    dest = gpu_init.unpack(tmp_path / "packed", tmp_path / "init")
    back = load_file(str(dest / "model.safetensors"))
    assert back.keys() == weights.keys()
    for key, w in weights.items():
        assert back[key].dtype == w.dtype and back[key].shape == w.shape
        rows = gpu_init._rows(w.float())
        err = (gpu_init._rows(back[key].float()) - rows).abs()
        if w.dim() >= 2:  # half a quantisation step of each row, + the fp16 scale and output
            bound = rows.abs().amax(1, keepdim=True) * (1 / 254 + 2**-10) + rows.abs() * 2**-10
            assert (err <= bound).all(), key
            if key != "dead_row.weight":  # (its values are exact in int8)
                assert err.max() > 0  # it was quantised, not copied
        else:
            assert torch.equal(back[key], w)
    assert torch.equal(back["dead_row.weight"][0], torch.zeros(8, dtype=torch.float16))
    assert (dest / "action_tokenizer" / "tokenizer.json").exists()
    assert json.loads((dest / "config.json").read_text()) == {"model_type": "vla"}
    assert not (tmp_path / "init.partial").exists()


def test_unpack_names_the_fix_when_nothing_was_packed(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="gpu_init.py pack"):
        gpu_init.unpack(tmp_path / "empty", tmp_path / "init")
    with pytest.raises(FileNotFoundError, match="Policy checkpoint folder"):
        gpu_init.pack(tmp_path / "empty", tmp_path / "packed")


def _wheel(path: Path, files: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)


@pytest.mark.skipif(shutil.which("xz") is None, reason="needs the xz command")
def test_pack_wheels_archives_the_installed_layout(tmp_path):
    wheels = tmp_path / "whl"
    wheels.mkdir()
    _wheel(wheels / "a-1.0-py3-none-any.whl", {"a/__init__.py": "X = 1\n",
                                               "a-1.0.dist-info/METADATA": "Name: a\n"})  # fmt: skip
    _wheel(wheels / "b-2.0-py3-none-any.whl", {"b.py": "Y = 2\n"})
    script = ROOT / "scripts" / "pack_wheels.sh"
    subprocess.run(["bash", str(script), str(wheels), str(tmp_path / "xz")], check=True,
                   timeout=60)  # fmt: skip
    with tarfile.open(tmp_path / "xz" / "site.tar.xz") as tar:
        names = set(tar.getnames())
    assert {"site/a/__init__.py", "site/a-1.0.dist-info/METADATA", "site/b.py"} <= names
    assert (tmp_path / "xz" / "wheels.txt").read_text().split() == [
        "a-1.0-py3-none-any.whl", "b-2.0-py3-none-any.whl"]  # fmt: skip

    _wheel(wheels / "c-1.0-py3-none-any.whl", {"c-1.0.data/scripts/c": "#!/bin/sh\n"})
    done = subprocess.run(["bash", str(script), str(wheels), str(tmp_path / "xz2")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and ".data folder" in done.stderr


@pytest.mark.slow
def test_pipeline_trains_through_generation_on_cpu(tmp_path):
    """scripts/gpu_pipeline.sh with GROW_S and VAL_EPISODES, shrunk to 2 CPU workers and the
    tiny model: the trainer starts on the first committed episodes, ends having taken in all of
    them, and logs held-out metrics on the validation set generated before it."""
    work = tmp_path / "repo"  # a copy without .gl/: gpu_env.sh would unpack GL .debs into /
    work.mkdir()
    for name in ("scripts", "configs"):
        shutil.copytree(ROOT / name, work / name)
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "MUJOCO_GL": "egl"}
    cache = tmp_path / "text.safetensors"
    subprocess.run([sys.executable, "-m", "vla.cli.main", "text-cache", "--plan-episodes", "200",
                    "--plan-seed", "3", "--plan-seed", "1003", "--out", str(cache)],
                   check=True, env=env, cwd=ROOT)  # fmt: skip
    out, run = tmp_path / "out", tmp_path / "run"
    env |= {"OUT": str(out), "DATA": str(tmp_path / "data"), "RUN": str(run), "SEED": "3",
            "EPISODES": "200", "WORKERS": "2", "GEN_MINUTES": "0.5", "GROW_S": "2",
            "GROW_MIN": "3", "WALL_S": "90", "LOAD_S": "20", "TEXT_CACHE": str(cache),
            "VAL_EPISODES": "3", "VAL_EVERY": "2",
            "TRAIN_ARGS": "--model_preset=tiny --batch_size=4 --decode_workers=1 "
                          "--log_every=2 --warmup_steps=2"}  # fmt: skip
    res = subprocess.run(["bash", "scripts/gpu_pipeline.sh"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=400)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    kept = json.loads((out / "datagen.json").read_text())["episodes_in_dataset"]
    log = [json.loads(x) for x in (run / "main" / "train_log.jsonl").read_text().splitlines()]
    assert kept >= 3 and f"grew to {kept} episodes" in res.stdout
    assert log[-1]["samples"] > log[0]["samples"]  # it took in episodes while it trained
    assert "validation set: 3 episodes" in res.stdout
    assert any("val_bin_error" in rec for rec in log) and "[main] [train] held-out" in res.stdout
    assert sorted(p.name for p in out.glob("ckpt_main.tar.part-*"))  # packed for the trip back

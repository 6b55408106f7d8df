"""Training end to end on a real (small) LeRobot v3 dataset: overfit, resume, budget, modes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from vla_synthetic import TASKS, frame, overrides

from vla.cli.main import main as vla_main
from vla.data.torch_dataset import LeRobotTorchDataset
from vla.policy import Policy
from vla.train import load_config, train
from vla.train.runtime import STATE_FILENAME

PRESET = "configs/train/tiny_cpu.yaml"


def run(dataset, out, *extra):
    return train(load_config(PRESET, overrides(dataset, out, *extra)))


def test_overfits_tiny_dataset_and_policy_reproduces_actions(small_dataset, tmp_path):
    summary = run(
        small_dataset, tmp_path, "--steps=300", "--batch_size=16", "--n_bins=32", "--lr=3e-3",
        "--augment=false", "--log_every=10", "--save_every=1000", "--chunk_size=4",
        "--execution_horizon=2",
    )  # fmt: skip
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < 0.3 * losses[0], losses
    policy = Policy.from_pretrained(summary["final_checkpoint"])
    data = LeRobotTorchDataset(small_dataset, chunk_size=4)  # the decoded training frames
    errors, widths = [], policy.tokenizer.bin_width
    for idx in range(0, len(data), 2):
        sample = data[idx]
        obs = {k: v.numpy() if torch.is_tensor(v) else v for k, v in sample.items()}
        chunk, want = policy.act(obs), obs["action"]
        errors.append(np.abs(chunk - want)[:, :6] / widths[:6])  # in bins
        assert np.array_equal(chunk[:, 6], want[:, 6])  # gripper open/close exact
    errors = np.concatenate(errors)
    assert np.median(errors) <= 1.0 and np.mean(errors <= 1.5) > 0.95, np.mean(errors)


def test_resume_is_exact(dataset, tmp_path):
    common = ("--steps=6", "--save_every=3", "--keep_checkpoints=5", "--batch_size=4")
    run(dataset, tmp_path / "a", *common)
    resumed = run(
        dataset, tmp_path / "b", *common,
        f"--resume={tmp_path / 'a' / 'checkpoints' / 'step_0000003'}",
    )  # fmt: skip
    assert resumed["steps"] == 6 and len(resumed["history"]) == 3 // 10 + 1
    a = torch.load(tmp_path / "a/checkpoints/step_0000006" / STATE_FILENAME, weights_only=False)
    b = torch.load(tmp_path / "b/checkpoints/step_0000006" / STATE_FILENAME, weights_only=False)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["scheduler"] == b["scheduler"] and a["scheduler"]["progress"] == 5 / 6
    # --init_from warm-starts from a Policy folder's (fp16) weights with a fresh optimiser, and
    # keeps the normalisation statistics those weights learned with (not the dataset's)
    stats_path = tmp_path / "a" / "final" / "stats.json"
    learned = json.loads(stats_path.read_text())
    learned["observation.state"]["mean"] = [m + 0.5 for m in learned["observation.state"]["mean"]]
    stats_path.write_text(json.dumps(learned))
    warm = run(dataset, tmp_path / "c", "--steps=3", "--batch_size=4", "--lr=1e-12",
               f"--init_from={tmp_path / 'a' / 'final'}")  # fmt: skip
    assert warm["steps"] == 3
    from safetensors.torch import load_file

    wa = load_file(str(tmp_path / "a/final/model.safetensors"))
    wc = load_file(str(tmp_path / "c/final/model.safetensors"))
    assert all(torch.allclose(wa[k].float(), wc[k].float(), atol=1e-3) for k in wa)
    assert json.loads((tmp_path / "c/final/stats.json").read_text()) == learned
    # --resume=auto picks the latest checkpoint of the output folder: nothing left to do
    again = run(dataset, tmp_path / "a", *common, "--resume=auto")
    assert again["steps"] == 6 and again["history"] == []


def test_ema_weights_ship_follow_the_decay_and_resume_exactly(dataset, tmp_path):
    """--ema_decay=d: every checkpoint's Policy weights (and final/) are the moving average
    e_k = d * e_(k-1) + (1 - d) * w_k of the raw weights w_k, e_1 = w_1; resume restores it."""
    d = 0.6
    common = ("--steps=4", "--save_every=1", "--keep_checkpoints=10", "--batch_size=4",
              f"--ema_decay={d}", "--save_dtype=float32")  # fmt: skip
    run(dataset, tmp_path / "a", *common)
    states = [torch.load(tmp_path / f"a/checkpoints/step_{k:07d}" / STATE_FILENAME,
                         weights_only=False) for k in range(1, 5)]  # fmt: skip
    from safetensors.torch import load_file

    final = load_file(str(tmp_path / "a/final/model.safetensors"))
    moved = 0
    for key, shipped in final.items():
        want = states[0]["model"][key].double()
        for s in states[1:]:
            want = d * want + (1 - d) * s["model"][key].double()
        assert torch.allclose(shipped.double(), want, atol=1e-6), key
        moved += not torch.equal(shipped, states[-1]["model"][key])
    assert moved > 0  # the average is not the last raw weights
    resumed = run(dataset, tmp_path / "b", *common,
                  f"--resume={tmp_path / 'a/checkpoints/step_0000002'}")  # fmt: skip
    assert resumed["steps"] == 4
    b = torch.load(tmp_path / "b/checkpoints/step_0000004" / STATE_FILENAME, weights_only=False)
    for k, v in states[-1]["ema"].items():
        assert torch.equal(v, b["ema"][k]), k
    # a checkpoint trained without the average cannot silently start one mid-run
    plain = ("--batch_size=4", "--warmup_steps=0")
    run(dataset, tmp_path / "c", "--steps=1", *plain)
    with pytest.raises(ValueError, match="trained without ema_decay"):
        run(dataset, tmp_path / "c", "--steps=2", "--ema_decay=0.9", "--resume=auto", *plain)


def test_warm_start_resumes_its_own_run_and_keeps_the_architecture(dataset, tmp_path):
    """--init_from a FiLM checkpoint: the run starts from the same function (here: 1 step at lr
    1e-12 acts like the source); a re-run with --resume=auto goes on from the run's own
    checkpoint; architecture overrides on a warm start are refused with the fix."""
    film = ("--batch_size=4", "--warmup_steps=0", "--model.vision_film=true")
    run(dataset, tmp_path / "a", "--steps=2", *film)
    src = tmp_path / "a" / "final"
    warm = (*film, "--lr=1e-12", f"--init_from={src}", "--resume=auto")
    started = run(dataset, tmp_path / "b", "--steps=1", *warm)
    a, b = Policy.from_pretrained(src), Policy.from_pretrained(started["final_checkpoint"])
    obs = frame(0, 3, 16)
    assert np.array_equal(a.act(obs), b.act(obs))
    # a re-run (--resume=auto) goes on from the run's own checkpoint, not from init_from
    again = run(dataset, tmp_path / "b", "--steps=2", *warm)
    assert again["steps"] == 2 and len(again["history"]) == 1
    with pytest.raises(ValueError, match="not both"):
        run(dataset, tmp_path / "d", *film, f"--init_from={src}",
            f"--resume={tmp_path / 'b' / 'checkpoints' / 'step_0000001'}")  # fmt: skip
    for arch in ("--model.hidden_size=32", "--model.use_state=false"):
        with pytest.raises(ValueError, match="train from scratch"):
            run(dataset, tmp_path / "c", "--steps=1", *film, arch, f"--init_from={src}")


def test_time_budget_stops_cleanly_via_cli(dataset, tmp_path, capsys):
    argv = ["train", "--config", PRESET, *overrides(dataset, tmp_path, "--steps=10000",
            "--max_minutes", "0.0001", "--log_every=1", "--batch_size=4")]  # fmt: skip
    assert vla_main(argv) == 0
    assert "final checkpoint" in capsys.readouterr().out
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert 1 <= log[-1]["step"] < 10000 and log[-1]["samples_per_s"] > 0
    policy = Policy.from_pretrained(tmp_path / "final")
    assert policy.act(frame(0, 0, 16)).shape == (8, 7)
    # resuming a spent time budget: the schedule is finished, training goes on at the floor lr,
    # and the user is told how to start a new schedule instead
    stopped = log[-1]["step"]
    argv = ["train", "--config", PRESET, *overrides(dataset, tmp_path, f"--steps={stopped + 2}",
            "--log_every=1", "--batch_size=4", "--resume=auto", "--max_minutes=5",
            "--warmup_steps=0")]  # fmt: skip
    assert vla_main(argv) == 0
    assert "--init_from" in capsys.readouterr().out
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == stopped + 2 and log[-1]["progress"] == 1.0
    cfg = load_config(PRESET, overrides(dataset, tmp_path))
    assert log[-1]["lr"] == pytest.approx(cfg.lr * cfg.min_lr_ratio)  # the floor


def test_dataloader_path_and_autoregressive_decoding(dataset, tmp_path):
    summary = run(
        dataset, tmp_path, "--steps=3", "--data_mode=loader", "--num_workers=0",
        "--batch_size=4", "--model.decode_mode=autoregressive",
    )  # fmt: skip
    policy = Policy.from_pretrained(summary["final_checkpoint"], decode="autoregressive")
    chunk = policy.act(frame(1, 3, 16))
    assert chunk.shape == (8, 7) and chunk.dtype == np.float32
    with pytest.raises(ValueError, match="autoregressive"):
        Policy.from_pretrained(summary["final_checkpoint"], decode="parallel")


def test_fast_tokenizer_trains_autoregressively(dataset, tmp_path):
    summary = run(
        dataset, tmp_path, "--steps=3", "--batch_size=4", "--tokenizer=fast",
        "--fast_vocab_size=64", "--model.decode_mode=autoregressive",
    )  # fmt: skip
    assert np.isfinite(summary["history"][-1]["loss"])
    cfg = json.loads((tmp_path / "final" / "config.json").read_text())
    assert cfg["max_action_tokens"] < 8 * 7 + 1  # FAST compresses the chunk


def test_precomputed_text_cache_and_missing_instruction(dataset, tmp_path, monkeypatch):
    from vla.model import text as text_mod

    monkeypatch.setattr(text_mod, "minilm_available", lambda: False)  # MiniLM absent
    cache = text_mod.InstructionEmbeddings(32, {TASKS[0]: torch.randn(7, 384)})
    cache.save(tmp_path / "partial.safetensors")
    base = ["--steps=3", "--batch_size=4", "--model.text_encoder=minilm"]
    with pytest.raises(text_mod.MissingInstructionError, match="--text-cache"):
        run(dataset, tmp_path / "a", *base, f"--text_cache={tmp_path / 'partial.safetensors'}")
    full = {t: torch.randn(5 + i, 384) for i, t in enumerate(TASKS)}
    text_mod.InstructionEmbeddings(32, full).save(tmp_path / "full.safetensors")
    summary = run(dataset, tmp_path / "b", *base, f"--text_cache={tmp_path / 'full.safetensors'}")
    # the checkpoint carries the training instructions' states: loads without MiniLM
    policy = Policy.from_pretrained(summary["final_checkpoint"])
    assert policy.act(frame(0, 0, 16)).shape == (8, 7)
    obs = {**frame(0, 0, 16), "task": "an instruction never seen"}
    with pytest.raises(text_mod.MissingInstructionError, match="text-cache"):
        policy.act(obs)


def test_config_validation_names_the_fix(dataset):
    with pytest.raises(ValueError, match="tokenizer"):
        load_config(PRESET, [f"--dataset={dataset}", "--tokenizer=vq"])
    with pytest.raises(ValueError, match="decode_mode=autoregressive"):
        load_config(PRESET, [f"--dataset={dataset}", "--tokenizer=fast"])
    with pytest.raises(ValueError, match="unknown training option"):
        load_config(PRESET, ["--learning_rate=1"])
    with pytest.raises(ValueError, match="--key=value"):
        load_config(PRESET, ["lr=1"])
    with pytest.raises(FileNotFoundError, match="known presets"):
        train(load_config(PRESET, [f"--dataset={dataset}", "--model_preset=huge"]))
    cfg = load_config("configs/train/pick_place.yaml", ["--train.lr=1e-4", "--model.num_layers=2"])
    assert cfg.lr == 1e-4 and cfg.model_fields()["num_layers"] == 2
    assert cfg.model_fields()["hidden_size"] == 384  # from configs/model/small.yaml

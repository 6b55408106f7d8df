"""Policy: checkpoint folder, act / select_action / predict_batch, transforms, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vla.constants import ACTION, EEF_ACTION_NAMES, IMAGE_KEYS, OBS_STATE, STATE_NAMES, TASK
from vla.model import VLAConfig, VLAModel, WordVocab
from vla.policy import ChunkBroker, Policy, PolicyMeta, save_policy
from vla.policy.transforms import AugmentImages, Normalize, ResizeImages, Unnormalize
from vla.tokenizers import BinningActionTokenizer, BinningConfig

H, D = 4, 7
TASKS = ("pick up the red cube", "stack the cubes")


def stats() -> dict:
    rng = np.random.default_rng(0)
    act = rng.uniform(-0.05, 0.05, (200, D))
    act[:, 6] = np.sign(act[:, 6])
    st = rng.normal(0, 1, (200, 15))

    def s(x):
        q = np.quantile(x, [0.01, 0.99], axis=0)
        return {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0),
                "q01": q[0], "q99": q[1]}  # fmt: skip

    return {ACTION: s(act), OBS_STATE: s(st)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    vocab = WordVocab.build(TASKS)
    cfg = VLAConfig(
        image_size=(32, 32), cnn_channels=(8, 16, 32), hidden_size=32, num_layers=1,
        num_heads=2, intermediate_size=64, chunk_size=H, action_dim=D, action_vocab_size=64,
        text_encoder="trainable", text_vocab_size=len(vocab),
    )  # fmt: skip
    st = stats()
    tok = BinningActionTokenizer(st[ACTION], BinningConfig(n_bins=64, gripper_binary=True))
    meta = PolicyMeta(list(IMAGE_KEYS), [32, 32], list(STATE_NAMES), "eef_delta",
                      list(EEF_ACTION_NAMES), chunk_size=H, execution_horizon=2)  # fmt: skip
    out = tmp_path_factory.mktemp("ckpt") / "policy"
    return save_policy(out, VLAModel(cfg), tok, st, meta, text_encoder=vocab)


def obs(seed: int = 0, size=(32, 32), task: str = TASKS[0]) -> dict:
    rng = np.random.default_rng(seed)
    o = {k: rng.integers(0, 256, (*size, 3), dtype=np.uint8) for k in IMAGE_KEYS}
    o[OBS_STATE] = rng.normal(0, 1, 15).astype(np.float32)
    o[TASK] = task
    return o


def test_act_predict_batch_and_metadata(checkpoint):
    policy = Policy.from_pretrained(checkpoint)
    chunk = policy.act(obs(0))
    assert chunk.shape == (H, D) and chunk.dtype == np.float32
    assert set(np.unique(chunk[:, 6])) <= {-1.0, 1.0}  # binary gripper, robot units
    batch = policy.predict_batch([obs(0), obs(1, task=TASKS[1])])
    assert batch.shape == (2, H, D)
    np.testing.assert_allclose(batch[0], chunk, atol=1e-6)  # batching changes nothing
    np.testing.assert_allclose(batch[1], policy.act(obs(1, task=TASKS[1])), atol=1e-6)
    meta = policy.metadata
    assert meta["camera_keys"] == list(IMAGE_KEYS) and meta["image_size"] == [32, 32]
    assert meta["action_space"] == "eef_delta" and meta["control_hz"] == 10.0
    assert meta["chunk_size"] == H and meta["execution_horizon"] == 2
    assert meta["decode"] == "parallel"


def test_select_action_replans_every_k_steps(checkpoint):
    policy = Policy.from_pretrained(checkpoint)
    calls = []
    policy.broker.predict = lambda o: calls.append(1) or policy.act(o)
    policy.reset()
    actions = [policy.select_action(obs(0)) for _ in range(5)]
    assert len(calls) == 3  # steps 0, 2, 4 with execution_horizon 2
    np.testing.assert_allclose(actions[1], policy.act(obs(0))[1], atol=1e-6)
    policy.reset()
    policy.select_action(obs(0))
    assert len(calls) == 4  # reset drops the queue


def test_temporal_ensembling_averages_overlapping_chunks():
    chunks = iter([np.zeros((3, 2)), np.ones((3, 2)), np.full((3, 2), 2.0)])
    broker = ChunkBroker(lambda o: next(chunks), 1, temporal_ensemble=True, ensemble_decay=0.0)
    assert np.allclose(broker.select_action({}), 0.0)
    assert np.allclose(broker.select_action({}), 0.5)  # mean of chunk0[1], chunk1[0]
    assert np.allclose(broker.select_action({}), 1.0)  # mean of 0, 1, 2


def test_bad_input_errors_name_both_sides(checkpoint):
    policy = Policy.from_pretrained(checkpoint)
    with pytest.raises(ValueError, match=r"\(64, 64\).*\(32, 32\)"):
        policy.act(obs(0, size=(64, 64)))
    o = obs(0)
    del o[IMAGE_KEYS[1]]
    with pytest.raises(KeyError, match="expects"):
        policy.act(o)
    with pytest.raises(ValueError, match="empty"):
        policy.act(obs(0, task="   "))
    with pytest.raises(ValueError, match="max_text_tokens"):
        policy.act(obs(0, task=" ".join(["cube"] * 40)))
    with pytest.raises(ValueError, match="'eef_delta'.*'joint_pos'"):
        policy.check_compatible(action_space="joint_pos")
    with pytest.raises(ValueError, match="camera mismatch"):
        policy.check_compatible(camera_keys=["observation.images.front"])
    with pytest.raises(ValueError, match=r"\(32, 32\).*\(128, 128\)"):
        policy.check_compatible(image_size=(128, 128))
    policy.check_compatible("eef_delta", list(IMAGE_KEYS), (32, 32), 10.0)  # all good
    with pytest.raises(ValueError, match="decode='parallel'"):
        Policy.from_pretrained(checkpoint, decode="autoregressive")


def test_missing_statistics_error_names_the_fix(checkpoint, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    (broken / "stats.json").unlink()
    with pytest.raises(FileNotFoundError, match="stats.json"):
        Policy.from_pretrained(broken)
    (broken / "stats.json").write_text('{"action": {"q01": [0], "q99": [1]}}')
    with pytest.raises(KeyError, match="observation.state"):
        Policy.from_pretrained(broken)


def test_inconsistent_checkpoint_is_refused(checkpoint, tmp_path):
    import json

    broken = tmp_path / "mixed"
    shutil.copytree(checkpoint, broken)
    meta = json.loads((broken / "policy_meta.json").read_text())
    meta["chunk_size"], meta["execution_horizon"] = 8, 4
    (broken / "policy_meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="chunk_size.*4 vs 8"):
        Policy.from_pretrained(broken)


def test_checkpoint_is_small_and_half_precision(checkpoint):
    from safetensors import safe_open

    with safe_open(str(checkpoint / "model.safetensors"), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert dtypes == {torch.float16}
    assert (checkpoint / "action_tokenizer" / "action_tokenizer.json").is_file()
    assert (checkpoint / "policy_meta.json").is_file()


def test_normalize_pair_resize_and_augment():
    st = stats()
    norm = Normalize.from_stats(OBS_STATE, st)
    unnorm = Unnormalize.from_stats(OBS_STATE, st)
    x = torch.as_tensor(st[OBS_STATE]["mean"], dtype=torch.float32)[None] + 0.3
    y = norm({OBS_STATE: x})
    assert torch.allclose(unnorm(y)[OBS_STATE], x, atol=1e-5)
    with pytest.raises(KeyError, match="q01"):
        Normalize.from_stats(OBS_STATE, {OBS_STATE: {"mean": [0.0]}}, mode="quantile")
    imgs = torch.randint(0, 256, (2, 64, 48, 3), dtype=torch.uint8)
    out = ResizeImages((IMAGE_KEYS[0],), (32, 32), strict=False)({IMAGE_KEYS[0]: imgs})
    assert out[IMAGE_KEYS[0]].shape == (2, 32, 32, 3) and out[IMAGE_KEYS[0]].dtype == torch.uint8
    images = torch.rand(2, 2, 3, 32, 32)
    same = AugmentImages(0, 0.0, 0.0)({"images": images, "aug_rand": torch.rand(2, 4)})
    assert torch.allclose(same["images"], images)  # zero-strength augmentation is identity
    rand = torch.tensor([[0.0, 1.0, 0.9, 0.1], [0.5, 0.5, 0.5, 0.5]])
    aug = AugmentImages(4, 0.2, 0.2)({"images": images, "aug_rand": rand})["images"]
    assert aug.shape == images.shape and 0 <= aug.min() and aug.max() <= 1
    assert not torch.allclose(aug[0], images[0])
    # sample 1 draws shift 0 and neutral jitter: untouched
    assert torch.allclose(aug[1], images[1], atol=1e-6)

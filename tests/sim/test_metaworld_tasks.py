"""The MT50 suite as data (no metaworld needed): tasks, instructions, difficulty groups, the
protocol file, the dataset format and the text-cache plan."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.env import INSTRUCTION_CHARSET
from sim.tasks import SUITES, TASK_GROUPS, get_task, suite_format
from sim.tasks.metaworld_tasks import MT50, MT50_GROUPS
from vla.constants import ACTION, ACTION_SPACE_METAWORLD, OBS_STATE, POLICY_ACTION_SPACES

PROTOCOL = Path(__file__).resolve().parents[2] / "configs" / "eval" / "mt50.yaml"


def test_fifty_tasks_with_unique_instructions_in_the_charset():
    assert len(SUITES["mt50"]) == 50 and list(SUITES["mt50"]) == sorted(MT50)
    instructions = [t.instruction for t in MT50.values()]
    assert len(set(instructions)) == 50  # a language-conditioned policy can tell all apart
    for text in instructions:
        assert 10 <= len(text) <= 200 and set(text) <= set(INSTRUCTION_CHARSET), text
    assert get_task("mt50", "push-back-v3").instruction != get_task("mt50", "push-v3").instruction


def test_difficulty_groups_partition_the_suite_as_published():
    # Seo et al. (2022) / LeRobot: 28 easy, 11 medium, 6 hard, 5 very hard
    sizes = {g: len(tasks) for g, tasks in MT50_GROUPS.items()}
    assert sizes == {"easy": 28, "medium": 11, "hard": 6, "very_hard": 5}
    members = [t for tasks in MT50_GROUPS.values() for t in tasks]
    assert sorted(members) == sorted(MT50)
    assert TASK_GROUPS["mt50"] is MT50_GROUPS and "pick_place" not in TASK_GROUPS
    assert MT50["shelf-place-v3"].difficulty == "very_hard" and MT50["reach-v3"].max_steps == 500


def test_protocol_file_matches_the_code():
    protocol = yaml.safe_load(PROTOCOL.read_text())
    assert {g: tuple(t) for g, t in protocol["groups"].items()} == MT50_GROUPS
    assert protocol["episodes_per_task"] == 10 and protocol["max_steps"] == 500
    published = protocol["published"]["smolvla_0.45b"]
    groups = [published[g] for g in ("easy", "medium", "hard", "very_hard")]
    assert sum(groups) / 4 == pytest.approx(published["average"], abs=0.05)


def test_suite_format_and_policy_action_space():
    fmt = suite_format("mt50")
    assert (len(fmt.state_names), len(fmt.action_names)) == (4, 4)
    assert fmt.control_hz == 80.0 and fmt.robot_type == "sawyer"
    assert fmt.action_space == ACTION_SPACE_METAWORLD in POLICY_ACTION_SPACES
    assert suite_format("pick_place").control_hz == 10.0
    with pytest.raises(ValueError, match="valid suites"):
        suite_format("mt10")


def test_generate_config_takes_the_suite_format(tmp_path):
    from vla.rollout.generate import GenerateConfig, dataset_features

    cfg = GenerateConfig(out=tmp_path, suite="mt50", progress=False)
    assert cfg.fps == 80.0 and cfg.identity()["fps"] == 80.0
    feats = dataset_features(cfg)
    assert feats[OBS_STATE]["shape"] == [4] and feats[ACTION]["shape"] == [4]
    assert feats[ACTION]["names"] == ["dx", "dy", "dz", "gripper"]
    assert GenerateConfig(out=tmp_path, progress=False).fps == 10.0  # pick_place unchanged
    with pytest.raises(ValueError, match="leave it at 0"):
        GenerateConfig(out=tmp_path, suite="mt50", action_noise=0.3)


def test_text_cache_plan_covers_every_mt50_instruction():
    from vla.cli.text_cache_cmd import plan_instructions

    assert plan_instructions("mt50", ["train"], 50, 0) == {t.instruction for t in MT50.values()}
    assert len(plan_instructions("mt50", ["train"], 3, 0)) == 3  # round-robin: first 3 tasks

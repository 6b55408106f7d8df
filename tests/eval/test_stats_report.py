"""Wilson intervals against published values; the report on synthetic episode results."""

from __future__ import annotations

import json

import pytest

from vla.eval.report import build_report, format_table, plot_success_chart
from vla.eval.stats import wilson_interval
from vla.rollout import EpisodeResult


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Stat. Med. 17:857, Table I example
        (15, 148, 0.0624, 0.1605),  # Newcombe (1998), Table I
        (0, 20, 0.0, 0.1611),  # Newcombe (1998), Table I
        (1, 29, 0.0061, 0.1718),  # Newcombe (1998), Table I
        (10, 10, 0.7225, 1.0),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_edge_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(3, 7)
    assert 0.0 < lo < 3 / 7 < hi < 1.0
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError):
        wilson_interval(-1, 4)


def _synthetic() -> list[EpisodeResult]:
    out = []
    # train: pick 4/5 (lengths 10..14), place 1/5; heldout: pick 2/5
    for i in range(5):
        out.append(EpisodeResult(i, "pick_cube", "pick up the cube", i < 4, 10 + i))
    for i in range(5):
        out.append(EpisodeResult(10 + i, "place_in_bowl", "place it", i == 0, 20))
    for i in range(5):
        out.append(EpisodeResult(20 + i, "pick_cube", "grab the cube", i < 2, 30, split="heldout"))
    return out


def test_report_aggregates_per_split_and_family() -> None:
    info = {"checkpoint": "ckpt", "backend": "mujoco", "seed": 3, "split": "both"}
    report = build_report(_synthetic(), run_info=info, timing={"wall_s": 1.0})
    train, held = report["splits"]["train"], report["splits"]["heldout"]
    assert list(report["splits"]) == ["train", "heldout"]
    assert train["per_task"]["pick_cube"]["success_rate"] == pytest.approx(0.8)
    assert train["per_task"]["pick_cube"]["ci95"] == pytest.approx(list(wilson_interval(4, 5)))
    assert train["per_task"]["pick_cube"]["mean_length"] == pytest.approx(12.0)
    assert train["per_task"]["place_in_bowl"]["successes"] == 1
    assert train["success_rate"] == pytest.approx(0.5) and train["episodes"] == 10
    assert train["ci95"] == pytest.approx(list(wilson_interval(5, 10)))
    assert train["mean_task_success"] == pytest.approx(0.5)
    assert held["success_rate"] == pytest.approx(0.4) and held["episodes"] == 5
    assert list(held["per_task"]) == ["pick_cube"]
    # the top level mirrors the first split (train) and carries the run description
    assert (
        report["success_rate"] == train["success_rate"] and report["per_task"] == train["per_task"]
    )
    assert report["seed"] == 3 and report["backend"] == "mujoco" and report["checkpoint"] == "ckpt"
    assert len(report["episode_log"]) == 15 and report["timing"]["wall_s"] == 1.0
    json.dumps(report)  # serialisable as is


def test_table_lists_every_family_and_totals() -> None:
    report = build_report(_synthetic(), run_info={}, timing={})
    table = format_table(report)
    lines = table.splitlines()
    assert any("pick_cube" in ln and "80.0%" in ln and "train" in ln for ln in lines)
    assert any("place_in_bowl" in ln and "20.0%" in ln for ln in lines)
    assert any(ln.startswith("heldout") and "ALL" in ln and "40.0%" in ln for ln in lines)
    assert sum("ALL" in ln for ln in lines) == 2


def test_chart_is_a_png(tmp_path) -> None:
    report = build_report(_synthetic(), run_info={"backend": "mujoco"}, timing={})
    path = plot_success_chart(report, tmp_path / "chart.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_empty_results_are_an_error() -> None:
    with pytest.raises(ValueError, match="no episode"):
        build_report([], run_info={}, timing={})


def test_outcomes_are_counted_per_family_and_listed_as_failures() -> None:
    kinds = ["success", "wrong_object", "wrong_object", "target_moved"]
    results = [EpisodeResult(i, "pick", "pick it", k == "success", 10, outcome=k)
               for i, k in enumerate(kinds)]  # fmt: skip
    report = build_report(results, run_info={}, timing={})
    block = report["splits"]["train"]
    expected = {"success": 1, "target_moved": 1, "wrong_object": 2}
    assert block["per_task"]["pick"]["outcomes"] == expected and block["outcomes"] == expected
    assert report["episode_log"][1]["outcome"] == "wrong_object"
    table = format_table(report)
    assert "failures" in table and "wrong_object 2" in table and "success 1" not in table
    # suites without a classifier (outcome None) report no outcome counts
    plain = build_report(_synthetic(), run_info={}, timing={})
    assert "outcomes" not in plain["splits"]["train"] and "failures" not in format_table(plain)

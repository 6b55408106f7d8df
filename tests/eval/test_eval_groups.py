"""Per-difficulty averages of the eval report (MT50's groups), on synthetic episode results."""

from __future__ import annotations

import pytest

from sim.tasks import TASK_GROUPS
from vla.eval.report import build_report, format_table
from vla.rollout import EpisodeResult

GROUPS = TASK_GROUPS["mt50"]
# success per task, chosen per group: every easy task 9/10 except reach-v3 (5/10), medium 4/10,
# hard 5/10, very hard 6/10 -> group means 0.8857, 0.4, 0.5, 0.6
RATE = {"easy": 9, "medium": 4, "hard": 5, "very_hard": 6}


def _results(n: int = 10) -> list[EpisodeResult]:
    out = []
    for group, tasks in GROUPS.items():
        for task in tasks:
            k = 5 if task == "reach-v3" else RATE[group]
            out += [EpisodeResult(100 * i, task, "", i < k, 50 + i) for i in range(n)]
    return out


def test_group_means_and_the_mean_over_groups():
    report = build_report(_results(), run_info={"suite": "mt50"}, timing={}, groups=GROUPS)
    train = report["splits"]["train"]
    per_group = train["per_group"]
    assert list(per_group) == ["easy", "medium", "hard", "very_hard"]
    easy = (27 * 0.9 + 0.5) / 28
    assert per_group["easy"]["mean_task_success"] == pytest.approx(easy)
    assert per_group["easy"]["tasks"] == 28 and per_group["easy"]["episodes"] == 280
    assert per_group["medium"]["mean_task_success"] == pytest.approx(0.4)
    assert per_group["very_hard"]["successes"] == 5 * 6
    lo, hi = per_group["hard"]["ci95"]
    assert lo < 0.5 < hi
    # SmolVLA's "Avg": unweighted mean of the four group means, not the mean over 50 tasks
    assert train["mean_group_success"] == pytest.approx((easy + 0.4 + 0.5 + 0.6) / 4)
    assert train["mean_task_success"] == pytest.approx(
        (27 * 0.9 + 0.5 + 11 * 0.4 + 6 * 0.5 + 5 * 0.6) / 50
    )
    table = format_table(report)
    assert "very_hard (5 tasks)" in table and "mean over groups" in table
    assert "button-press-topdown-wall-v3" in table  # long names keep the columns aligned
    widths = {len(line) for line in table.splitlines()[2:52]}
    assert len(widths) == 1, widths


def test_partial_runs_report_only_the_groups_they_touched():
    results = [r for r in _results(2) if r.family in ("reach-v3", "shelf-place-v3")]
    train = build_report(results, run_info={}, timing={}, groups=GROUPS)["splits"]["train"]
    assert list(train["per_group"]) == ["easy", "very_hard"]
    assert train["per_group"]["easy"]["tasks"] == 1


def test_suites_without_groups_have_no_group_fields():
    results = [EpisodeResult(i, "pick", "", i < 1, 5) for i in range(2)]
    train = build_report(results, run_info={}, timing={})["splits"]["train"]
    assert "per_group" not in train and "mean_group_success" not in train

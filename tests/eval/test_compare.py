"""`vla compare`: episodes paired across two eval reports, exact McNemar p-values."""

from __future__ import annotations

import json

import pytest

from vla.cli.main import main as vla_main
from vla.eval.stats import mcnemar_exact


def test_mcnemar_exact_against_hand_values():
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # all 6 discordant pairs favour B
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)  # two-sided: symmetric
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def _report(path, outcomes: dict[tuple[str, str, int], bool]) -> str:
    log = [{"split": s, "task": t, "seed": seed, "success": ok, "length": 10}
           for (s, t, seed), ok in outcomes.items()]  # fmt: skip
    path.write_text(json.dumps({"episode_log": log}))
    return str(path)


def test_compare_pairs_episodes_by_seed_and_counts_discordant_ones(tmp_path, capsys):
    a = {("train", "pick", i): i < 5 for i in range(10)}  # A solves seeds 0-4
    b = {("train", "pick", i): i < 9 for i in range(10)}  # B solves 0-8
    b |= {("heldout", "stack", 7): True}  # only in B: not paired
    a |= {("heldout", "stack", 8): False}
    pa, pb = _report(tmp_path / "a.json", a), _report(tmp_path / "b.json", b)
    assert vla_main(["compare", pa, pb, "--json", str(tmp_path / "c.json")]) == 0
    rows = {r["group"]: r for r in json.loads((tmp_path / "c.json").read_text())["rows"]}
    assert rows["all"] == {"group": "all", "n": 10, "a": 5, "b": 9, "only_a": 0, "only_b": 4,
                           "p_mcnemar": pytest.approx(2 / 16)}  # fmt: skip
    assert rows["train/pick"]["n"] == 10 and "heldout" not in rows
    out = capsys.readouterr().out
    assert "2 episodes are in only one report" in out and "train/pick" in out


def test_reports_of_different_seeds_are_refused(tmp_path, capsys):
    """Refused in one line (exit code 2, no traceback), as is a missing or non-JSON file."""
    pa = _report(tmp_path / "a.json", {("train", "pick", 1): True})
    pb = _report(tmp_path / "b.json", {("train", "pick", 2): True})
    assert vla_main(["compare", pa, pb]) == 2
    assert "share no episodes" in capsys.readouterr().err
    (tmp_path / "bare.json").write_text("{}")
    assert vla_main(["compare", pa, str(tmp_path / "bare.json")]) == 2
    assert "vla eval --json" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json")
    for missing in (tmp_path / "missing.json", tmp_path / "bad.json"):
        assert vla_main(["compare", pa, str(missing)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(missing) in err and "Traceback" not in err

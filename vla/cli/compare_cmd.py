"""`vla compare`: are two `vla eval` reports different, episode by episode?

    vla compare A.json B.json [--json OUT]

Two checkpoints evaluated with the same suite, backend and seed meet the same episodes
(same layouts, same instructions). The comparison pairs them by (split, task, episode seed) and
counts the episodes only one of them solved; the exact McNemar test on those says how likely a
gap this large is if the two were equally good. Paired, it sees differences that two
overlapping Wilson intervals hide. Reports of different seeds share no episodes: an error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vla.eval.stats import mcnemar_exact


def _episodes(path: str) -> dict[tuple[str, str, int], bool]:
    try:
        report = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON report ({exc})") from None
    log = report.get("episode_log")
    if not log:
        raise ValueError(f"{path}: no episode_log; pass a report written by `vla eval --json`")
    return {(e["split"], e["task"], int(e["seed"])): bool(e["success"]) for e in log}


def compare(a: dict, b: dict) -> list[dict]:
    """Rows per (split, task), then per split, then all: paired n, successes, discordant, p."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the reports share no episodes: evaluate both with the same --suite, "
                         "--seed, --episodes-per-task and --split")  # fmt: skip
    groups: dict[str, list] = {}
    for key in shared:
        split, task, _ = key
        for name in (f"{split}/{task}", split, "all"):
            groups.setdefault(name, []).append(key)
    rows = []
    for name, keys in groups.items():
        only_a = sum(a[k] and not b[k] for k in keys)
        only_b = sum(b[k] and not a[k] for k in keys)
        rows.append({"group": name, "n": len(keys), "a": sum(a[k] for k in keys),
                     "b": sum(b[k] for k in keys), "only_a": only_a, "only_b": only_b,
                     "p_mcnemar": mcnemar_exact(only_a, only_b)})  # fmt: skip

    def rank(row: dict) -> tuple[int, str]:  # tasks, then splits, then "all" last
        name = row["group"]
        return (2 if name == "all" else 0 if "/" in name else 1), name

    return sorted(rows, key=rank)


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="paired comparison of two `vla eval` reports",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("a", help="first report (vla eval --json)")
    p.add_argument("b", help="second report, same suite and seed")
    p.add_argument("--json", help="also write the rows here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    a, b = _episodes(args.a), _episodes(args.b)
    rows = compare(a, b)
    if len(a) != len(b) or set(a) != set(b):
        print(f"note: {len(set(a) ^ set(b))} episodes are in only one report; compared the "
              f"{rows[-1]['n']} they share")  # fmt: skip
    print(f"A = {args.a}\nB = {args.b}")
    print(f"{'group':<18}{'n':>5}{'A':>6}{'B':>6}{'only A':>8}{'only B':>8}{'McNemar p':>11}")
    for r in rows:
        print(f"{r['group']:<18}{r['n']:>5}{r['a']:>6}{r['b']:>6}{r['only_a']:>8}{r['only_b']:>8}"
              f"{r['p_mcnemar']:>11.4f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"a": args.a, "b": args.b, "rows": rows}, indent=1))
    return 0

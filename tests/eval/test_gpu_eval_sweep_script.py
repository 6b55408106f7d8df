"""scripts/gpu_eval_sweep.sh: each NAME:SEED:ARGS run reaches `vla eval` with its seed and flags,
its report lands in reports.tar as NAME_sSEED.json (two seeds of one name do not collide), and
runs that no longer fit WALL_S are skipped, not started."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_eval_sweep.sh"

# stands in for `vla eval`: records its arguments in the --json report, sleeps SLEEP seconds
FAKE_EVAL = """
import json, os, sys, time
args = sys.argv[2:]
time.sleep(float(os.environ.get("SLEEP", "0")))
out = args[args.index("--json") + 1]
json.dump({"argv": args}, open(out, "w"))
print("train    ALL    90.0%")
"""


def _sweep(tmp_path: Path, runs: str, wall_s: int, sleep: float) -> tuple[str, dict]:
    (tmp_path / "fake_eval.py").write_text(FAKE_EVAL)
    env_script = tmp_path / "env.sh"
    env_script.write_text(f'VLA="python3 {tmp_path / "fake_eval.py"}"\n')
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "ENV_SCRIPT": str(env_script), "RUNS": runs,
           "WALL_S": str(wall_s), "SLEEP": str(sleep), "CKPT": "ckpt_dir"}  # fmt: skip
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not (out / "reports").exists()  # only the tar comes back
    reports = {}
    with tarfile.open(out / "reports.tar") as tar:
        for m in tar.getmembers():
            if m.isfile():
                reports[Path(m.name).name] = json.load(tar.extractfile(m))
    return proc.stdout, reports


def test_each_run_gets_its_seed_and_flags_and_its_own_report(tmp_path):
    stdout, reports = _sweep(
        tmp_path,
        "w0:0:--readout-window=0 w0:2000:--readout-window=0,--execution-horizon=1",
        wall_s=100,
        sleep=0,
    )
    assert sorted(reports) == ["w0_s0.json", "w0_s2000.json"]
    a, b = reports["w0_s0.json"]["argv"], reports["w0_s2000.json"]["argv"]
    assert a[a.index("--seed") + 1] == "0" and b[b.index("--seed") + 1] == "2000"
    assert "--readout-window=0" in a and "--execution-horizon=1" not in a
    assert "--readout-window=0" in b and "--execution-horizon=1" in b
    assert a[a.index("--checkpoint") + 1] == "ckpt_dir"
    assert stdout.count("ALL") == 2


def test_runs_past_the_wall_are_skipped(tmp_path):
    # the first run takes 2 s of a 31 s wall: 29 s left is under the 30 s a run needs
    stdout, reports = _sweep(tmp_path, "a:0: b:0:", wall_s=31, sleep=2)
    assert sorted(reports) == ["a_s0.json"]
    assert "skip b (seed 0)" in stdout

"""scripts/gpu_snapshot.sh: the newest complete step checkpoint's weights reach OUT as parts a
device call brings back, without optimizer state, replacing the older snapshot."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_snapshot.sh"


def _step(run: Path, n: int, weights: bytes, complete: bool) -> Path:
    d = run / "main" / "checkpoints" / f"step_{n:07d}"
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(weights)
    (d / "config.json").write_text("{}")
    (d / "text_cache.safetensors").write_bytes(b"t" * 100)
    if complete:
        (d / "training_state.pt").write_bytes(b"s" * 100)
    return d


def _once(run: Path, out: Path) -> None:
    subprocess.run(["bash", str(SCRIPT), "once", str(run), str(out), "main"], check=True,
                   env=os.environ, timeout=60)  # fmt: skip


def _unpack(out: Path, prefix: str) -> dict[str, bytes]:
    parts = sorted(out.glob(f"{prefix}.tar.part-*"))
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_newest_complete_step_replaces_the_older_snapshot(tmp_path):
    run, out = tmp_path / "run", tmp_path / "out"
    out.mkdir()
    w10, w20 = os.urandom(16 << 20), os.urandom(1000)  # 16 MiB: more than one 15 MB part
    _step(run, 10, w10, complete=True)
    step20 = _step(run, 20, w20, complete=False)  # still being saved
    _once(run, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "snap_main_step_0000010.tar.part-aa", "snap_main_step_0000010.tar.part-ab"]  # fmt: skip
    files = _unpack(out, "snap_main_step_0000010")
    assert files == {"step_0000010/model.safetensors": w10, "step_0000010/config.json": b"{}"}

    (step20 / "training_state.pt").write_bytes(b"s")
    _once(run, out)
    assert [p.name for p in out.iterdir()] == ["snap_main_step_0000020.tar.part-aa"]
    assert _unpack(out, "snap_main_step_0000020")["step_0000020/model.safetensors"] == w20


def test_stopping_the_loop_leaves_no_process_holding_its_output(tmp_path):
    """gpu_pipeline.sh kills the `every` loop when training ends; its pause must die with it, or
    the orphan keeps the command's stdout pipe open and the device call runs to its limit."""
    proc = subprocess.Popen(["bash", str(SCRIPT), "every", "60", str(tmp_path / "run"),
                             str(tmp_path / "out"), "main"], stdout=subprocess.PIPE)  # fmt: skip
    import select
    import time

    time.sleep(1.0)  # inside its first pause
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    readable, _, _ = select.select([proc.stdout], [], [], 10)
    assert readable and proc.stdout.read() == b""  # EOF: no writer left (an orphan: 60 s)

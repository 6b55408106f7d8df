"""`vla serve` as a subprocess for tests: start it, wait for its port, keep its stderr drained."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def start_serve(checkpoint: Path, *args: str, timeout: float = 120.0):
    """Start ``vla serve --checkpoint CKPT --port 0 ARGS`` -> (process, port, start-up lines).

    Fails (pytest.fail) with the server's output when it exits or stays silent past ``timeout``;
    the caller terminates the process.
    """
    import pytest

    cmd = [sys.executable, "-m", "vla.cli.main", "serve", "--checkpoint", str(checkpoint),
           "--port", "0", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True)
    port, lines, deadline = None, [], time.monotonic() + timeout
    while port is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        match = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
        port = int(match.group(1)) if match else None
    if port is None:
        proc.kill()
        pytest.fail("vla serve did not start:\n" + "".join(lines))
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
    return proc, port, lines

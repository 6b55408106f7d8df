"""Generation process for the signal tests: `generate` with a slow stand-in rollout in 2 spawn
workers, under the same SIGTERM handling as `vla data generate`. Prints READY once workers
have returned a first result, then keeps generating until killed.

Usage: python generation_kill_target.py OUT
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fake_sim import FAMILIES, fake_rollout  # noqa: E402

from vla.rollout.generate import EpisodeJob, EpisodeResult, GenerateConfig, generate  # noqa: E402
from vla.rollout.pool import terminate_on_sigterm  # noqa: E402


def slow_rollout(job: EpisodeJob) -> EpisodeResult:
    if job.index == 0:
        print("READY", flush=True)  # the worker that ran it is a live child of the parent
    time.sleep(0.5)
    return fake_rollout(job)


if __name__ == "__main__":
    cfg = GenerateConfig(out=Path(sys.argv[1]), episodes=10_000, workers=2, image_size=(16, 16),
                         progress=False)  # fmt: skip
    try:
        with terminate_on_sigterm():
            generate(cfg, rollout=slow_rollout, families=FAMILIES)
    except KeyboardInterrupt:
        sys.exit(130)

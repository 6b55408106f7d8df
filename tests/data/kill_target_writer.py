"""Writer process for the durability test: writes synthetic episodes until killed.

Usage: python kill_target_writer.py ROOT MODE FIRST
  MODE "pause": save 3 episodes, print SAVED, buffer half an episode, print MID, sleep.
  MODE "loop":  save episodes forever (consolidating every 2), printing each index.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_dataset import IMAGE_SIZE, synthetic_frame, write_episodes  # noqa: E402

from vla.data import DatasetWriter, default_features  # noqa: E402


def main() -> None:
    root, mode = Path(sys.argv[1]), sys.argv[2]
    if root.exists():
        w = DatasetWriter.resume(root, consolidate_every=2)
    else:
        w = DatasetWriter(root, 10, default_features(IMAGE_SIZE), "panda", consolidate_every=2)
    if mode == "pause":
        write_episodes(w, [6, 8, 5], first=w.num_episodes)
        print("SAVED", flush=True)
        for t in range(4):
            w.add_frame(synthetic_frame(w.num_episodes, t, 8))
        print("MID", flush=True)
        time.sleep(600)
    while True:
        e = w.num_episodes
        write_episodes(w, [5 + e % 4], first=e)
        print(e, flush=True)


if __name__ == "__main__":
    main()

"""Policy latency benchmark: a thin wrapper over `vla bench` (see vla/inference/bench.py).

python benchmarks/policy_latency.py --checkpoint PATH --device cuda --batch 1 --json OUT
"""

from __future__ import annotations

import sys

from vla.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

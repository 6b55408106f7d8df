"""``python -m vla``: the `vla` command (same as the console script)."""

import sys

from vla.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

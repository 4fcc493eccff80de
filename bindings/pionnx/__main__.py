"""`python -m pionnx ...`: the same as the `pionnx` command (pionnx.cli)."""

from __future__ import annotations

import sys

from pionnx.cli import main

if __name__ == "__main__":
    sys.exit(main())

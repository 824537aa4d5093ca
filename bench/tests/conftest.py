"""The harness is run as ``python -m harness`` from bench/: make it importable here too."""

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parent.parent)
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)

"""The chaos runs are also a command (`make chaos`, `python -m bench.chaos`), so they live in
bench/chaos; the tests import them from the repository root."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

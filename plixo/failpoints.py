"""Named pause points for crash tests: PLIXO_FAILPOINTS=name1,name2 makes `failpoint(name)` block.

Tests start a real worker process with a failpoint set, wait until it is parked inside a transaction
(it touches PLIXO_FAILPOINT_MARKS/<name> on arrival), and kill it there. Without the variable (always,
in production) a failpoint does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def failpoint(name: str) -> None:
    """Block here for good when the environment names this point (test processes only)."""
    if name not in os.environ.get("PLIXO_FAILPOINTS", "").split(","):
        return
    marks = os.environ.get("PLIXO_FAILPOINT_MARKS")
    if marks:
        Path(marks, name).touch()
    while True:
        time.sleep(1)

"""Named pause points for crash tests: PLIXO_FAILPOINTS=name1,name2 makes `failpoint(name)` block.

Tests start a real worker process with a failpoint set, wait until it is parked inside a transaction
(it touches PLIXO_FAILPOINT_MARKS/<name> on arrival), and kill it there. The simulator instead installs
a hook (`injected`) that raises at random failpoints, in-process. Without either (always, in
production) a failpoint does nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_hook: Callable[[str], None] | None = None


@contextmanager
def injected(hook: Callable[[str], None]) -> Iterator[None]:
    """Call `hook(name)` at every failpoint reached inside the block (it may raise to simulate a crash)."""
    global _hook
    previous, _hook = _hook, hook
    try:
        yield
    finally:
        _hook = previous


def failpoint(name: str) -> None:
    """Block here for good when the environment names this point (test processes only)."""
    if _hook is not None:
        _hook(name)
    if name not in os.environ.get("PLIXO_FAILPOINTS", "").split(","):
        return
    marks = os.environ.get("PLIXO_FAILPOINT_MARKS")
    if marks:
        Path(marks, name).touch()
    while True:
        time.sleep(1)

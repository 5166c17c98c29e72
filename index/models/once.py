"""Model files made once per cache: a file lock makes concurrent processes wait for the first one."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def make_once(out: Path, done: Callable[[], bool], make: Callable[[], object], what: str,
              lock_name: str = ".make.lock") -> Path:
    """Run `make` unless `done()`; under a lock beside `out`, re-checked, so only one process makes it."""
    if done():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / lock_name, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another process is making the %s; waiting for it", what)
            fcntl.flock(lock, fcntl.LOCK_EX)
        # Re-check under the lock: the process we waited for has probably just finished.
        if not done():
            logger.info("making the %s at %s (once)", what, out)
            make()
    return out

"""A watchdog for a sweep's compiled calls: no sweep waits silently.

A compiled program that never returns (a deadlock inside XLA, a kernel that waits on a thread
pool with no thread left: see gtgen.linalg) cannot be interrupted from Python. What the sweep
can do is say so: while one call (a compilation or one chunk) runs, a timer thread writes a
line naming the program every ``warn_s`` seconds, and, with ``stop_s``, ends the process with
one line and exit status 3 once the call has run that long.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

STALL_EXIT_STATUS = 3


class Watchdog:
    """``with dog.watch("shape 1/2 (…) chunk 3/8"):`` around each blocking call."""

    def __init__(
        self,
        warn_s: float | None = 300.0,
        stop_s: float | None = None,
        write: Callable[[str], None] | None = None,
        stop: Callable[[int], None] | None = None,
    ):
        for name, v in (("watchdog", warn_s), ("stall_timeout", stop_s)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                raise ValueError(f"{name}: must be a positive number of seconds or None, got {v!r}")
        self.warn_s, self.stop_s = warn_s, stop_s
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._stop = stop or os._exit
        self.warnings: list[str] = []

    @contextlib.contextmanager
    def watch(self, what: str) -> Iterator[None]:
        if self.warn_s is None and self.stop_s is None:
            yield
            return
        done = threading.Event()
        start = time.monotonic()

        def loop() -> None:
            warns = 0
            while True:
                due = [
                    x
                    for x in ((warns + 1) * self.warn_s if self.warn_s else None, self.stop_s)
                    if x is not None
                ]
                if done.wait(max(0.0, min(due) - (time.monotonic() - start))):
                    return
                elapsed = time.monotonic() - start
                if self.stop_s is not None and elapsed >= self.stop_s:
                    line = (
                        f"gtgen: error: sweep: {what} ran {elapsed:.0f} s without finishing "
                        f"(stall_timeout = {self.stop_s:g} s); stopped"
                    )
                    self.warnings.append(line)
                    self._write(line)
                    self._stop(STALL_EXIT_STATUS)
                    return
                warns += 1
                line = (
                    f"gtgen: warning: sweep: {what} has run {elapsed:.0f} s without "
                    "finishing; if the CPU is idle it is stuck (stall_timeout stops it)"
                )
                self.warnings.append(line)
                self._write(line)

        thread = threading.Thread(target=loop, name="gtgen-sweep-watchdog", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

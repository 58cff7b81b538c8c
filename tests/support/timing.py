"""Measuring how long a block took (for bounds on slow-server tests, never exact times)."""

from __future__ import annotations

import time


class Elapsed:
    """``with Elapsed() as t: ...`` leaves the block's duration in ``t.seconds``."""

    def __enter__(self) -> Elapsed:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.start

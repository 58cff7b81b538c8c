"""A small progress bar for the command line: bytes, rate and ETA on a terminal.

:class:`ProgressBar` is a ``progress(done, total_or_None)`` callback, as
``AtmosphereClient.upload_blob`` and ``download_blob`` take. It draws on its
stream only when that stream is a terminal, at most a few times a second,
and stays silent otherwise (pipes, files, CI logs). The formatting helpers
are pure functions so they can be tested without a terminal or a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressBar", "format_bytes", "format_duration", "render_progress"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_BAR_WIDTH = 24


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"3.0 GiB"``."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """A duration as ``M:SS`` (or ``H:MM:SS`` from one hour up)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_progress(label: str, done: int, total: int | None, elapsed: float) -> str:
    """One status line: ``label  42% [#####.....] 1.0 MiB / 2.4 MiB  512.0 KiB/s  ETA 0:03``.

    Without a known ``total`` the percentage, bar and ETA are left out.
    """
    rate = done / elapsed if elapsed > 0 else 0.0
    speed = f"{format_bytes(rate)}/s" if elapsed > 0 else "-- B/s"
    if total is None or total <= 0:
        return f"{label}  {format_bytes(done)}  {speed}"
    fraction = min(1.0, done / total)
    filled = int(fraction * _BAR_WIDTH)
    bar = "#" * filled + "." * (_BAR_WIDTH - filled)
    if done >= total:
        eta = f"in {format_duration(elapsed)}"
    elif rate > 0:
        eta = f"ETA {format_duration((total - done) / rate)}"
    else:
        eta = "ETA --:--"
    return (
        f"{label}  {fraction:4.0%} [{bar}] {format_bytes(done)} / {format_bytes(total)}"
        f"  {speed}  {eta}"
    )


class ProgressBar:
    """A ``progress(done, total)`` callback that redraws a status line on a terminal.

    Args:
        stream: where to draw (normally ``sys.stderr``); nothing is drawn unless
            it is a TTY.
        label: the text in front of the bar, e.g. the file name.
        interval: the minimum seconds between redraws (the final one is always drawn).
        clock: a monotonic clock, injectable for tests.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.enabled = _isatty(stream)
        self._interval = interval
        self._clock = clock
        self._start = clock()
        self._last_draw: float | None = None
        self._width = 0
        self._drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        now = self._clock()
        finished = total is not None and done >= total
        if not finished and self._last_draw is not None and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        line = render_progress(self.label, done, total, now - self._start)
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write(f"\r{line}{pad}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the status line (a newline) if anything was drawn."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or unusual streams
        return False

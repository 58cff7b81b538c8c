"""The CLI's session file: private, shared safely between processes, never resurrected.

Several ``atmosphere`` processes may use one session file at once (a long
``ls`` while another command runs). Refreshing rotates the refresh token, and
the PDS honours an already rotated one only for a grace period, so the file
must always hold the newest session. The rules:

- Every write and every token refresh happens under an exclusive lock
  (``fcntl.flock``) on a lock file beside the session file
  (``.session.lock`` for ``session``); the file itself is replaced atomically,
  so readers need no lock.
- Before refreshing, a process re-reads the file under the lock (the client's
  ``session_lock`` hook). If another process already rotated the tokens, it
  adopts that session instead of refreshing again; so no older session is
  ever written over a newer one.
- ``logout`` removes the file under the lock. A process that needs a refresh
  afterwards finds no session file and stops (not logged in) instead of
  refreshing and re-creating it.

Permissions (the file holds tokens): the file is written with mode 0600 and a
new directory with 0700. An existing directory that other users can write to
(group or world writable), or that belongs to another user, is refused: its
owner could swap the session file. A session file that others can read or
write, or that belongs to another user, is refused too: its tokens may have
been seen, and only the user can judge that; ``logout`` still works on it, to
revoke them. Nothing is fixed silently: the messages say what to run.

The lock and the permission checks are POSIX only; on Windows the file is
used without them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

if sys.platform != "win32":
    import fcntl

__all__ = ["SessionFile", "SessionFileError"]

PROG = "atmosphere"


class SessionFileError(Exception):
    """The session file is missing, unreadable or unsafe to use (the CLI exits 3)."""


class SessionFile:
    """One session file: load, save and remove it under its lock.

    The lock is reentrant within one instance (a refresh inside ``logout``
    saves while ``logout`` holds it), so one process must use one instance
    per file: a second ``flock`` from the same process would wait for itself.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self._depth = 0

    # -- permissions ----------------------------------------------------------

    def check_directory(self) -> None:
        """Refuse a directory another user owns or can write to (if it exists)."""
        if sys.platform == "win32":
            return
        directory = self.path.parent
        try:
            info = os.stat(directory)
        except FileNotFoundError:
            return
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid != os.geteuid():
            raise SessionFileError(
                f"refusing the session directory {directory}: it belongs to another user"
            )
        if mode & 0o022:
            raise SessionFileError(
                f"refusing the session directory {directory}: other users can write to it "
                f"(mode {mode:04o}), so they could replace the session file; "
                f"run 'chmod 700 {directory}'"
            )

    def check_file(self, *, allow_exposed: bool = False) -> None:
        """Refuse a session file another user owns, can read or can write (if it exists)."""
        if sys.platform == "win32":
            return
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return
        if allow_exposed:
            return
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid != os.geteuid():
            raise SessionFileError(
                f"refusing the session file {self.path}: it belongs to another user"
            )
        if mode & 0o077:
            raise SessionFileError(
                f"refusing the session file {self.path}: other users can read or write it "
                f"(mode {mode:04o}), so its tokens may have been seen; run '{PROG} logout' "
                f"to revoke them and log in again (or 'chmod 600 {self.path}' if nobody "
                "else can have read it)"
            )

    # -- the lock ---------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock on the session file (reentrant in this instance)."""
        if self._depth or sys.platform == "win32":
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.check_directory()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.lock_path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
        finally:
            os.close(fd)  # closing releases the lock

    @contextlib.contextmanager
    def refresh_lock(self) -> Iterator[str | None]:
        """The client's ``session_lock``: the lock, and the session saved now (or ``None``).

        The file's permissions were checked when the command loaded it (and
        ``logout`` deliberately accepts an exposed one), so they are not
        checked again here.
        """
        with self.locked():
            yield self.read(allow_exposed=True)

    # -- contents -----------------------------------------------------------------

    def read(self, *, allow_exposed: bool = False) -> str | None:
        """The saved session string; ``None`` when there is none (no file, or empty)."""
        self.check_directory()
        self.check_file(allow_exposed=allow_exposed)
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SessionFileError(
                f"cannot read session file {self.path}: {exc.strerror}"
            ) from None
        return text or None

    def load(self, *, allow_exposed: bool = False) -> str:
        """The saved session string (``SessionFileError`` when there is none)."""
        text = self.read(allow_exposed=allow_exposed)
        if text is None:
            if self.path.exists():
                raise SessionFileError(
                    f"session file {self.path} is empty; run '{PROG} login HANDLE'"
                )
            raise SessionFileError(
                f"not logged in (no session file at {self.path}); run '{PROG} login HANDLE'"
            )
        return text

    def save(self, session: str) -> None:
        """Write ``session`` atomically (mode 0600), under the lock."""
        with self.locked():
            parent = self.path.parent
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent)
            try:
                os.fchmod(fd, 0o600)  # mkstemp already uses 0600; make it explicit
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(session + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

    def remove(self) -> bool:
        """Delete the session file under the lock; ``False`` when there was none."""
        with self.locked():
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
            return True

"""The agent's files in ``state_dir`` and ``run_dir``: written, appended, read, locked.

What this module is for: the few file operations the ledger, the history and the
status share. An atomic JSON write (temp file, fsync, rename, fsync of the
directory), an append of whole lines, a read of untrusted bytes with a size cap,
a JSON parse that turns every way a document can be bad into one
:class:`ValueError`, and the lock that keeps two agents off one ``state_dir``.

It must never follow a symbolic link when it creates, writes or appends a file
(``O_NOFOLLOW`` on the final path, ``O_EXCL | O_NOFOLLOW`` for temp files), never
leave a temp file behind, and never let a malformed document escape as anything
but :class:`ValueError`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
from typing import Any, Optional

#: Flags of every file this module creates or writes: no symlink, no fd leak to children.
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def write_json_atomic(path: str, doc: Any, mode: int = 0o644) -> None:
    """Write ``doc`` as JSON to ``path``: temp file, fsync, rename, fsync the directory.

    The file gets ``mode`` (world-readable by default: nothing written this way holds
    a secret, and EOS CLI handlers may read it as the logged-in user). The temp file
    is created with ``O_EXCL | O_NOFOLLOW``; the rename replaces ``path`` itself, so a
    symbolic link planted at ``path`` is replaced, never followed.
    """
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f"{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask
        # One compact string (json's C encoder; an indented dump is eight times slower,
        # and the status of 10,000 VMs took 0.4 s of the agent's loop that way).
        text = json.dumps(doc, sort_keys=True) + "\n"
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (best effort: some file systems refuse)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def append_text(path: str, text: str, mode: int = 0o644) -> None:
    """Append ``text`` to ``path`` (created if missing) and fsync; never through a symlink.

    A symbolic link at ``path`` fails with :class:`OSError` (``ELOOP``).
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, mode)
    with os.fdopen(fd, "ab") as f:
        f.write(text.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def file_size(path: str) -> Optional[int]:
    """The size of ``path`` itself (a symlink is not followed); None when it is missing."""
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return None


class TooLarge(ValueError):
    """A file is larger than its reader accepts."""


def read_capped(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path``; :class:`TooLarge` if it holds more.

    Reads one byte more than the limit instead of trusting ``stat``: the file may grow.
    Raises :class:`OSError` when it cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"larger than {limit} bytes")
    return data


def parse_json(data: bytes) -> Any:
    """The JSON document in ``data``; :class:`ValueError` saying why when it is not one.

    Covers bytes that are not UTF-8, text that is not JSON, and nesting too deep for
    the parser (which raises :class:`RecursionError` on its own).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as e:
        raise ValueError(f"not JSON: {_why(e)}") from None


def _why(e: ValueError) -> str:
    """The parser's complaint without the document's text (``msg`` and line only)."""
    msg = getattr(e, "msg", None)
    if isinstance(msg, str):
        return f"{msg} (line {getattr(e, 'lineno', '?')})"
    return "a number or string it cannot hold"


# -- one agent per state_dir -------------------------------------------------------------

LOCK_FILE = "lock"


class StateDirError(Exception):
    """The agent cannot take ``state_dir`` for itself; the text says why in one line."""


class StateDirBusy(StateDirError):
    """Another agent holds the lock of this ``state_dir``."""


class StateLock:
    """An exclusive ``flock`` on ``state_dir/lock``, held while the agent runs.

    The kernel drops it when the holder exits, however it exits (SIGKILL included),
    so a stale lock never outlives its agent. The file holds the holder's pid, for
    the error message only.
    """

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, LOCK_FILE)
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StateDirBusy` (naming the holder's pid), or
        :class:`StateDirError` when the lock file cannot be opened at all."""
        if self._fd is not None:
            return
        try:
            fd = self._open()
        except OSError as e:
            raise StateDirError(f"cannot lock {self.path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _pid_in(fd)
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                who = f" (pid {holder})" if holder else ""
                raise StateDirBusy(
                    f"another vmtracer agent{who} is running with state_dir"
                    f" {os.path.dirname(self.path)}; refusing to start a second one"
                ) from None
            raise StateDirError(f"cannot lock {self.path}: {e.strerror}") from None
        self._fd = fd
        with contextlib.suppress(OSError):  # the pid is for messages only
            pid_fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC | _NOFOLLOW)
            try:
                os.write(pid_fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(pid_fd)

    def _open(self) -> int:
        # Held open read-only (flock needs no write access): a file held open for
        # writing would keep state_dir's file system from being remounted read-only.
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            return os.open(self.path, os.O_RDONLY | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as e:
            if e.errno not in (errno.EROFS, errno.EACCES):
                raise
        return os.open(self.path, os.O_RDONLY | _NOFOLLOW)  # a read-only state_dir

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it would race a new holder)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _pid_in(fd: int) -> int:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text.isdigit() else 0
    except (OSError, ValueError):
        return 0


__all__ = [
    "LOCK_FILE",
    "StateDirBusy",
    "StateDirError",
    "StateLock",
    "TooLarge",
    "append_text",
    "file_size",
    "fsync_directory",
    "parse_json",
    "read_capped",
    "write_json_atomic",
]

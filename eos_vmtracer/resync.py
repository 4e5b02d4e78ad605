"""``vmtracer resync``: a request from the command line to the running agent, and its answer.

What this module is for: the command (any local user: on EOS, ``bash vmtracer
resync`` from the CLI) drops a small request file into ``<run_dir>/requests``;
the running agent looks there twice a second (:class:`RequestWatcher`), takes
the request, drops its cached view of the session named (or of every session and
the switch), reads everything again and replans. It answers in
``<run_dir>/resync-answers.json`` (the last few request ids, when they were
taken, and which sessions), so the command can say whether the agent picked its
request up.

The requests directory is writable by everybody and readable by nobody but its
owner (mode 1733, like a mail drop): a request can ask for nothing but a resync,
which never removes anything (a session resynchronising counts as not
synchronised). It must never follow a link, never read more than
:data:`MAX_REQUEST` bytes, never trust what a request says (the session must be
configured), and never fail the agent: a bad request is logged and deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from eos_vmtracer.messages import Message, emit

REQUESTS_DIR = "requests"
ANSWERS_FILE = "resync-answers.json"
MAX_REQUEST = 4096
MAX_ANSWERS = 20
POLL = 0.5  # seconds between looks at the requests directory
_NAME_RE = re.compile(r"resync-([0-9a-f]{16})\.json")

log = logging.getLogger("eos_vmtracer.resync")


class ResyncError(Exception):
    """A request could not be made or read (the message says why)."""


@dataclass(frozen=True)
class Request:
    """One resync request: which session ("" for every session and the switch)."""

    id: str
    session: str = ""


def requests_dir(run_dir: str) -> str:
    return os.path.join(run_dir, REQUESTS_DIR)


# -- the command's side ----------------------------------------------------------------------


def submit(run_dir: str, session: str = "") -> Request:
    """Drop a request for the agent; returns it (its id is in the answer)."""
    req = Request(secrets.token_hex(8), session)
    directory = requests_dir(run_dir)
    body = json.dumps({"session": session, "at": time.time()}).encode()
    path = os.path.join(directory, f"resync-{req.id}.json")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileNotFoundError:
        raise ResyncError(f"{directory} does not exist (is the agent running?)") from None
    except OSError as e:
        raise ResyncError(f"cannot write {path}: {e.strerror}") from None
    try:
        os.write(fd, body)
    finally:
        os.close(fd)
    return req


def answer_for(run_dir: str, request_id: str) -> Optional[dict[str, Any]]:
    """The agent's answer to request ``request_id``, if it has answered."""
    for entry in read_answers(run_dir):
        if entry.get("id") == request_id:
            return entry
    return None


def withdraw(run_dir: str, req: Request) -> None:
    """Remove a request nobody picked up (so a later agent does not act on it)."""
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(requests_dir(run_dir), f"resync-{req.id}.json"))


def wait_for_answer(
    run_dir: str,
    req: Request,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Optional[dict[str, Any]]:
    """Wait up to ``timeout`` seconds for the agent's answer to ``req``."""
    deadline = time.monotonic() + timeout
    while True:
        found = answer_for(run_dir, req.id)
        if found is not None or time.monotonic() >= deadline:
            return found
        sleep(0.1)


def read_answers(run_dir: str) -> list[dict[str, Any]]:
    """The agent's recent answers (empty when there are none or they cannot be read)."""
    try:
        fd = os.open(os.path.join(run_dir, ANSWERS_FILE), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return []
    try:
        data = os.read(fd, 64 * 1024)
    finally:
        os.close(fd)
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    if not isinstance(doc, list):
        return []
    return [e for e in doc if isinstance(e, dict)]


# -- the agent's side ------------------------------------------------------------------------


def prepare(run_dir: str) -> None:
    """Make the requests directory (mode 1733: anyone may drop, only we may list)."""
    directory = requests_dir(run_dir)
    os.makedirs(directory, exist_ok=True)
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{directory} is not a directory")
    os.chmod(directory, 0o1733)


def take(run_dir: str) -> list[Request]:
    """Every request waiting, deleted as it is read (bad ones are logged and dropped)."""
    directory = requests_dir(run_dir)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    out: list[Request] = []
    for name in names:
        match = _NAME_RE.fullmatch(name)
        path = os.path.join(directory, name)
        if match is None:
            continue
        try:
            req = _read_request(path, match.group(1))
        except ResyncError as e:
            emit(log, Message.RESYNC_BAD, error=str(e))
            req = None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if req is not None:
            out.append(req)
    return out


def _read_request(path: str, request_id: str) -> Request:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise ResyncError(f"{os.path.basename(path)}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ResyncError(f"{os.path.basename(path)} is not a regular file")
        data = os.read(fd, MAX_REQUEST + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_REQUEST:
        raise ResyncError(f"{os.path.basename(path)} is longer than {MAX_REQUEST} bytes")
    try:
        doc = json.loads(data)
    except ValueError:
        raise ResyncError(f"{os.path.basename(path)} is not JSON") from None
    session = doc.get("session") if isinstance(doc, dict) else None
    if not isinstance(session, str):
        raise ResyncError(f"{os.path.basename(path)} names no session")
    return Request(request_id, session)


def answer(run_dir: str, req: Request, sessions: list[str], error: str = "") -> None:
    """Record that ``req`` was taken (keeps the last :data:`MAX_ANSWERS`)."""
    entries = [e for e in read_answers(run_dir) if e.get("id") != req.id]
    entries.append({"id": req.id, "at": time.time(), "sessions": sessions, "error": error})
    entries = entries[-MAX_ANSWERS:]
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".resync-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entries, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(run_dir, ANSWERS_FILE))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class RequestWatcher:
    """A thread that hands each request in ``run_dir`` to ``on_request``."""

    def __init__(self, run_dir: str, on_request: Callable[[Request], None]) -> None:
        self.run_dir = run_dir
        self._on_request = on_request
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        try:
            prepare(self.run_dir)
        except OSError as e:
            log.error("cannot take resync requests (%s): %s", requests_dir(self.run_dir), e)
            return
        self._thread = threading.Thread(target=self._run, name="resync-requests", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            try:
                for req in take(self.run_dir):
                    self._on_request(req)
            except Exception:  # never let the watcher die
                log.exception("resync requests")


__all__ = [
    "ANSWERS_FILE",
    "REQUESTS_DIR",
    "Request",
    "RequestWatcher",
    "ResyncError",
    "answer",
    "answer_for",
    "prepare",
    "read_answers",
    "submit",
    "take",
    "wait_for_answer",
    "withdraw",
]

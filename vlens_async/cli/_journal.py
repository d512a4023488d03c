"""The results journal of ``vlens otp bulk``: one flushed JSON line per event, locked per run.

Each number gets a ``pending`` line (``"sent": "maybe"``), put on the disk (``fdatasync``),
before its request is handed to the client, and one outcome line after; an attempt that was
refused (nothing sent) and will be tried again gets a ``pending`` line with ``"sent": "no"``,
which clears the mark. Every line
says whether the number may have been texted (``"sent"``: ``"yes"``, ``"no"`` or ``"maybe"``).
On ``--resume`` the journal is read back: numbers whose last outcome is ``sent: "no"`` are sent
again, a ``pending`` ``"maybe"`` line without an outcome (a crash) becomes ``unknown``, and
everything else is skipped. An exclusive ``flock`` held for the whole run keeps a second run on
the same file from sending anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

from .._errors import VlensInputError
from .._validation import check_phone
from ..bulk import NumberSet, TextSet

__all__ = ["JOINED", "Journal", "JournalError"]

_INTERRUPTED = {
    "type": "Interrupted",
    "code": None,
    "message": "the run stopped while this number was in flight",
}


class JournalError(Exception):
    """The journal could not be written (full disk, I/O error): the run must stop at once.

    Deliberately not a ``VlensError``, so that bulk dispatch does not record it as a number's
    outcome but lets it end the run.
    """


JOINED = "joined"
"""The status of the line naming the worker a ``--redis`` run is: {"status", "job", "worker"}."""


def _refuse(path: Path, problem: str) -> VlensInputError:
    return VlensInputError("--out", f"{path}: {problem}")


class Journal:
    """The results file, opened, locked and (with ``resume``) read back.

    Attributes:
        settled: numbers (E.164) recorded as sent, unknown or maybe sent: never sent again.
        settled_inputs: raw inputs recorded without a number (invalid ones).
        recovered_unknown: numbers a crash left ``pending``, now recorded ``unknown``.
        workers: with ``resume``, the worker name each ``--redis`` job last ran as (its
            ``"joined"`` lines), by job.
        created: the file did not exist before (with ``resume``: there was nothing to resume).
    """

    def __init__(self, path: Path, resume: bool, input_name: str | None = None) -> None:
        self.path = path
        self.created = not os.path.lexists(path)
        self._fd = _open_locked(path, resume, input_name)
        self.settled = NumberSet()
        self.settled_inputs = TextSet()
        self.recovered_unknown = 0
        self.workers: dict[str, str] = {}
        try:
            # --resume has a regular file to read back (see _check_results)
            pending, cut_at = self._read() if resume else ({}, None)
            self._end_cut_line(cut_at)
            for key, record in pending.items():  # sent or not, we cannot know: never resend
                self._settle_key(key, record.get("phone_number"))
                self.write({**record, "status": "unknown", "sent": "maybe", "error": _INTERRUPTED})
            self.recovered_unknown = len(pending)
        except BaseException:
            self.close()
            raise

    def _read(self) -> tuple[dict[str, dict[str, Any]], int | None]:
        """Settle what the file records; return the numbers left ``pending`` by a crash, and
        where the last line starts if a crash cut it short (None: no such line)."""
        pending: dict[str, dict[str, Any]] = {}
        offset, cut_at = 0, None
        with open(self._fd, "rb", closefd=False) as lines:
            for number, raw in enumerate(lines, 1):
                record = _record(raw, number, self.path)
                if record is None:
                    cut_at = offset
                else:
                    self._settle(record, pending)
                offset += len(raw)
        return pending, cut_at

    def _settle(self, record: dict[str, Any], pending: dict[str, dict[str, Any]]) -> None:
        if record["status"] == JOINED:  # names a worker, settles no number
            job, worker = record.get("job"), record.get("worker")
            if isinstance(job, str) and isinstance(worker, str) and worker:
                self.workers[job] = worker
            return
        number, raw = record.get("phone_number"), record.get("input")
        key = number if isinstance(number, str) else raw
        if not isinstance(key, str):
            return
        status = record.get("status")
        if status == "pending" and record.get("sent") == "no":
            pending.pop(key, None)  # its attempt was refused: nothing sent, to be tried again
        elif status == "pending":
            pending[key] = record
        elif status != "duplicate":  # a repeat settles nothing
            pending.pop(key, None)
            if status == "failed" and record.get("sent") == "no":
                return  # certainly not sent: --resume sends it again
            self._settle_key(key, number)

    def _settle_key(self, key: str, number: object) -> None:
        try:
            self.settled.add(check_phone("phone_number", number))
        except VlensInputError:  # no number (an invalid input), or a line edited by hand
            self.settled_inputs.add(key)

    def _end_cut_line(self, cut_at: int | None) -> None:
        """Drop the last line if a crash cut it short (it records nothing, and in the middle
        of the file it would pass for a foreign line), or end a whole last record left
        without its newline, so that the next record stands alone."""
        if cut_at is not None:
            try:
                os.ftruncate(self._fd, cut_at)
            except OSError as exc:
                raise JournalError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            return
        size = os.fstat(self._fd).st_size
        if (
            size
            and stat.S_ISREG(os.fstat(self._fd).st_mode)
            and os.pread(self._fd, 1, size - 1) != b"\n"
        ):
            self._append(b"\n")

    def skip(self, raw: str) -> bool:
        """Whether ``raw`` is already settled by an earlier run."""
        try:
            return check_phone("phone_number", raw) in self.settled
        except VlensInputError:
            return raw in self.settled_inputs

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and hand it to the OS at once (it survives a crash of this run)."""
        record.setdefault("at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self._append((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def _append(self, data: bytes) -> None:
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            # A write that failed halfway (a full disk) takes its half line back, so that a
            # record written later (once space is freed) is not glued to it, unreadable.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
            raise JournalError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    async def sync(self) -> None:
        """Wait until every line written so far is on the disk, where a power cut keeps it (in
        a thread: a slow disk must not hold up the event loop)."""
        try:
            await asyncio.to_thread(sync_data, self._fd)
        except OSError as exc:
            raise JournalError(
                f"cannot put {self.path} on the disk: {exc.strerror or exc}"
            ) from None

    def close(self) -> None:
        """Put the file on the disk, release the lock and the file. Idempotent."""
        self.settled.close()
        self.settled_inputs.close()
        if self._fd >= 0:
            with contextlib.suppress(OSError):  # the outcomes; a failure loses no promise
                sync_data(self._fd)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = -1


def sync_data(fd: int) -> None:
    """Put what was written to ``fd`` on the disk: ``fdatasync`` where there is one (Linux),
    else ``fsync``."""
    if sys.platform == "linux":
        os.fdatasync(fd)
    else:
        os.fsync(fd)


def _record(raw: bytes, number: int, path: Path) -> dict[str, Any] | None:
    """The results record on line ``number``; None for the last line cut short by a crash.

    Anything else (a list of numbers, a CSV, another program's JSON) is refused, saying what
    it is without echoing it: --out must never be read as, or appended to, a foreign file.
    """
    try:
        record = json.loads(raw.decode("utf-8"))
    except ValueError:
        if raw.startswith(b"{") and not raw.endswith(b"\n"):
            return None  # a record cut by a crash (maybe inside a character): no outcome
        found = "is not JSON"
    else:
        if isinstance(record, dict) and isinstance(record.get("status"), str):
            return record
        kinds: dict[type, str] = {dict: "object", list: "list", str: "string"}
        kind = kinds.get(type(record), "value")
        found = f"is a JSON {kind}" + (' without "status"' if kind == "object" else "")
    problem = f"not a results file: line {number} {found}; choose another file"
    raise _refuse(path, problem)


def _check_not_input(fd: int, path: Path, input_name: str | None) -> None:
    """Refuse ``path`` if it is INPUT itself (by any name, or on stdin for ``-``)."""
    try:
        if input_name == "-":
            import sys

            same = sys.stdin is not None and os.path.samestat(
                os.fstat(fd), os.fstat(sys.stdin.fileno())
            )
        else:
            same = input_name is not None and os.path.samestat(os.fstat(fd), os.stat(input_name))
    except (OSError, ValueError):  # no such INPUT (refused elsewhere), or no real stdin
        return
    if same:
        raise _refuse(path, "is INPUT itself; choose another file for the results")


def _check_results(fd: int, path: Path, resume: bool) -> None:
    """A file with content must be a journal, and is only reused with ``--resume``, which
    needs a regular file: a pipe or a device has no results to read back."""
    info = os.fstat(fd)
    if resume and not stat.S_ISREG(info.st_mode):
        raise _refuse(path, "--resume reads the results back, but this is not a regular file")
    if not info.st_size or not stat.S_ISREG(info.st_mode):
        return
    with open(fd, "rb", closefd=False) as lines:
        _record(lines.readline(), 1, path)  # --resume reads the rest line by line
    os.lseek(fd, 0, os.SEEK_SET)  # where --resume starts reading (writes append anyway)
    if not resume:
        raise _refuse(path, "already has results; pass --resume or choose another file")


def _open_locked(path: Path, resume: bool, input_name: str | None) -> int:
    """Open (creating if need be) and lock ``path``; refuse INPUT itself, a file in use, a
    file that is not a journal, or one with results without ``resume``."""
    if path.is_dir():
        raise _refuse(path, "is a directory")
    if not path.parent.is_dir():
        raise _refuse(path, f"folder {path.parent} does not exist")
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise _refuse(path, "in use by another run (wait for it to end)") from None
        raise _refuse(path, f"cannot lock: {exc.strerror or exc}") from None
    try:
        _check_not_input(fd, path, input_name)
        _check_results(fd, path, resume)
    except BaseException:
        os.close(fd)
        raise
    return fd

"""The input of ``vlens otp bulk``: numbers read lazily, off the event loop, with clear errors.

INPUT is one number per line, or a CSV (``,``, ``;`` or tab separated) whose header names a
phone column (``phone``, ``Phone Number``, ``mobile``, ``phone_number``, ``msisdn``... or the
one ``--column`` names). It must be UTF-8, or UTF-16/UTF-8 with a byte-order mark. Blank
lines (and CSV rows of empty cells) are skipped, and so are comments: lines whose first
non-blank character is ``#`` and that hold no ``,``, ``;`` or tab. Any other line is data: each
gives exactly one input, and a CSV row without a phone cell one that is recorded ``invalid``.
A quote that does not close a cell (a stray quote) stops the run before anything is sent.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import contextlib
import csv
import hashlib
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from .._errors import VlensInputError
from .._validation import check_phone
from ..bulk import NumberSet, TextSet

__all__ = ["Survey", "count_numbers", "ledger_key", "numbers_from", "parse", "survey"]

_CHUNK = 64 * 1024
_BATCH = 512
_PHONE_COLUMNS = frozenset(
    {"phone", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobileno", "msisdn"}
    | {"tel", "telephone", "cell", "cellphone", "cellnumber"}
)
_DELIMITERS = ",;\t"
_NAME_NOISE = re.compile(r"[\s_\-.]")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _refuse(name: str, problem: str) -> VlensInputError:
    return VlensInputError("INPUT", f"{name}: {problem}")


def _column_key(name: str) -> str:
    return _NAME_NOISE.sub("", name).lower()


def decoded_lines(
    binary: BinaryIO, name: str, before_wait: Callable[[], None] = lambda: None
) -> Iterator[str]:
    """The lines of ``binary``, decoded as it arrives (``before_wait`` runs before each read)."""
    decoder: codecs.IncrementalDecoder | None = None
    partial, line_number = "", 0
    while True:
        before_wait()
        chunk = binary.read1(_CHUNK) if hasattr(binary, "read1") else binary.read(_CHUNK)
        if decoder is None:
            decoder = _decoder_for(chunk, name)
        try:
            text = partial + decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = line_number + exc.object[: exc.start].count(b"\n") + 1
            problem = f"line {line} is not UTF-8 text (save it as UTF-8, or UTF-16 with a BOM)"
            raise _refuse(name, problem) from None
        *lines, partial = text.split("\n")
        for text_line in lines:
            line_number += 1
            yield text_line + "\n"
        if not chunk:
            if partial:
                yield partial
            return


def _decoder_for(start: bytes, name: str) -> codecs.IncrementalDecoder:
    for bom, encoding in _BOMS:
        if start.startswith(bom):
            return codecs.getincrementaldecoder(encoding)(errors="strict")
    if start.count(b"\x00") * 4 >= len(start) > 0:  # UTF-16 text: about every other byte
        raise _refuse(name, "looks like UTF-16 without a byte-order mark; save it as UTF-8")
    return codecs.getincrementaldecoder("utf-8")(errors="strict")


def _is_comment(line: str) -> bool:
    """A line whose first non-blank character is ``#`` and that holds no ``,``, ``;`` or tab:
    a CSV row such as ``#1001,+201001234561`` is data."""
    return line.lstrip().startswith("#") and not any(sep in line for sep in _DELIMITERS)


class _Rows:
    """The lines of INPUT for ``csv.reader``: comment and blank lines between rows skipped
    (never inside a quoted cell), the line each row starts on remembered for messages."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = enumerate(lines, 1)
        self.start = 0  # the line the current row started on
        self.in_row = False  # the reader asked for more of a row (a quoted cell goes on)

    def __iter__(self) -> _Rows:
        return self

    def __next__(self) -> str:
        for number, line in self._lines:
            if self.in_row:
                return line
            if line.strip() and not _is_comment(line):
                self.start, self.in_row = number, True
                return line
        raise StopIteration


def parse(lines: Iterator[str], name: str, column: str | None = None) -> Iterator[str]:
    """The numbers in ``lines``: a CSV's phone column, or one number per line.

    Every data line or CSV row gives exactly one input: a CSV row without a phone cell gives
    a placeholder naming its line, which is then recorded ``invalid``.
    """
    rows = _Rows(lines)
    first = next(rows, None)
    if first is None:
        return
    rows.in_row = False
    delimiter = max(_DELIMITERS, key=first.count)
    if column is None and first.count(delimiter) == 0 and _column_key(first) not in _PHONE_COLUMNS:
        yield first.strip()
        for line in rows:
            rows.in_row = False
            yield line.strip()
        return
    header = [cell.strip() for cell in next(csv.reader([first], delimiter=delimiter), [])]
    index = _phone_column(header, name, column)
    reader = csv.reader(rows, delimiter=delimiter, strict=True)
    try:
        for row in reader:
            rows.in_row = False
            if any(cell.strip() for cell in row):
                phone = row[index].strip() if len(row) > index else ""
                yield phone or f"(line {rows.start}: no {header[index]!r} cell)"
    except csv.Error as exc:
        problem = f"CSV row on line {rows.start}: {exc} (a stray quote?)"
        raise _refuse(name, problem) from None


def _phone_column(header: list[str], name: str, column: str | None) -> int:
    keys = [_column_key(cell) for cell in header]
    wanted = {_column_key(column)} if column is not None else _PHONE_COLUMNS
    for index, key in enumerate(keys):
        if key in wanted:
            return index
    found = ", ".join(repr(cell) for cell in header)
    hint = f"no column named {column!r}" if column is not None else "no phone column"
    raise _refuse(name, f"{hint}; columns found: {found} (name one with --column)")


def open_binary(name: str) -> BinaryIO:
    """The named file (or stdin for ``-``) for reading bytes; a clear error if it cannot be."""
    if name == "-":
        import sys

        if sys.stdin is None:  # started with stdin closed (``<&-``)
            raise _refuse(name, "stdin is closed")
        return sys.stdin.buffer
    path = Path(name)
    if not path.is_file():
        raise _refuse(name, "not a readable file" if path.exists() else "no such file")
    try:
        return path.open("rb")
    except OSError as exc:
        raise _refuse(name, exc.strerror or str(exc)) from None


def count_numbers(name: str, column: str | None) -> int:
    """How many numbers the file holds (reading it once; errors show before anything is sent)."""
    with open_binary(name) as binary:
        return sum(1 for _ in parse(decoded_lines(binary, name), name, column))


class Survey(NamedTuple):
    """What :func:`survey` found in an input."""

    entries: int  # repeats included
    distinct: int  # different numbers (an invalid entry counts by its text)
    digest: str  # SHA-256 of the normalised entries in order: the input's fingerprint


def ledger_key(raw: str) -> str:
    """The name of an input entry in a shared job: its E.164 number, else (invalid) its text."""
    try:
        return check_phone("phone_number", raw)
    except VlensInputError:
        return raw


def survey(name: str, column: str | None) -> Survey:
    """Read the file once: its size in numbers and its fingerprint (workers of one job over
    Redis must share one input; CRLF, comments or spelling of the numbers do not matter)."""
    digest, count, seen, invalid = hashlib.sha256(), 0, NumberSet(), TextSet()
    try:
        with open_binary(name) as binary:
            for raw in parse(decoded_lines(binary, name), name, column):
                key = ledger_key(raw)
                digest.update(key.encode() + b"\n")
                count += 1
                if key.startswith("+") and key[1:].isdigit():
                    seen.add(key)
                else:
                    invalid.add(key)
        return Survey(count, len(seen) + len(invalid), digest.hexdigest())
    finally:
        seen.close()
        invalid.close()


class _Stopped(Exception):
    pass


_Item = list[str] | BaseException | None


async def numbers_from(
    name: str, column: str | None, stopping: asyncio.Event | None = None
) -> AsyncIterator[str]:
    """The numbers of INPUT, read by a thread and handed over in batches as they arrive.

    The queue between the thread and the event loop is bounded, so memory stays flat however
    large the input is; a batch is handed over whenever the reader would wait for more input,
    so numbers piped in slowly are sent at once. The iteration ends early once ``stopping``
    is set, even while the input is silent.
    """
    reader = _Reader(name, column, open_binary(name), asyncio.get_running_loop())
    threading.Thread(target=reader.read, name="vlens-bulk-input", daemon=True).start()
    try:
        while (item := await _next(reader.queue, stopping)) is not None:
            if isinstance(item, BaseException):
                raise item
            for number in item:
                yield number
    finally:
        reader.stop.set()
        while not reader.queue.empty():  # unblock a hand-over in progress
            reader.queue.get_nowait()


class _Reader:
    """The thread's side of :func:`numbers_from`: parse INPUT, hand batches to the loop."""

    def __init__(
        self, name: str, column: str | None, binary: BinaryIO, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.name, self.column, self.binary, self.loop = name, column, binary, loop
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=4)
        self.stop = threading.Event()
        self.batch: list[str] = []

    def put(self, item: _Item) -> None:
        """Hand ``item`` over, waiting for room; ``_Stopped`` once the consumer has left."""
        if self.stop.is_set():
            raise _Stopped
        handed = asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop)
        while True:
            try:
                return handed.result(timeout=0.5)
            except concurrent.futures.TimeoutError:
                if self.stop.is_set() or self.loop.is_closed():
                    handed.cancel()
                    raise _Stopped from None

    def hand_over(self) -> None:
        """Hand over the numbers read so far (before a read that may wait)."""
        if self.batch:
            batch, self.batch = self.batch, []
            self.put(batch)

    def read(self) -> None:
        """The thread: every number, then None (the end) or the error that stopped it."""
        name = self.name
        try:
            for number in parse(
                decoded_lines(self.binary, name, self.hand_over), name, self.column
            ):
                self.batch.append(number)
                if len(self.batch) >= _BATCH:
                    self.hand_over()
            self.hand_over()
            self.put(None)
        except (_Stopped, RuntimeError):  # the consumer left, or its loop closed
            pass
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            with contextlib.suppress(_Stopped, RuntimeError):
                self.put(exc)
        finally:
            if name != "-":
                self.binary.close()


async def _next(queue: asyncio.Queue[_Item], stopping: asyncio.Event | None) -> _Item:
    """The next batch, or None (the end) once ``stopping`` is set."""
    if stopping is None:
        return await queue.get()
    getting = asyncio.ensure_future(queue.get())
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((getting, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not getting.done():
            getting.cancel()
    return getting.result() if not getting.cancelled() else None

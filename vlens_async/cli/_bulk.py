"""``vlens otp bulk``: send OTPs to a file of numbers, journaled so a crash loses nothing."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .._client import VlensClient
from .._errors import VlensAPIError, VlensInputError
from .._validation import check_phone
from ..bulk import BulkOutcome, BulkStatus, RateLimit
from ..bulk._service import DEFAULT
from ..sandbox import Sandbox
from ._progress import Progress

__all__ = ["Journal", "add_parser", "read_inputs", "record_of", "run"]

FAILING = (BulkStatus.FAILED, BulkStatus.INVALID, BulkStatus.UNKNOWN)


def add_parser(otp_commands: Any) -> None:
    parser = otp_commands.add_parser(
        "bulk",
        help="send an OTP to every number in a file",
        description="Send a registration OTP to every number in INPUT (one per line, or a CSV "
        "with a 'phone' column; '-' for stdin), appending one JSON line per number to --out. "
        "Uses VLENS_API_KEY / VLENS_BASE_URL, or an in-process sandbox with --sandbox.",
    )
    parser.add_argument("input", metavar="INPUT")
    parser.add_argument("--out", required=True, type=Path, metavar="RESULTS.jsonl")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rate",
        action="append",
        type=_rate,
        metavar="N/UNIT",
        help="a rate window, e.g. 10/s (repeatable; default 10/s and 60/min, none with --sandbox)",
    )
    parser.add_argument("--provider", help="SMS provider name, e.g. vodafone")
    parser.add_argument("--fallback", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--max-attempts", type=int, default=5)
    parser.add_argument("--resume", action="store_true", help="skip numbers already in --out")
    parser.add_argument("--sandbox", action="store_true", help="use an in-process sandbox")
    parser.set_defaults(run=run)


def _rate(text: str) -> RateLimit:
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def read_inputs(stream: TextIO) -> Iterator[str]:
    """Numbers from a text stream: a CSV with a ``phone`` column, or one number per line."""
    first = stream.readline()
    header = [cell.strip().lower() for cell in next(csv.reader([first]), [])]
    if ("phone" in header and len(header) > 1) or header == ["phone"]:
        column = header.index("phone")
        for row in csv.reader(stream):
            if len(row) > column and row[column].strip():
                yield row[column].strip()
        return
    for line in (first, *stream) if first else ():
        text = line.strip()
        if text and not text.startswith("#"):
            yield text


class Journal:
    """The results file: one flushed JSON line per event, read back for ``--resume``."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.done: set[str] = set()
        recovered: dict[str, dict[str, Any]] = {}
        if path.exists() and path.stat().st_size:
            if not resume:
                raise VlensInputError(
                    "--out", f"{path} already has results; pass --resume or choose another file"
                )
            recovered = self._read()
        cut = _ends_mid_line(path)
        self.file = path.open("a", encoding="utf-8")
        if cut:
            self.file.write("\n")  # end the line the crash cut, so the next record stands alone
        for pending in recovered.values():  # sent or not, we cannot know: never resend
            self.write(
                {
                    **pending,
                    "status": "unknown",
                    "error": {
                        "type": "Interrupted",
                        "code": None,
                        "message": "the run stopped while this number was in flight",
                    },
                }
            )
        self.recovered_unknown = len(recovered)

    def _read(self) -> dict[str, dict[str, Any]]:
        pending: dict[str, dict[str, Any]] = {}
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut by the crash: its number is still pending or absent
                key = record.get("phone_number") or record.get("input")
                if not isinstance(key, str):
                    continue
                if record.get("status") == "pending":
                    pending[key] = record
                elif record.get("status") != "duplicate":  # a repeat settles nothing
                    pending.pop(key, None)
                    self.done.add(key)
        self.done.update(pending)
        return pending

    def write(self, record: dict[str, Any]) -> None:
        record.setdefault("at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.file.flush()

    def skip(self, raw: str) -> bool:
        try:
            key = check_phone("phone_number", raw)
        except VlensInputError:
            key = raw
        return key in self.done or raw in self.done

    def close(self) -> None:
        self.file.close()


def _ends_mid_line(path: Path) -> bool:
    """Whether a crash cut the file's last line (its last byte is not a newline)."""
    if not path.exists() or not path.stat().st_size:
        return False
    with path.open("rb") as tail:
        tail.seek(-1, os.SEEK_END)
        return tail.read(1) != b"\n"


def record_of(outcome: BulkOutcome) -> dict[str, Any]:
    """The JSON line for an outcome. Errors keep type, code and message, never a secret."""
    error = outcome.error
    return {
        "input": outcome.input,
        "phone_number": outcome.phone_number,
        "status": outcome.status.value,
        "request_id": str(outcome.request_id) if outcome.request_id else None,
        "provider": outcome.provider.name.lower() if outcome.provider else None,
        "attempts": outcome.attempts,
        "error": None
        if error is None
        else {
            "type": type(error).__name__,
            "code": error.code if isinstance(error, VlensAPIError) else None,
            "message": str(error),
        },
    }


def _open_input(name: str) -> tuple[TextIO, int | None]:
    if name == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig"), None
    path = Path(name)
    if not path.is_file():
        raise VlensInputError("INPUT", f"{name} is not a readable file")
    with path.open(encoding="utf-8-sig") as counting:
        total = sum(1 for line in read_inputs(counting))
    return path.open(encoding="utf-8-sig"), total


async def run(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise VlensInputError("--concurrency", "must be at least 1")
    stream, total = _open_input(args.input)
    try:
        journal = Journal(args.out, args.resume)
        try:
            return await _send_all(args, stream, total, journal)
        finally:
            journal.close()
    finally:
        stream.close()


async def _send_all(
    args: argparse.Namespace, stream: TextIO, total: int | None, journal: Journal
) -> int:
    sandbox = Sandbox() if args.sandbox else None
    client = sandbox.client() if sandbox else VlensClient.from_env()
    rates = args.rate if args.rate else (None if sandbox else DEFAULT)
    counts: Counter[str] = Counter()
    if journal.recovered_unknown:
        counts["unknown"] += journal.recovered_unknown
    skipped = 0

    def fresh() -> Iterator[str]:
        nonlocal skipped
        for raw in read_inputs(stream):
            if journal.skip(raw):
                skipped += 1
                continue
            yield raw

    todo = None if total is None else max(total - len(journal.done), 0)
    progress = Progress(todo, sys.stderr)
    started = time.perf_counter()
    try:
        async with client:
            outcomes = client.bulk.send_phone_otps(
                fresh(),
                concurrency=args.concurrency,
                rate_limits=rates,
                sms_provider=args.provider,
                fallback_providers=args.fallback,
                max_attempts=args.max_attempts,
                on_send=lambda raw, number: journal.write(
                    {"input": raw, "phone_number": number, "status": "pending"}
                ),
            )
            async for outcome in outcomes:
                journal.write(record_of(outcome))
                counts[outcome.status.value] += 1
                progress.update(failed=outcome.status in FAILING)
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    done = sum(counts.values())
    summary = ", ".join(
        f"{status} {counts[status.value]}" for status in BulkStatus if counts[status.value]
    )
    print(
        f"{done} numbers in {elapsed:.1f} s ({done / elapsed if elapsed else 0:.1f}/s): "
        f"{summary or 'nothing to do'}" + (f"; {skipped} already recorded" if skipped else "")
    )
    return 1 if any(counts[s.value] for s in FAILING) else 0

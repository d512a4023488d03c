"""The options of ``vlens otp bulk``, and the checks argparse cannot make alone."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .._errors import VlensInputError
from .._ratelimit import RateLimit

__all__ = ["MAX_RATE_COUNT", "add_parser", "check"]

MAX_RATE_COUNT = 1_000_000


_INPUT_HELP = (
    "UTF-8 (or UTF-16 with a BOM). A line whose first non-blank character is '#' and that holds "
    "no ',', ';' or tab is a comment; blank lines are skipped; every other line is one number, or "
    "one CSV row (a row without a phone cell is recorded invalid, a stray quote exits 2)"
)


def add_parser(otp_commands: Any, run: Callable[[argparse.Namespace], Awaitable[int]]) -> None:
    """Add ``vlens otp bulk`` and its options."""
    parser = otp_commands.add_parser(
        "bulk",
        help="send an OTP to every number in a file",
        description="Send a registration OTP to every number in INPUT (one per line, or a CSV "
        "with a phone column; '-' for stdin), appending one JSON line per number to --out. "
        "Uses VLENS_API_KEY / VLENS_BASE_URL, or an in-process sandbox with --sandbox. "
        "With --redis and --job, any number of workers share the job (see docs/scaling.md).",
    )
    parser.add_argument("input", metavar="INPUT", nargs="?", help=_INPUT_HELP)
    parser.add_argument("--out", type=_path, metavar="RESULTS.jsonl")
    parser.add_argument("--column", metavar="NAME", help="the CSV column holding the numbers")
    parser.add_argument("--concurrency", type=_positive, default=32, metavar="N")
    parser.add_argument(
        "--rate",
        action="append",
        type=_rate,
        metavar="N/UNIT",
        help="a rate window, e.g. 10/s (repeatable; default 10/s and 60/min, none with --sandbox)",
    )
    parser.add_argument("--provider", help="SMS provider name, e.g. vodafone")
    parser.add_argument("--fallback", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--max-attempts", type=_positive, default=5, metavar="N")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip numbers already in --out, except those certainly not sent",
    )
    parser.add_argument("--sandbox", action="store_true", help="use an in-process sandbox")
    job = parser.add_argument_group("a job shared by several workers (needs the redis extra)")
    job.add_argument("--redis", metavar="URL", help="redis://[:password@]host:port/db")
    job.add_argument("--job", metavar="NAME", help="the job's name: the same for every worker")
    job.add_argument(
        "--report",
        type=_path,
        metavar="FINAL.jsonl",
        help="instead of sending: write the job's final records, one per number",
    )
    job.add_argument(
        "--heartbeat",
        type=_seconds,
        default=15.0,
        metavar="SECONDS",
        help="how long a silent worker counts as alive (default 15)",
    )
    parser.set_defaults(run=run)


def _path(text: str) -> Path:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return Path(text)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds from 0.1 to 3600, got {text!r}")
    return value


def _rate(text: str) -> RateLimit:
    try:
        limit = RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if limit.count > MAX_RATE_COUNT:
        raise argparse.ArgumentTypeError(f"at most {MAX_RATE_COUNT} calls a window, got {text!r}")
    return limit


def check(args: argparse.Namespace) -> None:
    """Refuse option combinations argparse cannot express (exit 2, naming the option)."""
    for option, value in (("--redis", args.redis), ("--job", args.job)):
        # `--redis "$UNSET"` would otherwise run alone: every worker would text every number
        if value is not None and not value.strip():
            raise VlensInputError(option, "must not be empty (is its variable unset?)")
    for option, path in (("--out", args.out), ("--report", args.report)):
        # a pipe or device keeps no results: lost (or a hang once a pipe's buffer is full)
        if path is not None and path.exists() and not path.is_file() and not path.is_dir():
            raise VlensInputError(option, f"{path}: not a regular file (it keeps the results)")
    if (args.redis is None) != (args.job is None):
        raise VlensInputError(
            "--redis" if args.redis is None else "--job", "give --redis and --job together"
        )
    if args.report is not None:
        if args.redis is None:
            raise VlensInputError("--report", "needs --redis URL --job NAME")
        if args.input is not None or args.out is not None:
            raise VlensInputError("--report", "reads the job from Redis; give no INPUT nor --out")
        return
    if args.input is None:
        raise VlensInputError("INPUT", "required (a file of numbers, or - for stdin)")
    if args.out is None:
        raise VlensInputError("--out", "required (the results file)")
    if args.redis is not None and args.input == "-":
        raise VlensInputError("INPUT", "a job over --redis needs a file every worker reads")

"""``vlens sandbox``: serve the simulated Vlens over HTTP, printing each call and message.

Every option is checked when it is read: a bad value ends the command with a message naming
the option and exit code 2, before anything is served.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .._errors import VlensInputError
from .._operation import Operation
from .._validation import OTP_MAX_DIGITS, OTP_MIN_DIGITS, check_header_value
from ..sandbox import (
    FAULT_SPEC_GRAMMAR,
    FaultSpec,
    OutboxMessage,
    Sandbox,
    SandboxClock,
    create_app,
    parse_fault_spec,
)
from ..services import password_reset, profile, registration, sessions

__all__ = ["add_parser", "build_sandbox", "run"]

_RATE = re.compile(r"(\d+)/(\d+(?:\.\d+)?)?(s|sec|m|min|h)")
_UNIT_SECONDS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}

EPILOG = f"""\
--rate N/PERIOD allows N calls per PERIOD and API key, then answers 429 with Retry-After;
PERIOD is s, m (or min), h, or a number before one of them: 10/s, 600/m, 100/10s.
Give it more than once for several windows: --rate 10/s --rate 300/m.

{FAULT_SPEC_GRAMMAR}
Sandbox-only route: GET /_sandbox/outbox[?recipient=...] (ApiKey header) lists the messages
"sent", with their codes.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "sandbox",
        help="serve the simulated Vlens on a local port",
        description="Serve a stateful simulated Vlens over HTTP. Every SMS and e-mail it\n"
        "'sends' is printed here, so you can read the codes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_integer(1, 65535), default=8088, help="port to bind (default 8088)"
    )
    parser.add_argument(
        "--api-key",
        type=_header,
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an accepted API key (repeatable; default sandbox-key)",
    )
    parser.add_argument(
        "--tenancy", type=_header, default="sandbox", help="tenancy name (default sandbox)"
    )
    parser.add_argument(
        "--seed", type=_integer(), default=None, help="make codes and ids reproducible"
    )
    _add_behaviour_options(parser)
    parser.set_defaults(run=run)


def _add_behaviour_options(parser: argparse.ArgumentParser) -> None:
    """The options that shape how the simulated Vlens behaves: limits, OTPs, faults."""
    parser.add_argument(
        "--rate",
        type=parse_rate,
        action="append",
        dest="rates",
        metavar="N/PERIOD",
        help="a rate limit per API key, e.g. 10/s (repeatable; default: none)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        dest="faults",
        metavar="SPEC",
        help="schedule a fault, e.g. '*:latency=0.5:p=0.1' (repeatable; grammar below)",
    )
    otp = parser.add_argument_group("OTP rules")
    for flag, read, default, metavar, text in _OTP_OPTIONS:
        otp.add_argument(flag, type=read, default=default, metavar=metavar, help=text)


def parse_rate(text: str) -> tuple[int, float]:
    """``"10/s"`` -> ``(10, 1.0)``; ``"100/10s"`` -> ``(100, 10.0)``: calls per seconds."""
    found = _RATE.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"expected N/PERIOD such as 10/s or 600/m, not {text!r}")
    count, multiple, unit = found.groups()
    seconds = float(multiple or 1) * _UNIT_SECONDS[unit]
    if int(count) < 1 or seconds <= 0:
        raise argparse.ArgumentTypeError(f"a rate needs at least 1 call in a period, not {text!r}")
    return int(count), seconds


def _integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    def read(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    return read


def _seconds(*, positive: bool) -> Callable[[str], float]:
    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(
                f"must be a finite number of seconds {'above' if positive else 'of at least'} 0"
            )
        return value

    return read


def _header(text: str) -> str:
    """A value clients send as a header: one they can send (not empty, no control character)."""
    try:
        return check_header_value("value", text)
    except VlensInputError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None


def _digits(text: str) -> str:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError("expected a code of digits only")
    return text


def _fault(text: str) -> FaultSpec:
    try:
        spec = parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    match = spec.fault.match
    if match is not None and not any(spec.fault.matches(path, name) for name, path in _calls()):
        raise argparse.ArgumentTypeError(
            f"fault {text!r}: {match!r} is no operation name nor path end (a typo?), such as "
            "registration.send_phone_otp or Register/StepVerifyPhone"
        )
    return spec


def _calls() -> list[tuple[str, str]]:
    """Every operation's name and path, from the services' Operation constants."""
    return [
        (value.name, value.path)
        for module in (password_reset, profile, registration, sessions)
        for value in vars(module).values()
        if isinstance(value, Operation)
    ]


_OTP_OPTIONS: list[tuple[str, Callable[[str], Any], Any, str, str]] = [
    (
        "--otp-length",
        _integer(OTP_MIN_DIGITS, OTP_MAX_DIGITS),  # the lengths the SDK accepts back
        6,
        "N",
        f"digits per OTP ({OTP_MIN_DIGITS}-{OTP_MAX_DIGITS}, default 6)",
    ),
    (
        "--otp-ttl",
        _seconds(positive=True),
        300.0,
        "SECONDS",
        "how long an OTP stays valid (default 300)",
    ),
    (
        "--resend-cooldown",
        _seconds(positive=False),
        30.0,
        "SECONDS",
        "wait before another code may go to the same recipient (default 30; 0: none)",
    ),
    (
        "--max-attempts",
        _integer(1),
        5,
        "N",
        "wrong codes allowed per OTP before it is locked (default 5)",
    ),
    (
        "--fixed-otp",
        _digits,
        None,
        "CODE",
        "make every OTP this code (--otp-length digits), for browser end-to-end tests",
    ),
]


def build_sandbox(args: argparse.Namespace) -> Sandbox:
    """The Sandbox the command line describes, on a running clock."""
    if args.fixed_otp is not None and len(args.fixed_otp) != args.otp_length:
        raise VlensInputError(
            "--fixed-otp", f"must have {args.otp_length} digits (the --otp-length)"
        )
    sandbox = Sandbox(
        api_keys=tuple(args.api_keys or ("sandbox-key",)),
        tenancy_name=args.tenancy,
        seed=args.seed,
        clock=SandboxClock(running=True),
        rate_limits=args.rates,
        otp_length=args.otp_length,
        otp_ttl=args.otp_ttl,
        resend_cooldown=args.resend_cooldown,
        max_attempts=args.max_attempts,
        fixed_otp=args.fixed_otp,
    )
    for spec in args.faults or ():
        spec.add_to(sandbox.faults)
    return sandbox


def describe(message: OutboxMessage) -> str:
    """One line for a sent message; the sandbox's codes are fake, so showing them is the point."""
    via = f" via provider {message.provider}" if message.provider else ""
    request = f", request {message.request_id}" if message.request_id else ""
    kind = "SMS" if message.channel == "sms" else "E-mail"
    return f"{kind} to {message.recipient}: code {message.code} ({message.purpose}{request}{via})"


def _settings(args: argparse.Namespace) -> str:
    """What differs from the defaults, for the banner."""
    rates = ", ".join(f"{count}/{seconds:g}s" for count, seconds in args.rates or ())
    parts = [f"rate limits {rates}" if rates else "no rate limit"]
    if args.fixed_otp is not None:
        parts.append(f"every OTP is {args.fixed_otp}")
    if args.faults:
        parts.append(f"{len(args.faults)} fault(s) scheduled")
    return "; ".join(parts)


async def run(args: argparse.Namespace) -> int:
    sandbox = build_sandbox(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    sandbox.outbox.subscribe(lambda message: print(describe(message), flush=True))
    runner = web.AppRunner(create_app(sandbox), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as exc:  # the port is taken, or the host is no address here
            where = f"cannot listen on {args.host}:{args.port}"
            raise VlensInputError("--host/--port", f"{where}: {exc.strerror or exc}") from None
        keys = ", ".join(sandbox.api_keys)
        print(
            f"Vlens sandbox on http://{args.host}:{args.port} (API keys: {keys}; "
            f"{_settings(args)})",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0  # pragma: no cover - the loop above ends by interruption

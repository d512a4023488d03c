"""The ``vlens`` command: ``vlens demo``, ``vlens sandbox``, ``vlens otp send``, ``vlens otp bulk``.

Exit codes: 0 success; 1 Vlens refused or answered badly (for ``otp bulk``: any number
failed, was invalid or is unknown); 2 bad arguments or a file that cannot be read or written;
3 the server could not be reached or did not answer in time (for ``otp bulk``: no number
reached it); 4 (``otp bulk --redis``) Redis could not be reached: nothing was sent without a
permit, run the workers again once it is back; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .._errors import VlensError, VlensInputError, VlensTransportError
from .._version import __version__

__all__ = ["EXIT_API", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    from . import _bulk, _demo, _send, _serve

    parser = argparse.ArgumentParser(
        prog="vlens", description="Vlens Digital Identity API: demo journey and local sandbox."
    )
    parser.add_argument("--version", action="version", version=f"vlens-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _demo.add_parser(commands)
    _serve.add_parser(commands)
    otp = commands.add_parser("otp", help="send phone OTPs").add_subparsers(
        dest="otp_command", required=True, metavar="COMMAND"
    )
    _send.add_parser(otp)
    _bulk.add_parser(otp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    handlers = _signal_handlers()  # a command may leave Ctrl-C ignored while it closes
    try:
        args = build_parser().parse_args(argv)  # loading the commands' modules takes a while
        return int(asyncio.run(args.run(args)))
    except KeyboardInterrupt:
        print("vlens: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except VlensInputError as exc:
        print(f"vlens: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except VlensTransportError as exc:
        print(f"vlens: error: cannot reach the server: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except VlensError as exc:
        print(f"vlens: error: {exc}", file=sys.stderr)
        return EXIT_API
    except OSError as exc:  # a local file: network failures arrive as VlensTransportError
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"vlens: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        for sig, handler in handlers.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)


def _signal_handlers() -> dict[signal.Signals, Any]:
    """The handlers of Ctrl-C and SIGTERM now (None: not set from Python)."""
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

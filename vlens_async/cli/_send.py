"""``vlens otp send``: text one registration OTP, and say what became of it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .._client import VlensClient
from .._errors import OutcomeUnknownError
from .._redact import mask_phone
from .._validation import check_phone, check_provider
from ..sandbox import Sandbox

__all__ = ["add_parser", "run"]


def add_parser(otp_commands: Any) -> None:
    parser = otp_commands.add_parser(
        "send",
        help="send a registration OTP to one number",
        description="Send a registration OTP to PHONE and print its request id (needed to "
        "validate the code) and expiry. Uses VLENS_API_KEY / VLENS_BASE_URL / "
        "VLENS_TENANCY_NAME, or an in-process sandbox with --sandbox. An answer that never "
        "came (connection lost after sending) exits 1 with 'outcome unknown': check before "
        "sending again, the person may already have the code.",
    )
    parser.add_argument("phone", metavar="PHONE", help="E.164, e.g. +201001234567")
    parser.add_argument("--provider", help="SMS provider name, e.g. vodafone (default: tenant's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--sandbox", action="store_true", help="use an in-process sandbox")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    # Checked before any client exists: bad input never needs credentials or a connection.
    phone = check_phone("PHONE", args.phone)
    provider = check_provider("--provider", args.provider)
    client = Sandbox().client() if args.sandbox else VlensClient.from_env()
    async with client:
        try:
            state = await client.registration.send_phone_otp(phone, provider)
        except OutcomeUnknownError as exc:
            _report(args, phone, status="unknown", error=str(exc))
            return 1
    request_id = state.phone_number_otp_request_id
    _report(
        args,
        phone,
        status="sent",
        request_id=None if request_id is None else str(request_id),
        provider=None if provider is None else provider.name.lower(),
        expires_in_seconds=state.phone_otp_expire_in_seconds,
    )
    return 0


def _report(args: argparse.Namespace, phone: str, *, status: str, **fields: Any) -> None:
    if args.json:
        _say(json.dumps({"phone_number": phone, "status": status, **fields}))
        return
    if status == "unknown":
        _say(f"{mask_phone(phone)}: outcome unknown ({fields['error']})")
        return
    details = [f"request id {fields['request_id']}"]
    if fields["provider"]:
        details.append(f"via {fields['provider']}")
    if fields["expires_in_seconds"] is not None:
        details.append(f"expires in {fields['expires_in_seconds']} s")
    _say(f"OTP sent to {mask_phone(phone)}: {', '.join(details)}")


def _say(line: str) -> None:
    """Print the outcome; on stderr if stdout's reader has left: the code is sent either way,
    and its request id is what the user needs to validate it."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # The recipe of Python's signal docs: point stdout at devnull, so that the flush at
        # exit does not fail again ("Exception ignored ... BrokenPipeError").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"vlens: stdout is closed; {line}", file=sys.stderr)

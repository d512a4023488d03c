"""``vlens demo``: the whole journey, step by step, through the real client."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from .._client import VlensClient
from .._errors import VlensError
from .._models import SmsProvider
from .._redact import mask_contact, mask_email, mask_phone
from ..sandbox import Sandbox
from ..sandbox._http import OUTBOX_PATH

__all__ = ["CodeSource", "add_parser", "journey", "run"]

STEPS = 13


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the registration-to-login journey (in-process sandbox by default)",
        description="Run the whole journey through the real client: duplicate check, phone and "
        "e-mail OTPs, registration, profile e-mail change, password reset, login. Without "
        "--base-url it runs against an in-process sandbox.",
    )
    parser.add_argument("--base-url", help="a Vlens-compatible server, e.g. http://127.0.0.1:8088")
    parser.add_argument("--api-key", help="the API key for --base-url (or VLENS_API_KEY)")
    parser.add_argument("--tenancy", default=None, help="tenancy name to send, if any")
    parser.add_argument("--timeout", type=_seconds, default=30.0, help="deadline per call, seconds")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected seconds above 0, got {text!r}")
    return value


class CodeSource:
    """Where the demo reads the codes that were "texted": the sandbox, or the person running it."""

    def __init__(self, sandbox: Sandbox | None = None, remote: tuple[str, str] | None = None):
        self.sandbox = sandbox
        self.remote = remote

    async def code_for(self, recipient: str, request_id: uuid.UUID | None) -> str:
        if self.sandbox is not None:
            messages = self.sandbox.outbox.to(recipient)
            match = [m for m in messages if m.request_id == request_id] or messages
            return match[-1].code
        code = await self._from_remote_sandbox(recipient, request_id)
        if code is not None:
            return code
        if not sys.stdin.isatty():
            raise VlensError(
                f"cannot read the code sent to {mask_contact(recipient)}: "
                "the server has no sandbox outbox and standard input is not a terminal"
            )
        prompt = f"Code sent to {recipient}: "
        try:
            return (await asyncio.to_thread(input, prompt)).strip()
        except EOFError:  # Ctrl-D at the prompt
            raise VlensError(f"no code entered for {mask_contact(recipient)}") from None

    async def _from_remote_sandbox(
        self, recipient: str, request_id: uuid.UUID | None
    ) -> str | None:
        """The code in a served sandbox's outbox; None when the server has no outbox that
        can be read (a real Vlens, a proxy's page, nothing listening, another shape)."""
        if self.remote is None:
            return None
        try:
            messages = await self._remote_messages(recipient)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None
        wanted = str(request_id) if request_id else None
        found = [m for m in messages if isinstance(m, dict) and isinstance(m.get("code"), str)]
        chosen = [m for m in found if m.get("requestId") == wanted] or found
        return str(chosen[-1]["code"]) if chosen else None

    async def _remote_messages(self, recipient: str) -> list[Any]:
        assert self.remote is not None
        base_url, api_key = self.remote
        url = base_url.rstrip("/") + OUTBOX_PATH
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(url, params={"recipient": recipient}, headers={"ApiKey": api_key}) as resp,
        ):
            if resp.status != 200:
                return []
            body = await resp.json()
        messages = body.get("messages") if isinstance(body, dict) else None
        return messages if isinstance(messages, list) else []


async def journey(vlens: VlensClient, codes: CodeSource, say: Callable[[str], None]) -> None:
    """Register a new user, change the e-mail, reset the password and log in."""
    tag = secrets.token_hex(3)
    phone = "+2010" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    email, new_email = f"demo.{tag}@example.com", f"demo.{tag}.new@example.com"
    password, new_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    step = _Steps(say)
    registration = vlens.registration

    found = await registration.check_existence(phone_number=phone, email=email)
    known = "already registered" if found.exists else "not registered yet"
    step("Duplicate check", f"{mask_phone(phone)} / {mask_email(email)}: {known}")

    sent = await registration.send_phone_otp(phone, SmsProvider.VODAFONE)
    phone_request = _need(sent.phone_number_otp_request_id, "phone OTP request id")
    expiry = sent.phone_otp_expire_in_seconds
    step("Phone OTP sent", f"via Vodafone, request {_short(phone_request)}, expires in {expiry} s")
    phone_code = await codes.code_for(phone, phone_request)
    checked = await registration.validate_phone_otp(phone, phone_request, phone_code)
    step("Phone OTP validated", f"confirmed: {checked.is_phone_number_confirmed}")

    mail = await registration.send_email_otp(email)
    email_request = _need(mail.email_otp_request_id, "e-mail OTP request id")
    step("E-mail OTP sent", f"to {mask_email(email)}, request {_short(email_request)}")
    email_code = await codes.code_for(email, email_request)
    mailed = await registration.validate_email_otp(email, email_request, email_code)
    step("E-mail OTP validated", f"confirmed: {mailed.is_email_confirmed}")

    done = await registration.complete(
        phone_number=phone,
        phone_otp_request_id=phone_request,
        phone_otp=phone_code,
        email=email,
        password=password,
        email_otp_request_id=email_request,
        email_otp=email_code,
    )
    user_id = done.user.id if done.user else None
    step("Registered", f"user #{user_id}, access token for {done.expire_in_seconds} s (hidden)")

    me = vlens.profile(_need(done.access_token, "access token"))
    pending = await me.request_email_update(new_email)
    change_request = _need(pending.email_otp_request_id, "e-mail OTP request id")
    step("E-mail change requested", f"code sent to {mask_email(new_email)}")
    change_code = await codes.code_for(new_email, change_request)
    confirmed = await me.confirm_email_update(change_request, change_code)
    step("E-mail change confirmed", f"confirmed: {confirmed.is_email_confirmed}")

    reset = await vlens.password_reset.send_email_otp(new_email)
    reset_request = _need(reset.email_otp_request_id, "e-mail OTP request id")
    step("Password reset started", f"code e-mailed to {mask_email(new_email)}")
    reset_code = await codes.code_for(new_email, reset_request)
    grant = await vlens.password_reset.validate_email_otp(new_email, reset_request, reset_code)
    user, code = _need(grant.user_id, "user id"), _need(grant.reset_code, "reset code")
    await vlens.password_reset.reset(user, code, new_password)
    step("Password reset", "the new password is set (hidden)")

    imei = "demo-" + tag
    login = await vlens.sessions.login(phone, new_password, imei)
    step("Login from a new device", "an OTP is required" if login.otp_required else "signed in")
    if login.otp_required:
        login_request = _need(login.phone_number_otp_request_id, "login OTP request id")
        login_code = await codes.code_for(phone, login_request)
        login = await vlens.sessions.login(
            phone,
            new_password,
            imei,
            phone_number_otp_request_id=login_request,
            phone_number_otp=login_code,
        )
    _need(login.access_token, "access token")
    step("Signed in", f"access token for {login.expire_in_seconds} s, refresh token (hidden)")

    again = await registration.check_existence(phone_number=phone)
    now = "registered" if again.exists else "still missing!"
    step("Duplicate check again", f"{mask_phone(phone)}: {now}")


def _need(value: Any, what: str) -> Any:
    """A value the journey cannot go on without; a server that omits it gets a clear error."""
    if value is None:
        raise VlensError(f"the server's answer has no {what}")
    return value


class _Steps:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say, self.count = say, 0

    def __call__(self, title: str, detail: str) -> None:
        self.count += 1
        self.say(f"[{self.count:2}/{STEPS}] {title:<26} {detail}")


def _short(value: object) -> str:
    return str(value)[:8] + "…" if value else "?"


async def run(args: argparse.Namespace) -> int:
    from .._retry import RetryPolicy

    retry = RetryPolicy(deadline=args.timeout)
    started = time.perf_counter()
    if args.base_url:
        vlens = VlensClient.from_env(
            **({"api_key": args.api_key} if args.api_key else {}),
            base_url=args.base_url,
            tenancy_name=args.tenancy,
            retry=retry,
        )
        codes = CodeSource(
            remote=(args.base_url, args.api_key or os.environ.get("VLENS_API_KEY", ""))
        )
        print(f"vlens demo against {vlens.base_url}")
    else:
        sandbox = Sandbox()
        vlens = sandbox.client(retry=retry, tenancy_name=args.tenancy or sandbox.tenancy_name)
        codes = CodeSource(sandbox=sandbox)
        print("vlens demo against an in-process sandbox (codes are read from its outbox)")
    async with vlens:
        await journey(vlens, codes, lambda line: print(line, flush=True))
    print(f"Done: {STEPS} steps in {time.perf_counter() - started:.2f} s.")
    return 0

"""A minimal HTTP/1.1 keep-alive server that answers every request with one fixed envelope.

It runs in its own process, pinned to its own CPU where the OS allows, so that a benchmark
measures the client side. ``python -m benchmarks.server --port 0`` prints the bound port on
stdout and serves until its stdin closes (or it gets SIGTERM).

The parser is the least HTTP that the three clients under test need: a request head ending in
a blank line, then ``Content-Length`` bytes of body. Chunked request bodies are refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ENVELOPE", "RESPONSE", "running_server", "serve"]

# What the sandbox answers to Register/StepVerifyPhone, with fixed ids.
ENVELOPE = (
    b'{"data":{"isEmailConfirmationRequired":null,"isEmailConfirmed":null,'
    b'"isPhoneNumberConfirmationRequired":true,"isPhoneNumberConfirmed":false,'
    b'"phoneNumberOtp":null,"phoneNumberOtpRequestId":"18072e8c-35bf-492d-89e9-c616612e7696",'
    b'"emailOtpRequestId":null,"phoneOtpExpireInSeconds":300,"emailOtpExpireInSeconds":null,'
    b'"isDigitalIdentityVerified":null,"accessToken":null,"encryptedAccessToken":null,'
    b'"expireInSeconds":null,"userName":null,"userFullName":null,'
    b'"transactionId":"a6cecc1b-78e5-4061-b311-d8a3c2ce6f44","user":null},'
    b'"error_code":null,"error_message":null,"error_descriptions":null}'
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: " + str(len(ENVELOPE)).encode() + b"\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n" + ENVELOPE
)
_REFUSE_CHUNKED = b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_ROOT = Path(__file__).resolve().parent.parent


def _content_length(head: bytes) -> int | None:
    """The request body's length, or None for a chunked body; ``head`` is lower-cased."""
    if b"\r\ntransfer-encoding:" in head:
        return None
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    start += len(b"\r\ncontent-length:")
    end = head.find(b"\r\n", start)
    return int(head[start : end if end >= 0 else len(head)])


class _FixedAnswer(asyncio.Protocol):
    """One connection: parse request after request, answer each with ``RESPONSE``."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._expected: int | None = None  # bytes of the current request, once its head is in
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        buffer = self._buffer
        buffer += data
        while True:
            if self._expected is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = _content_length(bytes(buffer[:end]).lower())
                if length is None:
                    self._transport.write(_REFUSE_CHUNKED)
                    self._transport.close()
                    return
                self._expected = end + 4 + length
            if len(buffer) < self._expected:
                return
            del buffer[: self._expected]
            self._expected = None
            self._transport.write(RESPONSE)


async def serve(host: str, port: int) -> None:
    """Serve on ``host:port`` (0: any free port), print the port, run until stdin closes."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FixedAnswer, host, port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    stdin = sys.stdin.fileno()

    def on_stdin() -> None:
        if not os.read(stdin, 4096):
            stop.set()

    loop.add_reader(stdin, on_stdin)
    async with server:
        await stop.wait()
    loop.remove_reader(stdin)


def pin_to_cpu(cpu: int | None) -> bool:
    """Pin this process to ``cpu`` where the OS supports it; True when it did."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running_server(cpu: int | None = None) -> Iterator[str]:
    """Run the server in a child process (on ``cpu`` if given); yields its base URL."""
    command = [sys.executable, "-m", "benchmarks.server", "--port", "0"]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    # A fixed argument list: our own interpreter running our own module.
    with subprocess.Popen(  # noqa: S603
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_ROOT, text=True
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            port = int(process.stdout.readline())
            yield f"http://127.0.0.1:{port}"
        finally:
            process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = parser.parse_args()
    pin_to_cpu(args.cpu)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

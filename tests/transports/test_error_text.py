"""What a transport error's message may say: aiohttp's type and the OS's words, never the URL's
query (which may carry a secret). Real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from vlens_transports import AiohttpTransport, ConnectError, Request, Response, TransportError

from ..conftest import free_port
from .test_aiohttp import raw_server, read_request_head

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


async def answer_then_reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer in full, then abort with a TCP RST (SO_LINGER 0) instead of closing."""
    await read_request_head(reader)
    writer.write(ANSWER)
    linger = struct.pack("ii", 1, 0)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    writer.transport.abort()


async def test_a_write_to_a_connection_reset_while_pooled_does_not_quote_the_url() -> None:
    """A reset that lands as a pooled connection is reused fails the next write; aiohttp's
    message for it quotes the whole URL ("Can not write request body for <url>"), query and
    all: only its type and the OS's words are kept."""
    outcomes: list[Response | TransportError] = []
    async with raw_server(answer_then_reset) as base, AiohttpTransport() as transport:
        for _ in range(10):
            request = Request(method="POST", url=f"{base}/api?key=secret", content=b"{}")
            try:
                outcomes.append(await transport.send(request))
            except TransportError as error:
                outcomes.append(error)
    failures = [str(each) for each in outcomes if isinstance(each, TransportError)]
    assert all("secret" not in message and "?" not in message for message in failures), failures


async def test_an_os_error_is_described_in_the_oss_words() -> None:
    """A refused connection names aiohttp's type and the OS's text for the errno."""
    async with AiohttpTransport() as transport:
        with pytest.raises(ConnectError) as caught:
            await transport.send(Request(method="GET", url=f"http://127.0.0.1:{free_port()}/"))
    assert (
        str(caught.value) == "GET /: could not connect (ClientConnectorError: Connection refused)"
    )


async def test_a_failed_tls_handshake_names_the_tls_librarys_reason() -> None:
    """TLS to a plain-HTTP server: the TLS library's reason, not an errno's text."""

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    async with raw_server(plain) as base, AiohttpTransport() as transport:
        url = base.replace("http://", "https://") + "/?key=secret"
        with pytest.raises(ConnectError) as caught:
            await transport.send(Request(method="GET", url=url))
    prefix, _, reason = str(caught.value).partition("(ClientConnectorSSLError: ")
    assert prefix == "GET /: could not connect "
    assert reason.rstrip(")").replace("_", "").isalnum()  # an OpenSSL mnemonic

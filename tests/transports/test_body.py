"""Bodies are limited by their decoded size: a gzip bomb cannot outgrow max_response_bytes.

Real servers on 127.0.0.1 that send compressed bytes as they are (raw sockets: aiohttp's own
server would re-encode).
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import tracemalloc
import zlib

import pytest

from vlens_transports import (
    AiohttpTransport,
    DecodingError,
    Request,
    ResponseTooLarge,
)

from .test_aiohttp import RawHandler, raw_server, read_request_head

MIB = 1024 * 1024
LIMIT = 1 * MIB


def answer(content: bytes, encoding: str | None, *, chunked: bool = False) -> bytes:
    """An HTTP/1.1 200 answer carrying ``content`` as is, with this Content-Encoding."""
    head = [b"HTTP/1.1 200 OK", b"Content-Type: application/json"]
    if encoding is not None:
        head.append(b"Content-Encoding: " + encoding.encode())
    if chunked:
        head.append(b"Transfer-Encoding: chunked")
        size = f"{len(content):x}".encode()
        body = size + b"\r\n" + content + b"\r\n0\r\n\r\n"
    else:
        head.append(f"Content-Length: {len(content)}".encode())
        body = content
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def serving(payload: bytes, heads: list[bytes] | None = None) -> RawHandler:
    """A raw handler answering every request with ``payload`` (noting each request head)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_request_head(reader)
        if heads is not None:
            heads.append(head)
        writer.write(payload)
        await writer.drain()

    return handler


def raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def bomb(size: int) -> bytes:
    """gzip of ``size`` zero bytes: about a thousandth of its decoded size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    parts = [compressor.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, compressor.flush()])


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_gzip_bomb_is_too_large_and_memory_stays_bounded(chunked: bool) -> None:
    """A 200 KiB gzip body that inflates to 200 MiB raises ResponseTooLarge at the 1 MiB limit,
    and the send never holds much more than the limit in memory."""
    compressed = bomb(200 * MIB)
    assert len(compressed) < 300 * 1024
    payload = answer(compressed, "gzip", chunked=chunked)
    async with (
        raw_server(serving(payload)) as base,
        AiohttpTransport(max_response_bytes=LIMIT) as transport,
    ):
        gc.collect()
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge) as caught:
                await transport.send(Request(method="GET", url=f"{base}/"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.limit == LIMIT
    assert caught.value.status == 200
    assert peak < 8 * MIB  # the limit, the compressed bytes in flight, and aiohttp's buffers


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", raw_deflate),  # raw, as some servers send
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw"],
)
async def test_compressed_bodies_are_decoded(encoding: str, compress: object) -> None:
    """gzip and deflate bodies arrive decoded; the request asked for exactly those encodings."""
    body = b'{"data": {"exists": true}, "error_code": null}' * 100
    assert callable(compress)
    heads: list[bytes] = []
    payload = answer(compress(body), encoding)
    async with raw_server(serving(payload, heads)) as base, AiohttpTransport() as transport:
        response = await transport.send(Request(method="GET", url=f"{base}/"))
    assert response.content == body
    assert b"\r\naccept-encoding: gzip, deflate\r\n" in heads[0].lower()


async def test_a_decoded_body_at_the_limit_is_accepted() -> None:
    """A gzip body decoding to exactly max_response_bytes is read in full; one byte more is not."""
    exact = b"x" * LIMIT
    at_limit = serving(answer(gzip.compress(exact), "gzip"))
    async with (
        raw_server(at_limit) as base,
        AiohttpTransport(max_response_bytes=LIMIT) as transport,
    ):
        response = await transport.send(Request(method="GET", url=f"{base}/"))
    assert response.content == exact
    over = serving(answer(gzip.compress(exact + b"x"), "gzip"))
    async with raw_server(over) as base, AiohttpTransport(max_response_bytes=LIMIT) as transport:
        with pytest.raises(ResponseTooLarge):
            await transport.send(Request(method="GET", url=f"{base}/"))


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (b"not gzip at all", "gzip"),
        (gzip.compress(b'{"data": null}')[:-6], "gzip"),  # cut before its end
        (gzip.compress(b"{}") + b"trailing", "gzip"),
        (b"\x1b\x00\x00", "br"),  # never asked for
    ],
    ids=["garbage", "truncated", "trailing-bytes", "unasked-encoding"],
)
async def test_an_undecodable_body_is_a_decoding_error(content: bytes, encoding: str) -> None:
    """A body that cannot be decoded raises DecodingError with the status and the encoding."""
    handler = serving(answer(content, encoding))
    async with raw_server(handler) as base, AiohttpTransport() as transport:
        with pytest.raises(DecodingError) as caught:
            await transport.send(Request(method="GET", url=f"{base}/"))
    assert (caught.value.status, caught.value.encoding) == (200, encoding)
    assert caught.value.may_have_reached_server is True

"""Reading a response body within a size limit that applies to its decoded size.

aiohttp is asked not to decompress (``auto_decompress=False``): before 3.12 it inflated each
received chunk whole, so a small gzip body could grow to hundreds of MiB in memory before any
limit was checked. Here ``zlib``'s ``max_length`` bounds every step, so memory stays within the
limit whatever the compression ratio.
"""

from __future__ import annotations

import zlib

import aiohttp

from ._errors import DecodingError, ResponseTooLarge

__all__ = ["ACCEPT_ENCODING", "read_body"]

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings :func:`read_body` decodes, and so the only ones a request asks for."""

_CHUNK = 64 * 1024


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The decoded body of ``response``; :class:`ResponseTooLarge` past ``limit`` bytes."""
    status = response.status
    declared = response.content_length
    # HEAD, 1xx, 204 and 304 answers have no body whatever Content-Length says (RFC 9110 8.6).
    has_body = response.method != "HEAD" and status >= 200 and status not in (204, 304)
    if has_body and declared is not None and declared > limit:
        raise ResponseTooLarge(status, limit)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        if declared is not None:
            return await response.read()  # aiohttp stops at Content-Length, within the limit
        return await _read_plain(response, limit)
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise DecodingError(status, encoding)
    return await _read_inflated(response, limit, encoding)


async def _read_plain(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(response.status, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_inflated(response: aiohttp.ClientResponse, limit: int, encoding: str) -> bytes:
    data = await response.content.readany()  # b"" at the end of the body
    decoder = zlib.decompressobj(_wbits(encoding, data))
    received = bool(data)
    chunks: list[bytes] = []
    size = 0
    try:
        while data:
            while data:
                piece = decoder.decompress(data, limit - size + 1)  # one byte past: detect it
                size += len(piece)
                if size > limit:
                    raise ResponseTooLarge(response.status, limit)
                chunks.append(piece)
                data = decoder.unconsumed_tail
            if decoder.unused_data:  # bytes after the end of the stream: not a body we read
                raise DecodingError(response.status, encoding)
            data = await response.content.readany()
            if data and decoder.eof:
                raise DecodingError(response.status, encoding)
        tail = decoder.flush()  # the input is all consumed: little or nothing is left
    except zlib.error:
        raise DecodingError(response.status, encoding) from None  # zlib's text adds nothing
    size += len(tail)
    if size > limit:
        raise ResponseTooLarge(response.status, limit)
    if received and not decoder.eof:  # cut short: the stream never ended
        raise DecodingError(response.status, encoding)
    chunks.append(tail)
    return b"".join(chunks)


def _wbits(encoding: str, first: bytes) -> int:
    """zlib's window setting: gzip, zlib-wrapped deflate, or raw deflate (which some servers
    send as ``deflate``; a zlib stream starts with a byte whose low nibble is 8)."""
    if encoding != "deflate":
        return 16 + zlib.MAX_WBITS
    if first and first[0] & 0x0F == 8:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS

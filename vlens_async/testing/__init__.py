"""Helpers for test suites that use vlens-async: envelope responses for a FakeTransport handler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlens_transports import Response

from .._json import dumps

__all__ = ["envelope", "envelope_response", "error_response"]


def envelope(
    data: Any = None,
    *,
    error_code: int | None = None,
    error_message: str | None = None,
    error_descriptions: Any = None,
) -> dict[str, Any]:
    """The Vlens envelope as a dict: ``{"data", "error_code", "error_message", ...}``."""
    return {
        "data": data,
        "error_code": error_code,
        "error_message": error_message,
        "error_descriptions": error_descriptions,
    }


def envelope_response(
    data: Any = None, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A successful response carrying ``data`` (already in wire form: camelCase keys)."""
    return _json_response(envelope(data), status, headers)


def error_response(
    error_code: int,
    error_message: str | None = None,
    *,
    status: int = 200,
    error_descriptions: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A Vlens error envelope, by default on HTTP 200 as the new docs describe."""
    body = envelope(
        error_code=error_code, error_message=error_message, error_descriptions=error_descriptions
    )
    return _json_response(body, status, headers)


def _json_response(body: Any, status: int, headers: Mapping[str, str] | None) -> Response:
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status=status, headers=all_headers, content=dumps(body))

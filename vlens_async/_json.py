"""The one JSON path of the SDK and the sandbox: orjson, or the standard library without it.

orjson is a dependency wherever it has wheels; where it cannot be imported, the stdlib
functions below stand in, made to refuse what orjson refuses that matters here: ``NaN`` and
``Infinity`` (not JSON), text that is not UTF-8 or starts with a BOM, and nesting deeper than
the interpreter can read (a ``ValueError``, never a ``RecursionError``).

What differs is documented, not hidden: orjson reads an integer beyond its 64-bit range (below
``-2**63`` or above ``2**64 - 1``) as a float, where ``json`` keeps it exact (the codec's
integer hook refuses both in a typed field); orjson refuses an escaped lone surrogate
(``"\\ud800"``), which ``json`` reads; orjson refuses nesting past 1024 levels, ``json`` past
the interpreter's recursion limit. In writing, orjson refuses an integer beyond 64 bits and
writes NaN as null; request bodies hold neither (the SDK checks its input first).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["dumps", "loads", "stdlib_dumps", "stdlib_loads"]


def _uuid_text(value: object) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def stdlib_dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as ``orjson.dumps`` writes it: a UUID as its canonical text, and
    NaN refused (orjson writes it as null)."""
    text = json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_uuid_text
    )
    return text.encode()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: json would make it inf
        raise ValueError(f"number out of range: {text}")
    return number


def stdlib_loads(data: bytes) -> Any:
    """``json.loads`` of UTF-8 ``data``, with every refusal a ``ValueError``."""
    try:
        return json.loads(
            data.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None


dumps: Callable[[Any], bytes]
"""Compact UTF-8 JSON of ``value``, whose UUIDs are written as their text (orjson's ``dumps``)."""
loads: Callable[[bytes], Any]
"""The value of JSON ``data``; a ``ValueError`` for anything that is not JSON."""

try:
    import orjson
except ImportError:  # pragma: no cover - a platform without orjson wheels
    dumps, loads = stdlib_dumps, stdlib_loads
else:
    dumps, loads = orjson.dumps, orjson.loads

"""Compact JSON text without building a ``json.JSONEncoder`` on every call.

``json.dumps`` with any option (``separators``, ``ensure_ascii``) constructs an encoder per call,
which costs more than encoding a small body; :func:`compact_dumps` builds the C encoder once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["compact_dumps"]


def compact_dumps(*, ensure_ascii: bool) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=ensure_ascii, separators=(",", ":"))`` as a function.

    There is no circular-reference check: values come from attrs models or handler dicts.
    """
    encoder = json.JSONEncoder(
        ensure_ascii=ensure_ascii, separators=(",", ":"), check_circular=False
    )
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # pragma: no cover - CPython always has the C accelerator
        return encoder.encode
    escape = (
        json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    )
    # The arguments JSONEncoder.iterencode gives the C encoder for these options.
    iterencode = make_encoder(None, encoder.default, escape, None, ":", ",", False, False, True)
    join = "".join
    return lambda value: join(iterencode(value, 0))

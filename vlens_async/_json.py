"""JSON in and out with the C accelerators called directly, shared by the SDK and the sandbox.

``json.dumps`` with any option (``separators``, ``ensure_ascii``) constructs an encoder per call,
which costs more than encoding a small body; :func:`compact_dumps` builds the C encoder once.
``json.loads`` spends about a third of the time of decoding an envelope on type checks and two
whitespace regex matches around the C scanner; :func:`loads` calls the scanner first and leaves
every other case to ``json.loads``.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any, cast

__all__ = ["compact_dumps", "loads"]

# What json.loads runs underneath: the C scanner, with the default decoder's options.
_scan_once = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))  # typeshed: wrong arg type
_only_whitespace = re.compile(r"[ \t\n\r]*\Z").match  # json.loads skips this after the value


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


def loads(text: str) -> Any:
    """``json.loads(text)``, same result and same errors, faster for a value spanning ``text``.

    The scanner is tried at index 0, and JSON whitespace after the value is skipped as
    ``json.loads`` skips it; leading whitespace, an empty text, extra data and anything that is
    not JSON fall back to ``json.loads``, which accepts it or words the error as usual.
    """
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        return json.loads(text)
    if end != len(text) and _only_whitespace(text, end) is None:
        return json.loads(text)
    return value

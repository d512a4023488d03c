"""``VLENS_LOG=debug`` (or ``info``, ``warning``): the SDK's logging on stderr without code.

Called once when ``vlens_async`` is imported. Without the variable nothing is configured: the
``vlens_async`` logger is the application's to handle, as for any library.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping

__all__ = ["FORMAT", "configure_from_env"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "vlens_async:VLENS_LOG"  # how the handler added here is found again
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_warned = False


def configure_from_env(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Log ``vlens_async`` at ``VLENS_LOG``'s level to stderr; return the handler, or None.

    Idempotent: a second call finds the handler the first added. The logger keeps
    propagating, so an application that also logs to the console sees the lines twice.
    An unknown value is ignored with one ``RuntimeWarning``.
    """
    global _warned  # one warning per process, however often this is called
    value = (os.environ if environ is None else environ).get("VLENS_LOG", "").strip()
    if not value:
        return None
    level = _LEVELS.get(value.lower())
    if level is None:
        if not _warned:
            _warned = True
            warnings.warn(
                f"VLENS_LOG={value!r} is ignored: use debug, info or warning",
                RuntimeWarning,
                stacklevel=2,
            )
        return None
    logger = logging.getLogger("vlens_async")
    logger.setLevel(level)
    for handler in logger.handlers:
        if handler.get_name() == _HANDLER_NAME:
            handler.setLevel(level)
            return handler
    handler = logging.StreamHandler()  # stderr
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    return handler

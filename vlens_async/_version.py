from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vlens-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"

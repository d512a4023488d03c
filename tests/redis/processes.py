"""Subprocesses that a test never leaves behind, however it ends."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Processes:
    """The subprocesses one test starts; leaving ``with`` kills those still running, closes
    their pipes and waits for each, so a failing test leaves no orphan worker or server."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def start(self, args: Sequence[str], **options: Any) -> subprocess.Popen[str]:
        """``subprocess.Popen(args, cwd=ROOT, text=True, **options)``, killed at the end."""
        process = subprocess.Popen(args, cwd=ROOT, text=True, **options)
        self._stack.enter_context(process)  # last: close its pipes, wait for it
        self._stack.callback(process.kill)  # first (unwound in reverse); no-op once it exited
        return process

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

"""Helpers for the ``vlens`` command tests: run it in a subprocess, serve a sandbox with it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import attrs

from ..conftest import free_port

UNMASKED_PHONE = re.compile(r"\+20\d{10}")
SANDBOX_KEY = "sandbox-key"


def run_vlens(
    *args: str, base_url: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m vlens_async ARGS`` to its end, ResourceWarnings as errors.

    With ``base_url``, VLENS_API_KEY and VLENS_BASE_URL point at that sandbox; without it,
    VLENS_API_KEY is unset.
    """
    env = {**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"}
    env.pop("VLENS_API_KEY", None)
    if base_url is not None:
        env.update(VLENS_API_KEY=SANDBOX_KEY, VLENS_BASE_URL=base_url)
    return subprocess.run(
        [sys.executable, "-m", "vlens_async", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@attrs.frozen
class ServedSandbox:
    """``vlens sandbox`` running in a subprocess: its URL, process and banner line."""

    url: str
    process: subprocess.Popen[str]
    banner: str

    def stop(self) -> tuple[str, str]:
        """Terminate it; what it printed after its banner, on stdout and on stderr."""
        self.process.terminate()
        return self.process.communicate(timeout=10)


@contextlib.contextmanager
def served_sandbox(*flags: str) -> Iterator[ServedSandbox]:
    """``vlens sandbox --seed 1 FLAGS`` in a subprocess on a free loopback port, once its
    banner is out (stopped on leaving, if the test did not stop it)."""
    port = free_port()
    command = [sys.executable, "-m", "vlens_async", "sandbox", "--port", str(port), "--seed", "1"]
    server = subprocess.Popen(
        [*command, *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner, banner
        yield ServedSandbox(f"http://127.0.0.1:{port}", server, banner)
    finally:
        if server.poll() is None:
            server.terminate()
            server.communicate(timeout=10)

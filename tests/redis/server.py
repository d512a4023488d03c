"""A real ``redis-server`` on a free loopback port, in a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from ..conftest import free_port

START_GUARD = 10.0  # seconds a server may take to answer its first PING


class RedisServer:
    """Starts ``redis-server`` and stops it; ``url`` reaches it.

    No persistence by default; ``durable`` keeps every write in an append-only file fsynced
    at once (what docs/scaling.md asks of a ledger), so :meth:`start` after :meth:`stop`
    brings the data back.
    """

    def __init__(
        self, directory: Path, *, password: str | None = None, durable: bool = False
    ) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: apt-get install -y redis-server (see .ci/run)"
        self.port = free_port()
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory)]
        args += ["--save", "", "--daemonize", "no"]
        args += (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if durable
            else ["--appendonly", "no"]
        )
        if password:
            args += ["--requirepass", password]
        self.args, self.password = args, password
        self.start()

    def start(self) -> None:
        """Start the server (again, on the same port and folder) and wait until it answers."""
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_until_up(self.password)

    def _wait_until_up(self, password: str | None) -> None:
        deadline = time.monotonic() + START_GUARD
        with redis.Redis(port=self.port, password=password) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        self.stop()
                        raise
                    time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and wait for it to exit (killed if it takes too long)."""
        self.process.terminate()  # nothing happens if it has exited
        try:
            self.process.wait(timeout=START_GUARD)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

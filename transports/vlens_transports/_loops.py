"""Finding the running task cheaply (private, shared with the SDK above).

On Python 3.11 every ``asyncio.get_running_loop()`` (which ``asyncio.current_task()`` calls)
makes a ``getpid()`` system call, to notice a fork. A client that checks its loop on every call
would make several a request, which under load costs more than most of its Python code.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

__all__ = ["forks", "task_on"]

_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):  # a forked child keeps the thread id and asyncio's tables
    os.register_at_fork(after_in_child=_count_fork)


def forks() -> int:
    """How many forks this process descends through; bind it with the loop and thread."""
    return _forks


def task_on(
    loop: asyncio.AbstractEventLoop | None, thread: int, forks_then: int
) -> asyncio.Task[Any] | None:
    """The task running now, when it is one of ``loop``'s in thread ``thread``; else None.

    A thread runs one event loop at a time, and a loop has a current task only while one of
    its tasks is running: so when this thread is the loop's, the process is the one that bound
    it (``forks_then``: no fork since, which the getpid() check exists for) and the loop has a
    current task, the running loop is ``loop``, found without ``get_running_loop()``. None
    proves nothing: the caller checks the running loop the usual way.
    """
    if loop is None or threading.get_ident() != thread or _forks != forks_then:
        return None
    return asyncio.current_task(loop)

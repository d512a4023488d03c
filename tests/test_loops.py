"""Loop binding without get_running_loop(): the shortcut never lets another loop through.

The shortcut takes "this thread is the loop's, and the loop has a current task" as proof that
the loop is running here. These tests call from another thread while the bound loop is in the
middle of a task step (blocked on purpose), the one moment its current task is set elsewhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from aiohttp import web

from vlens_async.sandbox import Sandbox
from vlens_transports import AiohttpTransport, Request
from vlens_transports._loops import forks, task_on

from .transports.test_aiohttp import Serve, app_with, hello


def from_another_thread_while_this_task_runs(
    call: Callable[[], Coroutine[Any, Any, Any]],
) -> BaseException:
    """Run ``call`` on a new loop in another thread while this loop's task is mid-step, and
    return what it raised (the current task of this loop stays set throughout)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(asyncio.run, call())
        done, _ = concurrent.futures.wait([future], timeout=10)  # blocks this loop on purpose
    assert done, "the call from the other thread did not finish"
    error = future.exception()
    assert error is not None, "the other thread's call was let through"
    return error


async def test_task_on_finds_this_task_only_on_its_own_loop_thread_and_process() -> None:
    """task_on gives the running task for this loop, thread and fork count, else None."""
    loop, thread, now = asyncio.get_running_loop(), threading.get_ident(), forks()
    assert task_on(loop, thread, now) is asyncio.current_task()
    assert task_on(loop, thread + 1, now) is None
    assert task_on(loop, thread, now - 1) is None  # a fork since: asyncio's tables are copies
    assert task_on(None, thread, now) is None
    other = asyncio.new_event_loop()
    try:
        assert task_on(other, thread, now) is None  # not running: no current task
    finally:
        other.close()


async def test_a_forked_child_is_refused_the_parents_client() -> None:
    """A child forked mid-task, with the parent's thread id and task table, is refused."""
    sandbox = Sandbox()
    async with sandbox.client() as client:
        await client.registration.check_existence("+201001234567")
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what a call on a new loop does, then leave at once
            try:
                asyncio.run(client.registration.check_existence("+201001234567"))
                verdict = b"let through"
            except RuntimeError as exc:
                verdict = b"refused" if b"another event loop" in str(exc).encode() else b"?"
            except BaseException:  # noqa: BLE001 - anything else is a wrong answer too
                verdict = b"other error"
            os.write(write, verdict)
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)  # noqa: ASYNC222 - the child answers and exits at once
        verdict = os.read(read, 100)
        os.close(read)
    assert status == 0
    assert verdict == b"refused"


async def test_a_client_refuses_another_threads_loop_while_its_own_is_busy() -> None:
    """A client bound to this loop refuses a call from another thread's loop, sending nothing,
    even while this loop is inside a task step."""
    sandbox = Sandbox()
    async with sandbox.client() as client:
        await client.registration.check_existence("+201001234567")
        error = from_another_thread_while_this_task_runs(
            lambda: client.registration.send_phone_otp("+201001234567")
        )
        assert isinstance(error, RuntimeError)
        assert "another event loop" in str(error)
    assert sandbox.requests_seen == 1
    assert len(sandbox.outbox) == 0


async def test_a_transport_refuses_another_threads_loop_while_its_own_is_busy(
    serve: Serve,
) -> None:
    """AiohttpTransport bound to this loop refuses a send from another thread's loop."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return await hello(request)

    base = await serve(app_with("/", handler))
    async with AiohttpTransport() as transport:
        await transport.send(Request(method="GET", url=f"{base}/"))
        error = from_another_thread_while_this_task_runs(
            lambda: transport.send(Request(method="GET", url=f"{base}/"))
        )
        assert isinstance(error, RuntimeError)
        assert "another event loop" in str(error)
    assert seen == ["/"]


@pytest.mark.parametrize("calls", [1, 3])
async def test_calls_on_the_bound_loop_still_work_after_a_refusal(calls: int) -> None:
    """After another thread was refused, this loop's calls go on as before."""
    sandbox = Sandbox(resend_cooldown=0)
    async with sandbox.client() as client:
        await client.registration.check_existence("+201001234567")
        from_another_thread_while_this_task_runs(
            lambda: client.registration.check_existence("+201001234567")
        )
        for index in range(calls):
            await client.registration.send_phone_otp(f"+20100123456{index}")
    assert len(sandbox.outbox) == calls

"""Benchmarks for vlens-async: ``python -m benchmarks [--quick] [--json PATH] [--only NAME]``.

Scenarios (see each module's docstring):

1. ``throughput``: the SDK over aiohttp vs raw aiohttp and raw httpx at concurrency 64.
2. ``latency``: p50 and p99 of the same three, one call at a time.
3. ``suite_speed``: ``sandbox.client()`` vs AiohttpTransport to a sandbox served on loopback.
4. ``codec``: decoding and encoding against the json module alone.
5. ``bulk``: bulk dispatch throughput and peak memory at N and 10 N.

The HTTP scenarios talk to ``benchmarks.server``, run in its own process on its own CPU.
"""

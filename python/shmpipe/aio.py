# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""asyncio for shmpipe: ``await consumer.receive()``, ``async for request in worker``.

Each class wraps the synchronous object of the same name (its ``sync`` attribute) and waits on
that object's readiness file descriptor (``ready_fd()``) with ``loop.add_reader``: no polling
loop, no thread per wait. The descriptor is level-triggered: it is readable while a receive
with a zero timeout may make progress (or the peer closed or died, or, for a Supervisor,
supervision is due). So a receive first tries at once, and only when that finds nothing (which
re-arms the descriptor) registers a reader and waits, for that one call: a cancelled or timed
out receive leaves nothing registered with the loop.

Only receiving waits here. Setup (``create``, ``open``, ``attach``, the Supervisor's start)
and sending (``send``, ``reply``, ``request``) are the synchronous calls: sending waits only
while the ring is full, setup only up to its ``open_timeout`` / ``ready_timeout``; run those in
an executor if the loop must not block for that long.

    async def serve():
        worker = shmpipe.aio.Worker.attach_supervised(worker_name="py")
        async for request in worker:
            worker.reply(request.request_id, answer(request.data))
"""
import asyncio

from . import _shmpipe

__all__ = ["Consumer", "Core", "Supervisor", "Worker"]


async def _readable(loop, fd, deadline):
    """Waits until `fd` is readable (True) or the loop's clock reaches `deadline` (False; None:
    no deadline). The reader and the timer exist only during this call, whatever ends it."""
    waiter = loop.create_future()

    def wake(result):
        if not waiter.done():
            waiter.set_result(result)

    loop.add_reader(fd, wake, True)
    timer = None
    try:
        if deadline is not None:
            timer = loop.call_at(deadline, wake, False)
        return await waiter
    finally:
        loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()


async def _receive(sync, call, timeout):
    """`call(0)` until it returns, waiting on `sync.ready_fd()` in between, for up to `timeout`
    seconds (None: for ever). A last try at the deadline raises the synchronous Timeout."""
    if timeout is not None and not timeout >= 0:  # also NaN
        raise ValueError(f"timeout must be None or a number of seconds >= 0, not {timeout!r}")
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    fd = sync.ready_fd()
    while True:
        try:
            return call(0)
        except _shmpipe.Timeout:
            pass  # nothing now; the try re-armed the descriptor
        if not await _readable(loop, fd, deadline):
            return call(0)


class _Receiver:
    """What the asyncio classes share: the synchronous object, `async for`, closing."""

    def __init__(self, sync):
        self.sync = sync
        self._last = None  # what `async for` handed out last: released when the next is asked

    def ready_fd(self):
        """The synchronous object's readiness file descriptor."""
        return self.sync.ready_fd()

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._last is not None:
            last, self._last = self._last, None
            last.release()
        try:
            self._last = await self.receive()
        except _shmpipe.Closed:
            raise StopAsyncIteration from None
        return self._last

    def close(self):
        """Close the synchronous object (see its close())."""
        self._last = None
        self.sync.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<shmpipe.aio wrapper of {self.sync!r}>"


class Consumer(_Receiver):
    """shmpipe.Consumer with ``await receive()`` and ``async for rec in consumer`` (ends when
    the producer closed the stream). Records as from shmpipe.Consumer.receive()."""

    @classmethod
    def create(cls, name, **options):
        """shmpipe.Consumer.create(name, **options), wrapped."""
        return cls(_shmpipe.Consumer.create(name, **options))

    @classmethod
    def open(cls, name, **options):
        """shmpipe.Consumer.open(name, **options), wrapped (blocks up to open_timeout)."""
        return cls(_shmpipe.Consumer.open(name, **options))

    async def receive(self, timeout=None):
        """The next Record, waiting up to `timeout` seconds (None: for ever) without blocking
        the loop. Raises as shmpipe.Consumer.receive()."""
        return await _receive(self.sync, self.sync.receive, timeout)

    def stats(self):
        """Both sides' counters (shmpipe.Consumer.stats())."""
        return self.sync.stats()


class Worker(_Receiver):
    """shmpipe.Worker with ``await receive()`` and ``async for request in worker`` (ends when
    the core asks to shut down or goes away). reply() and error() are the synchronous calls."""

    @classmethod
    def attach(cls, name, **options):
        """shmpipe.Worker.attach(name, **options), wrapped (blocks up to open_timeout)."""
        return cls(_shmpipe.Worker.attach(name, **options))

    @classmethod
    def attach_supervised(cls, **options):
        """shmpipe.Worker.attach_supervised(**options), wrapped."""
        return cls(_shmpipe.Worker.attach_supervised(**options))

    async def receive(self, timeout=None):
        """The next request (an Incoming), waiting up to `timeout` seconds without blocking the
        loop. Raises as shmpipe.Worker.receive()."""
        return await _receive(self.sync, self.sync.receive, timeout)

    def reply(self, request_id, buffer, **options):
        """shmpipe.Worker.reply()."""
        self.sync.reply(request_id, buffer, **options)

    def error(self, request_id, code, message, **options):
        """shmpipe.Worker.error()."""
        self.sync.error(request_id, code, message, **options)

    @property
    def shutdown_requested(self):
        """Whether the core asked this worker to shut down."""
        return self.sync.shutdown_requested

    @property
    def shutdown_reason(self):
        """The reason the core gave with its Shutdown."""
        return self.sync.shutdown_reason


class Core(_Receiver):
    """shmpipe.Core with ``await await_ready()`` and ``await receive()``. request() and
    shutdown() are the synchronous calls."""

    @classmethod
    def create(cls, name, **options):
        """shmpipe.Core.create(name, **options), wrapped."""
        return cls(_shmpipe.Core.create(name, **options))

    async def await_ready(self, timeout):
        """The worker's WorkerInfo once it said Ready, waiting up to `timeout` seconds without
        blocking the loop. Raises as shmpipe.Core.await_ready()."""
        return await _receive(self.sync, self.sync.await_ready, timeout)

    async def receive(self, timeout=None):
        """The next response (an Incoming), waiting up to `timeout` seconds without blocking
        the loop. Raises as shmpipe.Core.receive()."""
        return await _receive(self.sync, self.sync.receive, timeout)

    def request(self, buffer, **options):
        """shmpipe.Core.request(): the request's id."""
        return self.sync.request(buffer, **options)

    def shutdown(self, reason, timeout=1.0):
        """shmpipe.Core.shutdown()."""
        self.sync.shutdown(reason, timeout)

    @property
    def in_flight(self):
        """Requests sent whose final response has not come."""
        return self.sync.in_flight


class Supervisor(_Receiver):
    """shmpipe.Supervisor with ``await receive()``: supervision (health checks, restarts) runs
    inside it, when the readiness descriptor says it is due. Constructed like
    shmpipe.Supervisor (which blocks until the worker is ready)."""

    def __init__(self, name, command, **options):
        super().__init__(_shmpipe.Supervisor(name, command, **options))

    async def receive(self, timeout=None):
        """The next response, or a request that will get none (see
        shmpipe.Supervisor.receive()), waiting up to `timeout` seconds without blocking the
        loop."""
        return await _receive(self.sync, self.sync.receive, timeout)

    def request(self, buffer, **options):
        """shmpipe.Supervisor.request(): the request's id."""
        return self.sync.request(buffer, **options)

    def shutdown(self, reason, timeout=1.0):
        """shmpipe.Supervisor.shutdown()."""
        self.sync.shutdown(reason, timeout)

    @property
    def worker_pid(self):
        """The running worker's pid, or None."""
        return self.sync.worker_pid

    @property
    def restarts(self):
        """Workers started after the first."""
        return self.sync.restarts

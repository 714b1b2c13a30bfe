# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe: zero-copy messages between processes over a shared-memory ring.

The classes are the C++ library's (``shmpipe::Producer``, ``Consumer``, ``Core``, ``Worker``,
``Supervisor``) over the same headers: records are read where they lie in shared memory
(``Record.data`` is a read-only memoryview into the ring) and written in place (``Slot``).
Blocking calls take ``timeout`` in seconds (``None``: for ever, ``0``: try once), release the
GIL while they wait and let Ctrl-C through. asyncio variants are in :mod:`shmpipe.aio`; the
worker contract of a supervised worker (per-request timeout, memory watchdog, work reports,
stop signals) is :func:`shmpipe.worker.serve`.
"""

from ._shmpipe import (
    Closed,
    Consumer,
    Core,
    Error,
    Incoming,
    Producer,
    Record,
    Slot,
    Supervisor,
    SupervisorEvent,
    Timeout,
    Worker,
    WorkerInfo,
    WorkReport,
    __version__,
)

__all__ = [
    "Closed",
    "Consumer",
    "Core",
    "Error",
    "Incoming",
    "Producer",
    "Record",
    "Slot",
    "Supervisor",
    "SupervisorEvent",
    "Timeout",
    "Worker",
    "WorkerInfo",
    "WorkReport",
    "__version__",
]

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Ctrl-C (SIGINT) during a blocking call raises KeyboardInterrupt promptly, and the `with`
blocks it unwinds leave nothing behind."""
import os
import signal
import sys
import textwrap
import time

import pytest

from conftest import HERE, WORKER, need

BLOCKING = {
    "consumer.receive": """
        with shmpipe.Consumer.create(NAME) as rx:
            print("waiting", flush=True)
            rx.receive()  # for ever
    """,
    "producer.reserve": """
        with shmpipe.Consumer.create(NAME, capacity=4096) as rx:
            with shmpipe.Producer.open(NAME, linger=0) as tx:
                tx.send(bytes(4000))
                print("waiting", flush=True)
                tx.reserve(4000)  # the ring is full, for ever
    """,
    "worker iteration": """
        with shmpipe.Core.create(NAME) as core:
            with shmpipe.Worker.attach(NAME) as worker:
                core.await_ready(5)
                print("waiting", flush=True)
                for request in worker:  # nothing comes
                    pass
    """,
    "worker attach": """
        print("waiting", flush=True)
        shmpipe.Worker.attach(NAME, open_timeout=None)  # the core never comes
    """,
    "supervisor.receive": """
        with shmpipe.Supervisor(NAME, [WORKER], health_interval=0.1) as sup:
            print("waiting", flush=True)
            sup.receive()  # for ever: the worker answers health checks only
    """,
}


@pytest.mark.parametrize("call", sorted(BLOCKING))
def test_ctrl_c_interrupts_a_blocking_call(name, spawn, call):
    if "WORKER" in BLOCKING[call]:
        need(WORKER, "supervised_worker")
    script = "import shmpipe\nNAME, WORKER = %r, %r\n" % (name, WORKER) + textwrap.dedent(
        BLOCKING[call])
    child = spawn([sys.executable, "-c", script], cwd=HERE)
    assert child.stdout.readline().strip() == "waiting", child.stderr.read()
    time.sleep(0.3)  # well inside the blocking call
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=10)
    took = time.monotonic() - sent
    assert "KeyboardInterrupt" in err, err
    assert child.returncode != 0
    assert took < 2.0, f"KeyboardInterrupt came {took:.2f} s after SIGINT"
    assert not [e for e in os.listdir("/dev/shm") if e.startswith(name)]

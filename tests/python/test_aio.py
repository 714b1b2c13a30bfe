# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe.aio: receives that wait on the readiness descriptor without blocking the loop,
with timeouts; cancellation leaves nothing registered."""
import asyncio
import time

import pytest

import fbs
import shmpipe
import shmpipe.aio as aio
from conftest import PEER, WORKER, need


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_receive_waits_without_blocking_the_loop_and_times_out(name):
    async def main():
        with aio.Consumer.create(name, capacity=4096) as rx, \
                shmpipe.Producer.open(name, linger=0) as tx:
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            tick = asyncio.create_task(ticker())
            start = time.monotonic()
            with pytest.raises(shmpipe.Timeout):
                await rx.receive(timeout=0.2)
            waited = time.monotonic() - start
            assert 0.19 <= waited < 1.0
            assert ticks >= 5, "the loop was blocked while receive() waited"
            asyncio.get_running_loop().call_later(0.05, tx.send, b"late")
            rec = await rx.receive(timeout=5)
            assert bytes(rec.data) == b"late"
            rec.release()
            tick.cancel()
            assert not asyncio.get_running_loop().remove_reader(rx.ready_fd())

    run(main())


def test_cancellation_leaves_nothing_registered(name):
    async def main():
        loop = asyncio.get_running_loop()
        with aio.Consumer.create(name, capacity=4096) as rx, \
                shmpipe.Producer.open(name, linger=0) as tx:
            task = asyncio.create_task(rx.receive())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not loop.remove_reader(rx.ready_fd()), "a reader is still registered"
            tx.send(b"after", timeout=1)  # nothing was consumed by the cancelled receive
            with await rx.receive(timeout=5) as rec:
                assert bytes(rec.data) == b"after"

    run(main())


def test_async_for_over_a_cpp_producer(name, spawn):
    need(PEER, "python_peer")
    peer = spawn([PEER, "produce", name, "500", "200"])

    async def main():
        rx = aio.Consumer.open(name, open_timeout=10.0)
        seqs = [rec.seq async for rec in rx]
        rx.close()
        return seqs

    assert run(main()) == list(range(500))
    assert peer.wait(timeout=20) == 0


def test_async_worker_and_core(name):
    async def main():
        with aio.Core.create(name, capacity=1 << 16) as core:
            worker = aio.Worker.attach(name, worker_name="async")
            assert (await core.await_ready(timeout=5)).name == "async"

            async def serve():
                async for request in worker:
                    path, page = fbs.read_extract_request(request.data)
                    worker.reply(request.request_id, fbs.page_text(page, path), timeout=5)
                return worker.shutdown_reason

            served = asyncio.create_task(serve())
            ids = [core.request(fbs.extract_request("async", p), timeout=5) for p in range(20)]
            for page, rid in enumerate(ids):
                with await core.receive(timeout=5) as answer:
                    assert answer.request_id == rid
                    assert fbs.read_page_text(answer.data) == (page, "async")
            core.shutdown("bye")
            assert await served == "bye"
            worker.close()

    run(main())


def test_async_supervisor(name):
    need(WORKER, "supervised_worker")

    async def main():
        with aio.Supervisor(name, [WORKER], capacity=1 << 16, health_interval=0.05,
                            backoff_initial=0.01) as sup:
            first = sup.worker_pid
            rid = sup.request(fbs.extract_request("crash", 1), timeout=5)
            lost = await sup.receive(timeout=10)
            assert (lost.request_id, lost.status) == (rid, "peer_dead")
            rid = sup.request(fbs.extract_request("echo", 2), timeout=5)
            with await sup.receive(timeout=10) as answer:
                assert fbs.read_page_text(answer.data) == (2, "echo")
            assert sup.restarts == 1 and sup.worker_pid != first
            # Only health checks flow now: receive() times out on time, supervising meanwhile.
            with pytest.raises(shmpipe.Timeout):
                await sup.receive(timeout=0.3)

    run(main())

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe.Worker and shmpipe.Core against the C++ ones: a Python worker served by a C++ core
(python_peer core), a Python core driving the C++ supervised_worker, and both in Python."""
import os

import pytest

import fbs
import py_worker
import shmpipe
from conftest import PEER, PY_WORKER, WORKER, need


def test_python_worker_with_a_cpp_core(name, spawn):
    need(PEER, "python_peer")
    peer = spawn([PEER, "core", name, "20"])
    worker = shmpipe.Worker.attach(
        name, worker_name="py-worker", capabilities=["echo"], open_timeout=10.0
    )
    with worker:
        assert py_worker.serve(worker) == 21  # 20 echoes and one failure
        assert worker.shutdown_requested and worker.shutdown_reason == "done"
    out, err = peer.communicate(timeout=20)
    assert peer.returncode == 0, err
    assert "core: ok" in out


def test_python_core_with_the_cpp_worker(name, spawn):
    need(WORKER, "supervised_worker")
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = spawn([WORKER], env=dict(os.environ, SHMPIPE_SESSION=name))
        info = core.await_ready(timeout=10)
        assert (info.name, info.pid) == ("supervised_worker", child.pid)
        assert info.protocol_version >= 1 and core.worker.pid == child.pid
        ids = [core.request(fbs.extract_request("echo", page), timeout=5) for page in range(10)]
        assert ids == list(range(1, 11)) and core.in_flight == 10
        for page, rid in enumerate(ids):
            with core.receive(timeout=10) as answer:
                assert (answer.status, answer.request_id, answer.final) == ("ok", rid, True)
                assert answer.identifier == "SPEX" and not answer.late
                assert fbs.read_page_text(answer.data) == (page, "echo")
        assert core.in_flight == 0
        # A deadline: reported once as an Incoming with status timeout, then the answer, late.
        slow = core.request(fbs.extract_request("sleep:400", 3), timeout=5, deadline=0.05)
        expired = core.receive(timeout=10)
        assert (expired.status, expired.request_id, expired.data) == ("timeout", slow, None)
        with core.receive(timeout=10) as late:
            assert (late.request_id, late.late, late.final) == (slow, True, True)
        core.shutdown("test over", timeout=5)
        assert child.wait(timeout=10) == 0
    assert child.returncode == 0


def test_python_core_with_a_python_worker(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = spawn(PY_WORKER + ["attach", name])
        info = core.await_ready(timeout=20)
        assert (info.name, info.capabilities, info.pid) == ("py-worker", ["echo"], child.pid)
        rid = core.request(fbs.extract_request("echo", 4), timeout=5)
        with core.receive(timeout=10) as first:
            assert (first.request_id, first.final, first.type) == (rid, False, 5)
            assert fbs.read_page_text(first.data) == (4, "echo 4")
        with core.receive(timeout=10) as last:
            assert (last.request_id, last.final) == (rid, True)
            assert fbs.read_page_text(last.data) == (1004, "")
        failed = core.request(fbs.extract_request("fail", 0), timeout=5)
        with core.receive(timeout=10) as error:
            assert error.identifier == "SPEV" and error.final
            assert fbs.read_error(error.data) == (7, "failed on purpose", failed)
        # One message in hand at a time, also across request().
        core.request(fbs.extract_request("echo", 5), timeout=5)
        held = core.receive(timeout=10)
        with pytest.raises(RuntimeError, match="not released"):
            core.receive(timeout=0)
        with pytest.raises(RuntimeError, match="not released"):
            core.request(fbs.extract_request("echo", 6), timeout=5)
        held.release()
        core.receive(timeout=10).release()
        core.shutdown("test over", timeout=5)
        assert child.wait(timeout=20) == 0, child.stderr.read()


def test_handshake_failures(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        with pytest.raises(shmpipe.Timeout) as timeout:
            core.await_ready(timeout=0.1)
        assert timeout.value.errc == "handshake" and isinstance(timeout.value, TimeoutError)
    with shmpipe.Core.create(name, capacity=1 << 16, schema_ids=[42]) as core:
        child = spawn(PY_WORKER + ["attach", name])
        with pytest.raises(shmpipe.Error) as refused:
            core.await_ready(timeout=20)
        assert refused.value.errc == "handshake" and "schema id 42" in str(refused.value)
    child.wait(timeout=20)
    with pytest.raises(shmpipe.Error) as missing:
        shmpipe.Worker.attach(name, open_timeout=0.05)
    assert missing.value.errc == "segment_missing"


def test_attach_supervised_needs_the_environment(monkeypatch):
    monkeypatch.delenv("SHMPIPE_SESSION", raising=False)
    with pytest.raises(shmpipe.Error) as unset:
        shmpipe.Worker.attach_supervised()
    assert unset.value.errc == "invalid_name" and "SHMPIPE_SESSION" in str(unset.value)


def test_worker_arguments(name):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        worker = shmpipe.Worker.attach(name, capabilities=["a"], schema_ids=[1])
        assert core.await_ready(timeout=5).schema_ids == [1]
        with pytest.raises(ValueError, match="request_id"):
            worker.reply(-1, b"")
        with pytest.raises(TypeError, match="bytes-like"):
            worker.reply(1, "text")
        with pytest.raises(ValueError, match="code"):
            worker.error(1, 1 << 40, "too big a code")
        with pytest.raises(ValueError, match="schema_ids"):
            shmpipe.Worker.attach(name, schema_ids=[-1])
        with pytest.raises(shmpipe.Timeout):
            worker.receive(timeout=0.05)
        worker.close()
        with pytest.raises(shmpipe.Closed):
            worker.receive(timeout=0)
        with pytest.raises(shmpipe.Closed):
            core.receive(timeout=5)  # the worker left

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe.Supervisor (the C++ Supervisor) running the C++ supervised_worker and the Python
py_worker: answers, restarts after SIGKILL with the request retried, request_timeout, events."""
import os

import pytest

import fbs
import shmpipe
from conftest import PY_WORKER, WORKER, need


def fast(**options):
    """Options that keep the tests quick (as supervisor_test.cpp's Fixture)."""
    base = dict(capacity=1 << 16, health_interval=0.1, health_timeout=1.0, backoff_initial=0.01,
                backoff_max=0.1, ready_timeout=20.0)
    base.update(options)
    return base


def answers(sup, count, timeout=20):
    """The next `count` final answers: {request_id: (status, page, text)}."""
    got = {}
    while len(got) < count:
        with sup.receive(timeout=timeout) as a:
            if a.status != "ok":
                got[a.request_id] = (a.status, None, None)
            elif a.final:
                got[a.request_id] = ("ok",) + fbs.read_page_text(a.data)
    return got


def test_the_cpp_worker_and_a_lost_request(name):
    need(WORKER, "supervised_worker")
    events = []
    with shmpipe.Supervisor(name, [WORKER], on_event=events.append, **fast()) as sup:
        assert [e.kind for e in events] == ["started"]
        assert sup.worker.name == "supervised_worker" and sup.worker_pid == events[0].pid
        first = sup.worker_pid
        ok = sup.request(fbs.extract_request("echo", 1), timeout=5)
        assert answers(sup, 1) == {ok: ("ok", 1, "echo")}
        # A request that kills its worker comes back lost, with its id; the next one starts
        # a new worker.
        lost = sup.request(fbs.extract_request("crash", 2), timeout=5)
        assert answers(sup, 1) == {lost: ("peer_dead", None, None)}
        again = sup.request(fbs.extract_request("echo", 3), timeout=5)
        assert answers(sup, 1) == {again: ("ok", 3, "echo")}
        assert sup.restarts == 1 and sup.worker_pid not in (None, first)
        assert [e.kind for e in events] == ["started", "exited", "started"]
        assert "signal 9" in events[1].detail
    assert events[-1].kind == "stopped"


def test_a_python_worker_killed_mid_request_is_restarted_and_the_request_retried(name, tmp_path):
    marker = tmp_path / "crashed"
    events = []
    with shmpipe.Supervisor(name, PY_WORKER, on_worker_loss="retry_once",
                            on_event=lambda e: events.append((e.kind, e.detail)), **fast()) as sup:
        assert sup.worker.name == "py-worker" and sup.worker.capabilities == ["echo"]
        before = sup.request(fbs.extract_request("sleep:10", 1), timeout=5)
        risky = sup.request(fbs.extract_request(f"crash-once:{marker}", 2), timeout=5)
        after = sup.request(fbs.extract_request("sleep:10", 3), timeout=5)
        got = answers(sup, 3)
        assert got == {before: ("ok", 1, "slept"), risky: ("ok", 2, "survived"),
                       after: ("ok", 3, "slept")}
        assert marker.exists() and sup.restarts == 1
        kinds = [k for k, _ in events]
        assert kinds == ["started", "exited", "started"], events
        assert "signal 9" in events[1][1]


def test_a_stuck_python_worker_is_killed_and_the_request_retried(name, tmp_path):
    marker = tmp_path / "hung"
    events = []
    with shmpipe.Supervisor(name, PY_WORKER, request_timeout=0.5, on_event=events.append,
                            **fast()) as sup:
        stuck = sup.request(fbs.extract_request(f"hang-once:{marker}", 7), timeout=5)
        assert answers(sup, 1) == {stuck: ("ok", 7, "survived")}
        assert [e.kind for e in events] == ["started", "stuck", "started"]


def test_events_that_raise_go_to_unraisablehook(name, monkeypatch):
    need(WORKER, "supervised_worker")
    seen = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: seen.append(u.exc_value))

    def broken(event):
        raise RuntimeError(f"logging failed for {event.kind}")

    with shmpipe.Supervisor(name, [WORKER], on_event=broken, **fast()) as sup:
        rid = sup.request(fbs.extract_request("echo", 1), timeout=5)
        assert answers(sup, 1) == {rid: ("ok", 1, "echo")}
    assert [str(e) for e in seen] == ["logging failed for started", "logging failed for stopped"]


def test_shutdown_then_requests_are_peer_dead(name):
    need(WORKER, "supervised_worker")
    sup = shmpipe.Supervisor(name, [WORKER], **fast())
    pid = sup.worker_pid
    sup.shutdown("done", timeout=5)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sup.worker_pid is None and sup.worker is None
    with pytest.raises(shmpipe.Error) as gone:
        sup.request(b"", timeout=1)
    assert gone.value.status == "peer_dead"
    sup.close()
    sup.close()
    with pytest.raises(shmpipe.Closed):
        sup.receive(timeout=0)


def test_supervisor_arguments(name):
    with pytest.raises(ValueError, match="command"):
        shmpipe.Supervisor(name, [])
    with pytest.raises(ValueError, match="on_worker_loss"):
        shmpipe.Supervisor(name, ["true"], on_worker_loss="sometimes")
    with pytest.raises(TypeError, match="on_event"):
        shmpipe.Supervisor(name, ["true"], on_event=42)
    with pytest.raises(ValueError, match="health_interval"):
        shmpipe.Supervisor(name, ["true"], health_interval=-1)
    with pytest.raises(shmpipe.Error) as missing:
        shmpipe.Supervisor(name, ["/nonexistent/worker"])
    assert missing.value.errc == "worker_failed"
    with pytest.raises(shmpipe.Error) as no_ready:
        shmpipe.Supervisor(name, ["true"], ready_timeout=5)  # exits before Ready
    assert no_ready.value.errc == "worker_failed" and "before Ready" in str(no_ready.value)

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""extract_worker.py as a process (its main()) under shmpipe.Supervisor (the C++ Supervisor):
it answers health checks while it waits for requests; SIGTERM and SIGINT end it at once, by
that signal, without a traceback (the supervisor restarts it); an unexpected exception prints a
traceback on stderr and ends it with status 1 (the request in hand is reported lost).

The worker inherits this process's stderr, which pytest's capfd captures at the descriptor.
Environment (ctest sets it): PYTHONPATH with the build tree's python/ and this example's
directory, LEDGER_PDF_SCRIPT.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest

import shmpipe
from shmpipe.schema import DocumentInfo, Extraction, ExtractionBody

import test_extract_worker as t  # request_bytes, make_pdf

WORKER = os.path.join(os.path.dirname(os.path.abspath(t.pyworker.__file__)), "extract_worker.py")
LIMIT = 120  # seconds per test: every wait below has its own timeout; this is the backstop


@pytest.fixture
def name(request):
    """A session name of this test alone; nothing starting with it may be left in /dev/shm."""
    test = re.sub(r"[^A-Za-z0-9._-]", "_", request.node.name)[:50]
    base = "shmpipe-pyext-%d-%s-%s" % (os.getpid(), uuid.uuid4().hex[:8], test)
    yield base
    left = [e for e in os.listdir("/dev/shm") if e.startswith(base)]
    for e in left:
        os.unlink(os.path.join("/dev/shm", e))
    assert not left, "left in /dev/shm: %s" % left


@pytest.fixture(autouse=True)
def time_limit():
    def over(signum, frame):
        raise TimeoutError("test ran over %d s" % LIMIT)

    previous = signal.signal(signal.SIGALRM, over)
    signal.alarm(LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def supervise(name, command, events, **options):
    base = dict(capacity=1 << 22, health_interval=0.05, health_timeout=1.0, backoff_initial=0.01,
                backoff_max=0.1, ready_timeout=30.0, on_event=events.append)
    base.update(options)
    return shmpipe.Supervisor(name, command, **base)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z"


def open_document(sup, pdf):
    """Sends OpenDocument; the number of pages of the DocumentInfo answer."""
    sent = sup.request(t.request_bytes("open", pdf), timeout=10)
    with sup.receive(timeout=30) as answer:
        assert answer.request_id == sent and answer.status == "ok" and answer.final
        message = Extraction.Extraction.GetRootAs(answer.data, 0)
        assert message.BodyType() == ExtractionBody.ExtractionBody.DocumentInfo
        info = DocumentInfo.DocumentInfo()
        info.Init(message.Body().Bytes, message.Body().Pos)
        return info.Pages()


def wait_for_event(sup, events, kind, pid, seconds=20):
    """Lets the supervisor work (receive() restarts workers) until an event `kind` of `pid`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        found = [e for e in events if e.kind == kind and e.pid == pid]
        if found:
            return found[0]
        try:
            with sup.receive(timeout=0.1):
                pass
        except shmpipe.Timeout:
            pass
    raise AssertionError("no %r event for worker %d: %s" % (kind, pid, events))


def test_it_answers_health_checks_while_it_waits(name, tmp_path, capfd):
    pdf = t.make_pdf(tmp_path, ["--lang", "en", "--rows", "5", "--seed", "1"])
    events = []
    with supervise(name, [sys.executable, WORKER], events) as sup:
        assert sup.worker.name == "extract_worker.py"
        assert sorted(sup.worker.capabilities) == ["evidence", "ledger"]
        pid = sup.worker_pid
        # 1.5 s of checks every 50 ms, each to be answered within 1 s: a worker that did not
        # answer would be reported hung and replaced.
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            with pytest.raises(shmpipe.Timeout):
                sup.receive(timeout=0.25)
        assert [e.kind for e in events] == ["started"], events
        assert sup.worker_pid == pid and sup.restarts == 0
        assert open_document(sup, pdf) == 1
    assert [e.kind for e in events] == ["started", "stopped"], events
    assert "status 0" in events[-1].detail, events
    assert not alive(pid)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_it_cleanly(name, tmp_path, capfd, sig):
    pdf = t.make_pdf(tmp_path, ["--lang", "en", "--rows", "5", "--seed", "2"])
    events = []
    with supervise(name, [sys.executable, WORKER], events) as sup:
        assert open_document(sup, pdf) == 1  # past the imports, waiting in receive()
        first = sup.worker_pid
        os.kill(first, sig)
        exited = wait_for_event(sup, events, "exited", first)
        assert exited.detail.endswith("killed by signal %d" % sig), exited.detail
        # Restarted, and the new worker serves.
        assert open_document(sup, pdf) == 1
        assert sup.restarts == 1 and sup.worker_pid != first
    err = capfd.readouterr().err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_an_unexpected_exception_prints_a_traceback_and_fails(name, tmp_path, capfd):
    # The real main() with one function broken: any bug while serving a request.
    script = ("import sys\n"
              "import extract_worker\n"
              "def broken(data):\n"
              "    raise ZeroDivisionError('broken on purpose')\n"
              "extract_worker.parse_request = broken\n"
              "sys.exit(extract_worker.main())\n")
    events = []
    with supervise(name, [sys.executable, "-c", script], events) as sup:
        first = sup.worker_pid
        sent = sup.request(t.request_bytes("open", tmp_path / "any.pdf"), timeout=10)
        with sup.receive(timeout=30) as answer:
            assert answer.request_id == sent and answer.status == "peer_dead"
        exited = wait_for_event(sup, events, "exited", first)
        assert exited.detail.endswith("exited with status 1"), exited.detail
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err, err
    assert "ZeroDivisionError: broken on purpose" in err, err


def test_arguments_are_refused():
    r = subprocess.run([sys.executable, WORKER, "--help"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "usage:" in r.stderr and "Traceback" not in r.stderr


def test_without_a_session_it_says_so():
    env = {k: v for k, v in os.environ.items() if k != "SHMPIPE_SESSION"}
    r = subprocess.run([sys.executable, WORKER], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 2, r
    assert "SHMPIPE_SESSION" in r.stderr and "Traceback" not in r.stderr, r.stderr

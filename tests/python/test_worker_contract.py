# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Seed 003's worker contract (shmpipe.worker.serve) driven by a Core (the C++ Core underneath)
and a Supervisor: per-request timeout reported as error 3, handler exceptions answered, work
reports, the memory watchdog's soft and hard limits (arguments and environment), stop signals."""
import os
import signal
import sys
import time

import pytest

import fbs
import shmpipe
import shmpipe.worker
from conftest import HERE

CONTRACT = [sys.executable, os.path.join(HERE, "contract_worker.py")]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHMPIPE_RSS_")}
    env.update(extra)
    return env


def start(core, spawn, *args, env=None):
    child = spawn(CONTRACT + ["--name", core.name] + list(args), env=env or clean_env())
    info = core.await_ready(timeout=20)
    assert (info.name, info.pid) == ("contract-worker", child.pid)
    return child


def final(core, rid, timeout=20):
    """(kind, value, work_report) of request `rid`'s final answer: ("text", (page, text)) or
    ("error", (code, message, request_id)); partial answers are skipped."""
    while True:
        with core.receive(timeout=timeout) as a:
            assert a.status == "ok" and a.request_id == rid, a
            if not a.final:
                assert a.work_report is None  # only final answers carry one
                continue
            if a.identifier == "SPEV":
                return "error", fbs.read_error(a.data), a.work_report
            return "text", fbs.read_page_text(a.data), a.work_report


def ask(core, path, page=1):
    return core.request(fbs.extract_request(path, page), timeout=5)


def stop(core, child):
    core.shutdown("test over", timeout=5)
    assert child.wait(timeout=10) == 0, child.stderr.read()


def test_a_request_over_its_time_limit_is_answered_timed_out_and_the_next_is_served(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = start(core, spawn, "--timeout", "0.3")
        for path in ("spin:5000", "sleep:5000"):  # a busy loop, a blocking call
            sent = time.monotonic()
            rid = ask(core, path)
            kind, (code, message, about), report = final(core, rid)
            took = time.monotonic() - sent
            assert (kind, code, about) == ("error", shmpipe.worker.TIMED_OUT, rid)
            assert code == 3 and message == "request ran over 0.3 s"
            assert 0.25 < took < 3.0, took
            assert 0.25 < report.duration < 3.0, report
            rid = ask(core, "echo", 5)
            assert final(core, rid)[:2] == ("text", (1005, ""))
        stop(core, child)


def test_handler_exceptions_are_answered_and_logged(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = start(core, spawn)
        got = {path: final(core, ask(core, path))[:2] for path in ("raise", "refuse", "none")}
        assert got["raise"][0] == "error" and got["raise"][1][:2] == (
            shmpipe.worker.HANDLER_FAILED, "ValueError: boom")
        assert got["refuse"][1][:2] == (7, "refused")
        assert got["none"][1][:2] == (shmpipe.worker.HANDLER_FAILED,
                                      "the handler returned None (no answer)")
        assert final(core, ask(core, "echo", 2))[:2] == ("text", (1002, ""))
        stop(core, child)
    err = child.stderr.read()
    assert "Traceback" in err and "ValueError: boom" in err, err
    assert err.count("Traceback") == 1, err  # RequestError and None: no traceback


def test_final_answers_carry_a_plausible_work_report(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = start(core, spawn)
        _, text, quick = final(core, ask(core, "echo"))
        assert text == (1001, "")
        assert 0 < quick.duration < 2.0
        base = quick.peak_rss
        assert (8 << 20) < base < (1 << 30), quick  # an interpreter with shmpipe loaded
        _, text, slow = final(core, ask(core, "sleep:200"))
        assert text == (1, "slept") and 0.18 < slow.duration < 2.0, slow
        _, text, grown = final(core, ask(core, "grow:64"))
        assert text == (1, "grown")
        assert grown.peak_rss >= base + (60 << 20), (base, grown)
        duration, peak = grown  # unpacks as a tuple too
        assert (duration, peak) == (grown.duration, grown.peak_rss)
        stop(core, child)


def warning(core, timeout=10):
    with core.receive(timeout=timeout) as w:
        assert (w.request_id, w.final, w.identifier) == (0, False, "SPEV"), w
        return fbs.read_warning(w.data)


def test_soft_limit_from_the_environment_runs_the_callback_and_warns(name, spawn, tmp_path):
    marker = tmp_path / "called"
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = start(core, spawn, "--marker", str(marker),
                      env=clean_env(SHMPIPE_RSS_SOFT_MB="100"))
        rid = ask(core, "grow:150:600")
        code, message, rss = warning(core)  # while the request runs: the watchdog sends it
        assert code == shmpipe.worker.RSS_SOFT == 1
        assert "over the soft limit 100 MiB" in message and rss > (100 << 20)
        assert final(core, rid)[1] == (1, "grown")
        assert marker.exists()  # the callback ran (and freed what grow kept)
        deadline = time.monotonic() + 10
        while shmpipe_rss(child.pid) > (100 << 20):
            assert time.monotonic() < deadline, "the callback freed nothing"
            time.sleep(0.05)
        # Served on, and one warning per excursion: nothing else is waiting.
        assert final(core, ask(core, "echo"))[:2] == ("text", (1001, ""))
        with pytest.raises(shmpipe.Timeout):
            core.receive(timeout=0.5)
        stop(core, child)


def shmpipe_rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_hard_limit_warns_then_exits_137(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = start(core, spawn, env=clean_env(SHMPIPE_RSS_HARD_MB="120"))
        rid = ask(core, "grow:200:5000")
        code, message, rss = warning(core)
        assert code == shmpipe.worker.RSS_HARD == 2 and rss > (120 << 20)
        assert "over the hard limit 120 MiB: exit 137" in message
        assert child.wait(timeout=10) == 137
        with pytest.raises(shmpipe.Error):
            core.receive(timeout=5)  # the worker died with request rid: peer_dead
        assert core.in_flight == 1 and rid == 1


def test_arguments_win_over_the_environment(name, spawn):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        # 1 MiB limits would end it at once; the arguments' 0 turns them off.
        child = start(core, spawn, "--soft", "0", "--hard", "0",
                      env=clean_env(SHMPIPE_RSS_SOFT_MB="1", SHMPIPE_RSS_HARD_MB="1"))
        time.sleep(0.5)  # five watchdog intervals, if there were a watchdog
        assert final(core, ask(core, "echo"))[:2] == ("text", (1001, ""))
        with pytest.raises(shmpipe.Timeout):
            core.receive(timeout=0.2)
        stop(core, child)


def fast(**options):
    base = dict(capacity=1 << 16, health_interval=0.1, health_timeout=2.0, backoff_initial=0.01,
                backoff_max=0.1, ready_timeout=20.0)
    base.update(options)
    return base


def test_a_supervisor_sees_the_warnings_and_restarts_after_the_hard_limit(name, tmp_path):
    events = []
    marker = tmp_path / "called"
    command = CONTRACT + ["--soft", "100", "--hard", "250", "--marker", str(marker)]
    with shmpipe.Supervisor(name, command, on_event=events.append, **fast()) as sup:
        first = sup.worker_pid
        rid = sup.request(fbs.extract_request("grow:150:600", 1), timeout=5)
        with sup.receive(timeout=20) as a:
            assert (a.request_id, a.final) == (rid, True)
            assert a.work_report.peak_rss > (150 << 20)
        deadline = time.monotonic() + 10
        while "worker_warning" not in [e.kind for e in events]:
            assert time.monotonic() < deadline, events
            with pytest.raises(shmpipe.Timeout):
                sup.receive(timeout=0.1)
        soft = [e for e in events if e.kind == "worker_warning"]
        assert soft[0].pid == first and soft[0].detail.startswith("code 1,"), soft
        assert marker.exists()
        # The hard limit: the worker warns, exits 137, the request comes back lost, and the
        # next request gets a new worker.
        lost = sup.request(fbs.extract_request("grow:300:5000", 2), timeout=5)
        with sup.receive(timeout=20) as a:
            assert (a.request_id, a.status) == (lost, "peer_dead")
        kinds = [e.kind for e in events]
        assert kinds[-2:] == ["worker_warning", "exited"], events
        assert events[-2].detail.startswith("code 2,") and "exit 137" in events[-2].detail
        assert "exited with status 137" in events[-1].detail
        again = sup.request(fbs.extract_request("echo", 3), timeout=5)
        with sup.receive(timeout=20) as a:
            assert (a.request_id, a.final) == (again, False)
        with sup.receive(timeout=20) as a:
            assert (a.request_id, a.final) == (again, True)
            assert fbs.read_page_text(a.data) == (1003, "")
        assert sup.restarts == 1 and sup.worker_pid not in (None, first)
    assert events[-1].kind == "stopped"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("busy", [False, True], ids=["idle", "mid-request"])
def test_a_stop_signal_ends_the_worker_by_that_signal(name, spawn, signum, busy):
    with shmpipe.Core.create(name, capacity=1 << 16) as core:
        child = start(core, spawn, "--timeout", "30")
        assert final(core, ask(core, "echo"))[:2] == ("text", (1001, ""))
        if busy:
            ask(core, "sleep:20000")
        time.sleep(0.3)
        sent = time.monotonic()
        child.send_signal(signum)
        assert child.wait(timeout=10) == -signum
        assert time.monotonic() - sent < 2.0
        # It left the session: the core reads the end of the stream, not a dead peer.
        with pytest.raises(shmpipe.Closed):
            core.receive(timeout=5)
        assert core.in_flight == (1 if busy else 0)
    err = child.stderr.read()
    assert "Traceback" not in err, err
    assert not [e for e in os.listdir("/dev/shm") if e.startswith(name)]


def test_a_supervisor_writes_the_tracebacks_to_its_log(name, tmp_path):
    log = tmp_path / "worker.log"
    events = []
    with shmpipe.Supervisor(name, CONTRACT, stderr_path=log, on_event=events.append,
                            **fast()) as sup:
        rid = sup.request(fbs.extract_request("raise", 1), timeout=5)
        with sup.receive(timeout=20) as a:
            assert (a.request_id, a.final, a.identifier) == (rid, True, "SPEV")
            assert fbs.read_error(a.data)[:2] == (shmpipe.worker.HANDLER_FAILED,
                                                  "ValueError: boom")
            assert a.work_report is not None and a.work_report.duration < 5
    # The worker is gone (shut down, exit 0): everything it wrote is in the log.
    assert [e.kind for e in events] == ["started", "stopped"], events
    text = log.read_text()
    assert "Traceback" in text and "ValueError: boom" in text, text
    with pytest.raises(TypeError):
        shmpipe.Supervisor(name, CONTRACT, stderr_path=3, **fast())


def test_bad_arguments_raise_before_attaching(monkeypatch):
    handler = lambda request, send: b""  # noqa: E731
    with pytest.raises(ValueError, match="request_timeout"):
        shmpipe.worker.serve(handler, name="unused", request_timeout=-1)
    with pytest.raises(TypeError, match="handler"):
        shmpipe.worker.serve(None, name="unused")
    monkeypatch.setenv("SHMPIPE_RSS_SOFT_MB", "lots")
    with pytest.raises(ValueError, match="SHMPIPE_RSS_SOFT_MB='lots'"):
        shmpipe.worker.serve(handler, name="unused")
    monkeypatch.delenv("SHMPIPE_RSS_SOFT_MB")
    with pytest.raises(ValueError, match="SHMPIPE_RSS_HARD_MB"):
        shmpipe.worker.serve(handler, name="unused", rss_hard_mb=-5)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # nothing left installed

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Fixtures of the Python tests: unique segment names, a time limit per test, child processes
that never outlive their test, and nothing left in /dev/shm."""
import os
import re
import signal
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PEER = os.environ.get("SHMPIPE_TEST_PEER", "")
WORKER = os.environ.get("SHMPIPE_TEST_WORKER", "")
PY_WORKER = [sys.executable, os.path.join(HERE, "py_worker.py")]
TEST_LIMIT = 60  # seconds per test


@pytest.fixture
def name(request):
    """A segment name no other test or run uses; every segment a test makes starts with it."""
    test = re.sub(r"[^A-Za-z0-9._-]", "_", request.node.name)[:60]
    base = f"shmpipe-py-{os.getpid()}-{uuid.uuid4().hex[:8]}-{test}"
    yield base
    left = [e for e in os.listdir("/dev/shm") if e.startswith(base)]
    for e in left:  # ours by the unique prefix: remove, then fail
        os.unlink(os.path.join("/dev/shm", e))
    assert not left, f"left in /dev/shm: {left}"


@pytest.fixture(autouse=True)
def time_limit():
    """Fails a test that runs over TEST_LIMIT: every wait of the package is interruptible."""

    def over(signum, frame):
        raise TimeoutError(f"test ran over {TEST_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, over)
    signal.alarm(TEST_LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def spawn():
    """spawn(argv, **popen_kwargs) -> Popen; whatever still runs at the end is killed."""
    children = []

    def start(argv, **kwargs):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        child = subprocess.Popen(argv, **kwargs)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def need(path, what):
    if not path or not os.path.exists(path):
        pytest.fail(f"{what} not found ({path!r}): run the tests through ctest")

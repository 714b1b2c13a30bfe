# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""A Python worker for the tests. Each ExtractRequest's path is a command:
  echo              PageText{page, "echo <page>"} (type 5, not final), then PageText{page + 1000}
  fail              an envelope Error (code 7, "failed on purpose")
  crash-once:FILE   the first time (creating FILE): SIGKILL itself; then PageText{page, "survived"}
  hang-once:FILE    the first time (creating FILE): sleep for ever; then as crash-once
  sleep:MS          sleep MS milliseconds, then PageText{page, "slept"}
Run as `py_worker.py` (supervised: SHMPIPE_SESSION) or `py_worker.py attach NAME`."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbs  # noqa: E402

import shmpipe  # noqa: E402


def first_time(path):
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        return False


def serve(worker):
    """Serves until the core asks to shut down; the number of requests served."""
    served = 0
    for req in worker:
        path, page = fbs.read_extract_request(req.data)
        rid = req.request_id
        if path == "echo":
            worker.reply(rid, fbs.page_text(page, f"echo {page}"), final=False, type=5, timeout=10)
            worker.reply(rid, fbs.page_text(page + 1000, ""), timeout=10)
        elif path == "fail":
            worker.error(rid, 7, "failed on purpose", timeout=10)
        elif path.startswith(("crash-once:", "hang-once:")):
            if first_time(path.split(":", 1)[1]):
                if path.startswith("crash"):
                    os.kill(os.getpid(), signal.SIGKILL)
                while True:
                    time.sleep(3600)
            worker.reply(rid, fbs.page_text(page, "survived"), timeout=10)
        elif path.startswith("sleep:"):
            time.sleep(int(path[6:]) / 1000)
            worker.reply(rid, fbs.page_text(page, "slept"), timeout=10)
        else:
            worker.error(rid, 1, f"unknown command {path!r}", timeout=10)
        served += 1
    return served


def main():
    options = dict(worker_name="py-worker", capabilities=["echo"])
    if len(sys.argv) == 3 and sys.argv[1] == "attach":
        worker = shmpipe.Worker.attach(sys.argv[2], open_timeout=10.0, **options)
    else:
        worker = shmpipe.Worker.attach_supervised(**options)
    with worker:
        serve(worker)
        return 0 if worker.shutdown_requested else 3


if __name__ == "__main__":
    sys.exit(main())

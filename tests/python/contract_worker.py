# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""A worker on shmpipe.worker.serve() for test_worker_contract.py. Each ExtractRequest's path:
  echo              a partial PageText{page, "echo"} (type 5), then PageText{page + 1000, ""}
  sleep:MS          time.sleep (interruptible), then PageText{page, "slept"}
  spin:MS           a pure-Python busy loop, then PageText{page, "spun"}
  grow:MB[:MS]      keep MB MiB more of touched memory, sleep MS ms, then PageText{page, "grown"}
  raise             raise ValueError("boom")
  refuse            raise RequestError(7, "refused")
  none              return None
The soft-limit callback frees what grow kept and creates --marker (appending a line per call).
Run as `contract_worker.py [--name NAME] [--timeout S] [--soft MB] [--hard MB] ...`; without
--name it is a supervised worker (SHMPIPE_SESSION)."""
import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbs  # noqa: E402

import shmpipe.worker  # noqa: E402

kept = []


def handle(request, send):
    path, page = fbs.read_extract_request(request.data)
    if path == "echo":
        send(fbs.page_text(page, "echo"), type=5)
        return fbs.page_text(page + 1000, "")
    if path.startswith("sleep:"):
        time.sleep(int(path[6:]) / 1000)
        return fbs.page_text(page, "slept")
    if path.startswith("spin:"):
        until = time.monotonic() + int(path[5:]) / 1000
        while time.monotonic() < until:
            pass
        return fbs.page_text(page, "spun")
    if path.startswith("grow:"):
        parts = path.split(":")
        kept.append(b"\x01" * (int(parts[1]) << 20))  # written: resident, not just mapped
        if len(parts) > 2:
            time.sleep(int(parts[2]) / 1000)
        return fbs.page_text(page, "grown")
    if path == "raise":
        raise ValueError("boom")
    if path == "refuse":
        raise shmpipe.worker.RequestError(7, "refused")
    if path == "none":
        return None
    raise shmpipe.worker.RequestError(1, f"unknown command {path!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--soft", type=float)
    parser.add_argument("--hard", type=float)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--marker")
    args = parser.parse_args()

    def on_soft_limit():
        kept.clear()
        gc.collect()
        if args.marker:
            with open(args.marker, "a") as f:
                f.write("called\n")

    return shmpipe.worker.serve(
        handle, name=args.name, request_timeout=args.timeout, rss_soft_mb=args.soft,
        rss_hard_mb=args.hard, on_soft_limit=on_soft_limit, watch_interval=args.interval,
        worker_name="contract-worker", open_timeout=10.0)


if __name__ == "__main__":
    sys.exit(main())

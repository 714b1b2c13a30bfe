#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Runs the Python benchmarks of issue 15, item 6 against an existing build (it builds
nothing) and writes the results:

    /usr/bin/python3 bench/python/run.py --build build/bench [--reps 11] [--out docs/bench]

The build needs SHMPIPE_BUILD_BENCH and SHMPIPE_BUILD_PYTHON (py_core_bench and the build
tree's Python package). Three benchmarks, each run --reps times with its variants in an order
that rotates by one each repetition; every variant is one fresh process pair per repetition.
Reported: medians over the repetitions, and ratios computed within each repetition (then
their median), so that a slow moment of the machine hits both sides of a ratio.

1. ledger: seed 001's 100k ledger rows, Python worker -> C++ core. shmpipe (LedgerBatch
   FlatBuffers from numpy columns, or from the row dicts) against NDJSON (json.dumps per row
   on stdout, parsed in C++ with nlohmann::json). Goal: >= 100x.
2. rtt: 64-byte request/reply round trips. C++ core <-> Python worker: shmpipe (default wait
   policy; and futex-only with the worker sleeping in poll() on its readiness fd) against a
   Unix socket pair. Python core <-> Python worker: shmpipe against multiprocessing.Pipe and a
   socket pair. Goal: >= 5x the best of them.
3. aio: wake-up latency of an asyncio coroutine, shmpipe.aio.Consumer.receive() against
   loop.sock_recv() on a Unix socket (one-way, CLOCK_MONOTONIC across the two processes).
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(HERE, "peers.py")
PYTHON = "/usr/bin/python3"


def run_json(cmd, env, timeout=600):
    """Runs one measurement; its last stdout line is the JSON result."""
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {shlex.join(cmd)}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def median(values):
    return statistics.median(values)


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    lscpu = {}
    for line in sh("lscpu").splitlines():
        key, _, value = line.partition(":")
        lscpu[key.strip()] = value.strip()
    ncpu = os.cpu_count()
    affinity = sorted(os.sched_getaffinity(0))
    build_type = ""
    return {
        "cpu": lscpu.get("Model name", "?"),
        "lscpu": "CPU(s) %s, thread(s) per core %s, core(s) per socket %s, socket(s) %s" % (
            lscpu.get("CPU(s)", "?"), lscpu.get("Thread(s) per core", "?"),
            lscpu.get("Core(s) per socket", "?"), lscpu.get("Socket(s)", "?")),
        "nproc": sh("nproc"),
        "pinned": "no (affinity %s of %d CPUs: every process may run on any)" % (
            ",".join(map(str, affinity)), ncpu) if len(affinity) == ncpu else
        "yes, taskset: CPUs %s" % ",".join(map(str, affinity)),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "build_type": build_type,
    }


def load_snapshot():
    load = os.getloadavg()
    compilers = sh("ps -eo comm | grep -c '^cc1plus$'") or "0"
    return "load average %.2f %.2f %.2f, cc1plus processes running: %s" % (*load, compilers)


# ---- the three benchmarks ------------------------------------------------------------------

def ledger_variants(a, core):
    base = [core, "ledger"]
    opts = ["--python", PYTHON, "--peers", PEERS, "--rows", str(a.rows), "--batch", str(a.batch)]
    return [
        ("shm-numpy", base + ["shm"] + opts + ["--source", "numpy"]),
        ("shm-rows", base + ["shm"] + opts + ["--source", "rows"]),
        ("ndjson", base + ["ndjson"] + opts),
    ]


def rtt_variants(a, core):
    opts = ["--python", PYTHON, "--peers", PEERS, "--n", str(a.rtt_n)]
    return [
        ("cpp-shm", [core, "rtt", "shm"] + opts),
        ("cpp-shm-sleep", [core, "rtt", "shm-sleep"] + opts),
        ("cpp-sock", [core, "rtt", "sock"] + opts),
        ("py-shm", [PYTHON, PEERS, "pyrtt", "shm", str(a.rtt_n)]),
        ("py-mp", [PYTHON, PEERS, "pyrtt", "mp", str(a.rtt_n)]),
        ("py-sock", [PYTHON, PEERS, "pyrtt", "sock", str(a.rtt_n)]),
    ]


def aio_variants(a, core):
    opts = ["--python", PYTHON, "--peers", PEERS, "--n", str(a.aio_n), "--gap-us", str(a.gap_us)]
    return [("shm", [core, "aio", "shm"] + opts), ("sock", [core, "aio", "sock"] + opts)]


def check_ledger(records, rows):
    """Every run of every variant read the same rows: the same checksums."""
    keys = ("full_strings", "full_numbers", "touch_strings", "touch_numbers")
    first = records[0]
    for r in records:
        if r["rows_read"] != rows:
            raise SystemExit(f"ledger: {r['variant']} read {r['rows_read']} rows, not {rows}")
        for k in keys:
            if r[k] != first[k]:
                raise SystemExit(f"ledger: {k} differs between {first['variant']} and "
                                 f"{r['variant']}: the transports delivered different rows")


def fmt(x, digits=2):
    return f"{x:.{digits}f}"


def report(a, info, load_before, load_after, results, command):
    """The text and markdown results from the per-repetition records."""
    reps = a.reps
    L, R, A = results["ledger"], results["rtt"], results["aio"]
    lines = []
    md = []
    now = info["date"]
    head = [
        f"# {command}",
        f"# {now}, commit {info['commit']}; py_core_bench {info['build_type']}; Python "
        f"{info['python']}, numpy {info['numpy']}, flatbuffers {info['flatbuffers']}",
        f"# machine: {info['cpu']}; lscpu: {info['lscpu']}; nproc {info['nproc']}; "
        f"kernel {info['kernel']}",
        f"# CPU placement: pinned: {info['pinned']}. This VM's 2 vCPUs may share one physical "
        f"core (host's choice, may change between runs).",
        f"# before the run: {load_before}",
        f"# after the run:  {load_after}",
        f"# {reps} repetitions per benchmark, variants in rotating order, one fresh process pair "
        f"per variant and repetition; medians over repetitions; ratios computed within each "
        f"repetition, then their median [min-max].",
    ]
    lines += head

    def per_rep(group, f):
        return [f(group[i]) for i in range(reps)]

    def mm(values, digits=1):
        return f"{fmt(median(values), digits)} [{fmt(min(values), digits)}-{fmt(max(values), digits)}]"

    # ---- ledger
    lines += ["", f"## 1. ledger: {a.rows} rows, Python worker -> C++ core (batches of "
              f"{a.batch} rows for shmpipe)",
              "# ms: second request in the process (steady state); cold: the first (fresh ring "
              "pages, first calls); startup: spawn -> worker ready (rows generated, imports)"]
    lines.append(f"{'variant':<12} {'ms (median)':>12} {'cold ms':>10} {'startup ms':>11}")
    for v in ("shm-numpy", "shm-rows", "ndjson"):
        lines.append(f"{v:<12} {fmt(median(per_rep(L, lambda r: r[v]['ms']))):>12} "
                     f"{fmt(median(per_rep(L, lambda r: r[v]['cold_ms']))):>10} "
                     f"{fmt(median(per_rep(L, lambda r: r[v]['startup_ms']))):>11}")
    led_np = per_rep(L, lambda r: r["ndjson"]["ms"] / r["shm-numpy"]["ms"])
    led_rows = per_rep(L, lambda r: r["ndjson"]["ms"] / r["shm-rows"]["ms"])
    led_np_cold = per_rep(L, lambda r: r["ndjson"]["cold_ms"] / r["shm-numpy"]["cold_ms"])
    led_rows_cold = per_rep(L, lambda r: r["ndjson"]["cold_ms"] / r["shm-rows"]["cold_ms"])
    lines += [f"ndjson / shm-numpy: {mm(led_np)} x   (cold: {mm(led_np_cold)} x)",
              f"ndjson / shm-rows:  {mm(led_rows)} x   (cold: {mm(led_rows_cold)} x)",
              f"goal >= 100x (numpy columns, steady state): "
              f"{'met' if median(led_np) >= 100 else 'NOT met'}"]

    # ---- rtt
    lines += ["", f"## 2. rtt: 64-byte request, 64-byte echo, {a.rtt_n} round trips per run "
              f"(after 1000 untimed)",
              "# round trips/s = n / total time; p50/p99 of single round trips"]
    lines.append(f"{'variant':<14} {'pairing':<31} {'k/s (median)':>13} {'p50 us':>8} "
                 f"{'p99 us':>8}")
    pairing = {}
    for v in ("cpp-shm", "cpp-shm-sleep", "cpp-sock", "py-shm", "py-mp", "py-sock"):
        pairing[v] = R[0][v]["pairing"]
        lines.append(f"{v:<14} {pairing[v]:<31} "
                     f"{fmt(median(per_rep(R, lambda r: r[v]['per_s'] / 1e3)), 1):>13} "
                     f"{fmt(median(per_rep(R, lambda r: r[v]['p50_us'])), 1):>8} "
                     f"{fmt(median(per_rep(R, lambda r: r[v]['p99_us'])), 1):>8}")
    rate = lambda r, v: r[v]["per_s"]  # noqa: E731
    rtt_cpp = per_rep(R, lambda r: rate(r, "cpp-shm") / rate(r, "cpp-sock"))
    rtt_cpp_sleep = per_rep(R, lambda r: rate(r, "cpp-shm-sleep") / rate(r, "cpp-sock"))
    rtt_py = per_rep(R, lambda r: rate(r, "py-shm") / max(rate(r, "py-mp"), rate(r, "py-sock")))
    rtt_issue = per_rep(R, lambda r: rate(r, "cpp-shm") / max(
        rate(r, "cpp-sock"), rate(r, "py-mp"), rate(r, "py-sock")))
    lines += [
        f"like for like, C++ core <-> Python worker, cpp-shm / cpp-sock:        {mm(rtt_cpp, 2)} x",
        f"like for like, sleeping vs sleeping, cpp-shm-sleep / cpp-sock:        {mm(rtt_cpp_sleep, 2)} x",
        f"like for like, Python <-> Python, py-shm / best(py-mp, py-sock):      {mm(rtt_py, 2)} x",
        f"as the issue words it, cpp-shm / best(cpp-sock, py-mp, py-sock):      {mm(rtt_issue, 2)} x",
        f"goal >= 5x the best of them: {'met' if median(rtt_issue) >= 5 else 'NOT met'}"]

    # ---- aio
    lines += ["", f"## 3. aio: asyncio wake-up, {a.aio_n} pings per run (after 100 untimed), "
              f"the C++ side sleeps {a.gap_us} us before each (so the loop is parked in epoll)",
              "# one-way: C++ CLOCK_MONOTONIC before publishing -> Python CLOCK_MONOTONIC when "
              "the await returned; rtt: C++ publish -> pong read (C++ side blocking)"]
    lines.append(f"{'variant':<8} {'p50 us':>8} {'p90 us':>8} {'p99 us':>8} {'rtt p50 us':>11}")
    for v in ("shm", "sock"):
        lines.append(f"{v:<8} {fmt(median(per_rep(A, lambda r: r[v]['p50_us'])), 1):>8} "
                     f"{fmt(median(per_rep(A, lambda r: r[v]['p90_us'])), 1):>8} "
                     f"{fmt(median(per_rep(A, lambda r: r[v]['p99_us'])), 1):>8} "
                     f"{fmt(median(per_rep(A, lambda r: r[v]['rtt_p50_us'])), 1):>11}")
    aio_p50 = per_rep(A, lambda r: r["sock"]["p50_us"] / r["shm"]["p50_us"])
    aio_p99 = per_rep(A, lambda r: r["sock"]["p99_us"] / r["shm"]["p99_us"])
    lines += [f"sock / shm one-way p50: {mm(aio_p50, 2)} x, p99: {mm(aio_p99, 2)} x "
              f"(> 1: shmpipe wakes the coroutine sooner; no numeric goal in the issue)"]

    lines += ["", "## every measurement (JSON, one per variant and repetition)"]
    for group in ("ledger", "rtt", "aio"):
        for i in range(reps):
            for v, rec in results[group][i].items():
                lines.append(json.dumps({"rep": i, **rec}, sort_keys=True))

    # ---- markdown
    verdict = lambda ok: "**met**" if ok else "**NOT met**"  # noqa: E731
    md += [
        "# Python benchmarks (issue 15, item 6)",
        "",
        f"One run of `{command}` on {now}, commit {info['commit']}. Every number here comes "
        f"from that run; the full output, with each repetition's raw measurement, is "
        f"[python.txt](python.txt).",
        "",
        "| | |", "|---|---|",
        f"| machine | {info['cpu']}, {info['lscpu']}, nproc {info['nproc']} |",
        f"| CPU placement | pinned: {info['pinned']}; the 2 vCPUs may share one physical core |",
        f"| load | before: {load_before}; after: {load_after} |",
        f"| software | kernel {info['kernel']}, Python {info['python']}, numpy {info['numpy']}, "
        f"flatbuffers {info['flatbuffers']}, py_core_bench {info['build_type']} |",
        f"| method | {reps} repetitions, variants in rotating order, fresh processes per "
        f"variant and repetition; medians; ratios within each repetition, then their median "
        f"[min-max] |",
        "",
        "## Goals",
        "",
        "| goal | measured (median [min-max] of per-repetition ratios) | verdict |",
        "|---|---|---|",
        f"| ledger: shmpipe >= 100x NDJSON ({a.rows} rows, numpy columns, steady state) | "
        f"{mm(led_np)} x | {verdict(median(led_np) >= 100)} |",
        f"| round trips: >= 5x the best of multiprocessing.Pipe / socket pair (cpp-shm vs "
        f"best of cpp-sock, py-mp, py-sock) | {mm(rtt_issue, 2)} x | "
        f"{verdict(median(rtt_issue) >= 5)} |",
        "",
        "## 1. Seed 001: ledger rows, Python worker -> C++ core",
        "",
        f"{a.rows} rows with LedgerBatch's fields (page, stt, code, name, unit, quantity, "
        f"unit_price, amount, flags, bbox; Vietnamese names with quotes and backslashes, as "
        f"bench/ledger_transport_bench.cpp). The core reads every field of every row (numbers "
        f"summed, strings touched) and all variants must agree on the checksums. Time: from the "
        f"core's request to the last row read, in an already started worker (startup listed "
        f"apart).",
        "",
        "| variant | ms (median) | cold ms | startup ms |", "|---|---:|---:|---:|",
    ]
    names = {"shm-numpy": "shmpipe, LedgerBatch from numpy columns",
             "shm-rows": "shmpipe, LedgerBatch from the row dicts",
             "ndjson": "NDJSON: json.dumps per row, stdout pipe, nlohmann::json"}
    for v in ("shm-numpy", "shm-rows", "ndjson"):
        md.append(f"| {names[v]} | {fmt(median(per_rep(L, lambda r: r[v]['ms'])))} | "
                  f"{fmt(median(per_rep(L, lambda r: r[v]['cold_ms'])))} | "
                  f"{fmt(median(per_rep(L, lambda r: r[v]['startup_ms'])))} |")
    md += ["", f"NDJSON / shmpipe: numpy columns {mm(led_np)} x (cold {mm(led_np_cold)} x); "
           f"row dicts {mm(led_rows)} x (cold {mm(led_rows_cold)} x).", "",
           "## 2. Round trips, 64 bytes", "",
           "| variant | pairing | k round trips/s | p50 us | p99 us |", "|---|---|---:|---:|---:|"]
    rnames = {"cpp-shm": "shmpipe session, default wait (spin, yield, futex)",
              "cpp-shm-sleep": "shmpipe session, futex only; worker sleeps in poll(ready_fd)",
              "cpp-sock": "Unix socketpair, blocking read/write",
              "py-shm": "shmpipe session (shmpipe.Core in Python)",
              "py-mp": "multiprocessing.Pipe, send_bytes/recv_bytes",
              "py-sock": "socket.socketpair, sendall/recv_into"}
    for v in rnames:
        md.append(f"| {rnames[v]} | {pairing[v]} | "
                  f"{fmt(median(per_rep(R, lambda r: r[v]['per_s'] / 1e3)), 1)} | "
                  f"{fmt(median(per_rep(R, lambda r: r[v]['p50_us'])), 1)} | "
                  f"{fmt(median(per_rep(R, lambda r: r[v]['p99_us'])), 1)} |")
    md += ["", "| ratio (round trips/s) | median [min-max] |", "|---|---|",
           f"| C++ <-> Python: shmpipe default / socketpair | {mm(rtt_cpp, 2)} x |",
           f"| C++ <-> Python, sleeping vs sleeping: shmpipe futex-only / socketpair | "
           f"{mm(rtt_cpp_sleep, 2)} x |",
           f"| Python <-> Python: shmpipe / best of multiprocessing.Pipe, socketpair | "
           f"{mm(rtt_py, 2)} x |",
           f"| the issue's goal: C++ <-> Python shmpipe / best of all three baselines | "
           f"{mm(rtt_issue, 2)} x |",
           "", "## 3. asyncio wake-up latency", "",
           f"A coroutine awaits the next 64-byte ping; the C++ side sleeps {a.gap_us} us before "
           f"each, so the loop is parked in epoll_wait. One-way = Python's CLOCK_MONOTONIC when "
           f"the await returned minus C++'s just before publishing.", "",
           "| variant | p50 us | p90 us | p99 us | rtt p50 us |", "|---|---:|---:|---:|---:|"]
    anames = {"shm": "shmpipe.aio.Consumer.receive() (readiness fd)",
              "sock": "loop.sock_recv() on a Unix socketpair"}
    for v in anames:
        md.append(f"| {anames[v]} | {fmt(median(per_rep(A, lambda r: r[v]['p50_us'])), 1)} | "
                  f"{fmt(median(per_rep(A, lambda r: r[v]['p90_us'])), 1)} | "
                  f"{fmt(median(per_rep(A, lambda r: r[v]['p99_us'])), 1)} | "
                  f"{fmt(median(per_rep(A, lambda r: r[v]['rtt_p50_us'])), 1)} |")
    md += ["", f"socket / shmpipe one-way: p50 {mm(aio_p50, 2)} x, p99 {mm(aio_p99, 2)} x.", ""]
    md += NOTES.splitlines()
    return "\n".join(lines) + "\n", "\n".join(md)


NOTES = """## What each variant does (fixed text, not measured)

- **ledger, shmpipe**: the worker (shmpipe.Worker) builds one Extraction{LedgerBatch} per
  batch with the flatbuffers runtime: numeric columns with `Builder.CreateNumpyVector` (numpy
  `tobytes()` then a copy into the builder's bytearray), the BBox structs the same way by
  hand (CreateNumpyVector takes 1-D arrays only), each StringColumn as the strings' UTF-8
  bytes joined (`str.encode` per string) plus n + 1 offsets (numpy cumsum). The finished
  buffer is handed to `Worker.reply()` as a memoryview of the builder (no `Output()` copy):
  one copy into the ring. The C++ core verifies each message (`as<Extraction>()`), checks every
  column's length, and reads the rows in place. *shm-numpy* starts from numpy columns (plus
  lists of str); *shm-rows* starts from the same list of dicts the NDJSON worker dumps, so it
  also times the conversion to columns.
- **ledger, NDJSON**: `sys.stdout.write(json.dumps(row) + "\\n")` per row (stdout is a pipe,
  block-buffered: no flush per row; `ensure_ascii` default, so the Vietnamese text travels as
  \\u escapes), then `{"end": n}`. The core reads 64 KiB at a time, splits lines and parses
  each with `nlohmann::json::parse`, then reads the same fields into the same checksum.
- **rtt**: 64 bytes (8-byte counter, 56 x 'x'), echoed back unchanged and compared. The
  shmpipe payload is not a FlatBuffer (a session carries any bytes; the baselines carry the
  same 64). *cpp-shm*: the worker loops `for request in worker: worker.reply(id,
  request.data)` (the binding's blocking receive: spin 50 us, yield 200 us, then futex, with
  the GIL released); the C++ core uses the default WaitPolicy. *cpp-shm-sleep*: the core's
  policy is futex only (spin_for = yield_for = 0) and the worker waits in `select.poll()` on
  `ready_fd()` and then `receive(0)`: sleeping against the sockets' sleeping read(). The
  binding has no wait-policy option, so poll() on the readiness fd is how the Python side
  sleeps.
- **aio**: the Python side runs `asyncio.run()`; shm: `await shmpipe.aio.Consumer.receive()`
  (try, then `loop.add_reader(ready_fd)`), pong with `Producer.send()`; sock:
  `await loop.sock_recv()` on a non-blocking socket, pong with `sock.send()`. The C++ side
  waits for pongs sleeping in both (futex only / read()).
- Each (variant, repetition) is a fresh pair of processes; a C++ side and a Python side may
  land on the same vCPU or not, which on 2 vCPUs shared with other load matters most to the
  spinning wait policies.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build", "bench"),
                    help="build tree with py_core_bench and the Python package")
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--rtt-n", type=int, default=10000)
    ap.add_argument("--aio-n", type=int, default=1000)
    ap.add_argument("--gap-us", type=int, default=500)
    ap.add_argument("--out", help="write python.txt and python.md here (else: print the text)")
    ap.add_argument("--only", choices=("ledger", "rtt", "aio"), action="append",
                    help="run only these (development; a report needs all three)")
    a = ap.parse_args()
    if a.reps < 1:
        ap.error("--reps must be >= 1")
    build = os.path.abspath(a.build)
    core = os.path.join(build, "bench", "py_core_bench")
    package = os.path.join(build, "python")
    if not os.access(core, os.X_OK) or not os.path.isdir(os.path.join(package, "shmpipe")):
        raise SystemExit(f"{build}: no bench/py_core_bench or python/shmpipe: configure with "
                         f"-DSHMPIPE_BUILD_BENCH=ON (and the Python package) and build first")
    env = dict(os.environ, PYTHONPATH=package)
    command = "/usr/bin/python3 bench/python/run.py " + shlex.join(sys.argv[1:])

    info = machine()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = sh(f"git -C {shlex.quote(REPO)} rev-parse --short HEAD")
    dirty = sh(f"git -C {shlex.quote(REPO)} status --porcelain --untracked-files=no")
    info["commit"] = commit + (" (with uncommitted changes)" if dirty else "")
    cache = os.path.join(build, "CMakeCache.txt")
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("CMAKE_BUILD_TYPE:"):
                info["build_type"] = line.split("=", 1)[1].strip()
    versions = run_json([PYTHON, "-c", "import json, numpy, flatbuffers, shmpipe; print(json.dumps("
                         "{'numpy': numpy.__version__, 'flatbuffers': getattr(flatbuffers, "
                         "'__version__', '?')}))"], env)
    if versions["flatbuffers"] == "?":
        versions["flatbuffers"] = sh("dpkg-query -W -f '${Version}' python3-flatbuffers") or "?"
    info.update(versions)

    groups = {"ledger": ledger_variants(a, core), "rtt": rtt_variants(a, core),
              "aio": aio_variants(a, core)}
    only = a.only or list(groups)
    load_before = load_snapshot()
    results = {g: [] for g in groups}
    for i in range(a.reps):
        for g in only:
            rec = {}
            for v, cmd in rotated(groups[g], i):
                rec[v] = run_json(cmd, env)
                print(f"rep {i} {g} {v}: " + ", ".join(
                    f"{k}={rec[v][k]:.2f}" for k in ("ms", "per_s", "p50_us") if k in rec[v]),
                    file=sys.stderr, flush=True)
            results[g].append(rec)
    load_after = load_snapshot()
    if "ledger" in only:
        check_ledger([r for rep in results["ledger"] for r in rep.values()], a.rows)
    if len(only) < 3:
        print(json.dumps(results, indent=1))
        return
    text, md = report(a, info, load_before, load_after, results, command)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "python.txt"), "w") as f:
            f.write(text)
        with open(os.path.join(a.out, "python.md"), "w") as f:
            f.write(md)
    print(text)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""The Python side of the Python benchmarks (issue 15, item 6). py_core_bench starts this
script with a role; `pyrtt` is run directly by run.py and measures Python <-> Python round
trips itself. Every role checks what it receives; a mismatch raises (exit status 1).

    peers.py ledger-shm SESSION ROWS numpy|rows BATCH   worker: LedgerBatch replies
    peers.py ledger-ndjson ROWS                         worker: NDJSON rows on stdout
    peers.py rtt-shm SESSION receive|poll               worker: echo each request
    peers.py rtt-sock FD                                 echo 64-byte messages on a socket
    peers.py aio-shm PING PONG                           asyncio consumer of PING, pongs on PONG
    peers.py aio-sock FD                                 asyncio loop.sock_recv, pongs back
    peers.py pyrtt shm|mp|sock N                         Python core <-> Python worker, JSON out
"""
import asyncio
import json
import multiprocessing
import os
import random
import select
import socket
import struct
import sys
import time

import flatbuffers
import numpy as np

import shmpipe
import shmpipe.aio
from shmpipe.schema import Extraction, LedgerBatch, StringColumn
from shmpipe.schema.ExtractionBody import ExtractionBody

# ---- the rows: the fields of LedgerBatch, values as in bench/ledger_transport_bench.cpp --------

NAMES = [
    "Đào móng băng bằng máy đào",
    "Bê tông lót móng đá 4x6 mác 100",
    "Ván khuôn móng cột",
    "Xây tường gạch chỉ 6,5x10,5x22, vữa xi măng mác 75",
    'Lắp đặt ống nhựa PVC "Tiền Phong" D110 - tầng 2 khu nhà điều hành',
    "Trát tường trong dày 1,5cm\\lớp 2",
]
UNITS = ["m3", "m2", "100m2", "tấn", "cái"]


def make_rows(n):
    """n ledger rows as a Python worker holds them after extraction: one dict per row."""
    rng = random.Random(42)
    rows = []
    for i in range(n):
        y = float(60 + (i % 32) * 22)
        q = rng.randrange(1000000) / 100.0
        p = float(rng.randrange(10000000))
        rows.append({
            "page": i // 32,
            "stt": str(i + 1),
            "code": "AB.%d" % (10000 + rng.randrange(90000)),
            "name": NAMES[rng.randrange(len(NAMES))],
            "unit": UNITS[rng.randrange(len(UNITS))],
            "quantity": q,
            "unit_price": p,
            "amount": q * p,
            "flags": 1 if rng.randrange(50) == 0 else 0,
            "bbox": [30.5, y, 565.25, y + 11.5],
        })
    return rows


class Columns:
    """The same rows as columns: numpy arrays for numbers, lists of str for text."""

    def __init__(self, rows):
        n = len(rows)
        self.n = n
        self.page = np.fromiter((r["page"] for r in rows), np.uint32, n)
        self.quantity = np.fromiter((r["quantity"] for r in rows), np.float64, n)
        self.unit_price = np.fromiter((r["unit_price"] for r in rows), np.float64, n)
        self.amount = np.fromiter((r["amount"] for r in rows), np.float64, n)
        self.flags = np.fromiter((r["flags"] for r in rows), np.uint8, n)
        self.bbox = np.array([r["bbox"] for r in rows], np.float32).reshape(n, 4)
        self.stt = [r["stt"] for r in rows]
        self.code = [r["code"] for r in rows]
        self.name = [r["name"] for r in rows]
        self.unit = [r["unit"] for r in rows]


def string_column(b, strings):
    """A StringColumn: the UTF-8 bytes back to back and n + 1 offsets into them."""
    encoded = [s.encode() for s in strings]
    offsets = np.zeros(len(encoded) + 1, np.uint32)
    np.cumsum(np.fromiter(map(len, encoded), np.uint32, len(encoded)), out=offsets[1:])
    data = b.CreateByteVector(b"".join(encoded))
    offs = b.CreateNumpyVector(offsets)
    StringColumn.Start(b)
    StringColumn.AddOffsets(b, offs)
    StringColumn.AddBytes(b, data)
    return StringColumn.End(b)


def bbox_vector(b, boxes):
    """A vector of BBox structs (4 floats) from an (n, 4) float32 array: CreateNumpyVector
    takes only one-dimensional arrays, so this is what it does, for 16-byte elements."""
    raw = np.ascontiguousarray(boxes, "<f4").tobytes()
    LedgerBatch.StartRowBboxVector(b, len(boxes))
    b.head = b.Head() - len(raw)  # as Builder.CreateNumpyVector places its bytes
    b.Bytes[b.Head():b.Head() + len(raw)] = raw
    return b.EndVector()


def ledger_message(request_id, first, page, stt, code, name, unit, q, p, a, flags, boxes):
    """One Extraction{LedgerBatch}, finished; returned as a view of the builder's bytes (no
    copy: Builder.Output() would make one)."""
    b = flatbuffers.Builder(len(page) * 160 + 4096)
    cols = [string_column(b, c) for c in (stt, code, name, unit)]
    page_v = b.CreateNumpyVector(page)
    q_v = b.CreateNumpyVector(q)
    p_v = b.CreateNumpyVector(p)
    a_v = b.CreateNumpyVector(a)
    f_v = b.CreateNumpyVector(flags)
    box_v = bbox_vector(b, boxes)
    LedgerBatch.Start(b)
    LedgerBatch.AddFirstRow(b, first)
    LedgerBatch.AddPage(b, page_v)
    LedgerBatch.AddStt(b, cols[0])
    LedgerBatch.AddCode(b, cols[1])
    LedgerBatch.AddName(b, cols[2])
    LedgerBatch.AddUnit(b, cols[3])
    LedgerBatch.AddQuantity(b, q_v)
    LedgerBatch.AddUnitPrice(b, p_v)
    LedgerBatch.AddAmount(b, a_v)
    LedgerBatch.AddFlags(b, f_v)
    LedgerBatch.AddRowBbox(b, box_v)
    batch = LedgerBatch.End(b)
    Extraction.Start(b)
    Extraction.AddRequestId(b, request_id)
    Extraction.AddBodyType(b, ExtractionBody.LedgerBatch)
    Extraction.AddBody(b, batch)
    b.Finish(Extraction.End(b), file_identifier=b"SPEX")
    return memoryview(b.Bytes)[b.Head():]


def send_ledger(worker, request_id, rows, cols, batch):
    """Every row, `batch` rows per message; the last one final. From numpy columns (`cols`)
    or, when `cols` is None, from the row dicts (the conversion to columns is then timed)."""
    n = len(rows)
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        if cols is not None:
            c = cols
            parts = (c.page[lo:hi], c.stt[lo:hi], c.code[lo:hi], c.name[lo:hi], c.unit[lo:hi],
                     c.quantity[lo:hi], c.unit_price[lo:hi], c.amount[lo:hi], c.flags[lo:hi],
                     c.bbox[lo:hi])
        else:
            chunk = rows[lo:hi]
            k = hi - lo
            parts = (np.fromiter((r["page"] for r in chunk), np.uint32, k),
                     [r["stt"] for r in chunk], [r["code"] for r in chunk],
                     [r["name"] for r in chunk], [r["unit"] for r in chunk],
                     np.fromiter((r["quantity"] for r in chunk), np.float64, k),
                     np.fromiter((r["unit_price"] for r in chunk), np.float64, k),
                     np.fromiter((r["amount"] for r in chunk), np.float64, k),
                     np.fromiter((r["flags"] for r in chunk), np.uint8, k),
                     np.array([r["bbox"] for r in chunk], np.float32).reshape(k, 4))
        msg = ledger_message(request_id, lo, *parts)
        worker.reply(request_id, msg, final=hi == n)  # one copy, into the ring
        msg.release()


def ledger_shm(session, nrows, source, batch):
    rows = make_rows(int(nrows))
    cols = Columns(rows) if source == "numpy" else None
    with shmpipe.Worker.attach(session, worker_name="ledger-bench", open_timeout=30) as worker:
        for request in worker:
            if request.identifier != "SPEX":
                raise ValueError(f"not an Extraction request: {request!r}")
            request_id = request.request_id
            request.release()
            send_ledger(worker, request_id, rows, cols, int(batch))


def ledger_ndjson(nrows):
    """The legacy worker: one json.dumps per row, newline-delimited on stdout (buffered: no
    flush per row), then {"end": n}. Runs once per "go" line on stdin."""
    rows = make_rows(int(nrows))
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    dumps = json.dumps
    for line in sys.stdin:
        if line.strip() != "go":
            raise ValueError(f"unexpected command {line!r}")
        write = out.write
        for r in rows:
            write(dumps(r) + "\n")
        write('{"end": %d}\n' % len(rows))
        out.flush()


# ---- round trips ---------------------------------------------------------------------------

PAYLOAD = 64
WARMUP = 1000


def payload(i):
    """The bytes py_core_bench sends: the counter (little-endian) and 'x' up to 64 bytes."""
    return i.to_bytes(8, "little") + b"x" * (PAYLOAD - 8)


def rtt_shm(session, wait):
    with shmpipe.Worker.attach(session, worker_name="rtt-bench", open_timeout=30) as worker:
        if wait == "receive":  # the binding's blocking receive: the default wait policy
            for request in worker:
                worker.reply(request.request_id, request.data)
            return
        # Sleep in poll() on the readiness fd: no spinning on this side.
        poller = select.poll()
        poller.register(worker.ready_fd(), select.POLLIN)
        while True:
            try:
                request = worker.receive(0)
            except shmpipe.Timeout:
                poller.poll(10000)
                continue
            except shmpipe.Closed:
                return
            worker.reply(request.request_id, request.data)
            request.release()


def echo_socket(s):
    buf = bytearray(PAYLOAD)
    view = memoryview(buf)
    while True:
        got = 0
        while got < PAYLOAD:
            k = s.recv_into(view[got:])
            if k == 0:
                return
            got += k
        s.sendall(buf)


def rtt_sock(fd):
    s = socket.socket(fileno=int(fd))
    s.sendall(b"R")
    echo_socket(s)


# ---- asyncio wake-up -----------------------------------------------------------------------

PONG = struct.Struct("<Qq48x")  # counter, CLOCK_MONOTONIC ns when the await returned


def aio_shm(ping, pong):
    async def main():
        with shmpipe.aio.Consumer.create(ping, capacity=1 << 16) as rx, \
                shmpipe.Producer.open(pong, open_timeout=30, linger=0) as tx:
            tx.send(b"ready")
            while True:
                try:
                    rec = await rx.receive()
                except shmpipe.Closed:
                    return
                t = time.monotonic_ns()
                i = int.from_bytes(rec.data[:8], "little")
                rec.release()
                tx.send(PONG.pack(i, t))

    asyncio.run(main())


def aio_sock(fd):
    async def main():
        loop = asyncio.get_running_loop()
        s = socket.socket(fileno=int(fd))
        s.setblocking(False)
        s.send(b"R")
        while True:
            data = await loop.sock_recv(s, PAYLOAD)
            t = time.monotonic_ns()
            if not data:
                return
            while len(data) < PAYLOAD:
                more = await loop.sock_recv(s, PAYLOAD - len(data))
                if not more:
                    raise EOFError("a ping cut short")
                data += more
            s.send(PONG.pack(int.from_bytes(data[:8], "little"), t))

    asyncio.run(main())


# ---- Python core <-> Python worker ---------------------------------------------------------

def _echo_shm(session):
    rtt_shm(session, "receive")


def _echo_mp(conn):
    conn.send_bytes(b"R")
    while True:
        msg = conn.recv_bytes()
        if not msg:
            return
        conn.send_bytes(msg)


def _echo_sock(s):
    s.sendall(b"R")
    echo_socket(s)


def pyrtt(transport, n):
    """Round trips from a Python parent (the core) to a forked Python child, through a
    shmpipe session, a multiprocessing.Pipe (send_bytes/recv_bytes) or a socket.socketpair
    (sendall/recv_into). Prints one JSON line as py_core_bench does."""
    n = int(n)
    ctx = multiprocessing.get_context("fork")
    messages = [payload(i) for i in range(WARMUP + n)]
    rtt = []
    clock = time.perf_counter_ns
    started = clock()
    if transport == "shm":
        session = "shmpipe-pybench-pyrtt-%d-%d" % (os.getpid(), random.randrange(1000000))
        child = ctx.Process(target=_echo_shm, args=(session,))
        child.start()
        with shmpipe.Core.create(session, capacity=1 << 16) as core:
            core.await_ready(60)
            startup = clock() - started
            for i, p in enumerate(messages):
                if i == WARMUP:
                    start = clock()
                t0 = clock()
                rid = core.request(p)
                reply = core.receive(5)
                if reply.request_id != rid or reply.data != p:
                    raise ValueError("wrong reply")
                reply.release()
                rtt.append(clock() - t0)
            total = clock() - start
            core.shutdown("done")
            child.join(10)
    else:
        if transport == "mp":
            mine, theirs = ctx.Pipe()
            child = ctx.Process(target=_echo_mp, args=(theirs,))
            send, recv = mine.send_bytes, mine.recv_bytes
        else:
            mine, theirs = socket.socketpair()
            child = ctx.Process(target=_echo_sock, args=(theirs,))
            buf = bytearray(PAYLOAD)
            view = memoryview(buf)

            def send(p):
                mine.sendall(p)

            def recv():
                got = 0
                while got < PAYLOAD:
                    k = mine.recv_into(view[got:])
                    if k == 0:
                        raise EOFError("the peer went away")
                    got += k
                return buf

        child.start()
        theirs.close()
        if transport == "mp":
            if recv() != b"R":
                raise ValueError("no ready")
        elif mine.recv(1) != b"R":
            raise ValueError("no ready")
        startup = clock() - started
        for i, p in enumerate(messages):
            if i == WARMUP:
                start = clock()
            t0 = clock()
            send(p)
            if recv() != p:
                raise ValueError("wrong reply")
            rtt.append(clock() - t0)
        total = clock() - start
        if transport == "mp":
            mine.send_bytes(b"")
        else:
            mine.shutdown(socket.SHUT_WR)
        child.join(10)
        mine.close()
    if child.exitcode != 0:
        raise RuntimeError(f"the echo child failed (exit code {child.exitcode})")
    timed = sorted(rtt[WARMUP:])
    print(json.dumps({
        "bench": "rtt", "variant": "py-" + transport,
        "pairing": "Python core <-> Python worker", "n": n, "startup_ms": startup / 1e6,
        "per_s": n / (total / 1e9), "mean_us": total / n / 1e3,
        "p50_us": timed[(n - 1) // 2] / 1e3, "p99_us": timed[int(0.99 * (n - 1))] / 1e3}))


ROLES = {
    "ledger-shm": ledger_shm,
    "ledger-ndjson": ledger_ndjson,
    "rtt-shm": rtt_shm,
    "rtt-sock": rtt_sock,
    "aio-shm": aio_shm,
    "aio-sock": aio_sock,
    "pyrtt": pyrtt,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ROLES:
        sys.exit("usage: peers.py " + "|".join(ROLES) + " ARGS... (see the docstring)")
    ROLES[sys.argv[1]](*sys.argv[2:])

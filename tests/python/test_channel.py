# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe.Producer / Consumer against the C++ ones (python_peer), and the safety of views into
the ring: a view used after release raises, release with live views refuses and keeps the
record readable, bad arguments raise clear errors."""
import os
import signal

import numpy as np
import pytest

import shmpipe
from conftest import PEER, need


def pattern(seq, size):
    """The bytes python_peer writes into (and expects in) record `seq`."""
    i = np.arange(size, dtype=np.uint64)
    return ((seq * 31 + i * 7 + 1) & 0xFF).astype(np.uint8)


def test_cpp_producer_to_python_consumer(name, spawn):
    need(PEER, "python_peer")
    count, size = 300, 1000  # 1 KiB records through a 64 KiB ring: it wraps several times
    peer = spawn([PEER, "produce", name, str(count), str(size)])
    with shmpipe.Consumer.open(name, open_timeout=10.0) as rx:
        seen = 0
        for rec in rx:  # ends with Closed: the producer closed after its last record
            assert rec.seq == seen and rec.type == seen % 65536
            data = np.frombuffer(rec.data, dtype=np.uint8)  # no copy: reads the ring
            assert not data.flags.writeable
            assert np.array_equal(data, pattern(seen, size)), f"record {seen} differs"
            del data
            seen += 1
        assert seen == count
        assert rx.stats()["consumer"]["records"] == count
    out, err = peer.communicate(timeout=20)
    assert peer.returncode == 0, err
    assert "produce: ok" in out


def test_python_producer_to_cpp_consumer(name, spawn):
    need(PEER, "python_peer")
    count, size = 200, 3000
    peer = spawn([PEER, "consume", name, str(count)])
    with shmpipe.Producer.create(name, capacity=1 << 16, linger=10.0) as tx:
        assert tx.max_payload == (1 << 16) - 16
        for seq in range(count):
            if seq % 2 == 0:  # in place: numpy writes straight into the ring
                slot = tx.reserve(size, timeout=10)
                assert len(slot) == size
                np.frombuffer(slot, dtype=np.uint8)[:] = pattern(seq, size)
                tx.commit(slot, type=seq % 65536)
            else:  # one copy of a bytes-like object
                tx.send(pattern(seq, size), timeout=10, type=seq % 65536)
    out, err = peer.communicate(timeout=20)
    assert peer.returncode == 0, err
    assert f"consume: {count} records ok" in out


def test_a_killed_cpp_producer_is_peer_dead_after_its_records(name, spawn):
    need(PEER, "python_peer")
    peer = spawn([PEER, "produce", name, "1000000", "64"])
    with shmpipe.Consumer.open(name, open_timeout=10.0) as rx:
        with rx.receive(timeout=10) as rec:
            assert rec.seq == 0
        peer.send_signal(signal.SIGKILL)
        peer.wait(timeout=10)
        with pytest.raises(shmpipe.Error) as failed:
            for rec in rx:  # every committed record, whole, then peer_dead
                assert bytes(rec.data) == pattern(rec.seq, 64).tobytes()
        assert failed.value.status == "peer_dead"
        assert not isinstance(failed.value, (shmpipe.Timeout, shmpipe.Closed))
    # The dead creator's segment: abandoned, and removed by the next create that replaces it.
    shmpipe.Producer.create(name, replace_abandoned=True, linger=0).close()


@pytest.fixture
def pair(name):
    rx = shmpipe.Consumer.create(name, capacity=4096)
    tx = shmpipe.Producer.open(name, linger=0)
    yield tx, rx
    tx.close()
    rx.close()


def test_a_view_used_after_release_raises(pair):
    tx, rx = pair
    tx.send(b"0123456789abcdef", timeout=1)
    rec = rx.receive(timeout=1)
    view = rec.data
    assert view.readonly and bytes(view) == b"0123456789abcdef"
    rec.release()
    with pytest.raises(ValueError):
        view[0]
    with pytest.raises(ValueError):
        bytes(view)
    with pytest.raises(ValueError, match="released"):
        rec.data
    with pytest.raises(ValueError, match="released"):
        memoryview(rec)
    rec.release()  # idempotent


def test_release_with_a_live_numpy_array_raises_and_the_record_stays_readable(pair):
    tx, rx = pair
    tx.send(np.arange(8, dtype=np.int64), timeout=1)
    rec = rx.receive(timeout=1)
    values = np.frombuffer(rec.data, dtype=np.int64)
    with pytest.raises(BufferError, match="still alive"):
        rec.release()
    assert list(values) == list(range(8))  # not released: still the record's bytes
    assert bytes(rec.data[:8]) == (0).to_bytes(8, "little")
    tx.send(b"next", timeout=1)
    with pytest.raises(RuntimeError, match="not released"):
        rx.receive(timeout=1)  # one record at a time
    del values
    rec.release()
    with rx.receive(timeout=1) as nxt:
        assert bytes(nxt.data) == b"next"


@pytest.mark.parametrize(
    "derive",
    [
        lambda rec: rec.data[2:],  # a slice shares .data's managed buffer
        lambda rec: memoryview(rec.data),
        lambda rec: memoryview(rec),  # exported by the record itself
        lambda rec: np.frombuffer(rec, dtype=np.uint8),
    ],
    ids=["slice", "memoryview-of-data", "memoryview-of-record", "numpy-of-record"],
)
def test_every_kind_of_view_holds_the_record(pair, derive):
    tx, rx = pair
    tx.send(b"abcdefgh", timeout=1)
    rec = rx.receive(timeout=1)
    view = derive(rec)
    with pytest.raises(BufferError):
        rec.release()
    assert bytes(view)[-2:] == b"gh"
    assert rx.stats()["consumer"]["records"] == 0  # its space was not given back
    del view
    rec.release()
    assert rx.stats()["consumer"]["records"] == 1


def test_a_slot_commits_only_without_views(pair):
    tx, rx = pair
    slot = tx.reserve(4, timeout=1)
    view = memoryview(slot)
    view[:] = b"ring"
    with pytest.raises(BufferError):
        tx.commit(slot)
    with pytest.raises(shmpipe.Timeout):
        rx.receive(timeout=0)  # nothing was published
    view.release()
    tx.commit(slot, type=9)
    with pytest.raises(ValueError, match="already committed"):
        tx.commit(slot)
    with rx.receive(timeout=1) as rec:
        assert (bytes(rec.data), rec.type) == (b"ring", 9)


def test_with_block_releases_and_iteration_releases_the_previous_record(pair):
    tx, rx = pair
    for word in (b"a", b"b", b"c"):
        tx.send(word, timeout=1)
    with rx.receive(timeout=1) as rec:
        assert bytes(rec.data) == b"a"
    with pytest.raises(ValueError):
        rec.data
    got = []
    tx.close()
    for rec in rx:
        got.append(bytes(rec.data))
    assert got == [b"b", b"c"]
    with pytest.raises(shmpipe.Closed) as closed:
        rx.receive(timeout=0)
    assert closed.value.status == "closed"


def test_timeouts(pair):
    tx, rx = pair
    with pytest.raises(shmpipe.Timeout) as t:
        rx.receive(timeout=0.05)
    assert isinstance(t.value, TimeoutError) and t.value.status == "timeout"
    assert "receive: timeout" in str(t.value)
    tx.send(bytes(4000), timeout=0)
    with pytest.raises(shmpipe.Timeout):
        tx.send(bytes(4000), timeout=0.05)  # the ring is full


def test_bad_arguments_raise_clear_errors(name, pair):
    tx, rx = pair
    with pytest.raises(ValueError, match="size"):
        tx.reserve(-1)
    with pytest.raises(shmpipe.Error) as too_large:
        tx.reserve(tx.max_payload + 1, timeout=0)
    assert too_large.value.status == "too_large"
    with pytest.raises(ValueError, match="timeout"):
        rx.receive(timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        rx.receive(timeout=float("nan"))
    with pytest.raises(TypeError):
        rx.receive(timeout="soon")
    with pytest.raises(ValueError, match="type"):
        tx.send(b"x", type=65536)
    with pytest.raises(TypeError, match="bytes-like"):
        tx.send("text is not bytes")
    with pytest.raises(TypeError, match="bytes-like"):
        tx.send(np.arange(10)[::2])  # not contiguous
    with pytest.raises(shmpipe.Error) as capacity:
        shmpipe.Producer.create(name + "-x", capacity=1000)
    assert capacity.value.errc == "invalid_argument" and "power of two" in str(capacity.value)
    with pytest.raises(ValueError, match="capacity"):
        shmpipe.Consumer.create(name + "-x", capacity=-4096)
    with pytest.raises(shmpipe.Error) as bad_name:
        shmpipe.Consumer.create("no/slashes")
    assert bad_name.value.errc == "invalid_name"
    with pytest.raises(ValueError, match="empty"):
        shmpipe.Consumer.create("")
    with pytest.raises(shmpipe.Error) as exists:
        shmpipe.Consumer.create(name)
    assert exists.value.errc == "segment_exists" and exists.value.segment == name
    with pytest.raises(shmpipe.Error) as missing:
        shmpipe.Consumer.open(name + "-missing", open_timeout=0.05)
    assert missing.value.errc == "segment_missing"
    with pytest.raises(shmpipe.Error) as taken:
        shmpipe.Producer.open(name)
    assert taken.value.errc == "role_taken"


def test_closed_objects_raise_closed(name):
    rx = shmpipe.Consumer.create(name, capacity=4096)
    tx = shmpipe.Producer.open(name, linger=0)
    tx.send(b"x", timeout=1)
    tx.close()
    tx.close()
    with pytest.raises(shmpipe.Closed):
        tx.send(b"y", timeout=1)
    rec = rx.receive(timeout=1)
    rx.close()  # releases the record in hand
    with pytest.raises(ValueError):
        rec.data
    with pytest.raises(shmpipe.Closed):
        rx.receive(timeout=0)
    assert not [e for e in os.listdir("/dev/shm") if e == name]

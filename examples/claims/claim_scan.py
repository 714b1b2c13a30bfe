#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""claim_scan.py: claim_scan in Python. Finds every occurrence of every pattern of a dictionary
in every document, through K claim_scanner processes (the C++ worker) fed over shmpipe sessions.

    claim_scan.py --patterns FILE --docs FILE --out FILE.tsv [--scanners K] [--batch-bytes N]
                  [--in-flight N] [--chunk-claims N] [--scanner PATH]

Same command line, output, exit statuses and messages as the C++ claim_scan (see README.md
beside it): patterns one per line (id = 0-based line number), documents one per line, the TSV
``doc_id pattern_id offset length`` sorted by doc_id, offset, length, pattern_id, byte for byte
what claim_scan writes; the summary on stderr. Exit status 0 done, 1 bad input or a failed scan,
2 usage, killed by SIGINT / SIGTERM / SIGHUP (after cleaning up) when stopped by one. The output
is staged in FILE.tsv.partial-XXXXXXXX and renamed when complete: every other ending leaves an
earlier FILE.tsv as it was, and no partial file, session or scanner behind.

How it differs from the C++ orchestrator, and why:
- One thread drives everything. claim_scan runs a thread per scanner because a C++ Supervisor
  blocks in receive(); here every Supervisor's readiness descriptor (ready_fd(), readable while
  receive(0) may make progress or supervision is due), the documents' pipe (when it is one) and
  a signal wake-up pipe go into one selector, and the loop sleeps in select() until one of them
  has something. No polling, no sleeps.
- The dictionary is compiled with Hyperscan through ctypes (Debian has no Python binding for
  it; libhs.so.5 is what claim_scanner links anyway), with the same call and flags, so the
  serialized database is the one claim_scan would send.
- Copies. A TextBatch is built once, when its documents are read: each document goes from the
  read buffer straight into the FlatBuffer builder's vector (one copy, as claim_scan copies
  each into its batch), and request() copies the finished buffer into the ring (the one copy
  into shared memory; the builder's bytes are passed as a view, not through Output(), which
  would copy them again). The same finished buffer is sent again after a scanner dies. A
  ClaimBatch is read where it lies in the ring (numpy views from the generated ...AsNumpy()),
  and its four columns are copied out once: the message must be released before the next
  receive(), and its claims wait for the in-order merge; the checks run on that private copy,
  which a scanner cannot rewrite after they ran (claim_scan reads a private copy too).
- Python has no FlatBuffers verifier: a message that does not parse raises inside the reader
  (Python checks every index), and that is reported as an invalid answer, like a failed
  verification in C++.
"""

import collections
import ctypes
import errno
import os
import secrets
import selectors
import signal
import stat
import sys
import tempfile
import time

PROGRAM = "claim_scan.py"
USAGE = (
    "claim_scan.py --patterns FILE --docs FILE --out FILE.tsv [--scanners K] "
    "[--batch-bytes N] [--in-flight N] [--chunk-claims N] [--scanner PATH]"
)

# A stop signal before anything needs cleaning up kills at once (the default action): the
# dictionary compile runs inside one ctypes call, during which a Python handler could not run.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
for _s in STOP_SIGNALS:
    signal.signal(_s, signal.SIG_DFL)

try:
    import flatbuffers
    import numpy as np

    import shmpipe
    from shmpipe.schema import ClaimBatch as fb_claim_batch
    from shmpipe.schema import Claims as fb_claims
    from shmpipe.schema import ClaimsBody as fb_claims_body
    from shmpipe.schema import Control as fb_control
    from shmpipe.schema import Envelope as fb_envelope
    from shmpipe.schema import Error as fb_error
    from shmpipe.schema import PatternSet as fb_pattern_set
    from shmpipe.schema import PatternSetLoaded as fb_pattern_set_loaded
    from shmpipe.schema import StringColumn as fb_string_column
    from shmpipe.schema import TextBatch as fb_text_batch
except ImportError as _e:
    sys.stderr.write(
        f"{PROGRAM}: {_e}: needs Debian's python3-numpy and python3-flatbuffers, and the shmpipe "
        "package (built with SHMPIPE_BUILD_PYTHON: PYTHONPATH=<build>/python, or installed)\n"
    )
    sys.exit(1)

Body = fb_claims_body.ClaimsBody
CLAIMS_ID = b"SPCL"  # schemas/claims.fbs file_identifier
ENVELOPE_ID = b"SPEV"  # schemas/envelope.fbs

# protocol.hpp
TEXT_BATCH_BYTES_PER_DOCUMENT = 12  # a document's id (8) and offset (4)


def text_batch_bytes(docs, nbytes):
    """Ring bytes a TextBatch of `docs` documents and `nbytes` text bytes needs."""
    return 512 + docs * TEXT_BATCH_BYTES_PER_DOCUMENT + nbytes


UINT32_MAX = 0xFFFFFFFF


class UsageError(Exception):
    """A bad command line: exit status 2."""


class Failure(Exception):
    """Bad input or a failed scan, with a message for the user: exit status 1."""


class Interrupted(Exception):
    """A stop signal arrived."""

    def __init__(self, sig):
        super().__init__("interrupted by a signal")
        self.signal = sig


def usage_fail(why):
    raise UsageError(f"{PROGRAM}: {why}\nusage: {USAGE}")


# ---- stop signals ------------------------------------------------------------------------

_stop = {"signal": 0}
_wakeup = {"read": -1}


def _on_stop_signal(sig, _frame):
    # The first signal wins; a second Ctrl-C while cleaning up changes nothing (cleanup is
    # bounded: a Supervisor waits a second for its scanner, then kills it).
    if _stop["signal"] == 0:
        _stop["signal"] = sig


def defer_stop_signals():
    """From now on a stop signal only sets the flag throw_if_stopped() reports, and writes a
    byte to the wake-up pipe that the main loop's selector watches (so a sleeping select()
    returns at once). Called before anything is created that the default action would leave
    behind: a session, a scanner, a partial file."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _wakeup["read"] = r
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    for s in STOP_SIGNALS:
        signal.signal(s, _on_stop_signal)


def throw_if_stopped():
    if _stop["signal"]:
        raise Interrupted(_stop["signal"])


# ---- command line ------------------------------------------------------------------------


class Args:
    def __init__(self):
        self.patterns = ""
        self.docs = ""
        self.out = ""
        self.scanner = ""
        self.scanners = 1
        self.batch_bytes = 256 << 10
        self.in_flight = 4
        self.chunk_claims = 0


def number(text, what, low, high):
    """`text` as a number in [low, high] (digits only, as std::from_chars reads them)."""
    if text.isascii() and text.isdigit():
        value = int(text)
        if low <= value <= high:
            return value
    usage_fail(f"{what} must be a number from {low} to {high}, not '{text}'")


def parse_args(argv):
    args = Args()
    for i in range(1, len(argv), 2):
        flag = argv[i]
        if i + 1 >= len(argv):
            usage_fail(f"missing value after {flag}")
        value = argv[i + 1]
        if flag == "--patterns":
            args.patterns = value
        elif flag == "--docs":
            args.docs = value
        elif flag == "--out":
            args.out = value
        elif flag == "--scanners":
            args.scanners = number(value, "--scanners", 1, 64)
        elif flag == "--batch-bytes":
            args.batch_bytes = number(value, "--batch-bytes", 1, 1 << 28)
        elif flag == "--in-flight":
            args.in_flight = number(value, "--in-flight", 1, 64)
        elif flag == "--chunk-claims":
            args.chunk_claims = number(value, "--chunk-claims", 1, 1 << 30)
        elif flag == "--scanner":
            args.scanner = value
        else:
            usage_fail(f"unknown option {flag}")
    if not args.patterns or not args.docs or not args.out:
        usage_fail("--patterns, --docs and --out are required")
    if not args.scanner:  # installed side by side
        args.scanner = os.path.join(os.path.dirname(os.path.realpath(__file__)), "claim_scanner")
    return args


def refuse_overwriting_an_input(args):
    """An --out that names an input (same device and inode: symlinks, hard links and other
    spellings too) is a usage error: renaming the output over it would replace the input."""
    for path in (args.docs, args.patterns):
        try:
            same = os.path.samefile(args.out, path)
        except OSError:
            same = False
        if same:
            usage_fail(
                f"--out '{args.out}' is the input '{path}': it would be replaced by the results"
            )


def strerror(e):
    return e.strerror or os.strerror(e.errno or 0)


# ---- the dictionary ----------------------------------------------------------------------


class _CompileError(ctypes.Structure):
    _fields_ = [("message", ctypes.c_char_p), ("expression", ctypes.c_int)]


HS_SUCCESS = 0
HS_MODE_BLOCK = 1


def _hyperscan():
    """libhs (Debian's libhyperscan5, which claim_scanner links too) through ctypes."""
    try:
        hs = ctypes.CDLL("libhs.so.5")
        libc = ctypes.CDLL(None)
    except OSError as e:
        raise Failure(f"cannot load Hyperscan (libhs.so.5, package libhyperscan5): {e}") from None
    hs.hs_compile_lit_multi.argtypes = [
        ctypes.c_void_p,  # const char *const *expressions
        ctypes.c_void_p,  # const unsigned *flags
        ctypes.c_void_p,  # const unsigned *ids
        ctypes.c_void_p,  # const size_t *lens
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,  # const hs_platform_info_t *
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.POINTER(_CompileError)),
    ]
    hs.hs_compile_lit_multi.restype = ctypes.c_int
    hs.hs_serialize_database.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    hs.hs_serialize_database.restype = ctypes.c_int
    hs.hs_free_database.argtypes = [ctypes.c_void_p]
    hs.hs_free_compile_error.argtypes = [ctypes.POINTER(_CompileError)]
    libc.free.argtypes = [ctypes.c_void_p]
    return hs, libc


class Dictionary:
    """The patterns (views into the file's bytes by start and length) and the serialized
    Hyperscan database, as claim_scan's Dictionary::compile makes them."""

    @staticmethod
    def read(path):
        """The pattern file's bytes; Failure naming it when it cannot be read."""
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise Failure(f"cannot read '{path}': {strerror(e)}") from None

    def __init__(self, data, path):
        self.data = data
        self.bytes = np.frombuffer(data, dtype=np.uint8)
        # Lines: only '\n' separates; a final '\n' ends the last line.
        newlines = np.flatnonzero(self.bytes == 10)
        starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
        ends = np.concatenate((newlines, [len(data)])).astype(np.int64)
        keep = starts < len(data)
        self.starts = starts[keep]
        lengths = ends[keep] - self.starts
        self.count = len(self.starts)
        if self.count == 0:
            raise Failure(f"the dictionary '{path}' is empty: no patterns")
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            i = int(empty[0])
            raise Failure(
                f"'{path}' line {i + 1} (pattern id {i}) is empty: an empty pattern would "
                "match everywhere"
            )
        long = np.flatnonzero(lengths > UINT32_MAX)
        if long.size:
            raise Failure(f"'{path}' line {int(long[0]) + 1} is longer than 4 GiB")
        if self.count > UINT32_MAX:
            raise Failure(f"'{path}': more than 2^32 - 1 patterns")
        self.lengths = lengths.astype(np.uint32)
        self.longest = int(self.lengths.max())
        self.database = self._compile(path)

    def _compile(self, path):
        """hs_compile_lit_multi (block mode, no start of match) and hs_serialize_database."""
        hs, libc = _hyperscan()
        base = self.bytes.ctypes.data  # the file's bytes, alive as long as self.data
        expressions = (self.starts + base).astype(np.uint64)
        lens = self.lengths.astype(np.uint64)  # size_t
        ids = np.arange(self.count, dtype=np.uint32)
        db = ctypes.c_void_p()
        error = ctypes.POINTER(_CompileError)()
        status = hs.hs_compile_lit_multi(
            expressions.ctypes.data,
            None,
            ids.ctypes.data,
            lens.ctypes.data,
            self.count,
            HS_MODE_BLOCK,
            None,
            ctypes.byref(db),
            ctypes.byref(error),
        )
        if status != HS_SUCCESS:
            why, which = "unknown", -1
            if error:
                if error.contents.message:
                    why = error.contents.message.decode("utf-8", "replace")
                which = error.contents.expression
                hs.hs_free_compile_error(error)
            if which >= 0:
                raise Failure(
                    f"'{path}' line {which + 1} (pattern id {which}, "
                    f"{int(self.lengths[which])} bytes): Hyperscan refuses it: {why}"
                )
            raise Failure(f"'{path}': Hyperscan refused the dictionary: {why}")
        try:
            out = ctypes.c_void_p()
            size = ctypes.c_size_t()
            if hs.hs_serialize_database(db, ctypes.byref(out), ctypes.byref(size)) != HS_SUCCESS:
                raise Failure(f"'{path}': hs_serialize_database failed")
            try:
                return ctypes.string_at(out.value, size.value)
            finally:
                libc.free(out)  # Hyperscan's default allocator is malloc
        finally:
            hs.hs_free_database(db)

    def message(self):
        """The PatternSet request: the database and the lengths, finished, as a view of the
        builder's bytes (request() copies it into the ring)."""
        b = flatbuffers.Builder(len(self.database) + 4 * self.count + 1024)
        database = b.CreateByteVector(self.database)
        lengths = b.CreateNumpyVector(self.lengths)
        fb_pattern_set.PatternSetStart(b)
        fb_pattern_set.PatternSetAddPatternCount(b, self.count)
        fb_pattern_set.PatternSetAddDatabase(b, database)
        fb_pattern_set.PatternSetAddPatternLength(b, lengths)
        body = fb_pattern_set.PatternSetEnd(b)
        return finish_claims(b, Body.PatternSet, body)


def finish_claims(b, body_type, body):
    fb_claims.ClaimsStart(b)
    fb_claims.ClaimsAddBodyType(b, body_type)
    fb_claims.ClaimsAddBody(b, body)
    b.Finish(fb_claims.ClaimsEnd(b), file_identifier=CLAIMS_ID)
    return memoryview(b.Bytes)[b.Head() :]


# ---- the documents -----------------------------------------------------------------------


class Batch:
    """A TextBatch as read, numbered in document order, already built: `message` is the
    finished FlatBuffer (sent, and sent again after a scanner dies), `text` the documents'
    bytes inside it and `offsets` their n + 1 offsets (kept to check the claims against)."""

    __slots__ = ("index", "first_doc", "ndocs", "piece_offset", "piece_length", "message", "text",
                 "offsets")

    def describe(self):
        if self.piece_length:
            return (
                f"batch {self.index} (document {self.first_doc}, line {self.first_doc + 1}, "
                f"bytes {self.piece_offset}..{self.piece_offset + self.piece_length - 1})"
            )
        last = self.first_doc + self.ndocs - 1
        return (
            f"batch {self.index} (documents {self.first_doc}..{last}, lines "
            f"{self.first_doc + 1}..{last + 1})"
        )


def build_batch(index, first_doc, source, spans, piece_offset=0, piece_length=0):
    """A Batch of the documents at `spans` ((start, size) in `source`, a memoryview of the
    read buffer): each document is copied once, from the read buffer into the builder."""
    total = sum(size for _, size in spans)
    n = len(spans)
    offsets = np.zeros(n + 1, dtype=np.uint32)
    offsets[1:] = np.cumsum([size for _, size in spans])
    b = flatbuffers.Builder(text_batch_bytes(n, total) + 64)
    # The text vector, filled in place: CreateByteVector takes one bytes object, which would
    # cost joining the documents first.
    b.StartVector(1, total, 1)
    b.head = b.Head() - total
    at = b.Head()
    with memoryview(b.Bytes) as dst:
        for start, size in spans:
            dst[at : at + size] = source[start : start + size]
            at += size
    text = b.EndVector()
    text_from_end = len(b.Bytes) - b.Head() - 4  # the data, after the length field
    offset_column = b.CreateNumpyVector(offsets)
    ids = b.CreateNumpyVector(np.arange(first_doc, first_doc + n, dtype=np.uint64))
    fb_string_column.StringColumnStart(b)
    fb_string_column.StringColumnAddOffsets(b, offset_column)
    fb_string_column.StringColumnAddBytes(b, text)
    column = fb_string_column.StringColumnEnd(b)
    fb_text_batch.TextBatchStart(b)
    fb_text_batch.TextBatchAddBatchId(b, index)
    fb_text_batch.TextBatchAddDocIds(b, ids)
    fb_text_batch.TextBatchAddText(b, column)
    fb_text_batch.TextBatchAddPieceOffset(b, piece_offset)
    fb_text_batch.TextBatchAddPieceLength(b, piece_length)
    batch = Batch()
    batch.message = finish_claims(b, Body.TextBatch, fb_text_batch.TextBatchEnd(b))
    start = len(b.Bytes) - text_from_end  # positions from the end survive the builder growing
    batch.text = memoryview(b.Bytes)[start : start + total]
    batch.index = index
    batch.first_doc = first_doc
    batch.ndocs = n
    batch.piece_offset = piece_offset
    batch.piece_length = piece_length
    batch.offsets = offsets
    return batch


NOT_READY = object()  # the documents are a pipe that has nothing for now


class DocumentReader:
    """claim_scan's DocumentReader (inputs.hpp), cut for cut: reads the documents front to back,
    64 KiB a read, and cuts them into batches; a document longer than a batch goes in pieces.
    Holds at most one batch and its look-ahead (plus one read). A pipe is read without
    blocking: next() returns NOT_READY when the first document of the next batch has not come
    yet (nothing is consumed then; the caller waits on fd for it and asks again)."""

    READ = 64 << 10

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise Failure(f"cannot read '{path}': {strerror(e)}") from None
        st = os.fstat(self.fd)
        if stat.S_ISDIR(st.st_mode):
            os.close(self.fd)
            raise Failure(f"cannot read '{path}': {os.strerror(errno.EISDIR)}")
        # Regular files and block devices always have their bytes ready; anything else (a
        # pipe, a terminal, a socket) is read without blocking and waited on in the selector.
        self.pollable = not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode))
        if stat.S_ISREG(st.st_mode):
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        if self.pollable:
            os.set_blocking(self.fd, False)
        self.buffer = bytearray()
        self.head = 0  # buffer[head:tail] is read and not yet consumed
        self.tail = 0
        self.eof = False
        self.blocked = False  # the last fill() stopped because a pipe had nothing more
        self.next_doc = 0  # the id of the document at head
        self.piece_done = 0  # in_piece: bytes of that document that went in pieces
        self.in_piece = False
        self.next_index = 0
        self.docs = 0  # read so far
        self.bytes = 0  # their text bytes

    def not_pollable(self):
        """The selector refused the descriptor (epoll takes no /dev/null, say): read it
        blocking from now on."""
        self.pollable = False
        os.set_blocking(self.fd, True)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def next(self, cut_bytes, lookahead):
        """The next Batch, None after the last document, or NOT_READY."""
        if self.in_piece:
            return self._next_piece(cut_bytes, lookahead)
        spans = []
        taken = 0  # buffer bytes (from head) the batch holds, newlines included
        cost = 0
        while True:
            first = not spans
            if not first and cost + TEXT_BATCH_BYTES_PER_DOCUMENT > cut_bytes:
                break  # not even an empty document fits
            room = cut_bytes if first else cut_bytes - cost - TEXT_BATCH_BYTES_PER_DOCUMENT
            # Only the first document is waited for: a batch of what a slow pipe has given so
            # far goes now rather than when it has given a batch's worth.
            available = self._fill(taken + room + 1) - taken
            if available == 0 and (self.eof or not first):
                break  # the end of the file
            begin = self.head + taken
            newline = self.buffer.find(b"\n", begin, begin + min(available, room + 1))
            if newline >= 0:
                size = newline - begin
            elif self.eof and available <= room:
                size = available  # the last document, without a final newline
            elif first and available > room:  # longer than a batch: it goes in pieces
                self.in_piece = True
                return self._next_piece(cut_bytes, lookahead)
            elif first:
                return NOT_READY  # a pipe that has not given the whole document yet
            else:
                break  # it starts the next batch
            spans.append((begin, size))
            cost += size + TEXT_BATCH_BYTES_PER_DOCUMENT
            taken += size + (1 if newline >= 0 else 0)
        if not spans:
            return None
        with memoryview(self.buffer) as source:
            batch = build_batch(self.next_index, self.next_doc, source, spans)
        self.head += taken
        self.next_index += 1
        self.next_doc += len(spans)
        self.docs += len(spans)
        self.bytes += int(batch.offsets[-1])
        return batch

    def _next_piece(self, cut_bytes, lookahead):
        """The next piece of the document at head, of which piece_done bytes went already."""
        span = cut_bytes + lookahead  # the most text a piece has
        available = self._fill(span + 1)
        newline = self.buffer.find(b"\n", self.head, self.head + min(available, span + 1))
        rest = None  # the rest of the document, when it ends within span bytes
        if newline >= 0:
            rest = newline - self.head
        elif self.eof and available <= span:
            rest = available
        elif available <= span:
            return NOT_READY
        own = min(rest, cut_bytes) if rest is not None else cut_bytes
        text = min(rest, span) if rest is not None else span
        if self.piece_done + text > UINT32_MAX:
            raise Failure(
                f"'{self.path}' line {self.next_doc + 1} (document {self.next_doc}) is longer "
                "than 4 GiB - 1 bytes: claim offsets are 32-bit"
            )
        with memoryview(self.buffer) as source:
            batch = build_batch(
                self.next_index, self.next_doc, source, [(self.head, text)], self.piece_done, own
            )
        self.next_index += 1
        self.bytes += own
        if rest is not None and rest <= cut_bytes:  # the last piece
            self.head += rest + (1 if newline >= 0 else 0)
            self.in_piece = False
            self.piece_done = 0
            self.next_doc += 1
            self.docs += 1
        else:
            self.head += own
            self.piece_done += own
        return batch

    def _fill(self, need):
        """Reads until `need` unread bytes are buffered, the file ends, or a pipe has nothing
        more for now; returns the unread bytes buffered. The buffer grows to the largest need
        (plus one read), never with the file."""
        self.blocked = False
        while self.tail - self.head < need and not self.eof:
            if len(self.buffer) - self.head < need + self.READ:  # make room
                unread = self.tail - self.head
                size = max(len(self.buffer), need + self.READ)
                if size == len(self.buffer):
                    self.buffer[:unread] = self.buffer[self.head : self.tail]
                else:
                    grown = bytearray(size)
                    grown[:unread] = self.buffer[self.head : self.tail]
                    self.buffer = grown
                self.head, self.tail = 0, unread
            try:
                with memoryview(self.buffer) as free:
                    n = os.readv(self.fd, [free[self.tail :]])
            except BlockingIOError:
                self.blocked = True
                break
            except OSError as e:
                raise Failure(f"cannot read '{self.path}': {strerror(e)}") from None
            self.eof = n == 0
            self.tail += n
        return self.tail - self.head


# ---- the scanners ------------------------------------------------------------------------


def error_text(data):
    """The message of an Envelope Error, or what the envelope was instead."""
    try:
        envelope = fb_envelope.Envelope.GetRootAs(data, 0)
        if envelope.BodyType() != fb_control.Control.Error:
            return "an unexpected message"
        table = envelope.Body()
        error = fb_error.Error()
        error.Init(table.Bytes, table.Pos)
        message = error.Message()
        return message.decode("utf-8", "replace") if message is not None else (
            "an error without a message")
    except Exception:  # noqa: BLE001 - peer data: any parse failure is "not an envelope"
        return "an unexpected message"


def identifier(data):
    return bytes(data[4:8]) if len(data) >= 8 else b""


def read_loaded_count(data):
    """PatternSetLoaded.pattern_count of a Claims message, or None."""
    try:
        if identifier(data) != CLAIMS_ID:
            return None
        root = fb_claims.Claims.GetRootAs(data, 0)
        if root.BodyType() != Body.PatternSetLoaded:
            return None
        table = root.Body()
        loaded = fb_pattern_set_loaded.PatternSetLoaded()
        loaded.Init(table.Bytes, table.Pos)
        return loaded.PatternCount()
    except Exception:  # noqa: BLE001 - peer data
        return None


_COLUMN_TYPES = (np.uint64, np.uint32, np.uint32, np.uint32)


def read_claim_batch(data):
    """(batch_id, doc_id, pattern_id, offset, length, scan_ns) of a ClaimBatch, the columns
    read in place (numpy views of the ring) and copied out once; None when the message is not
    a ClaimBatch that parses. No view of `data` outlives the call."""
    try:
        if identifier(data) != CLAIMS_ID:
            return None
        root = fb_claims.Claims.GetRootAs(data, 0)
        if root.BodyType() != Body.ClaimBatch:
            return None
        table = root.Body()
        claims = fb_claim_batch.ClaimBatch()
        claims.Init(table.Bytes, table.Pos)
        columns = []
        for get, dtype in zip(
            (claims.DocIdAsNumpy, claims.PatternIdAsNumpy, claims.OffsetAsNumpy,
             claims.LengthAsNumpy),
            _COLUMN_TYPES,
        ):
            view = get()  # 0 when the vector is absent
            columns.append(np.array(view, dtype=dtype) if not isinstance(view, int)
                           else np.empty(0, dtype=dtype))
        return (claims.BatchId(), *columns, claims.ScanNs())
    except Exception:  # noqa: BLE001 - peer data: a message that does not parse
        return None


def differs(text, patterns, rows, text_at, pattern_at, lengths):
    """Per claim: whether text[text_at:][:length] differs from patterns[pattern_at:][:length].
    Only `rows` are compared, vectorized, about a megabyte of claimed text at a time."""
    result = np.zeros(len(rows), dtype=bool)
    which = np.flatnonzero(rows)
    ends = np.cumsum(lengths[which])  # where each compared claim ends in the flat index
    begin = 0
    while begin < which.size:
        flat_begin = ends[begin] - lengths[which[begin]]
        stop = max(int(np.searchsorted(ends, flat_begin + (1 << 20), "right")), begin + 1)
        now = which[begin:stop]
        lens = lengths[now]
        starts = np.cumsum(lens) - lens
        within = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(starts, lens)
        t = text[np.repeat(text_at[now], lens) + within]
        q = patterns[np.repeat(pattern_at[now], lens) + within]
        result[now] = np.logical_or.reduceat(t != q, starts)  # lengths are >= 1
        begin = stop
    return result


def start_supervisor(prefix, **options):
    """A Supervisor on a session named `prefix` + 16 random hex digits (a name nobody can
    create first); a name that exists already is tried again with new digits a few times."""
    for attempt in range(1, 9):
        try:
            return shmpipe.Supervisor(prefix + secrets.token_hex(8), **options)
        except shmpipe.Error as e:
            # 64 random bits do not collide by chance: 8 collisions in a row are not bad luck.
            if getattr(e, "errc", None) != "segment_exists" or attempt == 8:
                raise
    raise AssertionError("unreachable")


class Lane:
    """One scanner process, its Supervisor and the batches it has."""

    def __init__(self, pipeline, index):
        self.p = pipeline
        self.index = index
        self.name = f"scanner {index}"
        self.requests = {}  # request id -> (batch, the scanner process it went to)
        self.partial = {}  # batch index -> its claims so far, as lists of columns
        self.last = {}  # batch index -> its last claim so far (doc, offset, length, pattern)
        self.retry = []  # batches to send again, in document order
        self.deaths = {}  # batch index -> scanners that died on it
        self.dictionary_request = 0  # its answer is pending
        self.dictionary_worker = 0  # the scanner process the dictionary went to
        self.has_dictionary = False  # it went to the current process
        self.dictionary_deaths = 0
        self.last_death = None  # the scanner process whose losses are being reported
        self.culprit = 0  # the request it was working on when it died
        self.scanner_ns = 0
        self.last_progress = time.monotonic()
        options = self.p.options
        command = [options.scanner]
        if options.chunk_claims:
            command += ["--chunk-claims", str(options.chunk_claims)]

        def on_event(event):
            if event.kind != "started":
                log(f"{self.name} (pid {event.pid}) {event.kind}: {event.detail}")

        self.sup = start_supervisor(
            f"{self.p.session_prefix}-{index}-",
            command=command,
            capacity=self.p.ring_bytes,
            health_interval=1.0,
            health_timeout=30.0,  # a batch of long documents takes a while
            on_worker_loss="fail",  # resent from the batches we keep: lost()
            on_event=on_event,
        )
        try:
            self.fd = self.sup.ready_fd()
            if not self.send_dictionary():
                raise Failure(f"{self.name}: cannot send the dictionary")
        except BaseException:
            self.sup.close()
            raise

    def close(self):
        self.sup.close()

    def busy(self):
        return bool(self.requests or self.retry or self.dictionary_request)

    def send_dictionary(self):
        """Sends the dictionary to the current scanner (starting one if none runs)."""
        try:
            rid = self.sup.request(self.p.dictionary_message, timeout=30.0)
        except shmpipe.Error:
            return False  # the scanner is down: receive() restarts it or says it gave up
        self.dictionary_request = rid
        self.dictionary_worker = self.sup.restarts
        self.has_dictionary = True
        return True

    def fill(self):
        """Sends batches until in_flight are out."""
        while len(self.requests) < self.p.options.in_flight:
            if self.retry:
                batch = self.retry.pop(0)
            else:
                batch = self.p.take_batch()
            if batch is None:
                return
            # A new scanner process knows no dictionary: it gets one before its first batch.
            # It serves in order, so the batch needs no wait for the answer.
            fresh = self.sup.worker is None or self.sup.restarts != self.dictionary_worker
            if (fresh or not self.has_dictionary) and not self.send_dictionary():
                self.retry.insert(0, batch)
                return
            try:
                rid = self.sup.request(batch.message, timeout=30.0)
            except shmpipe.Error:
                self.retry.insert(0, batch)
                return
            self.requests[rid] = (batch, self.sup.restarts)

    def drain(self):
        """Everything receive(0) has now (which re-arms the readiness descriptor)."""
        while True:
            try:
                incoming = self.sup.receive(0)
            except shmpipe.Timeout:
                return
            except shmpipe.Error as e:
                status = getattr(e, "status", None)
                if status == "peer_dead":
                    raise Failure(f"{self.name}: the scanner could not be restarted") from None
                if status == "invalid_message":
                    raise Failure(
                        f"{self.name}: a message that is not a valid session record or FlatBuffer"
                    ) from None
                raise Failure(f"{self.name}: {e}") from None
            try:
                why = self.handle(incoming)
            finally:
                incoming.release()
            self.last_progress = time.monotonic()
            if why:
                raise Failure(why)

    def handle(self, incoming):
        """One answer (or news of a lost request); a non-empty result ends the run."""
        rid = incoming.request_id
        if incoming.status != "ok":
            if incoming.status == "peer_dead":
                return self.lost(rid)
            return f"{self.name}: {incoming.status} for request {rid}"
        if rid == 0:  # no request of ours: a HealthReply that came after its deadline
            return ""
        data = incoming.data
        if rid == self.dictionary_request:
            self.dictionary_request = 0
            self.dictionary_deaths = 0  # loaded: earlier deaths were not the dictionary's fault
            if identifier(data) == ENVELOPE_ID:
                return f"{self.name} refused the dictionary: {error_text(data)}"
            if read_loaded_count(data) != self.p.dictionary.count:
                return f"{self.name}: an unexpected answer to the dictionary"
            return ""
        request = self.requests.get(rid)
        if request is None:
            return f"{self.name}: an answer to request {rid}, which is not pending"
        batch = request[0]
        if identifier(data) == ENVELOPE_ID:
            return f"{self.name} failed on {batch.describe()}: {error_text(data)}"
        claims = read_claim_batch(data)
        del data
        if claims is None:
            return f"{self.name}: an answer to {batch.describe()} that is not a valid ClaimBatch"
        why = self.take(batch, *claims[:5])
        if why:
            return f"{self.name}: invalid claims for {batch.describe()}: {why}"
        if incoming.final:
            self.scanner_ns += claims[5]
            parts = self.partial.pop(batch.index, [])
            self.last.pop(batch.index, None)
            self.p.deliver(batch.index, parts)
            del self.requests[rid]  # and the batch's text with it
        return ""

    def lost(self, rid):
        """A request whose scanner died before answering it in full. The scanner serves in
        order, so of the requests one death loses, the oldest (the lowest id: ids grow in
        sending order) is the one it was working on: that one counts a death; the others were
        only queued behind it. The Supervisor reports a death's losses together but in no
        particular order, so the culprit is picked when the first of them comes."""
        dictionary = rid == self.dictionary_request
        if not dictionary and rid not in self.requests:
            return ""
        worker = self.dictionary_worker if dictionary else self.requests[rid][1]
        if worker != self.last_death:  # the first loss of this death
            self.last_death = worker
            lost = [r for r, (_, w) in self.requests.items() if w == worker]
            if self.dictionary_request and self.dictionary_worker == worker:
                lost.append(self.dictionary_request)
            self.culprit = min(lost)
        culprit = rid == self.culprit
        if dictionary:
            self.dictionary_request = 0
            self.has_dictionary = False
            if culprit:
                self.dictionary_deaths += 1
                if self.dictionary_deaths >= 3:
                    return f"{self.name}: the scanner died loading the dictionary three times"
            return ""
        batch = self.requests.pop(rid)[0]
        # Claims of a dead scanner's unfinished batch: all come again.
        self.partial.pop(batch.index, None)
        self.last.pop(batch.index, None)
        if culprit:
            self.deaths[batch.index] = self.deaths.get(batch.index, 0) + 1
            if self.deaths[batch.index] >= 3:
                return f"{self.name}: scanners died three times on {batch.describe()}"
        self.retry.append(batch)
        self.retry.sort(key=lambda b: b.index)  # in document order again
        return ""

    def take(self, batch, batch_id, d, p, o, l):
        """Checks one ClaimBatch against the batch's text and the dictionary, as claim_scan
        does claim by claim (vectorized: the first claim that fails, with the first check it
        fails, gives the message), and keeps it."""
        if batch_id != batch.index:
            return f"batch_id {batch_id}"
        n = len(d)
        if len(p) != n or len(o) != n or len(l) != n:
            return "columns of different lengths"
        if n == 0:
            return ""
        dic = self.p.dictionary
        first = np.uint64(batch.first_doc)
        bad_doc = (d < first) | (d - first >= np.uint64(batch.ndocs))
        known = p < dic.count
        pattern = np.where(known, p, 0)
        bad_pattern = ~known | (l != dic.lengths[pattern])
        o64 = o.astype(np.int64)
        l64 = l.astype(np.int64)
        base = batch.piece_offset
        if batch.piece_length:
            bad_piece = (o64 < base) | (o64 - base >= batch.piece_length)
        else:
            bad_piece = np.zeros(n, dtype=bool)
        # A piece's text starts piece_offset bytes into its document; whole documents: 0.
        doc = np.where(bad_doc, 0, d - first).astype(np.int64)
        doc_start = batch.offsets[doc].astype(np.int64)
        doc_size = batch.offsets[doc + 1].astype(np.int64) - doc_start
        at = o64 - base
        bad_text = (at < 0) | (at + l64 > doc_size)
        checked = ~(bad_doc | bad_pattern | bad_piece | bad_text)
        bad_text |= differs(np.frombuffer(batch.text, dtype=np.uint8), dic.bytes, checked,
                            doc_start + at, dic.starts[pattern], l64)
        # Strictly increasing (doc, offset, length, pattern), after this batch's earlier claims.
        keys = (d, o, l, p)
        previous = self.last.get(batch.index)
        before = [np.empty(n, dtype=k.dtype) for k in keys]
        for k, prev in zip(range(4), before):
            prev[1:] = keys[k][:-1]
            prev[0] = previous[k] if previous is not None else 0
        greater = np.zeros(n, dtype=bool)
        equal = np.ones(n, dtype=bool)
        for k in range(4):
            greater |= equal & (keys[k] > before[k])
            equal &= keys[k] == before[k]
        if previous is None:
            greater[0] = True
        bad_order = ~greater
        bad = bad_doc | bad_pattern | bad_piece | bad_text | bad_order
        if bad.any():
            i = int(np.argmax(bad))
            if bad_doc[i]:
                return f"document {d[i]} is not in the batch"
            if bad_pattern[i]:
                return f"pattern {p[i]} with length {l[i]}"
            if bad_piece[i]:
                return (
                    f"document {d[i]}: a claim at byte {o[i]}, outside the piece's bytes "
                    f"{base}..{base + batch.piece_length - 1}"
                )
            if bad_text[i]:
                return f"document {d[i]} does not hold pattern {p[i]} at byte {o[i]}"
            return f"claims out of order or repeated at document {d[i]}"
        self.partial.setdefault(batch.index, []).append((d, p, o, l))
        self.last[batch.index] = (d[-1], o[-1], l[-1], p[-1])
        return ""


class Pipeline:
    """K scanners fed from one thread; their claims handed to a sink in document order."""

    def __init__(self, dictionary, reader, options):
        self.dictionary = dictionary
        self.reader = reader
        self.options = options
        self.session_prefix = f"shmpipe-claims-{os.getpid()}"
        self.lookahead = dictionary.longest - 1
        self.window = 2 * options.scanners * options.in_flight  # batches alive at once
        self.ring_bytes = self._ring_bytes()
        self.dictionary_message = dictionary.message()
        self.queue = collections.deque()  # read, not yet taken by a lane
        self.read_all = False
        self.batch_count = 0
        self.delivered = 0
        self.results = {}  # batch index -> its claims (lists of columns), waiting for the merge
        self.lanes = []
        self.selector = selectors.DefaultSelector()
        self.docs_registered = False
        start = time.monotonic()
        try:
            for k in range(options.scanners):
                lane = Lane(self, k)
                self.lanes.append(lane)
                self.selector.register(lane.fd, selectors.EVENT_READ, lane)
            self.selector.register(_wakeup["read"], selectors.EVENT_READ, None)
            self._await_dictionaries()
        except BaseException:
            self.close()
            raise
        self.setup_seconds = time.monotonic() - start

    def _ring_bytes(self):
        """Each ring holds the dictionary, and in_flight + 1 of the largest batch: a piece,
        batch_bytes of its own and the look-ahead."""
        largest = text_batch_bytes(1, self.options.batch_bytes + self.lookahead)
        dictionary = len(self.dictionary.database) + 4 * self.dictionary.count + 1024
        need = max(1 << 22, dictionary, (self.options.in_flight + 1) * largest)
        if need > 1 << 31:  # FlatBuffers' 2 GiB limit
            raise Failure(
                f"a batch or the dictionary needs a ring of {need} bytes, more than the 2 GiB a "
                "FlatBuffer may span: lower --batch-bytes or --in-flight"
            )
        ring = 4096
        while ring < need:
            ring <<= 1
        return ring

    def _await_dictionaries(self):
        """Waits for every scanner's answer to the dictionary; Failure if one refuses it."""
        until = time.monotonic() + 120
        while any(lane.dictionary_request for lane in self.lanes):
            throw_if_stopped()
            left = until - time.monotonic()
            if left <= 0:
                lane = next(lane for lane in self.lanes if lane.dictionary_request)
                raise Failure(f"{lane.name}: no answer to the dictionary within 120 s")
            self._wait(left)

    def _wait(self, timeout):
        """Sleeps until a scanner, the documents or a signal has something (or `timeout`
        seconds), and takes in what the scanners have."""
        for key, _ in self.selector.select(timeout):
            if isinstance(key.data, Lane):
                key.data.drain()
            elif key.data is None:  # the signal wake-up pipe: throw_if_stopped() tells
                try:
                    while os.read(key.fd, 512):
                        pass
                except BlockingIOError:
                    pass

    def take_batch(self):
        return self.queue.popleft() if self.queue else None

    def deliver(self, index, parts):
        self.results[index] = parts

    def close(self):
        """Stops the scanners (a second each, then signals) and removes their sessions."""
        for lane in self.lanes:
            lane.close()
        self.selector.close()

    def run(self, sink):
        """Scans every document and hands each batch's claims to `sink` in order."""
        start = time.monotonic()
        report = {"claims": 0, "batches": 0}
        while True:
            throw_if_stopped()
            while self.delivered in self.results:
                parts = self.results.pop(self.delivered)
                count = sink(parts)
                report["claims"] += count
                self.delivered += 1
                report["batches"] = self.delivered
            if self.read_all and self.delivered >= self.batch_count:
                break
            waiting_for_docs = self._read()
            for lane in self.lanes:
                lane.fill()
            self._watch_documents(waiting_for_docs)
            now = time.monotonic()
            timeout = None
            for lane in self.lanes:
                if lane.busy():
                    left = lane.last_progress + 600 - now
                    if left <= 0:
                        raise Failure(f"{lane.name}: no answer for 10 minutes")
                    timeout = left if timeout is None else min(timeout, left)
                else:
                    lane.last_progress = now
            self._wait(timeout)
        # Scanning ends with the last claims delivered; shutting the scanners down (which
        # waits for the processes to exit) is not part of it.
        report["scan_seconds"] = time.monotonic() - start
        report["restarts"] = 0
        for lane in self.lanes:
            try:
                lane.sup.shutdown("done", 2.0)
            except shmpipe.Error:
                pass  # it is stopped either way
            report["restarts"] += lane.sup.restarts
        report["docs"] = self.reader.docs
        report["bytes"] = self.reader.bytes
        report["setup_seconds"] = self.setup_seconds
        return report

    def _read(self):
        """Reads batches while the window allows, handing them to the lanes as they come.
        True when the documents are a pipe that has nothing more for now."""
        while not self.read_all and self.reader.next_index < self.delivered + self.window:
            throw_if_stopped()
            batch = self.reader.next(self.options.batch_bytes, self.lookahead)
            if batch is NOT_READY:
                return True
            if batch is None:
                self.read_all = True
                self.batch_count = self.reader.next_index
                break
            self.queue.append(batch)
            for lane in self.lanes:
                if len(lane.requests) < self.options.in_flight:
                    lane.fill()
        return False

    def _watch_documents(self, waiting):
        """Puts the documents' pipe in the selector while the reader waits for it."""
        if waiting and not self.docs_registered:
            try:
                self.selector.register(self.reader.fd, selectors.EVENT_READ, "docs")
                self.docs_registered = True
            except (PermissionError, OSError):
                self.reader.not_pollable()
        elif not waiting and self.docs_registered:
            self.selector.unregister(self.reader.fd)
            self.docs_registered = False


# ---- the output --------------------------------------------------------------------------


class TsvWriter:
    """The TSV, written into a temporary file beside the output (mkstemp: a name no other run
    and no existing file shares) that takes the output's name only when complete."""

    def __init__(self, path, mode):
        self.path = path
        directory, name = os.path.split(path)
        try:
            fd, self.temporary = tempfile.mkstemp(prefix=name + ".partial-",
                                                  dir=directory or ".")
        except OSError as e:
            raise Failure(f"cannot write '{path}.partial-XXXXXXXX': {strerror(e)}") from None
        try:
            os.fchmod(fd, mode)  # mkstemp makes it 0600
            self.file = os.fdopen(fd, "wb", buffering=1 << 16)
        except OSError as e:
            os.close(fd)
            os.unlink(self.temporary)
            raise Failure(f"cannot write '{self.temporary}': {strerror(e)}") from None

    def write(self, parts):
        """Writes a batch's claims; returns how many."""
        count = 0
        for d, p, o, l in parts:
            count += len(d)
            lines = "".join(
                ["%d\t%d\t%d\t%d\n" % c for c in zip(d.tolist(), p.tolist(), o.tolist(),
                                                       l.tolist())]
            )
            try:
                self.file.write(lines.encode("ascii"))
            except OSError as e:
                raise Failure(f"cannot write '{self.path}': {strerror(e)}") from None
        return count

    def close(self):
        """Flushes, closes and renames to the output's name."""
        file, self.file = self.file, None
        try:
            file.close()
            os.rename(self.temporary, self.path)
        except OSError as e:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass
            raise Failure(f"cannot write '{self.path}': {strerror(e)}") from None

    def abandon(self):
        """The run failed: no partial output stays."""
        if self.file is not None:
            file, self.file = self.file, None
            try:
                file.close()
            except OSError:
                pass
            try:
                os.unlink(self.temporary)
            except OSError:
                pass


# ---- main --------------------------------------------------------------------------------


def log(line):
    sys.stderr.write(f"{PROGRAM}: {line}\n")
    sys.stderr.flush()


def ratio(x, y):
    return x / y if y else (float("nan") if x == 0 else float("inf"))


def run(argv):
    mask = os.umask(0)  # read by setting it
    os.umask(mask)
    mode = 0o666 & ~mask
    args = parse_args(argv)
    refuse_overwriting_an_input(args)
    start = time.monotonic()
    # The patterns whole (the dictionary is compiled from them); the documents opened now (a
    # missing file is named before any scanner starts) and read as they are scanned.
    reader = None
    pipeline = None
    out = None
    try:
        patterns = Dictionary.read(args.patterns)
        reader = DocumentReader(args.docs)
        dictionary = Dictionary(patterns, args.patterns)
        del patterns
        compile_seconds = time.monotonic() - start
        defer_stop_signals()  # the scanners, their sessions and the partial file follow
        pipeline = Pipeline(dictionary, reader, args)
        throw_if_stopped()
        out = TsvWriter(args.out, mode)

        def sink(parts):
            throw_if_stopped()
            return out.write(parts)

        report = pipeline.run(sink)
        throw_if_stopped()  # the last moment a signal discards the run
        out.close()
        seconds = time.monotonic() - start
        docs = report["docs"]
        megabytes = report["bytes"] / 1e6
        sys.stderr.write(
            "%s: docs %d, bytes %d, patterns %d, matches %d, %.3f s, %.0f docs/s, %.2f MB/s "
            "(compile %.3f s, scanners up %.3f s, scan %.3f s: %.0f docs/s, %.2f MB/s; "
            "batches %d, ring %d bytes; scanners %d, restarts %d)\n"
            % (PROGRAM, docs, report["bytes"], dictionary.count, report["claims"], seconds,
               ratio(docs, seconds), ratio(megabytes, seconds), compile_seconds,
               report["setup_seconds"], report["scan_seconds"],
               ratio(docs, report["scan_seconds"]), ratio(megabytes, report["scan_seconds"]),
               report["batches"], pipeline.ring_bytes, args.scanners, report["restarts"])
        )
        return 0
    finally:
        # Every way out: the scanners stopped, the sessions removed, no partial file.
        if out is not None:
            out.abandon()
        if pipeline is not None:
            pipeline.close()
        if reader is not None:
            reader.close()


def main(argv):
    raise_again = 0
    try:
        return run(argv)
    except UsageError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    except Interrupted as e:
        raise_again = e.signal
    except (Failure, shmpipe.Error, OSError) as e:
        # A failure after a stop signal is most likely its doing (Ctrl-C reaches the scanners
        # too): the run was stopped, not broken.
        raise_again = _stop["signal"]
        if not raise_again:
            sys.stderr.write(f"{PROGRAM}: {e}\n")
            return 1
    except Exception as e:  # a bug: say where
        raise_again = _stop["signal"]
        if not raise_again:
            import traceback

            traceback.print_exc()
            sys.stderr.write(f"{PROGRAM}: {type(e).__name__}: {e}\n")
            return 1
    name = signal.Signals(raise_again).name
    sys.stderr.write(f"{PROGRAM}: stopped by {name}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    # Killed by the signal, as the parent would see it without the handler.
    signal.signal(raise_again, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    os.kill(os.getpid(), raise_again)
    return 128 + raise_again


if __name__ == "__main__":
    sys.exit(main(sys.argv))

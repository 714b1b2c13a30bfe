# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe's schemas from Python: the modules flatc --python generated (shmpipe.schema).

Every message of every schema is built with python3-flatbuffers (numeric columns with
CreateNumpyVector) and read back; the samples of tests/support/schema_samples.hpp, built in
C++, are read in Python from a read-only memoryview, in place; and the Python-built samples
are verified and checked by the C++ side (the FlatBuffers verifier, the file_identifier and
the same checks as the multi-process tests).

Environment: PYTHONPATH holds the build tree's python/ (shmpipe.schema), and
SHMPIPE_SCHEMA_SAMPLE_FILES names the schema_sample_files program (ctest sets both).

Where copies happen, in python3-flatbuffers 2.0.8 (checked by the tests marked "copies"):
  reading  - GetRootAs keeps the buffer object it is given (a memoryview stays a view of the
             ring); scalars are unpacked from it (struct.unpack_from, no copy of the buffer);
             <field>AsNumpy() is np.frombuffer over it: a view, read-only when the memoryview
             is; a string field (Table.String) returns bytes: a copy of that string only;
             Get<i>(j) of a vector unpacks one element.
  building - the Builder owns a bytearray and builds back to front in it; when it fills up, it
             allocates one twice the size and copies everything (so size it up front:
             Builder(initial_size));
             CreateNumpyVector copies twice: x.tobytes() makes a temporary, which is then copied
             into the bytearray; CreateString/CreateByteVector copy once;
             Output() slices the bytearray: a copy of the whole message (memoryview(b.Bytes)
             [b.Head():] is the same bytes without it);
             sending the finished buffer into a ring is one more copy.
  So a FlatBuffer built in Python reaches the ring with exactly one copy of the finished
  message (builder -> ring) when it is sent from memoryview(b.Bytes)[b.Head():] and the
  builder never grew; numeric columns cost one more (the tobytes temporary).
"""

import math
import os
import subprocess

import flatbuffers
import numpy as np
import pytest

from shmpipe.schema import (BBox, ClaimBatch, Claims, ClaimsBody, Configure, Control,
                            DocumentInfo, Envelope, Error, Evidence, ExtractionBody,
                            ExtractRequest, Extraction, HealthReply, HealthRequest, KeyValue,
                            LedgerBatch, OpenDocument, PageText, PatternSet, PatternSetLoaded,
                            PixelFormat, Ready, Shutdown, StringColumn, TextBatch, Warning)

IDENTIFIERS = {"Envelope": b"SPEV", "Extraction": b"SPEX", "Claims": b"SPCL"}
ROOTS = {"Envelope": Envelope.Envelope, "Extraction": Extraction.Extraction,
         "Claims": Claims.Claims}
UNION = {"Envelope": Control.Control, "Extraction": ExtractionBody.ExtractionBody,
         "Claims": ClaimsBody.ClaimsBody}


# ---- building (the same values as schema_samples.hpp, so that C++ can check them)

def string_column(b, values):
    """A StringColumn (offsets + one bytes vector), as common.fbs lays it out."""
    encoded = [v.encode() for v in values]
    data = b.CreateByteVector(b"".join(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.uint32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    offs = b.CreateNumpyVector(offsets)
    StringColumn.Start(b)
    StringColumn.AddOffsets(b, offs)
    StringColumn.AddBytes(b, data)
    return StringColumn.End(b)


def string_vector(b, values):
    offsets = [b.CreateString(v) for v in values]
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def table_vector(b, offsets):
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def envelope(b, kind, body):
    Envelope.Start(b)
    Envelope.AddBodyType(b, kind)
    Envelope.AddBody(b, body)
    return Envelope.End(b)


def extraction(b, request_id, kind, body):
    Extraction.Start(b)
    Extraction.AddRequestId(b, request_id)
    Extraction.AddBodyType(b, kind)
    Extraction.AddBody(b, body)
    return Extraction.End(b)


def claims(b, kind, body):
    Claims.Start(b)
    Claims.AddBodyType(b, kind)
    Claims.AddBody(b, body)
    return Claims.End(b)


def build_ready(b):
    name = b.CreateString("worker-7")
    caps = string_vector(b, ["evidence", "ledger"])
    ids = b.CreateNumpyVector(np.array([0x5345, 0x434c], dtype=np.uint64))
    Ready.Start(b)
    Ready.AddProtocolVersion(b, 3)
    Ready.AddPid(b, 4242)
    Ready.AddProcessStartTime(b, 987654321)
    Ready.AddWorkerName(b, name)
    Ready.AddCapabilities(b, caps)
    Ready.AddSchemaIds(b, ids)
    return envelope(b, Control.Control.Ready, Ready.End(b))


def build_health_request(b):
    HealthRequest.Start(b)
    HealthRequest.AddSentNs(b, 123456789)
    return envelope(b, Control.Control.HealthRequest, HealthRequest.End(b))


def build_health_reply(b):
    HealthReply.Start(b)
    HealthReply.AddSentNs(b, 1)
    HealthReply.AddRssBytes(b, 2 << 20)
    HealthReply.AddRequestsServed(b, 99)
    return envelope(b, Control.Control.HealthReply, HealthReply.End(b))


def build_configure(b):
    pairs = []
    for key, value in sorted({"dpi": "150", "author": "Nguyễn Văn A"}.items()):
        k, v = b.CreateString(key), b.CreateString(value)
        KeyValue.Start(b)
        KeyValue.AddKey(b, k)
        KeyValue.AddValue(b, v)
        pairs.append(KeyValue.End(b))
    settings = table_vector(b, pairs)  # sorted by key, as CreateVectorOfSortedTables does
    Configure.Start(b)
    Configure.AddSettings(b, settings)
    return envelope(b, Control.Control.Configure, Configure.End(b))


def build_shutdown(b):
    reason = b.CreateString("done")
    Shutdown.Start(b)
    Shutdown.AddReason(b, reason)
    return envelope(b, Control.Control.Shutdown, Shutdown.End(b))


def build_error(b):
    message = b.CreateString("page 3 is corrupt")
    Error.Start(b)
    Error.AddCode(b, 7)
    Error.AddMessage(b, message)
    Error.AddRequestId(b, 42)
    Error.AddRecordType(b, 5)
    Error.AddRecordSeq(b, 1234)
    return envelope(b, Control.Control.Error, Error.End(b))


def build_warning(b):
    message = b.CreateString("resident set over the soft limit")
    Warning.Start(b)
    Warning.AddCode(b, 1)
    Warning.AddMessage(b, message)
    Warning.AddRssBytes(b, 1 << 30)
    return envelope(b, Control.Control.Warning, Warning.End(b))


def build_extract_request(b):
    path = b.CreateString("/tmp/dự toán.pdf")
    ExtractRequest.Start(b)
    ExtractRequest.AddPath(b, path)
    ExtractRequest.AddPage(b, 2)
    ExtractRequest.AddBbox(b, BBox.CreateBBox(b, 10, 20, 300, 400))
    ExtractRequest.AddDpi(b, 300)
    return extraction(b, 5, ExtractionBody.ExtractionBody.ExtractRequest, ExtractRequest.End(b))


def build_page_text(b):
    text = b.CreateString("Bảng dự toán\nSTT 1")
    PageText.Start(b)
    PageText.AddPage(b, 3)
    PageText.AddText(b, text)
    PageText.AddWidthPt(b, 595)
    PageText.AddHeightPt(b, 842)
    return extraction(b, 5, ExtractionBody.ExtractionBody.PageText, PageText.End(b))


EVIDENCE_PIXELS = (np.arange(64 * 16, dtype=np.uint64) * 7 % 256).astype(np.uint8)


def build_evidence(b):
    pixels = b.CreateNumpyVector(EVIDENCE_PIXELS)
    Evidence.Start(b)
    Evidence.AddPage(b, 1)
    Evidence.AddRow(b, 9)
    Evidence.AddBbox(b, BBox.CreateBBox(b, 1, 2, 3, 4))
    Evidence.AddWidth(b, 64)
    Evidence.AddHeight(b, 16)
    Evidence.AddStride(b, 64)
    Evidence.AddFormat(b, PixelFormat.PixelFormat.Gray8)
    Evidence.AddDpi(b, 150)
    Evidence.AddPixels(b, pixels)
    return extraction(b, 5, ExtractionBody.ExtractionBody.Evidence, Evidence.End(b))


def ledger_rows(n, first):
    """schema_samples.hpp's ledger_rows(n, first), as numpy columns and string lists."""
    i = np.arange(first, first + n, dtype=np.uint64)
    names = ["Đào móng băng bằng thủ công", "Bê tông lót móng đá 4x6",
             "Cốt thép móng đường kính ≤10mm", "Xây tường gạch ống"]
    units = ["m3", "m3", "tấn", "m2"]
    quantity = 1.5 + (i % 17).astype(np.float64)
    unit_price = 125000.0 + 1000.0 * (i % 9).astype(np.float64)
    return {
        "page": (1 + i // 40).astype(np.uint32),
        "stt": [str(k + 1) for k in i.tolist()],
        "code": ["AB." + str(11000 + k) for k in i.tolist()],
        "name": [names[k % 4] for k in i.tolist()],
        "unit": [units[k % 4] for k in i.tolist()],
        "quantity": quantity, "unit_price": unit_price, "amount": quantity * unit_price,
    }


def build_ledger_batch(b, n=12, first=100):
    r = ledger_rows(n, first)
    stt, code = string_column(b, r["stt"]), string_column(b, r["code"])
    name, unit = string_column(b, r["name"]), string_column(b, r["unit"])
    page = b.CreateNumpyVector(r["page"])
    quantity = b.CreateNumpyVector(r["quantity"])
    unit_price = b.CreateNumpyVector(r["unit_price"])
    amount = b.CreateNumpyVector(r["amount"])
    flags = b.CreateNumpyVector(np.zeros(n, dtype=np.uint8))
    # A vector of structs: BBox is 4 float32, so a (n, 4) float32 array, flattened, is its bytes.
    k = np.arange(n, dtype=np.float32)
    boxes = np.stack([np.full(n, 50, np.float32), 100 + 14 * k, np.full(n, 550, np.float32),
                      112 + 14 * k], axis=1).astype("<f4")
    LedgerBatch.StartRowBboxVector(b, n)
    b.head = b.head - boxes.nbytes
    b.Bytes[b.head:b.head + boxes.nbytes] = boxes.tobytes()
    row_bbox = b.EndVector()
    LedgerBatch.Start(b)
    LedgerBatch.AddFirstRow(b, first)
    LedgerBatch.AddPage(b, page)
    LedgerBatch.AddStt(b, stt)
    LedgerBatch.AddCode(b, code)
    LedgerBatch.AddName(b, name)
    LedgerBatch.AddUnit(b, unit)
    LedgerBatch.AddQuantity(b, quantity)
    LedgerBatch.AddUnitPrice(b, unit_price)
    LedgerBatch.AddAmount(b, amount)
    LedgerBatch.AddFlags(b, flags)
    LedgerBatch.AddRowBbox(b, row_bbox)
    return extraction(b, 1, ExtractionBody.ExtractionBody.LedgerBatch, LedgerBatch.End(b))


def build_open_document(b):
    path = b.CreateString("/srv/dự toán.pdf")
    OpenDocument.Start(b)
    OpenDocument.AddPath(b, path)
    return extraction(b, 0, ExtractionBody.ExtractionBody.OpenDocument, OpenDocument.End(b))


def build_document_info(b):
    DocumentInfo.Start(b)
    DocumentInfo.AddPages(b, 17)
    DocumentInfo.AddMaxWidthPt(b, 841.89)
    DocumentInfo.AddMaxHeightPt(b, 1190.55)
    return extraction(b, 3, ExtractionBody.ExtractionBody.DocumentInfo, DocumentInfo.End(b))


def build_pattern_set(b):
    database = b.CreateNumpyVector(np.array([1, 2, 3, 4, 5], dtype=np.uint8))
    path = b.CreateString("")
    PatternSet.Start(b)
    PatternSet.AddPatternCount(b, 2)
    PatternSet.AddDatabase(b, database)
    PatternSet.AddDatabasePath(b, path)
    return claims(b, ClaimsBody.ClaimsBody.PatternSet, PatternSet.End(b))


def build_text_batch(b):
    text = string_column(b, ["the cat sat", "", "mèo ngồi"])
    ids = b.CreateNumpyVector(np.array([10, 11, 12], dtype=np.uint64))
    TextBatch.Start(b)
    TextBatch.AddBatchId(b, 77)
    TextBatch.AddDocIds(b, ids)
    TextBatch.AddText(b, text)
    return claims(b, ClaimsBody.ClaimsBody.TextBatch, TextBatch.End(b))


def build_claim_batch(b):
    doc = b.CreateNumpyVector(np.array([10, 12], dtype=np.uint64))
    pattern = b.CreateNumpyVector(np.array([3, 4], dtype=np.uint32))
    offset = b.CreateNumpyVector(np.array([4, 0], dtype=np.uint32))
    length = b.CreateNumpyVector(np.array([3, 3], dtype=np.uint32))
    ClaimBatch.Start(b)
    ClaimBatch.AddBatchId(b, 77)
    ClaimBatch.AddDocId(b, doc)
    ClaimBatch.AddPatternId(b, pattern)
    ClaimBatch.AddOffset(b, offset)
    ClaimBatch.AddLength(b, length)
    ClaimBatch.AddScanNs(b, 1500)
    return claims(b, ClaimsBody.ClaimsBody.ClaimBatch, ClaimBatch.End(b))


def build_pattern_set_loaded(b):
    info = b.CreateString("Version: 5.4.0 Features: AVX2 Mode: BLOCK")
    PatternSetLoaded.Start(b)
    PatternSetLoaded.AddPatternCount(b, 76000)
    PatternSetLoaded.AddDatabaseBytes(b, 12 << 20)
    PatternSetLoaded.AddScratchBytes(b, 1 << 16)
    PatternSetLoaded.AddInfo(b, info)
    return claims(b, ClaimsBody.ClaimsBody.PatternSetLoaded, PatternSetLoaded.End(b))


# ---- reading: every field, through the generated classes

def member(root_name, message, cls):
    """The union member of `message` as `cls`, after checking the union's type tag."""
    assert message.BodyType() == getattr(UNION[root_name], cls.__name__), message.BodyType()
    table = message.Body()
    out = cls()
    out.Init(table.Bytes, table.Pos)
    return out


def column(c):
    """A StringColumn's strings, after checking its invariants (common.fbs)."""
    offsets, data = c.OffsetsAsNumpy(), c.BytesAsNumpy()
    assert offsets[0] == 0 and offsets[-1] == len(data) and np.all(np.diff(offsets) >= 0)
    return [bytes(data[offsets[k]:offsets[k + 1]]).decode() for k in range(len(offsets) - 1)]


def check_ready(m):
    r = member("Envelope", m, Ready.Ready)
    assert (r.ProtocolVersion(), r.Pid(), r.ProcessStartTime()) == (3, 4242, 987654321)
    assert r.WorkerName() == b"worker-7"
    assert [r.Capabilities(j) for j in range(r.CapabilitiesLength())] == [b"evidence", b"ledger"]
    assert r.SchemaIdsAsNumpy().tolist() == [0x5345, 0x434c]


def check_health_request(m):
    assert member("Envelope", m, HealthRequest.HealthRequest).SentNs() == 123456789


def check_health_reply(m):
    h = member("Envelope", m, HealthReply.HealthReply)
    assert (h.SentNs(), h.RssBytes(), h.RequestsServed()) == (1, 2 << 20, 99)


def check_configure(m):
    c = member("Envelope", m, Configure.Configure)
    pairs = [(c.Settings(j).Key(), c.Settings(j).Value()) for j in range(c.SettingsLength())]
    assert pairs == [(b"author", "Nguyễn Văn A".encode()), (b"dpi", b"150")]


def check_shutdown(m):
    assert member("Envelope", m, Shutdown.Shutdown).Reason() == b"done"


def check_error(m):
    e = member("Envelope", m, Error.Error)
    assert (e.Code(), e.Message(), e.RequestId()) == (7, b"page 3 is corrupt", 42)
    assert (e.RecordType(), e.RecordSeq()) == (5, 1234)


def check_warning(m):
    w = member("Envelope", m, Warning.Warning)
    assert (w.Code(), w.Message(), w.RssBytes()) == (1, b"resident set over the soft limit",
                                                     1 << 30)


def check_extract_request(m):
    assert m.RequestId() == 5
    r = member("Extraction", m, ExtractRequest.ExtractRequest)
    assert r.Path().decode() == "/tmp/dự toán.pdf" and r.Page() == 2 and r.Dpi() == 300
    box = r.Bbox()
    assert (box.X0(), box.Y0(), box.X1(), box.Y1()) == (10, 20, 300, 400)


def check_page_text(m):
    t = member("Extraction", m, PageText.PageText)
    assert t.Page() == 3 and t.Text().decode() == "Bảng dự toán\nSTT 1"
    assert (t.WidthPt(), t.HeightPt()) == (595, 842)


def check_evidence(m):
    e = member("Extraction", m, Evidence.Evidence)
    assert (e.Page(), e.Row(), e.Width(), e.Height(), e.Stride(), e.Dpi()) == (1, 9, 64, 16, 64,
                                                                               150)
    assert e.Format() == PixelFormat.PixelFormat.Gray8
    box = e.Bbox()
    assert (box.X0(), box.Y0(), box.X1(), box.Y1()) == (1, 2, 3, 4)
    assert np.array_equal(e.PixelsAsNumpy(), EVIDENCE_PIXELS)


def check_ledger_batch(m):
    batch = member("Extraction", m, LedgerBatch.LedgerBatch)
    want = ledger_rows(12, 100)
    assert batch.FirstRow() == 100
    assert np.array_equal(batch.PageAsNumpy(), want["page"])
    for field in ("stt", "code", "name", "unit"):
        assert column(getattr(batch, field.capitalize())()) == want[field], field
    assert np.array_equal(batch.QuantityAsNumpy(), want["quantity"])
    assert np.array_equal(batch.UnitPriceAsNumpy(), want["unit_price"])
    assert np.array_equal(batch.AmountAsNumpy(), want["amount"])
    assert batch.FlagsAsNumpy().tolist() == [0] * 12
    boxes = [(b.X0(), b.Y0(), b.X1(), b.Y1())
             for b in (batch.RowBbox(j) for j in range(batch.RowBboxLength()))]
    assert boxes == [(50, 100 + 14 * k, 550, 112 + 14 * k) for k in range(12)]


def check_open_document(m):
    assert member("Extraction", m, OpenDocument.OpenDocument).Path().decode() == \
        "/srv/dự toán.pdf"


def check_document_info(m):
    d = member("Extraction", m, DocumentInfo.DocumentInfo)
    assert d.Pages() == 17
    assert (d.MaxWidthPt(), d.MaxHeightPt()) == (np.float32(841.89), np.float32(1190.55))


def check_pattern_set(m):
    p = member("Claims", m, PatternSet.PatternSet)
    assert p.PatternCount() == 2 and p.DatabaseAsNumpy().tolist() == [1, 2, 3, 4, 5]
    assert p.DatabasePath() == b""


def check_text_batch(m):
    t = member("Claims", m, TextBatch.TextBatch)
    assert t.BatchId() == 77 and t.DocIdsAsNumpy().tolist() == [10, 11, 12]
    assert column(t.Text()) == ["the cat sat", "", "mèo ngồi"]


def check_claim_batch(m):
    c = member("Claims", m, ClaimBatch.ClaimBatch)
    assert c.BatchId() == 77 and c.ScanNs() == 1500
    assert c.DocIdAsNumpy().tolist() == [10, 12] and c.PatternIdAsNumpy().tolist() == [3, 4]
    assert c.OffsetAsNumpy().tolist() == [4, 0] and c.LengthAsNumpy().tolist() == [3, 3]


def check_pattern_set_loaded(m):
    p = member("Claims", m, PatternSetLoaded.PatternSetLoaded)
    assert (p.PatternCount(), p.DatabaseBytes(), p.ScratchBytes()) == (76000, 12 << 20, 1 << 16)
    assert p.Info().startswith(b"Version: 5.4.0")


# (root, sample name as in schema_samples.hpp, builder, checker, C++ has this sample)
SAMPLES = [
    ("Envelope", "Ready", build_ready, check_ready, True),
    ("Envelope", "HealthRequest", build_health_request, check_health_request, True),
    ("Envelope", "HealthReply", build_health_reply, check_health_reply, True),
    ("Envelope", "Configure", build_configure, check_configure, True),
    ("Envelope", "Shutdown", build_shutdown, check_shutdown, True),
    ("Envelope", "Error", build_error, check_error, True),
    ("Envelope", "Warning", build_warning, check_warning, True),
    ("Extraction", "ExtractRequest", build_extract_request, check_extract_request, True),
    ("Extraction", "PageText", build_page_text, check_page_text, True),
    ("Extraction", "Evidence", build_evidence, check_evidence, True),
    ("Extraction", "LedgerBatch", build_ledger_batch, check_ledger_batch, True),
    ("Extraction", "OpenDocument", build_open_document, check_open_document, False),
    ("Extraction", "DocumentInfo", build_document_info, check_document_info, False),
    ("Claims", "PatternSet", build_pattern_set, check_pattern_set, True),
    ("Claims", "TextBatch", build_text_batch, check_text_batch, True),
    ("Claims", "ClaimBatch", build_claim_batch, check_claim_batch, True),
    ("Claims", "PatternSetLoaded", build_pattern_set_loaded, check_pattern_set_loaded, False),
]
IDS = ["%s.%s" % (s[0], s[1]) for s in SAMPLES]


def build(root, builder):
    b = flatbuffers.Builder(1024)
    b.Finish(builder(b), file_identifier=IDENTIFIERS[root])
    return b


def read(root, view):
    """The root table of `view` (a read-only memoryview), after its file_identifier."""
    cls = ROOTS[root]
    assert getattr(cls, root + "BufferHasIdentifier")(view, 0), bytes(view[4:8])
    return cls.GetRootAs(view, 0)


def test_every_union_member_has_a_sample():
    """A member added to a union without a sample here fails this test."""
    for root, union in UNION.items():
        members = {k for k, v in vars(union).items() if not k.startswith("_") and v != 0}
        sampled = {s[1] for s in SAMPLES if s[0] == root}
        assert members == sampled, root


@pytest.mark.parametrize("root,name,builder,checker,in_cpp", SAMPLES, ids=IDS)
def test_python_built_reads_back(root, name, builder, checker, in_cpp):
    b = build(root, builder)
    checker(read(root, memoryview(bytes(b.Output()))))


@pytest.fixture(scope="module")
def sample_tool():
    tool = os.environ.get("SHMPIPE_SCHEMA_SAMPLE_FILES")
    assert tool and os.access(tool, os.X_OK), \
        "SHMPIPE_SCHEMA_SAMPLE_FILES must name the schema_sample_files program"
    return tool


@pytest.fixture(scope="module")
def cpp_samples(sample_tool, tmp_path_factory):
    out = tmp_path_factory.mktemp("cpp-samples")
    subprocess.run([sample_tool, "write", str(out)], check=True, timeout=60)
    return out


@pytest.mark.parametrize("root,name,builder,checker,in_cpp", [s for s in SAMPLES if s[4]],
                         ids=[i for i, s in zip(IDS, SAMPLES) if s[4]])
def test_cpp_built_reads_in_place(cpp_samples, root, name, builder, checker, in_cpp):
    data = (cpp_samples / ("%s.%s.bin" % (root, name))).read_bytes()
    view = memoryview(data)  # read-only, like a received record's .data
    message = read(root, view)
    # In place: the generated classes hold the very memoryview, not a copy of its bytes.
    assert message._tab.Bytes is view
    checker(message)


@pytest.mark.parametrize("root,name,builder,checker,in_cpp", [s for s in SAMPLES if s[4]],
                         ids=[i for i, s in zip(IDS, SAMPLES) if s[4]])
def test_python_built_passes_the_cpp_verifier_and_checks(sample_tool, tmp_path, root, name,
                                                         builder, checker, in_cpp):
    b = build(root, builder)
    path = tmp_path / "message.bin"
    path.write_bytes(memoryview(b.Bytes)[b.Head():])
    r = subprocess.run([sample_tool, "check", str(path), root, name], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_cpp_check_rejects_a_wrong_message(sample_tool, tmp_path):
    """The C++ side really checks: a Python sample with one value changed fails."""
    b = flatbuffers.Builder(256)
    HealthRequest.Start(b)
    HealthRequest.AddSentNs(b, 123456788)
    b.Finish(envelope(b, Control.Control.HealthRequest, HealthRequest.End(b)),
             file_identifier=b"SPEV")
    path = tmp_path / "wrong.bin"
    path.write_bytes(b.Output())
    r = subprocess.run([sample_tool, "check", str(path), "Envelope", "HealthRequest"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "HealthRequest differs" in r.stderr
    b = build("Envelope", build_shutdown)  # right bytes, wrong file_identifier
    path.write_bytes(bytes(b.Output()).replace(b"SPEV", b"SPEX", 1))
    r = subprocess.run([sample_tool, "check", str(path), "Envelope", "Shutdown"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "verifier" in r.stderr


# ---- where copies happen (the module docstring's list, checked)

def test_copies_reading_numeric_columns_are_views_of_the_buffer(cpp_samples):
    data = bytearray((cpp_samples / "Extraction.LedgerBatch.bin").read_bytes())
    view = memoryview(data).toreadonly()
    batch = member("Extraction", read("Extraction", view), LedgerBatch.LedgerBatch)
    amount = batch.AmountAsNumpy()
    assert np.shares_memory(amount, np.frombuffer(data, dtype=np.uint8))
    assert not amount.flags.writeable  # a read-only memoryview gives read-only arrays
    # Proof by mutation: change the bytes under the view, the array follows.
    first = amount[0]
    start = np.frombuffer(data, dtype=np.uint8).ctypes.data
    at = amount.ctypes.data - start
    data[at:at + 8] = np.float64(-1.0).tobytes()
    assert amount[0] == -1.0 and first != -1.0
    # A string field is a copy of that string: it does not follow.
    name = column(batch.Name())[0]
    assert name == "Đào móng băng bằng thủ công"


def test_copies_string_fields_are_copies(cpp_samples):
    data = bytearray((cpp_samples / "Envelope.Shutdown.bin").read_bytes())
    shutdown = member("Envelope", read("Envelope", memoryview(data)), Shutdown.Shutdown)
    reason = shutdown.Reason()
    assert isinstance(reason, bytes) and reason == b"done"
    data[data.index(b"done")] = ord("D")
    assert reason == b"done" and shutdown.Reason() == b"Done"


def test_copies_output_slices_and_bytes_view_does_not():
    b = build("Extraction", build_ledger_batch)
    out = b.Output()
    view = memoryview(b.Bytes)[b.Head():]
    assert bytes(out) == bytes(view)
    assert not np.shares_memory(np.frombuffer(out, np.uint8), np.frombuffer(b.Bytes, np.uint8))
    assert np.shares_memory(np.frombuffer(view, np.uint8), np.frombuffer(b.Bytes, np.uint8))


def test_copies_a_builder_that_grows_moves_its_bytes():
    b = flatbuffers.Builder(16)
    before = b.Bytes
    b.CreateNumpyVector(np.zeros(100, dtype=np.float64))
    assert b.Bytes is not before and len(b.Bytes) >= 800


def test_nan_and_optional_scalars_survive():
    b = flatbuffers.Builder(64)
    q = b.CreateNumpyVector(np.array([math.nan, 1.5]))
    LedgerBatch.Start(b)
    LedgerBatch.AddQuantity(b, q)
    b.Finish(extraction(b, 1, ExtractionBody.ExtractionBody.LedgerBatch, LedgerBatch.End(b)),
             file_identifier=b"SPEX")
    batch = member("Extraction", read("Extraction", memoryview(bytes(b.Output()))),
                   LedgerBatch.LedgerBatch)
    got = batch.QuantityAsNumpy()
    assert math.isnan(got[0]) and got[1] == 1.5
    assert batch.PageIsNone() and batch.Stt() is None
    b = flatbuffers.Builder(64)
    Error.Start(b)
    Error.AddCode(b, 1)
    b.Finish(envelope(b, Control.Control.Error, Error.End(b)), file_identifier=b"SPEV")
    e = member("Envelope", read("Envelope", memoryview(bytes(b.Output()))), Error.Error)
    assert e.RecordType() is None and e.RecordSeq() is None  # absent, not 0

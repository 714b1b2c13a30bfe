# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""extract_worker.py (PyMuPDF) against extract_worker (poppler), message by message.

extract_dump runs the C++ worker under a Supervisor on a generated ledger PDF and writes every
message it answers; the same requests (same request ids, same order) go to extract_worker.py's
Server in this process, and the answers are compared field by field:
  DocumentInfo  pages, max_width_pt, max_height_pt: equal (float32)
  PageText      page, width_pt, height_pt: equal; text: the same characters in the same
                order (whitespace aside: poppler's physical layout glues close cells)
  LedgerBatch   every column equal (strings, numbers, flags, pages, first_row); row_bbox
                within 0.01 pt (MuPDF keeps glyph positions to 1/1000 pt, poppler computes them);
                layout (the reading state): in both or neither, the same version, flags and
                columns, edges within 0.01 pt, and each worker's bytes read by the other's
                Ledger and written back unchanged (one format)
  Evidence      page, row, format and dpi equal; bbox within 0.01 pt; width and height equal,
                or one pixel apart where the crop's size in pixels is within 1e-3 of a whole
                number; tight rows (stride = 3 x width). The
                pixels are two renderers' and are not compared byte for byte: both crops have
                ink, and they correlate (> 0.8, best of one-pixel shifts, table rules left out:
                poppler snaps hairlines and baselines to whole pixels, MuPDF does not)
  the final flag of every message, and the number and order of messages: equal
  Envelope Error (a bad page, a bad dpi, a missing, damaged or encrypted file): the same code
                and message

Environment (ctest sets it): PYTHONPATH with the build tree's python/ and this example's
directory, EXTRACT_DUMP and EXTRACT_WORKER (programs), LEDGER_PDF_SCRIPT.
"""

import math
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from shmpipe.schema import (DocumentInfo, Envelope, Error, Evidence, Extraction, LedgerBatch,
                            PageText)

import extract_worker as pyworker

RING_MAX_MESSAGE = (1 << 25) - 4096  # anything far above the crops of these tests


def env(name):
    value = os.environ.get(name)
    assert value, "%s is not set (ctest sets it)" % name
    return value


def make_pdf(tmp_path, args):
    pdf = tmp_path / "ledger.pdf"
    subprocess.run([sys.executable, env("LEDGER_PDF_SCRIPT"), str(pdf),
                    str(tmp_path / "expected.csv")] + args, check=True, timeout=120)
    return pdf


def cpp_answers(tmp_path, pdf, dpi, pages):
    """[(request, page, bytes, final)] of extract_worker, in the order they came."""
    out = tmp_path / "cpp"
    out.mkdir()
    subprocess.run([env("EXTRACT_DUMP"), str(out), str(pdf), str(dpi), pages,
                    env("EXTRACT_WORKER")], check=True, timeout=600)
    answers = []
    for line in (out / "manifest.txt").read_text().splitlines():
        n, request, page, _identifier, final = line.split()
        answers.append((request, int(page), (out / (n + ".bin")).read_bytes(), final == "1"))
    return answers


def request_bytes(kind, path, page=0, dpi=150):
    import flatbuffers
    from shmpipe.schema import ExtractionBody, ExtractRequest, OpenDocument
    b = flatbuffers.Builder(256)
    p = b.CreateString(str(path))
    if kind == "open":
        OpenDocument.Start(b)
        OpenDocument.AddPath(b, p)
        body, tag = OpenDocument.End(b), ExtractionBody.ExtractionBody.OpenDocument
    else:
        ExtractRequest.Start(b)
        ExtractRequest.AddPath(b, p)
        ExtractRequest.AddPage(b, page)
        ExtractRequest.AddDpi(b, dpi)
        body, tag = ExtractRequest.End(b), ExtractionBody.ExtractionBody.ExtractRequest
    Extraction.Start(b)
    Extraction.AddBodyType(b, tag)
    Extraction.AddBody(b, body)
    b.Finish(Extraction.End(b), file_identifier=b"SPEX")
    return memoryview(bytes(b.Output()))


def python_answers(server, path, dpi, requests):
    """The same requests, in order, to extract_worker.py's Server: [(bytes, final)] per
    request; an Error answer as ("error", code, message)."""
    out = []
    for request_id, kind, page in requests:
        answers = []
        try:
            for reply in server.serve(request_id, request_bytes(kind, path, page, dpi)):
                answers.append((bytes(reply.data), reply.final))
        except pyworker.Failure as f:
            answers.append((("error", f.code, str(f)), True))
        out.append(answers)
    return out


def body(data, cls):
    m = Extraction.Extraction.GetRootAs(memoryview(data), 0)
    t = m.Body()
    x = cls()
    x.Init(t.Bytes, t.Pos)
    return m.RequestId(), m.BodyType(), x


def strings(column, n):
    if n == 0:
        return []
    offsets, data = column.OffsetsAsNumpy(), column.BytesAsNumpy()
    return [bytes(data[offsets[i]:offsets[i + 1]]).decode() for i in range(n)]


def box(b):
    return (b.X0(), b.Y0(), b.X1(), b.Y1())


def same_box(a, b, tol=0.01):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def compare_layout(cpp, py):
    assert cpp.LayoutIsNone() == py.LayoutIsNone()
    if cpp.LayoutIsNone():
        return
    # ledger.hpp's format: version, style, lines above and below (u32), columns, then per
    # column its slot and five doubles (centre, header from/to, left, right).
    a, b = bytes(cpp.LayoutAsNumpy()), bytes(py.LayoutAsNumpy())
    assert len(a) == len(b) and a[:2] == b[:2] and a[0] == 1 and a[10] == b[10], (a[:11], b[:11])
    assert len(a) == 11 + 41 * a[10]
    for k in range(a[10]):
        at = 11 + 41 * k
        assert a[at] == b[at], "the same column"
        # The header's positions: the two engines' word boxes differ by hundredths of a point.
        for x, y in zip(struct.unpack_from("<3d", a, at + 1), struct.unpack_from("<3d", b, at + 1)):
            assert x == y or abs(x - y) <= 0.01, (x, y)
    for data in (a, b):
        ledger = pyworker.Ledger()
        assert ledger.restore_layout(data) and ledger.has_layout
        assert ledger.save_layout() == data


def compare_ledger(cpp, py):
    compare_layout(cpp, py)
    n = cpp.PageLength()
    assert py.PageLength() == n
    assert py.FirstRow() == cpp.FirstRow()
    if n == 0:
        return 0
    assert np.array_equal(py.PageAsNumpy(), cpp.PageAsNumpy())
    for field in ("Stt", "Code", "Name", "Unit"):
        assert strings(getattr(py, field)(), n) == strings(getattr(cpp, field)(), n), field
    for field in ("QuantityAsNumpy", "UnitPriceAsNumpy", "AmountAsNumpy"):
        a, b = getattr(cpp, field)(), getattr(py, field)()
        assert np.array_equal(a, b, equal_nan=True), field
    assert np.array_equal(py.FlagsAsNumpy(), cpp.FlagsAsNumpy())
    for i in range(n):
        assert same_box(box(py.RowBbox(i)), box(cpp.RowBbox(i))), \
            (i, box(py.RowBbox(i)), box(cpp.RowBbox(i)))
    return n


def on_pixel_edge(cpp, dpi):
    """Whether the crop's width or height in pixels, (x1 - x0) x dpi / 72, lies within 1e-3 of
    a whole number: there, positions that agree to 1e-5 pt may round to sizes one apart."""
    x0, y0, x1, y1 = box(cpp.Bbox())
    return any(abs(v * dpi / 72.0 - round(v * dpi / 72.0)) < 1e-3 for v in (x1 - x0, y1 - y0))


def gray(e):
    shape = (e.Height(), e.Width(), 3)
    return e.PixelsAsNumpy()[:e.Stride() * e.Height()].reshape(shape).astype(float).mean(axis=2)


def likeness(a, b):
    """The best correlation of two grayscale crops over shifts of up to one pixel each way,
    without the table rules (rows darker than 250 across 90% of the width in either image):
    poppler snaps hairlines and glyph baselines to whole pixels, MuPDF does not."""
    best = -1.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            h, w = min(a.shape[0], b.shape[0]) - 1, min(a.shape[1], b.shape[1]) - 1
            pa = a[1:1 + h - 1, 1:1 + w - 1]
            pb = b[1 + dy:1 + dy + h - 1, 1 + dx:1 + dx + w - 1]
            keep = ~(((pa < 250).mean(axis=1) > 0.9) | ((pb < 250).mean(axis=1) > 0.9))
            if keep.sum() < 2 or pa[keep].std() == 0 or pb[keep].std() == 0:
                continue
            best = max(best, np.corrcoef(pa[keep].ravel(), pb[keep].ravel())[0, 1])
    return best


def compare_evidence(cpp, py):
    assert (py.Page(), py.Row(), py.Format(), py.Dpi()) == \
        (cpp.Page(), cpp.Row(), cpp.Format(), cpp.Dpi())
    assert same_box(box(py.Bbox()), box(cpp.Bbox())), (box(py.Bbox()), box(cpp.Bbox()))
    same_size = (py.Width(), py.Height()) == (cpp.Width(), cpp.Height())
    assert same_size or (on_pixel_edge(cpp, cpp.Dpi()) and
                         abs(py.Width() - cpp.Width()) <= 1 and
                         abs(py.Height() - cpp.Height()) <= 1), \
        ((py.Width(), py.Height()), (cpp.Width(), cpp.Height()), box(cpp.Bbox()))
    assert py.Stride() == 3 * py.Width() and cpp.Stride() == 3 * cpp.Width()
    assert py.PixelsLength() == py.Stride() * py.Height()
    # Two renderers: the same picture, not the same bytes.
    a, b = gray(cpp), gray(py)
    assert (a < 128).any() and (b < 128).any()
    assert likeness(a, b) > 0.8, likeness(a, b)
    return same_size


def compare_run(pdf, dpi, cpp, server):
    """Compares extract_worker's answers `cpp` with extract_worker.py's to the same requests;
    returns (rows, crops, crops one pixel apart) compared."""
    requests = []  # (request id, kind, page) in order
    for kind, page, data, _final in cpp:
        if data[4:8] == b"SPEX":
            rid = Extraction.Extraction.GetRootAs(memoryview(data), 0).RequestId()
        else:
            rid = Envelope.Envelope.GetRootAs(memoryview(data), 0)
            e = Error.Error()
            e.Init(rid.Body().Bytes, rid.Body().Pos)
            rid = e.RequestId()
        if not requests or requests[-1][0] != rid:
            requests.append((rid, kind, page))
    py = python_answers(server, pdf, dpi, requests)
    flat = [a for answers in py for a in answers]
    assert len(flat) == len(cpp), (len(flat), len(cpp))
    rows = crops = resized = 0
    for (kind, page, data, final), (pdata, pfinal) in zip(cpp, flat):
        assert pfinal == final, (kind, page)
        if data[4:8] == b"SPEV":
            e = Envelope.Envelope.GetRootAs(memoryview(data), 0)
            err = Error.Error()
            err.Init(e.Body().Bytes, e.Body().Pos)
            assert pdata == ("error", err.Code(), err.Message().decode()), pdata
            continue
        assert not isinstance(pdata, tuple), pdata
        m = Extraction.Extraction.GetRootAs(memoryview(data), 0)
        pm = Extraction.Extraction.GetRootAs(memoryview(pdata), 0)
        assert (pm.RequestId(), pm.BodyType()) == (m.RequestId(), m.BodyType())
        tag = m.BodyType()
        from shmpipe.schema import ExtractionBody as EB
        if tag == EB.ExtractionBody.DocumentInfo:
            a, b = body(data, DocumentInfo.DocumentInfo)[2], body(pdata, DocumentInfo.DocumentInfo)[2]
            assert (b.Pages(), b.MaxWidthPt(), b.MaxHeightPt()) == \
                (a.Pages(), a.MaxWidthPt(), a.MaxHeightPt())
        elif tag == EB.ExtractionBody.PageText:
            a, b = body(data, PageText.PageText)[2], body(pdata, PageText.PageText)[2]
            assert (b.Page(), b.WidthPt(), b.HeightPt()) == (a.Page(), a.WidthPt(), a.HeightPt())
            # poppler's physical layout sometimes glues two cells ("AF.84650Đào") where the
            # gap between them is narrower than a character cell: the same characters in the
            # same order, the spaces are not compared.
            assert "".join(b.Text().decode().split()) == "".join(a.Text().decode().split())
        elif tag == EB.ExtractionBody.LedgerBatch:
            rows += compare_ledger(body(data, LedgerBatch.LedgerBatch)[2],
                                   body(pdata, LedgerBatch.LedgerBatch)[2])
        elif tag == EB.ExtractionBody.Evidence:
            crops += 1
            resized += not compare_evidence(body(data, Evidence.Evidence)[2],
                                            body(pdata, Evidence.Evidence)[2])
        else:
            pytest.fail("unexpected answer %d" % tag)
    return rows, crops, resized


LEDGERS = [
    (["--lang", "vi", "--rows", "90", "--seed", "1", "--bad-rows", "3"], 150, "all"),
    (["--lang", "en", "--rows", "90", "--seed", "2", "--no-repeat-header"], 100, "all"),
    (["--lang", "vi", "--rows", "120", "--seed", "3", "--no-repeat-header", "--bad-rows", "5"],
     72, "2,0,1,3"),
    (["--lang", "en", "--rows", "45", "--seed", "4", "--bad-rows", "45"], 200, "1,0"),
]


@pytest.mark.parametrize("args,dpi,pages", LEDGERS,
                         ids=["vi-150dpi", "en-no-header-100dpi", "vi-out-of-order-72dpi",
                              "en-all-bad-200dpi"])
def test_same_answers_as_the_cpp_worker(tmp_path, args, dpi, pages):
    pdf = make_pdf(tmp_path, args)
    cpp = cpp_answers(tmp_path, pdf, dpi, pages)
    rows, crops, resized = compare_run(pdf, dpi, cpp, pyworker.Server(RING_MAX_MESSAGE))
    assert rows > 0 and crops == rows
    # Crops one pixel apart are each on a pixel edge (compare_evidence checks it); at 72 dpi,
    # where these ledgers' crops are whole points wide, that is about a fifth of them.
    assert resized <= crops // 4, "%d of %d crops one pixel apart" % (resized, crops)


def test_same_errors_as_the_cpp_worker(tmp_path):
    pdf = make_pdf(tmp_path, ["--lang", "en", "--rows", "10", "--seed", "5"])
    # Page 7 of a one-page document, and a dpi outside 18..1200.
    cpp = cpp_answers(tmp_path, pdf, 150, "6")
    compare_run(pdf, 150, cpp, pyworker.Server(RING_MAX_MESSAGE))
    (tmp_path / "cpp").rename(tmp_path / "cpp-page")
    cpp = cpp_answers(tmp_path, pdf, 1500, "0")
    compare_run(pdf, 1500, cpp, pyworker.Server(RING_MAX_MESSAGE))


@pytest.mark.parametrize("name", ["missing.pdf", "junk.pdf", "empty.pdf", "catalog.pdf",
                                  "locked.pdf"])
def test_same_error_for_a_bad_file(tmp_path, name):
    good = make_pdf(tmp_path, ["--lang", "en", "--rows", "20", "--seed", "6"])
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF at all\n")
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "catalog.pdf").write_bytes(
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n")
    subprocess.run(["qpdf", "--encrypt", "secret", "owner", "256", "--", str(good),
                    str(tmp_path / "locked.pdf")], check=True, timeout=60)
    cpp = cpp_answers(tmp_path, tmp_path / name, 150, "all")
    assert len(cpp) == 1 and cpp[0][2][4:8] == b"SPEV"
    compare_run(tmp_path / name, 150, cpp, pyworker.Server(RING_MAX_MESSAGE))


def test_a_crop_larger_than_the_ring_is_refused(tmp_path):
    pdf = make_pdf(tmp_path, ["--lang", "en", "--rows", "3", "--seed", "7"])
    server = pyworker.Server(64 << 10)
    answers = python_answers(server, pdf, 1200, [(1, "page", 0)])[0]
    assert answers[-1][0][0] == "error" and answers[-1][0][1] == pyworker.TOO_LARGE
    assert "the ring holds messages up to 65536" in answers[-1][0][2]


def test_a_damaged_request_is_a_bad_request():
    server = pyworker.Server(RING_MAX_MESSAGE)
    for data in (b"", b"\x00" * 3, b"\x08\x00\x00\x00SPEX\xff\xff\xff\x7f", b"garbage!SPEX"):
        with pytest.raises(pyworker.Failure) as e:
            server.serve(1, memoryview(data))
        assert e.value.code == pyworker.BAD_REQUEST


def test_the_python_worker_reads_tables_with_ledger_hpp_itself():
    """extraction_ledger is ledger.hpp and rules.hpp: rules from a bitmap, untrusted sizes and
    layouts refused without a crash."""
    import extraction_ledger as el
    image = np.full((300, 400, 3), 255, dtype=np.uint8)
    image[100, 20:380] = 0         # a horizontal rule, 1 px thick
    image[50:250, 200] = 0         # a vertical one crossing it
    image[30:36, 30:34] = 0        # a speck: no rule
    rules = el.find_rules(image.reshape(-1), 400, 300, 400 * 3, 3, 72.0)
    assert [round(y, 1) for y, _, _ in rules.horizontal] == [100.5]
    assert [round(x, 1) for x, _, _ in rules.vertical] == [200.5]
    # A buffer smaller than the sizes say: nothing read, nothing found.
    short = el.find_rules(image.reshape(-1)[:1000], 400, 300, 400 * 3, 3, 72.0)
    assert short.horizontal == [] and short.vertical == []
    reader = el.LedgerReader()
    assert not reader.has_layout and reader.save_layout() == b""
    for junk in (b"", b"\x01", b"\xff" * 64, bytes(range(256))):
        assert reader.restore_layout(junk) is False
    assert not reader.has_layout



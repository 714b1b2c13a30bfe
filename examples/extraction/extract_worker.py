#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""extract_worker.py: the PDF side of the extraction pipeline, in Python with PyMuPDF.

Started by `extract_core --worker python` through a shmpipe::Supervisor, in place of the C++
extract_worker (poppler). It speaks exactly the same messages (schemas/extraction.fbs, through
the generated shmpipe.schema modules): OpenDocument -> DocumentInfo; ExtractRequest for page p
-> PageText, LedgerBatch (final when the page has no rows), then one Evidence per row (the last
one final); anything wrong -> an Envelope Error with the C++ worker's codes and messages.

The ledger rows come from the words and rules of each page, read by ledger.hpp itself (the
extraction_ledger module), so the words must be poppler's: Words.of() builds them from PyMuPDF's characters the way
poppler's TextOutputDev does (a word ends at a space or a gap over 0.1 em; its box runs from
the baseline minus the font descriptor's Ascent to the baseline minus its Descent, not
MuPDF's glyph-box ascender/descender). Crops are cut from one render of the page with the
C++ worker's arithmetic, on the page size poppler renders (rounded to whole pixels).

Usage: started by the supervisor (the session comes from the environment); no arguments.
Exit status: 0 after Shutdown, 4 when the core is gone or stuck, 2 on a setup error, 1 with a
traceback on stderr on anything unexpected. SIGTERM and SIGINT end it at once, by that signal,
without a traceback (see _default_stop_signals).
"""

import math
import os
import signal
import sys
import traceback


def _default_stop_signals():
    """SIGINT (Ctrl-C reaches the whole process group) and SIGTERM (the supervisor's stop)
    end the worker at once, by that signal, as they end the C++ worker: no KeyboardInterrupt
    traceback, nothing to clean up (the session and its segment are the core's; the core sees
    the worker die and ends or restarts it). Leaving the session first would not be cleaner: a
    supervisor kills a worker that closes its session unasked, and the end would race."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    _default_stop_signals()  # already while the imports below run

import numpy as np

# The build tree's copy of this script (next to extract_core) finds the build tree's shmpipe
# package first: CMake writes its directory here. The source and installed copies leave it
# empty and use the shmpipe on sys.path.
_BUILD_TREE_PYTHON = ""
if _BUILD_TREE_PYTHON:
    sys.path.insert(0, _BUILD_TREE_PYTHON)

try:
    import fitz  # PyMuPDF (Debian python3-fitz)
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write("extract_worker.py: PyMuPDF is missing: apt-get install python3-fitz\n")
    sys.exit(2)

try:
    import flatbuffers
    from shmpipe.schema import BBox as _probe  # noqa: F401
except ImportError as e:  # pragma: no cover
    sys.stderr.write("extract_worker.py: %s: build shmpipe with SHMPIPE_BUILD_PYTHON and put "
                     "its python/ directory on PYTHONPATH, or install it (python3-flatbuffers "
                     "is needed too)\n" % e)
    sys.exit(2)
import extraction_ledger  # noqa: E402 (next to this script: ledger.hpp for Python)
from shmpipe.schema import (BBox, DocumentInfo, Evidence, ExtractionBody, ExtractRequest,
                            Extraction, LedgerBatch, OpenDocument, PageText, PixelFormat,
                            StringColumn)

# Envelope Error codes of this pipeline (as extract_worker.cpp).
UNREADABLE = 10  # missing, unreadable or damaged document
ENCRYPTED = 11   # needs a user password (one with an empty user password opens)
BAD_PAGE = 12    # page number out of range
TOO_LARGE = 13   # an evidence crop larger than the ring holds
BAD_REQUEST = 14  # not a request this worker serves

SEND_LIMIT = 30.0  # seconds: a core that reads nothing for this long is stuck (as the C++ one)

# ---------------------------------------------------------------------------------------------
# Ledger rows: examples/extraction/ledger.hpp and rules.hpp themselves, through the extension
# module extraction_ledger built next to this script; PyMuPDF gives the words and the render.


class Word:
    __slots__ = ("text", "x0", "y0", "x1", "y1", "font_size", "space_after")

    def __init__(self, text, x0, y0, x1, y1, font_size=0.0, space_after=True):
        self.text, self.x0, self.y0, self.x1, self.y1 = text, x0, y0, x1, y1
        self.font_size, self.space_after = font_size, space_after


class Row:
    """One ledger row, as extraction_ledger.LedgerReader.read_page() gives it."""
    __slots__ = ("page", "stt", "code", "name", "unit", "quantity", "unit_price", "amount",
                 "adds_up", "x0", "y0", "x1", "y1", "parts")

    def __init__(self, page, fields):
        self.page = page
        (self.stt, self.code, self.name, self.unit, self.quantity, self.unit_price, self.amount,
         self.adds_up, self.x0, self.y0, self.x1, self.y1, self.parts) = fields


class _Line:
    __slots__ = ("words", "y0", "y1")

    def __init__(self, y0, y1):
        self.words, self.y0, self.y1 = [], y0, y1


def _sane(w):
    far = 1e6
    return (bool(w.text) and all(math.isfinite(v) for v in (w.x0, w.x1, w.y0, w.y1)) and
            w.x0 <= w.x1 and w.y0 <= w.y1 and
            all(abs(v) < far for v in (w.x0, w.x1, w.y0, w.y1)))


def _em(w):
    size = w.font_size if math.isfinite(w.font_size) and w.font_size > 0 else w.y1 - w.y0
    return min(max(size, 1.0), 200.0)


def lines_of(words):
    """Words grouped into lines, as ledger.hpp groups them (for the page text)."""
    ordered = sorted((w for w in words if _sane(w)), key=lambda w: w.y0 + w.y1)  # stable
    lines = []
    for w in ordered:
        centre = (w.y0 + w.y1) / 2
        if not lines or centre > lines[-1].y1 or centre < lines[-1].y0:
            lines.append(_Line(w.y0, w.y1))
        lines[-1].words.append(w)
    for line in lines:
        line.words.sort(key=lambda w: w.x0)
        for w in line.words:
            line.y0 = min(line.y0, w.y0)
            line.y1 = max(line.y1, w.y1)
    return lines


RULES_DPI = 150  # the resolution rules are found at, as extract_worker.cpp's kRulesDpi


class Ledger:
    """The rows of a document, page after page: ledger.hpp's LedgerReader itself (through
    extraction_ledger), fed with PyMuPDF's words and the rules of its render of the page."""

    def __init__(self):
        self.reader = extraction_ledger.LedgerReader()
        self.render = None  # the last page's render at RULES_DPI, if it was rendered

    @property
    def has_layout(self):
        return self.reader.has_layout

    def read_page(self, page_no, words, page=None):
        """The rows on page `page_no`; `page` (a fitz.Page) is rendered for its rules when the
        page may hold a table, and that render kept in self.render for the crops."""
        tuples = [(w.text, w.x0, w.y0, w.x1, w.y1, w.font_size, w.space_after) for w in words]
        rules = extraction_ledger.Rules()
        self.render = None
        if page is not None and self.reader.may_hold_rows(tuples):
            self.render = render(page, RULES_DPI)
            if self.render is None:
                raise Failure(UNREADABLE, "page %d did not render" % (page_no + 1))
            pix = self.render
            rules = extraction_ledger.find_rules(pix.samples_mv, pix.width, pix.height,
                                                 pix.stride, pix.n, RULES_DPI)
        return [Row(page_no, r) for r in self.reader.read_page(page_no, tuples, rules)]

    def save_layout(self):
        """The reading state after the last page read (ledger.hpp's bytes): b"" before any
        table."""
        return self.reader.save_layout()

    def restore_layout(self, data):
        """Adopts save_layout()'s bytes, checked as untrusted; False, and nothing changed,
        when they are not a state this reader writes."""
        return self.reader.restore_layout(bytes(data))


def render(page, dpi):
    """The page rendered at `dpi` as RGB, or None when MuPDF cannot."""
    scale = dpi / 72.0
    try:
        pix = page.get_pixmap(matrix=fitz.Matrix(scale, scale), colorspace=fitz.csRGB,
                              alpha=False)
    except Exception:
        return None
    if pix is None or pix.width <= 0 or pix.height <= 0 or pix.n != 3:
        return None
    return pix


def _font_metrics(doc, page):
    """{font name without subset prefix: (ascent, descent)} as poppler's GfxFont reads them
    from each font's FontDescriptor (in units of the font size): the absolute value of a
    non-zero Ascent below 3 (x 1/1000), minus the absolute value of a non-zero Descent above -3,
    else poppler's defaults 0.95 and -0.35. A font without a descriptor (the standard 14) is
    left out: the caller uses MuPDF's own metrics for it."""
    metrics = {}
    for font in page.get_fonts(full=True):
        xref, basefont = font[0], font[3]
        name = basefont.split("+", 1)[1] if "+" in basefont[:7] else basefont
        kind, value = doc.xref_get_key(xref, "FontDescriptor")
        if kind != "xref":  # Type0: the descriptor belongs to the descendant font
            kind, value = doc.xref_get_key(xref, "DescendantFonts")
            if kind == "array":
                child = value.strip("[] ").split()
                if len(child) >= 3 and child[0].isdigit():
                    kind, value = doc.xref_get_key(int(child[0]), "FontDescriptor")
        if kind != "xref":
            continue
        descriptor = int(value.split()[0])
        ascent, descent = 0.95, -0.35
        kind, value = doc.xref_get_key(descriptor, "Ascent")
        if kind in ("int", "float"):
            t = abs(0.001 * float(value))
            if t != 0 and t < 3:
                ascent = t
        kind, value = doc.xref_get_key(descriptor, "Descent")
        if kind in ("int", "float"):
            t = -abs(0.001 * float(value))
            if t != 0 and t > -3:
                descent = t
        metrics.setdefault(name, (ascent, descent))
    return metrics


# Ligature glyphs of simple fonts, as poppler reads their glyph names: "fi" is two letters.
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}


def _split_ligature_fonts(doc, page):
    """Names (without subset prefix) of the page's fonts whose text comes from glyph names
    (no ToUnicode CMap): poppler spells their ligature glyphs out ("fi"), where MuPDF gives
    U+FB01. A ToUnicode CMap's U+FB01 stays one character in both."""
    split = set()
    for font in page.get_fonts(full=True):
        xref, basefont = font[0], font[3]
        name = basefont.split("+", 1)[1] if "+" in basefont[:7] else basefont
        if doc.xref_get_key(xref, "ToUnicode")[0] == "null":
            split.add(name)
    return split


def words_of(doc, page):
    """The page's words as poppler::page::text_list() reports them, in points on the displayed
    (rotated) page with y down: a word ends at a whitespace character, at a gap wider than 0.1
    of the font size, or where the baseline, font or size changes.

    Positions: MuPDF advances the pen by each glyph's /Widths entry rounded to a whole unit
    (1/1000 em) while poppler keeps the fraction, so MuPDF's glyph origins drift along a string
    (0.016 pt over an 18-character amount here), and a right-aligned number would end short of
    where poppler (and the PDF) puts it. A glyph whose origin is exactly where that rounded
    advance puts it continues the string: its position is recomputed from the previous one
    plus the previous glyph's exact advance (the width of its MuPDF box). Any other origin
    (a new text position, kerning, character or word spacing) is taken as it is."""
    metrics = _font_metrics(doc, page)
    split = _split_ligature_fonts(doc, page)
    rotate = page.rotation_matrix
    # poppler keeps a glyph that starts on the page even where it runs past the edge (a code
    # listing wider than the page keeps its last letter); MuPDF's page clip drops every glyph
    # not wholly inside. So nothing is clipped here, and poppler's test is made below: the
    # glyph's origin on the page, or its advance reaching into it (TextPage::addChar).
    raw = page.get_text("rawdict", flags=fitz.TEXT_PRESERVE_LIGATURES |
                        fitz.TEXT_PRESERVE_WHITESPACE, clip=fitz.Rect(-1e9, -1e9, 1e9, 1e9))
    bound = fitz.Rect(0, 0, page.cropbox.width, page.cropbox.height)  # text coordinates
    words = []
    for block in raw["blocks"]:
        for line in block.get("lines", ()):
            current = None  # [text, x0, x1, baseline, size, ascent, descent, font, space]
            pen = None  # (MuPDF origin x, exact x, exact advance, size, baseline) of the last
            for span in line["spans"]:
                size = span["size"]
                font = span["font"]
                ligatures = _LIGATURES if font in split else {}
                ascent, descent = metrics.get(font, (span["ascender"], span["descender"]))
                for ch in span["chars"]:
                    c = ch["c"]
                    c = ligatures.get(c, c)
                    ox, base = ch["origin"]
                    advance = ch["bbox"][2] - ch["bbox"][0]
                    if (ox + advance < bound.x0 or ox > bound.x1 or base < bound.y0 or
                            base > bound.y1):
                        continue
                    x0 = ox
                    if pen is not None and pen[3] == size and pen[4] == base and size > 0:
                        units = pen[2] * 1000 / size
                        for whole in (math.floor(units), round(units)):
                            if abs(ox - (pen[0] + whole * size / 1000)) < 2e-3:
                                x0 = pen[1] + pen[2]
                                break
                    pen = (ox, x0, advance, size, base)
                    x1 = x0 + advance
                    if c.isspace():
                        if current is not None:
                            current[8] = True
                            words.append(current)
                            current = None
                        continue
                    if current is not None and (x0 - current[2] > 0.1 * size or
                                                abs(base - current[3]) > 0.5 * size or
                                                size != current[4] or font != current[7]):
                        words.append(current)
                        current = None
                    if current is None:
                        current = [c, x0, x1, base, size, ascent, descent, font, False]
                    else:
                        current[0] += c
                        current[2] = max(current[2], x1)
            if current is not None:
                words.append(current)
    out = []
    for i, (text, x0, x1, base, size, ascent, descent, _, space) in enumerate(words):
        box = fitz.Rect(x0, base - ascent * size, x1, base - descent * size) * rotate
        # poppler's spaceAfter: the next word on the line starts after a gap (or a space).
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is not None and not space and abs(nxt[3] - base) <= 0.5 * size:
            space = nxt[1] - x1 > 0.1 * size
        out.append(Word(text, box.x0, box.y0, box.x1, box.y1, size, space))
    return out


def page_text(words):
    """The page's text in physical layout order: lines top to bottom, words left to right;
    words apart only where poppler puts a space (its words also end where the font changes:
    "memcheck.h" in one font and "." in another print as "memcheck.h.")."""
    out = []
    for line in lines_of(words):
        text = []
        previous = None
        for w in line.words:
            if previous is not None and (previous.space_after or
                                         w.x0 - previous.x1 > 0.1 * _em(w)):
                text.append(" ")
            text.append(w.text)
            previous = w
        out.append("".join(text))
    return "\n".join(out) + "\n"


def _media_size(page):
    """Width and height of the page's MediaBox as the PDF writes it (inherited from the page
    tree if need be). PyMuPDF's page.mediabox rounds the numbers to float32 first (595.2756
    becomes 595.276); poppler keeps doubles, and the sizes must be poppler's."""
    doc, xref = page.parent, page.xref
    for _ in range(64):  # a page tree deeper than this is a loop
        kind, value = doc.xref_get_key(xref, "MediaBox")
        if kind == "array":
            try:
                x0, y0, x1, y1 = (float(v) for v in value.strip("[] ").split())
                return abs(x1 - x0), abs(y1 - y0)
            except ValueError:
                break
        kind, value = doc.xref_get_key(xref, "Parent")
        if kind != "xref":
            break
        xref = int(value.split()[0])
    return page.mediabox.width, page.mediabox.height


def displayed_size(page):
    """Page size in points as displayed: the media box, sideways when rotated by 90 or 270
    (what extract_worker.cpp's displayed_size() computes from poppler)."""
    w, h = _media_size(page)
    if page.rotation % 180 == 90:
        w, h = h, w
    return np.float32(w), np.float32(h)


# ---------------------------------------------------------------------------------------------
# Building the replies (one FlatBufferBuilder each, sized so that it never grows: a growing
# builder copies everything it holds). A reply is memoryview(b.Bytes)[b.Head():]: the finished
# bytes where they lie, not Output()'s copy.

def _finished(b, root):
    b.Finish(root, file_identifier=b"SPEX")
    return memoryview(b.Bytes)[b.Head():]


def _extraction(b, request_id, kind, body):
    Extraction.Start(b)
    Extraction.AddRequestId(b, request_id)
    Extraction.AddBodyType(b, kind)
    Extraction.AddBody(b, body)
    return _finished(b, Extraction.End(b))


def _raw_vector(b, elem_size, alignment, data):
    """A vector of len(data) // elem_size elements whose bytes are `data` (a buffer): one
    copy, straight into the builder (CreateNumpyVector would make a temporary copy first)."""
    data = memoryview(data).cast("B")
    n = len(data) // elem_size
    b.StartVector(elem_size, n, alignment)
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    return b.EndVector()


def _string_column(b, values):
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    data = b.CreateByteVector(b"".join(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype="<u4")
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    offs = _raw_vector(b, 4, 4, offsets)
    StringColumn.Start(b)
    StringColumn.AddOffsets(b, offs)
    StringColumn.AddBytes(b, data)
    return StringColumn.End(b)


def build_document_info(request_id, pages, max_w, max_h):
    b = flatbuffers.Builder(128)
    DocumentInfo.Start(b)
    DocumentInfo.AddPages(b, pages)
    DocumentInfo.AddMaxWidthPt(b, float(max_w))
    DocumentInfo.AddMaxHeightPt(b, float(max_h))
    return _extraction(b, request_id, ExtractionBody.ExtractionBody.DocumentInfo,
                       DocumentInfo.End(b))


def build_page_text(request_id, page, text, width_pt, height_pt):
    data = text.encode("utf-8", "surrogatepass")
    b = flatbuffers.Builder(len(data) + 256)
    t = b.CreateString(data)
    PageText.Start(b)
    PageText.AddPage(b, page)
    PageText.AddText(b, t)
    PageText.AddWidthPt(b, float(width_pt))
    PageText.AddHeightPt(b, float(height_pt))
    return _extraction(b, request_id, ExtractionBody.ExtractionBody.PageText, PageText.End(b))


def build_ledger_batch(request_id, page, rows, layout=None):
    """`layout`: the reader's state after the page (bytes), None before any table."""
    text_bytes = sum(len(s.encode()) for r in rows for s in (r.stt, r.code, r.name, r.unit))
    b = flatbuffers.Builder(1024 + len(rows) * 80 + text_bytes + len(layout or b""))
    layout_at = None if layout is None else b.CreateByteVector(layout)
    stt = _string_column(b, [r.stt for r in rows])
    code = _string_column(b, [r.code for r in rows])
    name = _string_column(b, [r.name for r in rows])
    unit = _string_column(b, [r.unit for r in rows])
    quantity = _raw_vector(b, 8, 8, np.array([r.quantity for r in rows], dtype="<f8"))
    unit_price = _raw_vector(b, 8, 8, np.array([r.unit_price for r in rows], dtype="<f8"))
    amount = _raw_vector(b, 8, 8, np.array([r.amount for r in rows], dtype="<f8"))
    pages = _raw_vector(b, 4, 4, np.full(len(rows), page, dtype="<u4"))
    # The split price columns only when some row has a part (as extract_worker.cpp).
    split = any(not math.isnan(v) for r in rows for v in r.parts)
    parts = [_raw_vector(b, 8, 8, np.array([r.parts[k] for r in rows], dtype="<f8"))
             for k in range(6)] if split else []
    flags = _raw_vector(b, 1, 1, np.array([0 if r.adds_up else 1 for r in rows], dtype="u1"))
    # BBox is a struct of four float32: an (n, 4) float32 array is the vector's bytes.
    boxes = _raw_vector(b, 16, 4, np.array([(r.x0, r.y0, r.x1, r.y1) for r in rows],
                                           dtype="<f4").reshape(-1))
    LedgerBatch.Start(b)
    LedgerBatch.AddFirstRow(b, 0)  # rows are numbered within the page, as extract_worker does
    LedgerBatch.AddPage(b, pages)
    LedgerBatch.AddStt(b, stt)
    LedgerBatch.AddCode(b, code)
    LedgerBatch.AddName(b, name)
    LedgerBatch.AddUnit(b, unit)
    LedgerBatch.AddQuantity(b, quantity)
    LedgerBatch.AddUnitPrice(b, unit_price)
    LedgerBatch.AddAmount(b, amount)
    LedgerBatch.AddFlags(b, flags)
    LedgerBatch.AddRowBbox(b, boxes)
    for add, column in zip(_PART_ADDERS, parts):
        add(b, column)
    if layout_at is not None:
        LedgerBatch.AddLayout(b, layout_at)
    return _extraction(b, request_id, ExtractionBody.ExtractionBody.LedgerBatch,
                       LedgerBatch.End(b))


_PART_ADDERS = (LedgerBatch.AddUnitPriceMaterial, LedgerBatch.AddUnitPriceLabour,
                LedgerBatch.AddUnitPriceMachine, LedgerBatch.AddAmountMaterial,
                LedgerBatch.AddAmountLabour, LedgerBatch.AddAmountMachine)


def crop_of(row, dpi, page_pt, full_w, full_h):
    """extract_worker.cpp's send_evidence() arithmetic: the row's box with a 2 pt margin,
    clamped to the page, in points; and its pixels (px, py, pw, ph) on a full_w x full_h
    render at `dpi`."""
    scale = dpi / 72.0
    margin = 2.0
    pw_pt, ph_pt = float(page_pt[0]), float(page_pt[1])
    x0 = min(max(row.x0 - margin, 0.0), pw_pt)
    y0 = min(max(row.y0 - margin, 0.0), ph_pt)
    x1 = min(max(row.x1 + margin, x0), pw_pt)
    y1 = min(max(row.y1 + margin, y0), ph_pt)
    px = min(max(math.floor(x0 * scale), 0), full_w - 1)
    py = min(max(math.floor(y0 * scale), 0), full_h - 1)
    pw = min(max(math.ceil((x1 - x0) * scale), 1), full_w - px)
    ph = min(max(math.ceil((y1 - y0) * scale), 1), full_h - py)
    return (x0, y0, x1, y1), (px, py, pw, ph)


def build_evidence(request_id, page, index, box, pixels, dpi):
    """An Evidence of `pixels` (an (h, w, 3) uint8 array, any strides: a view into the render),
    copied once, row by row, into the message."""
    height, width = pixels.shape[0], pixels.shape[1]
    stride = width * 3
    size = stride * height
    b = flatbuffers.Builder(size + 512)
    b.StartVector(1, size, 1)
    b.head = b.head - size
    target = np.frombuffer(b.Bytes, dtype=np.uint8, count=size, offset=b.head)
    target.reshape(height, width, 3)[...] = pixels
    del target  # a live export of b.Bytes would pin the bytearray
    vec = b.EndVector()
    Evidence.Start(b)
    Evidence.AddPage(b, page)
    Evidence.AddRow(b, index)
    Evidence.AddBbox(b, BBox.CreateBBox(b, *box))
    Evidence.AddWidth(b, width)
    Evidence.AddHeight(b, height)
    Evidence.AddStride(b, stride)
    Evidence.AddFormat(b, PixelFormat.PixelFormat.RGB24)
    Evidence.AddDpi(b, dpi)
    Evidence.AddPixels(b, vec)
    return _extraction(b, request_id, ExtractionBody.ExtractionBody.Evidence, Evidence.End(b))


# ---------------------------------------------------------------------------------------------
# Serving requests: no shmpipe here, so that it runs (and is tested) without a session.

class Reply:
    """One answer: a FlatBuffer (`data`) and whether it is the request's last."""
    __slots__ = ("data", "final")

    def __init__(self, data, final):
        self.data, self.final = data, final


class Failure(Exception):
    """An Envelope Error answer: `code` and the message (the request's last answer)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def parse_request(data):
    """(body type, path, page, dpi, layout) of the Extraction request `data`, or Failure
    (layout: the bytes of ExtractRequest.layout, None when absent). Python's
    FlatBuffers has no verifier, but it reads through bounds-checked slices: a damaged message
    raises (struct.error, IndexError, ...), which is a bad request here, never a wild read."""
    try:
        if not Extraction.Extraction.ExtractionBufferHasIdentifier(data, 0):
            raise ValueError("file_identifier")
        message = Extraction.Extraction.GetRootAs(data, 0)
        kind = message.BodyType()
        table = message.Body()
        if kind == ExtractionBody.ExtractionBody.OpenDocument:
            body = OpenDocument.OpenDocument()
            body.Init(table.Bytes, table.Pos)
            page, dpi, layout = 0, 0, None
        elif kind == ExtractionBody.ExtractionBody.ExtractRequest:
            body = ExtractRequest.ExtractRequest()
            body.Init(table.Bytes, table.Pos)
            page, dpi = body.Page(), body.Dpi()
            layout = None if body.LayoutIsNone() else body.LayoutAsNumpy()
            layout = b"" if isinstance(layout, int) else layout  # 0 for an empty vector
            layout = None if layout is None else bytes(layout)
        else:
            raise Failure(BAD_REQUEST, "expected OpenDocument or ExtractRequest")
        path = (body.Path() or b"").decode("utf-8", "surrogateescape")
        return kind, path, page, dpi, layout
    except Failure:
        raise
    except Exception:
        raise Failure(BAD_REQUEST, "not a valid Extraction message") from None


class _Document:
    def __init__(self, path, doc):
        self.path, self.doc = path, doc
        self.ledger = Ledger()  # the state after the last page read


def crash_if_asked(page):
    """SHMPIPE_EXTRACT_CRASH=PAGE[:MARKER]: SIGKILL when opening 0-based page PAGE to read it
    (with MARKER, only while that file does not exist yet; it is created first):
    extract_worker.cpp's test hook."""
    spec = os.environ.get("SHMPIPE_EXTRACT_CRASH")
    if not spec:
        return
    target, _, marker = spec.partition(":")
    if not target.isdigit() or int(target) != page:
        return
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        except OSError:
            return  # crashed here once already
    os.kill(os.getpid(), signal.SIGKILL)


def trace_read(page):
    """SHMPIPE_EXTRACT_TRACE=FILE: appends "read PAGE" to FILE for every page opened to read
    (extract_worker.cpp's test hook: which pages a run read, and how often)."""
    path = os.environ.get("SHMPIPE_EXTRACT_TRACE")
    if not path:
        return
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, b"read %d\n" % page)  # one append: whole lines
    finally:
        os.close(fd)


class Server:
    """Answers Extraction requests. serve(id, data) yields Reply objects and raises Failure
    for an Error answer; `max_message` is the largest message the ring holds."""

    def __init__(self, max_message):
        self.max_message = max_message
        self.doc = None
        # MuPDF prints repair warnings of damaged files on stderr; the Error answer says enough.
        fitz.TOOLS.mupdf_display_errors(False)
        fitz.TOOLS.mupdf_display_warnings(False)

    def serve(self, request_id, data):
        """The answers to the Extraction message `data` (a buffer, read where it lies and not
        kept: the request may be released once this returns its generator)."""
        kind, path, page, dpi, layout = parse_request(data)
        if kind == ExtractionBody.ExtractionBody.OpenDocument:
            return self._serve_open(request_id, path)
        return self._serve_page(request_id, path, page, dpi, layout)

    def _open(self, path):
        if self.doc is not None and self.doc.path == path:
            return self.doc
        if self.doc is not None:
            self.doc.doc.close()
        self.doc = None
        try:
            doc = fitz.open(path, filetype="pdf")
        except Exception:
            doc = None
        # MuPDF repairs what poppler refuses (a file with no page tree opens as 0 pages, or
        # as nothing): both are "cannot open", as extract_worker answers them.
        if doc is None or (not doc.needs_pass and (not doc.is_pdf or doc.page_count <= 0)):
            if doc is not None:
                doc.close()
            raise Failure(UNREADABLE, "cannot open '%s': missing, unreadable or not a PDF" % path)
        if doc.needs_pass:  # MuPDF, like poppler, opens an empty user password itself
            doc.close()
            raise Failure(ENCRYPTED, "'%s' is encrypted and needs a password to open (none can "
                          "be given)" % path)
        self.doc = _Document(path, doc)
        return self.doc

    def _page(self, d, number):
        try:
            return d.doc.load_page(number)
        except Exception:
            return None

    def _open_for_reading(self, d, number):
        """Page `number` opened to read its content (not only its size): the test hooks."""
        crash_if_asked(number)
        trace_read(number)
        return self._page(d, number)

    def _serve_open(self, request_id, path):
        d = self._open(path)
        max_w = max_h = np.float32(0)
        for i in range(d.doc.page_count):
            p = self._page(d, i)
            if p is None:
                continue
            w, h = displayed_size(p)
            max_w, max_h = max(max_w, w), max(max_h, h)
        yield Reply(build_document_info(request_id, d.doc.page_count, max_w, max_h), True)

    def _serve_page(self, request_id, path, page_no, dpi, layout):
        """`layout`: the reading state before this page (untrusted), or None: the state the
        last page this worker read left (extract_worker.cpp's serve_page)."""
        d = self._open(path)
        pages = d.doc.page_count
        if page_no >= pages:
            raise Failure(BAD_PAGE, "page %d of '%s' (it has %d)" % (page_no + 1, path, pages))
        if dpi < 18 or dpi > 1200:
            raise Failure(BAD_REQUEST, "dpi %d outside 18..1200" % dpi)
        if layout is not None and not d.ledger.restore_layout(layout):
            raise Failure(BAD_REQUEST, "the layout sent with page %d (%d bytes) is not a reading "
                          "state this worker writes" % (page_no + 1, len(layout)))
        p = self._open_for_reading(d, page_no)
        if p is None:
            raise Failure(UNREADABLE, "page %d is damaged" % (page_no + 1))
        width_pt, height_pt = displayed_size(p)
        words = words_of(d.doc, p)
        yield Reply(build_page_text(request_id, page_no, page_text(words), width_pt, height_pt),
                    False)

        rows = d.ledger.read_page(page_no, words, p)
        layout = d.ledger.save_layout() if d.ledger.has_layout else None
        yield Reply(build_ledger_batch(request_id, page_no, rows, layout), not rows)
        if not rows:
            return
        # One render of the page for all its crops, as extract_worker.cpp does. poppler renders
        # round(size x dpi / 72) pixels; MuPDF covers every pixel the page touches (one more
        # where the size is not whole): the crops are computed on poppler's size.
        scale = dpi / 72.0
        pix = d.ledger.render if dpi == RULES_DPI and d.ledger.render is not None else \
            render(p, dpi)
        if pix is None:
            raise Failure(UNREADABLE, "page %d did not render" % (page_no + 1))
        full_w = min(pix.width, int(float(width_pt) * scale + 0.5))
        full_h = min(pix.height, int(float(height_pt) * scale + 0.5))
        image = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)
        for i, row in enumerate(rows):
            box, (px, py, pw, ph) = crop_of(row, dpi, (width_pt, height_pt), full_w, full_h)
            size = pw * 3 * ph
            if size + 1024 > self.max_message:
                raise Failure(TOO_LARGE, "evidence crop %dx%d at %d dpi needs %d bytes; the ring "
                              "holds messages up to %d" % (pw, ph, dpi, size, self.max_message))
            pixels = image[py:py + ph, px * 3:(px + pw) * 3].reshape(ph, pw, 3)
            yield Reply(build_evidence(request_id, page_no, i, box, pixels, dpi),
                        i + 1 == len(rows))


# ---------------------------------------------------------------------------------------------

def serve(worker, server):
    """Answers requests until the core asks to shut down (returns) or goes away (shmpipe.Error).
    Health checks are answered inside the library's receive(), between requests."""
    for request in worker:
        request_id = request.request_id
        try:
            with request:  # parsed, then released before the work: nothing of it is kept
                answers = server.serve(request_id, request.data)
            for reply in answers:
                worker.reply(request_id, reply.data, final=reply.final, timeout=SEND_LIMIT)
        except Failure as f:
            worker.error(request_id, f.code, str(f), timeout=SEND_LIMIT)


def main():
    _default_stop_signals()
    if len(sys.argv) > 1:
        sys.stderr.write("usage: %s (started by extract_core, which sets SHMPIPE_SESSION)\n"
                         % sys.argv[0])
        return 2
    import shmpipe
    try:
        worker = shmpipe.Worker.attach_supervised(worker_name="extract_worker.py",
                                                  capabilities=["ledger", "evidence"])
    except shmpipe.Error as e:  # no session, or no core: nothing to serve
        sys.stderr.write("extract_worker.py: %s\n" % e)
        return 2
    try:
        with worker:
            try:
                serve(worker, Server(worker.max_message))
            except shmpipe.Error:  # the core is gone or stuck: below
                raise
            except Exception:  # noqa: BLE001 - a bug, or PyMuPDF failing on a page: crash
                # The traceback goes out while the worker is still in the session, and the
                # process ends at once: a supervisor takes a session closed unasked for the
                # worker's end and kills it, which would cut the traceback short or turn
                # status 1 into SIGKILL. The supervisor restarts the worker; the core retries
                # the page once.
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
        return 0
    except shmpipe.Error as e:  # the core is gone or stuck: nothing is left to serve
        sys.stderr.write("extract_worker.py: %s\n" % e)
        return 4


if __name__ == "__main__":
    sys.exit(main())

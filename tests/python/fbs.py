# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""The few messages of schemas/extraction.fbs and envelope.fbs the Python tests speak, built and
read with the flatbuffers runtime (Debian python3-flatbuffers) by slot number, so that the tests
do not depend on generated code. Readers take any buffer (a memoryview into the ring too) and
return plain values: no object here keeps a view alive."""
import flatbuffers
from flatbuffers import encode, table
from flatbuffers import number_types as N

EXTRACTION_ID = b"SPEX"
ENVELOPE_ID = b"SPEV"
BODY_EXTRACT_REQUEST = 1  # ExtractionBody
BODY_PAGE_TEXT = 2
CONTROL_ERROR = 6  # envelope Control


def _extraction(b, request_id, body_type, body):
    b.StartObject(3)  # request_id, body_type, body
    b.PrependUint64Slot(0, request_id, 0)
    b.PrependUint8Slot(1, body_type, 0)
    b.PrependUOffsetTRelativeSlot(2, body, 0)
    b.Finish(b.EndObject(), file_identifier=EXTRACTION_ID)
    return bytes(b.Output())


def extract_request(path, page, request_id=0):
    """An Extraction holding ExtractRequest{path, page}."""
    b = flatbuffers.Builder(64)
    p = b.CreateString(path)
    b.StartObject(4)  # path, page, bbox, dpi
    b.PrependUOffsetTRelativeSlot(0, p, 0)
    b.PrependUint32Slot(1, page, 0)
    return _extraction(b, request_id, BODY_EXTRACT_REQUEST, b.EndObject())


def page_text(page, text, request_id=0):
    """An Extraction holding PageText{page, text}."""
    b = flatbuffers.Builder(64)
    t = b.CreateString(text)
    b.StartObject(4)  # page, text, width_pt, height_pt
    b.PrependUint32Slot(0, page, 0)
    b.PrependUOffsetTRelativeSlot(1, t, 0)
    return _extraction(b, request_id, BODY_PAGE_TEXT, b.EndObject())


def _root(buf, identifier):
    got = bytes(buf[4:8])
    if got != identifier:
        raise ValueError(f"file identifier {got!r}, expected {identifier!r}")
    return table.Table(buf, encode.Get(N.UOffsetTFlags.packer_type, buf, 0))


def _field(t, slot):
    return t.Offset(4 + 2 * slot)


def _body(t, type_slot):
    o = _field(t, type_slot)
    kind = t.Get(N.Uint8Flags, t.Pos + o) if o else 0
    sub = table.Table(t.Bytes, 0)
    o = _field(t, type_slot + 1)
    if not o:
        return kind, None
    t.Union(sub, o)
    return kind, sub


def _uint(t, slot, flags=N.Uint32Flags):
    o = _field(t, slot)
    return t.Get(flags, t.Pos + o) if o else 0


def _string(t, slot):
    o = _field(t, slot)
    return t.String(t.Pos + o).decode() if o else None


def read_extract_request(buf):
    """(path, page) of an Extraction holding an ExtractRequest."""
    kind, body = _body(_root(buf, EXTRACTION_ID), 1)
    if kind != BODY_EXTRACT_REQUEST:
        raise ValueError(f"Extraction body type {kind}, not ExtractRequest")
    return _string(body, 0), _uint(body, 1)


def read_page_text(buf):
    """(page, text) of an Extraction holding a PageText."""
    kind, body = _body(_root(buf, EXTRACTION_ID), 1)
    if kind != BODY_PAGE_TEXT:
        raise ValueError(f"Extraction body type {kind}, not PageText")
    return _uint(body, 0), _string(body, 1)


def read_error(buf):
    """(code, message, request_id) of an Envelope holding an Error."""
    kind, body = _body(_root(buf, ENVELOPE_ID), 0)
    if kind != CONTROL_ERROR:
        raise ValueError(f"Envelope body type {kind}, not Error")
    return _uint(body, 0, N.Int32Flags), _string(body, 1), _uint(body, 2, N.Uint64Flags)


CONTROL_WARNING = 7  # envelope Control


def read_warning(buf):
    """(code, message, rss_bytes) of an Envelope holding a Warning."""
    kind, body = _body(_root(buf, ENVELOPE_ID), 0)
    if kind != CONTROL_WARNING:
        raise ValueError(f"Envelope body type {kind}, not Warning")
    return _uint(body, 0, N.Int32Flags), _string(body, 1), _uint(body, 2, N.Uint64Flags)

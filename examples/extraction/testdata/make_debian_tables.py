#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Builds table PDFs from real Debian data with producers other than ReportLab, and the
ledger.csv extract_core should produce from the bills of quantities among them.

    make_debian_tables.py OUTDIR [--rows N] [--only NAME,...]

Writes OUTDIR/NAME.pdf for every table below, OUTDIR/NAME.csv (the expected ledger.csv) for
the bills of quantities, and OUTDIR/tables.json: [{name, pdf, csv (or null), producer, data}].

groff (`groff -t -ms -Tpdf`, tbl; Debian `groff`):
  iso3166-box      /usr/share/zoneinfo/iso3166.tab (tzdata): code and country, a framed
                   table with a rule between the columns, over several pages (header repeated)
  iso3166-plain    the same without any rule
  services-allbox  /etc/services (netbase): every cell ruled
  boq-en-allbox    a bill of quantities in English (No., Code, Description, Unit, Quantity,
                   Unit price, Amount), every cell ruled, descriptions wrapping onto two or
                   three lines (top-aligned, as tbl places them), section heading rows (I, II,
                   ...) and subtotal rows; items are the installed packages of
                   /var/lib/dpkg/status: Code = package, Description = its synopsis, Unit =
                   KiB, Quantity = Installed-Size, Unit price = a tariff by Priority (below)
  boq-en-plain     the same without any rule
LibreOffice Calc (`soffice --headless --convert-to pdf` of a flat ODS; Debian
`libreoffice-calc-nogui`; skipped, and left out of tables.json, when soffice is missing):
  boq-vi-calc-grid   a bill of quantities in Vietnamese (STT, Mã hiệu, Tên công việc, Đơn vị,
                     Khối lượng, Đơn giá, Thành tiền), cell borders, wrapped names centred
                     vertically (the common spreadsheet template), numbers in the Vietnamese
                     convention (1.234,56) with amounts as formulas, the header row repeated
                     on every page; items are Vietnamese messages of the installed packages'
                     translation catalogs (/usr/share/locale/vi/LC_MESSAGES/*.mo): Mã hiệu =
                     catalog.number, Tên công việc = the message, Đơn vị = "100 ký tự",
                     Khối lượng = the English original's length / 100, Đơn giá = a tariff by
                     length (below), Thành tiền = ROUND(Khối lượng x Đơn giá)
  boq-vi-calc-plain  the same without borders, cells at the spreadsheet's default (bottom)
                     alignment

The names, codes and quantities are real data of the machine the script runs on; the unit
prices are a tariff of this script (a bill of quantities needs prices, Debian has none). So the
PDFs differ from machine to machine, and the expected CSV is derived from the same data in the
same run. Section headings, subtotal and total rows are not ledger rows and are not in the CSV.
The page of each row is the page on which `pdftotext -layout` prints the row's number followed
by its code (codes are unique): the producers decide the page breaks, not this script.
"""

import argparse
import csv
import gettext
import glob
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from decimal import Decimal, ROUND_HALF_UP
from xml.sax.saxutils import escape

GROFF = ["groff", "-t", "-ms", "-Tpdf", "-dpaper=a4", "-P-pa4"]
CSV_HEADER = (["page", "stt", "code", "name", "unit", "quantity", "unit_price", "amount",
               "unit_price_material", "unit_price_labour", "unit_price_machine",
               "amount_material", "amount_labour", "amount_machine", "evidence"])
# Unit prices per KiB by Debian Priority (the English bills).
TARIFF_EN = {"required": Decimal("2.40"), "important": Decimal("1.75"),
             "standard": Decimal("1.20"), "optional": Decimal("0.85"), "extra": Decimal("0.60")}
# Unit prices in VND per 100 characters, by message length (the Vietnamese bills).
TARIFF_VI = [(40, Decimal(28500)), (80, Decimal(32000)), (10 ** 9, Decimal(35750))]
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def fail(why):
    sys.exit("make_debian_tables.py: " + why)


def plain(value):
    """The CSV form of a number: integral without '.0', else the shortest round-trip repr
    (std::to_chars' fixed form, as extract_core writes it)."""
    f = float(value)
    return str(int(f)) if f == int(f) else repr(f)


def grouped(value, thousands, decimal, places):
    text = format(abs(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")
    whole, _, frac = text.partition(".")
    parts = []
    while len(whole) > 3:
        parts.insert(0, whole[-3:])
        whole = whole[:-3]
    parts.insert(0, whole)
    return ("-" if value < 0 else "") + thousands.join(parts) + (decimal + frac if frac else "")


# ---------------------------------------------------------------------------------------------
# Real data


def iso3166():
    rows = []
    with open("/usr/share/zoneinfo/iso3166.tab", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or "\t" not in line:
                continue
            code, name = line.rstrip("\n").split("\t", 1)
            rows.append((code, name))
    if len(rows) < 100:
        fail("/usr/share/zoneinfo/iso3166.tab has %d countries (tzdata missing?)" % len(rows))
    return rows


def services(limit):
    rows = []
    with open("/etc/services", encoding="utf-8") as f:
        for line in f:
            body, _, comment = line.rstrip("\n").partition("#")
            fields = body.split()
            if len(fields) < 2 or "/" not in fields[1]:
                continue
            port, proto = fields[1].split("/", 1)
            rows.append((fields[0], port, proto, " ".join(fields[2:]), comment.strip()))
    if len(rows) < 50:
        fail("/etc/services has %d services (netbase missing?)" % len(rows))
    return rows[:limit]


def installed_packages():
    """(section, package, synopsis, installed KiB, priority) of installed packages."""
    out = []
    with open("/var/lib/dpkg/status", encoding="utf-8") as f:
        for stanza in f.read().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if line[:1] not in (" ", "\t") and ":" in line:
                    key, _, value = line.partition(":")
                    fields[key] = value.strip()
            if fields.get("Status") != "install ok installed":
                continue
            try:
                size = int(fields.get("Installed-Size", ""))
            except ValueError:
                continue
            out.append((fields.get("Section", "misc").split("/")[-1], fields["Package"],
                        fields.get("Description", ""), size, fields.get("Priority", "optional")))
    return out


def boq_en_items(n):
    """Sections (largest first, at most 5) of packages whose name fits the Code column and
    whose synopsis is plain ASCII without hyphens (tbl breaks lines after a hyphen: the
    printed name would then be ambiguous)."""
    by_section = {}
    for section, name, synopsis, size, priority in installed_packages():
        if (len(name) <= 14 and 10 <= len(synopsis) <= 90 and synopsis.isascii() and
                not re.search(r"[-\\@]", synopsis) and priority in TARIFF_EN and size > 0):
            by_section.setdefault(section, []).append((name, synopsis, size, priority))
    sections = sorted(by_section.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    if sum(len(v) for _, v in sections) < 30:
        fail("too few installed packages in /var/lib/dpkg/status for a bill of quantities")
    per = max(1, n // len(sections))
    out = []
    for section, packages in sorted(sections):
        items = []
        for name, synopsis, size, priority in sorted(packages)[:per]:
            price = TARIFF_EN[priority]
            items.append({"code": name, "name": synopsis, "unit": "KiB", "qty": Decimal(size),
                          "price": price,
                          "amount": (size * price).quantize(Decimal("0.01"))})
        out.append((section.upper(), items))
    return out


def boq_vi_items(n):
    """Sections (one per translation catalog, at most 6) of Vietnamese messages that wrap
    only at spaces (no hyphen or slash) and hold no format directives."""
    catalogs = []
    for mo in sorted(glob.glob("/usr/share/locale/vi/LC_MESSAGES/*.mo")):
        try:
            with open(mo, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog
        except Exception:  # noqa: BLE001 - a damaged or foreign catalog is not data
            continue
        messages = []
        for msgid, msgstr in sorted((k, v) for k, v in catalog.items() if isinstance(k, str)):
            text = " ".join(msgstr.split())
            if (msgid and 25 <= len(text) <= 110 and not re.search(r"[-%/\\{}<>_&|\"=:;\[\]]",
                                                                     text + msgid) and
                    max(len(w) for w in text.split()) <= 16 and not text.isascii()):
                messages.append((msgid, text))
        domain = os.path.basename(mo)[:-3]
        if len(messages) >= 8 and re.fullmatch(r"[a-z0-9]{1,10}", domain):  # fits Mã hiệu
            catalogs.append((domain, messages))
    if len(catalogs) < 2:
        fail("too few Vietnamese translation catalogs under /usr/share/locale/vi/LC_MESSAGES "
             "for a bill of quantities")
    catalogs = sorted(catalogs, key=lambda c: (-len(c[1]), c[0]))[:6]
    per = max(1, n // len(catalogs))
    out = []
    for domain, messages in sorted(catalogs):
        items = []
        for k, (msgid, text) in enumerate(messages[:per]):
            qty = (Decimal(len(msgid)) / 100).quantize(Decimal("0.01"))
            price = next(p for limit, p in TARIFF_VI if len(text) <= limit)
            items.append({"code": "%s.%03d" % (domain, k + 1), "name": text,
                          "unit": "100 ký tự", "qty": qty, "price": price,
                          "amount": (qty * price).quantize(Decimal(1), rounding=ROUND_HALF_UP)})
        out.append(("Gói " + domain, items))
    return out


# ---------------------------------------------------------------------------------------------
# groff


def roff(text):
    """Text safe in a tbl cell: backslashes and quotes spelled out, no leading control
    character, the tab (tbl's column separator) impossible."""
    text = text.replace("\\", "\\e").replace("'", "\\(aq").replace("`", "\\(ga")
    text = text.replace("\t", " ")
    return "\\&" + text


def block(text):
    """A tbl text block (filled, wrapping at spaces only: ms turns hyphenation back on for
    each paragraph, and a block starts one)."""
    return "T{\n.nh\n%s\nT}" % roff(text)


PREAMBLE = """.\\" generated by make_debian_tables.py
.nr PO 0.6i
.nr LL 7.0i
.nr PS 10
.nr VS 12
.nr HY 0
.nh
.na
"""


def groff_pdf(source, pdf):
    with open(pdf, "wb") as out:
        r = subprocess.run(GROFF, input=source.encode(), stdout=out, stderr=subprocess.PIPE,
                           timeout=120)
    if r.returncode != 0 or r.stderr.strip():
        fail("%s: groff: %s" % (pdf, r.stderr.decode(errors="replace").strip() or r.returncode))


def iso3166_groff(ruled):
    rows = iso3166()
    lines = [PREAMBLE, ".SH\nCountry codes (ISO 3166) from tzdata\n.PP\n.TS H\n",
             ("box tab(\t);\ncb | cb\nl | l.\n" if ruled else "tab(\t);\ncb cb\nl l.\n"),
             "Code\tCountry\n", "_\n" if ruled else "", ".TH\n"]
    lines += ["%s\t%s\n" % (roff(c), roff(n)) for c, n in rows]
    lines.append(".TE\n")
    return "".join(lines)


def services_groff(limit):
    rows = services(limit)
    lines = [PREAMBLE, ".SH\nNetwork services (/etc/services)\n.PP\n.TS H\n",
             "allbox tab(\t);\ncb cb cb cb cb\nl n l l lw(2.8i).\n",
             "Service\tPort\tProtocol\tAliases\tComment\n", ".TH\n"]
    for name, port, proto, aliases, comment in rows:
        lines.append("%s\t%s\t%s\t%s\t%s\n" % (roff(name), port, roff(proto), roff(aliases),
                                               block(comment)))
    lines.append(".TE\n")
    return "".join(lines)


def boq_groff(sections, ruled):
    spec = "cb cb cb cb cb cb cb"
    body = "r l lw(2.0i) c r r r"
    heading = "r lb s s s s s"
    subtotal = "r l l l r r rb"
    options = "allbox tab(\t);" if ruled else "tab(\t);"
    out = [PREAMBLE, ".SH\nBill of quantities: installed Debian packages\n.PP\n",
           "Quantities are installed sizes in KiB; unit prices per KiB by package priority.\n",
           # The first heading's format is given here: tbl ignores a .T& right after .TH.
           ".TS H\n%s\n%s\n%s\n%s.\n" % (options, spec, heading, body),
           "No.\tCode\tDescription\tUnit\tQuantity\tUnit price\tAmount\n",
           "" if ruled else "_\n", ".TH\n"]
    number = 0
    total = Decimal(0)
    rows = []
    for k, (title, items) in enumerate(sections):
        if k:
            out.append(".T&\n%s.\n" % heading)
        out.append("%s\t%s\n" % (ROMAN[k], roff(title)))
        out.append(".T&\n%s.\n" % body)
        subtotal_value = Decimal(0)
        for item in items:
            number += 1
            out.append("%d\t%s\t%s\t%s\t%s\t%s\t%s\n" % (
                number, roff(item["code"]), block(item["name"]), item["unit"],
                grouped(item["qty"], ",", ".", 0), grouped(item["price"], ",", ".", 2),
                grouped(item["amount"], ",", ".", 2)))
            subtotal_value += item["amount"]
            rows.append(dict(item, stt=str(number)))
        total += subtotal_value
        out.append(".T&\n%s.\n\t\tSubtotal %s\t\t\t\t%s\n" % (
            subtotal, ROMAN[k], grouped(subtotal_value, ",", ".", 2)))
    out.append("\t\tTOTAL\t\t\t\t%s\n.TE\n" % grouped(total, ",", ".", 2))
    return "".join(out), rows


# ---------------------------------------------------------------------------------------------
# LibreOffice Calc (flat ODS)

FODS_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
 xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:font-face-decls>
 <style:font-face style:name="DejaVu Sans" svg:font-family="&apos;DejaVu Sans&apos;"
  xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/>
</office:font-face-decls>
<office:styles>
 <style:default-style style:family="table-cell">
  <style:text-properties style:font-name="DejaVu Sans" fo:font-size="9pt"
   fo:language="vi" fo:country="VN"/>
 </style:default-style>
 <number:number-style style:name="N0" number:language="vi" number:country="VN">
  <number:number number:decimal-places="0" number:min-integer-digits="1" number:grouping="true"/>
 </number:number-style>
 <number:number-style style:name="N2" number:language="vi" number:country="VN">
  <number:number number:decimal-places="2" number:min-decimal-places="2"
   number:min-integer-digits="1" number:grouping="true"/>
 </number:number-style>
</office:styles>
<office:automatic-styles>
 <style:page-layout style:name="pm1">
  <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm"
   fo:margin-top="1.2cm" fo:margin-bottom="1.2cm" fo:margin-left="1cm" fo:margin-right="1cm"
   style:print-orientation="portrait"/>
  <style:header-style/>
  <style:footer-style><style:header-footer-properties fo:min-height="0.6cm"/></style:footer-style>
 </style:page-layout>
%(columns)s
 <style:style style:name="ro1" style:family="table-row">
  <style:table-row-properties style:use-optimal-row-height="true"/></style:style>
 <style:style style:name="ta1" style:family="table" style:master-page-name="Default">
  <style:table-properties table:display="true"/></style:style>
%(cells)s
</office:automatic-styles>
<office:master-styles>
 <style:master-page style:name="Default" style:page-layout-name="pm1">
  <style:header style:display="false"/>
  <style:footer><text:p>Trang <text:page-number>1</text:page-number></text:p></style:footer>
 </style:master-page>
</office:master-styles>
<office:body><office:spreadsheet><table:table table:name="DuToan" table:style-name="ta1">
 <table:table-column table:style-name="co1"/><table:table-column table:style-name="co2"/>
 <table:table-column table:style-name="co3"/><table:table-column table:style-name="co4"/>
 <table:table-column table:style-name="co5"/><table:table-column table:style-name="co6"/>
 <table:table-column table:style-name="co7"/>
"""


# Column widths (cm) of STT, Mã hiệu, Tên công việc, Đơn vị, Khối lượng, Đơn giá, Thành tiền:
# every header fits on one line; 18.1 of the 19 cm between the margins.
COLUMN_CM = [1.1, 2.6, 6.3, 1.8, 2.2, 1.8, 2.3]


def column_styles():
    return "\n".join(
        ' <style:style style:name="co%d" style:family="table-column">'
        '<style:table-column-properties style:column-width="%.1fcm"/></style:style>' % (k + 1, w)
        for k, w in enumerate(COLUMN_CM))


def cell_styles(ruled):
    border = ' fo:border="0.5pt solid #000000"' if ruled else ""
    valign = ' style:vertical-align="middle"' if ruled else ""
    styles = []
    for name, align, data, bold in (("hd", "center", None, True), ("tx", "start", None, False),
                                    ("tc", "center", None, False), ("n0", "end", "N0", False),
                                    ("n2", "end", "N2", False), ("sb", "start", None, True),
                                    ("sn", "end", "N0", True), ("ti", "center", None, True)):
        frame = "" if name == "ti" else border
        styles.append(
            ' <style:style style:name="%s" style:family="table-cell" style:parent-style-name='
            '"Default"%s><style:table-cell-properties fo:wrap-option="wrap"%s%s/>'
            '<style:paragraph-properties fo:text-align="%s"/>%s</style:style>' %
            (name, ' style:data-style-name="%s"' % data if data else "", frame,
             ' style:vertical-align="middle"' if name in ("hd", "ti") else valign, align,
             '<style:text-properties fo:font-weight="bold"/>' if bold else ""))
    return "\n".join(styles)


def text_cell(style, text, span=1):
    spanned = ' table:number-columns-spanned="%d"' % span if span > 1 else ""
    return ('<table:table-cell table:style-name="%s" office:value-type="string"%s>'
            '<text:p>%s</text:p></table:table-cell>' % (style, spanned, escape(text)) +
            "<table:covered-table-cell/>" * (span - 1))


def number_cell(style, value, formula=None):
    f = ' table:formula="%s"' % escape(formula) if formula else ""
    return ('<table:table-cell table:style-name="%s" office:value-type="float" '
            'office:value="%s"%s/>' % (style, value, f))


def boq_fods(sections, ruled):
    def row(cells):
        return '<table:table-row table:style-name="ro1">%s</table:table-row>\n' % "".join(cells)

    out = [FODS_HEAD % {"columns": column_styles(), "cells": cell_styles(ruled)},
           row([text_cell("ti", "BẢNG DỰ TOÁN: DỊCH CÁC GÓI PHẦN MỀM DEBIAN", 7)]),
           "<table:table-header-rows>\n",
           row([text_cell("hd", h) for h in ("STT", "Mã hiệu", "Tên công việc", "Đơn vị",
                                             "Khối lượng", "Đơn giá", "Thành tiền")]),
           "</table:table-header-rows>\n"]
    line = 3  # spreadsheet row of the next item (title 1, header 2)
    number = 0
    total_rows = []
    rows = []
    for k, (title, items) in enumerate(sections):
        out.append(row([text_cell("sb", ROMAN[k]), text_cell("sb", title, 6)]))
        line += 1
        first = line
        for item in items:
            number += 1
            out.append(row([
                text_cell("tc", str(number)), text_cell("tx", item["code"]),
                text_cell("tx", item["name"]), text_cell("tc", item["unit"]),
                number_cell("n2", item["qty"]), number_cell("n0", item["price"]),
                number_cell("n0", item["amount"], "of:=ROUND([.E%d]*[.F%d];0)" % (line, line))]))
            rows.append(dict(item, stt=str(number)))
            line += 1
        subtotal = sum(i["amount"] for i in items)
        out.append(row([text_cell("sb", ""), text_cell("sb", ""),
                        text_cell("sb", "Cộng " + ROMAN[k]), text_cell("sb", ""),
                        text_cell("sb", ""), text_cell("sb", ""),
                        number_cell("sn", subtotal, "of:=SUM([.G%d:.G%d])" % (first, line - 1))]))
        total_rows.append(line)
        line += 1
    total = sum(r["amount"] for r in rows)
    out.append(row([text_cell("sb", ""), text_cell("sb", ""), text_cell("sb", "TỔNG CỘNG"),
                    text_cell("sb", ""), text_cell("sb", ""), text_cell("sb", ""),
                    number_cell("sn", total, "of:=" + "+".join("[.G%d]" % r
                                                                for r in total_rows))]))
    out.append("</table:table></office:spreadsheet></office:body></office:document>\n")
    return "".join(out), rows


def soffice_pdfs(fods_files, outdir):
    """Converts with a private LibreOffice profile; the whole process group is ended on a
    time-out (soffice starts soffice.bin as a child)."""
    profile = tempfile.mkdtemp(prefix="make_debian_tables-lo-")
    try:
        proc = subprocess.Popen(
            ["soffice", "-env:UserInstallation=file://" + profile, "--headless", "--norestore",
             "--convert-to", "pdf", "--outdir", outdir] + fods_files,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            fail("soffice did not finish in 180 s")
        for f in fods_files:
            pdf = os.path.join(outdir, os.path.basename(f)[:-5] + ".pdf")
            if proc.returncode != 0 or not os.path.exists(pdf):
                fail("soffice could not convert %s (status %d): %s" %
                     (f, proc.returncode, out.decode(errors="replace").strip()))
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


def pages_of(pdf, rows):
    """The page (1-based) on which pdftotext -layout prints each row's number and code as
    consecutive words."""
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", pdf, "-"],
                          capture_output=True, check=True, timeout=120).stdout.decode()
    words = [page.split() for page in text.split("\f")]
    out = []
    for r in rows:
        found = [p + 1 for p, w in enumerate(words)
                 if any(w[i] == r["stt"] and w[i + 1] == r["code"] for i in range(len(w) - 1))]
        if len(found) != 1:
            fail("%s: row %s %s is printed on pages %s, not on exactly one" %
                 (pdf, r["stt"], r["code"], found))
        out.append(found[0])
    return out


def write_csv(path, pdf, rows):
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(CSV_HEADER)
    for i, (page, r) in enumerate(zip(pages_of(pdf, rows), rows)):
        table.writerow([page, r["stt"], r["code"], r["name"], r["unit"], plain(r["qty"]),
                        plain(r["price"]), plain(r["amount"])] + [""] * 6 +
                       ["evidence/row-%06d.png" % (i + 1)])
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(out.getvalue())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--rows", type=int, default=120, help="items per bill of quantities")
    ap.add_argument("--only", default="", help="comma-separated names (default: all)")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    only = set(filter(None, a.only.split(",")))
    want = (lambda name: not only or name in only)
    manifest = []

    def entry(name, producer, data, csv_path=None):
        manifest.append({"name": name, "pdf": os.path.join(a.outdir, name + ".pdf"),
                         "csv": csv_path, "producer": producer, "data": data})

    if shutil.which("groff") is None or not os.path.isdir("/usr/share/groff") or \
            not glob.glob("/usr/share/groff/*/tmac/s.tmac"):
        fail("groff with the ms macros and gropdf is needed: apt-get install groff")
    for name, source, data in (
            ("iso3166-box", lambda: iso3166_groff(True), "/usr/share/zoneinfo/iso3166.tab"),
            ("iso3166-plain", lambda: iso3166_groff(False), "/usr/share/zoneinfo/iso3166.tab"),
            ("services-allbox", lambda: services_groff(150), "/etc/services")):
        if want(name):
            groff_pdf(source(), os.path.join(a.outdir, name + ".pdf"))
            entry(name, "groff/tbl (gropdf)", data)
    for name, ruled in (("boq-en-allbox", True), ("boq-en-plain", False)):
        if want(name):
            source, rows = boq_groff(boq_en_items(a.rows), ruled)
            pdf = os.path.join(a.outdir, name + ".pdf")
            groff_pdf(source, pdf)
            write_csv(os.path.join(a.outdir, name + ".csv"), pdf, rows)
            entry(name, "groff/tbl (gropdf)", "/var/lib/dpkg/status",
                  os.path.join(a.outdir, name + ".csv"))

    calc = [(n, r) for n, r in (("boq-vi-calc-grid", True), ("boq-vi-calc-plain", False))
            if want(n)]
    if calc and shutil.which("soffice") is None:
        print("make_debian_tables.py: soffice not found (apt-get install "
              "libreoffice-calc-nogui): the LibreOffice tables are left out", file=sys.stderr)
    elif calc:
        sections = boq_vi_items(a.rows)
        sources = []
        for name, ruled in calc:
            fods, rows = boq_fods(sections, ruled)
            path = os.path.join(a.outdir, name + ".fods")
            with open(path, "w", encoding="utf-8") as f:
                f.write(fods)
            sources.append((name, path, rows))
        soffice_pdfs([p for _, p, _ in sources], a.outdir)
        for name, path, rows in sources:
            pdf = os.path.join(a.outdir, name + ".pdf")
            write_csv(os.path.join(a.outdir, name + ".csv"), pdf, rows)
            entry(name, "LibreOffice Calc", "/usr/share/locale/vi/LC_MESSAGES/*.mo",
                  os.path.join(a.outdir, name + ".csv"))
    with open(os.path.join(a.outdir, "tables.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    for m in manifest:
        print("%-18s %-20s %s" % (m["name"], m["producer"], m["data"]))


if __name__ == "__main__":
    main()

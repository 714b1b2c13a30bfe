#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Writes a multi-page ledger (bill of quantities) PDF and the ledger.csv extract_core must
produce from it.

    make_ledger_pdf.py OUT.pdf EXPECTED.csv [--rows N] [--lang vi|en] [--seed S]
                       [--no-repeat-header] [--bad-rows K]
                       [--rules lined|none|grid] [--valign top|middle|bottom]
                       [--max-lines 1|2|3] [--split-prices] [--numbering flat|hierarchical]
                       [--sections] [--page a4|a4-landscape|a3-landscape] [--wide-name]
                       [--center-headers] [--center-cells] [--narrow-stt] [--first-stt N]
                       [--merged unit|code]
    make_ledger_pdf.py OUT.pdf EXPECTED.csv --class NAME [--seed S] [--rows N] [--lang L] ...

Deterministic: the same arguments give the same PDF (ReportLab's invariant mode) and CSV.
The table is drawn on a canvas, so the generator knows the page of every row: a title, a
header (repeated on every page unless --no-repeat-header), section headings, rows whose long
names wrap, subtotals, a page footer. No row is ever split across pages. Numbers are printed
in the language's convention (vi: 1.234,5; en: 1,234.5) and written to the CSV as plain
decimals: an integral value without ".0", else Python's repr of the float, which is the
shortest round-trip form, as std::to_chars(fixed) prints it. A wrapped name is written to the
CSV as its lines joined by single spaces. K rows (--bad-rows) have an amount that does not
add up, as some real ledgers do.

Without layout options the table is the `lined` layout of the first version, byte for byte:
no vertical rules, a thin rule under every text line (wrapped lines too), cells top-aligned,
no vertical cell padding. The layout options (the extraction README's "Layouts" describes
each) draw other tables: without rules or as a ruled grid, with the short cells of a wrapped
row centred or at its bottom, names on up to 1, 2 or 3 lines, unit price and amount split
into materials, labour and machine under a two-level header (the six part columns of the
CSV, empty where a part is absent; unit_price and amount are then the sums of the present
parts), hierarchical item numbers, section rows (A, I, II ...) with subtotals, landscape and
A3 pages with a wide name column under centred headers, a narrow STT column for 4-digit
numbers, and cells merged over rows that share a unit or a code.

--class NAME picks every layout option from --seed (a random layout of that class), and the
content options (--rows, --lang, --no-repeat-header, --bad-rows) unless they are given; it
writes the options it chose to EXPECTED.csv.layout.json ("args": the same document without
--class). Classes: lined, plain-top, plain-middle, plain-bottom, grid-top, grid-middle,
grid-bottom, split-prices, hierarchical, sections, wide, narrow-stt, merged.
"""

import argparse
import csv
import io
import json
import random
import sys
from decimal import Decimal, ROUND_HALF_UP

from reportlab import rl_config

rl_config.invariant = 1  # fixed dates and document ids: byte-identical output

from reportlab.lib.pagesizes import A3, A4, landscape  # noqa: E402
from reportlab.lib.utils import simpleSplit  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

FONT = "DejaVuSans"
FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold"
BOLD_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SIZE = 9
LEADING = 12
PAD = 5  # horizontal cell padding of the lined layout
GRID_PAD = 4  # horizontal cell padding of the plain and grid layouts
VPAD = 3  # vertical cell padding of the plain and grid layouts, above and below a row's text
DROP = 3.5  # from a baseline down to the bottom of its line box (the lined layout's rule)
GRID_WIDTH = 0.5
TOP, BOTTOM, LEFT = 60, 60, 30

PAGES = {"a4": A4, "a4-landscape": landscape(A4), "a3-landscape": landscape(A3)}

# (width, alignment) of STT, code, name, unit, quantity, unit price, amount: 535 pt in all.
COLUMNS = [(36, "l"), (55, "l"), (172, "l"), (37, "l"), (60, "r"), (80, "r"), (95, "r")]

HEADERS = {
    "vi": ["STT", "Mã hiệu", "Tên công việc", "Đơn vị", "Khối lượng", "Đơn giá", "Thành tiền"],
    "en": ["No.", "Code", "Description", "Unit", "Quantity", "Unit price", "Amount"],
}
PART_HEADERS = {"vi": ["Vật liệu", "Nhân công", "Máy"], "en": ["Materials", "Labour", "Machine"]}

WORK = {
    "vi": [
        "Đào móng băng bằng máy đào",
        "Bê tông lót móng đá 4x6 mác 100",
        "Ván khuôn móng cột",
        "Cốt thép móng đường kính ≤ 10mm",
        "Xây tường gạch chỉ 6,5x10,5x22, vữa xi măng mác 75",
        "Trát tường trong dày 1,5cm",
        "Sơn tường ngoài nhà không bả",
        'Lắp đặt ống nhựa PVC "Tiền Phong" D110',
        "Lát nền gạch Ceramic 600x600",
        "Đắp đất nền móng công trình, độ chặt yêu cầu K = 0,90",
        "Lợp mái tôn sóng vuông dày 0,45mm",
        "Quét chống thấm sàn vệ sinh",
    ],
    "en": [
        "Excavation of strip foundation by excavator",
        "Lean concrete for footings, grade 100",
        "Formwork for column footings",
        "Reinforcement steel for footings, diameter <= 10mm",
        "Brick wall 6.5x10.5x22, cement mortar grade 75",
        'Internal plastering, 1.5cm thick ("smooth")',
        "External wall painting without putty",
        "PVC pipe D110 installation",
        "Ceramic floor tiles 600x600",
        "Backfilling of foundation, compaction K = 0.90",
    ],
}

PLACES = {
    "vi": ["tầng 1", "tầng 2 khu nhà điều hành trung tâm và hành lang phía bắc", "khu kho",
           "nhà bảo vệ", "trục A-D, tầng mái và tum thang"],
    "en": ["ground floor", "second floor of the central office building and north corridor",
           "warehouse", "gatehouse", "grid lines A-D, roof level and stair tower"],
}

# Longer work descriptions and places, added with --max-lines 3 so that names of three lines
# are common.
WORK_LONG = {
    "vi": [
        "Bê tông cột tiết diện ≤ 0,1m2, chiều cao ≤ 6m, đá 1x2, vữa bê tông mác 250, đổ bằng "
        "thủ công",
        "Sản xuất, lắp dựng cốt thép xà dầm, giằng, đường kính cốt thép ≤ 18mm, chiều cao ≤ 28m",
        "Lắp dựng, tháo dỡ ván khuôn gỗ sàn mái, chiều cao ≤ 28m, bao gồm cả hệ chống đỡ",
        "Trát tường ngoài dày 2,0cm, vữa xi măng mác 75, kể cả trát gờ chỉ, phào và cạnh cửa",
        "Sơn dầm, trần, cột, tường trong nhà đã bả bằng sơn Dulux, 1 nước lót, 2 nước phủ",
        "Lắp đặt ống thép tráng kẽm nối bằng măng sông, đoạn ống dài 6m, đường kính 50mm",
        "Vận chuyển đất bằng ô tô tự đổ trong phạm vi ≤ 1000m, ô tô 7 tấn, đất cấp III",
        "Làm lớp móng cấp phối đá dăm loại I, đường làm mới, chiều dày đã lèn ép 15cm",
        "Quét nhựa bitum và dán giấy dầu chống thấm khe co giãn, 2 lớp giấy 3 lớp nhựa",
        "Lắp đặt cửa đi khung nhôm hệ Xingfa, kính an toàn dày 6,38mm, kể cả phụ kiện đồng bộ",
    ],
    "en": [
        "Column concrete, cross-section <= 0.1m2, height <= 6m, aggregate 1x2, grade 250, "
        "placed by hand",
        "Fabrication and fixing of reinforcement for beams and tie beams, bar diameter <= 18mm",
        "Erection and stripping of timber formwork for roof slabs, height <= 28m, with props",
        "External plastering 2.0cm thick, cement mortar grade 75, including mouldings and "
        "window reveals",
        "Painting of beams, ceilings, columns and internal walls, one primer coat and two "
        "finish coats",
        "Galvanised steel pipe with socket joints, 6m lengths, diameter 50mm, with fittings",
        "Haulage of excavated soil by dump truck within 1000m, 7-tonne trucks, soil class III",
        "Crushed stone base course, type I grading, new road, compacted thickness 15cm",
        "Bitumen coating and roofing felt on expansion joints, two layers of felt, three coats",
        "Aluminium door frames, Xingfa system, 6.38mm laminated safety glass, with hardware",
    ],
}

PLACES_LONG = {
    "vi": ["khối nhà lớp học 3 tầng, trục 1-8 và trục A-E, gồm cả sảnh chính và cầu thang bộ",
           "nhà xưởng sản xuất số 2, khu vực kho thành phẩm phía tây giáp đường nội bộ",
           "tuyến ống cấp nước ngoài nhà từ bể ngầm đến trạm bơm tăng áp"],
    "en": ["three-storey classroom block, grid lines 1-8 and A-E, with the lobby and stairs",
           "production workshop no. 2, finished goods store on the west side by the road",
           "external water main from the underground tank to the booster pump station"],
}

# The split price columns of a two-level header, empty where the table does not split them.
PARTS = ["unit_price_material", "unit_price_labour", "unit_price_machine",
         "amount_material", "amount_labour", "amount_machine"]

UNITS = ["m3", "m2", "100m2", "tấn", "cái", "md", "kg"]
UNITS_EN = ["m3", "m2", "100m2", "t", "pcs", "m", "kg"]

SECTIONS = {
    "vi": ["PHẦN {}: CÔNG TÁC ĐẤT VÀ MÓNG", "PHẦN {}: KẾT CẤU THÂN", "PHẦN {}: HOÀN THIỆN"],
    "en": ["PART {}: EARTHWORKS AND FOUNDATIONS", "PART {}: SUPERSTRUCTURE", "PART {}: FINISHES"],
}

# --sections: lettered parts, each of roman-numbered sections.
PART_TITLES = {
    "vi": ["PHẦN XÂY DỰNG", "PHẦN ĐIỆN", "PHẦN CẤP THOÁT NƯỚC", "PHẦN PHÒNG CHÁY CHỮA CHÁY",
           "PHẦN HẠ TẦNG KỸ THUẬT"],
    "en": ["BUILDING WORKS", "ELECTRICAL WORKS", "PLUMBING AND DRAINAGE", "FIRE PROTECTION",
           "EXTERNAL WORKS"],
}
SECTION_TITLES = {
    "vi": ["Công tác đất", "Phần móng", "Phần thân", "Phần hoàn thiện", "Phần mái",
           "Công tác lắp đặt", "Công tác khác"],
    "en": ["Earthworks", "Foundations", "Superstructure", "Finishes", "Roofing", "Installation",
           "Other works"],
}
ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
WORDS = {
    "vi": {"title": "BẢNG DỰ TOÁN CHI TIẾT", "project": "Công trình: Nhà điều hành, %d hạng mục",
           "continued": "(tiếp theo)", "page": "Trang %d", "subtotal_part": "Cộng phần %d",
           "subtotal": "Cộng", "subtotal_letter": "Cộng %s", "total": "TỔNG CỘNG"},
    "en": {"title": "BILL OF QUANTITIES", "project": "Project: Office building, %d items",
           "continued": "(continued)", "page": "Page %d", "subtotal_part": "Subtotal part %d",
           "subtotal": "Subtotal", "subtotal_letter": "Subtotal %s", "total": "TOTAL"},
}

CLASSES = ["lined", "plain-top", "plain-middle", "plain-bottom", "grid-top", "grid-middle",
           "grid-bottom", "split-prices", "hierarchical", "sections", "wide", "narrow-stt",
           "merged"]

# Layout options: with --class these are the class's to choose, not the command line's.
LAYOUT_DEFAULTS = {
    "rules": "lined", "valign": "top", "max_lines": None, "split_prices": False,
    "numbering": "flat", "sections": False, "page": "a4", "wide_name": False,
    "center_headers": False, "center_cells": False, "narrow_stt": False, "first_stt": 1,
    "merged": None,
}
CONTENT_DEFAULTS = {"rows": 100, "lang": "vi", "no_repeat_header": False, "bad_rows": 0}


def group(digits, sep):
    out = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return sep.join(out)


def printed(value, lang):
    """A Decimal with 0-2 decimals, as the document prints it."""
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole, _, frac = text.partition(".")
    thousands, decimal = (".", ",") if lang == "vi" else (",", ".")
    return sign + group(whole, thousands) + (decimal + frac if frac else "")


def plain(value):
    """The CSV form: integral without '.0', else the shortest round-trip repr."""
    f = float(value)
    return str(int(f)) if f == int(f) else repr(f)


def tidy(value):
    """Rounded to cents, without trailing zeros (and without an exponent)."""
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral() else value


def width_of(text, bold=False):
    return pdfmetrics.stringWidth(text, BOLD if bold else FONT, SIZE)


# ---------------------------------------------------------------------------------------------
# Content


def legacy_rows(n, lang, seed, bad):
    """The rows of the first version, drawn from one generator in its order (byte-identical
    documents for the default layout)."""
    rng = random.Random(seed)
    names, places = WORK[lang], PLACES[lang]
    units = UNITS if lang == "vi" else UNITS_EN
    rows = []
    for i in range(n):
        name = rng.choice(names)
        if rng.random() < 0.4:
            name += " - " + rng.choice(places)
        qty = Decimal(rng.randint(1, 99999)) / Decimal(10 ** rng.choice([0, 1, 2]))
        price = Decimal(rng.randint(1000, 9999999)) / Decimal(10 ** rng.choice([0, 0, 2]))
        amount = tidy(qty * price)
        rows.append({
            "stt": str(i + 1),
            "code": "A%s.%05d" % ("BFGK"[rng.randrange(4)], rng.randrange(100000)),
            "name": name,
            "unit": rng.choice(units),
            "qty": qty, "price": price, "amount": amount, "parts": None,
        })
    for i in rng.sample(range(n), min(bad, n)):
        rows[i]["amount"] = tidy(rows[i]["amount"] * Decimal("1.1"))  # 10% off: a typo
    return rows


def hierarchical_numbers(n, rng):
    """1, 1.1, 1.1.1, a), b), 1.1.2, 1.2, 2 ...: a random walk over a tree of at most three
    numbered levels and a lettered fourth."""
    out, stack = [], []
    for _ in range(n):
        r = rng.random()
        if not stack:
            stack = [1]
        elif r < 0.3 and len(stack) < 4:
            stack.append(1)
        elif r < 0.5 and len(stack) > 1:
            stack.pop()
            stack[-1] += 1
        elif len(stack) > 1 and stack[-1] >= (26 if len(stack) == 4 else 40):
            # Letters end at z); below the top, numbers stay under 100 ("1.100" would read
            # as a Vietnamese thousand).
            stack.pop()
            stack[-1] += 1
        else:
            stack[-1] += 1
        if len(stack) == 4:
            out.append("%s)" % chr(ord("a") + stack[3] - 1))
        else:
            out.append(".".join(str(k) for k in stack))
    return out


def new_rows(o, rng):
    """Every cell but the name, which has to wait for the column widths."""
    n, lang = o["rows"], o["lang"]
    units = UNITS if lang == "vi" else UNITS_EN
    rows = []
    for i in range(n):
        if o["split_prices"]:
            # Smaller quantities and prices than the single columns: six number columns have
            # to fit a landscape page next to the name.
            qty = Decimal(rng.randint(1, 99999)) / Decimal(10 ** rng.choice([1, 2, 2]))
            present = [rng.random() < 0.9, rng.random() < 0.85, rng.random() < 0.45]
            if not any(present):
                present[rng.randrange(3)] = True
            tops = [999999, 499999, 299999]
            parts = []
            for k in range(3):
                if present[k]:
                    scale = 10 ** rng.choice([0, 0, 2])
                    parts.append(Decimal(rng.randint(100 * scale, tops[k])) / Decimal(scale))
                else:
                    parts.append(None)
            amounts = [None if p is None else tidy(qty * p) for p in parts]
            price = sum(p for p in parts if p is not None)
            amount = sum(a for a in amounts if a is not None)
            split = parts + amounts
        else:
            qty = Decimal(rng.randint(1, 99999)) / Decimal(10 ** rng.choice([0, 1, 2]))
            price = Decimal(rng.randint(1000, 9999999)) / Decimal(10 ** rng.choice([0, 0, 2]))
            amount = tidy(qty * price)
            split = None
        rows.append({
            "stt": str(o["first_stt"] + i),
            "code": "A%s.%05d" % ("BFGK"[rng.randrange(4)], rng.randrange(100000)),
            "name": None,
            "unit": rng.choice(units),
            "qty": qty, "price": price, "amount": amount, "parts": split,
        })
    if o["numbering"] == "hierarchical":
        for r, label in zip(rows, hierarchical_numbers(n, rng)):
            r["stt"] = label
    if o["merged"]:
        # Runs of rows that share the merged column's value: what a merged cell is for.
        key = o["merged"]
        for prev, r in zip(rows, rows[1:]):
            if rng.random() < 0.6:
                r[key] = prev[key]
    for i in rng.sample(range(n), min(o["bad_rows"], n)):
        r = rows[i]
        if r["parts"]:
            k = next(k for k in (3, 4, 5) if r["parts"][k] is not None)
            r["parts"][k] = tidy(r["parts"][k] * Decimal("1.1"))
            r["amount"] = sum(a for a in r["parts"][3:] if a is not None)
        else:
            r["amount"] = tidy(r["amount"] * Decimal("1.1"))  # 10% off: a typo
    return rows


def fill_names(rows, o, rng, name_room):
    """Names that wrap onto at most --max-lines lines of the name column."""
    lang, max_lines = o["lang"], o["max_lines"]
    work, places, p_place = WORK[lang], PLACES[lang], 0.4
    if max_lines == 3:
        work, places, p_place = work + WORK_LONG[lang], places + PLACES_LONG[lang], 0.5

    def fits(name):
        return max_lines is None or len(simpleSplit(name, FONT, SIZE, name_room)) <= max_lines

    for r in rows:
        for _ in range(40):
            name = rng.choice(work)
            if rng.random() < p_place:
                name += " - " + rng.choice(places)
            if fits(name):
                break
        else:
            short = [w for w in work if fits(w)]
            if not short:
                sys.exit("no work description fits %d line(s) of the name column (%.0f pt)"
                         % (max_lines, name_room))
            name = rng.choice(short)
        r["name"] = name


# ---------------------------------------------------------------------------------------------
# Geometry


class NoRoom(Exception):
    """The columns leave too little room for names on the page."""


class Column:
    def __init__(self, key, width, align, header, header_align):
        self.key, self.width, self.align = key, width, align
        self.header, self.header_align = header, header_align
        self.x = 0


class Geometry:
    """Column positions and the header's cells."""

    def __init__(self, o, rows, rng):
        self.rules = o["rules"]
        self.page_width, self.page_height = PAGES[o["page"]]
        self.pad = PAD if self.rules == "lined" else GRID_PAD
        self.vpad = 0 if self.rules == "lined" else VPAD
        lang = o["lang"]
        h = HEADERS[lang]
        bold = self.rules != "lined"
        self.header_bold = bold
        legacy = (self.rules == "lined" and o["page"] == "a4" and not o["split_prices"] and
                  not o["wide_name"] and not o["narrow_stt"] and o["numbering"] == "flat")
        text_h = "c" if o["center_headers"] else "l"
        num_h = "c" if o["center_headers"] else "r"
        cell = "c" if o["center_cells"] else "l"
        self.split = o["split_prices"]
        if legacy:
            keys = ["stt", "code", "name", "unit", "qty", "price", "amount"]
            self.columns = [Column(k, w, cell if k in ("stt", "unit") else a, label,
                                   (num_h if a == "r" else text_h))
                            for k, (w, a), label in zip(keys, COLUMNS, h)]
        else:
            def fit(texts, header, extra, bold_texts=()):
                return max([width_of(t) for t in texts] + [width_of(header, bold)] +
                           [width_of(t, True) for t in bold_texts]) + 2 * self.pad + extra

            # The grand total, the largest subtotal, has to fit the amount columns too.
            totals = sum_amounts(rows, self.split)

            def slack():
                # Six number columns leave less to spare.
                return rng.randint(1, 6) if o["split_prices"] else rng.randint(2, 14)

            if o["narrow_stt"]:
                stt = fit(["9999"] + [r["stt"] for r in rows], h[0], 0)
            else:
                stt = fit([r["stt"] for r in rows] or ["1"], h[0], slack())
            cols = [Column("stt", stt, cell, h[0], text_h),
                    Column("code", fit(["AK.00000"] + [r["code"] for r in rows], h[1], slack()),
                           "l", h[1], text_h),
                    Column("name", 0, "l", h[2], text_h),
                    Column("unit", fit(UNITS + UNITS_EN, h[3], slack()), cell, h[3], text_h),
                    Column("qty", fit([printed(r["qty"], lang) for r in rows], h[4], slack()),
                           "r", h[4], num_h)]
            if self.split:
                sub = PART_HEADERS[lang]
                for group_i, group_key in ((0, "price"), (3, "amount")):
                    for k in range(3):
                        values = [printed(r["parts"][group_i + k], lang) for r in rows
                                  if r["parts"][group_i + k] is not None]
                        sums = totals[k] if group_i and totals[k] is not None else None
                        cols.append(Column("%s%d" % (group_key, k),
                                           fit(values, sub[k], slack(),
                                               [] if sums is None else [printed(sums, lang)]),
                                           "r", sub[k], num_h))
                self.groups = [(h[5], 5, 7), (h[6], 8, 10)]
            else:
                cols.append(Column("price", fit([printed(r["price"], lang) for r in rows],
                                                h[5], slack()), "r", h[5], num_h))
                cols.append(Column("amount", fit([printed(r["amount"], lang) for r in rows],
                                                 h[6], slack(), [printed(totals[0], lang)]),
                                   "r", h[6], num_h))
            room = self.page_width - 2 * LEFT - sum(c.width for c in cols)
            # Room for names: 100 pt, and with --max-lines 1 the shortest work description.
            need = 100
            if o["max_lines"] == 1:
                need = max(need, min(width_of(w) for w in WORK[lang]) + 2 * self.pad)
            if room < need:
                raise NoRoom("the table does not fit the page (%s): %.0f pt left for names, "
                             "%.0f needed; try a wider --page" % (o["page"], room, need))
            if o["wide_name"]:
                name = room
            else:
                portrait = self.page_width < self.page_height
                name = rng.randint(150, 200) if portrait else rng.randint(200, 300)
                name = max(min(name, room), need)
            cols[2].width = name
            self.columns = cols
        x = LEFT
        for c in self.columns:
            c.x = x
            x += c.width
        self.left, self.right = LEFT, x
        self.index = {c.key: i for i, c in enumerate(self.columns)}
        if not self.split:
            self.groups = []

    def name_room(self):
        return self.columns[self.index["name"]].width - 2 * self.pad

    def amount_columns(self):
        if self.split:
            return [self.index["amount%d" % k] for k in range(3)]
        return [self.index["amount"]]

    def header_lines(self):
        return 2 if self.split else 1


# ---------------------------------------------------------------------------------------------
# Table elements: each knows its height; the writer paginates and draws them.


class Element:
    kind = ""
    keep = False  # kept on one page with the element after it

    def lines(self):
        return 1


class Span(Element):
    """A line of text across the table (titles, old-style headings, "(continued)")."""

    def __init__(self, text, kind="span", bold=False, keep=False):
        self.text, self.kind, self.bold, self.keep = text, kind, bold, keep


class Blank(Element):
    kind = "blank"


class Header(Element):
    kind = "header"

    def __init__(self, n):
        self.n = n

    def lines(self):
        return self.n


class LedgerRow(Element):
    kind = "row"

    def __init__(self, row, index, wrapped):
        self.row, self.index, self.wrapped = row, index, wrapped

    def lines(self):
        return len(self.wrapped)


class SectionRow(Element):
    """A section heading: a label in the STT column, a title across the rest of the row."""
    kind = "section"
    keep = True

    def __init__(self, label, title):
        self.label, self.title = label, title


class Subtotal(Element):
    """A label in the name column and the amount (or its parts) in the amount columns."""
    kind = "subtotal"

    def __init__(self, label, amounts):
        self.label, self.amounts = label, amounts


def sum_amounts(rows, split):
    if split:
        out = []
        for k in range(3, 6):
            present = [r["parts"][k] for r in rows if r["parts"][k] is not None]
            out.append(sum(present) if present else None)
        return out
    return [sum((r["amount"] for r in rows), Decimal(0))]


def build_body(o, rows, names, rng):
    """The elements after the header: rows, section headings and subtotals."""
    lang, split = o["lang"], o["split_prices"]
    words = WORDS[lang]
    out = []
    bold = o["rules"] != "lined"
    if not o["sections"]:
        # Headings across the table every `every` rows, each but the first after a subtotal.
        every = 40 if rng is None else rng.randint(25, 60)
        section, done = 0, []
        for i, r in enumerate(rows):
            if i % every == 0:
                if i:
                    out.append(Subtotal(words["subtotal_part"] % section, sum_amounts(done, split)))
                section += 1
                done = []
                out.append(Span(SECTIONS[lang][(section - 1) % 3].format(section), "heading",
                                bold, keep=True))
            out.append(LedgerRow(r, i, names[i]))
            done.append(r)
        return out
    i = 0
    letter = 0
    while i < len(rows):
        letter_rows = []
        out.append(SectionRow(chr(ord("A") + letter % 26),
                              PART_TITLES[lang][letter % len(PART_TITLES[lang])]))
        romans = rng.randint(1, 4)
        for s in range(romans):
            if i >= len(rows):
                break
            out.append(SectionRow(ROMAN[s % len(ROMAN)],
                                  SECTION_TITLES[lang][rng.randrange(len(SECTION_TITLES[lang]))]))
            k = rng.randint(3, 35)
            chunk = rows[i:i + k]
            for j, r in enumerate(chunk):
                out.append(LedgerRow(r, i + j, names[i + j]))
            i += len(chunk)
            letter_rows += chunk
            out.append(Subtotal(words["subtotal"], sum_amounts(chunk, split)))
        out.append(Subtotal(words["subtotal_letter"] % chr(ord("A") + letter % 26),
                            sum_amounts(letter_rows, split)))
        letter += 1
    if rows:
        out.append(Subtotal(words["total"], sum_amounts(rows, split)))
    return out


# ---------------------------------------------------------------------------------------------
# Drawing


class Writer:
    def __init__(self, path, o, geo):
        self.o, self.geo = o, geo
        self.lang = o["lang"]
        self.words = WORDS[self.lang]
        self.width, self.height = geo.page_width, geo.page_height
        self.c = canvas.Canvas(path, pagesize=(self.width, self.height), invariant=1)
        self.c.setTitle("Ledger" if self.lang == "en" else "Bảng dự toán")
        self.lined = geo.rules == "lined"
        self.page = 1
        self.y = TOP
        self.c.setFont(FONT, SIZE)
        self.boxes = []  # grid cells of the page: (x0, y0, x1, y1), y down
        self.runs = {}  # merged column: row index -> the first row of its merged cell

    # -- primitives

    def text(self, s, x, y, align="l", width=0, bold=False):
        # Canvas y grows upwards; the layout works top-down.
        if bold:
            self.c.setFont(BOLD, SIZE)
        if align == "r":
            self.c.drawRightString(x + width - self.geo.pad, self.height - y, s)
        elif align == "c":
            self.c.drawCentredString(x + width / 2, self.height - y, s)
        else:
            self.c.drawString(x + self.geo.pad, self.height - y, s)
        if bold:
            self.c.setFont(FONT, SIZE)

    def rule(self, y):
        """The lined layout's rule under a text line whose baseline is y."""
        self.c.setLineWidth(0.3)
        self.c.line(self.geo.left, self.height - y - DROP, self.geo.right,
                    self.height - y - DROP)

    def box(self, x0, y0, x1, y1):
        if self.geo.rules == "grid":
            self.boxes.append((x0, y0, x1, y1))

    def flush_boxes(self):
        """Draws the page's cell borders, each segment once."""
        segments = []
        seen = set()
        for x0, y0, x1, y1 in self.boxes:
            for s in ((x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)):
                key = tuple(round(v, 4) for v in s)
                if key not in seen:
                    seen.add(key)
                    segments.append(s)
        if segments:
            self.c.setLineWidth(GRID_WIDTH)
            for x0, y0, x1, y1 in segments:
                self.c.line(x0, self.height - y0, x1, self.height - y1)
        self.boxes = []

    def height_of(self, e):
        if e.kind in ("span", "blank") or self.lined:
            return e.lines() * LEADING
        if e.kind == "heading":
            return LEADING + 2 * self.geo.vpad
        return e.lines() * (LEADING + (2 * self.geo.vpad if e.kind == "header" else 0)) + \
            (0 if e.kind == "header" else 2 * self.geo.vpad)

    # -- pages

    def footer(self):
        self.c.drawCentredString(self.width / 2, 30, self.words["page"] % self.page)

    def new_page(self):
        self.flush_boxes()
        self.footer()
        self.c.showPage()
        self.c.setFont(FONT, SIZE)
        self.page += 1
        self.y = TOP
        if self.o["repeat_header"]:
            self.draw(Header(self.geo.header_lines()), [])
        else:
            self.draw(Span(self.words["continued"]), [])

    def place(self, elements):
        """Paginates and draws; returns the page of every ledger row (by row index)."""
        pages = {}
        for i, e in enumerate(elements):
            need = self.height_of(e)
            if self.lined and e.kind == "heading":
                need = 2 * LEADING  # the first version's rule: a heading and one more line
            elif e.keep:
                j = i
                while elements[j].keep and j + 1 < len(elements):
                    j += 1
                    need += self.height_of(elements[j])
            if self.y + need > self.height - BOTTOM:
                self.new_page()
            if e.kind == "row":
                pages[e.index] = self.page
            self.draw(e, elements[i + 1:i + 200])
        return pages

    def close(self):
        self.flush_boxes()
        self.footer()
        self.c.showPage()
        self.c.save()

    # -- elements

    def draw(self, e, after):
        top = self.y
        height = self.height_of(e)
        getattr(self, "draw_" + e.kind)(e, top, after)
        self.y = top + height

    def draw_blank(self, e, top, after):
        pass

    def draw_span(self, e, top, after):
        if self.lined:
            y = top + LEADING
            self.text(e.text, self.geo.left, y, bold=e.bold)
            self.rule(y)
        else:  # clear of the grid line under it
            self.text(e.text, self.geo.left, top + LEADING - DROP, bold=e.bold)

    def draw_heading(self, e, top, after):
        if self.lined:
            return self.draw_span(e, top, after)
        h = self.height_of(e)
        self.text(e.text, self.geo.left, top + self.geo.vpad + LEADING - DROP, bold=e.bold)
        self.box(self.geo.left, top, self.geo.right, top + h)

    def cells(self, values, top, bold=False):
        """One line of cells (text, align) per column from baseline `top`; lined only."""
        for col, (s, align) in zip(self.geo.columns, values):
            if s:
                self.text(s, col.x, top, align, col.width, bold)

    def baseline(self, top, n, where):
        """The baseline of a one-line cell in a block of n lines starting at `top` (padded)."""
        first = top + self.geo.vpad + LEADING - DROP
        if where == "top":
            return first
        if where == "bottom":
            return first + (n - 1) * LEADING
        return first + (n - 1) * LEADING / 2

    def draw_header(self, e, top, after):
        geo, cols = self.geo, self.geo.columns
        bold = geo.header_bold
        if self.lined:
            if not geo.split:
                self.cells([(c.header, c.header_align) for c in cols], top + LEADING, bold)
                self.rule(top + LEADING)
                return
            first, second = top + LEADING, top + 2 * LEADING
            for i, c in enumerate(cols):
                if not self.in_group(i):
                    self.text(c.header, c.x, first, c.header_align, c.width, bold)
            for label, a, b in geo.groups:
                self.text(label, cols[a].x, first, "c", cols[b].x + cols[b].width - cols[a].x,
                          bold)
            self.rule(first)
            for i, c in enumerate(cols):
                if self.in_group(i):
                    self.text(c.header, c.x, second, c.header_align, c.width, bold)
            self.rule(second)
            return
        line = LEADING + 2 * geo.vpad
        n = geo.header_lines()
        first = top + geo.vpad + LEADING - DROP
        # A name beside a two-level group spans both header lines: centred in a grid, else
        # where --valign puts one-line cells.
        where = "middle" if geo.rules == "grid" else self.o["valign"]
        if n == 1 or where == "top":
            spanning = first
        elif where == "bottom":
            spanning = first + line
        else:
            spanning = top + line + LEADING / 2 - DROP
        for i, c in enumerate(cols):
            if self.in_group(i):
                self.text(c.header, c.x, first + line, c.header_align, c.width, bold)
                self.box(c.x, top + line, c.x + c.width, top + 2 * line)
            else:
                self.text(c.header, c.x, spanning, c.header_align, c.width, bold)
                self.box(c.x, top, c.x + c.width, top + n * line)
        for label, a, b in geo.groups:
            x1 = cols[b].x + cols[b].width
            self.text(label, cols[a].x, first, "c", x1 - cols[a].x, bold)
            self.box(cols[a].x, top, x1, top + line)

    def in_group(self, i):
        return any(a <= i <= b for _, a, b in self.geo.groups)

    def row_values(self, r):
        """(column index, text) of the one-line cells of a row."""
        geo, lang = self.geo, self.lang
        out = [(geo.index["stt"], r["stt"]), (geo.index["code"], r["code"]),
               (geo.index["unit"], r["unit"]), (geo.index["qty"], printed(r["qty"], lang))]
        if geo.split:
            for k in range(3):
                for key, off in (("price", 0), ("amount", 3)):
                    v = r["parts"][off + k]
                    out.append((geo.index["%s%d" % (key, k)], "" if v is None else
                                printed(v, lang)))
        else:
            out += [(geo.index["price"], printed(r["price"], lang)),
                    (geo.index["amount"], printed(r["amount"], lang))]
        return out

    def draw_row(self, e, top, after):
        geo, cols, r = self.geo, self.geo.columns, e.row
        wrapped = e.wrapped
        name = geo.index["name"]
        if self.lined:
            values = [("", c.align) for c in cols]
            for i, s in self.row_values(r):
                values[i] = (s, cols[i].align)
            values[name] = (wrapped[0], "l")
            self.cells(values, top + LEADING)
            self.rule(top + LEADING)
            for k, more in enumerate(wrapped[1:]):
                y = top + (k + 2) * LEADING
                self.cells([("", "l")] * name + [(more, "l")] +
                           [("", "l")] * (len(cols) - name - 1), y)
                self.rule(y)
            return
        n = len(wrapped)
        h = self.height_of(e)
        where = self.o["valign"]
        for k, s in enumerate(wrapped):
            self.text(s, cols[name].x, self.baseline(top, 1, "top") + k * LEADING, "l",
                      cols[name].width)
        merged = geo.index[self.o["merged"]] if self.o["merged"] else None
        for i, s in self.row_values(r):
            c = cols[i]
            if i == merged:
                continue
            if s:
                self.text(s, c.x, self.baseline(top, n, where), c.align, c.width)
        for i, c in enumerate(cols):
            if i != merged:
                self.box(c.x, top, c.x + c.width, top + h)
        if merged is not None:
            self.draw_merged(e, top, after, merged)

    def draw_merged(self, e, top, after, i):
        """The merged column: a run's first row draws the cell of the whole run (the rows
        after it on this page with the same value)."""
        key = self.o["merged"]
        if self.runs.get(e.index) is not None:
            return
        c = self.geo.columns[i]
        bottom, y = top, top
        run = []
        for f in [e] + after:
            h = self.height_of(f)
            if f.kind != "row" or f.row[key] != e.row[key] or y + h > self.height - BOTTOM:
                break
            run.append((f, y, h))
            y += h
            bottom = y
        for f, _, _ in run:
            self.runs[f.index] = e.index
        where = self.o["valign"]
        first_top, last_top = run[0][1], run[-1][1]
        if where == "top":
            base = self.baseline(first_top, 1, "top")
        elif where == "bottom":
            base = self.baseline(last_top, len(run[-1][0].wrapped), "bottom")
        else:
            base = (first_top + bottom) / 2 + LEADING / 2 - DROP
        self.text(e.row[key], c.x, base, c.align, c.width)
        self.box(c.x, first_top, c.x + c.width, bottom)

    def draw_section(self, e, top, after):
        geo, cols = self.geo, self.geo.columns
        stt = cols[geo.index["stt"]]
        rest = cols[geo.index["code"]]
        bold = not self.lined
        y = top + LEADING if self.lined else self.baseline(top, 1, "top")
        self.text(e.label, stt.x, y, stt.align, stt.width, bold)
        self.text(e.title, rest.x, y, "l", geo.right - rest.x, bold)
        if self.lined:
            self.rule(y)
            return
        h = self.height_of(e)
        self.box(stt.x, top, stt.x + stt.width, top + h)
        self.box(rest.x, top, geo.right, top + h)

    def draw_subtotal(self, e, top, after):
        geo, cols = self.geo, self.geo.columns
        name = cols[geo.index["name"]]
        bold = not self.lined
        y = top + LEADING if self.lined else self.baseline(top, 1, "top")
        if self.lined and not geo.split:
            # As the first version draws it: a full line of cells.
            values = [("", "l"), ("", "l"), (e.label, "l"), ("", "l"), ("", "r"), ("", "r"),
                      (printed(e.amounts[0], self.lang), "r")]
            self.cells(values, y)
            self.rule(y)
            return
        self.text(e.label, name.x, y, "l", name.width, bold)
        for i, v in zip(geo.amount_columns(), e.amounts):
            if v is not None:
                c = cols[i]
                self.text(printed(v, self.lang), c.x, y, "r", c.width, bold)
        if self.lined:
            self.rule(y)
            return
        h = self.height_of(e)
        for c in cols:
            self.box(c.x, top, c.x + c.width, top + h)


# ---------------------------------------------------------------------------------------------
# Classes: a random layout of each kind the reader has to get right.


def pick_class(name, seed, given):
    """The options of a random layout of class `name`: layout options from the seed, content
    options from the seed where `given` (the command line) does not set them."""
    rng = random.Random("class %s %d" % (name, seed))
    o = dict(LAYOUT_DEFAULTS)
    content = {
        "rows": rng.randint(20, 250),
        "lang": rng.choice(["vi", "en"]),
        "no_repeat_header": rng.random() < 0.2,
        "bad_rows": rng.choice([0, 0, 0, 1, 3]),
    }
    rules3 = ["lined", "none", "grid"]
    o["max_lines"] = rng.choice([1, 2, 2, 3, 3, 3])

    def free(rules=None, valign=None):
        o["rules"] = rules or rng.choice(rules3)
        o["valign"] = "top" if o["rules"] == "lined" else valign or rng.choice(
            ["top", "middle", "bottom"])
        if o["rules"] != "lined":
            o["center_headers"] = rng.random() < 0.4
            o["center_cells"] = rng.random() < 0.4

    if name == "lined":
        o["max_lines"] = rng.choice([None, None, 1, 2, 3])
    elif name.startswith("plain-") or name.startswith("grid-"):
        free("none" if name.startswith("plain-") else "grid", name.split("-")[1])
    elif name == "split-prices":
        free()
        o["split_prices"] = True
        o["page"] = rng.choice(["a4-landscape", "a4-landscape", "a3-landscape"])
    elif name == "hierarchical":
        free()
        o["numbering"] = "hierarchical"
    elif name == "sections":
        free()
        o["sections"] = True
    elif name == "wide":
        free()
        o["page"] = rng.choice(["a4-landscape", "a3-landscape"])
        o["wide_name"] = True
        o["center_headers"] = True
    elif name == "narrow-stt":
        free()
        o["narrow_stt"] = True
    elif name == "merged":
        free("grid")
        o["merged"] = rng.choice(["unit", "code"])
    else:
        sys.exit("--class: one of " + ", ".join(CLASSES))
    for k, v in content.items():
        o[k] = given[k] if given[k] is not None else v
    if name == "narrow-stt":
        # Numbers that reach four digits: a late part of a long ledger when rows are few.
        last = min(9999, 10000 - o["rows"])  # the largest first number
        o["first_stt"] = rng.choice([1, rng.randint(min(900, last), last), last])
    return o


def args_of(o, seed):
    """The command line (after the two paths) that makes the same document without --class."""
    out = ["--rows", str(o["rows"]), "--lang", o["lang"], "--seed", str(seed)]
    if not o["repeat_header"]:
        out.append("--no-repeat-header")
    if o["bad_rows"]:
        out += ["--bad-rows", str(o["bad_rows"])]
    out += ["--rules", o["rules"], "--valign", o["valign"]]
    if o["max_lines"] is not None:
        out += ["--max-lines", str(o["max_lines"])]
    for flag in ("split_prices", "sections", "wide_name", "center_headers", "center_cells",
                 "narrow_stt"):
        if o[flag]:
            out.append("--" + flag.replace("_", "-"))
    out += ["--numbering", o["numbering"], "--page", o["page"]]
    if o["first_stt"] != 1:
        out += ["--first-stt", str(o["first_stt"])]
    if o["merged"]:
        out += ["--merged", o["merged"]]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdf")
    ap.add_argument("csv")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--lang", choices=["vi", "en"])
    ap.add_argument("--no-repeat-header", action="store_true", default=None)
    ap.add_argument("--bad-rows", type=int)
    ap.add_argument("--class", dest="layout_class", metavar="NAME", choices=CLASSES)
    ap.add_argument("--rules", choices=["lined", "none", "grid"])
    ap.add_argument("--valign", choices=["top", "middle", "bottom"])
    ap.add_argument("--max-lines", type=int, choices=[1, 2, 3])
    ap.add_argument("--split-prices", action="store_true", default=None)
    ap.add_argument("--numbering", choices=["flat", "hierarchical"])
    ap.add_argument("--sections", action="store_true", default=None)
    ap.add_argument("--page", choices=list(PAGES))
    ap.add_argument("--wide-name", action="store_true", default=None)
    ap.add_argument("--center-headers", action="store_true", default=None)
    ap.add_argument("--center-cells", action="store_true", default=None,
                    help="STT and unit centred in their cells")
    ap.add_argument("--narrow-stt", action="store_true", default=None)
    ap.add_argument("--first-stt", type=int, help="the first row's number (flat numbering)")
    ap.add_argument("--merged", choices=["unit", "code"])
    a = vars(ap.parse_args())

    if a["layout_class"]:
        set_layout = [k for k in LAYOUT_DEFAULTS if a[k] is not None]
        if set_layout:
            ap.error("--class chooses the layout; not with --%s" %
                     set_layout[0].replace("_", "-"))
        o = pick_class(a["layout_class"], a["seed"], a)
    else:
        o = {k: (v if a[k] is None else a[k]) for k, v in LAYOUT_DEFAULTS.items()}
        o.update({k: (v if a[k] is None else a[k]) for k, v in CONTENT_DEFAULTS.items()})
    o["repeat_header"] = not o.pop("no_repeat_header")

    if not 0 <= o["rows"] <= 9999:
        ap.error("--rows: 0 to 9999 (row numbers must fit the STT column)")
    if o["first_stt"] < 1 or o["first_stt"] + o["rows"] - 1 > 9999:
        ap.error("--first-stt: row numbers from 1 to 9999")
    if o["bad_rows"] < 0:
        ap.error("--bad-rows: not negative")
    if o["rules"] == "lined" and o["valign"] != "top":
        ap.error("--valign: the lined layout is top-aligned only")
    if o["merged"] and o["rules"] != "grid":
        ap.error("--merged: only with --rules grid")
    if o["numbering"] == "hierarchical" and (o["first_stt"] != 1 or o["narrow_stt"]):
        ap.error("--numbering hierarchical: not with --first-stt or --narrow-stt")

    pdfmetrics.registerFont(TTFont(FONT, FONT_FILE))
    pdfmetrics.registerFont(TTFont(BOLD, BOLD_FILE))
    legacy_content = (o["max_lines"] is None and not o["split_prices"] and
                      o["numbering"] == "flat" and o["first_stt"] == 1 and not o["merged"] and
                      o["rules"] == "lined" and not o["sections"])
    # Separate generators for the content, the column widths and the sections, so that one
    # does not shift the others.
    seed = a["seed"]
    if legacy_content:
        rows = legacy_rows(o["rows"], o["lang"], seed, o["bad_rows"])
    else:
        rng = random.Random(seed)
        rows = new_rows(o, rng)
    # A class's table that does not fit its page goes on the next larger one.
    sizes = list(PAGES)
    for page in sizes[sizes.index(o["page"]):] if a["layout_class"] else [o["page"]]:
        o["page"] = page
        try:
            geo = Geometry(o, rows, random.Random("geometry %d" % seed))
            break
        except NoRoom as e:
            no_room = e
    else:
        sys.exit(str(no_room))
    if not legacy_content:
        fill_names(rows, o, rng, geo.name_room())
    names = []
    for r in rows:
        wrapped = simpleSplit(r["name"], FONT, SIZE, geo.name_room())
        if " ".join(wrapped) != r["name"]:
            sys.exit("wrapping changed the name: %r -> %r" % (r["name"], " ".join(wrapped)))
        names.append(wrapped)

    w = Writer(a["pdf"], o, geo)
    words = WORDS[o["lang"]]
    bold = geo.header_bold
    head = [Span(words["title"], bold=bold), Span(words["project"] % len(rows)), Blank(),
            Header(geo.header_lines())]
    body = build_body(o, rows, names, None if legacy_content else
                      random.Random("sections %d" % seed))
    pages = w.place(head + body)
    w.close()

    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(["page", "stt", "code", "name", "unit", "quantity", "unit_price", "amount"] +
                   PARTS + ["evidence"])
    for i, r in enumerate(rows):
        parts = [""] * len(PARTS) if r["parts"] is None else \
            ["" if v is None else plain(v) for v in r["parts"]]
        table.writerow([pages[i], r["stt"], r["code"], r["name"], r["unit"], plain(r["qty"]),
                        plain(r["price"]), plain(r["amount"])] + parts +
                       ["evidence/row-%06d.png" % (i + 1)])
    with open(a["csv"], "w", encoding="utf-8", newline="") as f:
        f.write(out.getvalue())
    if a["layout_class"]:
        with open(a["csv"] + ".layout.json", "w", encoding="utf-8") as f:
            json.dump({"class": a["layout_class"], "seed": a["seed"],
                       "args": args_of(o, a["seed"])}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()

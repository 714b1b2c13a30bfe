#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""Writes a multi-page ledger (bill of quantities) PDF and the ledger.csv extract_core must
produce from it.

    make_ledger_pdf.py OUT.pdf EXPECTED.csv [--rows N] [--lang vi|en] [--seed S]
                       [--no-repeat-header] [--bad-rows K]

Deterministic: the same arguments give the same PDF (ReportLab's invariant mode) and CSV.
The table is drawn line by line on a canvas, so the generator knows the page of every row:
a title, a header row (repeated on every page unless --no-repeat-header), section headings
across the table, rows whose long names wrap onto a second line, subtotals, a page footer.
Numbers are printed in the language's convention (vi: 1.234,5; en: 1,234.5) and written to
the CSV as plain decimals: an integral value without ".0", else Python's repr of the float,
which is the shortest round-trip form, as std::to_chars(fixed) prints it. K rows
(--bad-rows) have an amount that does not add up, as some real ledgers do.
"""

import argparse
import csv
import io
import random
import sys
from decimal import Decimal, ROUND_HALF_UP

from reportlab import rl_config

rl_config.invariant = 1  # fixed dates and document ids: byte-identical output

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.utils import simpleSplit  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

FONT = "DejaVuSans"
FONT_FILE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SIZE = 9
LEADING = 12
PAD = 5
TOP, BOTTOM, LEFT = 60, 60, 30

# (width, alignment) of STT, code, name, unit, quantity, unit price, amount: 535 pt in all.
COLUMNS = [(36, "l"), (55, "l"), (172, "l"), (37, "l"), (60, "r"), (80, "r"), (95, "r")]

HEADERS = {
    "vi": ["STT", "Mã hiệu", "Tên công việc", "Đơn vị", "Khối lượng", "Đơn giá", "Thành tiền"],
    "en": ["No.", "Code", "Description", "Unit", "Quantity", "Unit price", "Amount"],
}

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

# The split price columns of a two-level header, empty where the table does not split them.
PARTS = ["unit_price_material", "unit_price_labour", "unit_price_machine",
         "amount_material", "amount_labour", "amount_machine"]

UNITS = ["m3", "m2", "100m2", "tấn", "cái", "md", "kg"]
UNITS_EN = ["m3", "m2", "100m2", "t", "pcs", "m", "kg"]

SECTIONS = {
    "vi": ["PHẦN {}: CÔNG TÁC ĐẤT VÀ MÓNG", "PHẦN {}: KẾT CẤU THÂN", "PHẦN {}: HOÀN THIỆN"],
    "en": ["PART {}: EARTHWORKS AND FOUNDATIONS", "PART {}: SUPERSTRUCTURE", "PART {}: FINISHES"],
}


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


def make_rows(n, lang, seed, bad):
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
            "qty": qty, "price": price, "amount": amount,
        })
    for i in rng.sample(range(n), min(bad, n)):
        rows[i]["amount"] = tidy(rows[i]["amount"] * Decimal("1.1"))  # 10% off: a typo
    return rows


class Writer:
    def __init__(self, path, lang, repeat_header):
        pdfmetrics.registerFont(TTFont(FONT, FONT_FILE))
        self.c = canvas.Canvas(path, pagesize=A4, invariant=1)
        self.c.setTitle("Ledger" if lang == "en" else "Bảng dự toán")
        self.lang = lang
        self.repeat_header = repeat_header
        self.page = 1
        self.width, self.height = A4
        self.y = TOP
        self.c.setFont(FONT, SIZE)

    def text(self, s, x, y, align="l", width=0):
        # Canvas y grows upwards; the layout works top-down.
        if align == "r":
            self.c.drawRightString(x + width - PAD, self.height - y, s)
        else:
            self.c.drawString(x + PAD, self.height - y, s)

    def footer(self):
        label = "Trang %d" if self.lang == "vi" else "Page %d"
        self.c.drawCentredString(self.width / 2, 30, label % self.page)

    def new_page(self):
        self.footer()
        self.c.showPage()
        self.c.setFont(FONT, SIZE)
        self.page += 1
        self.y = TOP
        if self.repeat_header:
            self.header()
        else:
            self.line([("(tiếp theo)" if self.lang == "vi" else "(continued)", "l")], span=True)

    def room(self, lines):
        if self.y + lines * LEADING > self.height - BOTTOM:
            self.new_page()

    def line(self, cells, span=False):
        """cells: one (text, align) per column, or one spanning the table."""
        self.y += LEADING
        x = LEFT
        if span:
            self.text(cells[0][0], x, self.y)
        else:
            for (width, _), (s, align) in zip(COLUMNS, cells):
                if s:
                    self.text(s, x, self.y, align, width)
                x += width
        self.c.setLineWidth(0.3)
        self.c.line(LEFT, self.height - self.y - 3.5, LEFT + sum(w for w, _ in COLUMNS),
                    self.height - self.y - 3.5)

    def header(self):
        self.line([(h, a) for h, (_, a) in zip(HEADERS[self.lang], COLUMNS)])

    def title(self, rows):
        t = "BẢNG DỰ TOÁN CHI TIẾT" if self.lang == "vi" else "BILL OF QUANTITIES"
        self.line([(t, "l")], span=True)
        s = "Công trình: Nhà điều hành, %d hạng mục" if self.lang == "vi" else \
            "Project: Office building, %d items"
        self.line([(s % rows, "l")], span=True)
        self.y += LEADING
        self.header()

    def row(self, r):
        """Draws a row (its name wrapped to the column); returns its page."""
        name_width = COLUMNS[2][0] - 2 * PAD
        wrapped = simpleSplit(r["name"], FONT, SIZE, name_width)
        self.room(len(wrapped))
        page = self.page
        self.line([(r["stt"], "l"), (r["code"], "l"), (wrapped[0], "l"), (r["unit"], "l"),
                   (printed(r["qty"], self.lang), "r"), (printed(r["price"], self.lang), "r"),
                   (printed(r["amount"], self.lang), "r")])
        for more in wrapped[1:]:
            self.line([("", "l"), ("", "l"), (more, "l")] + [("", "l")] * 4)
        return page, " ".join(wrapped)

    def close(self):
        self.footer()
        self.c.showPage()
        self.c.save()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdf")
    ap.add_argument("csv")
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--lang", choices=["vi", "en"], default="vi")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-repeat-header", action="store_true")
    ap.add_argument("--bad-rows", type=int, default=0)
    a = ap.parse_args()
    if not 0 <= a.rows <= 9999:
        sys.exit("--rows: 0 to 9999 (row numbers must fit the STT column)")

    rows = make_rows(a.rows, a.lang, a.seed, a.bad_rows)
    w = Writer(a.pdf, a.lang, not a.no_repeat_header)
    w.title(len(rows))
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(["page", "stt", "code", "name", "unit", "quantity", "unit_price", "amount"] +
                   PARTS + ["evidence"])
    section = 0
    subtotal = Decimal(0)
    for i, r in enumerate(rows):
        if i % 40 == 0:
            if i:
                w.room(1)
                label = "Cộng phần %d" if a.lang == "vi" else "Subtotal part %d"
                w.line([("", "l"), ("", "l"), (label % section, "l"), ("", "l"), ("", "r"),
                        ("", "r"), (printed(subtotal, a.lang), "r")])
            section += 1
            subtotal = Decimal(0)
            w.room(2)
            w.line([(SECTIONS[a.lang][(section - 1) % 3].format(section), "l")], span=True)
        page, name = w.row(r)
        if name != r["name"]:
            sys.exit("wrapping changed the name: %r -> %r" % (r["name"], name))
        subtotal += r["amount"]
        table.writerow([page, r["stt"], r["code"], r["name"], r["unit"], plain(r["qty"]),
                        plain(r["price"]), plain(r["amount"])] + [""] * len(PARTS) +
                       ["evidence/row-%06d.png" % (i + 1)])
    w.close()
    with open(a.csv, "w", encoding="utf-8", newline="") as f:
        f.write(out.getvalue())


if __name__ == "__main__":
    main()

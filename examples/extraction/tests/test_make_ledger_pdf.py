# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""testdata/make_ledger_pdf.py on its own, without the reader: every layout class for a few
seeds makes the same bytes twice (once from the options its sidecar records), a CSV with one
row per requested row whose numbers add up as the generator promises, and a PDF whose every
page holds the words of the rows the CSV puts on it (a row split across pages would leave
words of it on the next page). The default invocation is pinned to the first version's output.

Needs /usr/bin/python3 with ReportLab, fonts-dejavu-core and pdftotext (poppler-utils).
LEDGER_PDF_SCRIPT may name the generator (ctest sets it).
"""

import csv
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from decimal import Decimal, ROUND_HALF_UP

import pytest

SCRIPT = os.environ.get("LEDGER_PDF_SCRIPT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "make_ledger_pdf.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import make_ledger_pdf as gen  # noqa: E402

HEADER = ["page", "stt", "code", "name", "unit", "quantity", "unit_price", "amount"] + \
    gen.PARTS + ["evidence"]


def generate(tmp_path, name, args):
    pdf, expected = tmp_path / (name + ".pdf"), tmp_path / (name + ".csv")
    subprocess.run([sys.executable, SCRIPT, str(pdf), str(expected)] + args, check=True,
                   timeout=300)
    return pdf, expected


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, r)) for r in rows[1:]]


def page_words(pdf):
    """The words of every page, as poppler splits them."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, timeout=120,
                         capture_output=True, text=True).stdout
    pages = []
    for chunk in out.split("<page ")[1:]:
        pages.append(Counter(html.unescape(w) for w in re.findall(r"<word [^>]*>([^<]*)</word>",
                                                                     chunk)))
    return pages


def option(args, flag, default=None):
    return args[args.index(flag) + 1] if flag in args else default


def cents(value):
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def check_document(pdf, expected, args):
    """The CSV against the arguments and the PDF's words."""
    rows = read_rows(expected)
    n = int(option(args, "--rows", 100))
    lang = option(args, "--lang", "vi")
    merged = option(args, "--merged")
    split = "--split-prices" in args
    assert len(rows) == n
    words = page_words(pdf)
    needed = [Counter() for _ in words]
    last_page = 1
    bad = 0
    for i, r in enumerate(rows):
        page = int(r["page"])
        assert last_page <= page <= len(words), r
        last_page = page
        assert r["evidence"] == "evidence/row-%06d.png" % (i + 1)
        assert r["unit"] and r["quantity"], r  # what tells a ledger row from a section row
        assert r["name"] == " ".join(r["name"].split()), r
        qty = Decimal(r["quantity"])
        parts = [Decimal(r[k]) if r[k] else None for k in gen.PARTS]
        if split:
            prices, amounts = parts[:3], parts[3:]
            assert any(p is not None for p in prices), r
            assert [p is None for p in prices] == [a is None for a in amounts], r
            assert Decimal(r["unit_price"]) == sum(p for p in prices if p is not None), r
            assert Decimal(r["amount"]) == sum(a for a in amounts if a is not None), r
            bad += any(a is not None and a != cents(qty * p) for p, a in zip(prices, amounts))
            printed_numbers = [v for v in parts if v is not None]
        else:
            assert parts == [None] * 6, r
            bad += Decimal(r["amount"]) != cents(qty * Decimal(r["unit_price"]))
            printed_numbers = [Decimal(r["unit_price"]), Decimal(r["amount"])]
        cells = [r["stt"]] + r["name"].split() + [gen.printed(v, lang) for v in
                                                   [qty] + printed_numbers]
        if merged != "code":
            cells.append(r["code"])
        if merged != "unit":
            cells.append(r["unit"])
        needed[page - 1].update(cells)
    assert bad == int(option(args, "--bad-rows", 0))
    for p, (need, have) in enumerate(zip(needed, words)):
        missing = need - have
        assert not missing, "page %d lacks %s" % (p + 1, dict(missing))
    return rows


@pytest.mark.parametrize("name", gen.CLASSES)
@pytest.mark.parametrize("seed", [1, 2])
def test_class(tmp_path, name, seed):
    pdf, expected = generate(tmp_path, "a", ["--class", name, "--seed", str(seed),
                                             "--rows", "70"])
    with open(str(expected) + ".layout.json", encoding="utf-8") as f:
        layout = json.load(f)
    assert layout["class"] == name and layout["seed"] == seed
    args = layout["args"]
    pdf2, expected2 = generate(tmp_path, "b", args)
    assert pdf.read_bytes() == pdf2.read_bytes()
    assert expected.read_bytes() == expected2.read_bytes()
    rows = check_document(pdf, expected, args)
    stts = [r["stt"] for r in rows]
    if name == "hierarchical":
        assert all(re.fullmatch(r"\d+(\.\d+){0,2}|[a-z]\)", s) for s in stts), stts
        assert any("." in s for s in stts)
        numbered = [s for s in stts if not s.endswith(")")]
        assert len(set(numbered)) == len(numbered)
    else:
        first = int(option(args, "--first-stt", 1))
        assert stts == [str(first + i) for i in range(len(rows))]
    if name == "merged":
        key = option(args, "--merged")
        assert any(a[key] == b[key] for a, b in zip(rows, rows[1:]))
    if name.startswith("plain-") or name.startswith("grid-"):
        assert option(args, "--valign") == name.split("-")[1]


@pytest.mark.parametrize("args", [
    ["--rules", "grid", "--valign", "middle", "--max-lines", "3", "--split-prices", "--page",
     "a3-landscape", "--sections", "--numbering", "hierarchical", "--rows", "150", "--bad-rows",
     "4", "--lang", "en", "--no-repeat-header"],
    ["--rules", "none", "--valign", "bottom", "--max-lines", "1", "--narrow-stt", "--first-stt",
     "9901", "--rows", "99", "--center-headers", "--center-cells"],
    ["--rules", "grid", "--valign", "bottom", "--merged", "code", "--rows", "120",
     "--max-lines", "2", "--sections", "--bad-rows", "2"],
    ["--rules", "lined", "--page", "a4-landscape", "--wide-name", "--center-headers",
     "--split-prices", "--rows", "80"],
    ["--rows", "0", "--rules", "grid", "--sections"],
])
def test_options(tmp_path, args):
    pdf, expected = generate(tmp_path, "a", args)
    check_document(pdf, expected, args)


def test_three_line_names_are_common(tmp_path):
    """--max-lines 3 makes names of three lines, and never of four (the row's words lie on at
    most three distinct baselines of the name column)."""
    args = ["--rules", "grid", "--max-lines", "3", "--rows", "120", "--seed", "4"]
    pdf, expected = generate(tmp_path, "a", args)
    rows = check_document(pdf, expected, args)
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, timeout=120,
                         capture_output=True, text=True).stdout
    units = set(gen.UNITS + gen.UNITS_EN)
    counts = Counter()
    for p, chunk in enumerate(out.split("<page ")[1:]):
        words = [(float(x0), float(x1), float(y1), html.unescape(w)) for x0, x1, y1, w in
                 re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" '
                            r'yMax="([\d.]+)">([^<]*)</word>', chunk)]
        # The name column: right of the codes, left of the units.
        left = max(x1 for x0, x1, y, w in words if re.fullmatch(r"A[BFGK]\.\d{5}", w))
        right = min(x0 for x0, x1, y, w in words if w in units and x0 > left + 50)
        lines = {}
        for x0, x1, y, w in words:
            if left < x0 < right:
                lines.setdefault(round(y, 1), []).append((x0, w))
        texts = [" ".join(w for _, w in sorted(v)) for _, v in sorted(lines.items())]
        for r in rows:
            if int(r["page"]) != p + 1:
                continue
            # The fewest consecutive lines of the name column that spell the name.
            found = next((k for k in (1, 2, 3, 4) for i in range(len(texts) - k + 1)
                          if " ".join(texts[i:i + k]) == r["name"]), None)
            assert found and found <= 3, (found, r)
            counts[found] += 1
    assert sum(counts.values()) == len(rows), counts
    assert counts[3] >= len(rows) // 10, counts


# The first version's output for two invocations: the default layout must not change.
PINNED = [
    (["--lang", "vi", "--rows", "240", "--seed", "1", "--bad-rows", "3"],
     "5e93e0a7bfb1c265af75101b4fdf2e13979735c2fcf28a10b763ef5ffc3fc822",
     "0b6e81831a19e4c0570a7470de7117239b63d42cdb3b4ec8749f04056feeeb2c"),
    (["--lang", "en", "--rows", "150", "--seed", "2", "--no-repeat-header"],
     "c2607c730eb2626d7a61fd0eaf58bc74fe901f59c5b25cac1f27a7ccbdcd3e48",
     "989647ba65c6a7d8cc9c9a617b53e7a8604801d959d3c178062a2dcbe030f940"),
]


@pytest.mark.parametrize("args,csv_sha,pdf_sha", PINNED)
def test_default_layout_unchanged(tmp_path, args, csv_sha, pdf_sha):
    import reportlab
    pdf, expected = generate(tmp_path, "a", args)
    assert hashlib.sha256(expected.read_bytes()).hexdigest() == csv_sha
    if reportlab.Version != "3.6.12":
        pytest.skip("PDF bytes pinned with Debian 12's ReportLab 3.6.12, not %s"
                    % reportlab.Version)
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == pdf_sha
    assert not os.path.exists(str(expected) + ".layout.json")


def test_bad_options(tmp_path):
    def fails(args, message):
        r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "x.pdf"),
                            str(tmp_path / "x.csv")] + args, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)

    fails(["--class", "grid-top", "--rules", "none"], "--class chooses the layout")
    fails(["--rules", "lined", "--valign", "middle"], "top-aligned only")
    fails(["--merged", "unit"], "only with --rules grid")
    fails(["--rows", "10000"], "--rows")
    fails(["--first-stt", "9990", "--rows", "20"], "--first-stt")
    fails(["--split-prices", "--rules", "grid"], "does not fit")
    fails(["--numbering", "hierarchical", "--narrow-stt"], "hierarchical")


def test_hierarchical_numbers_are_unique():
    import random
    labels = gen.hierarchical_numbers(9999, random.Random(5))
    numbered = [s for s in labels if not s.endswith(")")]
    assert len(set(numbered)) == len(numbered)
    assert all(int(k) < 100 for s in numbered for k in s.split(".")[1:])
    assert all(re.fullmatch(r"\d+(\.\d+){0,2}|[a-z]\)", s) for s in labels)

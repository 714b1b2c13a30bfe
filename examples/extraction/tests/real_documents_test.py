# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""The real-document sweep: extract_core, with each worker, over every PDF that Debian's
documentation packages put under /usr/share/doc (.pdf and .pdf.gz) and over the table PDFs
testdata/make_debian_tables.py builds from real Debian data with groff and LibreOffice.

Every run must end by itself (a time-out ends the whole process group and fails), exit 0 (a
bill of quantities) or 4 (no ledger row found, said on stderr: every other document),
extract every page, and never lose its worker: a worker that exits, hangs, is killed or cannot
be restarted is reported by extract_core on stderr ("extract_core: worker PID exited: ...";
only the final "stopped" after Shutdown is expected), and so is a failed page ("page N
failed"); either fails the run.

Page text. The C++ worker's page text is poppler-cpp's page::text(), whose default layout is
physical_layout: TextOutputDev with physLayout set, the layout of `pdftotext -layout`. So its
words (the text split at whitespace; the column padding is not compared) must equal those of
`pdftotext -layout` on every page. Plain `pdftotext` puts the lines in reading order (column
by column) and `-raw` in content-stream order, so neither gives the same word sequence.
The Python worker reads the page with MuPDF, another text engine: its words equal
pdftotext's on most pages, and differ where MuPDF and poppler read glyphs differently (a glyph
without a Unicode mapping, an accent printed over a letter, a superscript placed on its own
line, text drawn twice for a bold effect; the README lists them). For it, every page's
characters (whitespace aside, in order) must agree with pdftotext's at MIN_PY_CHARS at least,
and the words of at least MIN_PY_EXACT of all pages must be equal.

Rows. The manuals and the tables that are not bills of quantities must give no ledger row.
A bill of quantities' ledger.csv must equal, byte for byte, the one make_debian_tables.py
derives from the same data (how many rows come out exact is reported either way).

Environment: EXTRACT_CORE (required), EXTRACT_WORKER_PY (the build tree's extract_worker.py:
the Python worker runs only when it is set), TABLES_SCRIPT (make_debian_tables.py),
REAL_DOCUMENTS_REPORT (a file the per-document table is written to), REAL_DOCUMENTS_DIRS
(colon-separated, default /usr/share/doc).
"""

import csv
import difflib
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

EXTRACT_CORE = os.environ.get("EXTRACT_CORE", "")
EXTRACT_WORKER_PY = os.environ.get("EXTRACT_WORKER_PY", "")
TABLES_SCRIPT = os.environ.get("TABLES_SCRIPT", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "make_debian_tables.py"))
DOC_DIRS = os.environ.get("REAL_DOCUMENTS_DIRS", "/usr/share/doc").split(":")
PYTHON = "/usr/bin/python3"

# The Python worker's floors. Measured on Debian 12 with the packages of .ci/run (2026-12-07,
# 26 documents): its words equal pdftotext's on 966 of 1081 pages (0.894); the lowest character
# agreement of a page is 0.80 (zlib1g-dev's crc-doc, TeX math fonts without a Unicode mapping).
MIN_PY_CHARS = 0.75  # per page: characters of the Python worker's text found in pdftotext's
MIN_PY_EXACT = 0.85  # of all pages: the Python worker's words equal to pdftotext's
TABLES = ["iso3166-box", "iso3166-plain", "services-allbox", "boq-en-allbox", "boq-en-plain",
          "boq-vi-calc-grid", "boq-vi-calc-plain"]
BOQ = {"boq-en-allbox", "boq-en-plain", "boq-vi-calc-grid", "boq-vi-calc-plain"}
WORKER_TROUBLE = re.compile(
    r"^extract_core: worker -?\d+ (exited|hung|stuck|over_memory|start_failed|gave_up)\b.*$",
    re.M)
PAGE_FAILED = re.compile(r"^extract_core: page \d+ failed: .*$", re.M)
SUMMARY = re.compile(r"^pages (\d+) \(failed (\d+)\), rows (\d+)", re.M)


def doc_pdfs():
    """Every .pdf and .pdf.gz file, once: packages link one file under several names
    (docbook-xsl-doc-pdf's reference.pdf.gz, groff's mom-pdf.pdf.gz), and a dangling link is
    no document."""
    found = {}
    for top in DOC_DIRS:
        for root, _, files in os.walk(top):
            for f in sorted(files):
                path = os.path.join(root, f)
                if (f.endswith(".pdf") or f.endswith(".pdf.gz")) and os.path.isfile(path):
                    real = os.path.realpath(path)
                    found[real] = min(found.get(real, path), path)
    return sorted(found.values())


DOCS = doc_pdfs()
WORKERS = ["cpp", "python"]
RESULTS = []  # one dict per run, for the report


def doc_id(path):
    return os.path.relpath(path, "/usr/share/doc") if path.startswith("/usr/share/doc/") else path


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="real-documents-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def tables(workdir):
    """{name: manifest entry} of the tables make_debian_tables.py could build here."""
    out = os.path.join(workdir, "tables")
    r = subprocess.run([PYTHON, TABLES_SCRIPT, out], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    with open(os.path.join(out, "tables.json"), encoding="utf-8") as f:
        return {t["name"]: t for t in json.load(f)}


_oracles = {}


def pdftotext_pages(pdf):
    """pdftotext -layout's text of every page (it ends each page with a form feed)."""
    if pdf not in _oracles:
        r = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", pdf, "-"],
                           capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        pages = r.stdout.decode("utf-8").split("\f")
        assert pages[-1].strip() == "", "pdftotext printed text after the last form feed"
        _oracles[pdf] = pages[:-1]
    return _oracles[pdf]


def page_count(pdf):
    r = subprocess.run(["pdfinfo", pdf], capture_output=True, timeout=60)
    m = re.search(rb"^Pages:\s+(\d+)", r.stdout, re.M)
    assert r.returncode == 0 and m, r.stderr.decode(errors="replace")
    return int(m.group(1))


def run_bounded(cmd, timeout):
    """Runs cmd in its own process group; on a time-out SIGTERM (extract_core then stops its
    worker and removes its segment), SIGKILL 10 s later. Returns (status or None, out, err,
    seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        status = None
    return status, out.decode(errors="replace"), err.decode(errors="replace"), \
        time.monotonic() - start


def words(text):
    return text.split()


def char_agreement(actual, oracle):
    """Characters of both, whitespace removed, matched in order: the matched share of the
    longer one (1.0 when both are empty)."""
    a, o = "".join(actual.split()), "".join(oracle.split())
    if a == o:
        return 1.0
    matcher = difflib.SequenceMatcher(None, o, a, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / max(len(a), len(o))


def first_difference(actual, oracle):
    a, o = words(actual), words(oracle)
    for i, (x, y) in enumerate(zip(a, o)):
        if x != y:
            return "word %d: worker %r, pdftotext %r (then %r / %r)" % (
                i + 1, x, y, a[i + 1:i + 4], o[i + 1:i + 4])
    return "worker %d words, pdftotext %d (tail %r / %r)" % (len(a), len(o), a[len(o):][:3],
                                                             o[len(a):][:3])


def extract(pdf, worker, out, pages):
    cmd = [EXTRACT_CORE, "--pdf", pdf, "--out", out]
    if worker == "python":
        cmd += ["--worker", "python"]
    # Far above what a page takes here (under 0.1 s): only a hang gets there.
    return run_bounded(cmd, timeout=60 + 2 * pages)


def check_run(name, pdf, worker, workdir, producer, expected_csv=None):
    if worker == "python" and not EXTRACT_WORKER_PY:
        pytest.skip("the Python worker is not built (SHMPIPE_BUILD_PYTHON)")
    assert EXTRACT_CORE, "EXTRACT_CORE is not set"
    pages = page_count(pdf)
    oracle = pdftotext_pages(pdf)
    assert len(oracle) == pages
    out = os.path.join(workdir, "out", worker, name.replace("/", "_"))
    status, stdout, stderr, seconds = extract(pdf, worker, out, pages)
    result = {"name": name, "producer": producer, "pages": pages, "worker": worker,
              "status": status, "seconds": seconds, "exact": 0, "rows": None,
              "expected_rows": None, "rows_exact": None}
    RESULTS.append(result)
    assert status is not None, "no end within the time limit: %s\n%s" % (stdout, stderr)
    trouble = WORKER_TROUBLE.search(stderr)
    assert trouble is None, "the worker was lost: %s\n%s" % (trouble.group(0), stderr)
    assert not PAGE_FAILED.search(stderr), stderr
    # A document without a ledger is extracted whole and says that it holds no ledger row
    # (exit status 4); a bill of quantities ends with 0.
    if expected_csv is None:
        assert status == 4, "exit status %d\n%s%s" % (status, stdout, stderr)
        assert "no ledger row found" in stderr, stderr
    else:
        assert status == 0, "exit status %d\n%s%s" % (status, stdout, stderr)
    summary = SUMMARY.search(stdout)
    assert summary, stdout
    assert int(summary.group(1)) == pages and int(summary.group(2)) == 0, stdout
    result["rows"] = int(summary.group(3))

    texts = []
    for p in range(1, pages + 1):
        with open(os.path.join(out, "pages", "page-%04d.txt" % p), encoding="utf-8") as f:
            texts.append(f.read())
    assert len(os.listdir(os.path.join(out, "pages"))) == pages
    exact = [words(t) == words(o) for t, o in zip(texts, oracle)]
    result["exact"] = sum(exact)
    if worker == "cpp":
        wrong = [p + 1 for p, ok in enumerate(exact) if not ok]
        assert not wrong, "page text differs from pdftotext -layout on pages %s; page %d: %s" % (
            wrong, wrong[0], first_difference(texts[wrong[0] - 1], oracle[wrong[0] - 1]))
    else:
        for p, (t, o) in enumerate(zip(texts, oracle)):
            if not exact[p]:
                agreement = char_agreement(t, o)
                assert agreement >= MIN_PY_CHARS, "page %d: characters agree %.3f: %s" % (
                    p + 1, agreement, first_difference(t, o))

    if expected_csv is None:
        assert result["rows"] == 0, "ledger rows found in a document without a ledger"
        return
    with open(os.path.join(out, "ledger.csv"), encoding="utf-8", newline="") as f:
        actual = list(csv.reader(f))
    with open(expected_csv, encoding="utf-8", newline="") as f:
        expected = list(csv.reader(f))
    assert actual[0] == expected[0], "ledger.csv columns: %s" % actual[0]
    # Rows keyed by (page, stt, code, name, ...) without the evidence file name, whose number
    # shifts with every missing or extra row.
    key = (lambda row: tuple(row[:-1]))
    want = [key(r) for r in expected[1:]]
    got = [key(r) for r in actual[1:]]
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    result["expected_rows"] = len(want)
    result["rows_exact"] = sum(b.size for b in matcher.get_matching_blocks())
    for i, row in enumerate(actual[1:]):
        evidence = os.path.join(out, row[-1]) if row[-1] else ""
        assert evidence and os.path.getsize(evidence) > 8, "row %d has no evidence PNG" % (i + 1)
    if got != want:
        summary = "%d of %d rows exact, %d rows written" % (result["rows_exact"], len(want),
                                                            len(got))
        first = next((i for i, (w, g) in enumerate(zip(want, got)) if w != g),
                     min(len(want), len(got)))
        detail = "first difference at row %d: expected %r, got %r" % (
            first + 1, want[first] if first < len(want) else None,
            got[first] if first < len(got) else None)
        pytest.fail(summary + "; " + detail)


# ---------------------------------------------------------------------------------------------


def test_documentation_pdfs_present():
    assert DOCS, ("no PDF under %s: install Debian documentation packages that ship PDFs "
                  "(see examples/extraction/README.md)" % ":".join(DOC_DIRS))


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("source", DOCS, ids=[doc_id(d) for d in DOCS])
def test_documentation_pdf(source, worker, workdir):
    pdf = source
    if source.endswith(".gz"):
        pdf = os.path.join(workdir, "docs", doc_id(source)[:-3])
        if not os.path.exists(pdf):
            os.makedirs(os.path.dirname(pdf), exist_ok=True)
            with gzip.open(source) as f, open(pdf + ".part", "wb") as g:
                shutil.copyfileobj(f, g)
            os.rename(pdf + ".part", pdf)
    producer = subprocess.run(["pdfinfo", pdf], capture_output=True, timeout=60).stdout
    m = re.search(rb"^Producer:\s+(.*)$", producer, re.M)
    check_run(doc_id(source), pdf, worker, workdir,
              m.group(1).decode(errors="replace").strip() if m else "?")


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("name", TABLES)
def test_debian_table(name, worker, workdir, tables):
    if name not in tables:
        pytest.skip("%s was not built (LibreOffice missing: apt-get install "
                    "libreoffice-calc-nogui)" % name)
    t = tables[name]
    check_run("tables/" + name, t["pdf"], worker, workdir, t["producer"],
              t["csv"] if name in BOQ else None)


def test_python_worker_words_overall():
    """Runs last (pytest keeps the file's order): the Python worker's share of pages whose
    words equal pdftotext's, over every document; and the report."""
    runs = [r for r in RESULTS if r["worker"] == "python" and r["status"] in (0, 4)]
    lines = ["| document | producer | pages | worker | status | seconds | pages with "
             "pdftotext's words | rows (exact / expected) |",
             "|---|---|---:|---|---:|---:|---:|---|"]
    for r in RESULTS:
        rows = "%s" % r["rows"] if r["expected_rows"] is None else "%s (%s / %s)" % (
            r["rows"], r["rows_exact"], r["expected_rows"])
        lines.append("| %s | %s | %d | %s | %s | %.2f | %d | %s |" % (
            r["name"], r["producer"], r["pages"], r["worker"],
            "timeout" if r["status"] is None else r["status"], r["seconds"], r["exact"], rows))
    for worker in WORKERS:
        done = [r for r in RESULTS if r["worker"] == worker]
        lines.append("%s: %d documents, %d pages, %d with pdftotext's words, %.1f s" % (
            worker, len(done), sum(r["pages"] for r in done), sum(r["exact"] for r in done),
            sum(r["seconds"] for r in done)))
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if os.environ.get("REAL_DOCUMENTS_REPORT"):
        with open(os.environ["REAL_DOCUMENTS_REPORT"], "w", encoding="utf-8") as f:
            f.write(report)
    if not runs:
        pytest.skip("the Python worker did not run")
    pages = sum(r["pages"] for r in runs)
    exact = sum(r["exact"] for r in runs)
    assert exact >= MIN_PY_EXACT * pages, (
        "the Python worker's words equal pdftotext's on %d of %d pages" % (exact, pages))

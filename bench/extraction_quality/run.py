#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""How many ledger rows extract_core gets exactly right, per layout class (issue 17, item 5):

    /usr/bin/python3 bench/extraction_quality/run.py --extract-core build/dev/examples/extraction/extract_core
        [--worker cpp|python] [--docs N] [--seed S] [--classes C ...] [--out DIR] [--quick]
        [--timeout SEC] [--jobs J] [--dpi N] [--generator PATH] [--keep]

A measurement, not a test: it generates --docs documents (by default 208, 16 per class, about
28k rows; fixed seed) with testdata/make_ledger_pdf.py --class C, runs extract_core on each
(each with its own --out and a timeout), compares its ledger.csv with the expected CSV and
prints, per class: documents, documents that failed to run (exit status not 0, timeout),
documents exactly right, rows expected, rows exact, rows wrong, rows missing, extra rows.
--out DIR gets quality.md and quality.json (with the generator arguments of every document
that is not exact, to reproduce it). --quick: 2 small documents per class.

Counting. Rows are compared field by field as CSV text (every column but evidence, whose name
is only the row's position). Within each page the expected and the extracted rows are aligned
in order (the best-scoring alignment; a pair must share its STT or three other fields): a
pair with every field equal is exact, any other pair is wrong (the fields that differ are
counted), an expected row left unpaired is missing, an extracted one is extra. A row on the
wrong page pairs across pages when STT and code agree (wrong, field "page"). So a name glued
to the row above makes both rows wrong; a row swallowed by its neighbour is one wrong and one
missing; a section heading read as a row is extra. A document that failed keeps whatever rows
it wrote (none: all missing).

Exit status 0 whatever the quality; 1 when the tool itself fails (the generator fails, a
result cannot be written), 2 for a bad command line. Stopped by SIGINT or SIGTERM, it ends the
extract_core it runs (SIGTERM, then SIGKILL to its process group after 10 s, removing that
process's session segment) and removes its temporary files.
"""

import argparse
import concurrent.futures
import csv
import glob
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GENERATOR = os.path.join(REPO, "examples", "extraction", "testdata", "make_ledger_pdf.py")
PYTHON = "/usr/bin/python3"

FIELDS = ["stt", "code", "name", "unit", "quantity", "unit_price", "amount",
          "unit_price_material", "unit_price_labour", "unit_price_machine",
          "amount_material", "amount_labour", "amount_machine"]
COUNTS = ["docs", "docs_failed", "docs_exact", "rows_expected", "rows_exact", "rows_wrong",
          "rows_missing", "rows_extra"]
STT_WEIGHT = 4  # an equal STT counts as much as four other equal fields when aligning
MIN_OTHER = 3  # without the same STT, a pair needs this many other non-empty fields equal


class ToolError(Exception):
    """The measurement itself failed (not the program measured)."""


# ---------------------------------------------------------------------------------------------
# Comparison


def read_csv(path):
    """Rows as dicts (page an int); None when the file does not exist."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return []
    header = rows[0]
    missing = [k for k in ["page"] + FIELDS if k not in header]
    if missing:
        raise ValueError("%s: no column %s" % (path, ", ".join(missing)))
    out = []
    for r in rows[1:]:
        d = dict(zip(header, r))
        try:
            d["page"] = int(d["page"])
        except ValueError:
            d["page"] = 0
        out.append(d)
    return out


def score(e, a):
    """The alignment score of pairing e with a, or None when they may not pair."""
    others = sum(1 for k in FIELDS[1:] if e.get(k) and e.get(k) == a.get(k))
    same_stt = e.get("stt", "") == a.get("stt", "")
    if not same_stt and others < MIN_OTHER:
        return None
    return others + (STT_WEIGHT if same_stt else 0)


def align(expected, actual):
    """[(i, j)] pairs of the best order-keeping alignment (Needleman-Wunsch, gaps free)."""
    n, m = len(expected), len(actual)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, up = best[i], best[i - 1]
        for j in range(1, m + 1):
            v = max(up[j], row[j - 1])
            s = score(expected[i - 1], actual[j - 1])
            if s is not None and up[j - 1] + s > v:
                v = up[j - 1] + s
            row[j] = v
    pairs = []
    i, j = n, m
    while i and j:
        s = score(expected[i - 1], actual[j - 1])
        if s is not None and best[i][j] == best[i - 1][j - 1] + s:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif best[i][j] == best[i - 1][j]:
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    return pairs


def compare(expected, actual):
    """Counts of one document: exact, wrong, missing, extra, and the fields the wrong rows
    got wrong."""
    actual = actual or []
    pages = sorted({r["page"] for r in expected} | {r["page"] for r in actual})
    pairs, lone_e, lone_a = [], [], []
    for p in pages:
        e = [r for r in expected if r["page"] == p]
        a = [r for r in actual if r["page"] == p]
        got = align(e, a)
        pairs += [(e[i], a[j]) for i, j in got]
        used_e, used_a = {i for i, _ in got}, {j for _, j in got}
        lone_e += [r for i, r in enumerate(e) if i not in used_e]
        lone_a += [r for j, r in enumerate(a) if j not in used_a]
    # A row on another page: the same STT and code.
    for r in list(lone_a):
        match = next((x for x in lone_e if x["stt"] == r["stt"] and x["code"] == r["code"]),
                     None)
        if match is not None:
            lone_e.remove(match)
            lone_a.remove(r)
            pairs.append((match, r))
    wrong_fields = {}
    exact = 0
    examples = []
    for e, a in pairs:
        bad = [k for k in ["page"] + FIELDS if e.get(k, "") != a.get(k, "")]
        if not bad:
            exact += 1
            continue
        for k in bad:
            wrong_fields[k] = wrong_fields.get(k, 0) + 1
        if len(examples) < 3:
            examples.append({"expected": {k: e.get(k, "") for k in ["page"] + bad},
                             "extracted": {k: a.get(k, "") for k in ["page"] + bad}})
    return {"rows_expected": len(expected), "rows_exact": exact,
            "rows_wrong": len(pairs) - exact, "rows_missing": len(lone_e),
            "rows_extra": len(lone_a), "wrong_fields": wrong_fields, "examples": examples}


# ---------------------------------------------------------------------------------------------
# Running extract_core


class Children:
    """Tells the threads running extract_core to end it (on a stop signal)."""

    def __init__(self):
        self.stopping = threading.Event()

    def stop_all(self):
        self.stopping.set()


def wait_unreaped(p, timeout, stopping=None):
    """Waits up to `timeout` s (None: for ever), or until `stopping` is set, for p to end
    without reaping it: while it is a zombie its pid (the name of its session segment, its
    process group) is nobody else's. Returns its exit status (negative: the signal), or None if
    it still runs."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        r = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if r is not None and r.si_pid == p.pid:
            return r.si_status if r.si_code == os.CLD_EXITED else -r.si_status
        if deadline is not None and time.monotonic() >= deadline:
            return None
        if stopping is not None and stopping.is_set():
            return None
        time.sleep(0.02)


def end_process(p, status=None):
    """Ends extract_core p if it runs: SIGTERM (it then removes its worker, segment and
    temporary directory), after 10 s SIGKILL to its process group. When it did not exit
    normally, also ends what is left in its process group (its worker) and removes its session
    segment (named by its pid), before reaping it. Returns its exit status."""
    if status is None:
        status = wait_unreaped(p, 0)
    if status is None:
        p.send_signal(signal.SIGTERM)
        status = wait_unreaped(p, 10)
        if status is None:
            os.killpg(p.pid, signal.SIGKILL)
            status = wait_unreaped(p, None)
    if status != 0:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for seg in glob.glob("/dev/shm/shmpipe-extract-%d-*" % p.pid):
            try:
                os.unlink(seg)
            except FileNotFoundError:
                pass
    p.wait()
    return status


def run_extract(cmd, timeout, children):
    """(status, seconds, stderr tail); status is 'timeout' when the time ran out, else the
    exit status (negative: killed by that signal)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True)
        try:
            status = wait_unreaped(p, timeout, children.stopping)
            if status is None:
                end_process(p)
                status = "stopped" if children.stopping.is_set() else "timeout"
            else:
                end_process(p, status)
        finally:
            if p.returncode is None:  # an exception on the way: still ended and reaped
                end_process(p)
        if children.stopping.is_set():
            raise KeyboardInterrupt
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    return status, time.monotonic() - t0, tail


def generate(generator, doc, timeout=600):
    cmd = [PYTHON, generator, doc["pdf"], doc["expected"], "--class", doc["class"],
           "--seed", str(doc["seed"]), "--rows", str(doc["rows"])]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise ToolError("the generator failed (%d): %s\n%s" % (p.returncode, shlex.join(cmd),
                                                               p.stderr))
    with open(doc["expected"] + ".layout.json", encoding="utf-8") as f:
        doc["args"] = json.load(f)["args"]


def measure(a, doc, children):
    if children.stopping.is_set():
        raise KeyboardInterrupt
    os.makedirs(doc["dir"])
    generate(a.generator, doc)
    cmd = [a.extract_core, "--pdf", doc["pdf"], "--out", doc["out"]]
    if a.worker == "python":
        cmd += ["--worker", "python"]
    if a.dpi:
        cmd += ["--dpi", str(a.dpi)]
    status, seconds, tail = run_extract(cmd, a.timeout, children)
    expected = read_csv(doc["expected"])
    try:
        actual = read_csv(os.path.join(doc["out"], "ledger.csv"))
    except ValueError as e:
        actual, tail = None, tail + "\n" + str(e)
    result = compare(expected, actual)
    result.update({"class": doc["class"], "seed": doc["seed"], "rows": doc["rows"],
                   "args": doc["args"], "status": status, "seconds": round(seconds, 3),
                   "csv_written": actual is not None})
    if status != 0:
        result["stderr"] = tail.strip().splitlines()[-5:]
    if not a.keep:
        shutil.rmtree(doc["dir"], ignore_errors=True)
    return result


# ---------------------------------------------------------------------------------------------
# Tables


def totals(results, classes):
    table = {c: dict.fromkeys(COUNTS, 0) for c in classes}
    fields = {c: {} for c in classes}
    for r in results:
        t = table[r["class"]]
        t["docs"] += 1
        t["docs_failed"] += r["status"] != 0
        t["docs_exact"] += (r["status"] == 0 and r["rows_exact"] == r["rows_expected"] and
                            not r["rows_extra"])
        for k in COUNTS[3:]:
            t[k] += r[k]
        for k, v in r["wrong_fields"].items():
            fields[r["class"]][k] = fields[r["class"]].get(k, 0) + v
    total = {k: sum(t[k] for t in table.values()) for k in COUNTS}
    return table, fields, total


def percent(part, whole):
    return "%.1f" % (100.0 * part / whole) if whole else "-"


def markdown(meta, table, fields, total, results):
    out = ["# Ledger extraction quality", "",
           "`%s` (worker %s), %d documents, %d rows, seed %d, %s." % (
               meta["extract_core"], meta["worker"], total["docs"], total["rows_expected"],
               meta["seed"], meta["when"]), "",
           "| class | docs | docs failed | docs exact | rows expected | rows exact | rows wrong "
           "| rows missing | extra rows | exact % |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c, t in list(table.items()) + [("**all**", total)]:
        out.append("| %s | %d | %d | %d | %d | %d | %d | %d | %d | %s |" % (
            c, t["docs"], t["docs_failed"], t["docs_exact"], t["rows_expected"],
            t["rows_exact"], t["rows_wrong"], t["rows_missing"], t["rows_extra"],
            percent(t["rows_exact"], t["rows_expected"])))
    keys = ["page"] + FIELDS
    used = [k for k in keys if any(k in f for f in fields.values())]
    if used:
        out += ["", "Fields that differ in the wrong rows:", "",
                "| class | " + " | ".join(used) + " |",
                "|---|" + "---:|" * len(used)]
        for c, f in fields.items():
            if f:
                out.append("| %s | " % c + " | ".join(str(f.get(k, 0)) for k in used) + " |")
    failed = [r for r in results if r["status"] != 0]
    if failed:
        out += ["", "Documents that failed to run:", ""]
        for r in failed:
            out.append("- %s seed %d: status %s; make_ledger_pdf.py OUT.pdf OUT.csv %s%s" % (
                r["class"], r["seed"], r["status"], shlex.join(r["args"]),
                ("; " + r["stderr"][-1]) if r.get("stderr") else ""))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------


def plan(a, classes):
    """The documents: per class, seeds and row counts from --seed and the class's name (the
    same documents of a class whichever other classes run)."""
    docs = []
    per_class = [a.docs // len(classes) + (i < a.docs % len(classes))
                 for i in range(len(classes))]
    for c, n in zip(classes, per_class):
        rng = random.Random("%d %s" % (a.seed, c))
        for _ in range(n):
            if a.quick:
                rows = rng.randint(15, 60)
            else:
                # Mostly a few pages; some long documents (row numbers of 3 digits, many pages).
                r = rng.random()
                rows = rng.randint(20, 120) if r < 0.6 else rng.randint(120, 250) \
                    if r < 0.9 else rng.randint(250, 400)
            docs.append({"class": c, "seed": rng.randrange(1, 1 << 31), "rows": rows})
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extract-core", required=True, help="the extract_core program")
    ap.add_argument("--worker", choices=["cpp", "python"], default="cpp")
    ap.add_argument("--docs", type=int, help="documents in all (default 208; --quick: 2 per class)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--classes", nargs="+", metavar="CLASS", help="default: every class")
    ap.add_argument("--out", help="directory for quality.md and quality.json")
    ap.add_argument("--quick", action="store_true", help="2 small documents per class")
    ap.add_argument("--timeout", type=float, help="seconds per document (default 300, quick 120)")
    ap.add_argument("--jobs", type=int, default=1, help="documents at a time (default 1)")
    ap.add_argument("--dpi", type=int, help="extract_core --dpi (default: its own)")
    ap.add_argument("--generator", default=GENERATOR, help="make_ledger_pdf.py")
    ap.add_argument("--keep", action="store_true", help="keep every document and its output")
    a = ap.parse_args()

    if not (os.path.isfile(a.extract_core) and os.access(a.extract_core, os.X_OK)):
        ap.error("--extract-core %s is not an executable file" % a.extract_core)
    a.extract_core = os.path.abspath(a.extract_core)
    if not os.path.isfile(a.generator):
        ap.error("--generator %s does not exist" % a.generator)
    sys.path.insert(0, os.path.dirname(os.path.abspath(a.generator)))
    import make_ledger_pdf
    classes = a.classes or list(make_ledger_pdf.CLASSES)
    unknown = [c for c in classes if c not in make_ledger_pdf.CLASSES]
    if unknown:
        ap.error("unknown class %s (classes: %s)" % (", ".join(unknown),
                                                    ", ".join(make_ledger_pdf.CLASSES)))
    if a.docs is None:
        a.docs = 2 * len(classes) if a.quick else 208
    if a.docs < 1 or a.jobs < 1:
        ap.error("--docs and --jobs: at least 1")
    if a.timeout is None:
        a.timeout = 120 if a.quick else 300

    children = Children()

    received = []

    def stop(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="extraction_quality-",
                            dir=a.out if a.out and a.keep else None)
    results = []
    started = time.monotonic()
    try:
        docs = plan(a, classes)
        for i, d in enumerate(docs):
            d["dir"] = os.path.join(work, "%04d-%s" % (i + 1, d["class"]))
            d["pdf"] = os.path.join(d["dir"], "ledger.pdf")
            d["expected"] = os.path.join(d["dir"], "expected.csv")
            d["out"] = os.path.join(d["dir"], "out")
        with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
            futures = [pool.submit(measure, a, d, children) for d in docs]
            try:
                for i, f in enumerate(futures):
                    r = f.result()
                    results.append(r)
                    print("%4d/%d %-13s rows %4d: exact %4d wrong %4d missing %4d extra %4d%s"
                          % (i + 1, len(docs), r["class"], r["rows_expected"], r["rows_exact"],
                             r["rows_wrong"], r["rows_missing"], r["rows_extra"],
                             "" if r["status"] == 0 else "  (status %s)" % r["status"]),
                          file=sys.stderr, flush=True)
            except BaseException:
                for f in futures:
                    f.cancel()
                children.stop_all()
                raise
        table, fields, total = totals(results, classes)
        meta = {"extract_core": a.extract_core, "worker": a.worker, "seed": a.seed,
                "docs": len(docs), "quick": a.quick, "timeout": a.timeout, "dpi": a.dpi,
                "classes": classes, "when": time.strftime("%Y-%m-%d %H:%M"),
                "seconds": round(time.monotonic() - started, 1),
                "command": shlex.join([PYTHON] + sys.argv)}
        text = markdown(meta, table, fields, total, results)
        print(text, end="")
        if a.out:
            with open(os.path.join(a.out, "quality.md"), "w", encoding="utf-8") as f:
                f.write(text)
            with open(os.path.join(a.out, "quality.json"), "w", encoding="utf-8") as f:
                json.dump({"meta": meta, "classes": table, "wrong_fields": fields,
                           "total": total,
                           "docs": [r for r in results if r["status"] != 0 or
                                    r["rows_exact"] != r["rows_expected"] or r["rows_extra"]]},
                          f, indent=1, ensure_ascii=False)
                f.write("\n")
    except KeyboardInterrupt:
        children.stop_all()
        print("extraction_quality: stopped", file=sys.stderr)
        return 128 + (received[0] if received else signal.SIGINT)
    except (ToolError, OSError, subprocess.SubprocessError) as e:
        children.stop_all()
        print("extraction_quality: %s" % e, file=sys.stderr)
        return 1
    finally:
        if a.keep:
            print("extraction_quality: documents kept in %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

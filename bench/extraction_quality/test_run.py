# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""run.py, the measurement tool (not the reader's quality): how it counts rows exact, wrong,
missing and extra on known cases; that it counts documents that hang, crash or write nothing
as failed and still ends every process and segment they leave; and (with EXTRACT_CORE set, as
ctest does) that --quick runs the real extract_core over every class and writes a
well-formed table, whatever the numbers in it.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "run.py")
sys.path.insert(0, HERE)
import run  # noqa: E402

sys.path.insert(0, os.path.dirname(run.GENERATOR))
import make_ledger_pdf  # noqa: E402


def row(page, stt, name="n", code=None, amount="10"):
    r = {k: "" for k in run.FIELDS}
    r.update({"page": page, "stt": stt, "code": code or "AB.%05d" % int(re.sub(r"\D", "", stt)
                                                                         or 0),
              "name": name, "unit": "m2", "quantity": "2", "unit_price": "5", "amount": amount})
    return r


def doc(n, page_size=5):
    return [row(1 + i // page_size, str(i + 1), "name %d" % (i + 1)) for i in range(n)]


def counts(expected, actual):
    c = run.compare(expected, actual)
    return (c["rows_exact"], c["rows_wrong"], c["rows_missing"], c["rows_extra"])


def test_identical():
    assert counts(doc(12), doc(12)) == (12, 0, 0, 0)


def test_nothing_written():
    assert counts(doc(7), None) == (0, 0, 7, 0)
    assert counts(doc(7), []) == (0, 0, 7, 0)


def test_missing_and_extra():
    e = doc(10)
    a = [dict(r) for r in e if r["stt"] != "4"]
    a.insert(6, row(2, "II", "Phần móng", code=""))  # a section heading read as a row
    for r in a[6:7]:
        r.update(unit="", quantity="", unit_price="", amount="")
    assert counts(e, a) == (9, 0, 1, 1)


def test_name_glued_to_the_row_above():
    e = doc(6)
    a = [dict(r) for r in e]
    a[1]["name"] = "name 2 first line of 3"
    a[2]["name"] = "rest of 3"
    assert counts(e, a) == (4, 2, 0, 0)


def test_row_swallowed_by_its_neighbour():
    e = doc(6)
    a = [dict(r) for r in e if r["stt"] != "3"]
    a[1]["name"] = "name 2 name 3"
    c = run.compare(e, a)
    assert (c["rows_exact"], c["rows_wrong"], c["rows_missing"], c["rows_extra"]) == \
        (4, 1, 1, 0)
    assert c["wrong_fields"] == {"name": 1}


def test_wrong_stt_still_pairs_on_other_fields():
    e = doc(5)
    a = [dict(r) for r in e]
    a[2]["stt"] = "3 AB"
    c = run.compare(e, a)
    assert (c["rows_exact"], c["rows_wrong"]) == (4, 1) and c["wrong_fields"] == {"stt": 1}


def test_row_on_the_wrong_page():
    e = doc(10)
    a = [dict(r) for r in e]
    a[4]["page"] = 2  # the last row of page 1 reported on page 2
    c = run.compare(e, a)
    assert (c["rows_exact"], c["rows_wrong"], c["rows_missing"], c["rows_extra"]) == \
        (9, 1, 0, 0)
    assert c["wrong_fields"] == {"page": 1}


def test_repeated_labels_align_in_order():
    # Hierarchical numbering repeats "a)" under every parent.
    e = [row(1, s, "name %d" % i, code="AB.%05d" % i)
         for i, s in enumerate(["1", "a)", "b)", "2", "a)", "b)"])]
    a = [dict(r) for r in e]
    del a[4]
    assert counts(e, a) == (5, 0, 1, 0)


# ---------------------------------------------------------------------------------------------
# The tool around a stand-in for extract_core.

FAKE = r'''#!/usr/bin/python3
import os, shutil, signal, subprocess, sys, time
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
pdf, out = args["--pdf"], args["--out"]
mode = os.environ["FAKE_MODE"]
expected = os.path.join(os.path.dirname(pdf), "expected.csv")
if mode == "exact":
    os.makedirs(out)
    shutil.copy(expected, os.path.join(out, "ledger.csv"))
elif mode == "drop":  # every third row lost
    os.makedirs(out)
    lines = open(expected, encoding="utf-8").read().splitlines(True)
    with open(os.path.join(out, "ledger.csv"), "w", encoding="utf-8") as f:
        f.writelines(l for i, l in enumerate(lines) if i == 0 or i % 3)
elif mode == "crash":  # killed, leaving its worker and its segment
    open("/dev/shm/shmpipe-extract-%d-00000000deadbeef" % os.getpid(), "w").close()
    worker = subprocess.Popen(["sleep", "1000"])
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write("%d\n" % worker.pid)
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "hang":  # deaf to SIGTERM, with a worker
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open("/dev/shm/shmpipe-extract-%d-00000000feedface" % os.getpid(), "w").close()
    worker = subprocess.Popen(["sleep", "1000"])
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write("%d\n%d\n" % (os.getpid(), worker.pid))
    time.sleep(1000)
elif mode == "sleep":  # a long document
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write("%d\n" % os.getpid())
    time.sleep(1000)
'''


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "fake_extract_core"
    path.write_text(FAKE)
    path.chmod(0o755)
    return path


def run_tool(args, env=None, timeout=300):
    return subprocess.run([sys.executable, RUN] + args, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


def load(out):
    with open(os.path.join(out, "quality.json"), encoding="utf-8") as f:
        return json.load(f)


def test_exact_reader_scores_everything(tmp_path, fake):
    out = tmp_path / "out"
    r = run_tool(["--extract-core", str(fake), "--docs", "3", "--quick", "--classes", "lined",
                  "grid-middle", "merged", "--out", str(out)], {"FAKE_MODE": "exact"})
    assert r.returncode == 0, r.stderr
    q = load(out)
    assert q["total"]["docs"] == 3 and q["total"]["docs_exact"] == 3
    assert q["total"]["rows_exact"] == q["total"]["rows_expected"] > 0
    assert q["docs"] == []  # only documents that are not exact are listed


def test_lost_rows_are_missing(tmp_path, fake):
    out = tmp_path / "out"
    r = run_tool(["--extract-core", str(fake), "--docs", "2", "--quick", "--classes", "sections",
                  "--out", str(out)], {"FAKE_MODE": "drop"})
    assert r.returncode == 0, r.stderr
    t = load(out)["total"]
    assert t["rows_missing"] > 0 and t["rows_wrong"] == t["rows_extra"] == 0
    assert t["rows_exact"] + t["rows_missing"] == t["rows_expected"]
    assert t["docs_failed"] == 0 and t["docs_exact"] == 0


@pytest.mark.parametrize("mode", ["crash", "hang"])
def test_failed_documents_leave_nothing(tmp_path, fake, mode):
    out, pids = tmp_path / "out", tmp_path / "pids"
    start = time.monotonic()
    r = run_tool(["--extract-core", str(fake), "--docs", "1", "--quick", "--classes", "lined",
                  "--timeout", "2", "--out", str(out)],
                 {"FAKE_MODE": mode, "FAKE_PIDS": str(pids)})
    assert r.returncode == 0, r.stderr
    q = load(out)
    assert q["total"]["docs_failed"] == 1
    assert q["total"]["rows_missing"] == q["total"]["rows_expected"] > 0
    d = q["docs"][0]
    assert d["status"] == ("timeout" if mode == "hang" else -9) and not d["csv_written"]
    assert "--class" not in d["args"] and "--rules" in d["args"]  # reproducible without it
    for pid in map(int, pids.read_text().split()):
        assert not alive(pid), pid
    assert not [n for n in os.listdir("/dev/shm") if n.endswith(("deadbeef", "feedface"))
                and n.startswith("shmpipe-extract-")]
    if mode == "hang":  # 2 s, then 10 s of SIGTERM unheard, then SIGKILL
        assert 11 < time.monotonic() - start < 60
    assert "status" in (out / "quality.md").read_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopped_by_a_signal(tmp_path, fake, signum):
    """run.py stopped while extract_core runs: 128 + the signal, extract_core ended, no
    temporary file left."""
    tmp, pids = tmp_path / "tmp", tmp_path / "pids"
    tmp.mkdir()
    p = subprocess.Popen([sys.executable, RUN, "--extract-core", str(fake), "--docs", "2",
                          "--quick", "--classes", "lined"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, FAKE_MODE="sleep", FAKE_PIDS=str(pids),
                                  TMPDIR=str(tmp)))
    try:
        deadline = time.monotonic() + 60
        while not (pids.exists() and pids.read_text().endswith("\n")):
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.05)
        p.send_signal(signum)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 128 + signum, err
    assert "stopped" in err
    for pid in map(int, pids.read_text().split()):
        assert not alive(pid), pid
    assert list(tmp.iterdir()) == []


def test_bad_command_lines(tmp_path, fake):
    assert run_tool(["--extract-core", str(tmp_path / "nothing")]).returncode == 2
    assert run_tool(["--extract-core", str(fake), "--classes", "round"]).returncode == 2
    assert run_tool(["--extract-core", str(fake), "--docs", "0"]).returncode == 2


# ---------------------------------------------------------------------------------------------
# The real extract_core.


@pytest.mark.skipif(not os.environ.get("EXTRACT_CORE"), reason="EXTRACT_CORE not set")
def test_quick_form_runs_and_writes_a_well_formed_table(tmp_path):
    out = tmp_path / "out"
    r = run_tool(["--extract-core", os.environ["EXTRACT_CORE"], "--quick", "--out", str(out)],
                 timeout=1200)
    assert r.returncode == 0, r.stderr
    q = load(out)
    classes = list(make_ledger_pdf.CLASSES)
    assert list(q["classes"]) == classes
    for c, t in list(q["classes"].items()) + [("total", q["total"])]:
        assert set(t) == set(run.COUNTS), c
        assert t["rows_exact"] + t["rows_wrong"] + t["rows_missing"] == t["rows_expected"], c
        assert t["docs_exact"] + t["docs_failed"] <= t["docs"], c
        assert min(t.values()) >= 0
    assert all(t["docs"] == 2 and t["rows_expected"] > 0 for t in q["classes"].values())
    for k in run.COUNTS:
        assert q["total"][k] == sum(t[k] for t in q["classes"].values()), k
    for d in q["docs"]:
        assert d["class"] in classes and "--class" not in d["args"]
    # The markdown table: a header, a rule, one line per class and a total, ten cells each.
    md = (out / "quality.md").read_text(encoding="utf-8")
    assert md == r.stdout
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    table = lines[:len(classes) + 2]
    assert table[0].startswith("| class | docs |")
    assert [line.split(" | ")[0][2:] for line in table[1:]] == classes + ["**all**"]
    assert all(line.count("|") == 11 for line in table)
    for c, line in zip(classes, table[1:]):
        cells = [x.strip() for x in line.strip("|").split("|")]
        t = q["classes"][c]
        assert [int(x) for x in cells[1:9]] == [t[k] for k in run.COUNTS], c

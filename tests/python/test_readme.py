# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""README.md's Python blocks run as written: every ```python block after a line
`<!-- snippet python: NAME -->` is written to NAME in a fresh directory, then orchestrator.py
runs there (it starts worker.py under a Supervisor) and must print what README says."""
import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def snippets():
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"<!-- snippet python: (\S+) -->\n```python\n(.*?)```", text, re.S)
    return dict(found)


def test_readme_names_its_python_files():
    assert set(snippets()) == {"worker.py", "orchestrator.py"}


def test_the_orchestrator_drives_the_worker_as_written(tmp_path):
    for name, code in snippets().items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    before = set(os.listdir("/dev/shm"))
    run = subprocess.run([sys.executable, "orchestrator.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{i} page {i} of ledger.pdf" for i in (1, 2, 3)]
    assert not [n for n in set(os.listdir("/dev/shm")) - before if n.startswith("pages-")]

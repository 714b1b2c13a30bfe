# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""package.python: the installed package imports from PREFIX (argv[1]) and moves a record."""
import os
import sys

import shmpipe

prefix = os.path.realpath(sys.argv[1])
where = os.path.realpath(shmpipe.__file__)
if not where.startswith(prefix + os.sep):
    sys.exit(f"shmpipe was imported from {where}, not from the prefix {prefix}")
name = f"shmpipe-pkgtest-{os.getpid()}"
with shmpipe.Consumer.create(name, capacity=4096) as rx, shmpipe.Producer.open(name) as tx:
    tx.send(b"installed", timeout=1.0)
    with rx.receive(timeout=1.0) as rec:
        assert bytes(rec.data) == b"installed", bytes(rec.data)
print(f"installed package: ok ({where})")

# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""A Python program outside the project that uses the modules the installed
shmpipe_add_schemas(... PYTHON) generated from order.fbs: builds an Order with
python3-flatbuffers and reads it back through a read-only memoryview. With --shmpipe-schema,
also imports shmpipe's installed shmpipe.schema and round-trips an Envelope through it.

    schema_consumer.py [--shmpipe-schema]      (PYTHONPATH: the generated import roots)
"""

import sys

import flatbuffers
import numpy as np

from pkgtest import Order


def check_order():
    b = flatbuffers.Builder(256)
    customer = b.CreateString("acme")
    items = b.CreateNumpyVector(np.array([7, 8, 9], dtype=np.uint32))
    Order.Start(b)
    Order.AddCustomer(b, customer)
    Order.AddQuantity(b, 3)
    Order.AddItems(b, items)
    b.Finish(Order.End(b), file_identifier=b"PKGT")
    view = memoryview(bytes(b.Output()))  # read-only, as a received record's data is
    assert Order.Order.OrderBufferHasIdentifier(view, 0), "file_identifier PKGT missing"
    order = Order.Order.GetRootAs(view, 0)
    assert order.Customer() == b"acme", order.Customer()
    assert order.Quantity() == 3, order.Quantity()
    assert order.ItemsAsNumpy().tolist() == [7, 8, 9], order.ItemsAsNumpy()
    assert np.shares_memory(order.ItemsAsNumpy(), np.frombuffer(view, dtype=np.uint8))


def check_shmpipe_schema():
    from shmpipe.schema import Control, Envelope, Shutdown

    b = flatbuffers.Builder(64)
    reason = b.CreateString("done")
    Shutdown.Start(b)
    Shutdown.AddReason(b, reason)
    body = Shutdown.End(b)
    Envelope.Start(b)
    Envelope.AddBodyType(b, Control.Control.Shutdown)
    Envelope.AddBody(b, body)
    b.Finish(Envelope.End(b), file_identifier=b"SPEV")
    env = Envelope.Envelope.GetRootAs(memoryview(bytes(b.Output())), 0)
    assert env.BodyType() == Control.Control.Shutdown
    shutdown = Shutdown.Shutdown()
    shutdown.Init(env.Body().Bytes, env.Body().Pos)
    assert shutdown.Reason() == b"done"


if __name__ == "__main__":
    check_order()
    if "--shmpipe-schema" in sys.argv[1:]:
        check_shmpipe_schema()
    print("python schema consumer: ok")

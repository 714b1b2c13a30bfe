// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Producer, Consumer and the objects they hand out (Slot, Record) for Python.
#include "common.hpp"

#include <memory>
#include <string>

#include <shmpipe/channel.hpp>

namespace shmpipe::python {
namespace {

/// Opens with `open(options)`, retrying in slices while the segment is missing or not ready,
/// until `open_timeout` seconds have passed (see sliced()).
template <class Open>
auto open_sliced(const std::string &name, const std::optional<double> &open_timeout, Open &&open) {
  const Deadline until = deadline_from(open_timeout, "open_timeout");
  for (;;) {
    const Clock::time_point now = Clock::now();
    const auto slice = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - now > kSlice ? Clock::duration(kSlice) : until - now);
    try {
      py::gil_scoped_release unlocked;
      return open(std::max(slice, std::chrono::milliseconds(0)));
    } catch (const Error &e) {
      const bool transient = e.code() == Errc::segment_missing || e.code() == Errc::not_ready;
      if (!transient || Clock::now() >= until)
        throw;
    }
    if (PyErr_CheckSignals() != 0)
      throw py::error_already_set();
    static_cast<void>(name);
  }
}

void check_name(const std::string &name) {
  if (name.empty())
    throw py::value_error("shmpipe: a segment name must not be empty");
}

ChannelOptions channel_options(long long capacity, long long mode, long long schema_id,
                               bool replace_abandoned, double linger) {
  ChannelOptions options;
  options.capacity = checked_uint(capacity, std::uint64_t{1} << 32, "capacity");
  options.mode = static_cast<unsigned>(checked_uint(mode, 07777, "mode"));
  options.schema_id = checked_uint(schema_id, ~std::uint64_t{0} >> 1, "schema_id");
  options.replace_abandoned = replace_abandoned;
  options.linger = millis_from(linger, "linger");
  return options;
}

// ---- Producer ------------------------------------------------------------------------------

struct PyProducer : Endpoint {
  std::optional<Producer> producer;
  PyProducer(std::string segment, Producer &&p) : producer(std::move(p)) {
    name = std::move(segment);
  }
  PyProducer(const PyProducer &) = delete;
  PyProducer &operator=(const PyProducer &) = delete;
  ~PyProducer() { destroy_unlocked(producer); }
};

class PySlot final : public Held {
public:
  PySlot(PyProducer &owner, py::object owner_ref, WriteSlot &&slot)
      : Held(owner, std::move(owner_ref)), slot_(std::move(slot)) {
    set_holding();
  }
  ~PySlot() override { give_back_on_destruction(); }

  std::span<std::byte> bytes() noexcept override {
    return holds() ? slot_.bytes() : std::span<std::byte>{};
  }
  [[nodiscard]] bool writable() const noexcept override { return true; }
  [[nodiscard]] std::string describe() const override {
    return "the slot of " + std::to_string(slot_.bytes().size()) + " bytes";
  }

  void shrink(long long n) {
    if (!holds())
      throw py::value_error("shmpipe: segment '" + owner().name + "': " + describe() +
                            " was committed or dropped");
    slot_.shrink(checked_uint(n, slot_.bytes().size(), "size"));
  }

  /// Commits through `producer`; BufferError (nothing committed) while views are alive.
  void commit(Producer &producer, std::uint16_t type) {
    producer_ = &producer;
    type_ = type;
    try {
      release("commit");
    } catch (...) {
      producer_ = nullptr;
      throw;
    }
  }

private:
  void give_back() noexcept override {
    if (producer_ != nullptr)
      producer_->commit(std::move(slot_), type_);
    else
      slot_ = WriteSlot(); // dropped: publishes nothing
  }

  WriteSlot slot_;
  Producer *producer_ = nullptr; // set by commit(): give_back() commits instead of dropping
  std::uint16_t type_ = 0;
};

Producer &live(PyProducer &self) {
  if (!self.producer)
    throw_status(Status::closed, self.name, "producer");
  return *self.producer;
}

void no_open_slot(PyProducer &self, const char *what) {
  if (self.outstanding != nullptr)
    throw UsageError{"shmpipe: segment '" + self.name + "': " + what + " while " +
                     self.outstanding->describe() +
                     " is neither committed nor dropped (commit it, or delete it and the views "
                     "of it, first)"};
}

// ---- Consumer ------------------------------------------------------------------------------

struct PyConsumer : Endpoint {
  std::optional<Consumer> consumer;
  PyConsumer(std::string segment, Consumer &&c) : consumer(std::move(c)) {
    name = std::move(segment);
  }
  PyConsumer(const PyConsumer &) = delete;
  PyConsumer &operator=(const PyConsumer &) = delete;
  ~PyConsumer() { destroy_unlocked(consumer); }
};

class PyRecord final : public Held {
public:
  PyRecord(PyConsumer &owner, py::object owner_ref, ReadSlot &&slot)
      : Held(owner, std::move(owner_ref)), consumer_(*owner.consumer), slot_(std::move(slot)),
        seq_(slot_.seq()), type_(slot_.type()) {
    set_holding();
  }
  ~PyRecord() override { give_back_on_destruction(); }

  std::span<std::byte> bytes() noexcept override {
    if (!holds())
      return {};
    const std::span<const std::byte> b = slot_.bytes();
    // Exported read-only (writable() is false): the const is restored by the buffer's flag.
    return {const_cast<std::byte *>(b.data()), b.size()};
  }
  [[nodiscard]] bool writable() const noexcept override { return false; }
  [[nodiscard]] std::string describe() const override {
    return "record (seq " + std::to_string(seq_) + ")";
  }
  [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }
  [[nodiscard]] std::uint16_t type() const noexcept { return type_; }

private:
  void give_back() noexcept override { consumer_.release(std::move(slot_)); }

  Consumer &consumer_; // outlives us: owner_ref keeps its wrapper alive
  ReadSlot slot_;
  std::uint64_t seq_;
  std::uint16_t type_;
};

Consumer &live(PyConsumer &self) {
  if (!self.consumer)
    throw_status(Status::closed, self.name, "consumer");
  return *self.consumer;
}

void no_open_record(PyConsumer &self) {
  if (self.outstanding != nullptr)
    throw UsageError{"shmpipe: segment '" + self.name + "': receive() while " +
                     self.outstanding->describe() +
                     " is not released: call release() on it or use `with consumer.receive() "
                     "as rec:` (one record at a time)"};
}

py::object receive(py::object self_ref, const std::optional<double> &timeout) {
  auto &self = self_ref.cast<PyConsumer &>();
  no_open_record(self);
  Consumer &consumer = live(self);
  const Deadline until = deadline_from(timeout, "timeout");
  Busy busy(self, "receive()");
  ReadSlot slot = sliced(
      until, [&](Deadline d) { return consumer.peek(d); },
      [](const ReadSlot &s) { return s.status() == Status::timeout; });
  if (!slot)
    throw_status(slot.status() == Status::empty ? Status::timeout : slot.status(), self.name,
                 "receive");
  return py::cast(std::make_unique<PyRecord>(self, self_ref, std::move(slot)));
}

} // namespace

void bind_channel(py::module_ &m) {
  using namespace py::literals;

  // ---- Slot
  auto slot = py::class_<PySlot>(m, "Slot", py::buffer_protocol(), R"doc(
Space reserved in the ring by Producer.reserve(): write the payload into it through the buffer
protocol (memoryview(slot), numpy.frombuffer(slot, ...), or slot.data), then
Producer.commit(slot). Dropping it uncommitted publishes nothing. commit() refuses
(BufferError) while views of it are alive: a view written after the commit would change a
record the consumer may be reading.)doc");
  install_buffer_slots<PySlot>(slot);
  slot.def_property_readonly(
          "data", [](py::object self) { return self.cast<PySlot &>().data(self); },
          "A writable memoryview of the reserved bytes (released at commit).")
      .def("__len__", [](PySlot &s) { return s.bytes().size(); })
      .def("shrink", &PySlot::shrink, "size"_a,
           "Commit only the first `size` bytes (at most len(slot)).");

  // ---- Record
  auto record = py::class_<PyRecord>(m, "Record", py::buffer_protocol(), R"doc(
One record received by Consumer.receive(), read in place in shared memory. `data` is a read-only
memoryview of it (numpy.frombuffer(rec.data, ...) reads without a copy). release() gives the
space back to the producer; it raises BufferError, and releases nothing, while views or arrays
made from the record are alive. Afterwards `data` and the memoryview it returned raise
ValueError. `with consumer.receive() as rec:` releases at the end of the block.)doc");
  install_buffer_slots<PyRecord>(record);
  record
      .def_property_readonly(
          "data", [](py::object self) { return self.cast<PyRecord &>().data(self); },
          "A read-only memoryview of the payload, in shared memory.")
      .def_property_readonly("type", &PyRecord::type, "The record's type field (0-65535).")
      .def_property_readonly("seq", &PyRecord::seq,
                             "Position in the stream: 0, 1, 2, ... without gaps.")
      .def(
          "release", [](PyRecord &r) { r.release("release"); },
          "Give the record's space back to the producer (BufferError while views are alive).")
      .def("__enter__", [](py::object self) { return self; })
      .def(
          "__exit__", [](PyRecord &r, py::args) { r.release("release"); }, "Release the record.")
      .def("__repr__", [](PyRecord &r) {
        return "<shmpipe.Record seq=" + std::to_string(r.seq()) +
               " type=" + std::to_string(r.type()) + " size=" + std::to_string(r.bytes().size()) +
               (r.holds() ? "" : " released") + ">";
      });

  // ---- Producer
  py::class_<PyProducer>(m, "Producer", R"doc(
The sending end of a channel (C++ shmpipe::Producer). Make one with Producer.create() or
Producer.open(). One thread at a time. Closing (close(), the end of a `with` block, or the
object going away) ends the stream; a producer that created the channel then waits up to
`linger` seconds for a consumer that has not attached yet.)doc")
      .def_static(
          "create",
          [](const std::string &name, long long capacity, long long mode, long long schema_id,
             bool replace_abandoned, double linger) {
            check_name(name);
            const ChannelOptions options =
                channel_options(capacity, mode, schema_id, replace_abandoned, linger);
            return std::make_unique<PyProducer>(name, Producer::create(name, options));
          },
          "name"_a, "capacity"_a = 1 << 20, "mode"_a = 0600, "schema_id"_a = 0,
          "replace_abandoned"_a = false, "linger"_a = 5.0,
          "Create segment `name` (exclusively) and become its producer. `capacity`: ring data "
          "bytes, a power of two. `replace_abandoned`: replace a segment of that name whose "
          "processes all died. Raises shmpipe.Error (errc segment_exists, invalid_argument, "
          "...).")
      .def_static(
          "open",
          [](const std::string &name, const std::optional<double> &open_timeout, double linger) {
            check_name(name);
            ChannelOptions options;
            options.linger = millis_from(linger, "linger");
            Producer p = open_sliced(name, open_timeout, [&](std::chrono::milliseconds slice) {
              options.open_timeout = slice;
              return Producer::open(name, options);
            });
            return std::make_unique<PyProducer>(name, std::move(p));
          },
          "name"_a, "open_timeout"_a = 0.0, "linger"_a = 5.0,
          "Open segment `name`, created by its consumer, and become its producer, waiting up to "
          "`open_timeout` seconds (None: for ever) for it to appear.")
      .def(
          "reserve",
          [](py::object self_ref, long long size, const std::optional<double> &timeout) {
            auto &self = self_ref.cast<PyProducer &>();
            no_open_slot(self, "reserve()");
            Producer &producer = live(self);
            const auto n = checked_uint(size, ~std::uint32_t{0}, "size");
            const Deadline until = deadline_from(timeout, "timeout");
            Busy busy(self, "reserve()");
            WriteSlot s = sliced(
                until, [&](Deadline d) { return producer.reserve(n, d); },
                [](const WriteSlot &w) { return w.status() == Status::timeout; });
            if (!s)
              throw_status(s.status() == Status::full ? Status::timeout : s.status(), self.name,
                           "reserve " + std::to_string(n) + " bytes");
            return py::cast(std::make_unique<PySlot>(self, self_ref, std::move(s)));
          },
          "size"_a, "timeout"_a = py::none(),
          "Reserve `size` bytes in the ring, waiting up to `timeout` seconds (None: for ever, "
          "0: try once) for space. Returns a writable Slot. Raises shmpipe.Timeout, or "
          "shmpipe.Error with status too_large (can never fit: see max_payload), peer_dead, "
          "closed, corrupt.")
      .def(
          "commit",
          [](PyProducer &self, PySlot &s, long long type) {
            Producer &producer = live(self);
            if (&s.owner() != &self)
              throw py::value_error("shmpipe: segment '" + self.name +
                                    "': commit() of a slot another producer reserved");
            if (!s.holds())
              throw py::value_error("shmpipe: segment '" + self.name + "': " + s.describe() +
                                    " was already committed or dropped");
            Busy busy(self, "commit()");
            s.commit(producer, static_cast<std::uint16_t>(checked_uint(type, 0xffff, "type")));
          },
          "slot"_a, "type"_a = 0,
          "Publish the slot as one record of type `type` (0-65535). BufferError, and nothing "
          "published, while views of the slot are alive.")
      .def(
          "send",
          [](PyProducer &self, py::handle data, const std::optional<double> &timeout,
             long long type) {
            no_open_slot(self, "send()");
            Producer &producer = live(self);
            const InputBuffer input(data, "data");
            const auto t = static_cast<std::uint16_t>(checked_uint(type, 0xffff, "type"));
            const Deadline until = deadline_from(timeout, "timeout");
            Busy busy(self, "send()");
            const Status s = sliced(
                until, [&](Deadline d) { return producer.send(input.bytes(), d, t); },
                [](Status st) { return st == Status::timeout; });
            if (s != Status::ok)
              throw_status(s == Status::full ? Status::timeout : s, self.name,
                           "send " + std::to_string(input.bytes().size()) + " bytes");
          },
          "data"_a, py::kw_only(), "timeout"_a = py::none(), "type"_a = 0,
          "Copy the bytes-like `data` into the ring as one record (waits for space as "
          "reserve() does).")
      .def(
          "close",
          [](PyProducer &self) {
            if (self.outstanding != nullptr)
              self.outstanding->release("drop");
            Busy busy(self, "close()");
            destroy_unlocked(self.producer);
          },
          "End the stream (the consumer gets Closed once it has read everything) and let go of "
          "the segment (its name goes if this end created it, after waiting up to `linger` "
          "seconds for a consumer that has not attached yet). Drops an uncommitted slot first "
          "(BufferError while views of it are alive). Later calls raise Closed. Idempotent.")
      .def_property_readonly(
          "max_payload", [](PyProducer &self) { return live(self).max_payload(); },
          "The largest record this ring can ever take, in bytes.")
      .def_property_readonly(
          "name", [](PyProducer &self) { return self.name; }, "The segment name.")
      .def(
          "stats", [](PyProducer &self) { return stats_dict(live(self).stats()); },
          "Both sides' counters: {'producer': {...}, 'consumer': {...}}.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](py::object self, py::args) { self.attr("close")(); })
      .def("__repr__", [](PyProducer &self) { return "<shmpipe.Producer '" + self.name + "'>"; });

  // ---- Consumer
  auto consumer_class =
      py::class_<PyConsumer>(m, "Consumer", R"doc(
The receiving end of a channel (C++ shmpipe::Consumer). Make one with Consumer.create() or
Consumer.open(). One record at a time: release each (or use `with consumer.receive() as rec:`)
before receiving the next. `for rec in consumer:` releases each record when the next is asked
for and ends when the producer closed the stream. One thread at a time.)doc")
          .def_static(
              "create",
              [](const std::string &name, long long capacity, long long mode, long long schema_id,
                 bool replace_abandoned) {
                check_name(name);
                const ChannelOptions options =
                    channel_options(capacity, mode, schema_id, replace_abandoned, 0.0);
                return std::make_unique<PyConsumer>(name, Consumer::create(name, options));
              },
              "name"_a, "capacity"_a = 1 << 20, "mode"_a = 0600, "schema_id"_a = 0,
              "replace_abandoned"_a = false,
              "Create segment `name` (exclusively) and become its consumer (options as "
              "Producer.create).")
          .def_static(
              "open",
              [](const std::string &name, const std::optional<double> &open_timeout) {
                check_name(name);
                ChannelOptions options;
                Consumer c = open_sliced(name, open_timeout, [&](std::chrono::milliseconds slice) {
                  options.open_timeout = slice;
                  return Consumer::open(name, options);
                });
                return std::make_unique<PyConsumer>(name, std::move(c));
              },
              "name"_a, "open_timeout"_a = 0.0,
              "Open segment `name`, created by its producer, and become its consumer, waiting up "
              "to "
              "`open_timeout` seconds (None: for ever) for it to appear.")
          .def("receive", &receive, "timeout"_a = py::none(),
               "The next record, waiting up to `timeout` seconds (None: for ever, 0: try once). "
               "Raises shmpipe.Timeout, shmpipe.Closed (the producer closed and everything was "
               "read), or shmpipe.Error (status peer_dead: the producer died; corrupt).")
          .def("__iter__", [](py::object self) { return self; })
          .def("__next__",
               [](py::object self_ref) {
                 auto &self = self_ref.cast<PyConsumer &>();
                 if (self.outstanding != nullptr)
                   self.outstanding->release("release");
                 try {
                   return receive(self_ref, std::nullopt);
                 } catch (const StatusError &e) {
                   if (e.status == Status::closed)
                     throw py::stop_iteration();
                   throw;
                 }
               })
          .def(
              "close",
              [](PyConsumer &self) {
                if (self.outstanding != nullptr)
                  self.outstanding->release("release");
                Busy busy(self, "close()");
                destroy_unlocked(self.consumer);
              },
              "Give the consumer role and the segment back (its name goes if this end created "
              "it; records not released stay for a next consumer). Releases the record in hand "
              "first (BufferError while views of it are alive). Later calls raise Closed. "
              "Idempotent.")
          .def_property_readonly(
              "name", [](PyConsumer &self) { return self.name; }, "The segment name.")
          .def(
              "stats", [](PyConsumer &self) { return stats_dict(live(self).stats()); },
              "Both sides' counters: {'producer': {...}, 'consumer': {...}}.")
          .def("__enter__", [](py::object self) { return self; })
          .def("__exit__", [](py::object self, py::args) { self.attr("close")(); })
          .def("__repr__",
               [](PyConsumer &self) { return "<shmpipe.Consumer '" + self.name + "'>"; });
  bind_ready_fd(consumer_class, [](PyConsumer &self) -> Consumer & { return live(self); });
}

} // namespace shmpipe::python

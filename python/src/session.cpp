// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Core, Worker and Incoming for Python.
#include "session.hpp"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <shmpipe/supervisor.hpp> // kSessionEnv

namespace shmpipe::python {

py::object worker_info(const WorkerInfo &info) { return py::cast(info); }

namespace {

/// WorkReport for Python: seconds as a float, bytes.
struct PyWorkReport {
  double duration;
  std::uint64_t peak_rss;
};

// ---- Core ----------------------------------------------------------------------------------

struct PyCore : Endpoint {
  std::optional<Core> core;
  PyCore(std::string segment, Core &&c) : core(std::move(c)) { name = std::move(segment); }
  PyCore(const PyCore &) = delete;
  PyCore &operator=(const PyCore &) = delete;
  ~PyCore() { destroy_unlocked(core); }
};

Core &live(PyCore &self) {
  if (!self.core)
    throw_status(Status::closed, self.name, "core");
  return *self.core;
}

/// A deadline `seconds` from now for a request (None: none).
std::optional<Deadline> request_deadline(const std::optional<double> &seconds) {
  if (!seconds)
    return std::nullopt;
  return deadline_from(seconds, "deadline");
}

// ---- Worker --------------------------------------------------------------------------------

struct PyWorker : Endpoint {
  std::optional<Worker> worker;
  PyWorker(std::string segment, Worker &&w) : worker(std::move(w)) { name = std::move(segment); }
  PyWorker(const PyWorker &) = delete;
  PyWorker &operator=(const PyWorker &) = delete;
  ~PyWorker() { destroy_unlocked(worker); }
};

Worker &live(PyWorker &self) {
  if (!self.worker)
    throw_status(Status::closed, self.name, "worker");
  return *self.worker;
}

std::unique_ptr<PyWorker> attach(const std::string &name, const std::string &worker_name,
                                 std::vector<std::string> capabilities,
                                 std::vector<long long> schema_ids,
                                 const std::optional<double> &open_timeout, bool report_work) {
  if (name.empty())
    throw py::value_error("shmpipe: a session name must not be empty");
  SessionOptions options;
  options.worker_name = worker_name;
  options.capabilities = std::move(capabilities);
  options.report_work = report_work;
  for (const long long id : schema_ids)
    options.schema_ids.push_back(checked_uint(id, ~std::uint64_t{0} >> 1, "schema_ids[i]"));
  const Deadline until = deadline_from(open_timeout, "open_timeout");
  // In slices, so that Ctrl-C works while the core is not there yet.
  for (;;) {
    const Clock::time_point now = Clock::now();
    options.open_timeout =
        std::max(std::chrono::milliseconds(0),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     until - now > kSlice ? Clock::duration(kSlice) : until - now));
    try {
      py::gil_scoped_release unlocked;
      return std::make_unique<PyWorker>(name, Worker::attach(name, options));
    } catch (const Error &e) {
      const bool transient = e.code() == Errc::segment_missing || e.code() == Errc::not_ready;
      if (!transient || Clock::now() >= until)
        throw;
    }
    if (PyErr_CheckSignals() != 0)
      throw py::error_already_set();
  }
}

py::object worker_receive(py::object self_ref, const std::optional<double> &timeout) {
  auto &self = self_ref.cast<PyWorker &>();
  no_open_incoming(self, "receive()", "one request at a time");
  Worker &worker = live(self);
  const Deadline until = deadline_from(timeout, "timeout");
  Busy busy(self, "receive()");
  Incoming in = sliced(
      until, [&](Deadline d) { return worker.receive(d); },
      [](const Incoming &i) { return i.status() == Status::timeout; });
  if (!in)
    throw_status(in.status() == Status::empty ? Status::timeout : in.status(), self.name,
                 worker.shutdown_requested()
                     ? "receive: the core asked to shut down (" + worker.shutdown_reason() + ")"
                     : std::string("receive"));
  return wrap(self, self_ref, std::move(in));
}

py::object core_receive(py::object self_ref, const std::optional<double> &timeout) {
  auto &self = self_ref.cast<PyCore &>();
  no_open_incoming(self, "receive()", "one message at a time");
  Core &core = live(self);
  const Deadline until = deadline_from(timeout, "timeout");
  Busy busy(self, "receive()");
  Incoming in = sliced(
      until, [&](Deadline d) { return core.receive(d); },
      [](const Incoming &i) { return i.status() == Status::timeout && i.request_id() == 0; });
  // A request whose deadline passed comes as an Incoming with its id (as in C++).
  if (!in && !(in.status() == Status::timeout && in.request_id() != 0))
    throw_status(in.status() == Status::empty ? Status::timeout : in.status(), self.name,
                 "receive");
  return wrap(self, self_ref, std::move(in));
}

} // namespace

void bind_session(py::module_ &m) {
  using namespace py::literals;

  py::class_<WorkerInfo>(m, "WorkerInfo", "What a worker said in its Ready message.")
      .def_readonly("protocol_version", &WorkerInfo::protocol_version,
                    "The session protocol version it speaks.")
      .def_readonly("pid", &WorkerInfo::pid, "Its process id.")
      .def_readonly("start_time", &WorkerInfo::start_time,
                    "Process start time, clock ticks since boot.")
      .def_readonly("name", &WorkerInfo::name, "Its worker_name.")
      .def_readonly("capabilities", &WorkerInfo::capabilities, "The optional features it offers.")
      .def_readonly("schema_ids", &WorkerInfo::schema_ids, "The schema ids it offers.")
      .def("__repr__", [](const WorkerInfo &w) {
        return "<shmpipe.WorkerInfo name='" + w.name + "' pid=" + std::to_string(w.pid) +
               " protocol_version=" + std::to_string(w.protocol_version) + ">";
      });

  py::class_<PyWorkReport>(m, "WorkReport",
                           "What a worker measured while it served one request (C++ "
                           "shmpipe::WorkReport), sent with its final response.")
      .def_readonly("duration", &PyWorkReport::duration,
                    "Seconds from the request's receive() to its final response.")
      .def_readonly("peak_rss", &PyWorkReport::peak_rss,
                    "The worker's peak resident set (bytes) while it served the request (VmHWM, "
                    "reset at each receive()); 0 when /proc could not tell.")
      .def("__iter__",
           [](const PyWorkReport &r) { return py::iter(py::make_tuple(r.duration, r.peak_rss)); })
      .def("__repr__", [](const PyWorkReport &r) {
        return "<shmpipe.WorkReport duration=" + std::to_string(r.duration) +
               " s peak_rss=" + std::to_string(r.peak_rss) + ">";
      });

  auto incoming = py::class_<PyIncoming>(m, "Incoming", py::buffer_protocol(), R"doc(
A message received on a session: a request (Worker.receive), a response (Core.receive,
Supervisor.receive), or only a status with its request id: "timeout" (its deadline passed, or
it ran over the supervisor's request_timeout twice) or "peer_dead" (lost with its worker).
A Core also receives what a worker sent about no request, with request_id 0: an envelope
Warning (Worker.warn; a Supervisor turns those into "worker_warning" events instead).
`data` is a read-only memoryview of the FlatBuffer, in shared memory (None without one).
Release semantics as for Record: release() raises BufferError while views of it are alive, and
afterwards `data` and the views handed out raise ValueError.)doc");
  install_buffer_slots<PyIncoming>(incoming);
  incoming
      .def_property_readonly(
          "data", [](py::object self) { return self.cast<PyIncoming &>().data(self); },
          "The FlatBuffer (after the session's frame), read-only, in shared memory; None "
          "when status is not \"ok\".")
      .def_property_readonly(
          "status", [](PyIncoming &i) { return std::string(to_string(i.status())); },
          "\"ok\", or \"timeout\" / \"peer_dead\" for a request that gets no (more) answer.")
      .def_property_readonly("request_id", &PyIncoming::request_id,
                             "The request it answers (or is); 0: none.")
      .def_property_readonly("final", &PyIncoming::final, "The last response to its request.")
      .def_property_readonly("late", &PyIncoming::late,
                             "A response to a request already reported as timed out.")
      .def_property_readonly(
          "work_report",
          [](PyIncoming &i) -> py::object {
            if (!i.work_report())
              return py::none();
            return py::cast(
                PyWorkReport{std::chrono::duration<double>(i.work_report()->duration).count(),
                             i.work_report()->peak_rss_bytes});
          },
          "What the worker measured for its request (a WorkReport: duration in seconds, "
          "peak_rss in bytes), with a final response from a worker attached with "
          "report_work=True; None otherwise.")
      .def_property_readonly("type", &PyIncoming::type, "The record's type field.")
      .def_property_readonly("seq", &PyIncoming::seq, "The record's sequence number.")
      .def_property_readonly("identifier", &PyIncoming::identifier,
                             "The FlatBuffer's file identifier (a hint for dispatch).")
      .def(
          "release", [](PyIncoming &i) { i.release("release"); },
          "Give the message's space back (BufferError while views are alive).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyIncoming &i, py::args) { i.release("release"); })
      .def("__repr__", [](PyIncoming &i) {
        return "<shmpipe.Incoming request_id=" + std::to_string(i.request_id()) +
               " status=" + std::string(to_string(i.status())) + (i.final() ? " final" : "") +
               (i.late() ? " late" : "") + " identifier='" + i.identifier() +
               "' size=" + std::to_string(i.bytes().size()) + ">";
      });

  // ---- Core
  auto core_class =
      py::class_<PyCore>(m, "Core", R"doc(
The core's end of a session (C++ shmpipe::Core): creates the segment, waits for the worker's
Ready, sends requests (finished FlatBuffers, one copy each) and receives responses. One
message in hand at a time; one thread at a time. close() (or the end of a `with` block)
removes the segment.)doc")
          .def_static(
              "create",
              [](const std::string &name, long long capacity, long long mode,
                 bool replace_abandoned, std::vector<long long> schema_ids) {
                if (name.empty())
                  throw py::value_error("shmpipe: a session name must not be empty");
                SessionOptions options;
                options.capacity = checked_uint(capacity, std::uint64_t{1} << 32, "capacity");
                options.mode = static_cast<unsigned>(checked_uint(mode, 07777, "mode"));
                options.replace_abandoned = replace_abandoned;
                for (const long long id : schema_ids)
                  options.schema_ids.push_back(
                      checked_uint(id, ~std::uint64_t{0} >> 1, "schema_ids[i]"));
                return std::make_unique<PyCore>(name, Core::create(name, options));
              },
              "name"_a, "capacity"_a = 1 << 22, "mode"_a = 0600, "replace_abandoned"_a = false,
              "schema_ids"_a = std::vector<long long>{},
              "Create session `name` (exclusively). `capacity`: bytes of each ring, a power of "
              "two; "
              "`schema_ids`: schema ids the worker must offer. Then await_ready().")
          .def(
              "await_ready",
              [](PyCore &self, double timeout) {
                Core &core = live(self);
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "await_ready()");
                const WorkerInfo *info = sliced(
                    until, [&](Deadline d) { return core.poll_ready(d); },
                    [](const WorkerInfo *w) { return w == nullptr; });
                if (info == nullptr)
                  throw StatusError{Status::timeout,
                                    "shmpipe: segment '" + self.name +
                                        "': no Ready from the worker: timeout",
                                    Errc::handshake, self.name};
                return *info;
              },
              "timeout"_a,
              "Wait up to `timeout` seconds for the worker's Ready and check it; returns its "
              "WorkerInfo. Raises shmpipe.Timeout (errc handshake) or shmpipe.Error (errc "
              "handshake: the worker died, or speaks another protocol, or lacks a schema id).")
          .def_property_readonly(
              "worker",
              [](PyCore &self) -> py::object {
                const WorkerInfo &w = live(self).worker();
                return w.pid == 0 ? py::none() : py::cast(w);
              },
              "The worker's WorkerInfo once it is ready, else None.")
          .def(
              "request",
              [](PyCore &self, py::handle buffer, const std::optional<double> &timeout,
                 const std::optional<double> &deadline, long long type) {
                no_open_incoming(self, "request()",
                                 "while the request ring is full, request() takes responses out of "
                                 "the response ring");
                Core &core = live(self);
                const InputBuffer input(buffer, "buffer");
                const auto t = static_cast<std::uint16_t>(checked_uint(type, 0xffff, "type"));
                const std::optional<Deadline> due = request_deadline(deadline);
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "request()");
                const Sent sent = sliced(
                    until,
                    [&](Deadline d) { return core.request_buffer(input.bytes(), d, due, t); },
                    [](const Sent &s) { return s.status == Status::timeout; });
                if (sent.status != Status::ok)
                  throw_status(sent.status, self.name, "request");
                return sent.request_id;
              },
              "buffer"_a, py::kw_only(), "timeout"_a = py::none(), "deadline"_a = py::none(),
              "type"_a = 0,
              "Send the finished FlatBuffer `buffer` (any bytes-like) as a new request; returns "
              "its "
              "id. `timeout`: how long to wait for room in the ring (None: for ever). `deadline`: "
              "seconds from now after which receive() reports the request as timed out if its "
              "final "
              "response has not come (None: never).")
          .def("receive", &core_receive, "timeout"_a = py::none(),
               "The next response, or a request whose deadline passed (an Incoming with status "
               "\"timeout\" and its request_id), or a worker's envelope Warning (request_id "
               "0; see Worker.warn). Raises shmpipe.Timeout when nothing came within "
               "`timeout` seconds, shmpipe.Closed, or shmpipe.Error (peer_dead: the worker died).")
          .def(
              "shutdown",
              [](PyCore &self, const std::string &reason, double timeout) {
                no_open_incoming(self, "shutdown()", "one message at a time");
                Core &core = live(self);
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "shutdown()");
                const Status s = sliced(
                    until, [&](Deadline d) { return core.shutdown(reason, d); },
                    [](Status st) { return st == Status::timeout; });
                if (s != Status::ok && s != Status::closed)
                  throw_status(s, self.name, "shutdown");
              },
              "reason"_a, "timeout"_a = 1.0,
              "Tell the worker to finish and exit (a Shutdown message, waiting up to `timeout` "
              "seconds for room), then close the request direction.")
          .def_property_readonly(
              "in_flight", [](PyCore &self) { return live(self).in_flight(); },
              "Requests sent whose final response has not come (nor their deadline passed).")
          .def_property_readonly(
              "max_message", [](PyCore &self) { return live(self).max_message(); },
              "The largest request (FlatBuffer bytes) one message can carry.")
          .def_property_readonly(
              "name", [](PyCore &self) { return self.name; }, "The session (segment) name.")
          .def(
              "close",
              [](PyCore &self) {
                if (self.outstanding != nullptr)
                  self.outstanding->release("release");
                Busy busy(self, "close()");
                destroy_unlocked(self.core);
              },
              "Remove the session's segment (the worker sees the core gone). Idempotent.")
          .def("__enter__", [](py::object self) { return self; })
          .def("__exit__", [](py::object self, py::args) { self.attr("close")(); })
          .def("__repr__", [](PyCore &self) { return "<shmpipe.Core '" + self.name + "'>"; });
  bind_ready_fd(core_class, [](PyCore &self) -> Core & { return live(self); });

  // ---- Worker
  auto worker_class =
      py::class_<PyWorker>(m, "Worker", R"doc(
The worker's end of a session (C++ shmpipe::Worker): attaches to a session a core created,
says Ready (protocol version, pid, capabilities, schema ids), and serves requests. Health
checks are answered inside receive(); a Shutdown from the core ends the stream
(shutdown_requested, shutdown_reason). `for request in worker:` yields each request as an
Incoming, releasing the previous one, and ends when the core asks to shut down or goes away.
One request in hand at a time; one thread at a time.)doc")
          .def_static(
              "attach", &attach, "name"_a, py::kw_only(), "worker_name"_a = "",
              "capabilities"_a = std::vector<std::string>{},
              "schema_ids"_a = std::vector<long long>{}, "open_timeout"_a = 5.0,
              "report_work"_a = true,
              "Attach to session `name`, waiting up to `open_timeout` seconds (None: for ever) "
              "for the core to create it, and send Ready. `report_work`: send each request's "
              "duration (from its receive() to its final response) and peak resident set with "
              "that final response (Incoming.work_report on the core's side; seed 003's perf).")
          .def_static(
              "attach_supervised",
              [](const std::string &worker_name, std::vector<std::string> capabilities,
                 std::vector<long long> schema_ids, const std::optional<double> &open_timeout,
                 bool report_work) {
                const char *name = std::getenv(kSessionEnv);
                if (name == nullptr || *name == '\0')
                  throw Error(Errc::invalid_name, "",
                              std::string(kSessionEnv) +
                                  " is not set: not started by a Supervisor?");
                return attach(name, worker_name, std::move(capabilities), std::move(schema_ids),
                              open_timeout, report_work);
              },
              py::kw_only(), "worker_name"_a = "", "capabilities"_a = std::vector<std::string>{},
              "schema_ids"_a = std::vector<long long>{}, "open_timeout"_a = 5.0,
              "report_work"_a = true,
              "attach() to the session named in the environment variable SHMPIPE_SESSION, as a "
              "worker started by a Supervisor. shmpipe.Error (errc invalid_name) when it is unset.")
          .def(
              "receive", &worker_receive, "timeout"_a = py::none(),
              "The next request (an Incoming), waiting up to `timeout` seconds. Raises "
              "shmpipe.Closed when the core asked to shut down (see shutdown_requested) or closed, "
              "shmpipe.Timeout, or shmpipe.Error (peer_dead: the core died).")
          .def("__iter__", [](py::object self) { return self; })
          .def("__next__",
               [](py::object self_ref) {
                 auto &self = self_ref.cast<PyWorker &>();
                 if (self.outstanding != nullptr)
                   self.outstanding->release("release");
                 try {
                   return worker_receive(self_ref, std::nullopt);
                 } catch (const StatusError &e) {
                   if (e.status == Status::closed)
                     throw py::stop_iteration();
                   throw;
                 }
               })
          .def(
              "reply",
              [](PyWorker &self, long long request_id, py::handle buffer, bool final,
                 const std::optional<double> &timeout, long long type) {
                Worker &worker = live(self);
                const auto id = checked_uint(request_id, ~std::uint64_t{0}, "request_id");
                const InputBuffer input(buffer, "buffer");
                const auto t = static_cast<std::uint16_t>(checked_uint(type, 0xffff, "type"));
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "reply()");
                const Status s = sliced(
                    until,
                    [&](Deadline d) { return worker.reply_buffer(id, input.bytes(), d, final, t); },
                    [](Status st) { return st == Status::timeout; });
                if (s != Status::ok)
                  throw_status(s, self.name, "reply to request " + std::to_string(id));
              },
              "request_id"_a, "buffer"_a, py::kw_only(), "final"_a = true, "timeout"_a = py::none(),
              "type"_a = 0,
              "Send the finished FlatBuffer `buffer` (any bytes-like; one copy into the ring) as a "
              "response to `request_id`; `final`: its last one. Waits up to `timeout` seconds for "
              "room. Replying while the request is in hand is fine.")
          .def(
              "error",
              [](PyWorker &self, long long request_id, long long code, const std::string &message,
                 const std::optional<double> &timeout) {
                Worker &worker = live(self);
                const auto id = checked_uint(request_id, ~std::uint64_t{0}, "request_id");
                if (code < INT32_MIN || code > INT32_MAX)
                  throw py::value_error("code must fit in a 32-bit signed integer");
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "error()");
                const Status s = sliced(
                    until,
                    [&](Deadline d) {
                      return worker.error(id, static_cast<std::int32_t>(code), message, d);
                    },
                    [](Status st) { return st == Status::timeout; });
                if (s != Status::ok)
                  throw_status(s, self.name, "error for request " + std::to_string(id));
              },
              "request_id"_a, "code"_a, "message"_a, py::kw_only(), "timeout"_a = py::none(),
              "Answer `request_id` (0: none) with an envelope Error(code, message) as its final "
              "response.")
          .def(
              "warn",
              [](PyWorker &self, long long code, const std::string &message,
                 const std::optional<double> &timeout) {
                Worker &worker = live(self);
                if (code < INT32_MIN || code > INT32_MAX)
                  throw py::value_error("code must fit in a 32-bit signed integer");
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "warn()");
                const Status s = sliced(
                    until,
                    [&](Deadline d) {
                      return worker.warn(static_cast<std::int32_t>(code), message, d);
                    },
                    [](Status st) { return st == Status::timeout; });
                if (s != Status::ok)
                  throw_status(s, self.name, "warning " + std::to_string(code));
              },
              "code"_a, "message"_a, py::kw_only(), "timeout"_a = py::none(),
              "Tell the core something that answers no request: an envelope Warning(code, "
              "message, this process's resident set) with request id 0. Codes 1 and 2: resident "
              "set over the soft / hard limit (shmpipe.worker uses them); others are the "
              "application's. A Supervisor turns it into a \"worker_warning\" event; a Core's "
              "receive() returns it as an Incoming with request_id 0.")
          .def_property_readonly(
              "shutdown_requested", [](PyWorker &self) { return live(self).shutdown_requested(); },
              "Whether the core asked this worker to shut down.")
          .def_property_readonly(
              "shutdown_reason", [](PyWorker &self) { return live(self).shutdown_reason(); },
              "The reason the core gave with its Shutdown (\"\" if none).")
          .def_property_readonly(
              "max_message", [](PyWorker &self) { return live(self).max_message(); },
              "The largest response (FlatBuffer bytes) one message can carry.")
          .def_property_readonly(
              "name", [](PyWorker &self) { return self.name; }, "The session (segment) name.")
          .def(
              "close",
              [](PyWorker &self) {
                if (self.outstanding != nullptr)
                  self.outstanding->release("release");
                Busy busy(self, "close()");
                destroy_unlocked(self.worker);
              },
              "Leave the session: the core's receive() ends with Closed once it has read "
              "everything. Releases the request in hand first (BufferError while views of it are "
              "alive). Later calls raise Closed. Idempotent.")
          .def("__enter__", [](py::object self) { return self; })
          .def("__exit__", [](py::object self, py::args) { self.attr("close")(); })
          .def("__repr__", [](PyWorker &self) { return "<shmpipe.Worker '" + self.name + "'>"; });
  bind_ready_fd(worker_class, [](PyWorker &self) -> Worker & { return live(self); });
}

} // namespace shmpipe::python

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Supervisor for Python: runs a worker executable on a session and keeps it running.
#include "session.hpp"

#include <memory>
#include <string>
#include <vector>

#include <shmpipe/supervisor.hpp>

namespace shmpipe::python {
namespace {

/// What happened to the worker, as on_event receives it.
struct PyEvent {
  std::string kind;
  pid_t pid;
  std::string detail;
};

struct PySupervisor : Endpoint {
  std::unique_ptr<Supervisor> supervisor;
  py::object on_event; // kept here: the C++ callback refers to it
  PySupervisor() = default;
  PySupervisor(const PySupervisor &) = delete;
  PySupervisor &operator=(const PySupervisor &) = delete;
  ~PySupervisor() { destroy_unlocked(supervisor); }
};

Supervisor &live(PySupervisor &self) {
  if (!self.supervisor)
    throw_status(Status::closed, self.name, "supervisor");
  return *self.supervisor;
}

std::unique_ptr<PySupervisor>
make_supervisor(const std::string &name, std::vector<std::string> command, long long capacity,
                std::vector<long long> schema_ids, double ready_timeout, double health_interval,
                double health_timeout, double request_timeout, double stop_grace,
                long long rss_soft_limit, long long rss_hard_limit, double backoff_initial,
                double backoff_max, long long max_failed_starts, const std::string &on_worker_loss,
                bool kill_with_parent, py::object on_event, const py::object &stderr_path) {
  if (name.empty())
    throw py::value_error("shmpipe: a session name must not be empty");
  if (command.empty())
    throw py::value_error("shmpipe: Supervisor needs a command (the worker's argv)");
  if (!on_event.is_none() && PyCallable_Check(on_event.ptr()) == 0)
    throw py::type_error("on_event must be callable (it receives a SupervisorEvent) or None");
  SupervisorOptions options;
  options.command = std::move(command);
  options.session.capacity = checked_uint(capacity, std::uint64_t{1} << 32, "capacity");
  for (const long long id : schema_ids)
    options.session.schema_ids.push_back(checked_uint(id, ~std::uint64_t{0} >> 1, "schema_ids[i]"));
  options.ready_timeout = millis_from(ready_timeout, "ready_timeout");
  options.health_interval = millis_from(health_interval, "health_interval");
  options.health_timeout = millis_from(health_timeout, "health_timeout");
  options.request_timeout = millis_from(request_timeout, "request_timeout");
  options.stop_grace = millis_from(stop_grace, "stop_grace");
  options.rss_soft_limit = checked_uint(rss_soft_limit, ~std::uint64_t{0} >> 1, "rss_soft_limit");
  options.rss_hard_limit = checked_uint(rss_hard_limit, ~std::uint64_t{0} >> 1, "rss_hard_limit");
  options.backoff_initial = millis_from(backoff_initial, "backoff_initial");
  options.backoff_max = millis_from(backoff_max, "backoff_max");
  options.max_failed_starts =
      static_cast<unsigned>(checked_uint(max_failed_starts, 1000000, "max_failed_starts"));
  if (on_worker_loss == "fail")
    options.on_worker_loss = OnWorkerLoss::fail;
  else if (on_worker_loss == "retry_once")
    options.on_worker_loss = OnWorkerLoss::retry_once;
  else
    throw py::value_error("on_worker_loss must be \"fail\" or \"retry_once\", not \"" +
                          on_worker_loss + "\"");
  options.kill_with_parent = kill_with_parent;
  if (!stderr_path.is_none())
    options.stderr_path = py::str(py::module_::import("os").attr("fsdecode")(stderr_path));

  auto self = std::make_unique<PySupervisor>();
  self->name = name;
  self->on_event = std::move(on_event);
  if (!self->on_event.is_none()) {
    // Called on the caller's thread, inside a Supervisor call that released the GIL. An
    // exception from the callable cannot stop supervision half-way (a response would be lost):
    // it goes to sys.unraisablehook, like one raised in __del__.
    py::handle callable = self->on_event;
    options.on_event = [callable](const SupervisorEvent &e) {
      py::gil_scoped_acquire locked;
      try {
        callable(PyEvent{std::string(to_string(e.kind)), e.pid, e.detail});
      } catch (py::error_already_set &err) {
        err.discard_as_unraisable(py::reinterpret_borrow<py::object>(callable));
      }
    };
  }
  {
    py::gil_scoped_release unlocked;
    self->supervisor = std::make_unique<Supervisor>(name, std::move(options));
  }
  return self;
}

} // namespace

void bind_supervisor(py::module_ &m) {
  using namespace py::literals;

  py::class_<PyEvent>(
      m, "SupervisorEvent",
      "What happened to a supervised worker: `kind` (\"started\", \"exited\", "
      "\"hung\", \"stuck\", \"stopped\", \"over_memory\", \"memory_warning\", "
      "\"start_failed\", \"gave_up\", \"worker_warning\": the worker's Worker.warn(), "
      "detail has its code, resident set and message), `pid`, `detail` (human-readable).")
      .def_readonly("kind", &PyEvent::kind, "What happened (see the class doc).")
      .def_readonly("pid", &PyEvent::pid, "The worker concerned (0: none was started).")
      .def_readonly("detail", &PyEvent::detail, "Human-readable: exit status, signal, limits.")
      .def("__repr__", [](const PyEvent &e) {
        return "<shmpipe.SupervisorEvent " + e.kind + " pid=" + std::to_string(e.pid) + ": " +
               e.detail + ">";
      });

  auto supervisor_class =
      py::class_<PySupervisor>(m, "Supervisor", R"doc(
Runs a worker executable on a session and keeps it running (C++ shmpipe::Supervisor): waits for
its Ready, sends health checks, watches its memory, restarts it with backoff when it dies, hangs
or runs a request over request_timeout, and answers every request that was in flight then.
Everything happens inside request() and receive() on the caller's thread; on_event(event) is
called there too (an exception it raises goes to sys.unraisablehook). Durations are seconds; 0
turns health checks, request_timeout and the memory limits off. One thread at a time.
close() (or the end of a `with` block) shuts the worker down.)doc")
          .def(
              py::init(&make_supervisor), "name"_a, "command"_a, py::kw_only(),
              "capacity"_a = 1 << 22, "schema_ids"_a = std::vector<long long>{},
              "ready_timeout"_a = 10.0, "health_interval"_a = 1.0, "health_timeout"_a = 3.0,
              "request_timeout"_a = 0.0, "stop_grace"_a = 1.0, "rss_soft_limit"_a = 0,
              "rss_hard_limit"_a = 0, "backoff_initial"_a = 0.1, "backoff_max"_a = 5.0,
              "max_failed_starts"_a = 5, "on_worker_loss"_a = "fail", "kill_with_parent"_a = true,
              "on_event"_a = py::none(), "stderr_path"_a = py::none(),
              "Create session `name`, start `command` (argv; the session name reaches it in "
              "SHMPIPE_SESSION) and wait for its Ready. on_worker_loss: \"fail\" (requests in "
              "flight come back with status \"peer_dead\") or \"retry_once\" (sent once more to "
              "the next worker). rss limits in bytes. stderr_path (str or path-like): the workers' "
              "standard error (their tracebacks) is appended to that file, created 0644 if "
              "missing; None: this process's. Raises shmpipe.Error (errc worker_failed: it "
              "could not run, exited or did not say Ready within ready_timeout).")
          .def(
              "request",
              [](PySupervisor &self, py::handle buffer, const std::optional<double> &timeout,
                 const std::optional<double> &deadline, long long type) {
                no_open_incoming(self, "request()",
                                 "while the request ring is full, request() takes responses out of "
                                 "the response ring");
                Supervisor &sup = live(self);
                const InputBuffer input(buffer, "buffer");
                const auto t = static_cast<std::uint16_t>(checked_uint(type, 0xffff, "type"));
                const std::optional<Deadline> due =
                    deadline ? std::optional<Deadline>(deadline_from(deadline, "deadline"))
                             : std::nullopt;
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "request()");
                const Sent sent = sliced(
                    until, [&](Deadline d) { return sup.request_buffer(input.bytes(), d, due, t); },
                    [](const Sent &s) { return s.status == Status::timeout; }, true);
                if (sent.status != Status::ok)
                  throw_status(sent.status, self.name, "request");
                return sent.request_id;
              },
              "buffer"_a, py::kw_only(), "timeout"_a = py::none(), "deadline"_a = py::none(),
              "type"_a = 0,
              "Send the finished FlatBuffer `buffer` as a new request (starting the next worker "
              "first if none runs); returns its id, stable across restarts. `deadline`: seconds "
              "from now after which receive() reports it as timed out.")
          .def(
              "receive",
              [](py::object self_ref, const std::optional<double> &timeout) {
                auto &self = self_ref.cast<PySupervisor &>();
                no_open_incoming(self, "receive()",
                                 "a restart inside receive() would remove the ring it lies in");
                Supervisor &sup = live(self);
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "receive()");
                Incoming in = sliced(
                    until, [&](Deadline d) { return sup.receive(d); },
                    [](const Incoming &i) {
                      return i.status() == Status::timeout && i.request_id() == 0;
                    },
                    true);
                // A request that gets no answer comes with its id and status, as in C++.
                if (!in && (in.request_id() == 0 || in.status() == Status::invalid_message))
                  throw_status(in.status(), self.name, "receive");
                return wrap(self, self_ref, std::move(in));
              },
              "timeout"_a = py::none(),
              "The next response, or a request that will get none (an Incoming with status "
              "\"peer_dead\" or \"timeout\" and its request_id). Restarts happen inside this call. "
              "Raises shmpipe.Timeout when nothing came within `timeout` seconds, or shmpipe.Error "
              "(status peer_dead: the supervisor gave up, or was shut down).")
          .def(
              "shutdown",
              [](PySupervisor &self, const std::string &reason, double timeout) {
                no_open_incoming(self, "shutdown()", "shutdown removes the ring it lies in");
                Supervisor &sup = live(self);
                const Deadline until = deadline_from(timeout, "timeout");
                Busy busy(self, "shutdown()");
                Status s = Status::ok;
                {
                  py::gil_scoped_release unlocked;
                  s = sup.shutdown(reason, until);
                }
                if (s != Status::ok && s != Status::closed && s != Status::peer_dead)
                  throw_status(s, self.name, "shutdown");
              },
              "reason"_a, "timeout"_a = 1.0,
              "Ask the worker to finish (a Shutdown message), wait up to `timeout` seconds for it "
              "to exit, then SIGTERM, then SIGKILL after stop_grace. No restarts afterwards; "
              "requests still in flight come back from receive() with status \"peer_dead\".")
          .def_property_readonly(
              "worker_pid",
              [](PySupervisor &self) -> py::object {
                const pid_t pid = live(self).worker_pid();
                return pid > 0 ? py::object(py::int_(pid)) : py::object(py::none());
              },
              "The running worker's pid, or None while none runs.")
          .def_property_readonly(
              "restarts", [](PySupervisor &self) { return live(self).restarts(); },
              "Workers started after the first.")
          .def_property_readonly(
              "in_flight", [](PySupervisor &self) { return live(self).in_flight(); },
              "Requests without their final response (nor reported lost or timed out).")
          .def_property_readonly(
              "worker",
              [](PySupervisor &self) -> py::object {
                const WorkerInfo *w = live(self).worker();
                return w != nullptr ? py::cast(*w) : py::object(py::none());
              },
              "The current worker's WorkerInfo, or None while none runs.")
          .def_property_readonly(
              "name", [](PySupervisor &self) { return self.name; }, "The session name.")
          .def(
              "close",
              [](PySupervisor &self) {
                if (self.outstanding != nullptr)
                  self.outstanding->release("release");
                Busy busy(self, "close()");
                destroy_unlocked(self.supervisor); // shuts the worker down (1 s, then signals)
              },
              "Shut the worker down (as shutdown(\"supervisor closed\", 1.0)) and remove the "
              "session. Idempotent.")
          .def("__enter__", [](py::object self) { return self; })
          .def("__exit__", [](py::object self, py::args) { self.attr("close")(); })
          .def("__repr__",
               [](PySupervisor &self) { return "<shmpipe.Supervisor '" + self.name + "'>"; });
  bind_ready_fd(supervisor_class, [](PySupervisor &self) -> Supervisor & { return live(self); });
}

} // namespace shmpipe::python

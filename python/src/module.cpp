// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The extension module shmpipe._shmpipe: exceptions, shared helpers, and the module itself.
#include "common.hpp"

#include <limits>
#include <string>

#include <shmpipe/ring_stats.hpp>
#include <shmpipe/version.hpp>

namespace shmpipe::python {

ExceptionTypes &exception_types() noexcept {
  static ExceptionTypes types;
  return types;
}

const char *errc_name(Errc code) noexcept {
  switch (code) {
  case Errc::invalid_name:
    return "invalid_name";
  case Errc::invalid_argument:
    return "invalid_argument";
  case Errc::segment_exists:
    return "segment_exists";
  case Errc::segment_missing:
    return "segment_missing";
  case Errc::permission_denied:
    return "permission_denied";
  case Errc::not_ready:
    return "not_ready";
  case Errc::bad_magic:
    return "bad_magic";
  case Errc::layout_mismatch:
    return "layout_mismatch";
  case Errc::size_mismatch:
    return "size_mismatch";
  case Errc::out_of_space:
    return "out_of_space";
  case Errc::role_taken:
    return "role_taken";
  case Errc::corrupt:
    return "corrupt";
  case Errc::handshake:
    return "handshake";
  case Errc::system:
    return "system";
  case Errc::worker_failed:
    return "worker_failed";
  case Errc::in_use:
    return "in_use";
  }
  return "unknown";
}

void throw_status(Status status, const std::string &segment, const std::string &what) {
  throw StatusError{status, "shmpipe: segment '" + segment + "': " + what + ": " +
                                std::string(to_string(status))};
}

Deadline deadline_from(const std::optional<double> &seconds, const char *what) {
  if (!seconds)
    return Deadline::max();
  const double s = *seconds;
  if (std::isnan(s) || s < 0)
    throw py::value_error(std::string(what) + " must be None or a number of seconds >= 0, not " +
                          std::to_string(s));
  const Clock::time_point now = Clock::now();
  // Beyond what the clock can represent from now: for ever.
  if (s >= std::chrono::duration<double>(Deadline::max() - now).count())
    return Deadline::max();
  return now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::chrono::milliseconds millis_from(double seconds, const char *what) {
  if (std::isnan(seconds) || seconds < 0)
    throw py::value_error(std::string(what) + " must be a number of seconds >= 0, not " +
                          std::to_string(seconds));
  // An hour-long option is as good as for ever; keeps the conversion in range.
  constexpr double kLongest = 1e9;
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil(std::min(seconds, kLongest) * 1000.0)));
}

std::uint64_t checked_uint(long long value, std::uint64_t max, const char *what) {
  if (value < 0 || static_cast<unsigned long long>(value) > max)
    throw py::value_error(std::string(what) + " must be in [0, " + std::to_string(max) + "], not " +
                          std::to_string(value));
  return static_cast<std::uint64_t>(value);
}

// ---- Held --------------------------------------------------------------------------------

PyObject *Held::live_view() const noexcept {
  if (!view_)
    return nullptr;
  PyObject *view = PyWeakref_GetObject(view_.ptr()); // borrowed; None once it died
  if (view == nullptr || view == Py_None) {
    PyErr_Clear();
    return nullptr;
  }
  if ((reinterpret_cast<const PyMemoryViewObject *>(view)->flags & _Py_MEMORYVIEW_RELEASED) != 0)
    return nullptr;
  return view;
}

bool Held::views_alive() const noexcept {
  Py_ssize_t ours = exports_;
  if (PyObject *view = live_view(); view != nullptr) {
    const auto *mv = reinterpret_cast<const PyMemoryViewObject *>(view);
    // Re-exported (a numpy array of it), or other memoryviews share its managed buffer
    // (slices, memoryview(rec.data)).
    if (mv->exports > 0 || mv->mbuf->exports > 1)
      return true;
    ours -= 1; // the managed buffer's own export of us
  }
  return ours > 0;
}

py::object Held::data(py::handle self) {
  if (released_)
    throw py::value_error("shmpipe: segment '" + owner_->name + "': " + describe() +
                          " was released: its data is gone (copy it with bytes() before "
                          "releasing to keep it)");
  if (!holds_)
    return py::none();
  if (PyObject *view = live_view(); view != nullptr)
    return py::reinterpret_borrow<py::object>(view);
  PyObject *view = PyMemoryView_FromObject(self.ptr());
  if (view == nullptr)
    throw py::error_already_set();
  py::object result = py::reinterpret_steal<py::object>(view);
  // A weak reference: the memoryview refers to us, so a strong one would be a cycle that
  // only the garbage collector could break (and pybind11 objects are not tracked by it).
  PyObject *ref = PyWeakref_NewRef(view, nullptr);
  if (ref == nullptr)
    throw py::error_already_set();
  view_ = py::reinterpret_steal<py::object>(ref);
  return result;
}

void Held::release(const char *action) {
  if (!holds_)
    return;
  if (views_alive())
    throw py::buffer_error(
        "shmpipe: segment '" + owner_->name + "': cannot " + action + " " + describe() +
        ": views of its data (memoryviews, slices, numpy arrays) are still alive and would read "
        "ring space the peer may reuse; delete them first (copy with bytes(...) to keep data)");
  if (PyObject *view = live_view(); view != nullptr) {
    // Nothing shares it (views_alive): this release cannot fail, and references the program
    // kept to it raise ValueError from now on.
    py::reinterpret_borrow<py::object>(view).attr("release")();
  }
  view_ = py::object();
  released_ = true;
  holds_ = false;
  detach();
  give_back();
}

int Held::get_buffer(PyObject *self, Py_buffer *view, int flags) noexcept {
  if (!holds_) {
    PyErr_SetString(
        PyExc_ValueError,
        ("shmpipe: " + describe() + (released_ ? " was released" : " holds no data")).c_str());
    view->obj = nullptr;
    return -1;
  }
  static std::byte empty{};
  const std::span<std::byte> b = bytes();
  void *data = b.empty() ? &empty : b.data();
  if (PyBuffer_FillInfo(view, self, data, static_cast<Py_ssize_t>(b.size()), writable() ? 0 : 1,
                        flags) != 0)
    return -1;
  ++exports_;
  return 0;
}

void Held::give_back_on_destruction() noexcept {
  if (!holds_)
    return;
  holds_ = false;
  released_ = true;
  detach();
  give_back();
}

void Held::set_holding() noexcept {
  holds_ = true;
  owner_->outstanding = this;
}

void Held::detach() noexcept {
  if (owner_->outstanding == this)
    owner_->outstanding = nullptr;
}

InputBuffer::InputBuffer(py::handle object, const char *what) {
  if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    throw py::type_error(std::string(what) +
                         " must be a contiguous bytes-like object (bytes, bytearray, "
                         "memoryview, numpy array), not " +
                         std::string(py::str(py::type::handle_of(object).attr("__name__"))));
  }
}

namespace {

py::object make_exception(py::module_ &m, const char *name, py::handle bases, const char *doc) {
  const std::string qualified = std::string("shmpipe.") + name;
  PyObject *type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), /*dict=*/nullptr);
  if (type == nullptr)
    throw py::error_already_set();
  py::object cls = py::reinterpret_steal<py::object>(type);
  m.attr(name) = cls;
  return cls;
}

/// Raises `type(message)` with `status`, `errc`, `segment` set.
void raise_with(py::handle type, const std::string &message, py::object status, py::object errc,
                py::object segment) {
  py::object exc = type(message);
  exc.attr("status") = std::move(status);
  exc.attr("errc") = std::move(errc);
  exc.attr("segment") = std::move(segment);
  PyErr_SetObject(type.ptr(), exc.ptr());
}

void translate(std::exception_ptr p) {
  const ExceptionTypes &types = exception_types();
  try {
    std::rethrow_exception(p);
  } catch (const StatusError &e) {
    const py::handle type = e.status == Status::timeout  ? types.timeout
                            : e.status == Status::closed ? types.closed
                                                         : types.error;
    raise_with(type, e.message, py::str(std::string(to_string(e.status))),
               e.errc ? py::object(py::str(errc_name(*e.errc))) : py::object(py::none()),
               e.segment.empty() ? py::object(py::none()) : py::object(py::str(e.segment)));
  } catch (const Error &e) {
    raise_with(types.error, e.what(), py::none(),
               py::str(errc_name(static_cast<Errc>(e.code().value()))), py::str(e.segment()));
  } catch (const UsageError &e) {
    PyErr_SetString(PyExc_RuntimeError, e.message.c_str());
  }
}

py::dict side_stats(const SideStats &s) {
  py::dict d;
  d["records"] = s.records;
  d["bytes"] = s.bytes;
  d["stalls"] = s.stalls;
  d["wakeups"] = s.wakeups;
  d["sleeps"] = s.sleeps;
  d["wraps"] = s.wraps;
  d["regrown_or_rejected"] = s.regrown_or_rejected;
  d["copied"] = s.copied;
  return d;
}

} // namespace

py::dict stats_dict(const RingStats &stats) {
  py::dict d;
  d["producer"] = side_stats(stats.producer);
  d["consumer"] = side_stats(stats.consumer);
  return d;
}

} // namespace shmpipe::python

PYBIND11_MODULE(_shmpipe, m) {
  namespace sp = shmpipe::python;
  namespace py = pybind11;
  m.doc() = "shmpipe: zero-copy messages between processes over shared memory (C++ core).";
  m.attr("__version__") = SHMPIPE_VERSION;

  sp::ExceptionTypes &types = sp::exception_types();
  py::object error = sp::make_exception(
      m, "Error", PyExc_Exception,
      "A shmpipe failure. `status` names the C++ Status of a failed send or receive "
      "(\"peer_dead\", \"corrupt\", \"too_large\", ...) or is None; `errc` names the C++ Errc "
      "of a failed setup call (\"segment_exists\", \"invalid_argument\", \"handshake\", ...) "
      "or is None; `segment` is the segment name a setup call was given. str() is the C++ "
      "message.");
  error.attr("status") = py::none();
  error.attr("errc") = py::none();
  error.attr("segment") = py::none();
  py::object timeout =
      sp::make_exception(m, "Timeout", py::make_tuple(error, py::handle(PyExc_TimeoutError)),
                         "A wait ended at its deadline (status \"timeout\"), or a worker did not "
                         "say Ready in time (errc \"handshake\"). Also a builtin TimeoutError.");
  py::object closed =
      sp::make_exception(m, "Closed", error,
                         "The stream ended: the peer closed it and everything was read, or this "
                         "end was closed (status \"closed\").");
  types.error = error.release();
  types.timeout = timeout.release();
  types.closed = closed.release();
  py::register_exception_translator(&sp::translate);

  sp::bind_channel(m);
  sp::bind_session(m);
  sp::bind_supervisor(m);
}

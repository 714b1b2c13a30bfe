// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// What every part of the Python binding shares: exceptions, timeouts, waits in slices that
// Ctrl-C can interrupt, and the buffer exporter that guards views into shared memory.
#pragma once

// Design: a Python view of a record must never outlive the record's place in the ring, or it
// would read (or write) space the peer may already reuse. Reference counting does not cover
// release(), which a program calls while it may still hold views. So every object that hands
// out ring memory (a Record, an Incoming, a reserved Slot) is a buffer exporter that counts
// the buffers it exported, and release()/commit() refuse (BufferError) while any is alive.
// `.data` is a memoryview of the object; views derived from it (slices, numpy arrays, other
// memoryviews) share its managed buffer or re-export it, which CPython counts in the
// memoryview and its managed buffer: release() reads those counts and so never has to
// release anything to find out. When nothing is alive it releases `.data` itself, so a
// reference the program kept raises ValueError afterwards instead of reading freed space.
//
// Every blocking call waits with the GIL released, in slices of at most kSlice: between them
// it takes the GIL and runs PyErr_CheckSignals(), so Ctrl-C raises KeyboardInterrupt within a
// slice. No Python code runs in the wait itself.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <shmpipe/error.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe::python {

namespace py = pybind11;

/// How long one wait runs with the GIL released before it looks for signals.
inline constexpr std::chrono::milliseconds kSlice{100};

// ---- exceptions --------------------------------------------------------------------------

/// shmpipe.Error, shmpipe.Timeout and shmpipe.Closed (created in module.cpp).
struct ExceptionTypes {
  py::handle error;
  py::handle timeout;
  py::handle closed;
};
ExceptionTypes &exception_types() noexcept;

[[nodiscard]] const char *errc_name(Errc code) noexcept;

/// A bad Status of a hot-path call, raised as shmpipe.Timeout / Closed / Error. `errc`: also
/// the setup error it stands for (a handshake that timed out).
struct StatusError {
  Status status;
  std::string message;
  std::optional<Errc> errc{};
  std::string segment{};
};

/// Throws StatusError for `status` with the message "shmpipe: segment '<name>': <what>: <status>".
[[noreturn]] void throw_status(Status status, const std::string &segment, const std::string &what);

/// A misuse of an object that the program can correct (receive before release, two threads).
struct UsageError {
  std::string message;
};

// ---- timeouts ----------------------------------------------------------------------------

/// Seconds as Python gives them (None: for ever) -> a deadline from now. ValueError for a
/// negative or NaN value.
[[nodiscard]] Deadline deadline_from(const std::optional<double> &seconds, const char *what);

/// Seconds -> milliseconds for an option (0 allowed). ValueError for negative or NaN.
[[nodiscard]] std::chrono::milliseconds millis_from(double seconds, const char *what);

/// An integer argument in [0, max]: ValueError otherwise (pybind11's own conversion error
/// would list overloads instead of naming the argument).
[[nodiscard]] std::uint64_t checked_uint(long long value, std::uint64_t max, const char *what);

// ---- one thread at a time ------------------------------------------------------------------

/// State every endpoint wrapper shares: its segment name, whether a call is inside it (with
/// the GIL released), and the record it handed out that is not released yet.
class Held;
struct Endpoint {
  std::string name;
  bool busy = false;
  Held *outstanding = nullptr;
};

/// Marks `endpoint` busy for the length of a call; UsageError when another thread is inside
/// it. Only changed with the GIL held, so a plain bool is enough.
class Busy {
public:
  explicit Busy(Endpoint &endpoint, const char *what) : endpoint_(endpoint) {
    if (endpoint_.busy)
      throw UsageError{"shmpipe: segment '" + endpoint_.name + "': " + what +
                       " while another thread is inside a call on the same object (one "
                       "thread at a time)"};
    endpoint_.busy = true;
  }
  Busy(const Busy &) = delete;
  Busy &operator=(const Busy &) = delete;
  ~Busy() { endpoint_.busy = false; }

private:
  Endpoint &endpoint_;
};

/// Runs `call(slice_deadline)` with the GIL released, one slice at a time, until
/// `timed_out(result)` is false or `until` has passed; returns the last result. Between slices:
/// PyErr_CheckSignals() (KeyboardInterrupt propagates as py::error_already_set). A deadline
/// already past gives one call, with the GIL held (a try: no wait to release it for) unless
/// `always_unlocked` (a try that can still take long: a Supervisor may start a worker).
template <class Call, class TimedOut>
auto sliced(Deadline until, Call &&call, TimedOut &&timed_out, bool always_unlocked = false) {
  Clock::time_point now = Clock::now();
  if (until <= now && !always_unlocked)
    return call(until);
  for (;;) {
    const Deadline slice_end = until - now > kSlice ? now + kSlice : until;
    auto result = [&] {
      py::gil_scoped_release unlocked;
      return call(slice_end);
    }();
    now = Clock::now();
    if (!timed_out(result) || now >= until)
      return result;
    if (PyErr_CheckSignals() != 0)
      throw py::error_already_set();
  }
}

// ---- buffer exporters --------------------------------------------------------------------

/// Memory in a ring handed to Python (see the design note). Derived classes say what the
/// bytes are and how to give them back.
class Held {
public:
  Held(Endpoint &owner, py::object owner_ref) : owner_(&owner), owner_ref_(std::move(owner_ref)) {}
  Held(const Held &) = delete;
  Held &operator=(const Held &) = delete;
  virtual ~Held() = default;

  /// The bytes, or empty when there are none (released, or nothing was held).
  [[nodiscard]] virtual std::span<std::byte> bytes() noexcept = 0;
  [[nodiscard]] virtual bool writable() const noexcept = 0;
  /// For messages: "record (seq 4)", "request 7", ...
  [[nodiscard]] virtual std::string describe() const = 0;

  [[nodiscard]] bool holds() const noexcept { return holds_; }
  [[nodiscard]] Endpoint &owner() const noexcept { return *owner_; }

  /// Whether a buffer exported from this object is still alive (see the design note).
  [[nodiscard]] bool views_alive() const noexcept;
  /// `.data`: the cached memoryview, made anew if the program released it. ValueError (as
  /// UsageError) once the bytes were given back; None when nothing was ever held.
  [[nodiscard]] py::object data(py::handle self);
  /// Gives the bytes back through `give_back`, once; BufferError while views are alive.
  void release(const char *action);

  // The buffer protocol, installed on each exporting type by install_buffer_slots().
  int get_buffer(PyObject *self, Py_buffer *view, int flags) noexcept;
  void release_buffer() noexcept { --exports_; }

protected:
  /// Called once, with the GIL held, when nothing refers to the bytes any more.
  virtual void give_back() noexcept = 0;
  /// For destructors of derived classes: gives the bytes back without checks (no view can be
  /// alive: every view holds a reference to this object).
  void give_back_on_destruction() noexcept;
  /// Marks that there is something to give back.
  void set_holding() noexcept;

private:
  void detach() noexcept;
  /// The memoryview `.data` handed out, if it still exists and is not released (borrowed).
  [[nodiscard]] PyObject *live_view() const noexcept;

  Endpoint *owner_;
  py::object owner_ref_; // keeps the endpoint (and so the mapping) alive as long as we are
  py::object view_;      // a weak reference to the memoryview `.data` handed out
  Py_ssize_t exports_ = 0;
  bool holds_ = false;    // something is held and not given back yet
  bool released_ = false; // it was given back
};

/// Installs Held's buffer protocol on class `cls` (declared with py::buffer_protocol()).
template <class T> void install_buffer_slots(py::handle cls) {
  auto *heap = reinterpret_cast<PyHeapTypeObject *>(cls.ptr());
  heap->as_buffer.bf_getbuffer = [](PyObject *self, Py_buffer *view, int flags) -> int {
    T *held = nullptr;
    try {
      held = py::handle(self).cast<T *>();
    } catch (...) {
      PyErr_SetString(PyExc_BufferError, "shmpipe: not an initialized object");
      view->obj = nullptr;
      return -1;
    }
    return held->get_buffer(self, view, flags);
  };
  heap->as_buffer.bf_releasebuffer = [](PyObject *self, Py_buffer *) {
    try {
      py::handle(self).cast<T *>()->release_buffer();
    } catch (...) { // cannot happen: the cast succeeded in bf_getbuffer
      PyErr_Clear();
    }
  };
}

/// The caller's bytes-like object as a read-only contiguous span, for the length of a call.
class InputBuffer {
public:
  explicit InputBuffer(py::handle object, const char *what);
  InputBuffer(const InputBuffer &) = delete;
  InputBuffer &operator=(const InputBuffer &) = delete;
  ~InputBuffer() { PyBuffer_Release(&view_); }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return {static_cast<const std::byte *>(view_.buf), static_cast<std::size_t>(view_.len)};
  }

private:
  Py_buffer view_{};
};

/// Releases the GIL around destroying `object` (a destructor that may wait, like a producer's
/// linger), unless the interpreter is shutting down.
template <class T> void destroy_unlocked(T &object) {
  if (Py_IsInitialized() != 0 && _Py_IsFinalizing() == 0 && PyGILState_Check() != 0) {
    py::gil_scoped_release unlocked;
    object.reset();
  } else {
    object.reset();
  }
}

/// RingStats as {"producer": {...}, "consumer": {...}}, the C++ counters by name.
[[nodiscard]] py::dict stats_dict(const RingStats &stats);

/// Binds `ready_fd()` on `cls`: the descriptor of the C++ endpoint `get(self)` returns, which
/// shmpipe.aio waits on.
template <class Class, class Get> void bind_ready_fd(Class &cls, Get get) {
  using Self = typename Class::type;
  cls.def(
      "ready_fd", [get](Self &self) { return get(self).ready_fd(); },
      "A file descriptor that is readable while receive(timeout=0) may make progress (or the "
      "peer closed or died): for select/poll/epoll and asyncio's add_reader. Owned by this "
      "object, the same for its lifetime; level-triggered: after it polls readable, receive "
      "with timeout 0 until that raises Timeout, which re-arms it. Raises shmpipe.Error if it "
      "cannot be made.");
}

void bind_channel(py::module_ &m);
void bind_session(py::module_ &m);
void bind_supervisor(py::module_ &m);

} // namespace shmpipe::python

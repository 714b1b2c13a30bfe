// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Incoming (a message received on a session) for Python, shared by Core, Worker and Supervisor.
#pragma once

#include "common.hpp"

#include <memory>
#include <optional>
#include <string>

#include <shmpipe/session.hpp>

namespace shmpipe::python {

/// One message received on a session (C++ shmpipe::Incoming): in the ring, in a private copy
/// (Supervisor), or nothing but a status and a request id (a request's deadline passed, or it
/// was lost with its worker).
class PyIncoming final : public Held {
public:
  PyIncoming(Endpoint &owner, py::object owner_ref, Incoming &&in)
      : Held(owner, std::move(owner_ref)), in_(std::move(in)), status_(in_.status()),
        request_id_(in_.request_id()), final_(in_.final()), late_(in_.late()), type_(in_.type()),
        seq_(in_.seq()), identifier_(in_.identifier()), report_(in_.work_report()) {
    if (in_)
      set_holding();
  }
  ~PyIncoming() override { give_back_on_destruction(); }

  std::span<std::byte> bytes() noexcept override {
    if (!holds())
      return {};
    const std::span<const std::byte> b = in_.buffer();
    return {const_cast<std::byte *>(b.data()), b.size()}; // exported read-only
  }
  [[nodiscard]] bool writable() const noexcept override { return false; }
  [[nodiscard]] std::string describe() const override {
    return "the message for request " + std::to_string(request_id_) + " (seq " +
           std::to_string(seq_) + ")";
  }

  [[nodiscard]] Status status() const noexcept { return status_; }
  [[nodiscard]] std::uint64_t request_id() const noexcept { return request_id_; }
  [[nodiscard]] bool final() const noexcept { return final_; }
  [[nodiscard]] bool late() const noexcept { return late_; }
  [[nodiscard]] std::uint16_t type() const noexcept { return type_; }
  [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }
  [[nodiscard]] const std::string &identifier() const noexcept { return identifier_; }
  /// Kept past release(): it lies in the frame, and is a few bytes.
  [[nodiscard]] const std::optional<WorkReport> &work_report() const noexcept { return report_; }

private:
  void give_back() noexcept override { in_.release(); }

  Incoming in_;
  Status status_;
  std::uint64_t request_id_;
  bool final_;
  bool late_;
  std::uint16_t type_;
  std::uint64_t seq_;
  std::string identifier_;
  std::optional<WorkReport> report_;
};

/// Refuses `what` while `self` has an Incoming in hand that is not released.
inline void no_open_incoming(Endpoint &self, const char *what, const char *why) {
  if (self.outstanding != nullptr)
    throw UsageError{"shmpipe: segment '" + self.name + "': " + what + " while " +
                     self.outstanding->describe() + " is not released: call release() on it " +
                     "or use a `with` block (" + why + ")"};
}

/// Wraps `in` for Python (owned by `self_ref`'s endpoint).
inline py::object wrap(Endpoint &self, py::object self_ref, Incoming &&in) {
  return py::cast(std::make_unique<PyIncoming>(self, std::move(self_ref), std::move(in)));
}

/// Converts a WorkerInfo for Python (a WorkerInfo object).
py::object worker_info(const WorkerInfo &info);

} // namespace shmpipe::python

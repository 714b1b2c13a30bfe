// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Errors: Errc and Error for setup calls (thrown), Status for hot-path calls (returned).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace shmpipe {

/// Why a setup call (create, open, attach) failed. Carried by shmpipe::Error.
enum class Errc {
  invalid_name = 1,  ///< empty, too long, or has a character other than [A-Za-z0-9._-]
  invalid_argument,  ///< an option is out of range (capacity, ring count, ring index)
  segment_exists,    ///< create: a segment of that name already exists
  segment_missing,   ///< open: no segment of that name
  permission_denied, ///< the segment exists but this user may not open it
  not_ready,         ///< open: the creator has not finished initializing the segment
  bad_magic,         ///< open: the object is not a shmpipe segment
  layout_mismatch,   ///< open: layout version, cache-line size or record alignment differ
  size_mismatch,     ///< open: the object's size disagrees with its header
  out_of_space,      ///< create: /dev/shm cannot hold the segment
  role_taken,        ///< attach: a live process already holds this producer or consumer role
  corrupt,           ///< attach: the ring's control block violates the protocol
  handshake,         ///< session: the peer did not say Ready in time, or speaks another protocol
  system,            ///< any other operating-system failure (see Error::native_error())
  worker_failed,     ///< supervisor: the worker could not be started or did not become ready
  in_use,            ///< remove: a live process created the segment or holds a role in it
};

/// Outcome of a hot-path call. Hot-path calls never throw.
enum class Status : std::uint8_t {
  ok = 0,    ///< done
  full,      ///< producer: not enough free space right now
  empty,     ///< consumer: nothing published right now
  timeout,   ///< a blocking call reached its deadline
  peer_dead, ///< the process holding the other role died
  closed,    ///< consumer: the producer closed the stream and everything has been read
  too_large, ///< producer: the record can never fit this ring (see RingWriter::max_payload())
  corrupt,   ///< the peer broke the protocol; the ring is unusable from now on
  /// consumer: a message failed verification (or is of another type); it was released, and
  /// the next receive goes on with the next record
  invalid_message,
};

[[nodiscard]] constexpr std::string_view to_string(Status s) noexcept {
  switch (s) {
  case Status::ok:
    return "ok";
  case Status::full:
    return "full";
  case Status::empty:
    return "empty";
  case Status::timeout:
    return "timeout";
  case Status::peer_dead:
    return "peer_dead";
  case Status::closed:
    return "closed";
  case Status::too_large:
    return "too_large";
  case Status::corrupt:
    return "corrupt";
  case Status::invalid_message:
    return "invalid_message";
  }
  return "unknown";
}

namespace detail {

class ErrcCategory final : public std::error_category {
public:
  const char *name() const noexcept override { return "shmpipe"; }
  std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
    case Errc::invalid_name:
      return "invalid segment name";
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::segment_exists:
      return "segment already exists";
    case Errc::segment_missing:
      return "segment does not exist";
    case Errc::permission_denied:
      return "permission denied";
    case Errc::not_ready:
      return "segment is still being initialized";
    case Errc::bad_magic:
      return "not a shmpipe segment";
    case Errc::layout_mismatch:
      return "segment layout mismatch";
    case Errc::size_mismatch:
      return "segment size mismatch";
    case Errc::out_of_space:
      return "not enough shared memory";
    case Errc::role_taken:
      return "role already taken by a live process";
    case Errc::corrupt:
      return "ring control block is corrupt";
    case Errc::handshake:
      return "session handshake failed";
    case Errc::system:
      return "system error";
    case Errc::worker_failed:
      return "worker failed to start";
    case Errc::in_use:
      return "segment is in use by a live process";
    }
    return "unknown shmpipe error";
  }
};

} // namespace detail

[[nodiscard]] inline const std::error_category &error_category() noexcept {
  static const detail::ErrcCategory category;
  return category;
}

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Thrown by setup calls. what() reads "shmpipe: segment '<name>': <detail>: <category message>".
class Error : public std::system_error {
public:
  Error(Errc code, std::string segment, const std::string &detail, int native_error = 0)
      : std::system_error(make_error_code(code), "shmpipe: segment '" + segment + "': " + detail),
        segment_(std::move(segment)), native_error_(native_error) {}

  /// The segment name the failing call was given.
  [[nodiscard]] const std::string &segment() const noexcept { return segment_; }
  /// errno of the failing system call, or 0 when the failure was detected by shmpipe itself.
  [[nodiscard]] int native_error() const noexcept { return native_error_; }

private:
  std::string segment_;
  int native_error_;
};

} // namespace shmpipe

template <> struct std::is_error_code_enum<shmpipe::Errc> : std::true_type {};

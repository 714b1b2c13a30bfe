// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Test helpers: hostile entries in /dev/shm (forged segment headers, sparse files, FIFOs,
// sockets, links, directories), each removed again by a guard, and running as another user.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/version.hpp>

namespace shmpipe::test {

inline std::string shm_path(const std::string &name) { return "/dev/shm/" + name; }

/// Removes /dev/shm/<name> (whatever it is: file, FIFO, socket, link or empty directory) on
/// construction and destruction.
class ShmEntry {
public:
  explicit ShmEntry(std::string name) : name_(std::move(name)) { remove(); }
  ~ShmEntry() { remove(); }
  ShmEntry(const ShmEntry &) = delete;
  ShmEntry &operator=(const ShmEntry &) = delete;
  [[nodiscard]] const std::string &name() const noexcept { return name_; }
  [[nodiscard]] std::string path() const { return shm_path(name_); }
  [[nodiscard]] bool exists() const {
    struct stat st {};
    return ::lstat(path().c_str(), &st) == 0;
  }
  [[nodiscard]] std::uint64_t blocks() const {
    struct stat st {};
    return ::lstat(path().c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_blocks) : 0;
  }

private:
  void remove() {
    if (::unlink(path().c_str()) != 0)
      ::rmdir(path().c_str());
  }
  std::string name_;
};

/// A header as Segment::create writes it, for `rings` rings of `capacity` bytes, creator pid
/// 0 (nobody: the segment is stale).
inline detail::SegmentHeader valid_header(std::uint64_t capacity, std::uint32_t rings = 1) {
  detail::SegmentHeader h;
  std::memset(static_cast<void *>(&h), 0, sizeof h);
  h.layout_version = kLayoutVersion;
  h.cache_line = static_cast<std::uint32_t>(kCacheLine);
  h.header_size = sizeof h;
  h.ring_count = rings;
  h.record_align = static_cast<std::uint32_t>(kRecordAlign);
  h.ring_capacity = capacity;
  h.ring_stride = sizeof(detail::RingControl) + capacity;
  h.segment_size = sizeof h + rings * h.ring_stride;
  h.magic.store(detail::kSegmentMagic, std::memory_order_relaxed); // private, not yet shared
  return h;
}

/// Writes `h` at offset 0 of a new file at `path` of `file_size` bytes (sparse: only the
/// header's page is allocated). False on failure.
inline bool forge_file(const std::string &path, const detail::SegmentHeader &h,
                       std::uint64_t file_size, mode_t mode = 0600) {
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  const std::size_t n = std::min<std::uint64_t>(sizeof h, file_size);
  const bool ok = ::pwrite(fd, &h, n, 0) == static_cast<ssize_t>(n) &&
                  ::ftruncate(fd, static_cast<off_t>(file_size)) == 0 && ::fchmod(fd, mode) == 0;
  ::close(fd);
  return ok;
}

/// forge_file() in /dev/shm/<name>.
inline bool forge_segment(const std::string &name, const detail::SegmentHeader &h,
                          std::uint64_t file_size, mode_t mode = 0600) {
  return forge_file(shm_path(name), h, file_size, mode);
}

/// A listening Unix socket bound at /dev/shm/<name> (the name must be short: sun_path).
class ShmSocket {
public:
  explicit ShmSocket(const std::string &name) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = shm_path(name);
    if (fd_ < 0 || path.size() >= sizeof addr.sun_path)
      return;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) == 0 &&
             ::listen(fd_, 1) == 0;
  }
  ~ShmSocket() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  ShmSocket(const ShmSocket &) = delete;
  ShmSocket &operator=(const ShmSocket &) = delete;
  [[nodiscard]] bool bound() const noexcept { return bound_; }

private:
  int fd_ = -1;
  bool bound_ = false;
};

/// For a forked child: become a user that cannot read this user's 0600 files. As root, that is
/// nobody (65534); a non-root user stays itself and relies on mode 000 files (the caller makes
/// them so). False when root cannot change its uid (a user namespace without that uid).
inline bool become_unprivileged() {
  if (::geteuid() != 0)
    return true;
  return ::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0 &&
         ::geteuid() == 65534;
}

} // namespace shmpipe::test

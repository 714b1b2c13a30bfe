// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Process identity (pid + start time) and liveness, so that a reused pid is not taken for the
// process that held a role before it.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace shmpipe::detail {

/// What /proc/<pid>/stat says about a process: its state (field 3: 'R', 'S', ..., 'Z' for a
/// zombie), its thread count (field 20) and start time (field 22, clock ticks since boot).
/// start == 0 when it cannot be read (no such process, no /proc, no file descriptor left).
struct ProcessInfo {
  char state = '?';
  std::uint64_t threads = 0;
  std::uint64_t start = 0;
};

[[nodiscard]] inline ProcessInfo read_process(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::FILE *file = std::fopen(path, "re");
  if (file == nullptr)
    return {};
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, file);
  std::fclose(file);
  buf[n] = '\0';
  // The command name (field 2) may contain spaces and parentheses: fields are counted from the
  // last ')'. After it come " <state> " (field 3) ... field 22: 19 more spaces.
  const char *p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ' || p[2] == '\0')
    return {};
  ProcessInfo info;
  info.state = p[2];
  ++p;
  std::uint64_t threads = 0;
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p + 1, ' ');
    if (p == nullptr)
      return {};
    if (field == 19) // p is the space before field 20
      for (const char *d = p + 1; *d >= '0' && *d <= '9'; ++d)
        threads = threads * 10 + static_cast<std::uint64_t>(*d - '0');
  }
  std::uint64_t start = 0;
  for (++p; *p >= '0' && *p <= '9'; ++p)
    start = start * 10 + static_cast<std::uint64_t>(*p - '0');
  info.threads = threads;
  info.start = start;
  return info;
}

[[nodiscard]] inline std::uint64_t process_start_time(pid_t pid) noexcept {
  return read_process(pid).start;
}

/// This process's start time, read from /proc once per process (again after a fork) and then
/// remembered, so that a later claim does not depend on a free file descriptor; 0 when /proc
/// could never be read here (a sandbox or chroot without it).
[[nodiscard]] inline std::uint64_t self_start_time() noexcept {
  // Process-local memory, not shared. The pid is stored after the start time with release and
  // loaded first with acquire: a thread that finds its own pid there also finds its start
  // time. Two threads that fill the cache at once store the same values.
  static std::atomic<std::uint64_t> cached_start{0};
  static std::atomic<pid_t> cached_pid{0};
  const pid_t pid = ::getpid();
  if (cached_pid.load(std::memory_order_acquire) == pid)
    return cached_start.load(std::memory_order_relaxed);
  const std::uint64_t start = process_start_time(pid);
  if (start != 0) { // not remembered when unknown: the next call tries /proc again
    cached_start.store(start, std::memory_order_relaxed);
    cached_pid.store(pid, std::memory_order_release);
  }
  return start;
}

/// The value a side stores in OwnerLine::owner: pid in the high half and the low 32 bits of
/// its start time in the low half; one word, so that a compare-exchange claims both at once.
/// A low half of 0 means "start time unknown" (the claimer could not read /proc): such a
/// holder is judged by kill(pid, 0) alone, so that it is never taken for dead while it runs
/// (a reused pid then keeps its role taken instead: the safe side). A real start time whose
/// low 32 bits are 0 is stored as 1.
[[nodiscard]] inline std::uint64_t make_owner_token(pid_t pid, std::uint64_t start) noexcept {
  std::uint64_t low = start & 0xffffffffULL;
  if (low == 0 && start != 0)
    low = 1;
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 32) | low;
}

[[nodiscard]] inline std::uint64_t self_owner_token() noexcept {
  return make_owner_token(::getpid(), self_start_time());
}

[[nodiscard]] inline pid_t owner_pid(std::uint64_t token) noexcept {
  return static_cast<pid_t>(token >> 32);
}

/// Whether the process named by an owner token still runs. Untrusted input: any token,
/// including garbage, gives an answer. A zombie (dead, not yet reaped by its parent) is dead: a
/// parent whose child crashed must not wait for it. A process whose main thread exited while
/// other threads run also shows state Z (the kernel keeps the leader until the last thread
/// exits) but counts more than one thread: it is alive. Limits: pids are those of this pid
/// namespace.
[[nodiscard]] inline bool owner_alive(std::uint64_t token) noexcept {
  const pid_t pid = owner_pid(token);
  if (pid <= 0)
    return false;
  if (::kill(pid, 0) != 0 && errno != EPERM)
    return false;
  const ProcessInfo info = read_process(pid);
  if (info.start == 0) // exited between kill() and the read, or /proc is absent: trust kill()
    return ::kill(pid, 0) == 0 || errno == EPERM;
  if ((info.state == 'Z' || info.state == 'X') && info.threads <= 1)
    return false;
  if ((token & 0xffffffffULL) == 0) // the holder could not read its start time: trust kill()
    return true;
  return make_owner_token(pid, info.start) == token;
}

/// Watches the process holding the other role. The first look at a holder costs a read of
/// /proc (start time, state); after that, while the holder stays the same, a look is one
/// poll() on a pidfd (Linux 5.3+), which becomes readable when the process exits, zombie or
/// not. That keeps an idle, sleeping endpoint's periodic checks near free. Process-local;
/// move-only.
class PeerWatch {
public:
  PeerWatch() noexcept = default;
  PeerWatch(PeerWatch &&other) noexcept { *this = std::move(other); }
  PeerWatch &operator=(PeerWatch &&other) noexcept {
    if (this != &other) {
      reset();
      token_ = other.token_;
      fd_ = other.fd_;
      dead_ = other.dead_;
      other.token_ = 0;
      other.fd_ = -1;
    }
    return *this;
  }
  PeerWatch(const PeerWatch &) = delete;
  PeerWatch &operator=(const PeerWatch &) = delete;
  ~PeerWatch() { reset(); }

  /// Whether the process named by `token` (an owner word) has died. 0 means nobody holds the
  /// role now: then the holder seen last is judged, if there was one. A holder that let go
  /// cleanly is forgotten first (forget(); role.hpp's holder_dead() does so when `closed` says
  /// it); any other way for the word to become 0 (a stray write, or a process that took the
  /// role and gave it back at once) must not hide that process's death, nor leave its pidfd
  /// armed while its death is not reported (the death alarm would wake a sleeper every
  /// millisecond for nothing).
  [[nodiscard]] bool dead(std::uint64_t token) noexcept {
    if (token == 0) {
      if (token_ == 0)
        return false; // never held while we looked: a role nobody claimed has no one to die
      token = token_;
    }
    if (token != token_) {
      reset();
      token_ = token;
      // Open first, then check identity: if the pid was reused before the open, the start
      // time read afterwards tells; if the holder dies after it, the pidfd tells.
      fd_ = static_cast<int>(::syscall(SYS_pidfd_open, owner_pid(token), 0));
      dead_ = !owner_alive(token);
      return dead_;
    }
    if (dead_)
      return true;
    if (fd_ < 0) // no pidfd (old kernel, or the process was already gone): the slow way
      return dead_ = !owner_alive(token);
    pollfd pfd{fd_, POLLIN, 0};
    dead_ = ::poll(&pfd, 1, 0) > 0;
    return dead_;
  }

  /// Forgets the holder seen last (it gave the role back cleanly): dead(0) is false again.
  void forget() noexcept { reset(); }

  /// The pidfd of the holder last asked about (-1: none), for DeathAlarm.
  [[nodiscard]] int fd() const noexcept { return dead_ ? -1 : fd_; }

private:
  void reset() noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
    token_ = 0;
    dead_ = false;
  }

  std::uint64_t token_ = 0;
  int fd_ = -1;
  bool dead_ = false;
};

} // namespace shmpipe::detail

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// ReadyFd: a file descriptor an event loop (epoll, poll, asyncio, Boost.Asio) can wait on for a
// ring, and send_wake(), the other side's half (docs/LAYOUT.md, "Waiting in an event loop").
#pragma once

// Design: a futex cannot be polled, so a side that waits in an event loop gives the other side
// a socket to write to instead. The waiting side binds a Unix datagram socket to an abstract
// name ("\0shmpipe-wake-" + 16 hex digits of a random token), stores the token and an arm
// generation in its own owner line, and waits on an epoll set holding that socket and the
// other side's pidfd (and, for sessions, a timerfd and an eventfd). The other side, after a
// publish that finds the generation armed and not yet answered, sends one empty datagram.
//   - Abstract names need no file and vanish with the socket: nothing is left behind.
//   - One datagram per arm, not per publish: a producer that publishes a burst while the
//     consumer's loop is busy pays one sendto(), and nothing when no loop waits.
//   - The token comes from shared memory, so a hostile peer can make us send empty datagrams
//     to another shmpipe wake socket of its choosing, and any local process may send to ours:
//     both are spurious wakes, which every user of the descriptor tolerates (it re-checks).
// Why not an eventfd: it would have to reach the other process (SCM_RIGHTS needs a connected
// socket and a handshake; pidfd_getfd needs ptrace rights, which containers often deny).

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <shmpipe/error.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe::detail {

inline constexpr char kWakeSocketPrefix[] = "shmpipe-wake-";

/// The abstract socket address a wake token names; `length` is what bind/sendto take.
inline sockaddr_un wake_address(std::uint64_t token, socklen_t &length) noexcept {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // sun_path[0] stays '\0': an abstract name, in the network namespace, not the file system.
  const int written = std::snprintf(address.sun_path + 1, sizeof(address.sun_path) - 1, "%s%016llx",
                                    kWakeSocketPrefix, static_cast<unsigned long long>(token));
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 +
                                  static_cast<std::size_t>(written));
  return address;
}

/// Sends one empty datagram to the wake socket named by `token` (read from shared memory,
/// so any value). Never blocks: a full socket buffer means the waiter is readable already,
/// and a name nobody holds (the waiter went away) is refused at once; both are ignored.
inline void send_wake(std::uint64_t token) noexcept {
  // One unbound socket per process, made on the first wake and shared by every thread and
  // ring (sendto on a datagram socket is thread-safe); a fork inherits it, which is harmless.
  static std::atomic<int> sender{-1};
  int fd = sender.load(std::memory_order_acquire);
  if (fd < 0) {
    const int made = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (made < 0)
      return; // out of descriptors: the waiter's next liveness check or timer still comes
    // acq_rel: a thread that loses the race adopts the winner's descriptor and closes its own.
    if (sender.compare_exchange_strong(fd, made, std::memory_order_acq_rel))
      fd = made;
    else
      ::close(made);
  }
  socklen_t length = 0;
  const sockaddr_un address = wake_address(token, length);
  static_cast<void>(::sendto(fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr *>(&address), length));
}

/// What a wait on a ReadyFd found, from ReadyFd::collect().
struct ReadyEvents {
  bool peer = false;  ///< the watched process exited
  bool timer = false; ///< the timer expired
};

/// The waiting side's descriptor: an epoll set of a wake socket, the watched peer's pidfd, and
/// optionally a timer and a "pending" eventfd for queues that live in process memory.
/// Process-local; neither copyable nor movable (rings and sessions point at it).
class ReadyFd {
public:
  /// Throws Error(system) when a descriptor cannot be made or no free name is found.
  explicit ReadyFd(const std::string &segment) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0)
      fail(segment, "epoll_create1");
    socket_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (socket_ < 0)
      fail(segment, "socket");
    for (int attempt = 0;; ++attempt) {
      std::uint64_t token = 0;
      if (::getrandom(&token, sizeof token, 0) != static_cast<ssize_t>(sizeof token))
        fail(segment, "getrandom");
      if (token == 0)
        continue; // 0 means "no socket" in the owner line
      socklen_t length = 0;
      const sockaddr_un address = wake_address(token, length);
      if (::bind(socket_, reinterpret_cast<const sockaddr *>(&address), length) == 0) {
        token_ = token;
        break;
      }
      if (errno != EADDRINUSE || attempt >= 8)
        fail(segment, "bind of the wake socket");
    }
    add(socket_, segment);
    // Readable from the start: nothing is armed until a try call finds the ring empty, so
    // the first wait must not sleep (a loop polls first, then tries until empty).
    send_wake(token_);
  }
  ReadyFd(const ReadyFd &) = delete;
  ReadyFd &operator=(const ReadyFd &) = delete;
  ~ReadyFd() {
    for (const int fd : {peer_, timer_, pending_, socket_, epoll_})
      if (fd >= 0)
        ::close(fd);
  }

  /// What the event loop waits on: readable when any member is.
  [[nodiscard]] int fd() const noexcept { return epoll_; }
  /// Names the wake socket; stored in the waiting side's owner line.
  [[nodiscard]] std::uint64_t token() const noexcept { return token_; }

  /// Takes what made the descriptor readable, so that it is readable again only for something
  /// new: wake datagrams are read and dropped, a timer expiry is consumed. One epoll_wait when
  /// nothing is there. The pidfd and the pending eventfd stay readable (level) until
  /// watch_peer() or set_pending() change them.
  ReadyEvents collect() noexcept {
    std::array<epoll_event, 5> events{};
    const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 0);
    ReadyEvents found;
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == socket_)
        drain_socket();
      else if (fd == peer_ && peer_ >= 0)
        found.peer = true;
      else if (fd == timer_ && timer_ >= 0) {
        std::uint64_t expirations = 0;
        static_cast<void>(::read(timer_, &expirations, sizeof expirations));
        found.timer = true;
      }
    }
    return found;
  }

  /// Watches the process that holds the other role, by its owner word `owner` and `pidfd` (of
  /// the caller's PeerWatch; duplicated here, so that the watch may close it). Same owner
  /// as before: nothing to do. `pidfd` < 0: watch nobody (the role is free, or its holder's
  /// death was reported). false when the descriptor could not be duplicated or added.
  bool watch_peer(std::uint64_t owner, int pidfd) noexcept {
    const bool want = pidfd >= 0;
    if (want == (peer_ >= 0) && owner == peer_owner_)
      return true;
    if (peer_ >= 0) {
      // Explicitly: closing our duplicate alone would leave it in the set while the
      // PeerWatch's descriptor still refers to the same open file.
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, peer_, nullptr);
      ::close(peer_);
      peer_ = -1;
    }
    peer_owner_ = owner;
    if (!want)
      return true;
    peer_ = ::fcntl(pidfd, F_DUPFD_CLOEXEC, 0);
    if (peer_ < 0 || !try_add(peer_)) {
      if (peer_ >= 0)
        ::close(peer_);
      peer_ = -1;
      return false;
    }
    return true;
  }

  /// Makes the descriptor readable at `when` (Deadline::max(): never). Throws nothing; a
  /// timerfd that cannot be made (out of descriptors) leaves the caller to its next wake.
  void set_timer(Deadline when) noexcept {
    if (when == Deadline::max()) {
      if (timer_ >= 0 && timer_set_) {
        const itimerspec off{};
        ::timerfd_settime(timer_, 0, &off, nullptr);
        timer_set_ = false;
      }
      return;
    }
    // The same time, still ahead: nothing to do (a time that passed must be set again, or
    // its expiry would keep the descriptor readable after the caller dealt with it).
    if (timer_set_ && when == timer_at_ && when > Clock::now())
      return;
    if (timer_ < 0) {
      timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
      if (timer_ < 0 || !try_add(timer_))
        return;
    }
    itimerspec at{};
    const auto since_epoch = when.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    at.it_value.tv_sec = static_cast<time_t>(secs.count());
    at.it_value.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    if (at.it_value.tv_sec == 0 && at.it_value.tv_nsec == 0)
      at.it_value.tv_nsec = 1; // all zero would disarm it
    // Absolute on CLOCK_MONOTONIC, which steady_clock is on Linux; a time already past
    // expires at once. Setting it also clears an expiry not yet read.
    timer_set_ = ::timerfd_settime(timer_, TFD_TIMER_ABSTIME, &at, nullptr) == 0;
    timer_at_ = when;
  }

  /// Keeps the descriptor readable while `pending` (work queued in process memory that no
  /// ring shows); a system call only when the state changes.
  void set_pending(bool pending) noexcept {
    if (pending == pending_set_)
      return;
    if (pending_ < 0) {
      pending_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (pending_ < 0 || !try_add(pending_))
        return;
    }
    if (pending) {
      const std::uint64_t one = 1;
      static_cast<void>(::write(pending_, &one, sizeof one));
    } else {
      std::uint64_t count = 0;
      static_cast<void>(::read(pending_, &count, sizeof count));
    }
    pending_set_ = pending;
  }

private:
  [[noreturn]] static void fail(const std::string &segment, const char *call) {
    const int error = errno;
    throw Error(Errc::system, segment,
                std::string("readiness descriptor: ") + call + ": " + std::strerror(error), error);
  }

  void add(int fd, const std::string &segment) {
    if (!try_add(fd))
      fail(segment, "epoll_ctl");
  }

  bool try_add(int fd) noexcept {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    return ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) == 0;
  }

  void drain_socket() noexcept {
    // Empty datagrams, read 16 at a time; a stranger's datagram is dropped the same way.
    std::array<mmsghdr, 16> messages{};
    while (::recvmmsg(socket_, messages.data(), static_cast<unsigned>(messages.size()),
                      MSG_DONTWAIT, nullptr) == static_cast<int>(messages.size())) {
    }
  }

  int epoll_ = -1;
  int socket_ = -1;
  int peer_ = -1;
  int timer_ = -1;
  int pending_ = -1;
  std::uint64_t token_ = 0;
  std::uint64_t peer_owner_ = 0;
  Deadline timer_at_{};
  bool timer_set_ = false;
  bool pending_set_ = false;
};

} // namespace shmpipe::detail

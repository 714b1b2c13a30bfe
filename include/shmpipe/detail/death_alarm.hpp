// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Wakes a sleeping endpoint as soon as the peer process it waits for exits.
#pragma once

// Why: an endpoint asleep on a futex learns of a dead peer only when something wakes it. Timed
// wakes to look cost ~60 us of CPU each on the development VM (0.12% of a core at 50 ms), so
// polling cannot give both "dead peer noticed within 100 ms" and "0% CPU when idle". The
// kernel does not wake a futex when some other process exits, but it does make that process's
// pidfd readable, and epoll can wait for that. So one thread per process (started on the first
// sleep, never when nothing sleeps) waits in epoll_wait on the pidfds of the peers that this
// process's sleepers wait for, and on an exit it FUTEX_WAKEs their words. It writes nothing to
// shared memory: a futex word keeps its single writer (docs/LAYOUT.md).
//
// Lost wakes: a FUTEX_WAKE that comes before the sleeper is queued in futex_wait finds nobody.
// So a sleeper arms the alarm first and then checks the pidfd itself, and the thread, once a
// peer has died, repeats the wake every millisecond until every sleeper on it has disarmed:
// a death before the check is seen by the check, one after it by a repeated wake.
//
// Without it (no pidfd: kernel < 5.3, no thread, more than kSlots sleepers at once) a sleeper
// still wakes every WaitPolicy::liveness_interval to look: slower, never wrong.

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <shmpipe/detail/futex.hpp>
#include <shmpipe/detail/shared_atomic.hpp>

namespace shmpipe::detail {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false;
#endif

class DeathAlarm {
public:
  /// Identifies one armed alarm; 0 = not armed.
  using Handle = std::uint64_t;

  /// Most sleepers armed at once in one process (each is a thread inside a blocking call).
  static constexpr std::uint32_t kSlots = 256;

  /// The process's alarm. Never destroyed: its thread may still wait while statics die.
  static DeathAlarm &instance() noexcept {
    static DeathAlarm *const alarm = new DeathAlarm(); // NOLINT: immortal on purpose
    return *alarm;
  }

  /// When the process behind `pidfd` exits, wakes the sleepers on `word` until disarm().
  /// `word` must stay mapped until then. Returns 0 when it cannot arm (the caller's periodic
  /// liveness checks remain).
  [[nodiscard]] Handle arm(int pidfd, SharedAtomic<std::uint32_t> &word) noexcept {
    if (pidfd < 0)
      return 0;
    const std::lock_guard lock(mutex_);
    if (!ensure_thread())
      return 0;
    std::uint32_t index = 0;
    while (index < kSlots && slots_[index].word != nullptr)
      ++index;
    if (index == kSlots)
      return 0;
    Slot &slot = slots_[index];
    const Handle handle = (static_cast<Handle>(++slot.generation) << 32) | index;
    // One-shot: after the exit is reported once, the slot goes on the repeat list instead of
    // the readable pidfd spinning epoll_wait.
    epoll_event event{};
    event.events = EPOLLIN | EPOLLONESHOT;
    event.data.u64 = handle;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, pidfd, &event) != 0)
      return 0;
    slot.word = &word;
    slot.pidfd = pidfd;
    slot.fired = false;
    return handle;
  }

  void disarm(Handle handle) noexcept {
    if (handle == 0)
      return;
    const std::lock_guard lock(mutex_);
    Slot *slot = find(handle);
    if (slot == nullptr) // disarmed already, or forgotten across a fork
      return;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, slot->pidfd, nullptr);
    if (slot->fired)
      --fired_;
    slot->word = nullptr;
    slot->pidfd = -1;
    slot->fired = false;
  }

  DeathAlarm(const DeathAlarm &) = delete;
  DeathAlarm &operator=(const DeathAlarm &) = delete;

private:
  struct Slot {
    SharedAtomic<std::uint32_t> *word = nullptr; // nullptr: free
    int pidfd = -1;
    std::uint32_t generation = 0; // tells a stale epoll event from the slot's next use
    bool fired = false;           // the peer exited: wake again until disarmed
  };

  DeathAlarm() noexcept {
    // A child forked while the thread runs has no thread, and its epoll descriptor would be
    // the parent's (the same open file): the child starts afresh. Holding the mutex across
    // fork() keeps the table consistent in both.
    ::pthread_atfork([] { instance().mutex_.lock(); }, [] { instance().mutex_.unlock(); },
                     [] { instance().after_fork_in_child(); });
  }
  ~DeathAlarm() = default;

  void after_fork_in_child() noexcept {
    if (epoll_ >= 0)
      ::close(epoll_);
    epoll_ = -1;
    // ThreadSanitizer kills a process that starts a thread after a fork from a process with
    // threads: such a child (of tests, mostly) makes do with the periodic checks.
    if (thread_running_ && kThreadSanitizer)
      disabled_ = true;
    thread_running_ = false;
    fired_ = 0;
    for (Slot &slot : slots_) {
      const std::uint32_t next_generation = slot.generation + 1; // no parent handle matches
      slot = Slot{};
      slot.generation = next_generation;
    }
    mutex_.unlock();
  }

  Slot *find(Handle handle) noexcept {
    const auto index = static_cast<std::uint32_t>(handle & 0xffffffffu);
    if (index >= kSlots)
      return nullptr;
    Slot &slot = slots_[index];
    if (slot.word == nullptr || slot.generation != static_cast<std::uint32_t>(handle >> 32))
      return nullptr;
    return &slot;
  }

  /// Under the mutex.
  bool ensure_thread() noexcept {
    if (thread_running_)
      return true;
    if (disabled_)
      return false;
    if (epoll_ < 0)
      epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0)
      return false;
    try {
      std::thread([this] { run(); }).detach();
    } catch (...) { // no thread: the sleepers fall back to their periodic checks
      return false;
    }
    thread_running_ = true;
    return true;
  }

  [[noreturn]] void run() noexcept {
    int epoll = -1;
    {
      const std::lock_guard lock(mutex_);
      epoll = epoll_;
    }
    epoll_event events[16];
    for (;;) {
      int timeout_ms = -1;
      {
        const std::lock_guard lock(mutex_);
        timeout_ms = fired_ != 0 ? 1 : -1;
      }
      const int n = ::epoll_wait(epoll, events, 16, timeout_ms);
      const std::lock_guard lock(mutex_);
      for (int i = 0; i < n; ++i)
        if (Slot *slot = find(events[i].data.u64); slot != nullptr && !slot->fired) {
          slot->fired = true;
          ++fired_;
        }
      for (Slot &slot : slots_)
        if (slot.fired)
          futex_wake(*slot.word); // the slot is armed: its sleeper keeps `word` mapped
    }
  }

  std::mutex mutex_;
  int epoll_ = -1;
  bool thread_running_ = false;
  bool disabled_ = false;
  std::uint32_t fired_ = 0; // slots with fired set
  Slot slots_[kSlots];
};

} // namespace shmpipe::detail

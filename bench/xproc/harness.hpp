// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The cross-process benchmark harness: peers register their scenarios; the harness forks the
// follower process, pins both sides, times, repeats and summarizes.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

namespace bench {

// ---------------------------------------------------------------------------------------------
// What a run is asked to do, what it yields, and the scenarios a peer may implement.

/// The scenarios, by the names the report uses.
namespace scenario {
/// One message per call on both sides (64 B, 1 KiB).
inline constexpr const char *kSingle = "throughput_single";
/// The peer's batch form: `Load::batch` messages per call where the peer has one (64 B, 1 KiB).
inline constexpr const char *kBatched = "throughput_batched";
/// Large messages (64 KiB, 1 MiB) with at most `Load::in_flight` of them written and not yet
/// released, for every peer alike; each released as soon as it is read.
inline constexpr const char *kStreaming = "streaming";
/// 64 B round trips, both sides spinning.
inline constexpr const char *kRttSpin = "rtt_spin";
/// 64 B round trips, both sides blocking in the kernel.
inline constexpr const char *kRttSleep = "rtt_sleep";
/// 64 B round trips with shmpipe's default wait policy (spin, yield, then sleep).
inline constexpr const char *kRttDefault = "rtt_default";
/// One large message at a time, written, read and acknowledged.
inline constexpr const char *kTransfer = "transfer";
/// A consumer blocked on an empty channel.
inline constexpr const char *kIdleCpu = "idle_cpu";
} // namespace scenario

/// Buffer bytes every peer gets in the 64 B and 1 KiB throughput scenarios (ring capacity,
/// queue cells x cell size, pipe size, ...), so that none is faster for holding more.
inline constexpr std::size_t kSmallRingBytes = 256 * 1024;

/// What one run is asked to do. Fields a scenario does not use stay at their defaults.
struct Load {
  std::size_t size = 0;       ///< payload bytes per message
  std::uint64_t count = 0;    ///< messages (throughput, streaming) or round trips / transfers
  std::size_t ring_bytes = 0; ///< throughput: the buffer bytes the peer may use (see above)
  std::size_t batch = 1;      ///< throughput_batched: messages per batch call
  std::size_t in_flight = 0;  ///< streaming: messages written and not yet released, at most
  double seconds = 0;         ///< idle_cpu: how long the consumer waits
};

/// One run. Throughput runs fill `seconds` and `messages` (measured by the consumer); latency
/// runs fill `latencies_ns` (one sample per round trip or transfer); round trips also fill
/// `cpu_ns_per_op`; idle runs fill `cpu_percent`.
struct Sample {
  double seconds = 0;
  std::uint64_t messages = 0;
  std::vector<double> latencies_ns;
  double cpu_percent = -1;
  /// CPU time (user + system, every thread) of both processes over the round-trip loop,
  /// divided by its round trips (warm-up included in both).
  double cpu_ns_per_op = -1;
  /// shmpipe only: futex waits both processes entered, per round trip (warm-up included).
  double sleeps_per_op = -1;
};

/// Runs one scenario once, between two processes (usually with run_pair below), and returns
/// the measurement. Throws std::runtime_error when the peer fails (the harness reports the row
/// as failed with that reason). Every byte of every message is written by one process and read
/// by the other, and checked.
using RunFn = std::function<Sample(const Load &)>;

/// How a peer takes part in one scenario.
struct Scenario {
  RunFn run;                      ///< empty with `not_applicable` set
  std::vector<std::size_t> sizes; ///< sizes it runs at; empty: every size of the scenario
  std::string form;               ///< how it runs it (calls, buffer), shown in the report
  std::string not_applicable;     ///< why the peer has no such form: the row says n/a
};

struct Peer {
  std::string name;
  /// Why the peer cannot run here, or nothing. Asked before each of its rows runs.
  std::function<std::optional<std::string>()> unavailable = [] { return std::nullopt; };
  std::map<std::string, Scenario> scenarios;
  bool physical_limit = false; ///< a limit to compare against, not a transport a user would pick
  int order = 100;             ///< report order (lower first)
};

inline std::vector<Peer> &registry() {
  static std::vector<Peer> peers;
  return peers;
}

/// `static bench::Register reg{peer};` in a peer's file adds it to the suite.
struct Register {
  explicit Register(Peer peer) { registry().push_back(std::move(peer)); }
};

// ---------------------------------------------------------------------------------------------
// Time.

/// The TSC, converted to nanoseconds. Cheaper than clock_gettime (which matters next to a
/// 400 ns round trip) and, with constant_tsc, synchronized across cores.
class Tsc {
public:
  static Tsc &get() {
    static Tsc tsc;
    return tsc;
  }
  [[nodiscard]] static std::uint64_t ticks() noexcept {
    _mm_lfence();
    const std::uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
  }
  [[nodiscard]] double ns(std::uint64_t ticks) const noexcept {
    return static_cast<double>(ticks) * ns_per_tick_;
  }

private:
  Tsc() {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = ticks();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
    }
    const auto t1 = std::chrono::steady_clock::now();
    const std::uint64_t c1 = ticks();
    ns_per_tick_ =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) /
        static_cast<double>(c1 - c0);
  }
  double ns_per_tick_ = 1;
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// CPU time (user + system) of this process, in seconds.
inline double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/// CPU time (user + system, every thread) of this process, in nanoseconds. Exact, unlike
/// getrusage's tick-sampled split, and cheap enough to read around a loop.
inline std::uint64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
// SIGINT, SIGTERM and SIGHUP: nothing left behind.
//
// The signal may come while the leader waits inside a peer's loop (a spin bounded at 10 s or
// more, a blocking read), where no flag would be checked in time. So the handler does the
// cleanup itself, with async-signal-safe calls only (kill, waitpid, clock_gettime, nanosleep,
// unlink, _exit): it kills and reaps the registered children, stops a registered iox-roudi
// gently (SIGTERM, then SIGKILL after a bound), unlinks the registered paths (shared memory,
// sockets, temporary files, outputs not yet renamed into place) newest first, and exits with
// 128 + the signal. The registry is a fixed table of atomics, which the handler may read at
// any instant; the main flow registers a child between fork and unblocking the signals, and
// forgets it in the same blocked section that reaps it, so the handler never signals a pid
// that was reaped and may have been reused.
namespace interrupt {

inline constexpr std::size_t kChildren = 32;
inline constexpr std::size_t kPaths = 512; ///< plots stage one file per row and placement
inline constexpr std::size_t kPathBytes = 256;
/// How long a gentle child (iox-roudi) gets after SIGTERM before SIGKILL.
inline constexpr int kGentleSeconds = 5;

struct ChildSlot {
  std::atomic<pid_t> pid{0};
  std::atomic<bool> gentle{false};
};

struct PathSlot {
  static constexpr int kFree = 0, kFilling = 1, kArmed = 2;
  std::atomic<int> state{kFree};
  /// Removed only if this child did not exit cleanly (0: always). For the files an iox-roudi
  /// removes itself when it shuts down cleanly.
  std::atomic<pid_t> unless_clean_exit{0};
  std::array<char, kPathBytes> path{};
};

struct Registry {
  std::atomic<pid_t> leader{0}; ///< the process whose handler cleans up; 0 before install()
  std::array<ChildSlot, kChildren> children{};
  std::array<PathSlot, kPaths> paths{};
  std::atomic<std::uint64_t> path_serial{0};
  std::array<std::atomic<std::uint64_t>, kPaths> path_order{}; ///< newest is removed first
};

inline constinit Registry registry_{};

/// The signals this harness cleans up after.
inline sigset_t signals() noexcept {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGINT);
  ::sigaddset(&set, SIGTERM);
  ::sigaddset(&set, SIGHUP);
  return set;
}

/// Holds SIGINT, SIGTERM and SIGHUP back for a scope (they are delivered when it ends).
class Blocked {
public:
  Blocked() noexcept {
    const sigset_t set = signals();
    ::sigprocmask(SIG_BLOCK, &set, &saved_);
  }
  ~Blocked() { ::sigprocmask(SIG_SETMASK, &saved_, nullptr); }
  Blocked(const Blocked &) = delete;
  Blocked &operator=(const Blocked &) = delete;

private:
  sigset_t saved_{};
};

inline void sleep_ms(long ms) noexcept {
  timespec ts{.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1'000'000};
  ::nanosleep(&ts, nullptr);
}

inline long monotonic_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
}

/// True when `pid` (a gentle child, stopped here) exited with status 0.
inline bool stop_gently(pid_t pid) noexcept {
  ::kill(pid, SIGTERM);
  const long deadline = monotonic_ms() + kGentleSeconds * 1000L;
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid)
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (got < 0)
      return false;
    if (monotonic_ms() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return false;
    }
    sleep_ms(5);
  }
}

inline void on_signal(int sig) {
  Registry &r = registry_;
  // A forked child between fork() and resetting its handlers: it owns nothing of this.
  if (::getpid() != r.leader.load(std::memory_order_acquire))
    ::_exit(128 + sig);
  // Workers first, so no process is still attached when a gentle child (RouDi) shuts down.
  for (ChildSlot &c : r.children) {
    const pid_t pid = c.pid.load(std::memory_order_acquire);
    if (pid > 0 && !c.gentle.load(std::memory_order_acquire))
      ::kill(pid, SIGKILL);
  }
  for (ChildSlot &c : r.children) {
    const pid_t pid = c.pid.load(std::memory_order_acquire);
    if (pid > 0 && !c.gentle.load(std::memory_order_acquire))
      ::waitpid(pid, nullptr, 0);
  }
  std::array<pid_t, kChildren> unclean{};
  std::size_t n_unclean = 0;
  for (ChildSlot &c : r.children) {
    const pid_t pid = c.pid.load(std::memory_order_acquire);
    if (pid > 0 && c.gentle.load(std::memory_order_acquire) && !stop_gently(pid))
      unclean[n_unclean++] = pid;
  }
  // Newest path first: a file is removed before the directory that holds it.
  for (;;) {
    std::size_t newest = kPaths;
    std::uint64_t newest_order = 0;
    for (std::size_t i = 0; i < kPaths; ++i) {
      const std::uint64_t order = r.path_order[i].load(std::memory_order_relaxed);
      if (r.paths[i].state.load(std::memory_order_acquire) == PathSlot::kArmed &&
          order > newest_order) {
        newest = i;
        newest_order = order;
      }
    }
    if (newest == kPaths)
      break;
    PathSlot &p = r.paths[newest];
    const pid_t owner = p.unless_clean_exit.load(std::memory_order_relaxed);
    bool remove = owner == 0;
    for (std::size_t k = 0; k < n_unclean; ++k)
      remove = remove || unclean[k] == owner;
    if (remove && ::unlink(p.path.data()) != 0 && errno == EISDIR)
      ::rmdir(p.path.data());
    p.state.store(PathSlot::kFree, std::memory_order_release);
  }
  ::_exit(128 + sig);
}

/// Makes this process the one that cleans up on SIGINT, SIGTERM and SIGHUP (call once, early
/// in main). Every signal of the three is held back while the handler runs.
inline void install() {
  registry_.leader.store(::getpid(), std::memory_order_release);
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_mask = signals();
  for (const int sig : {SIGINT, SIGTERM, SIGHUP})
    if (::sigaction(sig, &action, nullptr) != 0)
      throw std::runtime_error("sigaction failed");
}

inline void watch(pid_t pid, bool gentle) {
  for (ChildSlot &c : registry_.children) {
    pid_t free = 0;
    if (c.pid.load(std::memory_order_relaxed) == 0) {
      c.gentle.store(gentle, std::memory_order_relaxed);
      if (c.pid.compare_exchange_strong(free, pid, std::memory_order_acq_rel))
        return;
    }
  }
  // Every slot taken: cannot happen with the harness's at most three children at a time.
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  throw std::runtime_error("too many child processes to watch");
}

inline void forget(pid_t pid) noexcept {
  for (ChildSlot &c : registry_.children) {
    pid_t expected = pid;
    if (c.pid.compare_exchange_strong(expected, 0, std::memory_order_acq_rel))
      return;
  }
}

/// fork() for the harness. The parent gets the child's pid, registered so that a signal stops
/// it (`gentle`: SIGTERM first, then SIGKILL after kGentleSeconds; otherwise SIGKILL). The
/// child gets 0, with the three signals unblocked at their default action (also when the caller
/// holds them back), and `death_signal` sent to it if the parent dies: an orphan never outlives
/// the harness. Throws if fork fails.
inline pid_t fork_child(bool gentle = false, int death_signal = SIGKILL) {
  const pid_t parent = ::getpid();
  const sigset_t set = signals();
  sigset_t saved;
  ::sigprocmask(SIG_BLOCK, &set, &saved);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    for (const int sig : {SIGINT, SIGTERM, SIGHUP})
      ::sigaction(sig, &action, nullptr);
    ::prctl(PR_SET_PDEATHSIG, death_signal);
    if (::getppid() != parent) // the parent died before prctl: nobody will send the signal
      ::_exit(128 + death_signal);
    // A signal held back since the fork kills this child now, by default.
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
    return 0;
  }
  try {
    if (pid < 0)
      throw std::runtime_error("fork failed");
    watch(pid, gentle);
  } catch (...) {
    ::sigprocmask(SIG_SETMASK, &saved, nullptr);
    throw;
  }
  ::sigprocmask(SIG_SETMASK, &saved, nullptr);
  return pid;
}

/// waitpid for a child from fork_child (`block`: wait, else WNOHANG); forgets it once reaped.
/// True when it was reaped (its status in `status`).
/// The signals are held back only around each WNOHANG poll, never through a wait.
inline bool reap(pid_t pid, int &status, bool block) noexcept {
  for (;;) {
    {
      const Blocked blocked;
      const pid_t got = ::waitpid(pid, &status, WNOHANG);
      if (got == pid || (got < 0 && errno == ECHILD)) {
        forget(pid);
        return true;
      }
    }
    if (!block)
      return false;
    sleep_ms(1);
  }
}

/// Registers `path` to be unlinked (or, a directory, removed) if a signal ends the harness,
/// until this object is destroyed; removing it in the normal course stays its owner's job.
/// `unless_clean_exit`: only if that gentle child did not exit cleanly.
class Unlink {
public:
  explicit Unlink(const std::string &path, pid_t unless_clean_exit = 0) {
    if (path.size() >= kPathBytes)
      throw std::runtime_error("path too long to clean up on a signal: " + path);
    for (std::size_t i = 0; i < kPaths; ++i) {
      PathSlot &p = registry_.paths[i];
      int expected = PathSlot::kFree;
      if (!p.state.compare_exchange_strong(expected, PathSlot::kFilling, std::memory_order_acquire))
        continue;
      std::memcpy(p.path.data(), path.c_str(), path.size() + 1);
      p.unless_clean_exit.store(unless_clean_exit, std::memory_order_relaxed);
      registry_.path_order[i].store(registry_.path_serial.fetch_add(1, std::memory_order_relaxed) +
                                        1,
                                    std::memory_order_relaxed);
      p.state.store(PathSlot::kArmed, std::memory_order_release);
      slot_ = i;
      return;
    }
    throw std::runtime_error("too many paths to clean up on a signal");
  }
  ~Unlink() { registry_.paths[slot_].state.store(PathSlot::kFree, std::memory_order_release); }
  Unlink(const Unlink &) = delete;
  Unlink &operator=(const Unlink &) = delete;

private:
  std::size_t slot_ = kPaths;
};

} // namespace interrupt

// ---------------------------------------------------------------------------------------------
// Processes.

/// Pins the calling process to one CPU (if there is more than one); false if it cannot.
inline bool pin_to_cpu(int cpu) {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 2)
    return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu % cpus), &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

/// Undoes pin_to_cpu for the leader after a run.
inline void unpin() {
  cpu_set_t set;
  CPU_ZERO(&set);
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  for (long i = 0; i < cpus; ++i)
    CPU_SET(static_cast<unsigned>(i), &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

/// Owns a file descriptor (sockets, pipes).
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd &operator=(Fd &&other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

/// Memory shared between the leader and its forked follower, created before the fork: for
/// start barriers and for results the follower measures. Placement-new a struct of atomics.
class SharedScratch {
public:
  explicit SharedScratch(std::size_t bytes = 1 << 16) : bytes_(bytes) {
    base_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED)
      throw std::runtime_error("mmap of shared scratch failed");
  }
  ~SharedScratch() { ::munmap(base_, bytes_); }
  SharedScratch(const SharedScratch &) = delete;
  SharedScratch &operator=(const SharedScratch &) = delete;
  template <class T> T *as() {
    static_assert(sizeof(T) <= 1 << 16);
    return static_cast<T *>(base_);
  }
  [[nodiscard]] void *data() const noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_; }

private:
  void *base_;
  std::size_t bytes_;
};

/// What a forked follower reports about itself to the leader: a page mapped before the first
/// fork (run_pair maps it), so every follower writes into the leader's copy.
struct FollowerReport {
  /// CPU time the follower spent in its measured loop (report_follower_cpu).
  std::atomic<std::uint64_t> cpu_ns{0};
};

inline FollowerReport &follower_report() {
  static SharedScratch page(4096);
  static FollowerReport *report = new (page.data()) FollowerReport{};
  return *report;
}

/// Called by a follower after its loop: the CPU time it spent there.
inline void report_follower_cpu(std::uint64_t ns) {
  follower_report().cpu_ns.store(ns, std::memory_order_release);
}

/// The follower's report_follower_cpu() of the last run_pair, once that returned.
inline std::uint64_t follower_cpu_ns() {
  return follower_report().cpu_ns.load(std::memory_order_acquire);
}

/// Runs `follower` in a forked child pinned to CPU 1 and `leader` in this process pinned to
/// CPU 0 (`pin` false: both unpinned, for blocking transports where the scheduler may do
/// better). The follower's return value is its exit code (0 = fine). Throws if the follower
/// fails or is still running 120 s after the leader finished; the follower is killed then.
/// The follower is killed too when the leader dies, or when a signal ends it (interrupt::).
template <class Leader, class Follower>
auto run_pair(Leader &&leader, Follower &&follower, bool pin = true) -> decltype(leader()) {
  follower_report().cpu_ns.store(0, std::memory_order_relaxed); // maps the page before the fork
  const pid_t pid = interrupt::fork_child();
  if (pid == 0) {
    if (pin)
      pin_to_cpu(1);
    int code = 90;
    try {
      code = follower();
    } catch (const std::exception &e) {
      std::fprintf(stderr, "follower: %s\n", e.what());
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  if (pin)
    pin_to_cpu(0);
  auto reap = [&](bool kill_first) {
    if (kill_first)
      ::kill(pid, SIGKILL);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!interrupt::reap(pid, status, false)) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        interrupt::reap(pid, status, true);
        break;
      }
      ::usleep(200);
    }
    unpin();
    return status;
  };
  try {
    auto result = leader();
    const int status = reap(false);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("follower process failed (status " + std::to_string(status) + ")");
    return result;
  } catch (...) {
    reap(true);
    throw;
  }
}

/// Busy-waits until `flag` reaches `value` (a start barrier between the two processes), or
/// throws after `limit`.
inline void spin_until(const std::atomic<std::uint32_t> &flag, std::uint32_t value,
                       std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (flag.load(std::memory_order_acquire) < value) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the other process did not reach the barrier");
    _mm_pause();
  }
}

// ---------------------------------------------------------------------------------------------
// The placement canary.

/// One cache line bounced between two processes pinned as run_pair pins them (CPU 0 and 1):
/// the leader stores 2k+1, the follower answers 2k+2, both spinning on the line. Returns the
/// median of `round_trips` round trips (after 1000 untimed ones), each timed with the TSC as
/// the round-trip scenarios time theirs. On this kind of VM the value shows where the host put
/// the two vCPUs (the same core or not), which moves every figure 3-10x; the harness measures
/// it around every run and compares runs only within one placement.
inline double canary_round_trip_ns(std::uint64_t round_trips) {
  struct alignas(64) Line {
    std::atomic<std::uint64_t> value{0};
  };
  SharedScratch scratch(4096);
  auto *line = new (scratch.data()) Line{};
  constexpr std::uint64_t kWarmup = 1000;
  const std::uint64_t total = kWarmup + round_trips;
  const Tsc &tsc = Tsc::get(); // calibrated before the fork
  // Either side gives up after 10 s without an answer (the clock is read every 4096 spins).
  auto wait_for = [&](std::uint64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::uint32_t spins = 0;
    while (line->value.load(std::memory_order_acquire) != want) {
      _mm_pause();
      if (++spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline)
        return false;
    }
    return true;
  };
  std::vector<double> samples = run_pair(
      [&] {
        std::vector<double> out;
        out.reserve(round_trips);
        for (std::uint64_t k = 0; k < total; ++k) {
          const std::uint64_t t0 = Tsc::ticks();
          line->value.store(2 * k + 1, std::memory_order_release);
          if (!wait_for(2 * k + 2))
            throw std::runtime_error("canary: the other process did not answer");
          const std::uint64_t t1 = Tsc::ticks();
          if (k >= kWarmup)
            out.push_back(tsc.ns(t1 - t0));
        }
        return out;
      },
      [&] {
        for (std::uint64_t k = 0; k < total; ++k) {
          if (!wait_for(2 * k + 1))
            return 1;
          line->value.store(2 * k + 2, std::memory_order_release);
        }
        return 0;
      });
  if (samples.empty())
    throw std::runtime_error("canary: no round trips");
  const auto mid = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), mid, samples.end());
  return *mid;
}

/// Spins until fewer than `limit` messages are written and not yet released: `released` is
/// the consumer's count of released messages, `next` the producer's next message. The
/// streaming scenario's one rule for every peer. Throws after 10 s without progress.
inline void wait_for_credit(const std::atomic<std::uint64_t> &released, std::uint64_t next,
                            std::uint64_t limit) {
  if (next - released.load(std::memory_order_acquire) < limit) [[likely]]
    return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint32_t spins = 0;
  while (next - released.load(std::memory_order_acquire) >= limit) {
    _mm_pause();
    if (++spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the consumer released nothing for 10 s");
  }
}

// ---------------------------------------------------------------------------------------------
// Payloads: every byte written and every byte read, cheaply, in every transport the same way.

/// Writes message `seq` into `out` (every byte; 8 bytes at a time where it can).
inline void fill_payload(std::byte *out, std::size_t size, std::uint64_t seq) noexcept {
  const std::uint64_t word = seq * 0x9e3779b97f4a7c15ULL;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8)
    std::memcpy(out + i, &word, 8);
  for (; i < size; ++i)
    out[i] = static_cast<std::byte>(word >> (8 * (i & 7)));
}

/// Reads every byte of a payload; returns a value that depends on all of them.
[[nodiscard]] inline std::uint64_t touch_payload(const std::byte *in, std::size_t size) noexcept {
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, in + i, 8);
    sum += word;
  }
  for (; i < size; ++i)
    sum += static_cast<std::uint64_t>(in[i]);
  return sum;
}

/// What touch_payload returns for message `seq` of `size` bytes, to check transports end to end.
[[nodiscard]] inline std::uint64_t expected_touch(std::size_t size, std::uint64_t seq) noexcept {
  const std::uint64_t word = seq * 0x9e3779b97f4a7c15ULL;
  std::uint64_t sum = (size / 8) * word;
  for (std::size_t i = size & ~std::size_t{7}; i < size; ++i)
    sum += (word >> (8 * (i & 7))) & 0xff;
  return sum;
}

/// The sum of expected_touch over messages 0..count-1 (a stream checksum).
[[nodiscard]] inline std::uint64_t expected_stream(std::size_t size, std::uint64_t count) {
  std::uint64_t sum = 0;
  for (std::uint64_t s = 0; s < count; ++s)
    sum += expected_touch(size, s);
  return sum;
}

/// Throws unless `got == want`: a transport that loses or corrupts data has no throughput.
inline void check_sum(std::uint64_t got, std::uint64_t want, const char *what) {
  if (got != want)
    throw std::runtime_error(std::string(what) + ": checksum mismatch (data lost or corrupted)");
}

/// A name for a shared-memory object, a socket or a queue, unique to this run.
inline std::string unique_name(const std::string &peer) {
  static std::atomic<unsigned> counter{0};
  return "shmpipe-bench-" + std::to_string(::getpid()) + "-" + peer + "-" +
         std::to_string(counter.fetch_add(1));
}

/// The file behind a POSIX shared-memory object (or a Boost.Interprocess queue) named `name`,
/// for interrupt::Unlink.
inline std::string shm_path(const std::string &name) { return "/dev/shm/" + name; }

} // namespace bench

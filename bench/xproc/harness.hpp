// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The cross-process benchmark harness: peers register their scenarios; the harness forks the
// follower process, pins both sides, times, repeats and summarizes.
#pragma once

#include <algorithm>
#include <atomic>
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
template <class Leader, class Follower>
auto run_pair(Leader &&leader, Follower &&follower, bool pin = true) -> decltype(leader()) {
  follower_report().cpu_ns.store(0, std::memory_order_relaxed); // maps the page before the fork
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
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
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
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

} // namespace bench

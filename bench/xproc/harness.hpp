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
#include <unistd.h>
#include <x86intrin.h>

namespace bench {

// ---------------------------------------------------------------------------------------------
// What one run of a scenario yields, and what the harness reports.

/// One run. Throughput runs fill `seconds` and `messages`; latency runs fill `latencies_ns`
/// (one sample per round trip or transfer); idle runs fill `cpu_percent`.
struct Sample {
  double seconds = 0;
  std::uint64_t messages = 0;
  std::vector<double> latencies_ns;
  double cpu_percent = -1;
};

/// A row of the report (and of the JSON file). Fields that do not apply stay empty (null).
struct Result {
  std::string transport;
  std::string scenario;
  std::uint64_t size_bytes = 0;
  std::optional<double> msgs_per_s, bytes_per_s, p50_ns, p99_ns, p999_ns, max_ns, cpu_percent;
  int runs = 0;
  std::optional<std::string> skipped;
};

// ---------------------------------------------------------------------------------------------
// The scenarios a peer may implement. Every function runs both processes itself (usually with
// run_pair below) and returns the leader's measurement. They throw std::runtime_error when the
// peer fails (the harness reports the row as skipped with that reason).

/// Stream `count` messages of `size` bytes; the producer writes every byte of each message, the
/// consumer reads every byte. Sample: seconds and messages, measured by the consumer.
using ThroughputFn = std::function<Sample(std::size_t size, std::uint64_t count)>;
/// `count` round trips of `size` bytes. Sample: latencies_ns, one per round trip.
using RttFn = std::function<Sample(std::size_t size, std::uint64_t count)>;
/// `count` times: one message of `size` bytes written (every byte) by one process and read
/// (every byte) by the other, then acknowledged. Sample: latencies_ns from the start of the
/// write to the end of the read.
using TransferFn = std::function<Sample(std::size_t size, std::uint64_t count)>;
/// A consumer blocked on an empty channel for `seconds`. Sample: its cpu_percent.
using IdleFn = std::function<Sample(double seconds)>;

struct Peer {
  std::string name;
  /// Why the peer cannot run here, or nothing. Checked once before its scenarios run.
  std::function<std::optional<std::string>()> unavailable = [] { return std::nullopt; };
  ThroughputFn throughput;
  std::vector<std::size_t> throughput_sizes; ///< empty: all sizes
  RttFn rtt_spin;
  RttFn rtt_blocking;
  TransferFn transfer;
  IdleFn idle_cpu;
  bool physical_limit = false; ///< a limit to compare against, not a transport a user would pick
  int order = 100;             ///< report order (lower first)
};

inline std::vector<Peer> &registry() {
  static std::vector<Peer> peers;
  return peers;
}

/// `static bench::Register reg{Peer{...}};` in a peer's file adds it to the suite.
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

/// Runs `follower` in a forked child pinned to CPU 1 and `leader` in this process pinned to
/// CPU 0 (`pin` false: both unpinned, for blocking transports where the scheduler may do
/// better). The follower's return value is its exit code (0 = fine). Throws if the follower
/// fails or is still running 120 s after the leader finished; the follower is killed then.
template <class Leader, class Follower>
auto run_pair(Leader &&leader, Follower &&follower, bool pin = true) -> decltype(leader()) {
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

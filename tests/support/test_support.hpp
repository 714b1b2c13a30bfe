// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Test helpers: unique segment names, child processes with a time limit, payload patterns.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <thread>

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace shmpipe::test {

/// A name no other test or parallel run uses: pid, a counter and the test's name.
inline std::string unique_name(const char *tag = "") {
  static std::atomic<unsigned> counter{0};
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "shmpipe-test-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter.fetch_add(1, std::memory_order_relaxed)) + "-" +
                     (info != nullptr ? info->name() : "none") + tag;
  for (char &c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      c = '_';
  return name.substr(0, 200);
}

/// A forked child running `body`; its return value is the exit code. Killed if it is still
/// running when the handle is destroyed, so a failing test never leaves a process behind.
class Child {
public:
  explicit Child(const std::function<int()> &body) {
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      int code = 99;
      try {
        code = body();
      } catch (const std::exception &e) {
        std::fprintf(stderr, "child: exception: %s\n", e.what());
        code = 98;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Exit code, or -signal if killed; -1000 if it is still running at the deadline (then it
  /// is killed).
  int wait(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        if (WIFEXITED(status))
          return WEXITSTATUS(status);
        return -WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        reaped_ = true;
        return -1000;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void kill_now() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

/// splitmix64: the sizes and contents of test records are a function of their sequence number,
/// so both sides can compute them independently.
inline std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A size in [0, max] for record `seq`: log-uniform, so that small records dominate (as in
/// real traffic) while 0 and max itself still come up regularly.
inline std::size_t record_size_for(std::uint64_t seq, std::size_t max) noexcept {
  const std::uint64_t r = mix(seq * 2 + 1);
  switch (r % 64) {
  case 0:
    return 0;
  case 1:
    return max;
  default:
    break;
  }
  unsigned bits = 0;
  while ((std::size_t{1} << bits) < max)
    ++bits;
  const unsigned shift = static_cast<unsigned>((r >> 8) % (bits + 1));
  const std::uint64_t limit = std::min<std::uint64_t>(max, std::uint64_t{1} << shift);
  return static_cast<std::size_t>((r >> 16) % (limit + 1));
}

/// Fills `out` with the pattern of record `seq`.
inline void fill_pattern(std::span<std::byte> out, std::uint64_t seq) noexcept {
  std::uint64_t word = mix(seq);
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8, word += 0x9e3779b97f4a7c15ULL)
    std::memcpy(out.data() + i, &word, 8);
  for (; i < out.size(); ++i)
    out[i] = static_cast<std::byte>(word >> (8 * (i & 7)));
}

/// Whether `in` holds exactly the pattern of record `seq`.
inline bool check_pattern(std::span<const std::byte> in, std::uint64_t seq) noexcept {
  std::uint64_t word = mix(seq);
  std::size_t i = 0;
  for (; i + 8 <= in.size(); i += 8, word += 0x9e3779b97f4a7c15ULL) {
    std::uint64_t got;
    std::memcpy(&got, in.data() + i, 8);
    if (got != word)
      return false;
  }
  for (; i < in.size(); ++i)
    if (in[i] != static_cast<std::byte>(word >> (8 * (i & 7))))
      return false;
  return true;
}

/// A number of records from the environment (for slower sanitizer builds), or `fallback`.
inline std::uint64_t records_from_env(const char *var, std::uint64_t fallback) {
  const char *value = std::getenv(var);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

} // namespace shmpipe::test

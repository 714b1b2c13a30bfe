// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Wait policies: busy spin, spin-then-yield, blocking; deadlines for every blocking call.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace shmpipe {

using Clock = std::chrono::steady_clock;
/// Every blocking call takes one; it returns Status::timeout once the deadline has passed.
using Deadline = Clock::time_point;

/// A deadline `d` from now.
[[nodiscard]] inline Deadline deadline_after(Clock::duration d) noexcept {
  return Clock::now() + d;
}

/// How long a blocking call may wait: an absolute Deadline, or a timeout (any duration), which
/// starts when the call finds it has to wait. A timeout costs no clock read when the call
/// succeeds at once (a clock read is ~30 ns here: a tenth of a round trip).
class WaitLimit {
public:
  WaitLimit(Deadline deadline) noexcept : deadline_(deadline) {} // NOLINT: implicit on purpose
  /// Saturating: a timeout too large for the clock (hours::max(), say) waits "forever" (until
  /// the peer dies), a negative one not at all; neither overflows.
  template <class Rep, class Period>
  WaitLimit(std::chrono::duration<Rep, Period> timeout) noexcept // NOLINT: implicit on purpose
      : relative_(true) {
    using Wide = std::chrono::duration<long double, std::nano>;
    const Wide wide(timeout);
    if (wide.count() <= 0)
      timeout_ = Clock::duration::zero();
    else if (wide >= Wide(Clock::duration::max()))
      timeout_ = Clock::duration::max();
    else
      timeout_ = std::chrono::duration_cast<Clock::duration>(timeout);
  }

  /// The deadline, for a wait that starts at `now`; Deadline::max() if it would overflow.
  [[nodiscard]] Deadline resolve(Clock::time_point now) const noexcept {
    if (!relative_)
      return deadline_;
    return timeout_ > Deadline::max() - now ? Deadline::max() : now + timeout_;
  }

private:
  Deadline deadline_{};
  Clock::duration timeout_{};
  bool relative_ = false;
};

enum class WaitMode : std::uint8_t {
  busy_spin,       ///< spin until ready or deadline: lowest latency, burns a core
  spin_then_yield, ///< spin for spin_for, then sched_yield() in a loop: for oversubscribed cores
  blocking,        ///< spin, yield, then sleep on a futex: 0% CPU when idle
};

/// How a blocking call waits. The defaults suit a request/response peer that answers within
/// tens of microseconds (answered while still spinning, ~1 us) and still let an idle endpoint
/// fall asleep within a millisecond.
struct WaitPolicy {
  WaitMode mode = WaitMode::blocking;
  std::chrono::nanoseconds spin_for = std::chrono::microseconds(50);
  std::chrono::nanoseconds yield_for = std::chrono::microseconds(200); ///< after spin_for
  /// How often a waiting side checks that the peer process still lives (and once more at the
  /// deadline, and after every sleep). A sleeping side is woken the moment the peer exits
  /// (detail/death_alarm.hpp); this interval is the fallback where that cannot work (no pidfd,
  /// kernel < 5.3) and bounds how long a spinning side takes to notice. Each timed wake costs
  /// ~60 us of CPU on the development VM: 500 ms keeps an idle endpoint near 0.01%. Values
  /// below 1 ms (0, negative) count as 1 ms; milliseconds::max() means "only at the deadline
  /// and when woken".
  std::chrono::milliseconds liveness_interval = std::chrono::milliseconds(500);
};

namespace detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// The phases of one wait: spin, yield, then (blocking mode) sleep; plus deadline and liveness
/// bookkeeping. The caller retries its try-call after every step.
class Backoff {
public:
  enum class Step : std::uint8_t {
    retry,   ///< spun or yielded a little: try again
    sleep,   ///< time to sleep until sleep_until()
    timeout, ///< the deadline has passed
  };

  Backoff(const WaitPolicy &policy, WaitLimit limit) noexcept
      : mode_(policy.mode), spin_for_(clamp(policy.spin_for, Clock::duration::zero())),
        spin_and_yield_(spin_for_ + std::min(clamp(policy.yield_for, Clock::duration::zero()),
                                             Clock::duration::max() - spin_for_)),
        liveness_interval_(clamp(policy.liveness_interval, kMinLivenessInterval)), limit_(limit),
        // A policy without spinning yields or sleeps at its first step: it does not even spin
        // the 31 rounds between clock readings.
        phase_(mode_ != WaitMode::busy_spin && spin_for_ == Clock::duration::zero() ? Phase::yield
                                                                                    : Phase::spin) {
  }

  /// The shortest liveness interval: a shorter one (0, negative) would turn every sleep into a
  /// spin.
  static constexpr Clock::duration kMinLivenessInterval = std::chrono::milliseconds(1);

  [[nodiscard]] Step next() noexcept {
    // Reading the clock costs ~20-50 ns; while spinning, look at it only every 32 rounds. The
    // wait's clock starts with the first reading, not at construction: a wait that ends
    // within 32 rounds (most do, when messages come one by one) reads no clock at all, and a
    // timeout starts a few microseconds late.
    ++rounds_;
    if (phase_ == Phase::spin && (rounds_ & 31u) != 0) {
      cpu_relax();
      return Step::retry;
    }
    now_ = Clock::now();
    if (!started_) {
      started_ = true;
      start_ = now_;
      deadline_ = limit_.resolve(now_);
      last_liveness_ = now_;
    }
    if (now_ >= deadline_)
      return Step::timeout;
    const auto waited = now_ - start_;
    if (mode_ == WaitMode::busy_spin || waited < spin_for_) {
      cpu_relax();
      return Step::retry;
    }
    if (mode_ == WaitMode::spin_then_yield || waited < spin_and_yield_) {
      phase_ = Phase::yield;
      ::sched_yield();
      return Step::retry;
    }
    phase_ = Phase::sleep;
    slept_ = true;
    return Step::sleep;
  }

  /// End of the next sleep: the deadline or the next liveness check, whichever is first.
  [[nodiscard]] Deadline sleep_until() const noexcept {
    // Saturating: now_ < deadline_ here (next() said sleep), and an interval longer than what
    // is left ends the sleep at the deadline instead of overflowing past it.
    return liveness_interval_ < deadline_ - now_ ? now_ + liveness_interval_ : deadline_;
  }

  /// True after a sleep (it may have been the death alarm that ended it) and at most once per
  /// liveness interval otherwise (judged by the clock reading of the last step, so it costs
  /// nothing while spinning): time to ask whether the peer process still runs.
  [[nodiscard]] bool liveness_due() noexcept {
    const bool after_sleep = std::exchange(slept_, false);
    if (!after_sleep && now_ - last_liveness_ < liveness_interval_)
      return false;
    last_liveness_ = now_;
    return true;
  }

private:
  enum class Phase : std::uint8_t { spin, yield, sleep };

  /// `d` as a Clock::duration, at least `low`, saturating at Clock::duration::max() (a
  /// milliseconds::max() in nanoseconds would overflow to a negative value).
  template <class Rep, class Period>
  static Clock::duration clamp(std::chrono::duration<Rep, Period> d, Clock::duration low) noexcept {
    using Wide = std::chrono::duration<long double, std::nano>;
    const Wide wide(d);
    if (wide <= Wide(low))
      return low;
    if (wide >= Wide(Clock::duration::max()))
      return Clock::duration::max();
    return std::chrono::duration_cast<Clock::duration>(d);
  }

  WaitMode mode_;
  Clock::duration spin_for_;
  Clock::duration spin_and_yield_; // spin_for + yield_for, saturating
  Clock::duration liveness_interval_;
  WaitLimit limit_;
  Clock::time_point start_{}; // these four are set by the first clock reading in next()
  Deadline deadline_{};
  Clock::time_point now_{};
  Clock::time_point last_liveness_{};
  bool started_ = false;
  std::uint32_t rounds_ = 0;
  Phase phase_;
  bool slept_ = false; // the last step was a sleep: look at the peer before the next one
};

} // namespace detail
} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of wait.hpp through the ring's blocking calls: deadlines in every mode, futex sleep and
// wake, and no system call when the peer is awake.
#include <shmpipe/ring.hpp>

#include <thread>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

class WaitTest : public ::testing::TestWithParam<WaitMode> {
protected:
  WaitTest()
      : guard_(test::unique_name()),
        segment_(Segment::create(guard_.name(), {.ring_capacity = 256})) {}
  ScopedRemove guard_;
  Segment segment_;
};

// Correctness, not speed: the call returns timeout, not before its deadline, and does return
// (the upper bound only catches a hang).
TEST_P(WaitTest, PeekOnEmptyRingTimesOut) {
  RingReader reader(segment_);
  const WaitPolicy policy{.mode = GetParam()};
  const auto start = Clock::now();
  ReadSlot rec = reader.peek(start + 30ms, policy);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(rec.status(), Status::timeout);
  EXPECT_GE(elapsed, 30ms);
  EXPECT_LT(elapsed, 10s);
  EXPECT_EQ(reader.peek_batch(deadline_after(10ms), policy).status(), Status::timeout);
  // A timeout instead of a deadline counts from when the call starts waiting.
  const auto again = Clock::now();
  EXPECT_EQ(reader.peek(30ms, policy).status(), Status::timeout);
  EXPECT_GE(Clock::now() - again, 30ms);
}

TEST_P(WaitTest, ReserveOnFullRingTimesOut) {
  RingWriter writer(segment_);
  RingReader reader(segment_); // attached and alive, just not reading
  const WaitPolicy policy{.mode = GetParam()};
  while (writer.try_reserve(100))
    writer.commit(writer.try_reserve(100));
  const auto start = Clock::now();
  WriteSlot slot = writer.reserve(100, start + 30ms, policy);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(slot.status(), Status::timeout);
  EXPECT_GE(elapsed, 30ms);
  EXPECT_LT(elapsed, 10s);
}

TEST_P(WaitTest, DeadlineInThePastStillTriesOnce) {
  RingWriter writer(segment_);
  RingReader reader(segment_);
  const WaitPolicy policy{.mode = GetParam()};
  const Deadline past = Clock::now() - 1s;
  WriteSlot slot = writer.reserve(8, past, policy);
  ASSERT_TRUE(slot) << "space is there: no waiting needed";
  EXPECT_EQ(reader.peek(past, policy).status(), Status::timeout);
  writer.commit(std::move(slot));
  EXPECT_TRUE(reader.peek(past, policy));
}

INSTANTIATE_TEST_SUITE_P(AllModes, WaitTest,
                         ::testing::Values(WaitMode::busy_spin, WaitMode::spin_then_yield,
                                           WaitMode::blocking));

class WaitBlockingTest : public WaitTest {};

TEST_F(WaitBlockingTest, SleepingConsumerIsWokenByPublish) {
  RingWriter writer(segment_);
  std::atomic<int> got{-1};
  std::thread consumer([&] {
    RingReader reader(segment_);
    ReadSlot rec = reader.peek(deadline_after(20s), {.mode = WaitMode::blocking});
    got = rec ? static_cast<int>(rec.bytes().size()) : -static_cast<int>(rec.status());
  });
  // Wait until the consumer is really asleep on the futex (its statistics say so).
  const auto give_up = Clock::now() + 20s;
  while (writer.stats().consumer.sleeps == 0 && Clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  ASSERT_GE(writer.stats().consumer.sleeps, 1u);
  WriteSlot slot = writer.try_reserve(42);
  ASSERT_TRUE(slot);
  writer.commit(std::move(slot));
  consumer.join();
  EXPECT_EQ(got, 42);
  EXPECT_GE(writer.stats().producer.wakeups, 1u);
}

TEST_F(WaitBlockingTest, SleepingProducerIsWokenByRelease) {
  RingReader reader(segment_);
  RingWriter writer(segment_);
  while (WriteSlot slot = writer.try_reserve(100))
    writer.commit(std::move(slot));
  std::atomic<bool> reserved{false};
  std::thread producer([&] {
    WriteSlot slot = writer.reserve(100, deadline_after(20s), {.mode = WaitMode::blocking});
    reserved = static_cast<bool>(slot);
  });
  const auto give_up = Clock::now() + 20s;
  while (reader.stats().producer.sleeps == 0 && Clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  ASSERT_GE(reader.stats().producer.sleeps, 1u);
  reader.release(reader.try_peek());
  producer.join();
  EXPECT_TRUE(reserved);
  EXPECT_GE(reader.stats().consumer.wakeups, 1u);
}

TEST_F(WaitBlockingTest, CloseWakesASleepingConsumer) {
  std::optional<RingWriter> writer(std::in_place, segment_);
  std::atomic<int> status{-1};
  std::thread consumer([&] {
    RingReader reader(segment_);
    status = static_cast<int>(reader.peek(deadline_after(20s)).status());
  });
  const auto give_up = Clock::now() + 20s;
  while (writer->stats().consumer.sleeps == 0 && Clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  writer.reset();
  consumer.join();
  EXPECT_EQ(status, static_cast<int>(Status::closed));
}

TEST_F(WaitBlockingTest, PublishToAnAwakeConsumerMakesNoSystemCall) {
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    RingReader reader(segment_);
    for (int i = 0; i < 10000; ++i) {
      ReadSlot rec = reader.peek(deadline_after(20s), {.mode = WaitMode::busy_spin});
      if (!rec)
        break;
      reader.release(std::move(rec));
    }
    done = true;
  });
  {
    RingWriter writer(segment_);
    for (int i = 0; i < 10000; ++i) {
      WriteSlot slot = writer.reserve(8, deadline_after(20s), {.mode = WaitMode::busy_spin});
      ASSERT_TRUE(slot);
      writer.commit(std::move(slot));
    }
    consumer.join();
    EXPECT_TRUE(done);
    const RingStats stats = writer.stats();
    EXPECT_EQ(stats.consumer.records, 10000u);
    EXPECT_EQ(stats.producer.wakeups, 0u);
    EXPECT_EQ(stats.consumer.wakeups, 0u);
  }
}

TEST(WaitLimitTest, TimeoutsSaturateInsteadOfOverflowing) {
  const Clock::time_point now = Clock::now();
  EXPECT_EQ(WaitLimit(std::chrono::hours::max()).resolve(now), Deadline::max());
  EXPECT_EQ(WaitLimit(Clock::duration::max()).resolve(now), Deadline::max());
  EXPECT_EQ(WaitLimit(std::chrono::seconds(-5)).resolve(now), now);
  EXPECT_EQ(WaitLimit(std::chrono::milliseconds(7)).resolve(now), now + 7ms);
  EXPECT_EQ(WaitLimit(now + 3s).resolve(now + 1s), now + 3s) << "a deadline stays absolute";
}

TEST(WaitLimitTest, ForeverStillReturnsWhenThePeerIsGone) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 256});
  std::optional<RingWriter> writer(std::in_place, segment);
  RingReader reader(segment);
  writer.reset(); // closed: a wait without a time limit must still end
  EXPECT_EQ(reader.peek(std::chrono::hours::max()).status(), Status::closed);
}

TEST(BackoffTest, BusySpinNeverAsksToSleep) {
  detail::Backoff backoff({.mode = WaitMode::busy_spin, .spin_for = 0ns}, deadline_after(20ms));
  int steps = 0;
  for (;;) {
    const auto step = backoff.next();
    ASSERT_NE(step, detail::Backoff::Step::sleep);
    if (step == detail::Backoff::Step::timeout)
      break;
    ++steps;
  }
  EXPECT_GT(steps, 0);
}

TEST(BackoffTest, BlockingSleepsAfterSpinAndYield) {
  detail::Backoff backoff({.mode = WaitMode::blocking, .spin_for = 100us, .yield_for = 100us},
                          deadline_after(10s));
  while (backoff.next() == detail::Backoff::Step::retry) {
  }
  EXPECT_LE(backoff.sleep_until(), deadline_after(10s));
}

// milliseconds::max() overflowed in `now + liveness_interval` (nanoseconds) and put the end
// of every sleep in the past: a blocking wait became a 100% CPU spin. Negative and zero
// intervals did the same.
TEST(BackoffTest, NoLivenessIntervalMakesASleepEndBeforeItStarts) {
  for (const std::chrono::milliseconds interval :
       {std::chrono::milliseconds::max(), std::chrono::milliseconds::min(), -5ms, 0ms}) {
    const Deadline deadline = deadline_after(10s);
    detail::Backoff backoff({.mode = WaitMode::blocking,
                             .spin_for = 0ns,
                             .yield_for = 0ns,
                             .liveness_interval = interval},
                            deadline);
    while (backoff.next() == detail::Backoff::Step::retry) {
    }
    const Clock::time_point now = Clock::now();
    EXPECT_GT(backoff.sleep_until(), now) << interval.count() << " ms";
    EXPECT_LE(backoff.sleep_until(), deadline) << interval.count() << " ms";
  }
}

TEST(BackoffTest, HugeSpinAndYieldTimesSaturate) {
  detail::Backoff backoff({.mode = WaitMode::blocking,
                           .spin_for = std::chrono::nanoseconds::max(),
                           .yield_for = std::chrono::nanoseconds::max()},
                          deadline_after(5ms));
  int steps = 0;
  for (auto step = backoff.next(); step != detail::Backoff::Step::timeout; step = backoff.next()) {
    ASSERT_EQ(step, detail::Backoff::Step::retry) << "spins until the deadline, never sleeps";
    ++steps;
  }
  EXPECT_GT(steps, 0);
}

// The same through a ring: a blocking peek with liveness_interval = milliseconds::max() sleeps
// until its deadline (a sleep or two), instead of ~100k futex calls.
TEST_F(WaitBlockingTest, AnEndlessLivenessIntervalStillSleeps) {
  RingWriter writer(segment_);
  RingReader reader(segment_);
  // -1 ms counts as 1 ms: about 100 sleeps in 100 ms; the bug made either tens of thousands.
  const std::pair<std::chrono::milliseconds, std::uint64_t> cases[] = {
      {std::chrono::milliseconds::max(), 5}, {-1ms, 1000}};
  for (const auto &[interval, most] : cases) {
    const std::uint64_t before = reader.stats().consumer.sleeps;
    EXPECT_EQ(reader.peek(100ms, {.liveness_interval = interval}).status(), Status::timeout);
    EXPECT_LE(reader.stats().consumer.sleeps - before, most) << interval.count() << " ms";
  }
}

} // namespace
} // namespace shmpipe

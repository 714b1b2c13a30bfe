// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of detail/barrier.hpp: publishes with a release store lose no wake-up of a peer that
// really sleeps (futex only, no spinning, no liveness rescue), in both directions of a ring
// and of a lane, with both sides registered for the process barrier, with neither
// (SHMPIPE_NO_MEMBARRIER=1: ctest runs this file a second time so), and with one of each.
#include <shmpipe/detail/barrier.hpp>
#include <shmpipe/fixed_ring.hpp>
#include <shmpipe/ring_reader.hpp>
#include <shmpipe/ring_writer.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

/// Straight to the futex, and no timed wake that could rescue a lost one: a lost wake-up
/// shows as a 5 s timeout.
const WaitPolicy kSleepAtOnce{.mode = WaitMode::blocking,
                              .spin_for = 0ns,
                              .yield_for = 0ns,
                              .liveness_interval = std::chrono::milliseconds::max()};
constexpr auto kCallLimit = 5s;
constexpr int kNotAlone = 77; // the child inherited a registration: the test cannot run here

struct Removal {
  std::string name;
  ~Removal() { Segment::remove(name); }
};

/// `rounds` ping-pongs of 8-byte records: ring 0 carries the ping, ring 1 the pong; both sides
/// sleep for every record. The child answers; it sets SHMPIPE_NO_MEMBARRIER first when told.
/// Returns the parent's sleep count, or -1 on failure (with a gtest failure recorded).
std::int64_t ping_pong(const std::string &name, std::uint64_t rounds, bool child_unregistered) {
  Segment segment = Segment::create(name, {.ring_capacity = 1 << 12, .rings = 2});
  test::Child child([&] {
    if (child_unregistered) {
      ::setenv("SHMPIPE_NO_MEMBARRIER", "1", 1);
      if (detail::membarrier_registered())
        return kNotAlone;
    }
    RingReader ping(segment, 0);
    RingWriter pong(segment, 1);
    for (std::uint64_t i = 0; i < rounds; ++i) {
      ReadSlot in = ping.peek(kCallLimit, kSleepAtOnce);
      if (!in)
        return 1;
      std::uint64_t value = 0;
      std::memcpy(&value, in.bytes().data(), sizeof value);
      ping.release(std::move(in));
      if (value != i ||
          pong.write(std::as_bytes(std::span(&value, 1)), kCallLimit, kSleepAtOnce) != Status::ok)
        return 2;
    }
    return 0;
  });
  RingWriter ping(segment, 0);
  RingReader pong(segment, 1);
  for (std::uint64_t i = 0; i < rounds; ++i) {
    if (ping.write(std::as_bytes(std::span(&i, 1)), kCallLimit, kSleepAtOnce) != Status::ok) {
      ADD_FAILURE() << "ping " << i << " could not be written";
      return -1;
    }
    ReadSlot back = pong.peek(kCallLimit, kSleepAtOnce);
    if (!back) {
      const int code = child.wait(1s);
      if (code == kNotAlone)
        return -2;
      ADD_FAILURE() << "round " << i << ": " << to_string(back.status())
                    << " (a lost wake-up waits 5 s); child exit " << code;
      return -1;
    }
    std::uint64_t value = 0;
    std::memcpy(&value, back.bytes().data(), sizeof value);
    EXPECT_EQ(value, i);
    pong.release(std::move(back));
  }
  EXPECT_EQ(child.wait(10s), 0);
  return static_cast<std::int64_t>(pong.stats().consumer.sleeps);
}

TEST(BarrierTest, EachSideAdvertisesWhetherItIssuesTheBarrier) {
  const std::string name = test::unique_name();
  Removal removal{name};
  Segment segment = Segment::create(name, {.ring_capacity = 1 << 12});
  RingWriter writer(segment);
  RingReader reader(segment);
  const detail::RingControl &ctl = *segment.ring(0).control;
  const std::uint32_t expected = detail::membarrier_registered() ? 1 : 0;
  EXPECT_EQ(ctl.producer_owner.barrier_sleeper.load(std::memory_order_relaxed), expected);
  EXPECT_EQ(ctl.consumer_owner.barrier_sleeper.load(std::memory_order_relaxed), expected);
  const char *off = std::getenv("SHMPIPE_NO_MEMBARRIER");
  if (off != nullptr && std::strcmp(off, "1") == 0) {
    EXPECT_FALSE(detail::membarrier_registered());
  }
}

TEST(BarrierTest, SleepingPingPongLosesNoWakeUp) {
  const std::string name = test::unique_name();
  Removal removal{name};
  const std::int64_t sleeps = ping_pong(name, 20000, false);
  ASSERT_GE(sleeps, 0);
  // Some rounds really slept (how many depends on the machine's load: a peer that answers
  // before the sleep begins is seen by the last look); a lost wake-up fails above.
  EXPECT_GT(sleeps, 0);
  ::testing::Test::RecordProperty("sleeps", std::to_string(sleeps));
}

TEST(BarrierTest, ARegisteredPublisherWakesAnUnregisteredSleeper) {
  const std::string name = test::unique_name();
  Removal removal{name};
  const std::int64_t sleeps = ping_pong(name, 20000, true);
  if (sleeps == -2)
    GTEST_SKIP() << "the child inherited this process's registration (run the test alone, as "
                    "ctest does)";
  ASSERT_GE(sleeps, 0);
  EXPECT_GT(sleeps, 0);
}

TEST(BarrierTest, AProducerSleepingForSpaceIsWokenByEveryRelease) {
  const std::string name = test::unique_name();
  Removal removal{name};
  // 64 bytes of ring, 32 per record: the producer sleeps for space after every other record.
  Segment segment = Segment::create(name, {.ring_capacity = 64});
  constexpr std::uint64_t kRecords = 20000;
  test::Child child([&] {
    RingWriter writer(segment);
    for (std::uint64_t i = 0; i < kRecords; ++i)
      if (writer.write(std::as_bytes(std::span(&i, 1)), kCallLimit, kSleepAtOnce) != Status::ok)
        return 1;
    return writer.stats().producer.sleeps > 0 ? 0 : 2;
  });
  RingReader reader(segment);
  std::uint64_t state = 99;
  for (std::uint64_t i = 0; i < kRecords; ++i) {
    ReadSlot slot = reader.peek(kCallLimit, kSleepAtOnce);
    ASSERT_TRUE(slot) << "record " << i << ": " << to_string(slot.status());
    std::uint64_t value = 0;
    std::memcpy(&value, slot.bytes().data(), sizeof value);
    ASSERT_EQ(value, i);
    state = test::mix(state);
    if (state % 16 == 0) // now and then the producer is asleep before the release
      std::this_thread::sleep_for(std::chrono::microseconds(state % 32));
    reader.release(std::move(slot));
  }
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(BarrierTest, LanesLoseNoWakeUpEither) {
  const std::string name = test::unique_name();
  Removal removal{name};
  using Lane = FixedRing<std::uint64_t, 4>;
  Segment segment = Segment::create(name, {.rings = 0, .lanes = 1, .lane_bytes = Lane::lane_bytes});
  constexpr std::uint64_t kElements = 20000;
  test::Child child([&] {
    Lane::Writer writer(segment, 0);
    for (std::uint64_t i = 0; i < kElements; ++i)
      if (writer.push(i, kCallLimit, kSleepAtOnce) != Status::ok)
        return 1;
    return 0;
  });
  Lane::Reader reader(segment, 0);
  std::uint64_t state = 7;
  for (std::uint64_t i = 0; i < kElements; ++i) {
    std::uint64_t value = 0;
    ASSERT_EQ(reader.pop(value, kCallLimit, kSleepAtOnce), Status::ok) << "element " << i;
    ASSERT_EQ(value, i);
    state = test::mix(state);
    if (state % 16 == 0)
      std::this_thread::sleep_for(std::chrono::microseconds(state % 32));
  }
  EXPECT_EQ(child.wait(10s), 0);
  EXPECT_GT(reader.stats().consumer.sleeps + reader.stats().producer.sleeps, 0u);
}

} // namespace
} // namespace shmpipe

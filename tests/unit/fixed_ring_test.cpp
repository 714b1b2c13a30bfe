// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of fixed_ring.hpp (FixedRing, FixedWriter, FixedReader): order, full and empty, wrap,
// batches, the lane's byte layout, mismatched types and Boost versions, roles, hostile indices
// (run under AddressSanitizer in CI), timeouts, close, dead peers, and streams between threads
// (run under ThreadSanitizer) and between processes.
#include <shmpipe/fixed_ring.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

/// 16 bytes, alignment 8; `check` lets a reader verify each element on its own.
struct Tick {
  std::uint64_t seq;
  std::uint64_t check;
};

Tick tick(std::uint64_t seq) { return {seq, test::mix(seq)}; }
bool good(const Tick &t, std::uint64_t seq) { return t.seq == seq && t.check == test::mix(seq); }

/// Same size as Tick, alignment 1.
struct Bytes16 {
  char bytes[16];
};

constexpr std::size_t kN = 7; // 8 slots: small, so that tests wrap often
using Lane = FixedRing<Tick, kN>;
using Queue = Lane::Queue;

static_assert(noexcept(std::declval<Lane::Writer &>().try_push(Tick{})));
static_assert(noexcept(std::declval<Lane::Reader &>().try_pop(std::declval<Tick &>())));
static_assert(noexcept(std::declval<Lane::Writer &>().push(Tick{}, std::declval<WaitLimit>(),
                                                           std::declval<const WaitPolicy &>())));
static_assert(noexcept(std::declval<Lane::Reader &>().pop(std::declval<Tick &>(),
                                                          std::declval<WaitLimit>(),
                                                          std::declval<const WaitPolicy &>())));
static_assert(!std::is_copy_constructible_v<Lane::Writer> &&
              std::is_nothrow_move_constructible_v<Lane::Reader>);
// The smallest possible lane is exactly the smallest lane a segment accepts.
static_assert(FixedRing<char, 1>::lane_bytes == kMinLaneBytes);
static_assert(Lane::lane_bytes == 576); // 320 + round_up(72 + 8 * 16, 64)

template <class F> void expect_error(F &&f, Errc code, const std::string &needle = "") {
  try {
    f();
    ADD_FAILURE() << "no exception; expected " << make_error_code(code).message();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

/// A new segment with one lane for `R` (no rings), removed again when this goes away.
template <class R = Lane> struct OneLane {
  OneLane()
      : guard(test::unique_name()),
        segment(
            Segment::create(guard.name(), {.rings = 0, .lanes = 1, .lane_bytes = R::lane_bytes})) {}
  const std::string &name() const { return guard.name(); }
  /// The segment as another process sees it (for children: open it anew, as a peer would).
  [[nodiscard]] Segment open() const { return Segment::open(name()); }
  ScopedRemove guard;
  Segment segment;
};

class FixedRingTest : public ::testing::Test {
protected:
  /// A segment of `lanes` lanes of `lane_bytes`; a reader and then a writer on lane 0.
  void make(std::uint32_t lanes = 1, std::uint64_t lane_bytes = Lane::lane_bytes) {
    writer_.reset(); // the ends point into the segment: they go first
    reader_.reset();
    segment_.reset();
    guard_.emplace(test::unique_name());
    segment_.emplace(
        Segment::create(guard_->name(), {.rings = 0, .lanes = lanes, .lane_bytes = lane_bytes}));
    reader_.emplace(*segment_, 0);
    writer_.emplace(*segment_, 0);
  }
  detail::LaneControl &control() { return *segment_->lane(0).control; }
  Queue &queue() {
    return *reinterpret_cast<Queue *>(segment_->lane(0).base + sizeof(detail::LaneControl));
  }
  void push_ok(std::uint64_t seq) { ASSERT_EQ(writer_->try_push(tick(seq)), Status::ok) << seq; }
  void pop_expect(std::uint64_t seq) {
    Tick t{};
    ASSERT_EQ(reader_->try_pop(t), Status::ok) << seq;
    EXPECT_TRUE(good(t, seq)) << "expected " << seq << ", got " << t.seq;
  }
  void expect_reader_corrupt() {
    Tick t{};
    EXPECT_EQ(reader_->try_pop(t), Status::corrupt);
    EXPECT_EQ(reader_->try_pop(t), Status::corrupt) << "sticky";
    EXPECT_EQ(reader_->pop(t, 1ms), Status::corrupt);
  }
  void expect_writer_corrupt() {
    EXPECT_EQ(writer_->try_push(tick(0)), Status::corrupt);
    EXPECT_EQ(writer_->try_push(tick(0)), Status::corrupt) << "sticky";
    EXPECT_EQ(writer_->push(tick(0), 1ms), Status::corrupt);
  }

  std::optional<ScopedRemove> guard_;
  std::optional<Segment> segment_;
  std::optional<Lane::Reader> reader_;
  std::optional<Lane::Writer> writer_;
};

TEST_F(FixedRingTest, PushThenPopInOrder) {
  make();
  for (std::uint64_t i = 0; i < 5; ++i)
    push_ok(i);
  for (std::uint64_t i = 0; i < 5; ++i)
    pop_expect(i);
  Tick t{};
  EXPECT_EQ(reader_->try_pop(t), Status::empty);
}

TEST_F(FixedRingTest, FullAfterNThenAcceptsAfterAPop) {
  make();
  for (std::uint64_t i = 0; i < kN; ++i)
    push_ok(i);
  EXPECT_EQ(writer_->try_push(tick(99)), Status::full);
  EXPECT_EQ(writer_->size_approx(), kN);
  EXPECT_EQ(writer_->stats().producer.stalls, 1u);
  pop_expect(0);
  push_ok(kN);
  EXPECT_EQ(writer_->try_push(tick(99)), Status::full);
  for (std::uint64_t i = 1; i <= kN; ++i)
    pop_expect(i);
}

TEST_F(FixedRingTest, EmptyLaneSaysEmptyAndCountsStalls) {
  make();
  Tick t{};
  EXPECT_EQ(reader_->try_pop(t), Status::empty);
  std::array<Tick, 3> many{};
  EXPECT_EQ(reader_->try_pop_some(many).status, Status::empty);
  EXPECT_EQ(reader_->stats().consumer.stalls, 2u);
}

TEST_F(FixedRingTest, WrapsManyTimesWithBatchesOfEverySize) {
  make();
  std::uint64_t pushed = 0;
  std::uint64_t popped = 0;
  std::array<Tick, kN + 3> buffer{};
  for (int round = 0; round < 20000; ++round) {
    const auto want =
        static_cast<std::size_t>(1 + test::mix(static_cast<std::uint64_t>(round)) % (kN + 2));
    std::vector<Tick> items;
    for (std::size_t i = 0; i < want; ++i)
      items.push_back(tick(pushed + i));
    const std::size_t room = kN - static_cast<std::size_t>(pushed - popped);
    const BatchResult in = writer_->try_push_some(items);
    ASSERT_EQ(in.count, std::min(want, room)) << "round " << round;
    ASSERT_EQ(in.status, room == 0 ? Status::full : Status::ok);
    pushed += in.count;
    const auto take = static_cast<std::size_t>(
        1 + test::mix(static_cast<std::uint64_t>(round) + 7777) % buffer.size());
    const BatchResult out = reader_->try_pop_some(std::span(buffer).first(take));
    ASSERT_EQ(out.count, std::min<std::size_t>(take, pushed - popped)) << "round " << round;
    for (std::size_t i = 0; i < out.count; ++i)
      ASSERT_TRUE(good(buffer[i], popped + i)) << "round " << round;
    popped += out.count;
    ASSERT_LT(queue().write_index().load(std::memory_order_relaxed), kN + 1);
  }
  EXPECT_GT(pushed, 20u * (kN + 1)) << "the indices wrapped many times";
  const RingStats stats = writer_->stats();
  EXPECT_EQ(stats.producer.records, pushed);
  EXPECT_EQ(stats.consumer.records, popped);
  EXPECT_EQ(stats.producer.bytes, pushed * sizeof(Tick));
}

TEST_F(FixedRingTest, ElementsSitWhereTheLayoutSays) {
  make();
  const detail::LaneMemory lane = segment_->lane(0);
  auto *const q = reinterpret_cast<std::byte *>(&queue());
  EXPECT_EQ(q, lane.base + 320);
  EXPECT_EQ(reinterpret_cast<std::byte *>(&queue().write_index()), lane.base + 320);
  EXPECT_EQ(reinterpret_cast<std::byte *>(&queue().read_index()), lane.base + 384);
  EXPECT_EQ(Queue::kSlotsOffset, 72u);
  // Slot i of the queue is at lane + 392 + 16 * i, and Boost's indices are slot numbers.
  for (std::uint64_t i = 0; i < kN + 3; ++i) {
    push_ok(i);
    const std::size_t slot = i % (kN + 1);
    Tick in_place{};
    std::memcpy(&in_place, lane.base + 392 + slot * sizeof(Tick), sizeof in_place);
    EXPECT_TRUE(good(in_place, i)) << i;
    EXPECT_EQ(queue().write_index().load(std::memory_order_relaxed), (slot + 1) % (kN + 1));
    pop_expect(i);
    EXPECT_EQ(queue().read_index().load(std::memory_order_relaxed), (slot + 1) % (kN + 1));
  }
  const detail::LaneDescriptor &d = control().descriptor;
  EXPECT_EQ(d.state.load(std::memory_order_acquire), detail::kLaneMagic);
  EXPECT_EQ(d.element_size, 16u);
  EXPECT_EQ(d.element_align, 8u);
  EXPECT_EQ(d.capacity, kN);
  EXPECT_EQ(d.queue_size, 72u + 8u * 16u);
  EXPECT_EQ(d.slots_offset, 392u);
  EXPECT_EQ(d.boost_version, static_cast<std::uint32_t>(BOOST_VERSION));
  // The queue ends before the lane does, and nothing else was written after it.
  EXPECT_LE(320u + d.queue_size, lane.bytes);
  for (std::uint64_t at = 320 + d.queue_size; at < lane.bytes; ++at)
    EXPECT_EQ(lane.base[at], std::byte{0}) << at;
}

TEST_F(FixedRingTest, LanesOfMixedTypesShareASegment) {
  using Small = FixedRing<std::uint32_t, 100>;
  ScopedRemove guard(test::unique_name());
  Segment seg = Segment::create(
      guard.name(),
      {.rings = 1, .lanes = 2, .lane_bytes = std::max(Lane::lane_bytes, Small::lane_bytes)});
  Lane::Writer ticks_out(seg, 0);
  Small::Writer words_out(seg, 1);
  Lane::Reader ticks_in(seg, 0);
  Small::Reader words_in(seg, 1);
  ASSERT_EQ(ticks_out.try_push(tick(5)), Status::ok);
  ASSERT_EQ(words_out.try_push(77u), Status::ok);
  Tick t{};
  std::uint32_t w = 0;
  ASSERT_EQ(ticks_in.try_pop(t), Status::ok);
  ASSERT_EQ(words_in.try_pop(w), Status::ok);
  EXPECT_TRUE(good(t, 5));
  EXPECT_EQ(w, 77u);
}

TEST_F(FixedRingTest, WrongElementTypeOrCapacityIsRefusedAtAttach) {
  make(1, 4096);
  using Wider = FixedRing<Tick, kN + 1>;
  using Other = FixedRing<std::uint64_t, kN>;
  using Unaligned = FixedRing<Bytes16, kN>;
  expect_error([&] { Wider::Reader r(*segment_, 0); }, Errc::layout_mismatch,
               "lane 0 holds 7 elements of 16 bytes");
  expect_error([&] { Other::Reader r(*segment_, 0); }, Errc::layout_mismatch,
               "7 elements of 8 bytes");
  expect_error([&] { Unaligned::Writer r(*segment_, 0); }, Errc::layout_mismatch, "alignment 1");
  // A refused endpoint claimed nothing: the right type still attaches.
  reader_.reset();
  writer_.reset();
  EXPECT_NO_THROW(Lane::Reader r(*segment_, 0));
  EXPECT_NO_THROW(Lane::Writer w(*segment_, 0));
}

TEST_F(FixedRingTest, LaneTooSmallForTheRingIsRefused) {
  make();
  expect_error([&] { FixedRing<Tick, 1000>::Writer w(*segment_, 0); }, Errc::layout_mismatch,
               "lane_bytes");
}

TEST_F(FixedRingTest, BadLaneIndexThrows) {
  make();
  expect_error([&] { Lane::Writer w(*segment_, 1); }, Errc::invalid_argument, "lane 1");
  ScopedRemove guard(test::unique_name());
  Segment no_lanes = Segment::create(guard.name(), {.ring_capacity = 4096});
  expect_error([&] { Lane::Reader r(no_lanes, 0); }, Errc::invalid_argument, "has 0");
}

std::string boost_string(std::uint32_t v) {
  return std::to_string(v / 100000) + "." + std::to_string(v / 100 % 1000) + "." +
         std::to_string(v % 100);
}

TEST_F(FixedRingTest, SegmentFromAnotherBoostVersionIsRefused) {
  make();
  auto *header = reinterpret_cast<detail::SegmentHeader *>(segment_->base());
  header->boost_version = 108100;
  Segment reopened = Segment::open(guard_->name()); // the header is read at open
  EXPECT_EQ(reopened.boost_version(), 108100u);
  for (const std::string &needle :
       {std::string("created with Boost 1.81.0"), "uses Boost " + boost_string(BOOST_VERSION)})
    expect_error([&] { Lane::Reader r(reopened, 0); }, Errc::layout_mismatch, needle);
}

TEST_F(FixedRingTest, LaneFormattedByAnotherBoostVersionIsRefused) {
  make();
  control().descriptor.boost_version = 107300;
  reader_.reset();
  expect_error([&] { Lane::Reader r(*segment_, 0); }, Errc::layout_mismatch,
               "formatted with Boost 1.73.0");
}

TEST_F(FixedRingTest, OneWriterAndOneReaderPerLane) {
  make();
  expect_error([&] { Lane::Writer w(*segment_, 0); }, Errc::role_taken,
               "lane 0 already has a live producer (pid " + std::to_string(::getpid()) + ")");
  expect_error([&] { Lane::Reader r(*segment_, 0); }, Errc::role_taken,
               "lane 0 already has a live consumer");
  writer_.reset();
  EXPECT_NO_THROW(writer_.emplace(*segment_, 0));
}

TEST_F(FixedRingTest, NextReaderResumesWhereTheLastOneStopped) {
  make();
  for (std::uint64_t i = 0; i < 5; ++i)
    push_ok(i);
  pop_expect(0);
  pop_expect(1);
  reader_.reset();
  reader_.emplace(*segment_, 0);
  for (std::uint64_t i = 2; i < 5; ++i)
    pop_expect(i);
}

TEST_F(FixedRingTest, ClosedAfterTheWriterClosesAndEverythingIsPopped) {
  make();
  push_ok(0);
  push_ok(1);
  writer_->close();
  EXPECT_EQ(writer_->try_push(tick(2)), Status::closed);
  pop_expect(0);
  pop_expect(1);
  Tick t{};
  EXPECT_EQ(reader_->try_pop(t), Status::closed);
  EXPECT_EQ(reader_->pop(t, 1s), Status::closed);
  EXPECT_EQ(writer_->stats().producer.records, 2u) << "statistics outlive close()";
  // A new writer reopens the stream.
  writer_.reset();
  writer_.emplace(*segment_, 0);
  push_ok(2);
  pop_expect(2);
}

TEST_F(FixedRingTest, WaitingWriterLearnsTheReaderLeft) {
  make();
  while (writer_->try_push(tick(0)) == Status::ok) {
  }
  reader_->close();
  Tick t{};
  EXPECT_EQ(reader_->try_pop(t), Status::closed);
  EXPECT_EQ(writer_->push(tick(0), 5ms), Status::closed);
}

TEST_F(FixedRingTest, MovedFromEndsAreClosedAndHarmless) {
  make();
  Lane::Writer moved_writer = std::move(*writer_);
  Lane::Reader moved_reader = std::move(*reader_);
  Tick t{};
  EXPECT_EQ(writer_->try_push(tick(0)), Status::closed);
  EXPECT_EQ(reader_->try_pop(t), Status::closed);
  writer_.reset(); // must not give the role away
  reader_.reset();
  ASSERT_EQ(moved_writer.try_push(tick(0)), Status::ok);
  ASSERT_EQ(moved_reader.try_pop(t), Status::ok);
  expect_error([&] { Lane::Writer w(*segment_, 0); }, Errc::role_taken);
}

TEST_F(FixedRingTest, TimeoutsOnEmptyAndFull) {
  make();
  for (const WaitMode mode : {WaitMode::busy_spin, WaitMode::spin_then_yield, WaitMode::blocking}) {
    const WaitPolicy policy{.mode = mode, .spin_for = 1ms, .yield_for = 1ms};
    Tick t{};
    auto start = Clock::now();
    EXPECT_EQ(reader_->pop(t, 20ms, policy), Status::timeout);
    EXPECT_GE(Clock::now() - start, 20ms);
    std::array<Tick, 4> many{};
    EXPECT_EQ(reader_->pop_some(many, deadline_after(5ms), policy).status, Status::timeout);
    while (writer_->try_push(tick(0)) == Status::ok) {
    }
    start = Clock::now();
    EXPECT_EQ(writer_->push(tick(0), 20ms, policy), Status::timeout);
    EXPECT_GE(Clock::now() - start, 20ms);
    std::array<Tick, 2> two{tick(0), tick(1)};
    const BatchResult partial = writer_->push_all(two, 5ms, policy);
    EXPECT_EQ(partial.count, 0u);
    EXPECT_EQ(partial.status, Status::timeout);
    while (reader_->try_pop(t) == Status::ok) {
    }
  }
}

TEST_F(FixedRingTest, BlockedWriterResumesAsTheReaderFreesSpace) {
  make();
  std::vector<Tick> items;
  for (std::uint64_t i = 0; i < 100; ++i)
    items.push_back(tick(i));
  std::thread consumer([&] {
    for (std::uint64_t i = 0; i < 100; ++i) {
      Tick t{};
      ASSERT_EQ(reader_->pop(t, 10s), Status::ok);
      ASSERT_TRUE(good(t, i));
      if (i % 10 == 0)
        std::this_thread::sleep_for(1ms); // let the writer fall asleep
    }
  });
  const BatchResult all = writer_->push_all(items, 10s);
  consumer.join();
  EXPECT_EQ(all.count, 100u);
  EXPECT_EQ(all.status, Status::ok);
}

// A sleeper is woken by the other side's push or pop, not by its liveness interval (an hour).
TEST_F(FixedRingTest, SleepersAreWokenByThePeer) {
  make();
  const WaitPolicy sleepy{.spin_for = std::chrono::nanoseconds(0),
                          .yield_for = std::chrono::nanoseconds(0),
                          .liveness_interval = std::chrono::hours(1)};
  for (int round = 0; round < 20; ++round) {
    std::thread late([&] {
      std::this_thread::sleep_for(2ms);
      EXPECT_EQ(writer_->try_push(tick(static_cast<std::uint64_t>(round))), Status::ok);
    });
    Tick t{};
    const auto start = Clock::now();
    EXPECT_EQ(reader_->pop(t, 30s, sleepy), Status::ok);
    EXPECT_LT(Clock::now() - start, 10s);
    late.join();
  }
  for (std::uint64_t i = 0; i < kN; ++i)
    push_ok(i);
  for (int round = 0; round < 20; ++round) {
    std::thread late([&] {
      std::this_thread::sleep_for(2ms);
      Tick t{};
      EXPECT_EQ(reader_->try_pop(t), Status::ok);
    });
    const auto start = Clock::now();
    EXPECT_EQ(writer_->push(tick(0), 30s, sleepy), Status::ok);
    EXPECT_LT(Clock::now() - start, 10s);
    late.join();
  }
  const RingStats stats = writer_->stats();
  EXPECT_GE(stats.consumer.sleeps, 1u);
  EXPECT_GE(stats.producer.sleeps, 1u);
  EXPECT_GE(stats.producer.wakeups, 1u);
  EXPECT_GE(stats.consumer.wakeups, 1u);
}

// ---- The peer is untrusted: hostile indices --------------------------------------------------

TEST_F(FixedRingTest, ReaderIndexRewrittenByThePeerIsCorrupt) {
  make();
  push_ok(0);
  push_ok(1);
  queue().read_index().store(1, std::memory_order_relaxed); // only the reader may move it
  expect_reader_corrupt();
}

TEST_F(FixedRingTest, WriterIndexRewrittenByThePeerIsCorrupt) {
  make();
  push_ok(0);
  queue().write_index().store(5, std::memory_order_relaxed);
  expect_writer_corrupt();
}

TEST_F(FixedRingTest, WriteIndexThatIsNoSlotIsCorrupt) {
  for (const std::size_t bad :
       {kN + 1, kN + 2, std::size_t{1} << 40, std::numeric_limits<std::size_t>::max()}) {
    make();
    queue().write_index().store(bad, std::memory_order_release);
    expect_reader_corrupt();
  }
}

TEST_F(FixedRingTest, ReadIndexThatIsNoSlotIsCorrupt) {
  for (const std::size_t bad : {kN + 1, std::size_t{1} << 40}) {
    make();
    for (std::uint64_t i = 0; i < kN; ++i)
      push_ok(i); // full: the next push must look at the read index
    queue().read_index().store(bad, std::memory_order_release);
    expect_writer_corrupt();
  }
}

TEST_F(FixedRingTest, WriteIndexMovingBackwardsIsCorrupt) {
  make();
  for (std::uint64_t i = 0; i < 4; ++i)
    push_ok(i);
  pop_expect(0);
  queue().write_index().store(2, std::memory_order_release); // it was 4
  std::array<Tick, 4> many{};
  EXPECT_EQ(reader_->try_pop_some(many).status, Status::corrupt); // 3 wanted: looks at it
  expect_reader_corrupt();
}

TEST_F(FixedRingTest, WriteIndexMovingBackwardsUnseenByTheReaderIsCorrupt) {
  make();
  for (std::uint64_t i = 0; i < 4; ++i)
    push_ok(i);
  pop_expect(0); // the reader's copy of the write index is 4 from here on
  queue().write_index().store(1, std::memory_order_release); // Boost now finds it empty
  expect_reader_corrupt();
}

TEST_F(FixedRingTest, ReadIndexPassingTheWriteIndexIsCorrupt) {
  make();
  for (std::uint64_t i = 0; i < 3; ++i)
    push_ok(i);
  queue().read_index().store(5, std::memory_order_release); // 2 past the write index
  std::array<Tick, 5> items{};
  EXPECT_EQ(writer_->try_push_some(items).status, Status::corrupt); // needs a look at it
  expect_writer_corrupt();
}

TEST_F(FixedRingTest, ReadIndexMovingBackwardsIsCorrupt) {
  make();
  for (std::uint64_t i = 0; i < kN; ++i)
    push_ok(i);
  for (std::uint64_t i = 0; i < 3; ++i)
    pop_expect(i);
  push_ok(kN); // full by the writer's copy: it looks at the read index (3) and takes it
  // Back to 1: the writer's copy (3) still shows room, Boost's own load shows none.
  queue().read_index().store(1, std::memory_order_release);
  expect_writer_corrupt();
}

TEST_F(FixedRingTest, IndicesOutOfRangeAtAttachAreRefused) {
  make();
  reader_.reset();
  queue().read_index().store(kN + 1, std::memory_order_release);
  expect_error([&] { reader_.emplace(*segment_, 0); }, Errc::corrupt, "read index 8");
  queue().read_index().store(0, std::memory_order_release);
  EXPECT_NO_THROW(reader_.emplace(*segment_, 0)) << "the refused attach gave the role back";
}

/// A queue in process memory with canaries after it, for the slot checks on their own (the
/// endpoints check the indices before Boost sees them, so these calls bypass them).
struct QueueWithCanary {
  static constexpr std::size_t kCanary = 4096;
  static constexpr std::size_t kBytes = (sizeof(Queue) + kCanary + 63) / 64 * 64;
  QueueWithCanary() : memory(static_cast<std::byte *>(std::aligned_alloc(64, kBytes))) {
    std::memset(memory, 0x5a, kBytes);
    queue = ::new (memory) Queue; // not Queue(), which may zero the slots
  }
  ~QueueWithCanary() { std::free(memory); }
  QueueWithCanary(const QueueWithCanary &) = delete;
  QueueWithCanary &operator=(const QueueWithCanary &) = delete;
  bool canary_intact() const {
    for (std::size_t i = sizeof(Queue); i < kBytes; ++i)
      if (memory[i] != std::byte{0x5a})
        return false;
    return true;
  }
  std::byte *memory;
  Queue *queue;
};

TEST(FixedRingSlotCheckTest, PushToASlotOtherThanTheExpectedOneWritesNothing) {
  const std::array<Tick, 3> items{tick(1), tick(2), tick(3)};
  for (const std::size_t actual : {std::size_t{4}, kN + 1, kN + 4, 2 * (kN + 1),
                                   std::size_t{1} << 40, std::numeric_limits<std::size_t>::max()}) {
    QueueWithCanary q;
    q.queue->write_index().store(actual, std::memory_order_relaxed);
    std::vector<std::byte> before(q.memory, q.memory + sizeof(Queue));
    const detail::Moved moved = q.queue->push_at(items, 2); // we expect slot 2
    EXPECT_TRUE(moved.out_of_place) << actual;
    EXPECT_EQ(moved.count, 0u);
    EXPECT_TRUE(q.canary_intact()) << actual;
    EXPECT_EQ(std::memcmp(before.data(), q.memory, sizeof(Queue)), 0)
        << "nothing written, not even the index (" << actual << ")";
  }
  QueueWithCanary q; // and the honest case, across the wrap
  q.queue->write_index().store(6, std::memory_order_relaxed);
  q.queue->read_index().store(6, std::memory_order_relaxed);
  const detail::Moved moved = q.queue->push_at(items, 6);
  EXPECT_FALSE(moved.out_of_place);
  EXPECT_EQ(moved.count, 3u);
  EXPECT_EQ(q.queue->write_index().load(std::memory_order_relaxed), 1u);
}

// An index 2^60 slots on lands on the same address (2^60 * 16 = 2^64): Boost's range copy then
// finds our slot and walks on, past the last element we gave it, until something stops it.
TEST(FixedRingSlotCheckTest, IndexThatWrapsOntoTheExpectedSlotReadsNoElementPastTheEnd) {
  static_assert(sizeof(Tick) == 16);
  const std::array<Tick, 2> items{tick(1), tick(2)}; // ASan: reading a third one is an error
  QueueWithCanary q;
  q.queue->write_index().store(2 + (std::size_t{1} << 60), std::memory_order_relaxed);
  const detail::Moved moved = q.queue->push_at(items, 2);
  EXPECT_TRUE(moved.out_of_place);
  EXPECT_TRUE(q.canary_intact());
  EXPECT_EQ(q.queue->write_index().load(std::memory_order_relaxed), 2 + (std::size_t{1} << 60))
      << "no index stored";
  const std::byte *slot4 = q.memory + Queue::kSlotsOffset + 4 * sizeof(Tick);
  EXPECT_TRUE(std::all_of(slot4, slot4 + sizeof(Tick), [](std::byte b) {
    return b == std::byte{0x5a};
  })) << "nothing beyond the two elements was copied into slot 4";
}

TEST(FixedRingSlotCheckTest, PopFromASlotOtherThanTheExpectedOneReadsNothing) {
  for (const std::size_t actual : {std::size_t{3}, kN + 1, kN + 4, std::size_t{1} << 40,
                                   std::numeric_limits<std::size_t>::max()}) {
    QueueWithCanary q;
    q.queue->write_index().store(5, std::memory_order_relaxed);
    q.queue->read_index().store(actual, std::memory_order_relaxed);
    std::array<Tick, 2> out{tick(100), tick(101)};
    const detail::Moved moved = q.queue->pop_at(out, 1); // we expect slot 1
    EXPECT_TRUE(moved.out_of_place) << actual;
    EXPECT_EQ(moved.count, 0u);
    EXPECT_TRUE(good(out[0], 100) && good(out[1], 101)) << "nothing copied (" << actual << ")";
    EXPECT_EQ(q.queue->read_index().load(std::memory_order_relaxed), actual) << "index untouched";
  }
}

// The window the endpoints cannot close: the peer changes an index after they checked it and
// before Boost loads it. Here there is no check before Boost at all, and the index keeps
// flipping: every push either lands in the expected slot or is refused, and nothing outside the
// queue is ever written.
TEST(FixedRingSlotCheckTest, IndexFlippingDuringPushesNeverWritesOutside) {
  QueueWithCanary q;
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (std::size_t i = 0; !stop.load(std::memory_order_relaxed); ++i)
      q.queue->write_index().store(i % 2 == 0 ? kN + 1 + i % 64 : 0, std::memory_order_relaxed);
  });
  int refused = 0;
  int landed = 0;
  const auto until = Clock::now() + 200ms;
  while (Clock::now() < until || refused == 0 || landed == 0) {
    q.queue->read_index().store(7, std::memory_order_relaxed); // room for one at slot 0
    const Tick item = tick(static_cast<std::uint64_t>(landed + refused));
    const detail::Moved moved = q.queue->push_at({&item, 1}, 0);
    (moved.out_of_place ? refused : landed) += 1;
    Tick in_place{};
    std::memcpy(&in_place, q.memory + Queue::kSlotsOffset, sizeof in_place);
    if (moved.count == 1 && !good(in_place, item.seq)) {
      ADD_FAILURE() << "element " << item.seq << " did not land in slot 0";
      break; // not ASSERT: the flipper must still be joined
    }
    if (Clock::now() > until + 10s)
      break;
  }
  stop = true;
  flipper.join();
  EXPECT_TRUE(q.canary_intact());
  EXPECT_GT(refused, 0);
  EXPECT_GT(landed, 0);
}

// ---- Formatting ---------------------------------------------------------------------------

TEST(FixedRingFormatTest, LaneWhoseFormatterDiedIsFormattedAgain) {
  OneLane<> lane;
  detail::LaneDescriptor &d = lane.segment.lane(0).control->descriptor;
  const std::uint64_t dead = detail::make_owner_token(0x3ffffff0, 1); // no such process
  d.state.store(dead, std::memory_order_relaxed);
  EXPECT_NO_THROW(Lane::Writer w(lane.segment, 0));
  EXPECT_EQ(d.state.load(std::memory_order_acquire), detail::kLaneMagic);
}

TEST(FixedRingFormatTest, LaneBeingFormattedByALiveProcessIsNotReady) {
  OneLane<> lane;
  test::Child busy([] {
    ::pause();
    return 0;
  });
  lane.segment.lane(0).control->descriptor.state.store(
      detail::make_owner_token(busy.pid(), detail::process_start_time(busy.pid())),
      std::memory_order_relaxed);
  const auto start = Clock::now();
  expect_error([&] { Lane::Writer w(lane.segment, 0); }, Errc::not_ready,
               "being formatted by pid " + std::to_string(busy.pid()));
  EXPECT_GE(Clock::now() - start, detail::kLaneFormatWait);
}

TEST(FixedRingThreadsTest, BothEndsAttachingAtOnceAgreeOnTheFormat) {
  for (int round = 0; round < 200; ++round) {
    OneLane<> lane;
    Segment &seg = lane.segment;
    std::optional<Lane::Reader> reader;
    std::thread other([&] { reader.emplace(seg, 0); });
    Lane::Writer writer(seg, 0);
    other.join();
    ASSERT_EQ(writer.try_push(tick(1)), Status::ok);
    Tick t{};
    ASSERT_EQ(reader->try_pop(t), Status::ok);
    ASSERT_TRUE(good(t, 1));
  }
}

// ---- Streams between threads (ThreadSanitizer checks the orderings) ----------------------------

void stream_between_threads(WaitMode mode, bool batches, std::uint64_t count) {
  using Big = FixedRing<Tick, 255>;
  OneLane<Big> lane;
  Segment &seg = lane.segment;
  const WaitPolicy policy{.mode = mode};
  std::atomic<bool> ok{true};
  std::thread consumer([&] {
    Big::Reader reader(seg, 0);
    std::array<Tick, 37> buffer{};
    std::uint64_t seq = 0;
    while (seq < count) {
      const BatchResult got = batches ? reader.pop_some(buffer, 30s, policy)
                                      : BatchResult{1, reader.pop(buffer[0], 30s, policy)};
      if (got.status != Status::ok) {
        ADD_FAILURE() << "element " << seq << ": " << to_string(got.status);
        ok = false;
        return;
      }
      for (std::size_t i = 0; i < got.count; ++i, ++seq)
        if (!good(buffer[i], seq)) {
          ADD_FAILURE() << "element " << seq << " is " << buffer[i].seq;
          ok = false;
          return;
        }
    }
    Tick t{};
    if (reader.pop(t, 30s, policy) != Status::closed)
      ok = false;
  });
  {
    Big::Writer writer(seg, 0);
    std::vector<Tick> run;
    for (std::uint64_t seq = 0; seq < count && ok;) {
      if (batches) {
        run.clear();
        const std::uint64_t n = std::min<std::uint64_t>(1 + seq % 50, count - seq);
        for (std::uint64_t i = 0; i < n; ++i)
          run.push_back(tick(seq + i));
        const BatchResult put = writer.push_all(run, 30s, policy);
        ASSERT_EQ(put.status, Status::ok);
        seq += put.count;
      } else {
        ASSERT_EQ(writer.push(tick(seq), 30s, policy), Status::ok);
        ++seq;
      }
    }
  }
  consumer.join();
  EXPECT_TRUE(ok);
}

TEST(FixedRingThreadsTest, StreamSpinning) {
  stream_between_threads(WaitMode::busy_spin, false, 200000);
}
TEST(FixedRingThreadsTest, StreamYielding) {
  stream_between_threads(WaitMode::spin_then_yield, false, 100000);
}
TEST(FixedRingThreadsTest, StreamBlocking) {
  stream_between_threads(WaitMode::blocking, false, 200000);
}
TEST(FixedRingThreadsTest, StreamBatchesBlocking) {
  stream_between_threads(WaitMode::blocking, true, 400000);
}
TEST(FixedRingThreadsTest, StreamBatchesSpinning) {
  stream_between_threads(WaitMode::busy_spin, true, 400000);
}

// ---- Other processes -----------------------------------------------------------------------

TEST(FixedRingProcessTest, ReaderSeesDeadWriterAfterItsLastElements) {
  for (const bool killed : {true, false}) {
    OneLane<> lane;
    Lane::Reader reader(lane.segment, 0);
    test::Child child([&] {
      Segment mine = lane.open();
      Lane::Writer writer(mine, 0);
      for (std::uint64_t i = 0; i < 3; ++i)
        if (writer.try_push(tick(i)) != Status::ok)
          return 1;
      if (killed)
        ::raise(SIGKILL);
      std::_Exit(0); // no destructors: an exit without close()
    });
    EXPECT_EQ(child.wait(30s), killed ? -SIGKILL : 0);
    const WaitPolicy policy{.liveness_interval = 20ms};
    for (std::uint64_t i = 0; i < 3; ++i) {
      Tick t{};
      ASSERT_EQ(reader.pop(t, 10s, policy), Status::ok) << "pushed before the crash";
      EXPECT_TRUE(good(t, i));
    }
    const auto start = Clock::now();
    Tick t{};
    EXPECT_EQ(reader.pop(t, 20s, policy), Status::peer_dead);
    EXPECT_LT(Clock::now() - start, 10s) << "noticed long before the deadline";
    // Its role is taken over, and the stream goes on.
    Lane::Writer replacement(lane.segment, 0);
    ASSERT_EQ(replacement.try_push(tick(3)), Status::ok);
    ASSERT_EQ(reader.pop(t, 10s), Status::ok);
    EXPECT_TRUE(good(t, 3));
  }
}

TEST(FixedRingProcessTest, WriterSeesDeadReaderInsteadOfWaitingForSpace) {
  OneLane<> lane;
  Lane::Writer writer(lane.segment, 0);
  test::Child child([&] {
    Segment mine = lane.open();
    Lane::Reader reader(mine, 0);
    ::raise(SIGKILL);
    return 2;
  });
  EXPECT_EQ(child.wait(30s), -SIGKILL);
  while (writer.try_push(tick(0)) == Status::ok) {
  }
  const auto start = Clock::now();
  EXPECT_EQ(writer.push(tick(0), 20s, {.liveness_interval = 20ms}), Status::peer_dead);
  EXPECT_LT(Clock::now() - start, 10s);
}

// A stray write zeroes the reader's owner word while it runs, then the reader dies. The writer
// waiting for space must get peer_dead, and sleep meanwhile: not a wake every millisecond (the
// death alarm on the old holder) and timeout at its deadline.
TEST(FixedRingProcessTest, WriterSeesAReaderWhoseWordWasZeroedDie) {
  OneLane<> lane;
  Lane::Writer writer(lane.segment, 0);
  detail::OwnerLine &reader_line = lane.segment.lane(0).control->consumer_owner;
  test::Child child([&] {
    Segment mine = lane.open();
    Lane::Reader reader(mine, 0);
    ::pause();
    return 2;
  });
  // relaxed: polling for the child's claim.
  for (int i = 0; i < 100000 && reader_line.owner.load(std::memory_order_relaxed) == 0; ++i)
    std::this_thread::sleep_for(100us);
  ASSERT_NE(reader_line.owner.load(std::memory_order_relaxed), 0u);
  while (writer.try_push(tick(0)) == Status::ok) {
  }
  EXPECT_EQ(writer.push(tick(0), 20ms), Status::timeout) << "the reader is alive";
  reader_line.owner.store(0, std::memory_order_relaxed); // the stray write
  child.kill_now();
  const std::uint64_t sleeps = writer.stats().producer.sleeps;
  EXPECT_EQ(writer.push(tick(0), 3s), Status::peer_dead);
  EXPECT_LE(writer.stats().producer.sleeps - sleeps, 5u);
}

// With an hour between liveness checks, only the death alarm can end this sleep.
TEST(FixedRingProcessTest, ReaderAsleepIsWokenWhenTheWriterDies) {
  OneLane<> lane;
  Lane::Reader reader(lane.segment, 0);
  int pushed[2];
  ASSERT_EQ(::pipe(pushed), 0);
  test::Child child([&] {
    Segment mine = lane.open();
    Lane::Writer writer(mine, 0);
    const char byte = writer.try_push(tick(0)) == Status::ok ? 1 : 0;
    if (::write(pushed[1], &byte, 1) != 1)
      return 1;
    ::pause();
    return 2;
  });
  char byte = 0;
  ASSERT_EQ(::read(pushed[0], &byte, 1), 1);
  ASSERT_EQ(byte, 1);
  ::close(pushed[0]);
  ::close(pushed[1]);
  const WaitPolicy policy{.liveness_interval = std::chrono::hours(1)};
  Tick t{};
  ASSERT_EQ(reader.pop(t, 10s, policy), Status::ok);
  auto killer = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(300ms); // the reader sleeps by then
    ::kill(child.pid(), SIGKILL);
  });
  const auto start = Clock::now();
  EXPECT_EQ(reader.pop(t, 60s, policy), Status::peer_dead);
  EXPECT_LT(Clock::now() - start, 30s) << "woken by the death alarm, not the deadline";
  killer.get();
  EXPECT_EQ(child.wait(30s), -SIGKILL);
}

TEST(FixedRingProcessTest, SecondWriterInAnotherProcessIsRefused) {
  OneLane<> lane;
  Lane::Writer writer(lane.segment, 0);
  test::Child child([&] {
    Segment mine = lane.open();
    try {
      Lane::Writer second(mine, 0);
    } catch (const Error &e) {
      const bool names_parent =
          std::string(e.what()).find("pid " + std::to_string(::getppid())) != std::string::npos;
      return e.code() == Errc::role_taken && names_parent ? 0 : 1;
    }
    return 2;
  });
  EXPECT_EQ(child.wait(30s), 0);
}

/// The consumer process: pops `count` elements, checks each and a running checksum, then
/// expects the stream to close.
int consume_stream(const std::string &name, const WaitPolicy &policy, bool batches,
                   std::uint64_t count) {
  using Big = FixedRing<Tick, 1023>;
  Segment seg = Segment::open(name);
  Big::Reader reader(seg, 0);
  std::array<Tick, 64> buffer{};
  std::uint64_t seq = 0;
  std::uint64_t sum = 0;
  std::uint64_t expected_sum = 0;
  while (seq < count) {
    const BatchResult got = batches ? reader.pop_some(buffer, 60s, policy)
                                    : BatchResult{1, reader.pop(buffer[0], 60s, policy)};
    if (got.status != Status::ok) {
      std::fprintf(stderr, "consumer: element %llu: %s\n", static_cast<unsigned long long>(seq),
                   std::string(to_string(got.status)).c_str());
      return 10;
    }
    for (std::size_t i = 0; i < got.count; ++i, ++seq) {
      if (buffer[i].seq != seq)
        return 11;
      sum = sum * 31 + buffer[i].check;
      expected_sum = expected_sum * 31 + test::mix(seq);
    }
  }
  if (sum != expected_sum)
    return 12;
  Tick t{};
  if (reader.pop(t, 60s, policy) != Status::closed)
    return 13;
  return reader.stats().consumer.records == count ? 0 : 14;
}

void stream_between_processes(const WaitPolicy &policy, bool batches, std::uint64_t count) {
  using Big = FixedRing<Tick, 1023>;
  OneLane<Big> lane;
  Big::Writer writer(lane.segment, 0);
  test::Child child([&] { return consume_stream(lane.name(), policy, batches, count); });
  std::vector<Tick> run;
  for (std::uint64_t seq = 0; seq < count;) {
    if (batches) {
      run.clear();
      const std::uint64_t n = std::min<std::uint64_t>(1 + test::mix(seq) % 100, count - seq);
      for (std::uint64_t i = 0; i < n; ++i)
        run.push_back(tick(seq + i));
      const BatchResult put = writer.push_all(run, 60s, policy);
      ASSERT_EQ(put.status, Status::ok) << "element " << seq + put.count;
      seq += put.count;
    } else {
      ASSERT_EQ(writer.push(tick(seq), 60s, policy), Status::ok) << "element " << seq;
      ++seq;
    }
  }
  writer.close();
  EXPECT_EQ(child.wait(600s), 0);
  const RingStats stats = writer.stats();
  EXPECT_EQ(stats.producer.records, count);
  std::printf("[ stats    ] %llu elements, producer sleeps %llu, consumer sleeps %llu, wakeups "
              "%llu/%llu\n",
              static_cast<unsigned long long>(stats.producer.records),
              static_cast<unsigned long long>(stats.producer.sleeps),
              static_cast<unsigned long long>(stats.consumer.sleeps),
              static_cast<unsigned long long>(stats.producer.wakeups),
              static_cast<unsigned long long>(stats.consumer.wakeups));
}

std::uint64_t elements() { return test::records_from_env("SHMPIPE_TEST_ELEMENTS", 2'000'000); }

TEST(FixedRingProcessTest, StreamOfMillionsBlocking) {
  stream_between_processes({.mode = WaitMode::blocking}, false, elements());
}
TEST(FixedRingProcessTest, StreamOfMillionsInBatchesSpinning) {
  stream_between_processes({.mode = WaitMode::busy_spin}, true, elements());
}
// Every wait goes to sleep at once, and only a wake ends it early: a lost wake-up stalls the
// stream until the deadline and fails the test.
TEST(FixedRingProcessTest, StreamThatAlwaysSleeps) {
  stream_between_processes({.mode = WaitMode::blocking,
                            .spin_for = std::chrono::nanoseconds(0),
                            .yield_for = std::chrono::nanoseconds(0),
                            .liveness_interval = 60s},
                           false, elements() / 10);
}

} // namespace
} // namespace shmpipe

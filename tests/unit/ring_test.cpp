// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of ring.hpp (RingWriter, RingReader) in one process: records, wrap-around, batches,
// full and empty rings, roles, statistics, and a two-thread stream (run under TSan in CI).
#include <shmpipe/ring.hpp>

#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

std::span<const std::byte> as_bytes(const std::string &s) {
  return {reinterpret_cast<const std::byte *>(s.data()), s.size()};
}

std::string as_string(std::span<const std::byte> b) {
  return {reinterpret_cast<const char *>(b.data()), b.size()};
}

class RingTest : public ::testing::Test {
protected:
  void make(std::uint64_t capacity, const ReaderOptions &reader = {}) {
    guard_.emplace(test::unique_name());
    segment_.emplace(Segment::create(guard_->name(), {.ring_capacity = capacity}));
    writer_.emplace(*segment_);
    reader_.emplace(*segment_, 0, reader);
  }
  /// Writes and reads one record of `payload` bytes, to move both indices forward.
  void advance(std::size_t payload) {
    WriteSlot slot = writer_->try_reserve(payload);
    ASSERT_TRUE(slot) << to_string(slot.status());
    writer_->commit(std::move(slot));
    ReadSlot rec = reader_->try_peek();
    ASSERT_TRUE(rec) << to_string(rec.status());
    reader_->release(std::move(rec));
  }

  std::optional<ScopedRemove> guard_;
  std::optional<Segment> segment_;
  std::optional<RingWriter> writer_;
  std::optional<RingReader> reader_;
};

TEST_F(RingTest, RecordRoundTripsWithTypeAndSequence) {
  make(4096);
  ASSERT_EQ(writer_->try_write(as_bytes("hello"), 7), Status::ok);
  ASSERT_EQ(writer_->try_write(as_bytes("world!"), 8), Status::ok);
  ReadSlot a = reader_->try_peek();
  ASSERT_TRUE(a);
  EXPECT_EQ(as_string(a.bytes()), "hello");
  EXPECT_EQ(a.type(), 7);
  EXPECT_EQ(a.seq(), 0u);
  reader_->release(std::move(a));
  ReadSlot b = reader_->try_peek();
  ASSERT_TRUE(b);
  EXPECT_EQ(as_string(b.bytes()), "world!");
  EXPECT_EQ(b.type(), 8);
  EXPECT_EQ(b.seq(), 1u);
  reader_->release(std::move(b));
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
}

TEST_F(RingTest, ReservedSpanPointsIntoSharedMemoryAndIsAligned) {
  make(4096);
  WriteSlot slot = writer_->try_reserve(40);
  ASSERT_TRUE(slot);
  const auto *begin = segment_->base();
  const auto *end = begin + segment_->size_bytes();
  EXPECT_GE(slot.bytes().data(), begin);
  EXPECT_LE(slot.bytes().data() + slot.bytes().size(), end);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(slot.bytes().data()) % kRecordAlign, 0u);
  std::memset(slot.bytes().data(), 0x5a, 40);
  const std::byte *written = slot.bytes().data();
  writer_->commit(std::move(slot));
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec.bytes().data(), written) << "the reader must see the bytes in place";
}

TEST_F(RingTest, PeekReturnsSameRecordUntilReleased) {
  make(4096);
  ASSERT_EQ(writer_->try_write(as_bytes("x")), Status::ok);
  ReadSlot first = reader_->try_peek();
  ReadSlot again = reader_->try_peek();
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first.bytes().data(), again.bytes().data());
  EXPECT_EQ(first.seq(), again.seq());
}

TEST_F(RingTest, ZeroLengthRecordsAreRecords) {
  make(256);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(writer_->try_write({}, 3), Status::ok);
    ReadSlot rec = reader_->try_peek();
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec.bytes().size(), 0u);
    EXPECT_EQ(rec.type(), 3);
    reader_->release(std::move(rec));
  }
}

TEST_F(RingTest, FullRingRefusesThenAcceptsAfterRelease) {
  make(256); // 8 records of 16 payload bytes (32 bytes each)
  int written = 0;
  while (writer_->try_write(as_bytes("0123456789abcdef")) == Status::ok)
    ++written;
  EXPECT_EQ(written, 8);
  EXPECT_EQ(writer_->try_reserve(16).status(), Status::full);
  EXPECT_GE(writer_->stats().producer.stalls, 1u);
  reader_->release(reader_->try_peek());
  EXPECT_EQ(writer_->try_write(as_bytes("0123456789abcdef")), Status::ok);
}

TEST_F(RingTest, EmptyRingSaysEmptyAndCountsStall) {
  make(256);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
  EXPECT_EQ(reader_->try_peek_batch().status(), Status::empty);
  EXPECT_EQ(reader_->stats().consumer.stalls, 2u);
}

TEST_F(RingTest, LargestPayloadIsCapacityMinusHeader) {
  make(1024);
  EXPECT_EQ(writer_->max_payload(), 1024u - 16u);
  EXPECT_EQ(writer_->try_reserve(1024 - 15).status(), Status::too_large);
  EXPECT_EQ(writer_->try_reserve(std::size_t{1} << 40).status(), Status::too_large);
  WriteSlot slot = writer_->try_reserve(1024 - 16);
  ASSERT_TRUE(slot);
  EXPECT_EQ(slot.bytes().size(), 1024u - 16u);
}

TEST_F(RingTest, LargestPayloadFitsFromEveryStartingOffset) {
  constexpr std::uint64_t kCapacity = 512;
  for (std::uint64_t offset = 0; offset < kCapacity; offset += kRecordAlign) {
    make(kCapacity);
    if (offset != 0)
      advance(offset - 16); // one record of `offset` bytes
    WriteSlot slot = writer_->try_reserve(writer_->max_payload());
    if (!slot) {
      // Padding to the end went out first; the consumer must skip it before the ring is empty.
      ASSERT_EQ(slot.status(), Status::full) << "offset " << offset;
      EXPECT_EQ(reader_->try_peek().status(), Status::empty);
      slot = writer_->try_reserve(writer_->max_payload());
    }
    ASSERT_TRUE(slot) << "offset " << offset << ": " << to_string(slot.status());
    test::fill_pattern(slot.bytes(), offset);
    writer_->commit(std::move(slot));
    ReadSlot rec = reader_->try_peek();
    ASSERT_TRUE(rec);
    EXPECT_TRUE(test::check_pattern(rec.bytes(), offset));
    reader_.reset();
    writer_.reset();
    segment_.reset();
  }
}

TEST_F(RingTest, WrapAroundAtEveryAlignmentKeepsPayloadsContiguous) {
  constexpr std::uint64_t kCapacity = 256;
  std::uint64_t seq = 0;
  for (std::uint64_t offset = 0; offset < kCapacity; offset += kRecordAlign) {
    for (std::size_t size = 0; size <= kCapacity - 16; size += 7) {
      make(kCapacity);
      if (offset != 0)
        advance(offset - 16);
      // Two records: the second one wraps (or not) depending on offset and size.
      for (int i = 0; i < 2; ++i, ++seq) {
        WriteSlot slot = writer_->try_reserve(size);
        if (!slot) {
          ASSERT_EQ(slot.status(), Status::full);
          EXPECT_EQ(reader_->try_peek().status(), Status::empty); // skips the padding
          slot = writer_->try_reserve(size);
        }
        ASSERT_TRUE(slot) << "offset " << offset << " size " << size;
        const auto *data = segment_->ring(0).data;
        ASSERT_GE(slot.bytes().data(), data);
        ASSERT_LE(slot.bytes().data() + size, data + kCapacity) << "payload must not wrap";
        test::fill_pattern(slot.bytes(), seq);
        writer_->commit(std::move(slot));
        ReadSlot rec = reader_->try_peek();
        ASSERT_TRUE(rec);
        ASSERT_EQ(rec.bytes().size(), size);
        ASSERT_TRUE(test::check_pattern(rec.bytes(), seq)) << "offset " << offset;
        reader_->release(std::move(rec));
      }
      reader_.reset();
      writer_.reset();
      segment_.reset();
    }
  }
}

TEST_F(RingTest, StagedRecordsAreInvisibleUntilPublished) {
  make(4096);
  for (int i = 0; i < 10; ++i) {
    WriteSlot slot = writer_->try_reserve(8);
    ASSERT_TRUE(slot);
    std::memcpy(slot.bytes().data(), &i, sizeof i);
    writer_->stage(std::move(slot), 1);
  }
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
  EXPECT_EQ(writer_->stats().producer.records, 0u);
  writer_->publish();
  EXPECT_EQ(writer_->stats().producer.records, 10u);

  ReadBatch batch = reader_->try_peek_batch();
  ASSERT_EQ(batch.status(), Status::ok);
  int expected = 0;
  while (ReadSlot rec = batch.next()) {
    int got = -1;
    std::memcpy(&got, rec.bytes().data(), sizeof got);
    EXPECT_EQ(got, expected);
    EXPECT_EQ(rec.seq(), static_cast<std::uint64_t>(expected));
    ++expected;
  }
  EXPECT_EQ(expected, 10);
  EXPECT_EQ(batch.count(), 10u);
  // Nothing is released until the batch is.
  EXPECT_EQ(reader_->stats().consumer.records, 0u);
  reader_->release(std::move(batch));
  EXPECT_EQ(reader_->stats().consumer.records, 10u);
  EXPECT_EQ(reader_->stats().consumer.bytes, 80u);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
}

TEST_F(RingTest, BatchReleasesOnlyWhatWasHandedOut) {
  make(4096);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(writer_->try_write(as_bytes("abc")), Status::ok);
  ReadBatch batch = reader_->try_peek_batch(3);
  int n = 0;
  while (batch.next())
    ++n;
  EXPECT_EQ(n, 3);
  reader_->release(std::move(batch));
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec.seq(), 3u);
}

TEST_F(RingTest, BatchAcrossTheWrapSkipsPadding) {
  make(256);
  advance(176 - 16); // write index at 176
  for (int i = 0; i < 4; ++i) {
    WriteSlot slot = writer_->try_reserve(24); // 48 bytes each: the 2nd one wraps
    ASSERT_TRUE(slot) << i;
    test::fill_pattern(slot.bytes(), 100 + static_cast<std::uint64_t>(i));
    writer_->stage(std::move(slot));
  }
  writer_->publish();
  ReadBatch batch = reader_->try_peek_batch();
  std::uint64_t k = 100;
  while (ReadSlot rec = batch.next())
    EXPECT_TRUE(test::check_pattern(rec.bytes(), k++));
  EXPECT_EQ(k, 104u);
  reader_->release(std::move(batch));
  EXPECT_EQ(reader_->stats().consumer.wraps, 1u);
  EXPECT_EQ(writer_->stats().producer.wraps, 1u);
}

TEST_F(RingTest, ShrinkCommitsOnlyTheUsedBytes) {
  make(4096);
  WriteSlot slot = writer_->try_reserve(1000);
  ASSERT_TRUE(slot);
  std::memcpy(slot.bytes().data(), "abc", 3);
  slot.shrink(3);
  writer_->commit(std::move(slot));
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  EXPECT_EQ(as_string(rec.bytes()), "abc");
  reader_->release(std::move(rec));
  // The unused 997 bytes went back to the ring: it holds 4096 bytes again.
  EXPECT_TRUE(writer_->try_reserve(writer_->max_payload()) ||
              writer_->try_reserve(writer_->max_payload()).status() == Status::full);
}

// commit_tail() at every front size and from every 16-byte start offset, across the wrap: the
// tail arrives where it was written (same address), in order, with gapless sequence numbers,
// and the front goes back to the ring as padding.
TEST_F(RingTest, CommitTailPublishesTheTailInPlaceFromEveryOffset) {
  make(1024);
  std::uint64_t seq = 0;
  for (std::uint64_t start = 0; start < 1024; start += 16) {
    for (std::size_t front : {std::size_t{0}, std::size_t{16}, std::size_t{48}, std::size_t{400}}) {
      for (std::size_t tail : {std::size_t{0}, std::size_t{5}, std::size_t{64}}) {
        WriteSlot slot = writer_->try_reserve(front + tail);
        ASSERT_TRUE(slot) << to_string(slot.status());
        std::byte *where = slot.bytes().data() + front;
        for (std::size_t i = 0; i < tail; ++i)
          where[i] = static_cast<std::byte>(i + seq);
        writer_->commit_tail(std::move(slot), tail, 9);
        ReadSlot rec = reader_->try_peek();
        ASSERT_TRUE(rec) << to_string(rec.status());
        EXPECT_EQ(rec.bytes().data(), where);
        ASSERT_EQ(rec.bytes().size(), tail);
        for (std::size_t i = 0; i < tail; ++i)
          ASSERT_EQ(rec.bytes()[i], static_cast<std::byte>(i + seq));
        EXPECT_EQ(rec.type(), 9);
        EXPECT_EQ(rec.seq(), seq++);
        reader_->release(std::move(rec));
        EXPECT_EQ(reader_->try_peek().status(), Status::empty);
      }
    }
    advance(0); // moves the start by 16
    ++seq;
  }
  const RingStats stats = reader_->stats();
  EXPECT_EQ(stats.producer.records, seq);
  EXPECT_EQ(stats.consumer.records, seq);
  EXPECT_EQ(stats.producer.wraps, stats.consumer.wraps);
}

TEST_F(RingTest, CommitTailBatchesAndRefusesAMisalignedFront) {
  make(4096);
  WriteSlot a = writer_->try_reserve(64 + 3);
  ASSERT_TRUE(a);
  std::memcpy(a.bytes().data() + 64, "one", 3);
  writer_->stage_tail(std::move(a), 3);
  WriteSlot b = writer_->try_reserve(32 + 3);
  ASSERT_TRUE(b);
  std::memcpy(b.bytes().data() + 32, "two", 3);
  writer_->stage_tail(std::move(b), 3);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty); // staged only
  writer_->publish();
  ReadBatch batch = reader_->try_peek_batch();
  ASSERT_EQ(batch.status(), Status::ok);
  ReadSlot one = batch.next();
  ReadSlot two = batch.next();
  ASSERT_TRUE(one && two);
  EXPECT_EQ(as_string(one.bytes()), "one");
  EXPECT_EQ(as_string(two.bytes()), "two");
  EXPECT_FALSE(batch.next());
  reader_->release(std::move(batch));
#ifdef NDEBUG // a misaligned front is an assertion in debug builds
  WriteSlot c = writer_->try_reserve(20);
  ASSERT_TRUE(c);
  writer_->commit_tail(std::move(c), 12); // front of 8 bytes: refused, nothing published
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
#endif
}

TEST_F(RingTest, DroppedSlotPublishesNothing) {
  make(4096);
  { WriteSlot slot = writer_->try_reserve(100); }
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
  ASSERT_EQ(writer_->try_write(as_bytes("z")), Status::ok);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec.seq(), 0u);
}

TEST_F(RingTest, SecondWriterOrReaderInTheSameProcessIsRefused) {
  make(4096);
  try {
    RingWriter second(*segment_);
    FAIL() << "a second producer attached";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::role_taken);
    EXPECT_NE(std::string(e.what()).find(guard_->name()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("producer"), std::string::npos);
  }
  EXPECT_THROW(RingReader second(*segment_), Error);
  writer_.reset();
  EXPECT_NO_THROW(RingWriter again(*segment_)); // free once the first one closed
}

TEST_F(RingTest, ClosedAfterProducerClosesAndEverythingIsRead) {
  make(4096);
  ASSERT_EQ(writer_->try_write(as_bytes("last")), Status::ok);
  writer_->close();
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << "records published before close are still delivered";
  reader_->release(std::move(rec));
  EXPECT_EQ(reader_->try_peek().status(), Status::closed);
  EXPECT_EQ(reader_->try_peek_batch().status(), Status::closed);
}

TEST_F(RingTest, ClosedEndsAreClosedButKeepTheirStatistics) {
  make(4096);
  ASSERT_EQ(writer_->try_write(as_bytes("s")), Status::ok);
  writer_->close();
  writer_->close(); // idempotent
  EXPECT_EQ(writer_->try_reserve(1).status(), Status::closed);
  EXPECT_EQ(writer_->stats().producer.records, 1u);
  reader_->close();
  EXPECT_EQ(reader_->try_peek().status(), Status::closed);
  EXPECT_EQ(reader_->try_peek_batch().status(), Status::closed);
  EXPECT_EQ(reader_->stats().producer.records, 1u);
}

TEST_F(RingTest, CloseBeforePublishDeliversStagedRecords) {
  make(4096);
  WriteSlot slot = writer_->try_reserve(4);
  ASSERT_TRUE(slot);
  writer_->stage(std::move(slot));
  writer_.reset();
  EXPECT_TRUE(reader_->try_peek());
}

TEST_F(RingTest, SequenceContinuesWithTheNextProducer) {
  make(4096);
  ASSERT_EQ(writer_->try_write(as_bytes("a")), Status::ok);
  writer_.reset();
  writer_.emplace(*segment_);
  ASSERT_EQ(writer_->try_write(as_bytes("b")), Status::ok);
  reader_->release(reader_->try_peek());
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.seq(), 1u);
  EXPECT_EQ(as_string(rec.bytes()), "b");
}

// A producer that died between storing its write index and its sequence number left the
// stored number behind; its successor takes the exact one from the unread records.
TEST_F(RingTest, NextProducerRecoversTheSequenceFromUnreadRecords) {
  make(4096);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(writer_->try_write(as_bytes("p")), Status::ok);
  reader_->release(reader_->try_peek());
  writer_.reset();
  segment_->ring(0).control->producer_index.next_seq.store(2, std::memory_order_relaxed);
  writer_.emplace(*segment_);
  ASSERT_EQ(writer_->try_write(as_bytes("q")), Status::ok);
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    ReadSlot rec = reader_->try_peek();
    ASSERT_TRUE(rec) << seq << ": " << to_string(rec.status());
    EXPECT_EQ(rec.seq(), seq);
    reader_->release(std::move(rec));
  }
}

// With nothing unread, the consumer's number (stored after its read index) is the bound.
TEST_F(RingTest, NextProducerRecoversTheSequenceFromTheConsumer) {
  make(4096);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(writer_->try_write(as_bytes("p")), Status::ok);
    reader_->release(reader_->try_peek());
  }
  writer_.reset();
  segment_->ring(0).control->producer_index.next_seq.store(0, std::memory_order_relaxed);
  writer_.emplace(*segment_);
  ASSERT_EQ(writer_->try_write(as_bytes("q")), Status::ok);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.seq(), 3u);
}

// A consumer that died between storing its read index and its sequence number left the stored
// number behind; its successor accepts the first record's number once.
TEST_F(RingTest, NextReaderResynchronizesOnItsFirstRecordOnly) {
  make(4096);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(writer_->try_write(as_bytes("c")), Status::ok);
  reader_->release(reader_->try_peek());
  reader_->release(reader_->try_peek());
  reader_.reset();
  segment_->ring(0).control->consumer_index.next_seq.store(1, std::memory_order_relaxed);
  reader_.emplace(*segment_);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.seq(), 2u);
  reader_->release(std::move(rec));
  rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec.seq(), 3u);
}

TEST_F(RingTest, ReaderReattachResumesWhereTheLastOneStopped) {
  make(4096);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(writer_->try_write(as_bytes("r")), Status::ok);
  reader_->release(reader_->try_peek());
  reader_.reset();
  reader_.emplace(*segment_);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.seq(), 1u);
}

TEST_F(RingTest, StatisticsCountRecordsAndBytesOnBothSides) {
  make(1024);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(writer_->try_write(as_bytes(std::string(static_cast<std::size_t>(i), 'q'))),
              Status::ok);
    reader_->release(reader_->try_peek());
  }
  const RingStats stats = reader_->stats();
  EXPECT_EQ(stats.producer.records, 100u);
  EXPECT_EQ(stats.consumer.records, 100u);
  EXPECT_EQ(stats.producer.bytes, 99u * 100u / 2u);
  EXPECT_EQ(stats.consumer.bytes, stats.producer.bytes);
  EXPECT_GT(stats.producer.wraps, 0u);
  EXPECT_EQ(stats.producer.wraps, stats.consumer.wraps);
  EXPECT_EQ(stats.producer.wakeups, 0u) << "nobody slept, so nobody was woken";
}

TEST_F(RingTest, MovedFromEndsAreClosedAndHarmless) {
  make(4096);
  WriteSlot early = writer_->try_reserve(8);
  ASSERT_TRUE(early);
  RingWriter moved_writer = std::move(*writer_);
  writer_->commit(std::move(early)); // the old handle: a no-op, no crash, nothing published
  EXPECT_EQ(writer_->try_reserve(8).status(), Status::closed);
  writer_->publish();
  writer_->close();
  EXPECT_EQ(writer_->stats().producer.records, 0u);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);

  ASSERT_EQ(moved_writer.try_write(as_bytes("m")), Status::ok);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  RingReader moved_reader = std::move(*reader_);
  reader_->release(std::move(rec)); // the old handle: a no-op
  EXPECT_EQ(reader_->try_peek().status(), Status::closed);
  EXPECT_EQ(reader_->try_peek_batch().status(), Status::closed);
  ReadSlot again = moved_reader.try_peek();
  ASSERT_TRUE(again) << "nothing was released through the moved-from reader";
  EXPECT_EQ(again.seq(), 0u);
}

TEST_F(RingTest, MovedFromSlotsSayClosed) {
  make(4096);
  WriteSlot slot = writer_->try_reserve(8);
  WriteSlot taken = std::move(slot);
  EXPECT_FALSE(slot);
  EXPECT_EQ(slot.status(), Status::closed);
  writer_->commit(std::move(taken));
  EXPECT_EQ(taken.status(), Status::closed) << "a committed slot is spent";
  ReadSlot rec = reader_->try_peek();
  ReadSlot rec2 = std::move(rec);
  EXPECT_FALSE(rec);
  EXPECT_EQ(rec.status(), Status::closed);
}

TEST_F(RingTest, SpentOrStaleBatchYieldsNothingAndHarmsNothing) {
  make(4096);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(writer_->try_write(as_bytes("b")), Status::ok);
  ReadBatch batch = reader_->try_peek_batch();
  ASSERT_TRUE(batch.next());
  reader_->release(std::move(batch));
  EXPECT_EQ(batch.next().status(), Status::empty);
  // A batch overtaken by a single release is stale too.
  ReadBatch stale = reader_->try_peek_batch();
  reader_->release(reader_->try_peek());
  EXPECT_EQ(stale.next().status(), Status::empty);
  reader_->release(std::move(stale));
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.seq(), 2u);
}

TEST_F(RingTest, FullRingPublishesWhatWasStaged) {
  make(256);
  int staged = 0;
  for (;;) {
    WriteSlot slot = writer_->try_reserve(16);
    if (!slot) {
      EXPECT_EQ(slot.status(), Status::full);
      break;
    }
    writer_->stage(std::move(slot));
    ++staged;
  }
  EXPECT_EQ(staged, 8);
  // Without this the ring would stay full forever: only the consumer can make room.
  ReadBatch batch = reader_->try_peek_batch();
  int seen = 0;
  while (batch.next())
    ++seen;
  EXPECT_EQ(seen, 8);
}

#ifdef NDEBUG // with assertions on, this misuse stops the program instead
TEST_F(RingTest, SlotOfAnotherWriterIsRefused) {
  make(4096);
  ScopedRemove other_guard(test::unique_name("other"));
  Segment other = Segment::create(other_guard.name(), {.ring_capacity = 4096});
  RingWriter other_writer(other);
  writer_->commit(other_writer.try_reserve(8));
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
}
#endif

TEST_F(RingTest, NewProducerMayRestartTheSequence) {
  make(4096);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(writer_->try_write(as_bytes("p")), Status::ok);
    reader_->release(reader_->try_peek());
  }
  writer_.reset();
  // The worst case of two crashes: both stored numbers behind, nothing unread.
  auto *control = segment_->ring(0).control;
  control->producer_index.next_seq.store(1, std::memory_order_relaxed);
  control->consumer_index.next_seq.store(1, std::memory_order_relaxed);
  writer_.emplace(*segment_);
  ASSERT_EQ(writer_->try_write(as_bytes("r")), Status::ok);
  ASSERT_EQ(writer_->try_write(as_bytes("s")), Status::ok);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec) << "the restart flag lets the live consumer follow";
  EXPECT_EQ(rec.seq(), 1u);
  reader_->release(std::move(rec));
  rec = reader_->try_peek();
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.seq(), 2u);
}

TEST_F(RingTest, ShortDeadlinesStillNoticeADeadPeer) {
  make(256);
  const std::uint64_t dead = detail::make_owner_token(0x3ffffff0, 1); // no such process
  auto *control = segment_->ring(0).control;
  writer_.reset();
  // As if the producer had crashed instead of closing: a dead owner, no closed flag.
  control->producer_owner.owner.store(dead, std::memory_order_relaxed);
  control->producer_owner.closed.store(0, std::memory_order_relaxed);
  EXPECT_EQ(reader_->peek(deadline_after(5ms)).status(), Status::peer_dead);
  control->producer_owner.owner.store(0, std::memory_order_relaxed);
  writer_.emplace(*segment_);
  reader_.reset();
  control->consumer_owner.owner.store(dead, std::memory_order_relaxed);
  while (writer_->try_write(as_bytes("0123456789")) == Status::ok) {
  }
  EXPECT_EQ(writer_->reserve(10, deadline_after(5ms)).status(), Status::peer_dead);
}

/// Waits until `line` has an owner (a child claimed it); false after ~10 s.
bool wait_for_claim(const detail::OwnerLine &line) {
  // relaxed: polling for the child's claim; what is read afterwards has its own acquire.
  for (int i = 0; i < 100000 && line.owner.load(std::memory_order_relaxed) == 0; ++i)
    std::this_thread::sleep_for(100us);
  return line.owner.load(std::memory_order_relaxed) != 0;
}

// A stray write zeroes the owner word of a running producer (in another process), and then
// the producer exits. The waiting consumer must report peer_dead and stop, not take the zero
// for "nobody was ever there" and wait out its deadline, woken every millisecond by the death
// alarm that still watches the old holder (that is 1000 wakes a second, and `timeout` at the
// end instead of peer_dead).
TEST(RingPeerTest, AProducerWhoseOwnerWordWasZeroedIsStillSeenToDie) {
  // Zeroed while the consumer waits, or before it ever waited (it saw the holder at attach).
  for (const bool waited_first : {true, false}) {
    ScopedRemove guard(test::unique_name());
    Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096});
    detail::RingControl &control = *segment.ring(0).control;
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    test::Child producer([&] {
      ::close(go[1]);
      RingWriter writer(segment);
      char c;
      while (::read(go[0], &c, 1) > 0) { // until the parent closes the pipe
      }
      return 0; // the writer's close() finds the word is not its own: it leaves `closed` at 0
    });
    ::close(go[0]);
    ASSERT_TRUE(wait_for_claim(control.producer_owner));
    RingReader reader(segment);
    if (waited_first) {
      EXPECT_EQ(reader.peek(20ms).status(), Status::timeout) << "the producer is alive";
    }
    control.producer_owner.owner.store(0, std::memory_order_relaxed); // the stray write
    ::close(go[1]);
    const std::uint64_t sleeps_before = reader.stats().consumer.sleeps;
    EXPECT_EQ(reader.peek(3s).status(), Status::peer_dead) << waited_first;
    // A handful of sleeps at most (the producer may exit while we sleep: one wake), not one
    // per millisecond until the deadline.
    EXPECT_LE(reader.stats().consumer.sleeps - sleeps_before, 5u) << waited_first;
    EXPECT_EQ(producer.wait(10s), 0);
    EXPECT_EQ(reader.peek(5ms).status(), Status::peer_dead) << "and it stays dead";
  }
}

// A producer process whose main thread has exited (pthread_exit) while another thread goes on
// writing shows state Z in /proc/PID/stat. It is alive: a second producer must be refused
// (before: it took the role over, two producers on one ring), and the consumer must not get
// peer_dead from it; it gets its records, and peer_dead once the process really exits.
TEST(RingPeerTest, AProducerWhoseMainThreadExitedKeepsItsRole) {
  if (detail::kThreadSanitizer)
    GTEST_SKIP() << "ThreadSanitizer kills a child that starts a thread after fork()";
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096});
  detail::RingControl &control = *segment.ring(0).control;
  static int go[2]; // static: the child's worker thread reads it after main has gone
  ASSERT_EQ(::pipe(go), 0);
  static Segment *shared = &segment;
  test::Child producer([] {
    ::close(go[1]);
    static RingWriter *writer = new RingWriter(*shared); // outlives the main thread's frame
    pthread_t worker;
    if (::pthread_create(
            &worker, nullptr,
            [](void *) -> void * {
              char c;
              while (::read(go[0], &c, 1) > 0)
                static_cast<void>(writer->try_write(
                    std::span<const std::byte>(reinterpret_cast<const std::byte *>(&c), 1)));
              ::_exit(0); // the pipe closed: the whole process exits
            },
            nullptr) != 0)
      return 3;
    // What pthread_exit() does to the main thread, without unwinding through the test
    // framework's frames.
    ::syscall(SYS_exit, 0);
    return 4;
  });
  ::close(go[0]);
  ASSERT_TRUE(wait_for_claim(control.producer_owner));
  for (int i = 0; i < 100000 && detail::read_process(producer.pid()).state != 'Z'; ++i)
    std::this_thread::sleep_for(100us);
  ASSERT_EQ(detail::read_process(producer.pid()).state, 'Z') << "the main thread did not exit";
  try {
    RingWriter second(segment);
    ADD_FAILURE() << "a second producer took the role of a live one";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::role_taken) << e.what();
  }
  RingReader reader(segment);
  EXPECT_EQ(reader.peek(20ms).status(), Status::timeout) << "the producer is alive";
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ReadSlot slot = reader.peek(10s);
  ASSERT_TRUE(slot) << to_string(slot.status());
  EXPECT_EQ(as_string(slot.bytes()), "x");
  reader.release(std::move(slot));
  ::close(go[1]);
  EXPECT_EQ(reader.peek(10s).status(), Status::peer_dead);
  EXPECT_EQ(producer.wait(10s), 0);
}

// A claimer that cannot read /proc/self/stat when it claims (here: out of file descriptors;
// likewise a sandbox without /proc) used to store start time 0, and every process that can read
// /proc then judged it dead: a second producer took its role while it ran.
TEST(RingPeerTest, AProducerThatCouldNotReadItsStartTimeKeepsItsRole) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096});
  detail::RingControl &control = *segment.ring(0).control;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  test::Child producer([&] {
    ::close(go[1]);
    // A forked child has not read its own start time yet; now it cannot.
    const rlimit low{16, 16};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0)
      return 3;
    while (::dup(0) >= 0) {
    }
    RingWriter writer(segment);
    char c;
    while (::read(go[0], &c, 1) > 0) {
    }
    ::_exit(0); // as if it crashed: no close(), so its death is what the consumer learns
  });
  ::close(go[0]);
  ASSERT_TRUE(wait_for_claim(control.producer_owner));
  try {
    RingWriter second(segment);
    ADD_FAILURE() << "a second producer took the role of a live one";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::role_taken) << e.what();
  }
  RingReader reader(segment);
  EXPECT_EQ(reader.peek(20ms).status(), Status::timeout) << "the producer is alive";
  ::close(go[1]);
  EXPECT_EQ(producer.wait(10s), 0);
  EXPECT_EQ(reader.peek(10s).status(), Status::peer_dead);
}

TEST_F(RingTest, ProducerWaitingForSpaceLearnsTheConsumerLeft) {
  make(256);
  while (writer_->try_write(as_bytes("0123456789")) == Status::ok) {
  }
  reader_.reset();
  EXPECT_EQ(writer_->reserve(10, deadline_after(5ms)).status(), Status::closed);
}

TEST_F(RingTest, BadRingIndexThrows) {
  make(4096);
  EXPECT_THROW(RingWriter(*segment_, 1), Error);
}

// ReaderOptions::read_only_data: the reader reads through a read-only mapping of its own; the
// writer (here in the same process) keeps writing through the segment's read-write mapping.

/// The permissions ("r--s", "rw-s", ...) of this process's mapping that holds `address`, from
/// /proc/self/maps; empty when nothing is mapped there.
std::string permissions_at(const void *address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream fields(line);
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::string permissions;
    fields >> std::hex >> begin >> dash >> end >> permissions;
    if (at >= begin && at < end)
      return permissions;
  }
  return {};
}

/// How many read-only views (PROT_READ, MAP_SHARED) of segment `name` this process maps.
int read_only_views(const std::string &name) {
  const std::string path = "/dev/shm/" + name;
  std::ifstream maps("/proc/self/maps");
  int views = 0;
  for (std::string line; std::getline(maps, line);) {
    std::istringstream fields(line);
    std::string range, permissions, offset, device, inode, file;
    fields >> range >> permissions >> offset >> device >> inode >> file;
    views += file == path && permissions == "r--s" ? 1 : 0;
  }
  return views;
}

TEST_F(RingTest, ReadOnlyDataReadsEveryRecordAcrossWraps) {
  // 256 bytes: a wrap every few records. Single records and batches take turns.
  make(256, {.read_only_data = true});
  const std::byte *rw_begin = segment_->base();
  const std::byte *rw_end = rw_begin + segment_->size_bytes();
  EXPECT_EQ(read_only_views(guard_->name()), 1);
  std::uint64_t written = 0;
  std::uint64_t read = 0;
  auto check = [&](const ReadSlot &rec) {
    ASSERT_TRUE(rec) << to_string(rec.status());
    EXPECT_EQ(rec.seq(), read);
    ASSERT_EQ(rec.bytes().size(), test::record_size_for(read, 100));
    EXPECT_TRUE(test::check_pattern(rec.bytes(), read)) << "record " << read;
    const std::byte *at = rec.bytes().data();
    EXPECT_TRUE(at < rw_begin || at >= rw_end) << "read through the read-write mapping";
    ++read;
  };
  for (int round = 0; round < 300; ++round) {
    while (WriteSlot slot = writer_->try_reserve(test::record_size_for(written, 100))) {
      test::fill_pattern(slot.bytes(), written++);
      writer_->commit(std::move(slot));
    }
    if (round % 2 == 0) {
      ReadBatch batch = reader_->try_peek_batch();
      ASSERT_EQ(batch.status(), Status::ok);
      while (ReadSlot rec = batch.next())
        check(rec);
      reader_->release(std::move(batch));
    } else {
      while (ReadSlot rec = reader_->try_peek()) {
        check(rec);
        reader_->release(std::move(rec));
      }
    }
    ASSERT_EQ(read, written) << "round " << round;
  }
  EXPECT_GT(reader_->stats().consumer.wraps, 100u);
}

/// SIGSEGV handler for the death test below: says whether the fault is the one expected, a
/// write denied by the protection (SEGV_ACCERR) at exactly `g_fault_address`, and exits.
const void *g_fault_address = nullptr;
void report_fault(int, siginfo_t *info, void *) {
  static constexpr char kExpected[] = "write into the record faulted: SEGV_ACCERR at its address\n";
  static constexpr char kOther[] = "some other SIGSEGV\n";
  const bool expected = info->si_code == SEGV_ACCERR && info->si_addr == g_fault_address;
  const char *text = expected ? kExpected : kOther;
  const std::size_t size = expected ? sizeof kExpected - 1 : sizeof kOther - 1;
  if (::write(STDERR_FILENO, text, size) < 0) {
  }
  ::_exit(expected ? 3 : 4);
}

/// Writes one byte at `target` (in a death test's child), reporting the fault it should cause.
void write_one_byte(std::byte *target) {
  g_fault_address = target;
  struct sigaction action {};
  action.sa_sigaction = report_fault;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGSEGV, &action, nullptr);
  *static_cast<volatile std::byte *>(target) = std::byte{0x5a};
}

TEST_F(RingTest, ReadOnlyDataFaultsOnAWriteIntoARecord) {
  make(4096, {.read_only_data = true});
  ASSERT_EQ(writer_->try_write(as_bytes("untouchable")), Status::ok);
  ReadSlot rec = reader_->try_peek();
  ASSERT_TRUE(rec);
  auto *target = const_cast<std::byte *>(rec.bytes().data());
  EXPECT_EQ(permissions_at(target), "r--s");
  EXPECT_EQ(permissions_at(segment_->ring(0).data), "rw-s");
  // The child (fork) inherits the mapping. A sanitizer that keeps SIGSEGV to itself reports
  // it instead of our handler ("SEGV on unknown address ... WRITE memory access").
  EXPECT_DEATH(write_one_byte(target), "write into the record faulted|SEGV on unknown address");
  EXPECT_EQ(as_string(rec.bytes()), "untouchable");
  // The first record's payload is at offset 16 of the region in both mappings: a write
  // through the read-write one is what the read-only one shows (the same pages).
  std::memcpy(segment_->ring(0).data + 16, "UN", 2);
  EXPECT_EQ(as_string(rec.bytes()), "UNtouchable");
}

// The mapping belongs to the reader: moved with it (a held record stays readable), unmapped
// when a move assignment replaces the reader that owned it or when the reader is destroyed,
// kept after close() (records handed out before stay readable).
TEST(RingReadOnlyTest, TheMappingMovesWithTheReaderAndGoesWithIt) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096, .rings = 2});
  RingWriter writer0(segment, 0);
  RingWriter writer1(segment, 1);
  ASSERT_EQ(writer0.try_write(as_bytes("zero")), Status::ok);
  ASSERT_EQ(writer1.try_write(as_bytes("one")), Status::ok);
  {
    RingReader plain(segment, 0);
    EXPECT_EQ(read_only_views(guard.name()), 0) << "the option is off by default";
  }
  std::optional<RingReader> reader0(std::in_place, segment, 0,
                                    ReaderOptions{.read_only_data = true});
  RingReader reader1(segment, 1, {.read_only_data = true});
  EXPECT_EQ(read_only_views(guard.name()), 2);

  ReadSlot zero = reader0->try_peek();
  ASSERT_TRUE(zero);
  const std::byte *view0 = zero.bytes().data();
  std::optional<RingReader> sut(std::in_place, std::move(*reader0));
  reader0.reset(); // the moved-from reader owns nothing
  EXPECT_EQ(read_only_views(guard.name()), 2);
  EXPECT_EQ(permissions_at(view0), "r--s");
  EXPECT_EQ(as_string(zero.bytes()), "zero") << "a held record survives the move";
  sut->release(std::move(zero));
  ASSERT_EQ(writer0.try_write(as_bytes("again")), Status::ok);
  ReadSlot again = sut->try_peek();
  ASSERT_TRUE(again);
  EXPECT_EQ(as_string(again.bytes()), "again");
  EXPECT_EQ(permissions_at(again.bytes().data()), "r--s");
  sut->release(std::move(again));

  ReadSlot one = reader1.try_peek();
  ASSERT_TRUE(one);
  *sut = std::move(reader1); // ring 0's view goes, ring 1's comes
  EXPECT_EQ(read_only_views(guard.name()), 1);
  EXPECT_NE(permissions_at(view0), "r--s");
  EXPECT_EQ(reader1.try_peek().status(), Status::closed);
  EXPECT_EQ(as_string(one.bytes()), "one");
  sut->release(std::move(one));
  ASSERT_EQ(writer1.try_write(as_bytes("more")), Status::ok);
  ReadSlot more = sut->try_peek();
  ASSERT_TRUE(more);
  sut->close();
  EXPECT_EQ(as_string(more.bytes()), "more") << "still mapped after close()";
  EXPECT_EQ(read_only_views(guard.name()), 1);
  sut.reset();
  EXPECT_EQ(read_only_views(guard.name()), 0) << "the destroyed reader unmapped its view";
}

// Two threads, one process: the stream arrives complete and in order. Under ThreadSanitizer this
// checks the release/acquire pairs on the indices.
void stream_between_threads(WaitMode mode, bool batches, std::uint64_t records,
                            const ReaderOptions &reader_options = {}) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 8192});
  const WaitPolicy policy{.mode = mode};
  std::atomic<bool> ok{true};
  std::thread consumer([&] {
    RingReader reader(segment, 0, reader_options);
    std::uint64_t seq = 0;
    while (seq < records) {
      if (batches) {
        ReadBatch batch = reader.peek_batch(deadline_after(30s), policy);
        if (batch.status() != Status::ok) {
          ok = false;
          return;
        }
        while (ReadSlot rec = batch.next()) {
          if (rec.seq() != seq || rec.bytes().size() != test::record_size_for(seq, 2000) ||
              !test::check_pattern(rec.bytes(), seq))
            ok = false;
          ++seq;
        }
        reader.release(std::move(batch));
      } else {
        ReadSlot rec = reader.peek(deadline_after(30s), policy);
        if (!rec || rec.seq() != seq || rec.bytes().size() != test::record_size_for(seq, 2000) ||
            !test::check_pattern(rec.bytes(), seq)) {
          ADD_FAILURE() << "record " << seq << ": " << to_string(rec.status()) << " seq "
                        << rec.seq() << " size " << rec.bytes().size();
          ok = false;
          return;
        }
        ++seq;
        reader.release(std::move(rec));
      }
    }
  });
  {
    RingWriter writer(segment);
    for (std::uint64_t seq = 0; seq < records; ++seq) {
      WriteSlot slot =
          writer.reserve(test::record_size_for(seq, 2000), deadline_after(30s), policy);
      ASSERT_TRUE(slot) << to_string(slot.status());
      test::fill_pattern(slot.bytes(), seq);
      if (batches && seq % 8 != 7)
        writer.stage(std::move(slot));
      else
        writer.commit(std::move(slot));
    }
  }
  consumer.join();
  EXPECT_TRUE(ok);
}

// The end of a stream races with the consumer: the last records (some behind a padding record)
// and the close arrive while the consumer is deciding between empty and closed. Every record
// must still be delivered exactly once, then closed.
TEST(RingThreadsTest, CloseRacingWithTheLastRecords) {
  for (int round = 0; round < 500; ++round) {
    ScopedRemove guard(test::unique_name());
    Segment segment = Segment::create(guard.name(), {.ring_capacity = 256});
    const auto records = static_cast<std::uint64_t>(1 + round % 7);
    std::optional<RingWriter> writer(std::in_place, segment);
    // Start near the end of the region so the last records wrap behind a padding record.
    RingReader reader(segment);
    ASSERT_EQ(
        writer->try_write(std::vector<std::byte>(static_cast<std::size_t>(160 + 16 * (round % 4)))),
        Status::ok);
    reader.release(reader.try_peek());
    std::thread producer([&] {
      for (std::uint64_t i = 0; i < records; ++i) {
        WriteSlot slot = writer->reserve(40, deadline_after(10s));
        ASSERT_TRUE(slot);
        test::fill_pattern(slot.bytes(), i);
        writer->commit(std::move(slot));
      }
      writer->close();
    });
    std::uint64_t got = 0;
    for (;;) {
      ReadSlot rec = reader.peek(deadline_after(10s), {.mode = WaitMode::spin_then_yield});
      if (!rec) {
        EXPECT_EQ(rec.status(), Status::closed);
        break;
      }
      // EXPECT and break, not ASSERT: the producer thread must still be joined.
      const bool right = rec.seq() == got + 1 && rec.bytes().size() == 40u &&
                         test::check_pattern(rec.bytes(), got);
      EXPECT_TRUE(right) << "record " << got << ": seq " << rec.seq() << ", " << rec.bytes().size()
                         << " bytes";
      if (!right)
        break;
      reader.release(std::move(rec));
      ++got;
    }
    producer.join();
    EXPECT_EQ(got, records);
  }
}

TEST(RingThreadsTest, StreamSpinning) {
  stream_between_threads(WaitMode::busy_spin, false, 200000);
}
TEST(RingThreadsTest, StreamBlocking) { stream_between_threads(WaitMode::blocking, false, 200000); }
TEST(RingThreadsTest, StreamYielding) {
  stream_between_threads(WaitMode::spin_then_yield, false, 100000);
}
TEST(RingThreadsTest, StreamBatchesBlocking) {
  stream_between_threads(WaitMode::blocking, true, 200000);
}
// The writer writes through the segment's read-write mapping, the reader reads through its own
// read-only one, in the same process.
TEST(RingThreadsTest, StreamReadOnlyData) {
  stream_between_threads(WaitMode::blocking, false, 100000, {.read_only_data = true});
  stream_between_threads(WaitMode::spin_then_yield, true, 100000, {.read_only_data = true});
}

} // namespace
} // namespace shmpipe

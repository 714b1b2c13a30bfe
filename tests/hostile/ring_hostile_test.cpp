// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Hostile-peer tests of ring.hpp: the control block and record headers are corrupted on
// purpose; every violation must give Status::corrupt (or Error at attach), never a read or
// write outside the data region. Run under AddressSanitizer in CI.
#include <shmpipe/ring.hpp>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

constexpr std::uint64_t kCapacity = 1024;

class RingHostileTest : public ::testing::Test {
protected:
  RingHostileTest()
      : guard_(test::unique_name()),
        segment_(Segment::create(guard_.name(), {.ring_capacity = kCapacity})),
        mem_(segment_.ring(0)) {}

  detail::RingControl &ctl() { return *mem_.control; }
  detail::RecordHeader *header_at(std::uint64_t offset) {
    return reinterpret_cast<detail::RecordHeader *>(mem_.data + offset);
  }
  void set_write_index(std::uint64_t v) {
    ctl().producer_index.index.store(v, std::memory_order_release);
  }
  void set_read_index(std::uint64_t v) {
    ctl().consumer_index.index.store(v, std::memory_order_release);
  }
  /// Forges a record at offset `at` with the given header and publishes up to `publish`.
  void forge(std::uint64_t at, detail::RecordHeader h, std::uint64_t publish) {
    std::memcpy(mem_.data + at, &h, sizeof h);
    set_write_index(publish);
  }
  void expect_reader_corrupt(RingReader &reader) {
    EXPECT_EQ(reader.try_peek().status(), Status::corrupt);
    // Sticky: the ring stays unusable.
    EXPECT_EQ(reader.try_peek().status(), Status::corrupt);
    EXPECT_EQ(reader.try_peek_batch().status(), Status::corrupt);
  }

  ScopedRemove guard_;
  Segment segment_;
  detail::RingMemory mem_;
};

TEST_F(RingHostileTest, WriteIndexMoreThanACapacityAhead) {
  RingReader reader(segment_);
  forge(0, {16, 0, 0, 0}, kCapacity + 16);
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, WriteIndexMisaligned) {
  RingReader reader(segment_);
  forge(0, {1, 0, 0, 0}, 17);
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, WriteIndexMovesBackwards) {
  RingReader reader(segment_);
  RingWriter writer(segment_);
  ASSERT_EQ(writer.try_write(std::vector<std::byte>(16)), Status::ok);
  ASSERT_EQ(writer.try_write(std::vector<std::byte>(16)), Status::ok);
  reader.release(reader.try_peek());
  set_write_index(0); // behind the read index
  reader.release(reader.try_peek());
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, RecordLongerThanWhatWasPublished) {
  RingReader reader(segment_);
  forge(0, {100, 0, 0, 0}, 32); // 128-byte record, 32 published
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, RecordRunsPastTheEndOfTheRegion) {
  RingReader reader(segment_);
  RingWriter writer(segment_);
  // Move both indices to offset 992 (32 bytes before the end).
  ASSERT_EQ(writer.try_write(std::vector<std::byte>(992 - 16)), Status::ok);
  reader.release(reader.try_peek());
  writer.close();
  forge(992, {48, 0, 0, 1}, 992 + 64); // would need 64 bytes, only 32 before the end
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, LengthFieldAtItsMaximum) {
  RingReader reader(segment_);
  forge(0, {0xffffffffu, 0, 0, 0}, kCapacity);
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, UnknownFlagBits) {
  RingReader reader(segment_);
  forge(0, {0, 0, 0x8000, 0}, 16);
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, PaddingWithTheRestartFlag) {
  RingReader reader(segment_);
  forge(0, {16, 0, detail::kRecordPadding | detail::kRecordRestart, 0}, 32);
  expect_reader_corrupt(reader);
}

// Padding may lie anywhere (messages built back to front leave some), so a producer can
// publish a whole ring of it: the consumer must walk it in bounded time, free it, and go on.
TEST_F(RingHostileTest, ARingFullOfPaddingIsSkipped) {
  RingReader reader(segment_);
  for (std::uint64_t at = 0; at < kCapacity; at += 16)
    forge(at, {0, 0, detail::kRecordPadding, 0}, kCapacity);
  EXPECT_EQ(reader.try_peek().status(), Status::empty);
  EXPECT_EQ(ctl().consumer_index.index.load(std::memory_order_acquire), kCapacity);
  EXPECT_EQ(reader.stats().consumer.wraps, kCapacity / 16);
  forge(0, {3, 7, 0, 0}, kCapacity + 32);
  const ReadSlot rec = reader.try_peek();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec.type(), 7);
}

TEST_F(RingHostileTest, SequenceGapOrRepeat) {
  RingReader reader(segment_);
  forge(0, {0, 0, 0, 0}, 16);
  reader.release(reader.try_peek());
  forge(16, {0, 0, 0, 5}, 32); // expected 1
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, SequenceRepeat) {
  RingReader reader(segment_);
  forge(0, {0, 0, 0, 0}, 16);
  reader.release(reader.try_peek());
  forge(16, {0, 0, 0, 0}, 32);
  expect_reader_corrupt(reader);
}

TEST_F(RingHostileTest, CorruptRecordInsideABatch) {
  RingReader reader(segment_);
  forge(0, {0, 0, 0, 0}, 16);
  forge(16, {0, 0, 0, 1}, 32);
  forge(32, {2000, 0, 0, 2}, 48);
  ReadBatch batch = reader.try_peek_batch();
  ASSERT_EQ(batch.status(), Status::ok);
  EXPECT_TRUE(batch.next());
  EXPECT_TRUE(batch.next());
  EXPECT_EQ(batch.next().status(), Status::corrupt);
  EXPECT_EQ(batch.next().status(), Status::corrupt);
  reader.release(std::move(batch)); // the two good records are released
  EXPECT_EQ(reader.try_peek().status(), Status::corrupt);
}

TEST_F(RingHostileTest, ReadIndexAheadOfTheWriteIndex) {
  RingWriter writer(segment_);
  ASSERT_EQ(writer.try_write(std::vector<std::byte>(500)), Status::ok);
  set_read_index(2048); // "released" bytes that were never published
  EXPECT_EQ(writer.try_reserve(600).status(), Status::corrupt);
  EXPECT_EQ(writer.try_reserve(1).status(), Status::corrupt); // sticky
  EXPECT_EQ(writer.try_write(std::vector<std::byte>(1)), Status::corrupt);
}

TEST_F(RingHostileTest, ReadIndexMovesBackwards) {
  RingReader reader(segment_);
  RingWriter writer(segment_);
  // Records of 512 bytes: the third one makes the writer load the read index (1024).
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(writer.try_write(std::vector<std::byte>(496)), Status::ok);
    if (i < 2)
      reader.release(reader.try_peek());
  }
  set_read_index(512); // behind what the writer has already seen
  WriteSlot slot = writer.try_reserve(1000);
  EXPECT_EQ(slot.status(), Status::corrupt);
}

TEST_F(RingHostileTest, ReadIndexMisaligned) {
  RingWriter writer(segment_);
  ASSERT_EQ(writer.try_write(std::vector<std::byte>(500)), Status::ok);
  set_read_index(8);
  EXPECT_EQ(writer.try_reserve(600).status(), Status::corrupt);
}

TEST_F(RingHostileTest, AttachToInconsistentIndicesThrows) {
  set_write_index(5 * kCapacity);
  set_read_index(16);
  EXPECT_THROW(RingReader reader(segment_), Error);
  try {
    RingWriter writer(segment_);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::corrupt);
  }
  // A failed attach gives the role back.
  set_write_index(16);
  forge(0, {0, 0, 0, 0}, 16);
  EXPECT_NO_THROW(RingReader reader(segment_));
}

TEST_F(RingHostileTest, GarbageOwnerWordIsTakenOver) {
  ctl().producer_owner.owner.store(0xdeadbeefcafef00dULL, std::memory_order_relaxed);
  EXPECT_NO_THROW(RingWriter writer(segment_));
}

// Random corruption of indices and headers while a stream runs: whatever the bytes, every status
// is a known one and every span lies inside the data region (a read outside it would also trip
// AddressSanitizer or fault: there is nothing mapped after the region of the last ring).
TEST_F(RingHostileTest, RandomCorruptionNeverEscapesTheDataRegion) {
  std::mt19937_64 rng(20261122);
  const std::byte *lo = mem_.data;
  const std::byte *hi = mem_.data + kCapacity;
  int corrupt_seen = 0;
  for (int round = 0; round < 3000; ++round) {
    ScopedRemove guard(test::unique_name());
    Segment seg = Segment::create(guard.name(), {.ring_capacity = kCapacity});
    detail::RingMemory mem = seg.ring(0);
    lo = mem.data;
    hi = mem.data + kCapacity;
    RingWriter writer(seg);
    RingReader reader(seg);
    std::uint64_t seq = 0;
    for (int i = 0; i < 20; ++i) {
      const std::size_t size = test::record_size_for(seq, 300);
      if (WriteSlot slot = writer.try_reserve(size)) {
        test::fill_pattern(slot.bytes(), seq++);
        writer.commit(std::move(slot));
      }
      if (rng() % 3 == 0)
        if (ReadSlot rec = reader.try_peek())
          reader.release(std::move(rec));
    }
    // Corrupt: a few random bytes of the control block or the data region.
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
      std::byte *target = (rng() % 2 == 0)
                              ? reinterpret_cast<std::byte *>(mem.control) + rng() % 128
                              : mem.data + rng() % kCapacity;
      *target = static_cast<std::byte>(rng());
    }
    for (int i = 0; i < 40; ++i) {
      if (i % 2 == 0) {
        ReadSlot rec = reader.try_peek();
        const Status s = rec.status();
        ASSERT_TRUE(s == Status::ok || s == Status::empty || s == Status::corrupt) << to_string(s);
        if (rec) {
          ASSERT_GE(rec.bytes().data(), lo);
          ASSERT_LE(rec.bytes().data() + rec.bytes().size(), hi);
          volatile std::uint8_t sink = 0;
          for (const std::byte b : rec.bytes())
            sink = static_cast<std::uint8_t>(sink + static_cast<std::uint8_t>(b));
          reader.release(std::move(rec));
        }
        corrupt_seen += s == Status::corrupt;
      } else {
        ReadBatch batch = reader.try_peek_batch();
        while (ReadSlot rec = batch.next()) {
          ASSERT_GE(rec.bytes().data(), lo);
          ASSERT_LE(rec.bytes().data() + rec.bytes().size(), hi);
        }
        reader.release(std::move(batch));
      }
      WriteSlot slot = writer.try_reserve(test::record_size_for(seq, 300));
      if (slot) {
        ASSERT_GE(slot.bytes().data(), lo);
        ASSERT_LE(slot.bytes().data() + slot.bytes().size(), hi);
        test::fill_pattern(slot.bytes(), seq++);
        writer.commit(std::move(slot));
      } else {
        const Status s = slot.status();
        ASSERT_TRUE(s == Status::full || s == Status::corrupt) << to_string(s);
      }
    }
  }
  EXPECT_GT(corrupt_seen, 100) << "the corruption should be noticed often";
}

} // namespace
} // namespace shmpipe

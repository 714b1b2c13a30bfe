// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of message.hpp in one process: FlatBuffers messages built in place in the ring or, for
// small size hints, in the thread's reused block and copied in (from the smallest to the
// largest the ring accepts, across the wrap, regrown and copied), verified receives, corrupted
// payloads, wrong types, deadlines, a build that throws and a send inside a build.
#include <shmpipe/message.hpp>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>

#include <array>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;
namespace fb = flatbuffers;
namespace sc = shmpipe::schema;

/// The byte at position i of evidence number `n`: every message's pixels differ.
std::uint8_t pixel(std::size_t i, std::uint64_t n) {
  return static_cast<std::uint8_t>((i * 131u + n * 7u) & 0xffu);
}

/// An Extraction/Evidence message with `pixels` bytes, filled in place.
fb::Offset<sc::Extraction> build_evidence(fb::FlatBufferBuilder &b, std::size_t pixels,
                                          std::uint64_t n) {
  std::uint8_t *out = nullptr;
  const auto vec = b.CreateUninitializedVector(pixels, 1, &out);
  for (std::size_t i = 0; i < pixels; ++i)
    out[i] = pixel(i, n);
  const sc::BBox box(1.0f, 2.0f, 3.0f, 4.0f);
  const auto evidence =
      sc::CreateEvidence(b, static_cast<std::uint32_t>(n), 7, &box, 5, 6, 7, sc::PixelFormat::Gray8,
                         150, fb::Offset<fb::Vector<std::uint8_t>>(vec));
  return sc::CreateExtraction(b, n, sc::ExtractionBody::Evidence, evidence.Union());
}

/// Checks an Evidence message built by build_evidence(pixels, n).
void expect_evidence(const sc::Extraction &m, std::size_t pixels, std::uint64_t n) {
  ASSERT_EQ(m.body_type(), sc::ExtractionBody::Evidence);
  const sc::Evidence *e = m.body_as_Evidence();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(m.request_id(), n);
  EXPECT_EQ(e->page(), static_cast<std::uint32_t>(n));
  ASSERT_NE(e->pixels(), nullptr);
  ASSERT_EQ(e->pixels()->size(), pixels);
  for (std::size_t i = 0; i < pixels; ++i)
    ASSERT_EQ(e->pixels()->Get(static_cast<fb::uoffset_t>(i)), pixel(i, n)) << i;
}

fb::Offset<sc::Envelope> build_shutdown(fb::FlatBufferBuilder &b, const char *reason) {
  const auto s = sc::CreateShutdown(b, b.CreateString(reason));
  return sc::CreateEnvelope(b, sc::Control::Shutdown, s.Union());
}

class MessageTest : public ::testing::Test {
protected:
  void make(std::uint64_t capacity) {
    guard_.emplace(test::unique_name());
    segment_.emplace(Segment::create(guard_->name(), {.ring_capacity = capacity}));
    writer_.emplace(*segment_);
    reader_.emplace(*segment_);
  }
  Status send_evidence(std::size_t pixels, std::uint64_t n, std::size_t hint,
                       WaitLimit limit = std::chrono::seconds(5)) {
    return send<sc::Extraction>(
        *writer_, [&](fb::FlatBufferBuilder &b) { return build_evidence(b, pixels, n); }, limit, {},
        {.size_hint = hint, .type = 3});
  }
  bool in_ring(const void *p) {
    const auto *b = static_cast<const std::byte *>(p);
    const detail::RingMemory mem = segment_->ring(0);
    return b >= mem.data && b < mem.data + mem.capacity;
  }

  std::optional<ScopedRemove> guard_;
  std::optional<Segment> segment_;
  std::optional<RingWriter> writer_;
  std::optional<RingReader> reader_;
};

/// A size hint above kCopyHintMax: the message is built in place.
constexpr std::size_t kInPlace = kCopyHintMax + 16;

TEST_F(MessageTest, BuiltInPlaceAndReadInPlace) {
  make(1 << 16);
  ASSERT_EQ(send_evidence(100, 1, kInPlace), Status::ok);
  Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
  ASSERT_TRUE(m) << to_string(m.status());
  EXPECT_TRUE(in_ring(m.get()));
  EXPECT_TRUE(in_ring(m->body_as_Evidence()->pixels()->data()));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.buffer().data()) % kRecordAlign, 0u);
  EXPECT_EQ(m.type(), 3);
  EXPECT_EQ(m.seq(), 0u);
  expect_evidence(*m, 100, 1);
  const RingStats stats = writer_->stats();
  EXPECT_EQ(stats.producer.regrown_or_rejected, 0u);
  EXPECT_EQ(stats.producer.copied, 0u);
  // The hint's unused front went back to the ring as one padding record, which the consumer
  // skipped: the record holds just the buffer.
  EXPECT_EQ(stats.producer.wraps, 1u);
  EXPECT_EQ(m.buffer().size() % kRecordAlign, 0u);
  EXPECT_LT(m.buffer().size(), 256u);
  m.release();
  EXPECT_FALSE(m);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
  EXPECT_EQ(reader_->stats().consumer.wraps, 1u);
}

// A small hint: built in the thread's block and copied in once, exactly the buffer (no padding
// record), not counted as copied (it is by design). The block is reused: the second message
// comes out the same way.
TEST_F(MessageTest, SmallMessagesAreBuiltInTheBlockAndCopiedOnce) {
  make(1 << 16);
  for (std::uint64_t n = 1; n <= 2; ++n) {
    ASSERT_EQ(send_evidence(100, n, 256), Status::ok);
    Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
    ASSERT_TRUE(m) << to_string(m.status());
    EXPECT_TRUE(in_ring(m.get()));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.buffer().data()) % kRecordAlign, 0u);
    EXPECT_EQ(m.buffer().size() % kRecordAlign, 0u);
    EXPECT_EQ(m.type(), 3);
    expect_evidence(*m, 100, n);
  }
  const RingStats stats = writer_->stats();
  EXPECT_EQ(stats.producer.regrown_or_rejected, 0u);
  EXPECT_EQ(stats.producer.copied, 0u);
  EXPECT_EQ(stats.producer.wraps, 0u);
  EXPECT_EQ(stats.producer.records, 2u);
}

// Every size from an empty message to the largest this ring accepts, with a hint that is
// exact, too small, or too large, while a consumer thread reads: the start position moves all
// the time, so messages are built across the wrap at many offsets, regrown and copied.
TEST_F(MessageTest, EverySizeUpToTheLargestAcrossTheWrap) {
  make(4096);
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::size_t largest = 0;
  std::thread consumer([&] {
    for (;;) {
      Received<sc::Extraction> m = receive<sc::Extraction>(*reader_, std::chrono::seconds(10));
      if (m.status() == Status::closed)
        return;
      ASSERT_TRUE(m) << to_string(m.status()) << " after " << received;
      ASSERT_EQ(m.seq(), received);
      const auto *pixels = m->body_as_Evidence()->pixels();
      ASSERT_NE(pixels, nullptr);
      expect_evidence(*m, pixels->size(), received);
      largest = std::max(largest, m.buffer().size());
      ++received;
    }
  });
  for (std::size_t hint : {std::size_t{16}, std::size_t{1024}, kInPlace, std::size_t{4096}}) {
    for (std::size_t pixels = 0;; pixels += 1 + pixels / 64) {
      const Status status = send_evidence(pixels, sent, hint);
      if (status == Status::too_large)
        break;
      ASSERT_EQ(status, Status::ok) << pixels << " bytes, hint " << hint;
      ++sent;
    }
  }
  writer_->close();
  consumer.join();
  EXPECT_EQ(received, sent);
  // The largest message that went through nearly fills the ring (4080 bytes of payload).
  EXPECT_GT(largest, writer_->max_payload() - 128);
  const RingStats stats = writer_->stats();
  EXPECT_GT(stats.producer.regrown_or_rejected, 0u); // hint 16: grew in the ring
  EXPECT_GT(stats.producer.copied, 0u);              // near the top: finished on the heap
  EXPECT_EQ(stats.consumer.records, sent);
}

TEST_F(MessageTest, GrowsInTheRingWhenThereIsRoom) {
  make(1 << 16);
  // Built in place from a reservation too small for it, and from the block (4 KiB): both move
  // to a larger reservation and are committed where they end up.
  ASSERT_EQ(send_evidence(3000, 1, kInPlace), Status::ok);
  ASSERT_EQ(send_evidence(5000, 2, 16), Status::ok);
  for (std::uint64_t n = 1; n <= 2; ++n) {
    Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
    ASSERT_TRUE(m);
    EXPECT_TRUE(in_ring(m.get()));
    expect_evidence(*m, n == 1 ? 3000 : 5000, n);
  }
  EXPECT_EQ(writer_->stats().producer.regrown_or_rejected, 2u);
  EXPECT_EQ(writer_->stats().producer.copied, 0u);
}

TEST_F(MessageTest, CopiedOnceWhenTheRingHasNoRoomToGrow) {
  make(4096);
  // 3000 bytes of pixels from a 2 KiB reservation: the builder's growth asks for more than the
  // ring can hold, the finished message (about 3 KiB) still fits.
  ASSERT_EQ(send_evidence(3000, 1, kInPlace), Status::ok);
  Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
  ASSERT_TRUE(m);
  expect_evidence(*m, 3000, 1);
  EXPECT_EQ(writer_->stats().producer.copied, 1u);
}

TEST_F(MessageTest, CopiedOnceWhenTheBlockIsOutgrownAndTheRingHasNoRoom) {
  make(8192);
  // A string first, so that the builder is in its 4 KiB block; then 4200 bytes of pixels
  // outgrow it, and its growth (4 KiB + 4200) is more than the ring holds. The finished
  // message still fits.
  ASSERT_EQ(send<sc::Extraction>(*writer_,
                                 [](fb::FlatBufferBuilder &b) {
                                   b.CreateString("in the block");
                                   return build_evidence(b, 4200, 1);
                                 },
                                 1s, {}, {.size_hint = 16}),
            Status::ok);
  Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
  ASSERT_TRUE(m);
  expect_evidence(*m, 4200, 1);
  EXPECT_EQ(writer_->stats().producer.copied, 1u);
  EXPECT_EQ(writer_->stats().producer.regrown_or_rejected, 0u);
}

TEST_F(MessageTest, FullRingTimesOutAndPublishesNothing) {
  make(4096);
  ASSERT_EQ(writer_->try_write(std::vector<std::byte>(3000)), Status::ok);
  EXPECT_EQ(send_evidence(2000, 1, 2100, std::chrono::milliseconds(20)), Status::timeout);
  // A message built in the block that then finds no room for its copy: also a timeout.
  EXPECT_EQ(send_evidence(2000, 1, 16, std::chrono::milliseconds(20)), Status::timeout);
  reader_->release(reader_->try_peek());
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
  ASSERT_EQ(send_evidence(10, 2, 64), Status::ok);
  Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
  ASSERT_TRUE(m);
  EXPECT_EQ(m.seq(), 1u); // no gap: nothing was published by the failed sends
  expect_evidence(*m, 10, 2);
}

TEST_F(MessageTest, TooLargeForTheRing) {
  make(4096);
  EXPECT_EQ(send_evidence(5000, 1, 1024), Status::too_large);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
}

TEST_F(MessageTest, ABuildThatThrowsPublishesNothing) {
  make(4096);
  // In the block, in place, and in the block once more (it must be usable after a throw).
  std::uint64_t seq = 0;
  for (std::size_t hint : {std::size_t{1024}, kInPlace, std::size_t{1024}}) {
    EXPECT_THROW(static_cast<void>(
                     send<sc::Envelope>(*writer_,
                                        [](fb::FlatBufferBuilder &b) -> fb::Offset<sc::Envelope> {
                                          b.CreateString("half a message");
                                          throw std::runtime_error("build failed");
                                        },
                                        1s, {}, {.size_hint = hint})),
                 std::runtime_error);
    EXPECT_EQ(reader_->try_peek().status(), Status::empty);
    ASSERT_EQ(send<sc::Envelope>(*writer_,
                                 [](fb::FlatBufferBuilder &b) { return build_shutdown(b, "bye"); },
                                 1s, {}, {.size_hint = hint}),
              Status::ok);
    Received<sc::Envelope> m = try_receive<sc::Envelope>(*reader_);
    ASSERT_TRUE(m) << hint;
    EXPECT_EQ(m.seq(), seq++);
    EXPECT_STREQ(m->body_as_Shutdown()->reason()->c_str(), "bye");
  }
}

// A send() from inside a build callback, to another ring: the thread's block is taken by the
// outer message, so the inner one is built in place; both arrive whole.
TEST_F(MessageTest, ASendInsideABuildIsBuiltInPlace) {
  make(1 << 16);
  const ScopedRemove other_guard(test::unique_name());
  Segment other = Segment::create(other_guard.name(), {.ring_capacity = 1 << 16});
  RingWriter other_writer(other);
  RingReader other_reader(other);
  ASSERT_EQ(send<sc::Extraction>(*writer_,
                                 [&](fb::FlatBufferBuilder &b) {
                                   const auto outer = build_evidence(b, 300, 1);
                                   EXPECT_EQ(send<sc::Extraction>(other_writer,
                                                                  [](fb::FlatBufferBuilder &inner) {
                                                                    return build_evidence(inner,
                                                                                          100, 2);
                                                                  },
                                                                  1s, {}, {.size_hint = 256}),
                                             Status::ok);
                                   return outer;
                                 },
                                 1s, {}, {.size_hint = 512}),
            Status::ok);
  Received<sc::Extraction> outer = try_receive<sc::Extraction>(*reader_);
  ASSERT_TRUE(outer);
  expect_evidence(*outer, 300, 1);
  Received<sc::Extraction> inner = try_receive<sc::Extraction>(other_reader);
  ASSERT_TRUE(inner);
  expect_evidence(*inner, 100, 2);
  EXPECT_EQ(other_writer.stats().producer.wraps, 1u); // in place: its hint's front was padding
  EXPECT_EQ(writer_->stats().producer.wraps, 0u);     // copied from the block
}

// Each thread builds its small messages in a block of its own: two threads sending at once to
// two rings never see each other's bytes (run under TSan in CI).
TEST_F(MessageTest, ThreadsBuildSmallMessagesInBlocksOfTheirOwn) {
  constexpr std::uint64_t kMessages = 2000;
  std::array<std::optional<ScopedRemove>, 2> guards;
  std::array<std::optional<Segment>, 2> segments;
  std::array<std::optional<RingWriter>, 2> writers;
  std::array<std::optional<RingReader>, 2> readers;
  for (std::size_t t = 0; t < 2; ++t) {
    guards[t].emplace(test::unique_name());
    segments[t].emplace(Segment::create(guards[t]->name(), {.ring_capacity = 1 << 16}));
    writers[t].emplace(*segments[t]);
    readers[t].emplace(*segments[t]);
  }
  std::array<std::uint64_t, 2> received{};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t n = 0; n < kMessages; ++n)
        ASSERT_EQ(send<sc::Extraction>(*writers[t],
                                       [&](fb::FlatBufferBuilder &b) {
                                         return build_evidence(b, 64 + t * 32, n * 2 + t);
                                       },
                                       10s, {}, {.size_hint = 256}),
                  Status::ok);
      writers[t]->close();
    });
    threads.emplace_back([&, t] {
      for (;;) {
        Received<sc::Extraction> m = receive<sc::Extraction>(*readers[t], 10s);
        if (m.status() == Status::closed)
          return;
        ASSERT_TRUE(m) << to_string(m.status());
        expect_evidence(*m, 64 + t * 32, received[t] * 2 + t);
        ++received[t];
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(received[0], kMessages);
  EXPECT_EQ(received[1], kMessages);
  for (std::size_t t = 0; t < 2; ++t) {
    readers[t].reset();
    writers[t].reset();
  }
}

TEST_F(MessageTest, WrongRootTypeIsRejectedAndTheStreamGoesOn) {
  make(4096);
  ASSERT_EQ(send<sc::Envelope>(*writer_,
                               [](fb::FlatBufferBuilder &b) { return build_shutdown(b, "x"); }, 1s,
                               {}, {.type = 11}),
            Status::ok);
  ASSERT_EQ(send_evidence(8, 1, 64), Status::ok);
  Received<sc::Extraction> wrong = try_receive<sc::Extraction>(*reader_);
  EXPECT_FALSE(wrong);
  EXPECT_EQ(wrong.status(), Status::invalid_message);
  EXPECT_EQ(wrong.seq(), 0u);
  EXPECT_EQ(wrong.type(), 11);
  Received<sc::Extraction> next = try_receive<sc::Extraction>(*reader_);
  ASSERT_TRUE(next);
  expect_evidence(*next, 8, 1);
  EXPECT_EQ(reader_->stats().consumer.regrown_or_rejected, 1u);
  // Without verification the identifier is still checked.
  ASSERT_EQ(send<sc::Envelope>(
                *writer_, [](fb::FlatBufferBuilder &b) { return build_shutdown(b, "x"); }, 1s),
            Status::ok);
  next.release();
  EXPECT_EQ(try_receive<sc::Extraction>(*reader_, {.verify = false}).status(),
            Status::invalid_message);
}

TEST_F(MessageTest, RecordsThatAreNotFlatBuffersAreRejected) {
  make(4096);
  for (std::size_t size : {std::size_t{0}, std::size_t{3}, std::size_t{8}, std::size_t{64}}) {
    std::vector<std::byte> junk(size, std::byte{0xff});
    ASSERT_EQ(writer_->try_write(junk), Status::ok);
    for (bool verify : {true, false}) {
      if (!verify) {
        ASSERT_EQ(writer_->try_write(junk), Status::ok);
      }
      const Received<sc::Envelope> m = try_receive<sc::Envelope>(*reader_, {.verify = verify});
      EXPECT_EQ(m.status(), Status::invalid_message) << size;
    }
  }
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
}

// Random byte flips in committed payloads: each one gives a verification error or a message
// that still verifies (a flip in a value or in padding), never a crash (run under ASan and
// UBSan in CI); the message behind it always arrives intact.
TEST_F(MessageTest, RandomByteFlipsNeverCrashAndTheNextMessageArrives) {
  make(1 << 16);
  std::mt19937_64 rng(20261122); // fixed: a failure reproduces
  int rejected = 0;
  constexpr int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    const auto n = static_cast<std::uint64_t>(round);
    ASSERT_EQ(send_evidence(rng() % 300, n, 512), Status::ok);
    ReadSlot victim = reader_->try_peek();
    ASSERT_TRUE(victim);
    auto *bytes = const_cast<std::byte *>(victim.bytes().data());
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips)
      bytes[rng() % victim.bytes().size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    ASSERT_EQ(send_evidence(16, n + 1000000, 512), Status::ok);
    {
      Received<sc::Extraction> m = try_receive<sc::Extraction>(*reader_);
      if (!m) {
        ASSERT_EQ(m.status(), Status::invalid_message);
        ++rejected;
      } else if (m->body_type() == sc::ExtractionBody::Evidence && m->body_as_Evidence()) {
        // Verified, so every read stays inside the buffer, whatever the values now say.
        const auto *pixels = m->body_as_Evidence()->pixels();
        std::uint64_t sum = 0;
        for (fb::uoffset_t i = 0; pixels != nullptr && i < pixels->size(); ++i)
          sum += pixels->Get(i);
        static_cast<void>(sum);
      }
    }
    Received<sc::Extraction> next = try_receive<sc::Extraction>(*reader_);
    ASSERT_TRUE(next) << to_string(next.status()) << " in round " << round;
    expect_evidence(*next, 16, n + 1000000);
  }
  EXPECT_GT(rejected, kRounds / 10);
  EXPECT_EQ(reader_->stats().consumer.regrown_or_rejected, static_cast<std::uint64_t>(rejected));
}

TEST_F(MessageTest, DepthAndTableLimitsAreEnforced) {
  make(1 << 16);
  ASSERT_EQ(send_evidence(10, 1, 256), Status::ok);
  // Extraction -> Evidence is two tables deep: a limit of 1 refuses it.
  EXPECT_EQ(try_receive<sc::Extraction>(*reader_, {.max_depth = 1}).status(),
            Status::invalid_message);
  ASSERT_EQ(send_evidence(10, 2, 256), Status::ok);
  EXPECT_EQ(try_receive<sc::Extraction>(*reader_, {.max_tables = 1}).status(),
            Status::invalid_message);
  ASSERT_EQ(send_evidence(10, 3, 256), Status::ok);
  EXPECT_TRUE(try_receive<sc::Extraction>(*reader_, {.max_depth = 2, .max_tables = 2}));
}

// With VerifyOptions::copy the record is verified and read in a private copy and its ring
// space is free at once: a producer rewriting the ring afterwards changes nothing seen.
TEST_F(MessageTest, CopyOnReceiveIsImmuneToLaterRewrites) {
  make(4096);
  ASSERT_EQ(send_evidence(200, 1, 512), Status::ok);
  ReadSlot peeked = reader_->try_peek();
  ASSERT_TRUE(peeked);
  auto *record = const_cast<std::byte *>(peeked.bytes().data());
  const std::size_t size = peeked.bytes().size();
  Received<sc::Extraction> m =
      Received<sc::Extraction>::accept(*reader_, std::move(peeked), {.copy = true});
  ASSERT_TRUE(m) << to_string(m.status());
  EXPECT_FALSE(in_ring(m.get()));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.buffer().data()) % kRecordAlign, 0u);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty); // released already
  std::memset(record, 0xff, size);                        // a producer rewrites the record
  expect_evidence(*m, 200, 1);
  // A corrupted record is still rejected, and counted.
  ASSERT_EQ(send_evidence(10, 2, 64), Status::ok);
  ReadSlot victim = reader_->try_peek();
  ASSERT_TRUE(victim);
  std::memset(const_cast<std::byte *>(victim.bytes().data()), 0x7f, 8);
  EXPECT_EQ(Received<sc::Extraction>::accept(*reader_, std::move(victim), {.copy = true}).status(),
            Status::invalid_message);
  EXPECT_EQ(reader_->stats().consumer.regrown_or_rejected, 1u);
  EXPECT_EQ(reader_->try_peek().status(), Status::empty);
}

TEST_F(MessageTest, PrefixTravelsInFrontOfTheBuffer) {
  make(4096);
  alignas(16) std::array<std::byte, 16> frame{};
  for (std::size_t i = 0; i < frame.size(); ++i)
    frame[i] = static_cast<std::byte>(i + 1);
  for (std::size_t hint : {std::size_t{16}, std::size_t{200}, std::size_t{3000}}) {
    ASSERT_EQ(send<sc::Envelope>(
                  *writer_, [](fb::FlatBufferBuilder &b) { return build_shutdown(b, "p"); }, 1s, {},
                  {.size_hint = hint}, frame),
              Status::ok);
    Received<sc::Envelope> m =
        Received<sc::Envelope>::accept(*reader_, reader_->try_peek(), {}, frame.size());
    ASSERT_TRUE(m) << hint;
    ASSERT_EQ(m.prefix().size(), frame.size());
    EXPECT_EQ(std::memcmp(m.prefix().data(), frame.data(), frame.size()), 0);
    EXPECT_STREQ(m->body_as_Shutdown()->reason()->c_str(), "p");
  }
}

TEST_F(MessageTest, ClosedWriterRefusesAndEmptyHandlesAreHarmless) {
  make(4096);
  writer_->close();
  EXPECT_EQ(send_evidence(1, 1, 64), Status::closed);
  Received<sc::Extraction> none = try_receive<sc::Extraction>(*reader_);
  EXPECT_EQ(none.status(), Status::closed);
  Received<sc::Extraction> moved = std::move(none);
  EXPECT_EQ(none.status(), Status::closed);
  moved.release();
  EXPECT_FALSE(moved);
}

} // namespace
} // namespace shmpipe

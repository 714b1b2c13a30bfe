// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Cross-process tests of message.hpp: every message of every schema makes a round trip between
// two processes, built in place on each side and verified on receipt; corrupted messages from
// the other process are rejected while the stream goes on.
#include <shmpipe/channel.hpp>
#include <shmpipe/message.hpp>

#include <random>

#include <gtest/gtest.h>

#include "../support/schema_samples.hpp"
#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

// The record type says which root type a record holds, so that a reader knows what to verify
// it as (verification decides whether it really is one).
enum RootType : std::uint16_t { kEnvelope = 1, kExtraction = 2, kClaims = 3 };

template <class Root>
Status send_samples(RingWriter &writer, const std::vector<test::SampleOf<Root>> &samples,
                    std::uint16_t type) {
  for (const test::SampleOf<Root> &sample : samples) {
    const Status status =
        send<Root>(writer, sample.build, 10s, {}, {.size_hint = 256, .type = type});
    if (status != Status::ok)
      return status;
  }
  return Status::ok;
}

/// Empty when every sample arrived, verified and equal, in order; else what went wrong.
template <class Root>
std::string receive_samples(RingReader &reader, const std::vector<test::SampleOf<Root>> &samples,
                            std::uint16_t type) {
  for (const test::SampleOf<Root> &sample : samples) {
    const Received<Root> m = receive<Root>(reader, 10s);
    if (!m)
      return std::string(sample.name) + ": " + std::string(to_string(m.status()));
    if (m.type() != type)
      return std::string(sample.name) + ": record type " + std::to_string(m.type());
    if (const std::string why = sample.check(*m); !why.empty())
      return std::string(sample.name) + ": " + why;
  }
  return {};
}

Status send_every_sample(RingWriter &writer) {
  Status status = send_samples(writer, test::envelope_samples(), kEnvelope);
  if (status == Status::ok)
    status = send_samples(writer, test::extraction_samples(), kExtraction);
  if (status == Status::ok)
    status = send_samples(writer, test::claims_samples(), kClaims);
  return status;
}

std::string receive_every_sample(RingReader &reader) {
  std::string why = receive_samples(reader, test::envelope_samples(), kEnvelope);
  if (why.empty())
    why = receive_samples(reader, test::extraction_samples(), kExtraction);
  if (why.empty())
    why = receive_samples(reader, test::claims_samples(), kClaims);
  return why;
}

// The parent builds every message of every schema in place in ring 0; the child verifies and
// checks each one, then builds them all again in place in ring 1 for the parent to check.
TEST(MessageMultiprocessTest, EveryMessageOfEverySchemaRoundTrips) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 1 << 16, .rings = 2});
  test::Child child([&] {
    RingReader requests(segment, 0);
    RingWriter replies(segment, 1);
    if (const std::string why = receive_every_sample(requests); !why.empty()) {
      std::fprintf(stderr, "child: %s\n", why.c_str());
      return 1;
    }
    return send_every_sample(replies) == Status::ok ? 0 : 2;
  });
  RingWriter requests(segment, 0);
  RingReader replies(segment, 1);
  ASSERT_EQ(send_every_sample(requests), Status::ok);
  EXPECT_EQ(receive_every_sample(replies), "");
  EXPECT_EQ(child.wait(30s), 0);
  EXPECT_EQ(requests.stats().consumer.regrown_or_rejected, 0u);
}

// A hostile producer process commits FlatBuffers with random bytes flipped, each followed by a
// good message built in place. Every corrupted one is rejected or verifies (a flip in a value
// or in padding); none crashes the consumer, and every good one arrives intact.
TEST(MessageMultiprocessTest, CorruptedMessagesAreRejectedAndTheNextArrives) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 1 << 16});
  constexpr int kRounds = 2000;
  test::Child child([&] {
    RingWriter writer(segment);
    std::mt19937_64 rng(20261122);
    for (int round = 0; round < kRounds; ++round) {
      flatbuffers::FlatBufferBuilder plain;
      plain.Finish(test::build_ledger_batch(plain, 1 + rng() % 20, 0, 1),
                   MessageTraits<schema::Extraction>::identifier);
      WriteSlot slot = writer.reserve(plain.GetSize(), 10s);
      if (!slot)
        return 1;
      std::memcpy(slot.bytes().data(), plain.GetBufferPointer(), plain.GetSize());
      for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips)
        slot.bytes()[rng() % plain.GetSize()] ^= static_cast<std::byte>(1u << (rng() % 8));
      writer.commit(std::move(slot));
      const auto row = static_cast<std::uint64_t>(round);
      if (send<schema::Extraction>(
              writer,
              [&](flatbuffers::FlatBufferBuilder &b) {
                return test::build_ledger_batch(b, 12, row, 2);
              },
              10s) != Status::ok)
        return 2;
    }
    return 0;
  });
  RingReader reader(segment);
  int rejected = 0;
  for (int round = 0; round < kRounds; ++round) {
    {
      const Received<schema::Extraction> maybe = receive<schema::Extraction>(reader, 10s);
      if (!maybe) {
        ASSERT_EQ(maybe.status(), Status::invalid_message) << "round " << round;
        ++rejected;
      }
    }
    const Received<schema::Extraction> good = receive<schema::Extraction>(reader, 10s);
    ASSERT_TRUE(good) << to_string(good.status()) << " in round " << round;
    ASSERT_EQ(test::check_ledger_batch(*good, 12, static_cast<std::uint64_t>(round)), "");
  }
  EXPECT_EQ(child.wait(30s), 0);
  EXPECT_GT(rejected, kRounds / 10);
  EXPECT_EQ(reader.stats().consumer.regrown_or_rejected, static_cast<std::uint64_t>(rejected));
}

} // namespace
} // namespace shmpipe

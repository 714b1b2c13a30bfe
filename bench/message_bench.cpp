// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Microbenchmarks of message.hpp in one thread: the ways a FlatBuffers message can get into the
// ring, at four sizes, and what verifying it on receipt costs.
//
// Each send benchmark builds the same message into the same 4 MiB ring and releases it unread
// right after (the consumer's side of the hop is in the timing: a message built in place leaves
// it a padding record to skip). The message's data is made once, outside the timed loop: what is
// timed is building the message and getting it into the ring.
//
//   in_place       built in the ring (a fresh builder per message, its memory a reservation)
//   reused_copy    built in the thread's reused builder (a block of its own, kept across
//                  messages), then copied in once; a message that outgrows the block moves
//                  into the ring and is built in place from there
//   fresh_copy     built in a new FlatBufferBuilder per message, then copied in (send_buffer())
//   send           shmpipe::send() with a hint about the message's size: reused_copy up to
//                  kCopyHintMax, in_place above (what these rows decide)
//
// The first two call message.hpp's internals directly, to measure each path at every size.
#include <shmpipe/message.hpp>

#include <benchmark/benchmark.h>

#include "../tests/support/schema_samples.hpp"
#include "bench_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using shmpipe::bench::Fixture;
using shmpipe::schema::Extraction;
namespace fb = flatbuffers;
namespace sc = shmpipe::schema;

constexpr std::uint64_t kCapacity = std::uint64_t{1} << 22;

/// The message of one benchmark: an ExtractRequest (80 bytes) when rows < 0, else a columnar
/// ledger batch of `rows` rows (8 rows: 1.1 KiB, 600: 64 KiB, 10000: 1.04 MiB).
class Sample {
public:
  explicit Sample(std::int64_t rows)
      : rows_(rows),
        source_(shmpipe::test::ledger_rows(rows < 0 ? 0 : static_cast<std::size_t>(rows))) {
    fb::FlatBufferBuilder b(1024, nullptr, false, shmpipe::kRecordAlign);
    b.TrackMinAlign(shmpipe::kRecordAlign);
    b.Finish((*this)(b), shmpipe::MessageTraits<Extraction>::identifier);
    size_ = b.GetSize();
  }
  fb::Offset<Extraction> operator()(fb::FlatBufferBuilder &b) const {
    if (rows_ < 0) {
      const auto req = sc::CreateExtractRequest(b, b.CreateString("ledger.pdf"), 3);
      return sc::CreateExtraction(b, 1, sc::ExtractionBody::ExtractRequest, req.Union());
    }
    return shmpipe::test::build_ledger_batch(b, source_, 0);
  }
  /// The finished message's size.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// A hint as a sender would give it: the size, rounded up to 64.
  [[nodiscard]] std::size_t hint() const noexcept { return (size_ + 63) / 64 * 64; }

private:
  std::int64_t rows_;
  std::vector<shmpipe::test::LedgerRow> source_;
  std::size_t size_ = 0;
};

void count(benchmark::State &state, std::size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["message_bytes"] = static_cast<double>(bytes);
}

/// Runs `send()` (which returns a Status) per iteration and releases the record unread.
template <class Send> void run(benchmark::State &state, const Sample &sample, Send &&send) {
  Fixture f(kCapacity);
  for (auto _ : state) {
    if (send(f.writer) != shmpipe::Status::ok) {
      state.SkipWithError("send failed");
      break;
    }
    f.reader.release(f.reader.try_peek());
  }
  count(state, sample.size());
}

void BM_InPlace(benchmark::State &state) {
  const Sample sample(state.range(0));
  const std::size_t hint = sample.hint();
  auto room = [](std::size_t) { return shmpipe::Status::ok; };
  run(state, sample, [&](shmpipe::RingWriter &w) {
    return shmpipe::detail::build_in_place<Extraction>(w, hint, sample, 1s, {}, {}, {}, room);
  });
}

void BM_ReusedCopy(benchmark::State &state) {
  const Sample sample(state.range(0));
  auto room = [](std::size_t) { return shmpipe::Status::ok; };
  run(state, sample, [&](shmpipe::RingWriter &w) {
    shmpipe::detail::ReusedBuilder::Lease lease(w, 0);
    return shmpipe::detail::build_then_copy<Extraction>(w, lease, sample, 1s, {}, {}, {}, room);
  });
}

void BM_FreshCopy(benchmark::State &state) {
  const Sample sample(state.range(0));
  run(state, sample, [&](shmpipe::RingWriter &w) {
    fb::FlatBufferBuilder b(sample.hint(), nullptr, false, shmpipe::kRecordAlign);
    b.TrackMinAlign(shmpipe::kRecordAlign);
    b.Finish(sample(b), shmpipe::MessageTraits<Extraction>::identifier);
    return shmpipe::send_buffer(
        w, {reinterpret_cast<const std::byte *>(b.GetBufferPointer()), b.GetSize()}, 1s);
  });
}

void BM_Send(benchmark::State &state) {
  const Sample sample(state.range(0));
  run(state, sample, [&](shmpipe::RingWriter &w) {
    return shmpipe::send<Extraction>(w, sample, 1s, {}, {.size_hint = sample.hint()});
  });
}

// -1: an 80-byte request; 8, 600, 10000 ledger rows: 1.1 KiB, 64 KiB, 1.04 MiB.
#define SHMPIPE_SIZES ->Arg(-1)->Arg(8)->Arg(600)->Arg(10000)
BENCHMARK(BM_InPlace) SHMPIPE_SIZES;
BENCHMARK(BM_ReusedCopy) SHMPIPE_SIZES;
BENCHMARK(BM_FreshCopy) SHMPIPE_SIZES;
BENCHMARK(BM_Send) SHMPIPE_SIZES;
#undef SHMPIPE_SIZES

// What a typed receive checks before it hands out the root, over one batch lying in the ring:
// flatbuffers::Verifier (state.range(1) == 1, the default), or only the size and identifier
// (0, a channel that trusts its producer). The difference is the cost of not trusting.
void BM_LedgerCheck(benchmark::State &state) {
  const Sample sample(state.range(0));
  const shmpipe::VerifyOptions options{.verify = state.range(1) != 0};
  Fixture f(kCapacity);
  const shmpipe::Status sent = shmpipe::send<Extraction>(f.writer, sample, 1s);
  shmpipe::ReadSlot rec = f.reader.try_peek();
  if (sent != shmpipe::Status::ok || !rec) {
    state.SkipWithError("send failed");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(shmpipe::verify_message<Extraction>(rec.bytes(), options));
  count(state, rec.bytes().size());
}
BENCHMARK(BM_LedgerCheck)->Args({8, 1})->Args({8, 0})->Args({600, 1})->Args({10000, 1});

} // namespace

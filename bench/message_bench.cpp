// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Microbenchmarks of message.hpp in one thread: building a FlatBuffers ledger batch in place in
// the ring against building it on the heap and copying it in, and what verifying it on
// receipt costs. The first argument is the number of ledger rows; 8 rows make about 1 KiB. The rows
// are made once, outside the timed loop: what is timed is building the message, not making its
// data.
#include <shmpipe/message.hpp>

#include <benchmark/benchmark.h>

#include "../tests/support/schema_samples.hpp"
#include "bench_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using shmpipe::bench::Fixture;
using shmpipe::schema::Extraction;
namespace fb = flatbuffers;

constexpr std::uint64_t kCapacity = std::uint64_t{1} << 22;

/// The size of a ledger batch of `rows` rows, for the hint and the byte counters.
std::size_t batch_size(std::size_t rows) {
  fb::FlatBufferBuilder b;
  b.Finish(shmpipe::test::build_ledger_batch(b, rows));
  return b.GetSize();
}

void count(benchmark::State &state, std::size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["message_bytes"] = static_cast<double>(bytes);
}

// Built in place in the ring (send), released unread: the producer's side of zero-copy.
void BM_LedgerBuildInPlace(benchmark::State &state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const std::vector<shmpipe::test::LedgerRow> source = shmpipe::test::ledger_rows(rows);
  const std::size_t size = batch_size(rows);
  Fixture f(kCapacity);
  for (auto _ : state) {
    const shmpipe::Status status = shmpipe::send<Extraction>(
        f.writer,
        [&](fb::FlatBufferBuilder &b) { return shmpipe::test::build_ledger_batch(b, source, 0); },
        1s, {}, {.size_hint = size + 64});
    if (status != shmpipe::Status::ok)
      state.SkipWithError("send failed");
    f.reader.release(f.reader.try_peek());
  }
  count(state, size);
}
BENCHMARK(BM_LedgerBuildInPlace)->Arg(8)->Arg(1000)->Arg(10000);

// The usual alternative: build on the heap (a reused builder), then copy into the ring.
void BM_LedgerBuildThenCopy(benchmark::State &state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const std::vector<shmpipe::test::LedgerRow> source = shmpipe::test::ledger_rows(rows);
  Fixture f(kCapacity);
  fb::FlatBufferBuilder builder(batch_size(rows) + 64);
  for (auto _ : state) {
    builder.Clear();
    builder.Finish(shmpipe::test::build_ledger_batch(builder, source, 0),
                   shmpipe::MessageTraits<Extraction>::identifier);
    const auto *data = reinterpret_cast<const std::byte *>(builder.GetBufferPointer());
    if (f.writer.try_write({data, builder.GetSize()}) != shmpipe::Status::ok)
      state.SkipWithError("write failed");
    f.reader.release(f.reader.try_peek());
  }
  count(state, batch_size(rows));
}
BENCHMARK(BM_LedgerBuildThenCopy)->Arg(8)->Arg(1000)->Arg(10000);

// What a typed receive checks before it hands out the root, over one batch lying in the ring:
// flatbuffers::Verifier (state.range(1) == 1, the default), or only the size and identifier
// (0, a channel that trusts its producer). The difference is the cost of not trusting.
void BM_LedgerCheck(benchmark::State &state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const std::vector<shmpipe::test::LedgerRow> source = shmpipe::test::ledger_rows(rows);
  const shmpipe::VerifyOptions options{.verify = state.range(1) != 0};
  Fixture f(kCapacity);
  const shmpipe::Status sent = shmpipe::send<Extraction>(
      f.writer,
      [&](fb::FlatBufferBuilder &b) { return shmpipe::test::build_ledger_batch(b, source, 0); },
      1s);
  shmpipe::ReadSlot rec = f.reader.try_peek();
  if (sent != shmpipe::Status::ok || !rec) {
    state.SkipWithError("send failed");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(shmpipe::verify_message<Extraction>(rec.bytes(), options));
  count(state, rec.bytes().size());
}
BENCHMARK(BM_LedgerCheck)->Args({8, 1})->Args({8, 0})->Args({1000, 1})->Args({10000, 1});

} // namespace

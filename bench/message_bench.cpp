// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Microbenchmarks of message.hpp in one thread: building a FlatBuffers ledger batch in place in
// the ring against building it on the heap and copying it in, and what verifying it on
// receipt costs. The argument is the number of ledger rows; 12 rows make about 1 KiB.
#include <shmpipe/message.hpp>

#include <algorithm>

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
  const std::size_t size = batch_size(rows);
  Fixture f(kCapacity);
  for (auto _ : state) {
    const shmpipe::Status status = shmpipe::send<Extraction>(
        f.writer,
        [&](fb::FlatBufferBuilder &b) { return shmpipe::test::build_ledger_batch(b, rows); }, 1s,
        {}, {.size_hint = size + 64});
    if (status != shmpipe::Status::ok)
      state.SkipWithError("send failed");
    f.reader.release(f.reader.try_peek());
  }
  count(state, size);
}
BENCHMARK(BM_LedgerBuildInPlace)->Arg(12)->Arg(1000)->Arg(10000);

// The usual alternative: build on the heap (a reused builder), then copy into the ring.
void BM_LedgerBuildThenCopy(benchmark::State &state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  Fixture f(kCapacity);
  fb::FlatBufferBuilder builder(batch_size(rows) + 64);
  for (auto _ : state) {
    builder.Clear();
    builder.Finish(shmpipe::test::build_ledger_batch(builder, rows),
                   shmpipe::MessageTraits<Extraction>::identifier);
    const auto *data = reinterpret_cast<const std::byte *>(builder.GetBufferPointer());
    if (f.writer.try_write({data, builder.GetSize()}) != shmpipe::Status::ok)
      state.SkipWithError("write failed");
    f.reader.release(f.reader.try_peek());
  }
  count(state, batch_size(rows));
}
BENCHMARK(BM_LedgerBuildThenCopy)->Arg(12)->Arg(1000)->Arg(10000);

// flatbuffers::Verifier over one batch lying in the ring, as a typed receive runs it: the
// cost of not trusting the producer.
void BM_LedgerVerify(benchmark::State &state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  Fixture f(kCapacity);
  const shmpipe::Status sent = shmpipe::send<Extraction>(
      f.writer,
      [&](fb::FlatBufferBuilder &b) { return shmpipe::test::build_ledger_batch(b, rows); }, 1s);
  shmpipe::ReadSlot rec = f.reader.try_peek();
  if (sent != shmpipe::Status::ok || !rec) {
    state.SkipWithError("send failed");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(shmpipe::verify_message<Extraction>(rec.bytes()));
  count(state, rec.bytes().size());
}
BENCHMARK(BM_LedgerVerify)->Arg(12)->Arg(1000)->Arg(10000);

// A whole typed receive (peek, verify or not, release), with verification on (state.range(1)
// == 1) and off: the difference is what verification adds to a receive.
void BM_LedgerReceive(benchmark::State &state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const shmpipe::VerifyOptions options{.verify = state.range(1) != 0};
  const std::size_t size = batch_size(rows);
  Fixture f(kCapacity);
  // Messages are sent ahead, outside the timed region, as many as half the ring holds; then
  // they are received one by one.
  const int ahead = static_cast<int>(std::clamp<std::size_t>(kCapacity / 2 / (size + 64), 1, 64));
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < ahead; ++i)
      if (shmpipe::send<Extraction>(
              f.writer,
              [&](fb::FlatBufferBuilder &b) { return shmpipe::test::build_ledger_batch(b, rows); },
              0ms, {}, {.size_hint = size + 64}) != shmpipe::Status::ok)
        state.SkipWithError("send failed");
    state.ResumeTiming();
    for (int i = 0; i < ahead; ++i) {
      shmpipe::Received<Extraction> m = shmpipe::try_receive<Extraction>(f.reader, options);
      if (!m)
        state.SkipWithError("receive failed");
      benchmark::DoNotOptimize(m.get());
    }
  }
  state.SetItemsProcessed(state.iterations() * ahead);
  state.SetBytesProcessed(state.iterations() * ahead * static_cast<std::int64_t>(size));
  state.counters["message_bytes"] = static_cast<double>(size);
}
BENCHMARK(BM_LedgerReceive)->Args({12, 1})->Args({12, 0})->Args({1000, 1})->Args({1000, 0});

} // namespace

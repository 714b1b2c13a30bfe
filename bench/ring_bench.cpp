// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Microbenchmarks of ring.hpp in one thread: what reserve/commit and peek/release cost by
// themselves, per record size, one record at a time and in batches. Cross-process numbers
// (and the comparison with other transports) come from the cross-process harness instead.
#include <shmpipe/ring.hpp>

#include <cstring>
#include <string>

#include <benchmark/benchmark.h>

#include "bench_fixture.hpp"

namespace {

using shmpipe::ReadSlot;
using shmpipe::WriteSlot;
using shmpipe::bench::Fixture;

// One record: reserve, fill, commit (publish), peek, touch, release.
void BM_RingRoundTripOneRecord(benchmark::State &state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Fixture f(std::uint64_t{1} << 20);
  for (auto _ : state) {
    WriteSlot slot = f.writer.try_reserve(size);
    std::memset(slot.bytes().data(), 1, size);
    f.writer.commit(std::move(slot));
    ReadSlot rec = f.reader.try_peek();
    benchmark::DoNotOptimize(rec.bytes().data()[size / 2]);
    f.reader.release(std::move(rec));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_RingRoundTripOneRecord)->Arg(0)->Arg(64)->Arg(1024)->Arg(4096)->Arg(65536);

// 64 records staged and published with one store, then read as one batch and released once.
void BM_RingRoundTripBatch64(benchmark::State &state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Fixture f(std::uint64_t{1} << 22);
  for (auto _ : state) {
    for (int i = 0; i < 64; ++i) {
      WriteSlot slot = f.writer.try_reserve(size);
      std::memset(slot.bytes().data(), 1, size);
      f.writer.stage(std::move(slot));
    }
    f.writer.publish();
    shmpipe::ReadBatch batch = f.reader.try_peek_batch();
    while (ReadSlot rec = batch.next())
      benchmark::DoNotOptimize(rec.bytes().data()[size / 2]);
    f.reader.release(std::move(batch));
  }
  state.SetItemsProcessed(state.iterations() * 64);
  state.SetBytesProcessed(state.iterations() * 64 * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_RingRoundTripBatch64)->Arg(64)->Arg(1024)->Arg(4096);

// The cost of finding nothing: a consumer polling an empty ring.
void BM_RingPeekEmpty(benchmark::State &state) {
  Fixture f(4096);
  for (auto _ : state)
    benchmark::DoNotOptimize(f.reader.try_peek().status());
}
BENCHMARK(BM_RingPeekEmpty);

} // namespace

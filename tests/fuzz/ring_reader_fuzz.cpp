// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// libFuzzer target: a ring whose control block (indices, sequence numbers, closed flag) and data
// region are arbitrary bytes, as a hostile or crashed peer may leave them. A RingWriter attaches
// over it (its recovery walks the unread records) and a RingReader too, then a list of
// operations from the input runs: peeks, batches, releases, rejects, reservations and commits,
// re-attaches, and rewrites of the indices and data in between, as a peer may do at any time.
//
// What must hold: attaching either succeeds or throws shmpipe::Error; every span handed out lies
// inside the data region; nothing outside the ring's data and control block is touched (the
// segment header, the next ring and the rest of the page are poisoned for AddressSanitizer);
// nothing hangs (libFuzzer's -timeout).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include <sanitizer/asan_interface.h>
#include <unistd.h>

#include <shmpipe/ring.hpp>

#include "fuzz_poison.hpp"
#include "fuzz_ring_input.hpp"

namespace {

using namespace shmpipe;
using fuzz::kRingCapacity;

Segment *g_segment = nullptr; // created once; its name is removed right away
detail::RingMemory g_ring;
volatile unsigned g_sink = 0; // keeps the reads of check_inside()

void check_inside(std::span<const std::byte> bytes, const char *what) {
  const std::byte *begin = g_ring.data;
  const std::byte *end = g_ring.data + kRingCapacity;
  if (bytes.data() == nullptr || bytes.data() < begin || bytes.size() > kRingCapacity ||
      bytes.data() + bytes.size() > end) {
    std::fprintf(stderr, "%s: span [%p, +%zu) is outside the data region [%p, %p)\n", what,
                 static_cast<const void *>(bytes.data()), bytes.size(),
                 static_cast<const void *>(begin), static_cast<const void *>(end));
    std::abort();
  }
  // Touch every byte, so that AddressSanitizer sees the reads.
  unsigned sum = 0;
  for (const std::byte b : bytes)
    sum += static_cast<unsigned>(b);
  g_sink = g_sink + sum;
}

void load(const fuzz::RingInput &in) {
  detail::RingControl *ctl = g_ring.control;
  std::memset(static_cast<void *>(ctl), 0, sizeof *ctl);
  ctl->producer_index.index.store(in.write_index, std::memory_order_relaxed);
  ctl->producer_index.next_seq.store(in.write_seq, std::memory_order_relaxed);
  ctl->consumer_index.index.store(in.read_index, std::memory_order_relaxed);
  ctl->consumer_index.next_seq.store(in.read_seq, std::memory_order_relaxed);
  ctl->producer_owner.closed.store((in.flags & fuzz::kProducerClosed) != 0 ? 1 : 0,
                                   std::memory_order_relaxed);
  std::memset(g_ring.data, 0, kRingCapacity);
  std::memcpy(g_ring.data, in.data.data(), std::min<std::size_t>(in.data.size(), kRingCapacity));
}

template <class T> void attach(std::optional<T> &endpoint) {
  endpoint.reset();
  try {
    endpoint.emplace(*g_segment, 0);
  } catch (const Error &) {
    // corrupt (or role_taken for a bogus owner word): refusing is the right answer.
  }
}

void run(const fuzz::RingInput &in) {
  load(in);
  std::optional<RingWriter> writer;
  std::optional<RingReader> reader;
  if ((in.flags & fuzz::kNoWriter) == 0)
    attach(writer);
  if ((in.flags & fuzz::kNoReader) == 0)
    attach(reader);
  std::optional<ReadSlot> held;
  std::optional<ReadBatch> batch;
  detail::RingControl *ctl = g_ring.control;

  for (const fuzz::Op &op : in.ops) {
    const unsigned arg = op.arg;
    switch (op.kind % 16) {
    case 0: // peek the oldest record
      if (reader) {
        held.emplace(reader->try_peek());
        if (*held)
          check_inside(held->bytes(), "try_peek");
      }
      break;
    case 1: // release it
      if (reader && held) {
        reader->release(std::move(*held));
        held.reset();
      }
      break;
    case 2: // reject it (a message that failed verification)
      if (reader && held) {
        reader->reject(std::move(*held));
        held.reset();
      }
      break;
    case 3: // take a batch
      if (reader) {
        batch.reset();
        batch.emplace(reader->try_peek_batch(arg % 8 == 0 ? SIZE_MAX : arg % 8));
      }
      break;
    case 4: // walk the batch
      if (reader && batch)
        for (unsigned i = 0; i <= arg % 4; ++i) {
          const ReadSlot slot = batch->next();
          if (!slot)
            break;
          check_inside(slot.bytes(), "ReadBatch::next");
        }
      break;
    case 5: // release the batch
      if (reader && batch) {
        reader->release(std::move(*batch));
        batch.reset();
      }
      break;
    case 6:   // reserve, fill and commit
    case 7: { // the same, built back to front (commit_tail with a padding front)
      if (!writer)
        break;
      WriteSlot slot = writer->try_reserve(std::size_t{arg} * 3);
      if (!slot)
        break;
      check_inside(slot.bytes(), "try_reserve");
      std::memset(slot.bytes().data(), static_cast<int>(arg), slot.bytes().size());
      const std::size_t size = slot.bytes().size();
      const std::size_t front = std::size_t{arg % 4} * 16;
      if (op.kind % 16 == 7 && front <= size)
        writer->commit_tail(std::move(slot), size - front, std::uint16_t{op.kind});
      else
        writer->commit(std::move(slot), std::uint16_t{op.kind});
      break;
    }
    case 8: { // stage without publishing, publish later (case 9)
      if (!writer)
        break;
      WriteSlot slot = writer->try_reserve(arg % 64);
      if (slot) {
        check_inside(slot.bytes(), "try_reserve");
        writer->stage(std::move(slot));
      }
      break;
    }
    case 9:
      if (writer)
        writer->publish();
      break;
    case 10: // the peer rewrites a data byte
      g_ring.data[(std::size_t{arg} * 2) & (kRingCapacity - 1)] = std::byte{op.kind};
      break;
    case 11: // the peer moves the write index (possibly misaligned, backwards, far ahead)
      ctl->producer_index.index.fetch_add(arg % 2 == 0 ? arg : std::uint64_t{0} - arg,
                                          std::memory_order_relaxed);
      break;
    case 12: // the peer moves the read index
      ctl->consumer_index.index.fetch_add(arg % 2 == 0 ? arg : std::uint64_t{0} - arg,
                                          std::memory_order_relaxed);
      break;
    case 13: // the producer's closed flag flips
      ctl->producer_owner.closed.store(arg & 1, std::memory_order_relaxed);
      break;
    case 14: // a new consumer or producer attaches to whatever is there now
      held.reset();
      batch.reset();
      if (arg % 2 == 0)
        attach(reader);
      else
        attach(writer);
      break;
    case 15: // the blocking calls with a zero timeout must not block
      if (reader && arg % 2 == 0) {
        held.emplace(reader->peek(std::chrono::microseconds(0)));
        if (*held)
          check_inside(held->bytes(), "peek");
      } else if (writer) {
        WriteSlot slot = writer->reserve(arg, std::chrono::microseconds(0));
        if (slot)
          check_inside(slot.bytes(), "reserve");
      }
      break;
    }
  }
  batch.reset();
  held.reset();
  reader.reset();
  writer.reset();
  // Owner words back to free for the next input (both endpoints gave their roles back).
  if (ctl->producer_owner.owner.load(std::memory_order_relaxed) != 0 ||
      ctl->consumer_owner.owner.load(std::memory_order_relaxed) != 0) {
    std::fprintf(stderr, "a role was not given back\n");
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const std::string name = "shmpipe-fuzz-ring-" + std::to_string(::getpid());
  Segment::remove(name);
  g_segment = new Segment(Segment::create(name, {.ring_capacity = kRingCapacity, .rings = 2}));
  Segment::remove(name); // the mapping stays: nothing is left behind, even after a crash
  g_ring = g_segment->ring(0);
  // Only ring 0's control block and data may be touched: the rest faults.
  fuzz::poison_outside(*g_segment, g_ring.data + kRingCapacity);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  fuzz::RingInput in;
  if (!fuzz::decode({data, size}, in))
    return -1; // too short to mean anything: not added to the corpus
  run(in);
  return 0;
}

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Writes the seed corpora of the fuzz targets from real data: control blocks and data regions of
// rings after real traffic, every sample message of schemas/, real segments, and lanes after
// real traffic.
//
//   make_seeds <dir>   writes <dir>/{ring_reader_fuzz,message_fuzz,segment_fuzz,lane_fuzz}/*
//
// The seeds are checked in under tests/fuzz/corpus/; run this again after a layout change.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <shmpipe/fixed_ring.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/session.hpp>

#include "../support/schema_samples.hpp"
#include "fuzz_lane_input.hpp"
#include "fuzz_ring_input.hpp"

namespace {

using namespace shmpipe;
namespace fs = std::filesystem;

void save(const fs::path &file, const void *data, std::size_t size) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
  std::printf("%s (%zu bytes)\n", file.c_str(), size);
}

std::string unique(const char *what) {
  return std::string("shmpipe-seeds-") + what + "-" + std::to_string(::getpid());
}

// --- ring_reader_fuzz -----------------------------------------------------------------------

const std::vector<fuzz::Op> kOps = {{0, 0},  {1, 0},  {3, 0}, {4, 3},   {5, 0},  {6, 20},
                                    {7, 33}, {8, 5},  {9, 0}, {0, 0},   {2, 0},  {3, 2},
                                    {4, 1},  {5, 0},  {6, 9}, {14, 0},  {14, 1}, {15, 0},
                                    {15, 1}, {10, 3}, {0, 0}, {11, 16}, {0, 0},  {1, 0}};

/// A ring of fuzz::kRingCapacity after `script` ran on it, saved in ring_reader_fuzz's format.
template <class Script>
void ring_seed(const fs::path &dir, const char *name, std::uint8_t flags, Script script) {
  const std::string seg_name = unique("ring");
  ScopedRemove remove(seg_name);
  Segment seg = Segment::create(seg_name, {.ring_capacity = fuzz::kRingCapacity});
  {
    RingWriter writer(seg, 0);
    RingReader reader(seg, 0);
    script(writer, reader);
  }
  const detail::RingMemory ring = seg.ring(0);
  fuzz::RingInput in;
  in.flags = flags;
  in.write_index = ring.control->producer_index.index.load(std::memory_order_relaxed);
  in.write_seq = ring.control->producer_index.next_seq.load(std::memory_order_relaxed);
  in.read_index = ring.control->consumer_index.index.load(std::memory_order_relaxed);
  in.read_seq = ring.control->consumer_index.next_seq.load(std::memory_order_relaxed);
  in.ops = kOps;
  const auto *data = reinterpret_cast<const std::uint8_t *>(ring.data);
  in.data = {data, fuzz::kRingCapacity};
  const std::vector<std::uint8_t> bytes = fuzz::encode(in);
  save(dir / "ring_reader_fuzz" / name, bytes.data(), bytes.size());
}

void write_n(RingWriter &w, std::size_t n, std::size_t size) {
  const std::vector<std::byte> payload(size, std::byte{0x5a});
  for (std::size_t i = 0; i < n; ++i)
    (void)w.try_write(payload, static_cast<std::uint16_t>(i));
}

void release_n(RingReader &r, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    ReadSlot slot = r.try_peek();
    if (!slot)
      return;
    r.release(std::move(slot));
  }
}

void ring_seeds(const fs::path &dir) {
  ring_seed(dir, "empty", 0, [](RingWriter &, RingReader &) {});
  ring_seed(dir, "three_unread", 0, [](RingWriter &w, RingReader &) { write_n(w, 3, 40); });
  ring_seed(dir, "wrapped_padding", 0, [](RingWriter &w, RingReader &r) {
    write_n(w, 5, 70); // 5 * 96 bytes: the sixth does not fit before the end
    release_n(r, 4);
    write_n(w, 2, 70); // a padding record, then records from the start
  });
  ring_seed(dir, "tail_padding_closed", fuzz::kProducerClosed, [](RingWriter &w, RingReader &r) {
    write_n(w, 2, 10);
    release_n(r, 1);
    WriteSlot slot = w.try_reserve(100);
    std::memset(slot.bytes().data(), 1, slot.bytes().size());
    w.commit_tail(std::move(slot), 100 - 64); // a 64-byte padding front
  });
  ring_seed(dir, "full_reader_only", fuzz::kNoWriter, [](RingWriter &w, RingReader &r) {
    write_n(w, 3, 100);
    release_n(r, 3);
    write_n(w, 10, 16);
  });
}

// --- message_fuzz ---------------------------------------------------------------------------

template <class Root>
void message_seeds(const fs::path &dir, std::uint8_t root_selector,
                   const std::vector<test::SampleOf<Root>> &samples) {
  for (const auto &sample : samples) {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(sample.build(b), MessageTraits<Root>::identifier);
    for (const std::uint8_t framed : {std::uint8_t{0}, std::uint8_t{4}}) {
      std::vector<std::uint8_t> bytes{static_cast<std::uint8_t>(root_selector | framed)};
      bytes.insert(bytes.end(), b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
      save(dir / "message_fuzz" / (std::string(sample.name) + (framed ? "_framed" : "")),
           bytes.data(), bytes.size());
    }
  }
}

// --- segment_fuzz ---------------------------------------------------------------------------

void segment_seed(const fs::path &dir, const char *name, const SegmentOptions &options,
                  std::size_t keep = SIZE_MAX) {
  const std::string seg_name = unique("segment");
  ScopedRemove remove(seg_name);
  Segment seg = Segment::create(seg_name, options);
  save(dir / "segment_fuzz" / name, seg.base(), std::min<std::size_t>(keep, seg.size_bytes()));
}

void segment_seeds(const fs::path &dir) {
  segment_seed(dir, "one_ring", {.ring_capacity = 64});
  segment_seed(dir, "two_rings", {.ring_capacity = 256, .rings = 2});
  segment_seed(dir, "ring_and_lane", {.ring_capacity = 64, .lanes = 1, .lane_bytes = 448});
  segment_seed(dir, "lanes_only", {.ring_capacity = 64, .rings = 0, .lanes = 2, .lane_bytes = 448});
  segment_seed(dir, "header_only", {.ring_capacity = 1024}, sizeof(detail::SegmentHeader));
}

// --- lane_fuzz ------------------------------------------------------------------------------

namespace lane = fuzz::lane;
using LaneItem = lane::Item;
using LaneOp = lane::Op;
using enum lane::Kind;

// The third byte of a waiting operation: bits 0-2 the wait (5: 20 us, 6: 200 us, 7: 1 ms, else
// none), bit 3 absolute deadline, bits 4-5 the mode (0 busy_spin, 1 spin_then_yield, else
// blocking), bit 6 spin and yield 10 us each, bit 7 liveness every 1 ms.
const std::vector<LaneOp> kHonestLaneOps = {
    {kTryPush, 0, 0},    {kTryPush, 0, 0}, {kTryPush, 0, 0},     {kTryPopSome, 2, 0},
    {kPushAll, 4, 0x25}, {kInspect, 0, 0}, {kPopSome, 7, 0x26},  {kTryPop, 0, 0},
    {kPush, 0, 0x15},    {kPop, 0, 0xa6},  {kTryPushSome, 7, 0}, {kPushAll, 3, 0x0d},
    {kPopSome, 5, 0x65}, {kClose, 0, 0},   {kTryPopSome, 7, 0},  {kTryPop, 0, 0},
    {kAttach, 0, 0},     {kTryPush, 0, 0}, {kAttach, 1, 0},      {kTryPop, 0, 0},
};

const std::vector<LaneOp> kHostileLaneOps = {
    {kTryPush, 0, 0},        {kTryPushSome, 3, 0},     {kTryPop, 0, 0},
    {kTryPopSome, 2, 0},     {kPeerWriteIndex, 20, 0}, {kTryPop, 0, 0},
    {kAttach, 1, 0},         {kPeerReadIndex, 3, 0},   {kTryPush, 0, 0},
    {kAttach, 0, 0},         {kWindowPush, 9, 2},      {kWindowPop, 17, 1},
    {kAttach, 0, 0},         {kAttach, 1, 0},          {kMove, 0, 0},
    {kMove, 1, 1},           {kPeerStep, 0, 0xff},     {kTryPush, 0, 0},
    {kAttach, 0, 0},         {kPeerSlot, 5, 7},        {kPeerFlags, 0, 1},
    {kTryPopSome, 7, 0},     {kPeerOwner, 1, 1},       {kPush, 0, 0xa6},
    {kPeerLine, 1, 200},     {kPeerDescriptor, 0, 1},  {kAttach, 1, 1},
    {kAttachOther, 0, 1},    {kAttachOther, 3, 0},     {kAttachBadLane, 0, 0},
    {kPeerDescriptor, 0, 0}, {kPeerDescriptor, 17, 9}, {kAttach, 1, 0},
    {kInspect, 0, 0},        {kClose, 0, 0},           {kPop, 0, 0x07},
    {kClose, 1, 0},          {kTryPop, 0, 0},
};

LaneItem lane_item(std::uint64_t seq) { return {seq, ~seq * 0x9e3779b97f4a7c15ULL, seq ^ 0x5a5a}; }

/// Lane 0 after `script` ran on a real segment, saved in lane_fuzz's format.
template <class Script>
void lane_seed(const fs::path &dir, const char *name, std::uint8_t flags, std::uint8_t state,
               std::uint8_t owners, const std::vector<LaneOp> &ops, Script script) {
  const std::string seg_name = unique("lane");
  ScopedRemove remove(seg_name);
  Segment seg =
      Segment::create(seg_name, {.rings = 0, .lanes = 1, .lane_bytes = lane::Lane::lane_bytes});
  script(seg);
  std::vector<std::uint8_t> bytes{flags, state, owners, static_cast<std::uint8_t>(ops.size())};
  for (const LaneOp &op : ops)
    bytes.insert(bytes.end(), {op.kind, op.a, op.b});
  const auto *lane = reinterpret_cast<const std::uint8_t *>(seg.lane(0).base);
  bytes.insert(bytes.end(), lane, lane + lane::kImageBytes);
  save(dir / "lane_fuzz" / name, bytes.data(), bytes.size());
}

/// A writer pushes `pushes`, a reader pops `pops`, then `more` pushes; both detach.
auto traffic(std::size_t pushes, std::size_t pops, std::size_t more) {
  return [=](Segment &seg) {
    lane::Lane::Writer writer(seg, 0);
    lane::Lane::Reader reader(seg, 0);
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < pushes; ++i)
      (void)writer.try_push(lane_item(seq++));
    LaneItem out{};
    for (std::size_t i = 0; i < pops; ++i)
      (void)reader.try_pop(out);
    for (std::size_t i = 0; i < more; ++i)
      (void)writer.try_push(lane_item(seq++));
  };
}

void lane_seeds(const fs::path &dir) {
  const auto none = [](Segment &) {};
  lane_seed(dir, "empty", 0, 0, 0, kHonestLaneOps, traffic(0, 0, 0));
  lane_seed(dir, "three_unread", lane::kReaderFirst, 0, 0, kHonestLaneOps, traffic(3, 0, 0));
  lane_seed(dir, "wrapped", 0, 0, 0, kHostileLaneOps, traffic(5, 4, 3));
  lane_seed(dir, "full_closed_reader_only", lane::kNoWriter, 0, 0, kHonestLaneOps,
            traffic(5, 0, 0));
  lane_seed(dir, "unformatted", 0, 1, 0, kHonestLaneOps, none);
  // A crash: a dead formatter's token and dead holders of both roles over a used lane.
  lane_seed(dir, "dead_formatter_and_owners", 0, 2, 1 | 1 << 2, kHostileLaneOps, traffic(4, 1, 0));
  // Formatted for another element type and capacity: refused at attach as it stands.
  lane_seed(dir, "other_type", lane::kRawDescriptor, 0, 0, kHostileLaneOps, [](Segment &seg) {
    FixedRing<std::uint64_t, 3>::Writer writer(seg, 0);
    (void)writer.try_push(7);
    (void)writer.try_push(8);
  });
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <dir>\n");
    return 2;
  }
  const fs::path dir = argv[1];
  ring_seeds(dir);
  message_seeds<schema::Envelope>(dir, 0, test::envelope_samples());
  message_seeds<schema::Extraction>(dir, 1, test::extraction_samples());
  message_seeds<schema::Claims>(dir, 2, test::claims_samples());
  segment_seeds(dir);
  lane_seeds(dir);
  return 0;
}

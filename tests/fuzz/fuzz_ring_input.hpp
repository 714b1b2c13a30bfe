// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The input format of ring_reader_fuzz, shared with the seed generator (make_seeds.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace shmpipe::fuzz {

/// Data bytes of the fuzzed ring (a power of two): small, so that inputs cover it whole.
inline constexpr std::uint64_t kRingCapacity = 512;
/// Most operations one input runs.
inline constexpr std::size_t kMaxOps = 48;

/// Bits of RingInput::flags.
inline constexpr std::uint8_t kProducerClosed = 1; ///< producer_owner.closed = 1
inline constexpr std::uint8_t kNoWriter = 2;       ///< do not attach a RingWriter
inline constexpr std::uint8_t kNoReader = 4;       ///< do not attach a RingReader

/// One operation: `kind` selects it (modulo the number of kinds), `arg` parameterizes it.
struct Op {
  std::uint8_t kind;
  std::uint8_t arg;
};

/// The decoded input:
///   [0]       flags
///   [1, 33)   producer index, producer next_seq, consumer index, consumer next_seq (u64 LE)
///   [33]      number of operations n (at most kMaxOps)
///   [34, +2n) operations (kind, arg)
///   rest      the data region, from its start (zeros after the input ends)
struct RingInput {
  std::uint8_t flags = 0;
  std::uint64_t write_index = 0, write_seq = 0, read_index = 0, read_seq = 0;
  std::vector<Op> ops;
  std::span<const std::uint8_t> data;
};

inline constexpr std::size_t kRingInputFixed = 34;

[[nodiscard]] inline bool decode(std::span<const std::uint8_t> in, RingInput &out) {
  if (in.size() < kRingInputFixed)
    return false;
  out.flags = in[0];
  std::uint64_t words[4];
  std::memcpy(words, in.data() + 1, sizeof words);
  out.write_index = words[0];
  out.write_seq = words[1];
  out.read_index = words[2];
  out.read_seq = words[3];
  std::size_t n = in[33];
  if (n > kMaxOps)
    n = kMaxOps;
  std::size_t at = kRingInputFixed;
  out.ops.clear();
  for (std::size_t i = 0; i < n && at + 2 <= in.size(); ++i, at += 2)
    out.ops.push_back({in[at], in[at + 1]});
  out.data = in.subspan(at);
  return true;
}

[[nodiscard]] inline std::vector<std::uint8_t> encode(const RingInput &in) {
  std::vector<std::uint8_t> out(kRingInputFixed);
  out[0] = in.flags;
  const std::uint64_t words[4] = {in.write_index, in.write_seq, in.read_index, in.read_seq};
  std::memcpy(out.data() + 1, words, sizeof words);
  out[33] = static_cast<std::uint8_t>(in.ops.size());
  for (const Op &op : in.ops) {
    out.push_back(op.kind);
    out.push_back(op.arg);
  }
  out.insert(out.end(), in.data.begin(), in.data.end());
  return out;
}

} // namespace shmpipe::fuzz

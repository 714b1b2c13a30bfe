// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The input format of lane_fuzz (see lane_fuzz.cpp for its layout), shared with the seed
// generator (make_seeds.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include <shmpipe/fixed_ring.hpp>

namespace shmpipe::fuzz::lane {

/// 24 bytes: slots do not line up with cache lines, and an index 2^61 slots on wraps the
/// address space exactly.
struct Item {
  std::uint64_t seq;
  std::uint64_t check;
  std::uint64_t tag;
};

inline constexpr std::size_t kN = 5;
using Lane = FixedRing<Item, kN>;
/// The bytes an endpoint of Lane may touch: control block and queue object.
inline constexpr std::size_t kImageBytes = sizeof(detail::LaneControl) + sizeof(Lane::Queue);

inline constexpr std::size_t kMaxOps = 48;
inline constexpr std::size_t kFixed = 4;

inline constexpr std::uint8_t kNoWriter = 1;
inline constexpr std::uint8_t kNoReader = 2;
inline constexpr std::uint8_t kRawDescriptor = 4; ///< else the descriptor says what Lane expects
inline constexpr std::uint8_t kReaderFirst = 8;

enum Kind : std::uint8_t {
  kTryPush,
  kPush,
  kTryPushSome,
  kPushAll,
  kTryPop,
  kPop,
  kTryPopSome,
  kPopSome,
  kClose,
  kAttach,
  kAttachOther,
  kAttachBadLane,
  kMove,
  kInspect,
  kPeerWriteIndex,
  kPeerReadIndex,
  kPeerStep,
  kPeerSlot,
  kPeerFlags,
  kPeerOwner,
  kPeerDescriptor,
  kPeerLine,
  kWindowPush,
  kWindowPop,
  kKinds
};

struct Op {
  std::uint8_t kind, a, b;
};

} // namespace shmpipe::fuzz::lane

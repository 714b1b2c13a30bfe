// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Constants that are part of the shared-memory wire format.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmpipe {

/// Size of the unit of cache coherence that the layout pads to. Fixed rather than taken from
/// std::hardware_destructive_interference_size, which depends on compiler flags: it is part of
/// the wire format and is recorded in (and checked against) every segment header.
inline constexpr std::size_t kCacheLine = 64;

/// Records start, and payloads begin, on this alignment; record sizes are multiples of it.
inline constexpr std::size_t kRecordAlign = 16;

/// Smallest and largest ring data capacity (bytes, a power of two). The upper bound keeps every
/// record length representable in the 32-bit length field.
inline constexpr std::uint64_t kMinRingCapacity = 64;
inline constexpr std::uint64_t kMaxRingCapacity = std::uint64_t{1} << 32;

/// Most rings one segment may hold.
inline constexpr std::uint32_t kMaxRings = 64;

/// Longest segment name accepted (without the leading '/' that POSIX adds).
inline constexpr std::size_t kMaxNameLength = 200;

} // namespace shmpipe

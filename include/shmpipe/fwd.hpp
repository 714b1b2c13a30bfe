// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Forward declarations of the public types.
#pragma once

#include <cstdint>

namespace shmpipe {
enum class Errc;
enum class Status : std::uint8_t;
enum class WaitMode : std::uint8_t;
class Error;
struct SegmentOptions;
class Segment;
class ScopedRemove;
struct WaitPolicy;
class WaitLimit;
struct SideStats;
struct RingStats;
class WriteSlot;
class RingWriter;
class ReadSlot;
class ReadBatch;
class RingReader;
struct ChannelOptions;
class Producer;
class Consumer;
} // namespace shmpipe

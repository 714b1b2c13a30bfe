// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Forward declarations of the public types.
#pragma once

#include <cstddef>
#include <cstdint>

#include <shmpipe/message_traits.hpp> // the Message concept, which Received requires

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
struct SendOptions;
struct VerifyOptions;
template <Message Root> class Received;
template <class T, std::size_t N> struct FixedRing;
template <class T, std::size_t N> class FixedWriter;
template <class T, std::size_t N> class FixedReader;
struct SessionOptions;
struct WorkerInfo;
struct Sent;
class Incoming;
class Core;
class Worker;
} // namespace shmpipe

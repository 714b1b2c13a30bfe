// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Producer and Consumer: one direction of traffic = a segment + its ring + a wait policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <unistd.h>

#include <shmpipe/error.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe {

struct ChannelOptions {
  std::uint64_t capacity = std::uint64_t{1} << 20; ///< create: ring data bytes, a power of two
  unsigned mode = 0600;                            ///< create: permission bits
  std::uint64_t schema_id = 0;                     ///< create: stored in the segment header
  /// create: replace a segment of the same name whose processes all died (see
  /// SegmentOptions::replace_abandoned) instead of failing with segment_exists.
  bool replace_abandoned = false;
  WaitPolicy wait{};      ///< how blocking calls wait
  VerifyOptions verify{}; ///< consumer: what typed receives check (turn off for trusted peers)
  /// consumer: how the ring is read; `.read_only_data = true` makes a write into a received
  /// record fault (see ReaderOptions).
  ReaderOptions reader{};
  /// open: keep retrying a segment that is missing or still being initialized for this long,
  /// so the two processes may start in either order. Zero: fail at once.
  std::chrono::milliseconds open_timeout{0};
  /// create, producer: how long close() (or the destructor) waits for a consumer when none
  /// has attached yet and records are unread, before the name goes. A producer may so exit
  /// right after its last commit, and a consumer that starts (or opens) within this time
  /// still gets every record, then `closed`. After it, the name is removed whatever happened:
  /// nothing is left in /dev/shm. Zero: remove at once (a consumer not attached by then never
  /// sees the records). Its other end, `open_timeout`, bounds the wait the other way round.
  std::chrono::milliseconds linger{5000};
};

namespace detail {

/// Holds the segment an endpoint uses and, if this endpoint created it, removes its name again
/// when the endpoint goes away: peers that have it mapped keep working, and nothing is left
/// in /dev/shm. Only in the creating process: a child forked from it shares the handle, not
/// the name's ownership.
class OwnedSegment {
public:
  OwnedSegment(Segment segment, bool created)
      : segment_(std::move(segment)), creator_(created ? ::getpid() : 0) {}
  OwnedSegment(OwnedSegment &&other) noexcept
      : segment_(std::move(other.segment_)), creator_(std::exchange(other.creator_, 0)) {}
  OwnedSegment &operator=(OwnedSegment &&) = delete;
  OwnedSegment(const OwnedSegment &) = delete;
  OwnedSegment &operator=(const OwnedSegment &) = delete;
  ~OwnedSegment() {
    if (created_here())
      Segment::remove(segment_.name());
  }
  Segment &get() noexcept { return segment_; }
  const Segment &get() const noexcept { return segment_; }
  /// Whether this process created the segment (and removes its name).
  [[nodiscard]] bool created_here() const noexcept {
    return creator_ != 0 && creator_ == ::getpid();
  }

private:
  Segment segment_;
  ::pid_t creator_; // 0: opened, not created
};

/// For a producer closing a channel it created: waits until a consumer has attached to the
/// ring (it maps the segment then and needs the name no more), nothing published is unread,
/// or `linger` has passed, polling every millisecond (the pace at which open_segment() looks
/// for the name). A hostile consumer can only make it wait the whole `linger`.
inline void await_first_consumer(const RingControl &ctl,
                                 std::chrono::milliseconds linger) noexcept {
  if (linger <= std::chrono::milliseconds::zero())
    return;
  const Deadline until = WaitLimit(linger).resolve(Clock::now());
  for (;;) {
    // relaxed, all four: nothing is read on the strength of these values, they only decide
    // whether to wait longer; a stale one costs one more millisecond. A consumer that ever
    // claimed the role left its owner word (alive or dead) or its `closed` flag set.
    const bool attached = ctl.consumer_owner.owner.load(std::memory_order_relaxed) != 0 ||
                          ctl.consumer_owner.closed.load(std::memory_order_relaxed) != 0;
    const bool unread = ctl.producer_index.index.load(std::memory_order_relaxed) !=
                        ctl.consumer_index.index.load(std::memory_order_relaxed);
    if (attached || !unread || Clock::now() >= until)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

inline OwnedSegment create_segment(std::string_view name, const ChannelOptions &options) {
  return {Segment::create(name, {.ring_capacity = options.capacity,
                                 .rings = 1,
                                 .schema_id = options.schema_id,
                                 .mode = options.mode,
                                 .replace_abandoned = options.replace_abandoned}),
          true};
}

inline OwnedSegment open_segment(std::string_view name, const ChannelOptions &options) {
  const Deadline deadline = Clock::now() + options.open_timeout;
  for (;;) {
    try {
      return {Segment::open(name), false};
    } catch (const Error &e) {
      const bool transient = e.code() == Errc::segment_missing || e.code() == Errc::not_ready;
      if (!transient || Clock::now() >= deadline)
        throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

} // namespace detail

/// The sending end of a channel. Setup throws Error; everything else is noexcept.
///
/// **Example**:
///
///     auto tx = shmpipe::Producer::create("orders", {.capacity = 1 << 20});
///     auto slot = tx.reserve(64, shmpipe::deadline_after(1s));
///     if (slot) { fill(slot.bytes()); tx.commit(std::move(slot)); }
class Producer {
public:
  /// Creates the segment (exclusively) and becomes its producer.
  static Producer create(std::string_view name, const ChannelOptions &options = {}) {
    return Producer(detail::create_segment(name, options), options.wait, options.linger);
  }
  /// Opens a segment the consumer created and becomes its producer.
  static Producer open(std::string_view name, const ChannelOptions &options = {}) {
    return Producer(detail::open_segment(name, options), options.wait, options.linger);
  }

  Producer(Producer &&) noexcept = default;
  Producer &operator=(Producer &&) = delete;
  Producer(const Producer &) = delete;
  Producer &operator=(const Producer &) = delete;
  /// close(): the stream ends, and the name is removed once a consumer has it (see linger).
  ~Producer() { close(); }

  [[nodiscard]] WriteSlot try_reserve(std::size_t size) noexcept {
    return writer_.try_reserve(size);
  }
  [[nodiscard]] WriteSlot reserve(std::size_t size, WaitLimit limit) noexcept {
    return writer_.reserve(size, limit, wait_);
  }
  void commit(WriteSlot &&slot, std::uint16_t type = 0) noexcept {
    writer_.commit(std::move(slot), type);
  }
  void stage(WriteSlot &&slot, std::uint16_t type = 0) noexcept {
    writer_.stage(std::move(slot), type);
  }
  void publish() noexcept { writer_.publish(); }
  /// Copying convenience: waits for space until `deadline`, copies, commits.
  [[nodiscard]] Status send(std::span<const std::byte> payload, WaitLimit limit,
                            std::uint16_t type = 0) noexcept {
    return writer_.write(payload, limit, wait_, type);
  }
  /// Builds a `Root` message in place in the ring and commits it (see shmpipe::send() in
  /// message.hpp): `build(builder)` returns the root offset.
  template <Message Root, class Build>
  [[nodiscard]] Status send(Build &&build, WaitLimit limit, const SendOptions &options = {}) {
    return shmpipe::send<Root>(writer_, std::forward<Build>(build), limit, wait_, options);
  }
  /// Publishes what is staged and tells the consumer the stream has ended. If this producer
  /// created the channel, no consumer has attached yet and records are unread, it then waits
  /// for one, up to ChannelOptions::linger (once; later calls return at once).
  void close() noexcept {
    writer_.close();
    if (segment_.created_here())
      detail::await_first_consumer(*control_, std::exchange(linger_, {}));
  }

  [[nodiscard]] std::size_t max_payload() const noexcept { return writer_.max_payload(); }
  [[nodiscard]] RingStats stats() const noexcept { return writer_.stats(); }
  [[nodiscard]] const Segment &segment() const noexcept { return segment_.get(); }

private:
  Producer(detail::OwnedSegment segment, const WaitPolicy &wait, std::chrono::milliseconds linger)
      : segment_(std::move(segment)), writer_(segment_.get(), 0), wait_(wait), linger_(linger),
        control_(segment_.get().ring(0).control) {}

  detail::OwnedSegment segment_;
  RingWriter writer_;
  WaitPolicy wait_;
  std::chrono::milliseconds linger_;
  const detail::RingControl *control_; // ring 0's, in the segment's mapping (which moves along)
};

/// The receiving end of a channel. Setup throws Error; everything else is noexcept.
///
/// **Example**:
///
///     auto rx = shmpipe::Consumer::open("orders", {.open_timeout = 5s});
///     while (auto rec = rx.peek(shmpipe::deadline_after(1s))) { use(rec.bytes());
///                                                               rx.release(std::move(rec)); }
class Consumer {
public:
  /// Creates the segment (exclusively) and becomes its consumer.
  static Consumer create(std::string_view name, const ChannelOptions &options = {}) {
    return Consumer(detail::create_segment(name, options), options);
  }
  /// Opens a segment the producer created and becomes its consumer.
  static Consumer open(std::string_view name, const ChannelOptions &options = {}) {
    return Consumer(detail::open_segment(name, options), options);
  }

  [[nodiscard]] ReadSlot try_peek() noexcept { return reader_.try_peek(); }
  [[nodiscard]] ReadSlot peek(WaitLimit limit) noexcept { return reader_.peek(limit, wait_); }
  void release(ReadSlot &&slot) noexcept { reader_.release(std::move(slot)); }
  [[nodiscard]] ReadBatch try_peek_batch() noexcept { return reader_.try_peek_batch(); }
  [[nodiscard]] ReadBatch peek_batch(WaitLimit limit) noexcept {
    return reader_.peek_batch(limit, wait_);
  }
  void release(ReadBatch &&batch) noexcept { reader_.release(std::move(batch)); }
  /// Waits for the next record and verifies it as a `Root` (see message.hpp); a record that
  /// fails is released and reported as Status::invalid_message, and the next call goes on.
  template <Message Root> [[nodiscard]] Received<Root> receive(WaitLimit limit) noexcept {
    return shmpipe::receive<Root>(reader_, limit, wait_, verify_);
  }
  template <Message Root> [[nodiscard]] Received<Root> try_receive() noexcept {
    return shmpipe::try_receive<Root>(reader_, verify_);
  }
  void close() noexcept { reader_.close(); }

  /// A descriptor for an event loop (epoll, poll, asyncio, Boost.Asio): readable when a try
  /// call may find something new. Once it polls readable, call try_receive() / try_peek()
  /// until one finds nothing (that call re-arms it). See RingReader::ready_fd().
  [[nodiscard]] int ready_fd() { return reader_.ready_fd(); }

  [[nodiscard]] RingStats stats() const noexcept { return reader_.stats(); }
  [[nodiscard]] const Segment &segment() const noexcept { return segment_.get(); }

private:
  Consumer(detail::OwnedSegment segment, const ChannelOptions &options)
      : segment_(std::move(segment)), reader_(segment_.get(), 0, options.reader),
        wait_(options.wait), verify_(options.verify) {}

  detail::OwnedSegment segment_;
  RingReader reader_;
  WaitPolicy wait_;
  VerifyOptions verify_;
};

} // namespace shmpipe

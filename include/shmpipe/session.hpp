// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Session: a core and one worker process, both directions in one segment, with a handshake,
// request ids, per-request deadlines, health checks and shutdown.
#pragma once

// Design: the core creates the segment: ring 0 carries requests (core -> worker), ring 1
// responses (worker -> core). Every record on a session is a 16-byte Frame followed by a
// FlatBuffer built in place (message.hpp, `prefix`): the frame carries the request id, so that
// responses to pipelined requests can be matched whatever schema they use, and a `final` flag
// on a request's last response. The record type names the schema family for the application;
// the session's own messages (schemas/envelope.fbs) are found by their file identifier.
//
//   core                                   worker
//   create(name)  ......................>  attach(name)
//   await_ready() <---- Ready (id 0) ----  (sent by attach)
//   request()     ---- Extract (id 1) --->  receive()
//   receive()     <--- PageText (id 1) ---  reply(1, ..., final = false)
//   receive()     <--- Ledger (id 1, final) reply(1, ..., final = true)
//   health()      -- HealthRequest (id 2) > (answered inside receive(): a hung worker doesn't)
//   receive()     <- HealthReply (id 2, final)
//   shutdown()    ---- Shutdown (id 3) --->  receive() returns it; the worker exits
//
// The handshake: the worker's first message is Ready (protocol version, pid and start time,
// capabilities, schema ids). The core refuses a worker that speaks another protocol version
// or lacks a schema id it needs: it answers with an Error (request id 0) and throws
// Error(Errc::handshake) naming both sides' values.
//
// Per-request deadlines: each request may carry a deadline; receive() wakes up for the
// earliest one and reports a request whose final response has not come by then as an
// Incoming with status timeout and that request's id. Responses that come later are still
// delivered (nothing is dropped), marked late(). What is pending and when it expires is kept
// so that a call costs the same with 1 or 100,000 requests in flight (detail/request_table.hpp).
//
// Backpressure: a core may send many requests before it receives any. When the request ring
// is full, the worker may itself be waiting for room in the response ring to answer the
// request it holds; if the core only waited for request space, both would wait for ever. So
// while request() waits for space it also takes the responses that arrive out of their ring
// (one copy each, into private memory) and keeps them, in order, for receive(). Its waits for
// space are slices that grow from 50 us to 2 ms, because one thread cannot sleep on both rings'
// futex words at once; this only happens while the request ring is full.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h>

#include <shmpipe/channel.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/detail/request_table.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/segment.hpp>
#include <shmpipe/wait.hpp>

namespace shmpipe {

/// Version of the session protocol: the Frame below, the handshake and the rules of this file.
inline constexpr std::uint32_t kSessionProtocol = 2; // 2: work reports, Warning

/// Error codes the session itself puts in schema::Error messages.
enum class SessionError : std::int32_t {
  handshake_rejected = 1, ///< the core refused the worker's Ready
  invalid_request = 2,    ///< the worker could not verify a request (see record_type/seq)
  timed_out = 3,          ///< the worker gave up on a request that ran over its time limit
};

/// What a worker measured while it served one request, sent with the final response when the
/// worker's SessionOptions::report_work is set (Incoming::work_report()).
struct WorkReport {
  std::chrono::nanoseconds duration{}; ///< from the request's receive() to its final response
  /// The worker's peak resident set size since that receive() (Linux resets the mark at each
  /// request, so overlapping requests share it); 0 when /proc could not tell.
  std::uint64_t peak_rss_bytes = 0;
};

namespace detail {

/// In front of every FlatBuffer on a session. Plain, 16 bytes, so the buffer stays 16-aligned.
struct Frame {
  std::uint64_t request_id; ///< 1, 2, ... per session; 0 = not about a request (Ready)
  std::uint32_t flags;      ///< kFrameFinal, kFrameReport, or 0
  std::uint32_t reserved;   ///< zero
};
inline constexpr std::uint32_t kFrameFinal = 1;  ///< the last response to its request
inline constexpr std::uint32_t kFrameReport = 2; ///< a ReportWire follows the frame
static_assert(sizeof(Frame) == 16 && offsetof(Frame, flags) == 8 && kPlainShared<Frame>);

/// WorkReport on the wire, between the frame and the FlatBuffer (kFrameReport): 16 bytes, so
/// the buffer stays 16-aligned.
struct ReportWire {
  std::uint64_t duration_ns;
  std::uint64_t peak_rss_bytes;
};
static_assert(sizeof(ReportWire) == 16 && kPlainShared<ReportWire>);

/// What precedes a FlatBuffer on a session: the frame, and the report when its flag says so.
struct FrameHead {
  Frame frame{};
  ReportWire report{};
  [[nodiscard]] std::size_t size() const noexcept {
    return sizeof(Frame) + ((frame.flags & kFrameReport) != 0 ? sizeof(ReportWire) : 0);
  }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return std::as_bytes(std::span(this, 1)).first(size());
  }
};
static_assert(sizeof(FrameHead) == 32 && offsetof(FrameHead, report) == 16);

[[nodiscard]] inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

/// The resident set size of process `pid` (0: this one), from /proc/<pid>/statm; 0 if
/// unreadable (no such process, no /proc).
[[nodiscard]] inline std::uint64_t resident_bytes(pid_t pid = 0) noexcept {
  std::ifstream statm(pid == 0 ? std::string("/proc/self/statm")
                               : "/proc/" + std::to_string(pid) + "/statm");
  std::uint64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident))
    return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

/// This process's peak resident set size (VmHWM), in bytes; 0 if /proc cannot tell.
[[nodiscard]] inline std::uint64_t peak_resident_bytes() noexcept {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::uint64_t kib = 0;
      return status >> kib ? kib * 1024 : 0;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

/// Starts a new peak for peak_resident_bytes() (writes 5 to /proc/self/clear_refs, Linux 4.0+;
/// where that is refused the peak stays the process's lifetime peak).
inline void reset_peak_resident() noexcept {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

} // namespace detail

struct SessionOptions {
  std::uint64_t capacity = std::uint64_t{1} << 22; ///< bytes of each ring (a power of two)
  unsigned mode = 0600;                            ///< permission bits of the segment
  /// Core: replace an abandoned segment of the same name (a core killed with -9 left it).
  bool replace_abandoned = false;
  WaitPolicy wait{};      ///< how blocking calls wait
  VerifyOptions verify{}; ///< what receives check
  /// How this side reads its incoming ring; `.read_only_data = true` makes a write into a
  /// received message fault (see ReaderOptions).
  ReaderOptions reader{};
  /// Worker: how long attach() retries a segment that is missing or not ready yet.
  std::chrono::milliseconds open_timeout{5000};
  /// Core: schema ids the worker must offer. Worker: schema ids it offers.
  std::vector<std::uint64_t> schema_ids{};
  std::vector<std::string> capabilities{}; ///< worker: optional features it offers
  std::string worker_name{};               ///< worker: for logs and error messages
  /// Worker: send a WorkReport (duration, peak resident set) with each final response
  /// (Incoming::work_report() on the core's side). Costs two small /proc accesses per request.
  bool report_work = false;
  /// What this side speaks; differs from kSessionProtocol only in tests of the handshake.
  std::uint32_t protocol_version = kSessionProtocol;
};

/// What the worker said in its Ready.
struct WorkerInfo {
  std::uint32_t protocol_version = 0;
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::string name;
  std::vector<std::string> capabilities;
  std::vector<std::uint64_t> schema_ids;
};

/// The outcome of sending a request: its id when status is ok.
struct Sent {
  Status status = Status::closed;
  std::uint64_t request_id = 0;
};

/// One message received on a session, not yet interpreted: frame, record type and the
/// FlatBuffer's identifier are readable; as<Root>() verifies it. Move-only; releases the record
/// when dropped. Status timeout with a request_id(): that request's deadline passed.
class Incoming {
public:
  Incoming() noexcept = default;
  Incoming(Incoming &&other) noexcept { *this = std::move(other); }
  Incoming &operator=(Incoming &&other) noexcept {
    if (this != &other) {
      release();
      reader_ = std::exchange(other.reader_, nullptr);
      slot_ = std::move(other.slot_);
      copy_ = std::move(other.copy_);
      size_ = std::exchange(other.size_, 0);
      seq_ = other.seq_;
      type_ = other.type_;
      frame_ = other.frame_;
      report_ = other.report_;
      status_ = std::exchange(other.status_, Status::closed);
      late_ = other.late_;
      verify_ = other.verify_;
    }
    return *this;
  }
  Incoming(const Incoming &) = delete;
  Incoming &operator=(const Incoming &) = delete;
  ~Incoming() { release(); }

  explicit operator bool() const noexcept { return status_ == Status::ok; }
  [[nodiscard]] Status status() const noexcept { return status_; }
  [[nodiscard]] std::uint64_t request_id() const noexcept { return frame_.request_id; }
  /// The last response to its request.
  [[nodiscard]] bool final() const noexcept { return (frame_.flags & detail::kFrameFinal) != 0; }
  /// A response to a request already reported as timed out.
  [[nodiscard]] bool late() const noexcept { return late_; }
  /// What the worker measured for the request, with a final response from a worker whose
  /// SessionOptions::report_work is set; none otherwise.
  [[nodiscard]] std::optional<WorkReport> work_report() const noexcept {
    if ((frame_.flags & detail::kFrameReport) == 0)
      return std::nullopt;
    return WorkReport{std::chrono::nanoseconds(static_cast<std::int64_t>(
                          std::min<std::uint64_t>(report_.duration_ns, INT64_MAX))),
                      report_.peak_rss_bytes};
  }
  [[nodiscard]] std::uint16_t type() const noexcept { return type_; }
  [[nodiscard]] std::uint64_t seq() const noexcept { return seq_; }
  /// The FlatBuffer (after the frame), unverified: in the ring, or in a private copy for a
  /// response the core kept while request() waited for space.
  [[nodiscard]] std::span<const std::byte> buffer() const noexcept {
    if (slot_)
      return slot_.bytes().subspan(head_size());
    if (copy_)
      return {copy_.get() + head_size(), size_ - head_size()};
    return {};
  }
  /// The FlatBuffer's file identifier: a hint for dispatch (as<Root>() decides).
  [[nodiscard]] std::string_view identifier() const noexcept { return file_identifier(buffer()); }
  template <Message Root> [[nodiscard]] bool is() const noexcept {
    return identifier() == std::string_view(MessageTraits<Root>::identifier);
  }

  /// Verifies the message as a `Root`; the record moves into the result (this Incoming is
  /// empty afterwards, status closed). On failure the record is rejected (released, counted)
  /// and the result says invalid_message.
  template <Message Root> [[nodiscard]] Received<Root> as() noexcept {
    if (copy_) {
      status_ = Status::closed;
      return Received<Root>::adopt(std::move(copy_), std::exchange(size_, 0), seq_, type_, verify_,
                                   head_size());
    }
    if (reader_ == nullptr || !slot_)
      return Received<Root>::failed(status_ == Status::ok ? Status::closed : status_);
    RingReader &reader = *std::exchange(reader_, nullptr);
    status_ = Status::closed;
    return Received<Root>::accept(reader, std::move(slot_), verify_, head_size());
  }

  void release() noexcept {
    if (reader_ != nullptr && slot_)
      reader_->release(std::move(slot_));
    reader_ = nullptr;
    copy_.reset();
    size_ = 0;
  }

private:
  friend class SessionEnd;
  friend class Core;       // keeps responses out of the ring (take_out_of_ring)
  friend class Supervisor; // renumbers requests across worker restarts
  /// Moves the record out of the ring into a private copy; false (record untouched) when there
  /// is no memory for it.
  bool take_out_of_ring() noexcept {
    if (!slot_)
      return true;
    detail::AlignedBytes copy = detail::aligned_copy(slot_.bytes());
    if (copy == nullptr)
      return false;
    size_ = slot_.bytes().size();
    copy_ = std::move(copy);
    reader_->release(std::move(slot_));
    reader_ = nullptr;
    return true;
  }

  [[nodiscard]] std::size_t head_size() const noexcept {
    return detail::FrameHead{frame_, report_}.size();
  }

  RingReader *reader_ = nullptr;
  ReadSlot slot_;
  detail::AlignedBytes copy_; // a record taken out of its ring (Core keeps it for receive())
  std::size_t size_ = 0;      // of copy_
  std::uint64_t seq_ = 0;
  std::uint16_t type_ = 0;
  detail::Frame frame_{};
  detail::ReportWire report_{}; // with kFrameReport
  Status status_ = Status::closed;
  bool late_ = false;
  VerifyOptions verify_{};
};

/// What both ends of a session share: the segment, one ring in each direction, the framing.
class SessionEnd {
public:
  SessionEnd(SessionEnd &&) noexcept = default;
  SessionEnd &operator=(SessionEnd &&) noexcept = delete;
  SessionEnd(const SessionEnd &) = delete;
  SessionEnd &operator=(const SessionEnd &) = delete;
  ~SessionEnd() = default;

  [[nodiscard]] const Segment &segment() const noexcept { return segment_.get(); }
  [[nodiscard]] RingStats sent_stats() const noexcept { return writer_.stats(); }
  [[nodiscard]] RingStats received_stats() const noexcept { return reader_.stats(); }
  /// The largest FlatBuffer one message from this end can be (the ring's largest record less
  /// the frame): a sender checks a big message against it before building.
  [[nodiscard]] std::size_t max_message() const noexcept {
    return writer_.max_payload() - sizeof(detail::Frame);
  }

protected:
  SessionEnd(detail::OwnedSegment segment, std::uint32_t read_ring, std::uint32_t write_ring,
             const SessionOptions &options)
      : segment_(std::move(segment)), reader_(segment_.get(), read_ring, options.reader),
        writer_(segment_.get(), write_ring), options_(options) {}

  /// The payload of a record carrying `buffer` bytes of FlatBuffer behind a frame.
  [[nodiscard]] static std::size_t framed_size(std::size_t buffer,
                                               std::size_t head = sizeof(detail::Frame)) noexcept {
    return head + detail::round_up_16(buffer);
  }

  /// A finished FlatBuffer, copied in behind a frame (one copy). One whose size is not a
  /// multiple of 16 (another language's FlatBuffers builder aligns it to less) is zero-padded
  /// up to one: a FlatBuffer is read from its start and what follows it is ignored, and the
  /// record is a whole number of 16-byte units like a message built in place.
  Status send_buffer_framed(std::span<const std::byte> buffer, std::uint16_t type,
                            const detail::FrameHead &head, WaitLimit limit) noexcept {
    const std::span<const std::byte> prefix = head.bytes();
    WriteSlot slot =
        writer_.reserve(framed_size(buffer.size(), prefix.size()), limit, options_.wait);
    if (!slot)
      return slot.status();
    std::byte *out = slot.bytes().data();
    std::memcpy(out, prefix.data(), prefix.size());
    if (!buffer.empty())
      std::memcpy(out + prefix.size(), buffer.data(), buffer.size());
    const std::size_t used = prefix.size() + buffer.size();
    std::memset(out + used, 0, slot.bytes().size() - used);
    writer_.commit(std::move(slot), type);
    return Status::ok;
  }

  /// Builds `Root` in place behind a frame and commits it.
  template <Message Root, class Build>
  Status send_framed(Build &&build, const detail::FrameHead &head, WaitLimit limit,
                     const SendOptions &options) {
    return shmpipe::send<Root>(writer_, std::forward<Build>(build), limit, options_.wait, options,
                               head.bytes());
  }

  /// The next record with its frame checked (a record too short for one, or with unknown
  /// flags, is rejected as invalid_message).
  Incoming next(WaitLimit limit) noexcept {
    Incoming in;
    in.verify_ = options_.verify;
    ReadSlot slot = reader_.peek(limit, options_.wait);
    in.status_ = slot.status();
    if (!slot)
      return in;
    in.seq_ = slot.seq();
    in.type_ = slot.type();
    if (slot.bytes().size() < sizeof(detail::Frame)) {
      reader_.reject(std::move(slot));
      in.status_ = Status::invalid_message;
      return in;
    }
    std::memcpy(&in.frame_, slot.bytes().data(), sizeof(detail::Frame)); // once: peer data
    const bool has_report = (in.frame_.flags & detail::kFrameReport) != 0;
    if ((in.frame_.flags & ~(detail::kFrameFinal | detail::kFrameReport)) != 0 ||
        in.frame_.reserved != 0 ||
        slot.bytes().size() <
            sizeof(detail::Frame) + (has_report ? sizeof(detail::ReportWire) : 0)) {
      reader_.reject(std::move(slot));
      in.status_ = Status::invalid_message;
      return in;
    }
    if (has_report) // once: peer data
      std::memcpy(&in.report_, slot.bytes().data() + sizeof(detail::Frame), sizeof in.report_);
    held_seq_ = slot.seq();
    in.reader_ = &reader_;
    in.slot_ = std::move(slot);
    return in;
  }

  /// The descriptor ready_fd() made (none yet: nullptr), for the timers and queues of Core and
  /// Supervisor.
  [[nodiscard]] detail::ReadyFd *ready_state() noexcept { return reader_.ready_state(); }

  static void mark_late(Incoming &in) noexcept { in.late_ = true; }
  static Incoming timed_out(std::uint64_t request_id) noexcept {
    Incoming in;
    in.status_ = Status::timeout;
    in.frame_.request_id = request_id;
    return in;
  }

  detail::OwnedSegment segment_;
  RingReader reader_;
  RingWriter writer_;
  SessionOptions options_;
  // Sequence number of the last record next() handed out of the ring: while the oldest
  // unreleased record has it, the caller still holds it (Core::keep_responses() must not).
  std::uint64_t held_seq_ = ~std::uint64_t{0};
};

/// The core's end: creates the session and sends requests. Setup throws Error; the rest
/// returns statuses. One thread at a time.
class Core : public SessionEnd {
public:
  /// Creates the segment (exclusively). The worker attaches with Worker::attach(name); call
  /// await_ready() before anything else.
  static Core create(std::string_view name, const SessionOptions &options = {}) {
    return Core(detail::OwnedSegment(
                    Segment::create(name, {.ring_capacity = options.capacity,
                                           .rings = 2,
                                           .mode = options.mode,
                                           .replace_abandoned = options.replace_abandoned}),
                    true),
                options);
  }

  /// Waits for the worker's Ready and checks it. Throws Error(Errc::handshake) when none came
  /// by `limit` (or the worker died or left first), or when the worker speaks another protocol
  /// version or lacks one of options.schema_ids; the worker is told why (an Error message).
  const WorkerInfo &await_ready(WaitLimit limit) {
    if (const WorkerInfo *worker = poll_ready(limit))
      return *worker;
    throw Error(Errc::handshake, segment().name(), "no Ready from the worker: timeout");
  }

  /// As await_ready(), but returns nullptr when nothing came by `limit`, for a caller that
  /// watches the worker process meanwhile (Supervisor). Throws what await_ready() throws.
  const WorkerInfo *poll_ready(WaitLimit limit) {
    const std::string &name = segment().name();
    if (ready_)
      return &worker_;
    Incoming in = next(limit);
    if (in.status() == Status::timeout)
      return nullptr;
    if (!in)
      throw Error(Errc::handshake, name,
                  "no Ready from the worker: " + std::string(to_string(in.status())));
    Received<schema::Envelope> ready = std::move(in).as<schema::Envelope>();
    const schema::Ready *r = ready ? ready->body_as_Ready() : nullptr;
    if (r == nullptr)
      throw Error(Errc::handshake, name, "the worker's first message is not a valid Ready");
    worker_.protocol_version = r->protocol_version();
    worker_.pid = static_cast<pid_t>(r->pid());
    worker_.start_time = r->process_start_time();
    worker_.name = r->worker_name() != nullptr ? r->worker_name()->str() : std::string();
    if (r->capabilities() != nullptr)
      for (const flatbuffers::String *c : *r->capabilities())
        worker_.capabilities.push_back(c != nullptr ? c->str() : std::string());
    if (r->schema_ids() != nullptr)
      worker_.schema_ids.assign(r->schema_ids()->begin(), r->schema_ids()->end());
    ready.release();
    std::string why;
    if (worker_.protocol_version != options_.protocol_version)
      why = "worker '" + worker_.name + "' (pid " + std::to_string(worker_.pid) +
            ") speaks session protocol " + std::to_string(worker_.protocol_version) +
            ", this core speaks " + std::to_string(options_.protocol_version);
    for (std::uint64_t id : options_.schema_ids)
      if (why.empty() && std::find(worker_.schema_ids.begin(), worker_.schema_ids.end(), id) ==
                             worker_.schema_ids.end())
        why = "worker '" + worker_.name + "' (pid " + std::to_string(worker_.pid) +
              ") does not offer schema id " + std::to_string(id);
    if (!why.empty()) {
      static_cast<void>(send_error(0, SessionError::handshake_rejected, why, limit));
      writer_.close();
      throw Error(Errc::handshake, name, why);
    }
    ready_ = true;
    return &worker_;
  }

  [[nodiscard]] const WorkerInfo &worker() const noexcept { return worker_; }

  /// Builds a request of type `Root` in place and sends it with a new request id (Sent says
  /// the status and, when ok, the id). `deadline`: when receive() should report it as timed
  /// out if its final response has not come (none: never). While the request ring is full,
  /// responses that arrive are kept for receive() (see the design note): sending many
  /// requests before receiving any cannot deadlock. timeout: no room by `limit`.
  template <Message Root, class Build>
  [[nodiscard]] Sent request(Build &&build, WaitLimit limit, std::optional<Deadline> deadline = {},
                             const SendOptions &options = {}) {
    const Deadline until = limit.resolve(Clock::now());
    const std::size_t hint = std::clamp<std::size_t>(detail::round_up_16(options.size_hint),
                                                     kRecordAlign, max_message());
    if (const Status room = make_room(sizeof(detail::Frame) + hint, until); room != Status::ok)
      return {room, 0};
    // A message that outgrows its hint is copied in: it waits for room the same way.
    const detail::Frame frame{next_id_, 0, 0};
    return track(
        detail::send_built<Root>(writer_, std::forward<Build>(build), until, options_.wait, options,
                                 std::as_bytes(std::span(&frame, 1)),
                                 [&](std::size_t bytes) { return make_room(bytes, until); }),
        deadline);
  }

  /// Sends a finished FlatBuffer (one kept with SendOptions::keep, or built by another
  /// language's FlatBuffers library) as a new request: one copy into the ring, zero-padded to a
  /// multiple of 16 bytes. `type`: the record type. Waits for space as request() does.
  [[nodiscard]] Sent request_buffer(std::span<const std::byte> buffer, WaitLimit limit,
                                    std::optional<Deadline> deadline = {}, std::uint16_t type = 0) {
    const Deadline until = limit.resolve(Clock::now());
    if (const Status room = make_room(framed_size(buffer.size()), until); room != Status::ok)
      return {room, 0};
    return track(send_buffer_framed(buffer, type, {{next_id_, 0, 0}, {}}, until), deadline);
  }

  /// Asks the worker for a HealthReply (answered inside the worker's receive(), so a worker
  /// that is stuck in a request does not answer). The reply arrives through receive().
  [[nodiscard]] Sent health(WaitLimit limit, std::optional<Deadline> deadline = {}) {
    return request<schema::Envelope>(
        [](flatbuffers::FlatBufferBuilder &b) {
          return schema::CreateEnvelope(b, schema::Control::HealthRequest,
                                        schema::CreateHealthRequest(b, detail::now_ns()).Union());
        },
        limit, deadline, {.size_hint = 64});
  }

  /// Tells the worker to finish and exit, then closes the request direction.
  [[nodiscard]] Status shutdown(std::string_view reason, WaitLimit limit) {
    const Sent sent = request<schema::Envelope>(
        [&](flatbuffers::FlatBufferBuilder &b) {
          return schema::CreateEnvelope(
              b, schema::Control::Shutdown,
              schema::CreateShutdown(b, b.CreateString(reason.data(), reason.size())).Union());
        },
        limit, {}, {.size_hint = 64 + reason.size()});
    requests_.erase(sent.request_id); // no answer expected
    writer_.close();
    return sent.status;
  }

  /// The next response, or a request whose deadline passed (status timeout), or why there is
  /// none (timeout of `limit`, peer_dead, closed, invalid_message). Responses kept while
  /// request() waited for space come first, in the order they arrived.
  [[nodiscard]] Incoming receive(WaitLimit limit) noexcept {
    Incoming in = take_next(limit);
    if (detail::ReadyFd *ready = ready_state()) {
      ready->set_timer(requests_.earliest());
      ready->set_pending(!kept_.empty());
    }
    return in;
  }

  /// A descriptor for an event loop, as RingReader::ready_fd() describes: readable when
  /// receive() may return something: a response (also one request() kept), a request whose
  /// deadline passed (a timer), the worker's close or death. Once it polls readable, call
  /// receive() with a zero timeout until it returns nothing (timeout, id 0).
  [[nodiscard]] int ready_fd() {
    const int fd = reader_.ready_fd();
    ready_state()->set_timer(requests_.earliest());
    ready_state()->set_pending(!kept_.empty());
    return fd;
  }

  /// Requests sent whose final response has not arrived (nor their deadline passed).
  [[nodiscard]] std::size_t in_flight() const noexcept { return requests_.size(); }
  /// Responses taken out of the ring while request() waited for space, not yet received.
  [[nodiscard]] std::size_t kept() const noexcept { return kept_.size(); }

private:
  friend class Supervisor; // asks whether answers wait unread before it judges a worker

  Core(detail::OwnedSegment segment, const SessionOptions &options)
      : SessionEnd(std::move(segment), 1, 0, options) {}

  /// receive() without the descriptor's upkeep.
  [[nodiscard]] Incoming take_next(WaitLimit limit) noexcept {
    if (!kept_.empty()) {
      Incoming in = std::move(kept_.front());
      kept_.pop_front();
      return settle(std::move(in));
    }
    const Deadline earliest = requests_.earliest();
    // No clock read unless some request has a deadline.
    Incoming in = next(earliest == Deadline::max()
                           ? limit
                           : WaitLimit(std::min(limit.resolve(Clock::now()), earliest)));
    if (!in && (in.status() == Status::timeout || in.status() == Status::empty))
      if (std::optional<std::uint64_t> expired = requests_.take_expired(Clock::now()))
        return timed_out(*expired);
    return settle(std::move(in));
  }

  Status send_error(std::uint64_t request_id, SessionError code, const std::string &message,
                    WaitLimit limit) {
    return send_framed<schema::Envelope>(
        [&](flatbuffers::FlatBufferBuilder &b) {
          return schema::CreateEnvelope(b, schema::Control::Error,
                                        schema::CreateError(b, static_cast<std::int32_t>(code),
                                                            b.CreateString(message), request_id)
                                            .Union());
        },
        {{request_id, detail::kFrameFinal, 0}, {}}, limit, {.size_hint = 128 + message.size()});
  }

  /// After sending request next_id_: its id, now awaited until `deadline`.
  Sent track(Status sent, std::optional<Deadline> deadline) {
    if (sent != Status::ok)
      return {sent, 0};
    const std::uint64_t id = next_id_++;
    requests_.add(id, deadline);
    return {Status::ok, id};
  }

  /// A response leaving the session: late if its request is no longer awaited, and its
  /// request settled if it is the final one.
  Incoming settle(Incoming &&in) noexcept {
    if (!in || in.request_id() == 0) // id 0: a notice (Warning), no answer to anything
      return std::move(in);
    if (!requests_.contains(in.request_id()))
      mark_late(in);
    else if (in.final())
      requests_.erase(in.request_id());
    return std::move(in);
  }

  /// Waits until `bytes` fit in the request ring, keeping every response that arrives
  /// meanwhile (see the design note). ok, or the reservation's failure (timeout, peer_dead,
  /// closed, too_large, corrupt).
  Status make_room(std::size_t bytes, Deadline until) {
    auto slice = std::chrono::microseconds(50);
    // Each slice is a new wait: after the first, a blocking one sleeps at once instead of
    // spinning and yielding (250 us by default) again every 2 ms (14% of a core while the
    // request ring stayed full).
    WaitPolicy policy = options_.wait;
    for (;;) {
      // A reservation that is never committed publishes nothing: this one only asks.
      WriteSlot probe = writer_.try_reserve(bytes);
      if (probe.status() != Status::full)
        return probe ? Status::ok : probe.status();
      keep_responses();
      const Deadline now = Clock::now();
      if (now >= until)
        return Status::timeout;
      probe = writer_.reserve(bytes, std::min(until, now + slice), policy);
      if (probe.status() != Status::timeout)
        return probe ? Status::ok : probe.status();
      slice = std::min<std::chrono::microseconds>(slice * 2, std::chrono::milliseconds(2));
      if (policy.mode == WaitMode::blocking)
        policy.spin_for = policy.yield_for = std::chrono::nanoseconds(0);
    }
  }

  /// Whether a response waits to be read: kept by make_room(), or in the ring.
  [[nodiscard]] bool answers_waiting() noexcept {
    return !kept_.empty() || static_cast<bool>(reader_.try_peek());
  }

  /// Takes every response waiting in the ring out of it, into kept_, in order. One that
  /// cannot be copied (no memory) is kept as it lies in the ring, and draining stops there.
  void keep_responses() {
    for (;;) {
      // A response the caller still holds is not ours to copy and release: its span would
      // then point at space the worker may reuse. request() waits for room instead.
      if (const ReadSlot oldest = reader_.try_peek(); oldest && oldest.seq() == held_seq_)
        return;
      // Its place first: a bad_alloc here loses nothing, after the read it would lose a
      // response (its request then never settles).
      kept_.emplace_back();
      Incoming in = next(Deadline::min());
      // closed, peer_dead, corrupt: the reader says so again to receive(); kept, they would
      // pile up once per look while request() waits.
      if (!in && in.status() != Status::invalid_message) {
        kept_.pop_back();
        return;
      }
      const bool copied = !in || in.take_out_of_ring();
      kept_.back() = std::move(in);
      if (detail::ReadyFd *ready = ready_state())
        ready->set_pending(true); // kept responses are out of the ring: no wake-up says so
      if (!copied)
        return;
    }
  }

  WorkerInfo worker_;
  bool ready_ = false;
  std::uint64_t next_id_ = 1;
  detail::RequestTable requests_; // awaited request ids and their deadlines
  std::deque<Incoming> kept_;     // responses taken out of the ring by make_room()
};

/// The worker's end: attaches to a session a core created, says Ready, serves requests.
class Worker : public SessionEnd {
public:
  /// Opens the session (retrying for options.open_timeout while the core is still creating
  /// it), takes the worker's roles and sends Ready. Throws Error.
  static Worker attach(std::string_view name, const SessionOptions &options = {}) {
    Worker worker(detail::open_segment(name, {.open_timeout = options.open_timeout}), options);
    const Status status = worker.send_ready(deadline_after(options.open_timeout));
    if (status != Status::ok)
      throw Error(Errc::handshake, std::string(name),
                  "could not send Ready: " + std::string(to_string(status)));
    return worker;
  }

  /// The next request. The session's own messages are handled here: HealthRequests are
  /// answered and not returned; a Shutdown ends the stream: the result is empty with status
  /// closed and shutdown_requested() says why (the core sends nothing after it), so a worker
  /// needs no envelope schema to stop when asked.
  [[nodiscard]] Incoming receive(WaitLimit limit) noexcept {
    for (;;) {
      Incoming in = next(limit);
      if (!in || !in.is<schema::Envelope>())
        return finish(std::move(in));
      // Peek at the body without consuming: only the session's controls are handled here.
      const auto *root = verify_message<schema::Envelope>(in.buffer(), options_.verify);
      if (root != nullptr && root->body_type() == schema::Control::Shutdown) {
        shutdown_requested_ = true;
        if (const flatbuffers::String *why = root->body_as_Shutdown()->reason(); why != nullptr)
          try {
            shutdown_reason_.assign(why->data(), why->size());
          } catch (...) { // no memory for the reason: the request itself still counts
          }
        in.release();
        return Incoming();
      }
      if (root == nullptr || root->body_type() != schema::Control::HealthRequest)
        return finish(std::move(in));
      const std::uint64_t id = in.request_id();
      const std::uint64_t sent_ns = root->body_as_HealthRequest()->sent_ns();
      in.release();
      static_cast<void>(answer_health(id, sent_ns, limit));
    }
  }

  /// A descriptor for an event loop, as RingReader::ready_fd() describes: readable when
  /// receive() may return something (a request, a Shutdown, the core's close or death;
  /// health checks are answered inside receive()). Once it polls readable, call receive()
  /// with a zero timeout until it returns nothing.
  [[nodiscard]] int ready_fd() { return reader_.ready_fd(); }

  /// Whether the core asked this worker to shut down (receive() then returned closed).
  [[nodiscard]] bool shutdown_requested() const noexcept { return shutdown_requested_; }
  /// The reason the core gave with it ("" if none).
  [[nodiscard]] const std::string &shutdown_reason() const noexcept { return shutdown_reason_; }

  /// Builds a response of type `Root` in place for request `request_id`; `final`: it is the
  /// last one for that request.
  template <Message Root, class Build>
  [[nodiscard]] Status reply(std::uint64_t request_id, Build &&build, WaitLimit limit,
                             bool final = true, const SendOptions &options = {}) {
    return send_framed<Root>(std::forward<Build>(build), head(request_id, final), limit, options);
  }

  /// Sends a finished FlatBuffer (built by another language's FlatBuffers library, say) as a
  /// response to request `request_id`: one copy into the ring, zero-padded to a multiple of 16
  /// bytes. `final` and the wait as for reply(); `type`: the record type.
  [[nodiscard]] Status reply_buffer(std::uint64_t request_id, std::span<const std::byte> buffer,
                                    WaitLimit limit, bool final = true,
                                    std::uint16_t type = 0) noexcept {
    return send_buffer_framed(buffer, type, head(request_id, final), limit);
  }

  /// Answers request `request_id` (0: none) with an Error, as its final response.
  [[nodiscard]] Status error(std::uint64_t request_id, std::int32_t code, std::string_view message,
                             WaitLimit limit) {
    return reply<schema::Envelope>(
        request_id,
        [&](flatbuffers::FlatBufferBuilder &b) {
          return schema::CreateEnvelope(
              b, schema::Control::Error,
              schema::CreateError(b, code, b.CreateString(message.data(), message.size()),
                                  request_id)
                  .Union());
        },
        limit, true, {.size_hint = 128 + message.size()});
  }

  /// Tells the core something that answers no request (request id 0): a schema::Warning with
  /// `code` (1: resident set over the soft limit, 2: over the hard limit; others are the
  /// application's), `message` and this process's resident set size. A Supervisor reports it
  /// as a worker_warning event; a bare Core's receive() returns it (request id 0).
  [[nodiscard]] Status warn(std::int32_t code, std::string_view message, WaitLimit limit) {
    return send_framed<schema::Envelope>(
        [&](flatbuffers::FlatBufferBuilder &b) {
          return schema::CreateEnvelope(
              b, schema::Control::Warning,
              schema::CreateWarning(b, code, b.CreateString(message.data(), message.size()),
                                    detail::resident_bytes())
                  .Union());
        },
        {}, limit, {.size_hint = 128 + message.size()});
  }

  /// Closes the response direction: the core's receive() ends with closed once it has read
  /// everything.
  void close() noexcept { writer_.close(); }

private:
  Worker(detail::OwnedSegment segment, const SessionOptions &options)
      : SessionEnd(std::move(segment), 0, 1, options) {}

  Incoming finish(Incoming &&in) noexcept {
    if (in && in.request_id() != 0) {
      ++served_;
      if (options_.report_work) {
        try {
          started_.insert_or_assign(in.request_id(), Clock::now());
        } catch (...) { // no memory: that request's final response goes without a report
        }
        detail::reset_peak_resident();
      }
    }
    return std::move(in);
  }

  /// The frame (and, with report_work, the report) of a response to `request_id`.
  detail::FrameHead head(std::uint64_t request_id, bool final) noexcept {
    detail::FrameHead head{{request_id, final ? detail::kFrameFinal : 0, 0}, {}};
    if (!final || !options_.report_work)
      return head;
    const auto it = started_.find(request_id);
    if (it == started_.end())
      return head; // a health check, or an id this worker never received
    head.frame.flags |= detail::kFrameReport;
    head.report.duration_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - it->second).count());
    head.report.peak_rss_bytes = detail::peak_resident_bytes();
    started_.erase(it);
    return head;
  }

  Status send_ready(WaitLimit limit) {
    const pid_t pid = ::getpid();
    return send_framed<schema::Envelope>(
        [&](flatbuffers::FlatBufferBuilder &b) {
          const auto ready = schema::CreateReady(
              b, options_.protocol_version, static_cast<std::uint32_t>(pid),
              detail::self_start_time(), b.CreateString(options_.worker_name),
              b.CreateVectorOfStrings(options_.capabilities), b.CreateVector(options_.schema_ids));
          return schema::CreateEnvelope(b, schema::Control::Ready, ready.Union());
        },
        {}, limit, {.size_hint = 256});
  }

  Status answer_health(std::uint64_t request_id, std::uint64_t sent_ns, WaitLimit limit) {
    return reply<schema::Envelope>(
        request_id,
        [&](flatbuffers::FlatBufferBuilder &b) {
          return schema::CreateEnvelope(
              b, schema::Control::HealthReply,
              schema::CreateHealthReply(b, sent_ns, detail::resident_bytes(), served_).Union());
        },
        limit, true, {.size_hint = 64});
  }

  std::uint64_t served_ = 0;
  // report_work: when each request not yet finally answered was received
  std::unordered_map<std::uint64_t, Clock::time_point> started_;
  bool shutdown_requested_ = false;
  std::string shutdown_reason_;
};

} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// libFuzzer target: a fixed-size lane (FixedRing<Item, 5>) whose control block, descriptor,
// Boost spsc_queue indices and slots are arbitrary bytes, as a hostile or crashed peer may leave
// them. A FixedWriter and a FixedReader attach over it, then a list of operations from the input
// runs: pushes and pops (single and batched, try and waiting with deadlines of at most 1 ms),
// close, re-attach, moves, attaches of other element types, and, in between, rewrites of the
// indices, slots, flags, owner words and descriptor, as a peer may do at any time. Two
// operations call LaneQueue's checked push and pop directly with an index changed behind them:
// the window between an endpoint's check and Boost's own load of the index, which a single
// thread cannot open otherwise.
//
// What must hold: attaching succeeds or throws shmpipe::Error; every call returns a status its
// documentation allows (corrupt is sticky, close() and a move leave `closed`); every element
// pushed lands in the slot the write index named and every element popped is the bytes of the
// slot the read index named; a checked call that finds a slot out of place stores no index and
// writes nothing outside the slots; roles are given back; nothing outside the lane's control
// block and queue is touched (the segment header, the lane's unused tail, the next lane and the
// rest of the page are poisoned for AddressSanitizer); nothing hangs (libFuzzer's -timeout).
//
// Input (fuzz_lane_input.hpp holds what make_seeds.cpp, which writes the seeds, shares):
//   [0]        flags (kNoWriter, kNoReader, kRawDescriptor, kReaderFirst)
//   [1]        descriptor state: 0 formatted, 1 never formatted, 2 a dead formatter's token,
//              3 the image's state with the sign bit set (a garbage token of no process)
//   [2]        owner words: bits 0-1 producer, 2-3 consumer: 0 free, 1 a dead process, 2 a live
//              process not this one (pid 1), 3 the image's word with the sign bit set
//   [3]        number of operations n (at most kMaxOps)
//   [4, +3n)   operations (kind, a, b)
//   rest       the lane image: LaneControl, then the queue (zeros after the input ends)

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/version.hpp>
#include <sanitizer/asan_interface.h>
#include <unistd.h>

#include <shmpipe/fixed_ring.hpp>

#include "fuzz_lane_input.hpp"
#include "fuzz_poison.hpp"

namespace {

using namespace shmpipe;

using namespace shmpipe::fuzz::lane;
using Queue = Lane::Queue;
constexpr std::size_t kSlots = Queue::kSlots;
constexpr std::size_t kSlotsBytes = kSlots * sizeof(Item);
constexpr std::uint32_t kLanes = 2; // lane 1 is poisoned: only lane 0 is used

struct Input {
  std::uint8_t flags = 0, state = 0, owners = 0;
  std::vector<Op> ops;
  std::span<const std::uint8_t> image;
};

bool decode(std::span<const std::uint8_t> in, Input &out) {
  if (in.size() < kFixed)
    return false;
  out.flags = in[0];
  out.state = in[1];
  out.owners = in[2];
  const std::size_t n = std::min<std::size_t>(in[3], kMaxOps);
  std::size_t at = kFixed;
  out.ops.clear();
  for (std::size_t i = 0; i < n && at + 3 <= in.size(); ++i, at += 3)
    out.ops.push_back({in[at], in[at + 1], in[at + 2]});
  out.image = in.subspan(at);
  return true;
}

Segment *g_segment = nullptr; // created once; its name is removed right away
detail::LaneMemory g_lane;
Queue *g_queue = nullptr;
std::uint64_t g_live_token = 0; // a live process that is not this one

[[noreturn]] void fail(const char *what) {
  std::fprintf(stderr, "lane_fuzz: %s\n", what);
  std::abort();
}

void expect(bool ok, const char *what) {
  if (!ok)
    fail(what);
}

Item item(std::uint64_t seq) { return {seq, ~seq * 0x9e3779b97f4a7c15ULL, seq ^ 0x5a5a}; }

std::uint64_t dead_token() { return detail::make_owner_token(0x3ffffff0, 1); } // no such pid

std::uint64_t state_value(unsigned selector, std::uint64_t raw) {
  switch (selector % 4) {
  case 0:
    return detail::kLaneMagic;
  case 1:
    return 0;
  case 2:
    return dead_token();
  default:
    return raw | (std::uint64_t{1} << 63); // pid < 0: no process
  }
}

std::uint64_t owner_value(unsigned selector, std::uint64_t raw) {
  switch (selector % 4) {
  case 0:
    return 0;
  case 1:
    return dead_token();
  case 2:
    return g_live_token;
  default:
    return raw | (std::uint64_t{1} << 63);
  }
}

/// An index a peer may store: slot numbers, just past them, and far beyond (also values that
/// land on a slot's address modulo 2^64). The endpoints check these before Boost uses them.
std::size_t hostile_index(unsigned a) {
  if (a < 16)
    return a;
  switch (a % 8) {
  case 0:
    return kSlots;
  case 1:
    return std::size_t{1} << 32;
  case 2:
    return std::size_t{1} << 40;
  case 3:
    return (std::size_t{1} << 61) + a % kSlots;
  case 4:
    return std::size_t{1} << 63;
  case 5:
    return std::numeric_limits<std::size_t>::max();
  case 6:
    return std::numeric_limits<std::size_t>::max() - a % kSlots;
  default:
    return kSlots + a;
  }
}

/// An index swapped in between an endpoint's check and Boost's load. Kept below 2^41, where
/// Boost's slot address arithmetic cannot wrap around the address space (docs/LAYOUT.md, "What
/// is left": beyond that Boost computes, but never dereferences, a wrapped pointer).
std::size_t window_index(unsigned a) {
  if (a < 16)
    return a;
  switch (a % 4) {
  case 0:
    return kSlots + a;
  case 1:
    return std::size_t{a} << 20;
  case 2:
    return std::size_t{1} << 40;
  default:
    return (std::size_t{1} << 40) - 1 - a % kSlots;
  }
}

WaitLimit limit(unsigned b) {
  static constexpr std::array<std::chrono::microseconds, 8> kWaits{
      std::chrono::microseconds(0),   std::chrono::microseconds(0),   std::chrono::microseconds(0),
      std::chrono::microseconds(0),   std::chrono::microseconds(0),   std::chrono::microseconds(20),
      std::chrono::microseconds(200), std::chrono::microseconds(1000)};
  const std::chrono::microseconds wait = kWaits[b % 8];
  if ((b & 8) == 0)
    return wait;
  // An absolute deadline; with no wait, one already in the past.
  return wait.count() == 0 ? Clock::now() - std::chrono::milliseconds(1) : Clock::now() + wait;
}

WaitPolicy policy(unsigned b) {
  WaitPolicy p;
  switch ((b >> 4) % 4) {
  case 0:
    p.mode = WaitMode::busy_spin;
    break;
  case 1:
    p.mode = WaitMode::spin_then_yield;
    break;
  default:
    p.mode = WaitMode::blocking;
    break;
  }
  const auto phase = (b & 64) != 0 ? std::chrono::microseconds(10) : std::chrono::microseconds(0);
  p.spin_for = phase;
  p.yield_for = phase;
  p.liveness_interval = std::chrono::milliseconds((b & 128) != 0 ? 1 : 0);
  return p;
}

/// What the script knows about an endpoint: after corrupt every call says corrupt, after
/// close() (or a move away) every call says closed.
struct Track {
  bool corrupt = false;
  bool closed = false;
};

constexpr unsigned bit(Status s) { return 1u << static_cast<unsigned>(s); }

void judge(Track &t, Status s, unsigned allowed, const char *what) {
  if ((bit(s) & allowed) == 0) {
    std::fprintf(stderr, "lane_fuzz: %s returned status %u\n", what, static_cast<unsigned>(s));
    std::abort();
  }
  if (t.closed && s != Status::closed)
    fail("a closed endpoint did something");
  if (!t.closed && t.corrupt && s != Status::corrupt)
    fail("an endpoint that said corrupt went on");
  if (s == Status::corrupt)
    t.corrupt = true;
}

constexpr unsigned kTryPushOk =
    bit(Status::ok) | bit(Status::full) | bit(Status::corrupt) | bit(Status::closed);
constexpr unsigned kPushOk = kTryPushOk | bit(Status::timeout) | bit(Status::peer_dead);
constexpr unsigned kTryPopOk =
    bit(Status::ok) | bit(Status::empty) | bit(Status::corrupt) | bit(Status::closed);
constexpr unsigned kPopOk = kTryPopOk | bit(Status::timeout) | bit(Status::peer_dead);

std::array<std::byte, kSlotsBytes> slots_now() {
  std::array<std::byte, kSlotsBytes> s;
  std::memcpy(s.data(), g_queue->slot(0), kSlotsBytes);
  return s;
}

std::size_t write_index() { return g_queue->write_index().load(std::memory_order_relaxed); }
std::size_t read_index() { return g_queue->read_index().load(std::memory_order_relaxed); }

/// The first `count` of `items` lie in the slots from `first` on.
void check_landed(std::span<const Item> items, std::size_t count, std::size_t first) {
  if (count == 0)
    return;
  expect(count <= items.size() && count <= kN, "pushed more than asked or than fits");
  expect(first < kSlots, "pushed although the write index is no slot");
  for (std::size_t i = 0; i < count; ++i)
    expect(std::memcmp(g_queue->slot((first + i) % kSlots), &items[i], sizeof(Item)) == 0,
           "a pushed element is not in the slot the write index named");
}

/// The first `count` of `out` are the bytes `before` had in the slots from `first` on.
void check_popped(std::span<const Item> out, std::size_t count, std::size_t first,
                  const std::array<std::byte, kSlotsBytes> &before) {
  if (count == 0)
    return;
  expect(count <= out.size(), "popped more than asked");
  expect(first < kSlots, "popped although the read index is no slot");
  for (std::size_t i = 0; i < count; ++i)
    expect(std::memcmp(&out[i], before.data() + (first + i) % kSlots * sizeof(Item),
                       sizeof(Item)) == 0,
           "a popped element is not the slot the read index named");
}

void load(const Input &in) {
  std::memset(g_lane.base, 0, kImageBytes);
  std::memcpy(g_lane.base, in.image.data(), std::min(in.image.size(), kImageBytes));
  detail::LaneControl &ctl = *g_lane.control;
  detail::LaneDescriptor &d = ctl.descriptor;
  if ((in.flags & kRawDescriptor) == 0) {
    d.element_size = Lane::shape.element_size;
    d.element_align = Lane::shape.element_align;
    d.capacity = Lane::shape.capacity;
    d.queue_size = Lane::shape.queue_size;
    d.slots_offset = Lane::shape.slots_offset;
    d.boost_version = BOOST_VERSION;
  }
  d.state.store(state_value(in.state, d.state.load(std::memory_order_relaxed)),
                std::memory_order_relaxed);
  ctl.producer_owner.owner.store(
      owner_value(in.owners, ctl.producer_owner.owner.load(std::memory_order_relaxed)),
      std::memory_order_relaxed);
  ctl.consumer_owner.owner.store(
      owner_value(in.owners >> 2u, ctl.consumer_owner.owner.load(std::memory_order_relaxed)),
      std::memory_order_relaxed);
}

template <class E> void attach(std::optional<E> &endpoint, Track &track) {
  endpoint.reset();
  track = {};
  try {
    endpoint.emplace(*g_segment, 0);
  } catch (const Error &) {
    // layout_mismatch, role_taken, corrupt: refusing, with a reason, is the right answer.
  }
}

/// Another FixedRing on the same lane: refused, or (when the lane is not formatted yet) it
/// formats the lane for itself and works.
template <class R> void attach_other(bool writer) {
  try {
    if (writer) {
      typename R::Writer w(*g_segment, 0);
      const Status s = w.try_push(typename R::value_type{});
      expect(s == Status::ok || s == Status::full || s == Status::corrupt, "other type push");
    } else {
      typename R::Reader r(*g_segment, 0);
      typename R::value_type v{};
      const Status s = r.try_pop(v);
      expect((bit(s) & kTryPopOk) != 0, "other type pop");
    }
  } catch (const Error &) {
  }
}

/// The window: the peer stores `hostile` as the write index after the producer checked it
/// (expecting `expected`) and before Boost loads it.
void window_push(std::size_t expected, std::size_t hostile, std::size_t count) {
  std::array<Item, kN> items{};
  for (std::size_t i = 0; i < count; ++i)
    items[i] = item(1000 + i);
  g_queue->write_index().store(hostile, std::memory_order_relaxed);
  std::array<std::byte, sizeof(Queue)> before;
  std::memcpy(before.data(), g_queue, sizeof(Queue));
  const detail::Moved moved = g_queue->push_at(std::span<const Item>(items).first(count), expected);
  const auto *now = reinterpret_cast<const std::byte *>(g_queue);
  // Only the slots and the write index may change.
  expect(std::memcmp(before.data() + 8, now + 8, Queue::kSlotsOffset - 8) == 0 &&
             std::memcmp(before.data() + Queue::kSlotsOffset + kSlotsBytes,
                         now + Queue::kSlotsOffset + kSlotsBytes,
                         sizeof(Queue) - Queue::kSlotsOffset - kSlotsBytes) == 0,
         "a checked push wrote outside the slots and the write index");
  if (moved.out_of_place) {
    expect(moved.count == 0, "an out-of-place push moved something");
    expect(write_index() == hostile, "an out-of-place push stored an index");
  } else if (moved.count != 0) {
    check_landed(items, moved.count, expected);
    expect(write_index() == (expected + moved.count) % kSlots, "push stored a wrong index");
  } else {
    expect(std::memcmp(before.data(), now, sizeof(Queue)) == 0, "a push of nothing wrote");
  }
}

/// The same for the consumer: `hostile` replaces the read index it expects at `expected`.
void window_pop(std::size_t expected, std::size_t hostile, std::size_t count) {
  std::array<Item, kN + 2> out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = item(2000 + i);
  g_queue->read_index().store(hostile, std::memory_order_relaxed);
  std::array<std::byte, sizeof(Queue)> before;
  std::memcpy(before.data(), g_queue, sizeof(Queue));
  const auto slots = slots_now();
  const detail::Moved moved = g_queue->pop_at(std::span<Item>(out).first(count), expected);
  const auto *now = reinterpret_cast<const std::byte *>(g_queue);
  // Only the read index may change.
  expect(std::memcmp(before.data(), now, 64) == 0 &&
             std::memcmp(before.data() + 72, now + 72, sizeof(Queue) - 72) == 0,
         "a checked pop wrote outside the read index");
  for (std::size_t i = moved.count; i < out.size(); ++i) {
    const Item untouched = item(2000 + i);
    expect(std::memcmp(&out[i], &untouched, sizeof(Item)) == 0, "a pop wrote past its count");
  }
  if (moved.out_of_place) {
    expect(moved.count == 0, "an out-of-place pop moved something");
    expect(read_index() == hostile, "an out-of-place pop stored an index");
  } else if (moved.count != 0) {
    check_popped(out, moved.count, expected, slots);
    expect(read_index() == (expected + moved.count) % kSlots, "pop stored a wrong index");
  } else {
    expect(read_index() == hostile, "a pop of nothing stored an index");
  }
}

void run(const Input &in) {
  load(in);
  detail::LaneControl &ctl = *g_lane.control;
  std::optional<Lane::Writer> writer;
  std::optional<Lane::Reader> reader;
  Track wt, rt;
  const bool reader_first = (in.flags & kReaderFirst) != 0;
  if (reader_first && (in.flags & kNoReader) == 0)
    attach(reader, rt);
  if ((in.flags & kNoWriter) == 0)
    attach(writer, wt);
  if (!reader_first && (in.flags & kNoReader) == 0)
    attach(reader, rt);

  std::array<Item, kN + 3> items{};
  std::array<Item, kN + 3> out{};
  std::uint64_t seq = 0;

  for (const Op &op : in.ops) {
    const unsigned a = op.a;
    const unsigned b = op.b;
    switch (op.kind % kKinds) {
    case kTryPush:
      if (writer) {
        const std::size_t w = write_index();
        const Item x = item(seq++);
        const Status s = writer->try_push(x);
        judge(wt, s, kTryPushOk, "try_push");
        check_landed({&x, 1}, s == Status::ok ? 1 : 0, w);
      }
      break;
    case kPush:
      if (writer) {
        const std::size_t w = write_index();
        const Item x = item(seq++);
        const Status s = writer->push(x, limit(b), policy(b));
        judge(wt, s, kPushOk, "push");
        check_landed({&x, 1}, s == Status::ok ? 1 : 0, w);
      }
      break;
    case kTryPushSome:
    case kPushAll:
      if (writer) {
        const std::size_t n = a % items.size();
        for (std::size_t i = 0; i < n; ++i)
          items[i] = item(seq++);
        const std::span<const Item> span = std::span<const Item>(items).first(n);
        const std::size_t w = write_index();
        const bool all = op.kind % kKinds == kPushAll;
        const BatchResult r =
            all ? writer->push_all(span, limit(b), policy(b)) : writer->try_push_some(span);
        judge(wt, r.status, all ? kPushOk : kTryPushOk, all ? "push_all" : "try_push_some");
        expect(r.count <= n, "pushed more than asked");
        if (all && r.status == Status::ok)
          expect(r.count == n, "push_all said ok without pushing everything");
        if (!all && r.status == Status::ok && n != 0)
          expect(r.count != 0, "try_push_some said ok without pushing");
        check_landed(span, r.count, w);
      }
      break;
    case kTryPop:
    case kPop:
      if (reader) {
        const std::size_t r = read_index();
        const auto before = slots_now();
        Item x = item(~std::uint64_t{0});
        const bool wait = op.kind % kKinds == kPop;
        const Status s = wait ? reader->pop(x, limit(b), policy(b)) : reader->try_pop(x);
        judge(rt, s, wait ? kPopOk : kTryPopOk, wait ? "pop" : "try_pop");
        check_popped({&x, 1}, s == Status::ok ? 1 : 0, r, before);
      }
      break;
    case kTryPopSome:
    case kPopSome:
      if (reader) {
        const std::size_t n = a % out.size();
        const std::size_t r = read_index();
        const auto before = slots_now();
        const std::span<Item> span = std::span<Item>(out).first(n);
        const bool wait = op.kind % kKinds == kPopSome;
        const BatchResult res =
            wait ? reader->pop_some(span, limit(b), policy(b)) : reader->try_pop_some(span);
        judge(rt, res.status, wait ? kPopOk : kTryPopOk, wait ? "pop_some" : "try_pop_some");
        if (res.status == Status::ok && n != 0)
          expect(res.count != 0, "pop_some said ok without popping");
        check_popped(span, res.count, r, before);
      }
      break;
    case kClose:
      if (a % 2 == 0 && writer) {
        writer->close();
        wt.closed = true;
      } else if (a % 2 == 1 && reader) {
        reader->close();
        rt.closed = true;
      }
      break;
    case kAttach: // b odd: without letting go of the old one first (role_taken, unless closed)
      if (a % 2 == 0) {
        if (b % 2 == 1 && writer) {
          try {
            Lane::Writer second(*g_segment, 0);
            (void)second.try_push(item(seq++));
          } catch (const Error &) {
          }
        } else {
          attach(writer, wt);
        }
      } else {
        if (b % 2 == 1 && reader) {
          try {
            Lane::Reader second(*g_segment, 0);
            Item x{};
            (void)second.try_pop(x);
          } catch (const Error &) {
          }
        } else {
          attach(reader, rt);
        }
      }
      break;
    case kAttachOther: {
      const bool w = b % 2 == 0;
      switch (a % 4) {
      case 0:
        attach_other<FixedRing<std::uint64_t, 3>>(w);
        break;
      case 1:
        attach_other<FixedRing<Item, 4>>(w);
        break;
      case 2:
        attach_other<FixedRing<char, 1>>(w);
        break;
      default:
        try { // needs more than the lane has: refused before it touches anything
          FixedRing<Item, 16>::Writer big(*g_segment, 0);
          fail("a lane too small for the ring was accepted");
        } catch (const Error &e) {
          expect(e.code() == make_error_code(Errc::layout_mismatch), "too small: wrong error");
        }
        break;
      }
      break;
    }
    case kAttachBadLane:
      try {
        Lane::Reader bad(*g_segment, kLanes + a);
        fail("a lane past the last one was accepted");
      } catch (const Error &e) {
        expect(e.code() == make_error_code(Errc::invalid_argument), "bad lane: wrong error");
      }
      break;
    case kMove:
      if (a % 2 == 0 && writer) {
        Lane::Writer moved(std::move(*writer));
        Track gone{.corrupt = false, .closed = true};
        judge(gone, writer->try_push(item(seq++)), kTryPushOk, "moved-from try_push");
        if (b % 2 == 0) {
          *writer = std::move(moved); // into the moved-from one
        } else {
          writer.reset();
          writer.emplace(std::move(moved));
        }
      } else if (a % 2 == 1 && reader) {
        Lane::Reader moved(std::move(*reader));
        Track gone{.corrupt = false, .closed = true};
        Item x{};
        judge(gone, reader->try_pop(x), kTryPopOk, "moved-from try_pop");
        if (b % 2 == 0) {
          *reader = std::move(moved);
        } else {
          reader.reset();
          reader.emplace(std::move(moved));
        }
      }
      break;
    case kInspect:
      if (writer) {
        (void)writer->stats();
        expect(writer->size_approx() <= kN, "writer size_approx past capacity");
      }
      if (reader) {
        (void)reader->stats();
        expect(reader->size_approx() <= kN, "reader size_approx past capacity");
      }
      static_assert(Lane::Writer::capacity() == kN);
      break;
    case kPeerWriteIndex:
      g_queue->write_index().store(hostile_index(a), std::memory_order_relaxed);
      break;
    case kPeerReadIndex:
      g_queue->read_index().store(hostile_index(a), std::memory_order_relaxed);
      break;
    case kPeerStep: { // a small step, forwards or backwards
      const auto delta = static_cast<std::size_t>(static_cast<std::int8_t>(op.b));
      (a % 2 == 0 ? g_queue->write_index() : g_queue->read_index())
          .fetch_add(delta, std::memory_order_relaxed);
      break;
    }
    case kPeerSlot: {
      auto *slots = const_cast<std::byte *>(g_queue->slot(0));
      slots[(a * 7 + b) % kSlotsBytes] = std::byte{op.b};
      break;
    }
    case kPeerFlags: {
      detail::OwnerLine &line = a % 2 == 0 ? ctl.producer_owner : ctl.consumer_owner;
      switch (a / 2 % 3) {
      case 0:
        line.closed.store(b % 2, std::memory_order_relaxed);
        break;
      case 1:
        line.sleeping.store(b % 2, std::memory_order_relaxed);
        break;
      default:
        line.wake.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      break;
    }
    case kPeerOwner: {
      detail::OwnerLine &line = a % 2 == 0 ? ctl.producer_owner : ctl.consumer_owner;
      line.owner.store(owner_value(b, std::uint64_t{b} << 24 | a), std::memory_order_relaxed);
      break;
    }
    case kPeerDescriptor: { // seen by the next attach only
      detail::LaneDescriptor &d = ctl.descriptor;
      if (a % 2 == 0) {
        d.state.store(state_value(b, std::uint64_t{b} * 0x0101010101ULL),
                      std::memory_order_relaxed);
      } else {
        auto *bytes = reinterpret_cast<std::byte *>(&d);
        bytes[8 + a / 2 % (sizeof(d) - 8)] = std::byte{op.b};
      }
      break;
    }
    case kPeerLine: { // any byte of the owner and statistics lines but the owner words
      auto *bytes = reinterpret_cast<std::byte *>(&ctl);
      const std::size_t at = 64 + (a * 256u + b) % (sizeof(ctl) - 64);
      const std::size_t in_line = at % 64;
      if (at >= 192 || in_line >= 8) // owner words: kPeerOwner
        bytes[at] = std::byte{op.b};
      break;
    }
    case kWindowPush: {
      const std::size_t w = write_index();
      window_push(w < kSlots ? w : a % kSlots, window_index(b), 1 + a / 8 % kN);
      break;
    }
    case kWindowPop: {
      const std::size_t r = read_index();
      window_pop(r < kSlots ? r : a % kSlots, window_index(b), 1 + a / 8 % (kN + 2));
      break;
    }
    default:
      break;
    }
  }
  reader.reset();
  writer.reset();
  // Nobody but the endpoints writes this process's token, and they gave their roles back.
  const std::uint64_t self = detail::self_owner_token();
  if (ctl.producer_owner.owner.load(std::memory_order_relaxed) == self ||
      ctl.consumer_owner.owner.load(std::memory_order_relaxed) == self)
    fail("a role was not given back");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const std::string name = "shmpipe-fuzz-lane-" + std::to_string(::getpid());
  Segment::remove(name);
  g_segment = new Segment(
      Segment::create(name, {.rings = 0, .lanes = kLanes, .lane_bytes = Lane::lane_bytes}));
  Segment::remove(name); // the mapping stays: nothing is left behind, even after a crash
  g_lane = g_segment->lane(0);
  g_queue = std::launder(reinterpret_cast<Queue *>(g_lane.base + sizeof(detail::LaneControl)));
  const std::uint64_t pid1_start = detail::process_start_time(1);
  g_live_token = detail::make_owner_token(1, pid1_start);
  // Only lane 0's control block and queue may be touched: the rest faults.
  fuzz::poison_outside(*g_segment, g_lane.base + kImageBytes);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  Input in;
  if (!decode({data, size}, in))
    return -1; // too short to mean anything: not added to the corpus
  run(in);
  return 0;
}

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// libFuzzer target: arbitrary bytes as a received message. verify_message<Root> runs for the
// root types of schemas/ (Envelope, Extraction, Claims); when it accepts, the whole message is
// walked: every field, every union member, every vector element, every string's bytes and every
// StringColumn entry, so that AddressSanitizer catches any read the verifier should have
// refused. The payload lies in an exactly sized heap block (overreads are caught) or, on the
// session path, in a ring record behind a 16-byte Frame, received with Received<Root>::accept.
//
// Input: [0] selector: bits 0-1 the root (Envelope, Extraction, Claims, or all three), bit 2
// the ring/Frame path; the rest is the payload (after the frame on the ring path).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>

#include <unistd.h>

#include <shmpipe/message.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/session.hpp>

#include "../support/schema_samples.hpp"

namespace {

using namespace shmpipe;
namespace sc = shmpipe::schema;
namespace fb = flatbuffers;

volatile std::uint64_t g_sum = 0; // keeps every read of the walk

template <class T> void mix(T value) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t));
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof value); // no conversion: floats may be NaN or huge
  g_sum = g_sum * 31 + bits;
}

void walk(const fb::String *s) {
  if (s == nullptr)
    return;
  for (const char c : s->string_view())
    mix(c);
}

template <class T> void walk(const fb::Vector<T> *v) {
  if (v == nullptr)
    return;
  for (fb::uoffset_t i = 0; i < v->size(); ++i)
    mix(v->Get(i));
}

void walk(const fb::Vector<fb::Offset<fb::String>> *v) {
  if (v == nullptr)
    return;
  for (fb::uoffset_t i = 0; i < v->size(); ++i)
    walk(v->Get(i));
}

void walk(const sc::BBox *b) {
  if (b == nullptr)
    return;
  mix(b->x0());
  mix(b->y0());
  mix(b->x1());
  mix(b->y1());
}

void walk(const fb::Vector<const sc::BBox *> *v) {
  if (v == nullptr)
    return;
  for (fb::uoffset_t i = 0; i < v->size(); ++i)
    walk(v->Get(i));
}

void walk(const sc::StringColumn *c) {
  if (c == nullptr)
    return;
  walk(c->offsets());
  walk(c->bytes());
  if (c->offsets() == nullptr)
    return;
  for (std::size_t i = 0; i + 1 < c->offsets()->size(); ++i)
    for (const char ch : test::column_at(c, i))
      mix(ch);
}

void walk(const sc::Envelope &m) {
  mix(m.body_type());
  if (const sc::Ready *r = m.body_as_Ready()) {
    mix(r->protocol_version());
    mix(r->pid());
    mix(r->process_start_time());
    walk(r->worker_name());
    walk(r->capabilities());
    walk(r->schema_ids());
  }
  if (const sc::HealthRequest *h = m.body_as_HealthRequest())
    mix(h->sent_ns());
  if (const sc::HealthReply *h = m.body_as_HealthReply()) {
    mix(h->sent_ns());
    mix(h->rss_bytes());
    mix(h->requests_served());
  }
  if (const sc::Configure *c = m.body_as_Configure(); c != nullptr && c->settings() != nullptr)
    for (const sc::KeyValue *kv : *c->settings()) {
      walk(kv->key());
      walk(kv->value());
    }
  if (const sc::Shutdown *s = m.body_as_Shutdown())
    walk(s->reason());
  if (const sc::Error *e = m.body_as_Error()) {
    mix(e->code());
    walk(e->message());
    mix(e->request_id());
    if (e->record_type().has_value())
      mix(*e->record_type());
    if (e->record_seq().has_value())
      mix(*e->record_seq());
  }
}

void walk(const sc::Extraction &m) {
  mix(m.request_id());
  mix(m.body_type());
  if (const sc::ExtractRequest *r = m.body_as_ExtractRequest()) {
    walk(r->path());
    mix(r->page());
    walk(r->bbox());
    mix(r->dpi());
  }
  if (const sc::PageText *t = m.body_as_PageText()) {
    mix(t->page());
    walk(t->text());
    mix(t->width_pt());
    mix(t->height_pt());
  }
  if (const sc::Evidence *e = m.body_as_Evidence()) {
    mix(e->page());
    mix(e->row());
    walk(e->bbox());
    mix(e->width());
    mix(e->height());
    mix(e->stride());
    mix(e->format());
    mix(e->dpi());
    walk(e->pixels());
  }
  if (const sc::LedgerBatch *b = m.body_as_LedgerBatch()) {
    mix(b->first_row());
    walk(b->page());
    walk(b->stt());
    walk(b->code());
    walk(b->name());
    walk(b->unit());
    walk(b->quantity());
    walk(b->unit_price());
    walk(b->amount());
    walk(b->flags());
    walk(b->row_bbox());
  }
}

void walk(const sc::Claims &m) {
  mix(m.body_type());
  if (const sc::PatternSet *p = m.body_as_PatternSet()) {
    mix(p->pattern_count());
    walk(p->database());
    walk(p->database_path());
  }
  if (const sc::TextBatch *t = m.body_as_TextBatch()) {
    mix(t->batch_id());
    walk(t->doc_ids());
    walk(t->text());
  }
  if (const sc::ClaimBatch *c = m.body_as_ClaimBatch()) {
    mix(c->batch_id());
    walk(c->doc_id());
    walk(c->pattern_id());
    walk(c->offset());
    walk(c->length());
    mix(c->scan_ns());
  }
}

template <class Root> void check_direct(std::span<const std::uint8_t> payload) {
  // Exactly sized and 16-aligned, as a record's payload is: one byte more is an overread.
  constexpr std::align_val_t align{16};
  auto *copy = static_cast<std::byte *>(::operator new[](payload.size(), align));
  std::memcpy(copy, payload.data(), payload.size());
  if (const Root *root = verify_message<Root>({copy, payload.size()}))
    walk(*root);
  ::operator delete[](copy, align);
}

// The session path: a ring record of [Frame][payload], received as a session does.
constexpr std::uint64_t kRingCapacity = std::uint64_t{1} << 16;
Segment *g_segment = nullptr;
RingWriter *g_writer = nullptr;
RingReader *g_reader = nullptr;

template <class Root> void check_framed(std::span<const std::uint8_t> payload) {
  WriteSlot slot = g_writer->try_reserve(sizeof(detail::Frame) + payload.size());
  if (!slot)
    return; // larger than the ring
  const detail::Frame frame{1, detail::kFrameFinal, 0};
  std::memcpy(slot.bytes().data(), &frame, sizeof frame);
  std::memcpy(slot.bytes().data() + sizeof frame, payload.data(), payload.size());
  g_writer->commit(std::move(slot));
  Received<Root> in = Received<Root>::accept(*g_reader, g_reader->try_peek(), VerifyOptions{},
                                             sizeof(detail::Frame));
  if (in) {
    detail::Frame got{};
    std::memcpy(&got, in.prefix().data(), sizeof got);
    mix(got.request_id);
    walk(*in);
  } else if (in.status() != Status::invalid_message) {
    std::abort(); // the record was there: verified or rejected, nothing else
  }
  in.release();
  if (g_reader->try_peek().status() != Status::empty)
    std::abort(); // the record was released (or rejected) either way
}

template <class Root> void check(std::span<const std::uint8_t> payload, bool framed) {
  if (framed)
    check_framed<Root>(payload);
  else
    check_direct<Root>(payload);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const std::string name = "shmpipe-fuzz-msg-" + std::to_string(::getpid());
  Segment::remove(name);
  g_segment = new Segment(Segment::create(name, {.ring_capacity = kRingCapacity}));
  Segment::remove(name); // the mapping stays: nothing is left behind, even after a crash
  g_writer = new RingWriter(*g_segment, 0);
  g_reader = new RingReader(*g_segment, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  if (size == 0)
    return -1;
  const unsigned selector = data[0];
  const std::span<const std::uint8_t> payload(data + 1, size - 1);
  const bool framed = (selector & 4) != 0;
  switch (selector & 3) {
  case 0:
    check<sc::Envelope>(payload, framed);
    break;
  case 1:
    check<sc::Extraction>(payload, framed);
    break;
  case 2:
    check<sc::Claims>(payload, framed);
    break;
  default:
    check<sc::Envelope>(payload, framed);
    check<sc::Extraction>(payload, framed);
    check<sc::Claims>(payload, framed);
    break;
  }
  return 0;
}

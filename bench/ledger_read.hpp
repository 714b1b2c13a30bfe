// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// What a core does with ledger rows in the ledger benchmarks (bench/ledger_transport_bench.cpp
// and bench/python/py_core_bench.cpp): every field of every row goes into a Checksum, and a
// LedgerBatch is read in place, its columns checked once and then used as plain arrays.
#pragma once

#include <shmpipe/schemas/extraction_shmpipe.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace shmpipe::bench {

/// What the core computes from the rows it read: every field goes into it. `full`: every
/// byte of every string is hashed (an untimed run, which proves that the transports deliver
/// the same bytes); else each string is touched (length, first and last byte), which is what
/// "readable" costs a core that then uses the fields: the timed runs.
struct Checksum {
  bool full = false;
  std::uint64_t strings = 1469598103934665603ULL; // FNV-1a
  std::uint64_t numbers = 0;                      // sum of the bit patterns of all numbers
  std::uint64_t rows = 0;

  void text(std::string_view s) {
    if (full) {
      for (const char c : s)
        strings = (strings ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      strings = (strings ^ 0xff) * 1099511628211ULL; // field separator
    } else {
      strings += s.size() + (s.empty() ? 0u
                                       : static_cast<unsigned char>(s.front()) +
                                             static_cast<unsigned char>(s.back()) * 256u);
    }
  }
  void number(double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    numbers += bits;
  }
  void number(float f) { number(static_cast<double>(f)); }
  void row(std::uint32_t page, std::string_view stt, std::string_view code, std::string_view name,
           std::string_view unit, double q, double p, double a, unsigned flags,
           const std::array<float, 4> &box) {
    numbers += page + flags * 7ULL;
    text(stt), text(code), text(name), text(unit);
    number(q), number(p), number(a);
    for (const float f : box)
      number(f);
    ++rows;
  }
  bool operator==(const Checksum &) const = default;
};

/// A StringColumn as two plain arrays, once valid_column() said so.
class Strings {
public:
  explicit Strings(const schema::StringColumn *c)
      : offsets_(c->offsets()->data()), bytes_(reinterpret_cast<const char *>(c->bytes()->data())) {
  }
  std::string_view operator[](std::size_t i) const {
    return {bytes_ + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }

private:
  const std::uint32_t *offsets_;
  const char *bytes_;
};

/// The StringColumn invariants (schemas/common.fbs) for `n` rows, which the verifier does not
/// check: n + 1 offsets from 0, non-decreasing, the last one the length of the bytes.
inline bool valid_column(const schema::StringColumn *c, std::size_t n) {
  if (c == nullptr || c->offsets() == nullptr || c->bytes() == nullptr ||
      c->offsets()->size() != n + 1)
    return false;
  const std::uint32_t *offsets = c->offsets()->data();
  std::uint32_t decreases = offsets[0];
  for (std::size_t i = 0; i < n; ++i)
    decreases |= offsets[i] > offsets[i + 1] ? 1u : 0u; // no early exit: the loop vectorizes
  return decreases == 0 && offsets[n] == c->bytes()->size();
}

/// Reads one verified LedgerBatch in place into `sum`: every column checked once, then every
/// field of every row read. False for a batch whose columns disagree.
inline bool read_batch(const schema::LedgerBatch *b, Checksum &sum) {
  if (b == nullptr || b->page() == nullptr)
    return false;
  const std::size_t n = b->page()->size();
  const auto sized = [n](const auto *v) { return v != nullptr && v->size() == n; };
  if (!valid_column(b->stt(), n) || !valid_column(b->code(), n) || !valid_column(b->name(), n) ||
      !valid_column(b->unit(), n) || !sized(b->quantity()) || !sized(b->unit_price()) ||
      !sized(b->amount()) || !sized(b->flags()) || !sized(b->row_bbox()))
    return false;
  const Strings stt(b->stt()), code(b->code()), name(b->name()), unit(b->unit());
  const std::uint32_t *page = b->page()->data();
  const double *q = b->quantity()->data();
  const double *p = b->unit_price()->data();
  const double *a = b->amount()->data();
  const std::uint8_t *flags = b->flags()->data();
  const auto *boxes = reinterpret_cast<const schema::BBox *>(b->row_bbox()->Data());
  for (std::size_t i = 0; i < n; ++i) {
    const schema::BBox &box = boxes[i];
    sum.row(page[i], stt[i], code[i], name[i], unit[i], q[i], p[i], a[i], flags[i],
            {box.x0(), box.y0(), box.x1(), box.y1()});
  }
  return true;
}

} // namespace shmpipe::bench

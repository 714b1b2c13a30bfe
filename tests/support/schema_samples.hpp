// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// One sample of every message of every schema in schemas/: a builder and a checker each, so
// that one process can build a sample and another can check what arrived. Shared by the
// multi-process tests and the benchmarks (the 1 KiB ledger batch).
#pragma once

#include <shmpipe/schemas/claims_shmpipe.h>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shmpipe::test {

namespace sc = shmpipe::schema;
namespace fb = flatbuffers;

/// A string column of `n` strings, string i being `at(i)` (a string_view), Arrow style
/// (offsets + one bytes vector), filled in place. Each vector is filled before the next is
/// created: creating one may move the buffer.
template <class At>
fb::Offset<sc::StringColumn> string_column(fb::FlatBufferBuilder &b, std::size_t n, At at) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i)
    total += std::string_view(at(i)).size();
  std::uint8_t *bytes = nullptr;
  const auto bytes_vec = b.CreateUninitializedVector(total, 1, &bytes);
  for (std::size_t i = 0, pos = 0; i < n; ++i) {
    const std::string_view v = at(i);
    std::memcpy(bytes + pos, v.data(), v.size());
    pos += v.size();
  }
  std::uint32_t *offsets = nullptr;
  const auto offsets_vec = b.CreateUninitializedVector(n + 1, &offsets);
  offsets[0] = 0;
  for (std::size_t i = 0; i < n; ++i)
    offsets[i + 1] = offsets[i] + static_cast<std::uint32_t>(std::string_view(at(i)).size());
  return sc::CreateStringColumn(b, offsets_vec, fb::Offset<fb::Vector<std::uint8_t>>(bytes_vec));
}

inline fb::Offset<sc::StringColumn> string_column(fb::FlatBufferBuilder &b,
                                                  const std::vector<std::string> &values) {
  return string_column(b, values.size(),
                       [&](std::size_t i) { return std::string_view(values[i]); });
}

/// String i of a column, after checking the column's invariants (empty view if broken).
inline std::string_view column_at(const sc::StringColumn *c, std::size_t i) {
  if (c == nullptr || c->offsets() == nullptr || c->bytes() == nullptr ||
      i + 1 >= c->offsets()->size())
    return {};
  const std::uint32_t from = c->offsets()->Get(static_cast<fb::uoffset_t>(i));
  const std::uint32_t to = c->offsets()->Get(static_cast<fb::uoffset_t>(i + 1));
  if (from > to || to > c->bytes()->size())
    return {};
  return {reinterpret_cast<const char *>(c->bytes()->data()) + from, to - from};
}

/// Row i of the sample ledger: Vietnamese names, both number conventions already parsed.
struct LedgerRow {
  std::uint32_t page;
  std::string stt, code, name, unit;
  double quantity, unit_price;
};

inline LedgerRow ledger_row(std::uint64_t i) {
  static const char *const names[] = {"Đào móng băng bằng thủ công", "Bê tông lót móng đá 4x6",
                                      "Cốt thép móng đường kính ≤10mm", "Xây tường gạch ống"};
  static const char *const units[] = {"m3", "m3", "tấn", "m2"};
  return {static_cast<std::uint32_t>(1 + i / 40),
          std::to_string(i + 1),
          "AB." + std::to_string(11000 + i),
          names[i % 4],
          units[i % 4],
          1.5 + static_cast<double>(i % 17),
          125000.0 + 1000.0 * static_cast<double>(i % 9)};
}

/// `rows` rows of the sample ledger, starting at row `first_row`.
inline std::vector<LedgerRow> ledger_rows(std::size_t rows, std::uint64_t first_row = 0) {
  std::vector<LedgerRow> r;
  r.reserve(rows);
  for (std::size_t i = 0; i < rows; ++i)
    r.push_back(ledger_row(first_row + i));
  return r;
}

/// An Extraction/LedgerBatch of the rows `r` (the first being row `first_row`), every column
/// filled in place. 8 rows make about 1 KiB.
inline fb::Offset<sc::Extraction> build_ledger_batch(fb::FlatBufferBuilder &b,
                                                     const std::vector<LedgerRow> &r,
                                                     std::uint64_t first_row,
                                                     std::uint64_t request_id = 1) {
  const std::size_t rows = r.size();
  auto column = [&](std::string LedgerRow::*field) {
    return string_column(b, rows, [&](std::size_t i) { return std::string_view(r[i].*field); });
  };
  const auto stt = column(&LedgerRow::stt);
  const auto code = column(&LedgerRow::code);
  const auto name = column(&LedgerRow::name);
  const auto unit = column(&LedgerRow::unit);
  // Each column is filled as soon as it is created: creating the next one may move the buffer.
  auto numbers = [&](auto value) {
    using T = decltype(value(r[0], std::size_t{0}));
    T *out = nullptr;
    const auto vec = b.CreateUninitializedVector(rows, &out);
    for (std::size_t i = 0; i < rows; ++i)
      out[i] = value(r[i], i);
    return vec;
  };
  const auto page_vec = numbers([](const LedgerRow &row, std::size_t) { return row.page; });
  const auto quantity_vec = numbers([](const LedgerRow &row, std::size_t) { return row.quantity; });
  const auto unit_price_vec =
      numbers([](const LedgerRow &row, std::size_t) { return row.unit_price; });
  const auto amount_vec =
      numbers([](const LedgerRow &row, std::size_t) { return row.quantity * row.unit_price; });
  const auto flags_vec = numbers([](const LedgerRow &, std::size_t) { return std::uint8_t{0}; });
  sc::BBox *boxes = nullptr;
  const auto boxes_vec = b.CreateUninitializedVectorOfStructs(rows, &boxes);
  for (std::size_t i = 0; i < rows; ++i)
    boxes[i] = sc::BBox(50.0f, 100.0f + 14.0f * static_cast<float>(i), 550.0f,
                        112.0f + 14.0f * static_cast<float>(i));
  const auto batch = sc::CreateLedgerBatch(
      b, first_row, page_vec, stt, code, name, unit, quantity_vec, unit_price_vec, amount_vec,
      fb::Offset<fb::Vector<std::uint8_t>>(flags_vec), boxes_vec);
  return sc::CreateExtraction(b, request_id, sc::ExtractionBody::LedgerBatch, batch.Union());
}

/// build_ledger_batch() of `rows` sample rows starting at `first_row`.
inline fb::Offset<sc::Extraction> build_ledger_batch(fb::FlatBufferBuilder &b, std::size_t rows,
                                                     std::uint64_t first_row = 0,
                                                     std::uint64_t request_id = 1) {
  return build_ledger_batch(b, ledger_rows(rows, first_row), first_row, request_id);
}

/// Empty string when `m` is the batch build_ledger_batch(rows, first_row) made, else what
/// differs.
inline std::string check_ledger_batch(const sc::Extraction &m, std::size_t rows,
                                      std::uint64_t first_row = 0) {
  const sc::LedgerBatch *batch = m.body_as_LedgerBatch();
  if (batch == nullptr)
    return "not a LedgerBatch";
  if (batch->first_row() != first_row || batch->page() == nullptr ||
      batch->page()->size() != rows || batch->amount() == nullptr ||
      batch->amount()->size() != rows || batch->row_bbox() == nullptr ||
      batch->row_bbox()->size() != rows)
    return "wrong row count";
  for (std::size_t i = 0; i < rows; ++i) {
    const LedgerRow want = ledger_row(first_row + i);
    const auto at = static_cast<fb::uoffset_t>(i);
    if (batch->page()->Get(at) != want.page || column_at(batch->stt(), i) != want.stt ||
        column_at(batch->code(), i) != want.code || column_at(batch->name(), i) != want.name ||
        column_at(batch->unit(), i) != want.unit || batch->quantity()->Get(at) != want.quantity ||
        batch->unit_price()->Get(at) != want.unit_price ||
        batch->amount()->Get(at) != want.quantity * want.unit_price)
      return "row " + std::to_string(i) + " differs";
  }
  return {};
}

/// One sample message of root type `Root`: how to build it and how to check what arrived
/// (an empty string when it is what build() made).
template <class Root> struct SampleOf {
  const char *name;
  fb::Offset<Root> (*build)(fb::FlatBufferBuilder &);
  std::string (*check)(const Root &);
};

inline std::string expect(bool ok, const char *what) { return ok ? std::string() : what; }

inline bool same(const fb::String *s, std::string_view want) {
  return s != nullptr && s->string_view() == want;
}

/// Every member of envelope.fbs's Control union.
inline std::vector<SampleOf<sc::Envelope>> envelope_samples() {
  return {
      {"Ready",
       [](fb::FlatBufferBuilder &b) {
         const auto ready =
             sc::CreateReady(b, 3, 4242, 987654321, b.CreateString("worker-7"),
                             b.CreateVectorOfStrings({"evidence", "ledger"}),
                             b.CreateVector(std::vector<std::uint64_t>{0x5345, 0x434c}));
         return sc::CreateEnvelope(b, sc::Control::Ready, ready.Union());
       },
       [](const sc::Envelope &m) {
         const sc::Ready *r = m.body_as_Ready();
         return expect(
             r != nullptr && r->protocol_version() == 3 && r->pid() == 4242 &&
                 r->process_start_time() == 987654321 && same(r->worker_name(), "worker-7") &&
                 r->capabilities() != nullptr && r->capabilities()->size() == 2 &&
                 same(r->capabilities()->Get(1), "ledger") && r->schema_ids() != nullptr &&
                 r->schema_ids()->size() == 2 && r->schema_ids()->Get(1) == 0x434c,
             "Ready differs");
       }},
      {"HealthRequest",
       [](fb::FlatBufferBuilder &b) {
         return sc::CreateEnvelope(b, sc::Control::HealthRequest,
                                   sc::CreateHealthRequest(b, 123456789).Union());
       },
       [](const sc::Envelope &m) {
         const sc::HealthRequest *h = m.body_as_HealthRequest();
         return expect(h != nullptr && h->sent_ns() == 123456789, "HealthRequest differs");
       }},
      {"HealthReply",
       [](fb::FlatBufferBuilder &b) {
         return sc::CreateEnvelope(b, sc::Control::HealthReply,
                                   sc::CreateHealthReply(b, 1, 2u << 20, 99).Union());
       },
       [](const sc::Envelope &m) {
         const sc::HealthReply *h = m.body_as_HealthReply();
         return expect(h != nullptr && h->sent_ns() == 1 && h->rss_bytes() == (2u << 20) &&
                           h->requests_served() == 99,
                       "HealthReply differs");
       }},
      {"Configure",
       [](fb::FlatBufferBuilder &b) {
         std::vector<fb::Offset<sc::KeyValue>> kv{
             sc::CreateKeyValue(b, b.CreateString("dpi"), b.CreateString("150")),
             sc::CreateKeyValue(b, b.CreateString("author"), b.CreateString("Nguyễn Văn A"))};
         const auto settings = b.CreateVectorOfSortedTables(&kv);
         return sc::CreateEnvelope(b, sc::Control::Configure,
                                   sc::CreateConfigure(b, settings).Union());
       },
       [](const sc::Envelope &m) {
         // Sorted by key: "author" first. (Not LookupByKey: g++ 12 -O with sanitizers warns
         // about its strcmp, a known false positive, and these tests build with -Werror.)
         const sc::Configure *c = m.body_as_Configure();
         return expect(c != nullptr && c->settings() != nullptr && c->settings()->size() == 2 &&
                           same(c->settings()->Get(0)->key(), "author") &&
                           same(c->settings()->Get(0)->value(), "Nguyễn Văn A") &&
                           same(c->settings()->Get(1)->key(), "dpi"),
                       "Configure differs");
       }},
      {"Shutdown",
       [](fb::FlatBufferBuilder &b) {
         return sc::CreateEnvelope(b, sc::Control::Shutdown,
                                   sc::CreateShutdown(b, b.CreateString("done")).Union());
       },
       [](const sc::Envelope &m) {
         const sc::Shutdown *s = m.body_as_Shutdown();
         return expect(s != nullptr && same(s->reason(), "done"), "Shutdown differs");
       }},
      {"Error",
       [](fb::FlatBufferBuilder &b) {
         const auto e =
             sc::CreateError(b, 7, b.CreateString("page 3 is corrupt"), 42,
                             std::optional<std::uint16_t>(5), std::optional<std::uint64_t>(1234));
         return sc::CreateEnvelope(b, sc::Control::Error, e.Union());
       },
       [](const sc::Envelope &m) {
         const sc::Error *e = m.body_as_Error();
         return expect(e != nullptr && e->code() == 7 && same(e->message(), "page 3 is corrupt") &&
                           e->request_id() == 42 && e->record_type() == 5 &&
                           e->record_seq() == 1234,
                       "Error differs");
       }},
      {"Warning",
       [](fb::FlatBufferBuilder &b) {
         const auto w = sc::CreateWarning(b, 1, b.CreateString("resident set over the soft limit"),
                                          std::uint64_t{1} << 30);
         return sc::CreateEnvelope(b, sc::Control::Warning, w.Union());
       },
       [](const sc::Envelope &m) {
         const sc::Warning *w = m.body_as_Warning();
         return expect(w != nullptr && w->code() == 1 &&
                           same(w->message(), "resident set over the soft limit") &&
                           w->rss_bytes() == std::uint64_t{1} << 30,
                       "Warning differs");
       }},
  };
}

/// Every member of extraction.fbs's ExtractionBody union.
inline std::vector<SampleOf<sc::Extraction>> extraction_samples() {
  return {
      {"ExtractRequest",
       [](fb::FlatBufferBuilder &b) {
         const sc::BBox box(10, 20, 300, 400);
         const auto r =
             sc::CreateExtractRequest(b, b.CreateString("/tmp/dự toán.pdf"), 2, &box, 300);
         return sc::CreateExtraction(b, 5, sc::ExtractionBody::ExtractRequest, r.Union());
       },
       [](const sc::Extraction &m) {
         const sc::ExtractRequest *r = m.body_as_ExtractRequest();
         return expect(r != nullptr && m.request_id() == 5 && same(r->path(), "/tmp/dự toán.pdf") &&
                           r->page() == 2 && r->bbox() != nullptr && r->bbox()->x1() == 300 &&
                           r->dpi() == 300,
                       "ExtractRequest differs");
       }},
      {"PageText",
       [](fb::FlatBufferBuilder &b) {
         const auto t = sc::CreatePageText(b, 3, b.CreateString("Bảng dự toán\nSTT 1"), 595, 842);
         return sc::CreateExtraction(b, 5, sc::ExtractionBody::PageText, t.Union());
       },
       [](const sc::Extraction &m) {
         const sc::PageText *t = m.body_as_PageText();
         return expect(t != nullptr && t->page() == 3 && same(t->text(), "Bảng dự toán\nSTT 1") &&
                           t->width_pt() == 595 && t->height_pt() == 842,
                       "PageText differs");
       }},
      {"Evidence",
       [](fb::FlatBufferBuilder &b) {
         std::uint8_t *pixels = nullptr;
         const auto vec = b.CreateUninitializedVector(64 * 16, 1, &pixels);
         for (std::size_t i = 0; i < 64 * 16; ++i)
           pixels[i] = static_cast<std::uint8_t>(i * 7);
         const sc::BBox box(1, 2, 3, 4);
         const auto e = sc::CreateEvidence(b, 1, 9, &box, 64, 16, 64, sc::PixelFormat::Gray8, 150,
                                           fb::Offset<fb::Vector<std::uint8_t>>(vec));
         return sc::CreateExtraction(b, 5, sc::ExtractionBody::Evidence, e.Union());
       },
       [](const sc::Extraction &m) {
         const sc::Evidence *e = m.body_as_Evidence();
         if (e == nullptr || e->pixels() == nullptr || e->pixels()->size() != 64 * 16 ||
             e->width() != 64 || e->height() != 16 || e->stride() != 64 || e->row() != 9 ||
             e->format() != sc::PixelFormat::Gray8 || e->dpi() != 150)
           return std::string("Evidence header differs");
         for (fb::uoffset_t i = 0; i < 64 * 16; ++i)
           if (e->pixels()->Get(i) != static_cast<std::uint8_t>(i * 7))
             return std::string("Evidence pixels differ");
         return std::string();
       }},
      {"LedgerBatch", [](fb::FlatBufferBuilder &b) { return build_ledger_batch(b, 12, 100); },
       [](const sc::Extraction &m) { return check_ledger_batch(m, 12, 100); }},
  };
}

/// Every member of claims.fbs's ClaimsBody union.
inline std::vector<SampleOf<sc::Claims>> claims_samples() {
  return {
      {"PatternSet",
       [](fb::FlatBufferBuilder &b) {
         const auto p = sc::CreatePatternSet(
             b, 2, b.CreateVector(std::vector<std::uint8_t>{1, 2, 3, 4, 5}), b.CreateString(""));
         return sc::CreateClaims(b, sc::ClaimsBody::PatternSet, p.Union());
       },
       [](const sc::Claims &m) {
         const sc::PatternSet *p = m.body_as_PatternSet();
         return expect(p != nullptr && p->pattern_count() == 2 && p->database() != nullptr &&
                           p->database()->size() == 5 && p->database()->Get(4) == 5,
                       "PatternSet differs");
       }},
      {"TextBatch",
       [](fb::FlatBufferBuilder &b) {
         const auto text = string_column(b, {"the cat sat", "", "mèo ngồi"});
         const auto t = sc::CreateTextBatch(
             b, 77, b.CreateVector(std::vector<std::uint64_t>{10, 11, 12}), text);
         return sc::CreateClaims(b, sc::ClaimsBody::TextBatch, t.Union());
       },
       [](const sc::Claims &m) {
         const sc::TextBatch *t = m.body_as_TextBatch();
         return expect(t != nullptr && t->batch_id() == 77 && t->doc_ids() != nullptr &&
                           t->doc_ids()->size() == 3 && column_at(t->text(), 0) == "the cat sat" &&
                           column_at(t->text(), 1).empty() && column_at(t->text(), 2) == "mèo ngồi",
                       "TextBatch differs");
       }},
      {"ClaimBatch",
       [](fb::FlatBufferBuilder &b) {
         const auto c =
             sc::CreateClaimBatch(b, 77, b.CreateVector(std::vector<std::uint64_t>{10, 12}),
                                  b.CreateVector(std::vector<std::uint32_t>{3, 4}),
                                  b.CreateVector(std::vector<std::uint32_t>{4, 0}),
                                  b.CreateVector(std::vector<std::uint32_t>{3, 3}), 1500);
         return sc::CreateClaims(b, sc::ClaimsBody::ClaimBatch, c.Union());
       },
       [](const sc::Claims &m) {
         const sc::ClaimBatch *c = m.body_as_ClaimBatch();
         return expect(c != nullptr && c->batch_id() == 77 && c->doc_id() != nullptr &&
                           c->doc_id()->size() == 2 && c->pattern_id()->Get(1) == 4 &&
                           c->offset()->Get(0) == 4 && c->length()->Get(1) == 3 &&
                           c->scan_ns() == 1500,
                       "ClaimBatch differs");
       }},
  };
}

} // namespace shmpipe::test

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of schemas/*.fbs and of the MessageTraits shmpipe_add_schemas() generates for them: every
// message kind survives a verified round trip, and no root type verifies as another.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include <shmpipe/message_traits.hpp>
#include <shmpipe/schemas/claims_shmpipe.h>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>

#include <gtest/gtest.h>

namespace shmpipe {
namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;

static_assert(Message<sc::Envelope> && Message<sc::Extraction> && Message<sc::Claims>);

using Bytes = std::span<const std::uint8_t>;

Bytes bytes_of(const fb::FlatBufferBuilder &fbb) { return {fbb.GetBufferPointer(), fbb.GetSize()}; }

/// The root of `bytes` if they verify as a Root with Root's file identifier, else nullptr: what
/// a receiver does with a message from an untrusted peer.
template <class Root> const Root *verified(Bytes bytes) {
  fb::Verifier verifier(bytes.data(), bytes.size());
  if (!verifier.VerifyBuffer<Root>(MessageTraits<Root>::identifier))
    return nullptr;
  return fb::GetRoot<Root>(bytes.data());
}

/// Finishes `root` with the identifier from MessageTraits (as shmpipe's builder does) and reads
/// it back through the verifier.
template <class Root> const Root *round_trip(fb::FlatBufferBuilder &fbb, fb::Offset<Root> root) {
  fbb.Finish(root, MessageTraits<Root>::identifier);
  return verified<Root>(bytes_of(fbb));
}

template <class T> std::vector<T> to_vector(const fb::Vector<T> *v) {
  if (v == nullptr)
    return {};
  return {v->begin(), v->end()};
}

std::vector<std::string> to_strings(const fb::Vector<fb::Offset<fb::String>> *v) {
  std::vector<std::string> out;
  if (v != nullptr)
    for (const fb::String *s : *v)
      out.push_back(s->str());
  return out;
}

/// A vector filled in place, the way the schemas' columns are built (schemas/README.md).
template <class T>
fb::Offset<fb::Vector<T>> column(fb::FlatBufferBuilder &fbb, const std::vector<T> &values) {
  T *out = nullptr;
  const auto offset = fbb.CreateUninitializedVector(values.size(), &out);
  for (std::size_t i = 0; i < values.size(); ++i)
    fb::WriteScalar(out + i, values[i]);
  return offset;
}

/// A StringColumn filled in place: one bytes vector, then n + 1 offsets into it.
fb::Offset<sc::StringColumn> string_column(fb::FlatBufferBuilder &fbb,
                                           const std::vector<std::string> &rows) {
  std::size_t total = 0;
  for (const auto &row : rows)
    total += row.size();
  std::uint8_t *bytes = nullptr;
  const auto bytes_offset = fbb.CreateUninitializedVector(total, &bytes);
  std::vector<std::uint32_t> offsets{0};
  for (const auto &row : rows) {
    std::memcpy(bytes + offsets.back(), row.data(), row.size());
    offsets.push_back(offsets.back() + static_cast<std::uint32_t>(row.size()));
  }
  return sc::CreateStringColumn(fbb, column(fbb, offsets), bytes_offset);
}

/// The n strings of a column, or nullopt when it breaks the invariants common.fbs lists (which
/// the verifier does not check).
std::optional<std::vector<std::string_view>> read_column(const sc::StringColumn *col,
                                                         std::size_t n) {
  const fb::Vector<std::uint32_t> *offsets = col != nullptr ? col->offsets() : nullptr;
  const fb::Vector<std::uint8_t> *bytes = col != nullptr ? col->bytes() : nullptr;
  const std::size_t byte_count = bytes != nullptr ? bytes->size() : 0;
  if (offsets == nullptr || offsets->size() == 0) {
    if (n != 0)
      return std::nullopt;
    return std::vector<std::string_view>{};
  }
  if (offsets->size() != n + 1 || offsets->Get(0) != 0 ||
      offsets->Get(offsets->size() - 1) != byte_count)
    return std::nullopt;
  std::vector<std::string_view> rows;
  for (fb::uoffset_t i = 0; i + 1 < offsets->size(); ++i) {
    const std::uint32_t begin = offsets->Get(i);
    const std::uint32_t end = offsets->Get(i + 1);
    if (end < begin)
      return std::nullopt;
    if (begin == end)
      rows.emplace_back();
    else
      rows.emplace_back(reinterpret_cast<const char *>(bytes->data()) + begin, end - begin);
  }
  return rows;
}

void expect_bbox(const sc::BBox *got, const sc::BBox &want) {
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->x0(), want.x0());
  EXPECT_EQ(got->y0(), want.y0());
  EXPECT_EQ(got->x1(), want.x1());
  EXPECT_EQ(got->y1(), want.y1());
}

/// Equal element by element, NaN equal to NaN (a missing number in a ledger cell).
void expect_same_doubles(const fb::Vector<double> *got, const std::vector<double> &want) {
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->size(), want.size());
  for (fb::uoffset_t i = 0; i < got->size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(got->Get(i))) << i;
    else
      EXPECT_EQ(got->Get(i), want[i]) << i;
  }
}

// One sample buffer per root type, for the tests that cross them.
fb::FlatBufferBuilder sample_envelope() {
  fb::FlatBufferBuilder fbb;
  const auto body = sc::CreateShutdown(fbb, fbb.CreateString("bye"));
  fbb.Finish(sc::CreateEnvelope(fbb, sc::Control::Shutdown, body.Union()),
             MessageTraits<sc::Envelope>::identifier);
  return fbb;
}

fb::FlatBufferBuilder sample_extraction() {
  fb::FlatBufferBuilder fbb;
  const auto body = sc::CreateExtractRequestDirect(fbb, "/tmp/a.pdf", 1);
  fbb.Finish(sc::CreateExtraction(fbb, 1, sc::ExtractionBody::ExtractRequest, body.Union()),
             MessageTraits<sc::Extraction>::identifier);
  return fbb;
}

fb::FlatBufferBuilder sample_claims() {
  fb::FlatBufferBuilder fbb;
  const auto body = sc::CreatePatternSetDirect(fbb, 1, nullptr, "/tmp/patterns.hsdb");
  fbb.Finish(sc::CreateClaims(fbb, sc::ClaimsBody::PatternSet, body.Union()),
             MessageTraits<sc::Claims>::identifier);
  return fbb;
}

TEST(SchemasTest, TraitsMatchWhatFlatcGenerated) {
  EXPECT_STREQ(MessageTraits<sc::Envelope>::identifier, sc::EnvelopeIdentifier());
  EXPECT_STREQ(MessageTraits<sc::Extraction>::identifier, sc::ExtractionIdentifier());
  EXPECT_STREQ(MessageTraits<sc::Claims>::identifier, sc::ClaimsIdentifier());
  EXPECT_STREQ(MessageTraits<sc::Envelope>::identifier, "SPEV");
  EXPECT_STREQ(MessageTraits<sc::Extraction>::identifier, "SPEX");
  EXPECT_STREQ(MessageTraits<sc::Claims>::identifier, "SPCL");
  EXPECT_STREQ(MessageTraits<sc::Envelope>::name, "shmpipe::schema::Envelope");
  EXPECT_STREQ(MessageTraits<sc::Extraction>::name, "shmpipe::schema::Extraction");
  EXPECT_STREQ(MessageTraits<sc::Claims>::name, "shmpipe::schema::Claims");
}

TEST(SchemasTest, IdentifiersAreDistinct) {
  const std::string_view envelope = MessageTraits<sc::Envelope>::identifier;
  const std::string_view extraction = MessageTraits<sc::Extraction>::identifier;
  const std::string_view claims = MessageTraits<sc::Claims>::identifier;
  EXPECT_NE(envelope, extraction);
  EXPECT_NE(envelope, claims);
  EXPECT_NE(extraction, claims);
}

TEST(SchemasTest, NoRootVerifiesAsAnother) {
  const auto envelope = sample_envelope();
  const auto extraction = sample_extraction();
  const auto claims = sample_claims();
  EXPECT_NE(verified<sc::Envelope>(bytes_of(envelope)), nullptr);
  EXPECT_EQ(verified<sc::Extraction>(bytes_of(envelope)), nullptr);
  EXPECT_EQ(verified<sc::Claims>(bytes_of(envelope)), nullptr);
  EXPECT_NE(verified<sc::Extraction>(bytes_of(extraction)), nullptr);
  EXPECT_EQ(verified<sc::Envelope>(bytes_of(extraction)), nullptr);
  EXPECT_EQ(verified<sc::Claims>(bytes_of(extraction)), nullptr);
  EXPECT_NE(verified<sc::Claims>(bytes_of(claims)), nullptr);
  EXPECT_EQ(verified<sc::Envelope>(bytes_of(claims)), nullptr);
  EXPECT_EQ(verified<sc::Extraction>(bytes_of(claims)), nullptr);
}

TEST(SchemasTest, TruncatedBufferFailsVerification) {
  const auto envelope = sample_envelope();
  const auto extraction = sample_extraction();
  const auto claims = sample_claims();
  EXPECT_EQ(verified<sc::Envelope>(bytes_of(envelope).first(envelope.GetSize() - 8)), nullptr);
  EXPECT_EQ(verified<sc::Extraction>(bytes_of(extraction).first(extraction.GetSize() - 8)),
            nullptr);
  EXPECT_EQ(verified<sc::Claims>(bytes_of(claims).first(claims.GetSize() - 8)), nullptr);
}

// The schemas tell readers to handle union tags they do not know, because the verifier lets
// them through; this pins that behaviour of FlatBuffers down.
TEST(SchemasTest, UnknownUnionTagPassesVerification) {
  fb::FlatBufferBuilder fbb;
  const auto body = sc::CreateShutdown(fbb, fbb.CreateString("from the future"));
  const auto *sut =
      round_trip(fbb, sc::CreateEnvelope(fbb, static_cast<sc::Control>(200), body.Union()));
  ASSERT_NE(sut, nullptr);
  EXPECT_EQ(static_cast<int>(sut->body_type()), 200);
  EXPECT_EQ(sut->body_as_Shutdown(), nullptr);
}

TEST(StringColumnTest, RoundTripsInPlace) {
  fb::FlatBufferBuilder fbb;
  const std::vector<std::string> rows{"1", "", "Bê tông lót móng", "m³"};
  fbb.Finish(string_column(fbb, rows));
  fb::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
  ASSERT_TRUE(verifier.VerifyBuffer<sc::StringColumn>(nullptr));
  const auto got = read_column(fb::GetRoot<sc::StringColumn>(fbb.GetBufferPointer()), 4);
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    EXPECT_EQ((*got)[i], rows[i]) << i;
  EXPECT_FALSE(read_column(fb::GetRoot<sc::StringColumn>(fbb.GetBufferPointer()), 3));
}

// common.fbs says the verifier bounds each vector but not the offsets into bytes: every broken
// column below verifies, and only the reader's own checks catch it.
TEST(StringColumnTest, ReaderCatchesWhatTheVerifierAccepts) {
  const std::vector<std::vector<std::uint32_t>> broken{
      {0, 2, 1000}, // last offset beyond bytes
      {0, 3, 2},    // decreasing
      {1, 2, 4},    // does not start at 0
      {0, 2, 3},    // does not end at bytes.length
  };
  for (const auto &offsets : broken) {
    fb::FlatBufferBuilder fbb;
    const auto bytes = column(fbb, std::vector<std::uint8_t>{'a', 'b', 'c', 'd'});
    fbb.Finish(sc::CreateStringColumn(fbb, column(fbb, offsets), bytes));
    fb::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
    EXPECT_TRUE(verifier.VerifyBuffer<sc::StringColumn>(nullptr)) << offsets[1];
    EXPECT_FALSE(read_column(fb::GetRoot<sc::StringColumn>(fbb.GetBufferPointer()), 2))
        << offsets[1];
  }
}

TEST(EnvelopeSchemaTest, ReadyRoundTrips) {
  fb::FlatBufferBuilder fbb;
  const auto ready =
      sc::CreateReady(fbb, 3, 4242, 123456789012ULL, fbb.CreateString("pdf-worker"),
                      fbb.CreateVectorOfStrings(std::vector<std::string>{"render", "ledger"}),
                      fbb.CreateVector(std::vector<std::uint64_t>{7, 0xfeedfacecafeULL}));
  const auto *sut = round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::Ready, ready.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::Control::Ready);
  const sc::Ready *body = sut->body_as_Ready();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->protocol_version(), 3u);
  EXPECT_EQ(body->pid(), 4242u);
  EXPECT_EQ(body->process_start_time(), 123456789012ULL);
  ASSERT_NE(body->worker_name(), nullptr);
  EXPECT_EQ(body->worker_name()->string_view(), "pdf-worker");
  EXPECT_EQ(to_strings(body->capabilities()), (std::vector<std::string>{"render", "ledger"}));
  EXPECT_EQ(to_vector(body->schema_ids()), (std::vector<std::uint64_t>{7, 0xfeedfacecafeULL}));
}

TEST(EnvelopeSchemaTest, HealthRequestRoundTrips) {
  fb::FlatBufferBuilder fbb;
  const auto request = sc::CreateHealthRequest(fbb, 987654321ULL);
  const auto *sut =
      round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::HealthRequest, request.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::Control::HealthRequest);
  ASSERT_NE(sut->body_as_HealthRequest(), nullptr);
  EXPECT_EQ(sut->body_as_HealthRequest()->sent_ns(), 987654321ULL);
}

TEST(EnvelopeSchemaTest, HealthReplyRoundTrips) {
  fb::FlatBufferBuilder fbb;
  const auto reply = sc::CreateHealthReply(fbb, 987654321ULL, 64ULL << 20, 12345);
  const auto *sut =
      round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::HealthReply, reply.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::Control::HealthReply);
  const sc::HealthReply *body = sut->body_as_HealthReply();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->sent_ns(), 987654321ULL);
  EXPECT_EQ(body->rss_bytes(), 64ULL << 20);
  EXPECT_EQ(body->requests_served(), 12345u);
}

TEST(EnvelopeSchemaTest, ConfigureRoundTripsSortedByKey) {
  fb::FlatBufferBuilder fbb;
  std::vector<fb::Offset<sc::KeyValue>> settings{
      sc::CreateKeyValueDirect(fbb, "wait", "blocking"),
      sc::CreateKeyValueDirect(fbb, "dpi", "300"),
      sc::CreateKeyValueDirect(fbb, "locale", "vi"),
  };
  const auto configure = sc::CreateConfigure(fbb, fbb.CreateVectorOfSortedTables(&settings));
  const auto *sut =
      round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::Configure, configure.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::Control::Configure);
  const sc::Configure *body = sut->body_as_Configure();
  ASSERT_NE(body, nullptr);
  ASSERT_NE(body->settings(), nullptr);
  ASSERT_EQ(body->settings()->size(), 3u);
  EXPECT_EQ(body->settings()->Get(0)->key()->string_view(), "dpi");
  EXPECT_EQ(body->settings()->Get(1)->key()->string_view(), "locale");
  EXPECT_EQ(body->settings()->Get(2)->key()->string_view(), "wait");
  const sc::KeyValue *dpi = body->settings()->LookupByKey("dpi");
  ASSERT_NE(dpi, nullptr);
  EXPECT_EQ(dpi->value()->string_view(), "300");
  ASSERT_NE(body->settings()->LookupByKey("wait"), nullptr);
  EXPECT_EQ(body->settings()->LookupByKey("wait")->value()->string_view(), "blocking");
  EXPECT_EQ(body->settings()->LookupByKey("missing"), nullptr);
}

TEST(EnvelopeSchemaTest, ShutdownRoundTrips) {
  fb::FlatBufferBuilder fbb;
  const auto shutdown = sc::CreateShutdown(fbb, fbb.CreateString("supervisor stopping"));
  const auto *sut =
      round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::Shutdown, shutdown.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::Control::Shutdown);
  ASSERT_NE(sut->body_as_Shutdown(), nullptr);
  ASSERT_NE(sut->body_as_Shutdown()->reason(), nullptr);
  EXPECT_EQ(sut->body_as_Shutdown()->reason()->string_view(), "supervisor stopping");
}

TEST(EnvelopeSchemaTest, ErrorRoundTripsWithAndWithoutRecord) {
  {
    fb::FlatBufferBuilder fbb;
    const auto error =
        sc::CreateErrorDirect(fbb, -22, "message failed verification", 0, 0, 0xfffffffffULL);
    const auto *sut = round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::Error, error.Union()));
    ASSERT_NE(sut, nullptr);
    ASSERT_EQ(sut->body_type(), sc::Control::Error);
    const sc::Error *body = sut->body_as_Error();
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body->code(), -22);
    EXPECT_EQ(body->message()->string_view(), "message failed verification");
    EXPECT_EQ(body->request_id(), 0u);
    // 0 is a real record type and sequence number: present, not defaulted away.
    ASSERT_TRUE(body->record_type().has_value());
    EXPECT_EQ(*body->record_type(), 0u);
    ASSERT_TRUE(body->record_seq().has_value());
    EXPECT_EQ(*body->record_seq(), 0xfffffffffULL);
  }
  {
    fb::FlatBufferBuilder fbb;
    const auto error = sc::CreateErrorDirect(fbb, 7, "page out of range", 99);
    const auto *sut = round_trip(fbb, sc::CreateEnvelope(fbb, sc::Control::Error, error.Union()));
    ASSERT_NE(sut, nullptr);
    const sc::Error *body = sut->body_as_Error();
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body->code(), 7);
    EXPECT_EQ(body->message()->string_view(), "page out of range");
    EXPECT_EQ(body->request_id(), 99u);
    EXPECT_FALSE(body->record_type().has_value());
    EXPECT_FALSE(body->record_seq().has_value());
  }
}

TEST(ExtractionSchemaTest, ExtractRequestRoundTrips) {
  fb::FlatBufferBuilder fbb;
  const sc::BBox box(10.5f, 20.25f, 300.0f, 400.75f);
  const auto request = sc::CreateExtractRequestDirect(fbb, "/srv/docs/boq.pdf", 12, &box, 300);
  const auto *sut = round_trip(
      fbb, sc::CreateExtraction(fbb, 41, sc::ExtractionBody::ExtractRequest, request.Union()));
  ASSERT_NE(sut, nullptr);
  EXPECT_EQ(sut->request_id(), 41u);
  ASSERT_EQ(sut->body_type(), sc::ExtractionBody::ExtractRequest);
  const sc::ExtractRequest *body = sut->body_as_ExtractRequest();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->path()->string_view(), "/srv/docs/boq.pdf");
  EXPECT_EQ(body->page(), 12u);
  expect_bbox(body->bbox(), box);
  EXPECT_EQ(body->dpi(), 300u);
}

TEST(ExtractionSchemaTest, ExtractRequestDefaultsToWholePageAt150Dpi) {
  fb::FlatBufferBuilder fbb;
  const auto path = fbb.CreateString("a.pdf");
  sc::ExtractRequestBuilder request(fbb); // neither bbox nor dpi set
  request.add_path(path);
  const auto offset = request.Finish();
  const auto *sut = round_trip(
      fbb, sc::CreateExtraction(fbb, 1, sc::ExtractionBody::ExtractRequest, offset.Union()));
  ASSERT_NE(sut, nullptr);
  const sc::ExtractRequest *body = sut->body_as_ExtractRequest();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->bbox(), nullptr);
  EXPECT_EQ(body->dpi(), 150u);
  EXPECT_EQ(body->page(), 0u);
}

TEST(ExtractionSchemaTest, PageTextRoundTrips) {
  fb::FlatBufferBuilder fbb;
  const auto text =
      sc::CreatePageTextDirect(fbb, 3, "BẢNG KHỐI LƯỢNG\n1  Đào đất", 595.28f, 841.89f);
  const auto *sut =
      round_trip(fbb, sc::CreateExtraction(fbb, 5, sc::ExtractionBody::PageText, text.Union()));
  ASSERT_NE(sut, nullptr);
  EXPECT_EQ(sut->request_id(), 5u);
  ASSERT_EQ(sut->body_type(), sc::ExtractionBody::PageText);
  const sc::PageText *body = sut->body_as_PageText();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->page(), 3u);
  EXPECT_EQ(body->text()->string_view(), "BẢNG KHỐI LƯỢNG\n1  Đào đất");
  EXPECT_EQ(body->width_pt(), 595.28f);
  EXPECT_EQ(body->height_pt(), 841.89f);
}

TEST(ExtractionSchemaTest, EvidenceRoundTripsWithPixelsRenderedInPlace) {
  constexpr std::uint32_t kWidth = 3, kHeight = 2, kStride = 12; // RGB24 rows padded to 4 bytes
  fb::FlatBufferBuilder fbb;
  std::uint8_t *pixels = nullptr;
  const auto pixels_offset = fbb.CreateUninitializedVector(kStride * kHeight, &pixels);
  for (std::uint32_t i = 0; i < kStride * kHeight; ++i)
    pixels[i] = static_cast<std::uint8_t>(i * 7 + 1); // "rendered" straight into the builder
  const sc::BBox box(72.0f, 144.0f, 216.0f, 160.0f);
  const auto evidence = sc::CreateEvidence(fbb, 4, 100001, &box, kWidth, kHeight, kStride,
                                           sc::PixelFormat::RGB24, 150, pixels_offset);
  const auto *sut =
      round_trip(fbb, sc::CreateExtraction(fbb, 6, sc::ExtractionBody::Evidence, evidence.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::ExtractionBody::Evidence);
  const sc::Evidence *body = sut->body_as_Evidence();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->page(), 4u);
  EXPECT_EQ(body->row(), 100001u);
  expect_bbox(body->bbox(), box);
  EXPECT_EQ(body->width(), kWidth);
  EXPECT_EQ(body->height(), kHeight);
  EXPECT_EQ(body->stride(), kStride);
  EXPECT_EQ(body->format(), sc::PixelFormat::RGB24);
  EXPECT_EQ(body->dpi(), 150u);
  ASSERT_NE(body->pixels(), nullptr);
  ASSERT_EQ(body->pixels()->size(), kStride * kHeight);
  for (fb::uoffset_t i = 0; i < kStride * kHeight; ++i)
    EXPECT_EQ(body->pixels()->Get(i), static_cast<std::uint8_t>(i * 7 + 1)) << i;
}

TEST(ExtractionSchemaTest, LedgerBatchRoundTripsColumns) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::uint32_t> page{0, 0, 1};
  const std::vector<std::string> stt{"1", "1.2", "II"};
  const std::vector<std::string> code{"AB.11111", "", "AF.22"};
  const std::vector<std::string> name{"Đào móng", "Bê tông lót", "Cốt thép"};
  const std::vector<std::string> unit{"m3", "m³", "tấn"};
  const std::vector<double> quantity{2000.0, 12.5, nan};
  const std::vector<double> unit_price{1234.5, 10.0, 99.0};
  const std::vector<double> amount{2469000.0, 126.0, nan};
  const std::vector<std::uint8_t> flags{0, 1, 0};
  const std::vector<sc::BBox> boxes{{50, 100, 550, 112}, {50, 112, 550, 124}, {50, 20, 550, 32}};

  fb::FlatBufferBuilder fbb;
  const auto page_col = column(fbb, page);
  const auto stt_col = string_column(fbb, stt);
  const auto code_col = string_column(fbb, code);
  const auto name_col = string_column(fbb, name);
  const auto unit_col = string_column(fbb, unit);
  const auto quantity_col = column(fbb, quantity);
  const auto unit_price_col = column(fbb, unit_price);
  const auto amount_col = column(fbb, amount);
  const auto flags_col = column(fbb, flags);
  sc::BBox *box_out = nullptr;
  const auto boxes_col = fbb.CreateUninitializedVectorOfStructs(boxes.size(), &box_out);
  std::memcpy(static_cast<void *>(box_out), boxes.data(), boxes.size() * sizeof(sc::BBox));
  const auto batch =
      sc::CreateLedgerBatch(fbb, 1ULL << 33, page_col, stt_col, code_col, name_col, unit_col,
                            quantity_col, unit_price_col, amount_col, flags_col, boxes_col);
  const auto *sut =
      round_trip(fbb, sc::CreateExtraction(fbb, 7, sc::ExtractionBody::LedgerBatch, batch.Union()));
  ASSERT_NE(sut, nullptr);
  EXPECT_EQ(sut->request_id(), 7u);
  ASSERT_EQ(sut->body_type(), sc::ExtractionBody::LedgerBatch);
  const sc::LedgerBatch *body = sut->body_as_LedgerBatch();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->first_row(), 1ULL << 33);
  EXPECT_EQ(to_vector(body->page()), page);
  const std::size_t n = page.size();
  for (const auto &[got, want] : {std::pair{body->stt(), &stt}, std::pair{body->code(), &code},
                                  std::pair{body->name(), &name}, std::pair{body->unit(), &unit}}) {
    const auto rows = read_column(got, n);
    ASSERT_TRUE(rows.has_value());
    ASSERT_EQ(rows->size(), n);
    for (std::size_t i = 0; i < n; ++i)
      EXPECT_EQ((*rows)[i], (*want)[i]) << i;
  }
  expect_same_doubles(body->quantity(), quantity);
  expect_same_doubles(body->unit_price(), unit_price);
  expect_same_doubles(body->amount(), amount);
  EXPECT_EQ(to_vector(body->flags()), flags);
  ASSERT_NE(body->row_bbox(), nullptr);
  ASSERT_EQ(body->row_bbox()->size(), n);
  for (fb::uoffset_t i = 0; i < n; ++i)
    expect_bbox(body->row_bbox()->Get(i), boxes[i]);
}

TEST(ClaimsSchemaTest, PatternSetRoundTripsBothWays) {
  {
    fb::FlatBufferBuilder fbb;
    const std::vector<std::uint8_t> database{0xde, 0xad, 0xbe, 0xef, 0, 1, 2};
    const auto set = sc::CreatePatternSet(fbb, 76205, column(fbb, database));
    const auto *sut =
        round_trip(fbb, sc::CreateClaims(fbb, sc::ClaimsBody::PatternSet, set.Union()));
    ASSERT_NE(sut, nullptr);
    ASSERT_EQ(sut->body_type(), sc::ClaimsBody::PatternSet);
    const sc::PatternSet *body = sut->body_as_PatternSet();
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body->pattern_count(), 76205u);
    EXPECT_EQ(to_vector(body->database()), database);
    EXPECT_EQ(body->database_path(), nullptr);
  }
  {
    fb::FlatBufferBuilder fbb;
    const auto set = sc::CreatePatternSetDirect(fbb, 12, nullptr, "/var/cache/claims.hsdb");
    const auto *sut =
        round_trip(fbb, sc::CreateClaims(fbb, sc::ClaimsBody::PatternSet, set.Union()));
    ASSERT_NE(sut, nullptr);
    const sc::PatternSet *body = sut->body_as_PatternSet();
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body->pattern_count(), 12u);
    EXPECT_EQ(body->database(), nullptr);
    EXPECT_EQ(body->database_path()->string_view(), "/var/cache/claims.hsdb");
  }
}

TEST(ClaimsSchemaTest, TextBatchRoundTrips) {
  const std::vector<std::uint64_t> doc_ids{10, 11, 1ULL << 40};
  const std::vector<std::string> docs{"the quick brown fox", "", std::string("nul\0inside", 10)};
  fb::FlatBufferBuilder fbb;
  const auto ids = column(fbb, doc_ids);
  const auto text = string_column(fbb, docs);
  const auto batch = sc::CreateTextBatch(fbb, 77, ids, text);
  const auto *sut =
      round_trip(fbb, sc::CreateClaims(fbb, sc::ClaimsBody::TextBatch, batch.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::ClaimsBody::TextBatch);
  const sc::TextBatch *body = sut->body_as_TextBatch();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->batch_id(), 77u);
  EXPECT_EQ(to_vector(body->doc_ids()), doc_ids);
  const auto rows = read_column(body->text(), doc_ids.size());
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i)
    EXPECT_EQ((*rows)[i], docs[i]) << i;
}

TEST(ClaimsSchemaTest, ClaimBatchRoundTrips) {
  const std::vector<std::uint64_t> doc_id{10, 10, 1ULL << 40};
  const std::vector<std::uint32_t> pattern_id{5, 76204, 0};
  const std::vector<std::uint32_t> offset{0, 4, 3};
  const std::vector<std::uint32_t> length{3, 5, 1};
  fb::FlatBufferBuilder fbb;
  const auto doc_col = column(fbb, doc_id);
  const auto pattern_col = column(fbb, pattern_id);
  const auto offset_col = column(fbb, offset);
  const auto length_col = column(fbb, length);
  const auto batch =
      sc::CreateClaimBatch(fbb, 77, doc_col, pattern_col, offset_col, length_col, 123456);
  const auto *sut =
      round_trip(fbb, sc::CreateClaims(fbb, sc::ClaimsBody::ClaimBatch, batch.Union()));
  ASSERT_NE(sut, nullptr);
  ASSERT_EQ(sut->body_type(), sc::ClaimsBody::ClaimBatch);
  const sc::ClaimBatch *body = sut->body_as_ClaimBatch();
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->batch_id(), 77u);
  EXPECT_EQ(to_vector(body->doc_id()), doc_id);
  EXPECT_EQ(to_vector(body->pattern_id()), pattern_id);
  EXPECT_EQ(to_vector(body->offset()), offset);
  EXPECT_EQ(to_vector(body->length()), length);
  EXPECT_EQ(body->scan_ns(), 123456u);
}

} // namespace
} // namespace shmpipe

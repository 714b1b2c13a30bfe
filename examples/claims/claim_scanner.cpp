// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// claim_scanner: the matching side of the claim-scanning pipeline. Started by claim_scan
// through a shmpipe::Supervisor. Serves, in order:
//   PatternSet -> loads the serialized Hyperscan database, answers PatternSetLoaded (or Error)
//   TextBatch  -> scans every document where it lies in the ring, answers ClaimBatch messages
//                 built in place: several when the matches do not fit one message, all but
//                 the last non-final. A TextBatch may be one piece of a long document
//                 (piece_offset, piece_length): only matches that start in the piece's own
//                 bytes are reported, at their offset in the document
// The core is trusted no more than the scanner is: every column of a TextBatch is checked
// before a document is sliced from it.
//
//   claim_scanner [--chunk-claims N]   (N: at most N claims per ClaimBatch; for tests)
#include <shmpipe/schemas/claims_shmpipe.h>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "hyperscan.hpp"
#include "protocol.hpp"

namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;

constexpr auto kSendLimit = 60s; // a core that reads nothing for this long is stuck

class Scanner {
public:
  Scanner(shmpipe::Worker &worker, std::size_t chunk_claims)
      : worker_(worker),
        chunk_(std::min(chunk_claims, claims::max_claims_per_message(worker.max_message()))) {}

  int run() {
    for (;;) {
      shmpipe::Incoming in = worker_.receive(std::chrono::hours(24));
      const std::uint64_t id = in.request_id();
      if (in.status() == shmpipe::Status::invalid_message) { // rejected, the stream goes on
        reply_error(id, claims::kBadRequest, "a record that is not a valid session message");
        continue;
      }
      if (!in) // closed: Shutdown (receive() handles it), or the core is gone
        return in.status() == shmpipe::Status::timeout ? 3 : 0;
      if (in.is<sc::Envelope>()) { // every request gets an answer, or its sender waits for one
        if (id != 0)
          reply_error(id, claims::kBadRequest, "expected a PatternSet or a TextBatch");
        continue;
      }
      const auto request = in.as<sc::Claims>();
      if (!request) {
        reply_error(id, claims::kBadRequest, "not a valid Claims message");
        continue;
      }
      if (const sc::PatternSet *set = request->body_as_PatternSet())
        load(id, *set);
      else if (const sc::TextBatch *batch = request->body_as_TextBatch())
        scan(id, *batch);
      else
        reply_error(id, claims::kBadRequest, "expected a PatternSet or a TextBatch");
    }
  }

private:
  void reply_error(std::uint64_t id, claims::ErrorCode code, const std::string &message) {
    if (worker_.error(id, code, message, kSendLimit) != shmpipe::Status::ok)
      std::exit(4); // the core is gone or stuck: nothing to serve
  }

  void check(shmpipe::Status status) {
    if (status != shmpipe::Status::ok)
      std::exit(4);
  }

  void load(std::uint64_t id, const sc::PatternSet &set) {
    db_.reset(); // a PatternSet replaces the dictionary, also when it fails
    crash_on_load_if_asked();
    const bool inline_db = set.database() != nullptr;
    const bool file_db = set.database_path() != nullptr;
    if (inline_db == file_db)
      return reply_error(id, claims::kBadRequest,
                         "a PatternSet needs exactly one of database and database_path");
    const std::size_t count = set.pattern_count();
    if (count == 0 || set.pattern_length() == nullptr || set.pattern_length()->size() != count)
      return reply_error(id, claims::kBadRequest,
                         "pattern_length must hold pattern_count (" + std::to_string(count) +
                             ", not 0) lengths");
    std::vector<std::uint32_t> lengths(set.pattern_length()->begin(), set.pattern_length()->end());
    for (std::size_t i = 0; i < count; ++i)
      if (lengths[i] == 0)
        return reply_error(id, claims::kBadRequest,
                           "pattern " + std::to_string(i) + " has length 0");
    std::string from_file;
    std::span<const std::byte> bytes;
    if (inline_db) {
      bytes = std::as_bytes(std::span(set.database()->data(), set.database()->size()));
    } else {
      std::ifstream in(set.database_path()->str(), std::ios::binary);
      from_file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof())
        return reply_error(id, claims::kBadDatabase,
                           "cannot read '" + set.database_path()->str() + "'");
      bytes = std::as_bytes(std::span(from_file));
    }
    try {
      db_ = std::make_unique<claims::LoadedDatabase>(bytes, std::move(lengths));
    } catch (const claims::Failure &e) {
      return reply_error(id, claims::kBadDatabase, e.what());
    }
    check(worker_.reply<sc::Claims>(
        id,
        [&](fb::FlatBufferBuilder &b) {
          const auto loaded = sc::CreatePatternSetLoaded(
              b, static_cast<std::uint32_t>(count), db_->database_bytes(), db_->scratch_bytes(),
              b.CreateString(db_->info()));
          return sc::CreateClaims(b, sc::ClaimsBody::PatternSetLoaded, loaded.Union());
        },
        kSendLimit, true, {.size_hint = 512}));
  }

  void scan(std::uint64_t id, const sc::TextBatch &batch) {
    if (!db_)
      return reply_error(id, claims::kNoDictionary, "a TextBatch before any PatternSet loaded");
    const auto *ids = batch.doc_ids();
    const std::size_t n = ids != nullptr ? ids->size() : 0;
    const std::optional<claims::Column> text = claims::Column::of(batch.text(), n);
    if (!text)
      return reply_error(id, claims::kBadRequest,
                         "TextBatch " + std::to_string(batch.batch_id()) +
                             ": text is not a column of doc_ids.length strings");
    // A piece (schemas/claims.fbs): one document, owning the first piece_length bytes of its
    // text, whose offsets must fit a claim's 32 bits.
    const bool is_piece = batch.piece_length() != 0;
    const claims::Piece piece =
        is_piece ? claims::Piece{batch.piece_offset(), batch.piece_length()} : claims::Piece{};
    constexpr std::uint64_t kOffsets = std::uint64_t{1} << 32;
    if (is_piece && (n != 1 || piece.offset > kOffsets - piece.owned))
      return reply_error(id, claims::kBadRequest,
                         "TextBatch " + std::to_string(batch.batch_id()) +
                             ": a piece must hold one document, at an offset that fits 32 bits");
    const auto start = std::chrono::steady_clock::now();
    claims_.clear();
    sent_ = 0;
    for (fb::uoffset_t i = 0; i < n; ++i) {
      const std::uint64_t doc = ids->Get(i);
      crash_if_asked(id, batch.batch_id(), doc, std::nullopt);
      const std::optional<std::string_view> bytes = text->at(i);
      if (!bytes)
        return reply_error(id, claims::kBadRequest,
                           "TextBatch " + std::to_string(batch.batch_id()) +
                               " changed while it was read");
      if (is_piece && piece.owned > bytes->size())
        return reply_error(id, claims::kBadRequest,
                           "TextBatch " + std::to_string(batch.batch_id()) + ": piece_length " +
                               std::to_string(piece.owned) + " is longer than its text (" +
                               std::to_string(bytes->size()) + " bytes)");
      if (!db_->scan(doc, *bytes, claims_, piece))
        return reply_error(id, claims::kScanFailed,
                           "Hyperscan failed on document " + std::to_string(doc) +
                               " (or reported a match the dictionary's lengths contradict)");
      forge_if_asked(doc);
      const std::uint64_t own = is_piece ? piece.owned : bytes->size();
      crash_if_asked(id, batch.batch_id(), doc, std::pair{piece.offset, piece.offset + own});
      while (claims_.size() - sent_ >= chunk_)
        send(id, batch.batch_id(), chunk_, 0, false);
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    send(id, batch.batch_id(), claims_.size() - sent_, static_cast<std::uint64_t>(ns), true);
  }

  /// Sends the next `count` unsent claims as one ClaimBatch, its columns filled in place.
  void send(std::uint64_t id, std::uint64_t batch_id, std::size_t count, std::uint64_t scan_ns,
            bool final) {
    const claims::Claim *from = claims_.data() + sent_;
    check(worker_.reply<sc::Claims>(
        id,
        [&](fb::FlatBufferBuilder &b) {
          // Each vector is filled right after it is created: the next creation may move the
          // builder's buffer.
          std::uint64_t *doc = nullptr;
          const auto doc_col = b.CreateUninitializedVector(count, &doc);
          for (std::size_t i = 0; i < count; ++i)
            doc[i] = from[i].doc_id;
          const auto column = [&](std::uint32_t claims::Claim::*field) {
            std::uint32_t *out = nullptr;
            const auto v = b.CreateUninitializedVector(count, &out);
            for (std::size_t i = 0; i < count; ++i)
              out[i] = from[i].*field;
            return v;
          };
          const auto pattern_col = column(&claims::Claim::pattern_id);
          const auto offset_col = column(&claims::Claim::offset);
          const auto length_col = column(&claims::Claim::length);
          const auto claim_batch = sc::CreateClaimBatch(b, batch_id, doc_col, pattern_col,
                                                        offset_col, length_col, scan_ns);
          return sc::CreateClaims(b, sc::ClaimsBody::ClaimBatch, claim_batch.Union());
        },
        kSendLimit, final, {.size_hint = claims::claim_batch_bytes(count)}));
    sent_ += count;
    if (sent_ == claims_.size()) {
      claims_.clear();
      sent_ = 0;
    }
  }

  /// Test hook for the fault tests: SHMPIPE_CLAIMS_CRASH=DOC[@BYTE][:MARKER] kills this
  /// scanner (SIGKILL) after it has sent the claims it holds as a non-final ClaimBatch (so that
  /// the core has part of the batch when the scanner dies): without @BYTE when it reaches
  /// document DOC; with @BYTE when it has scanned the text of DOC that holds byte BYTE (the
  /// piece of a long document that owns it, or the whole document). With MARKER, only while
  /// that file does not exist yet (it is created first), i.e. once. `scanned` is the document
  /// range [begin, end) just scanned, nullopt before a document is scanned.
  void crash_if_asked(std::uint64_t id, std::uint64_t batch_id, std::uint64_t doc,
                      std::optional<std::pair<std::uint64_t, std::uint64_t>> scanned) {
    struct Spec {
      std::uint64_t doc = 0;
      std::optional<std::uint64_t> byte;
      std::string marker;
    };
    static const std::optional<Spec> spec = []() -> std::optional<Spec> {
      const char *text = std::getenv("SHMPIPE_CLAIMS_CRASH");
      if (text == nullptr)
        return std::nullopt;
      const char *end = text + std::strlen(text);
      Spec s;
      auto [at, ec] = std::from_chars(text, end, s.doc);
      if (ec != std::errc())
        return std::nullopt;
      if (*at == '@') {
        std::uint64_t byte = 0;
        const auto parsed = std::from_chars(at + 1, end, byte);
        if (parsed.ec != std::errc())
          return std::nullopt;
        s.byte = byte;
        at = parsed.ptr;
      }
      if (*at == ':')
        s.marker = at + 1;
      return s;
    }();
    if (!spec || spec->doc != doc || spec->byte.has_value() != scanned.has_value())
      return;
    if (scanned && (*spec->byte < scanned->first || *spec->byte >= scanned->second))
      return;
    if (!spec->marker.empty()) {
      const int fd = ::open(spec->marker.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0)
        return; // crashed here once already
      ::close(fd);
    }
    if (claims_.size() > sent_)
      send(id, batch_id, claims_.size() - sent_, 0, false);
    std::raise(SIGKILL);
  }

  /// Test hook: SHMPIPE_CLAIMS_CRASH_ON_LOAD=MARKER kills this scanner when a PatternSet
  /// comes, while MARKER does not exist yet (it is created first): once.
  static void crash_on_load_if_asked() {
    const char *marker = std::getenv("SHMPIPE_CLAIMS_CRASH_ON_LOAD");
    if (marker == nullptr)
      return;
    const int fd = ::open(marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
      return;
    ::close(fd);
    std::raise(SIGKILL);
  }

  /// Test hook: SHMPIPE_CLAIMS_FORGE=DOC makes this scanner claim, in document DOC, the first
  /// pattern one byte after where it really is (or at byte 0 when nothing matched): a lying
  /// scanner, which the core must catch.
  void forge_if_asked(std::uint64_t doc) {
    static const char *spec = std::getenv("SHMPIPE_CLAIMS_FORGE");
    std::uint64_t target = 0;
    if (spec == nullptr ||
        std::from_chars(spec, spec + std::strlen(spec), target).ec != std::errc() || target != doc)
      return;
    if (!claims_.empty() && claims_.back().doc_id == doc)
      ++claims_.back().offset;
    else
      claims_.push_back({doc, 0, db_->lengths()[0], 0});
  }

  shmpipe::Worker &worker_;
  std::size_t chunk_;
  std::unique_ptr<claims::LoadedDatabase> db_;
  std::vector<claims::Claim> claims_; // of the batch being scanned
  std::size_t sent_ = 0;              // claims_[0, sent_) went out already
};

} // namespace

int main(int argc, char **argv) {
  std::size_t chunk = SIZE_MAX;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : nullptr;
    std::size_t n = 0;
    if (flag == "--chunk-claims" && value != nullptr &&
        std::from_chars(value, value + std::strlen(value), n).ec == std::errc() && n > 0) {
      chunk = n;
      ++i;
      continue;
    }
    std::fprintf(stderr, "usage: %s [--chunk-claims N] (started by claim_scan, which sets %s)\n",
                 argv[0], shmpipe::kSessionEnv);
    return 2;
  }
  try {
    shmpipe::Worker worker =
        shmpipe::attach_supervised({.capabilities = {"claims"}, .worker_name = "claim_scanner"});
    return Scanner(worker, chunk).run();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "claim_scanner: %s\n", e.what());
    return 2;
  }
}

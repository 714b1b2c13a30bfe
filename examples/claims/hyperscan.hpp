// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Hyperscan for the claim-scanning example: compile a literal dictionary, ship it as bytes,
// load it in another process, and the per-document scan loop that the scanner and the
// in-process benchmark baseline share (so that the benchmark compares the same loop).
//
// Facts this relies on (checked on Debian's Hyperscan 5.4.0):
// - hs_compile_lit_multi segfaults on an empty literal: callers reject them first.
// - Without HS_FLAG_SOM_LEFTMOST a match reports only its end (`from` is 0); for literals the
//   start is end - length, so lengths travel with the database instead of paying for SOM.
// - Matches come in no guaranteed order: each document's matches are sorted here.
// - A deserialized database holds pointers: every process deserializes its own copy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <hs/hs.h>

namespace claims {

/// A setup failure with a message for the user (bad dictionary, incompatible database, ...).
class Failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Hyperscan refused one pattern of a dictionary.
class RefusedPattern : public Failure {
public:
  RefusedPattern(std::size_t index, const std::string &why)
      : Failure("Hyperscan refused pattern " + std::to_string(index) + ": " + why), index_(index),
        why_(why) {}
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  [[nodiscard]] const std::string &why() const noexcept { return why_; }

private:
  std::size_t index_;
  std::string why_;
};

/// Where a scanned text lies in its document, for a piece of a document longer than a batch
/// (TextBatch.piece_offset and piece_length): at `offset`, owning the matches that start in
/// its first `owned` bytes. The default is a whole document.
struct Piece {
  std::uint64_t offset = 0;
  std::uint64_t owned = UINT64_MAX;
};

/// One occurrence, in the canonical order: members compare as (doc, offset, length, pattern).
struct Claim {
  std::uint64_t doc_id;
  std::uint32_t offset;
  std::uint32_t length;
  std::uint32_t pattern_id;
  friend auto operator<=>(const Claim &, const Claim &) = default;
};

struct DatabaseDeleter {
  void operator()(hs_database_t *db) const noexcept { hs_free_database(db); }
};
struct ScratchDeleter {
  void operator()(hs_scratch_t *s) const noexcept { hs_free_scratch(s); }
};
using Database = std::unique_ptr<hs_database_t, DatabaseDeleter>;
using Scratch = std::unique_ptr<hs_scratch_t, ScratchDeleter>;

/// Compiles `patterns` (non-empty byte strings; id = index) into a block-mode literal database
/// and serializes it. Throws RefusedPattern for a pattern Hyperscan refuses (e.g. one longer
/// than its literal limit), Failure for anything else.
inline std::string compile_serialized(std::span<const std::string_view> patterns) {
  if (patterns.empty())
    throw Failure("the dictionary is empty");
  if (patterns.size() > UINT32_MAX)
    throw Failure("more than 2^32 - 1 patterns");
  std::vector<const char *> expressions;
  std::vector<std::size_t> lengths;
  std::vector<unsigned> ids;
  expressions.reserve(patterns.size());
  lengths.reserve(patterns.size());
  ids.reserve(patterns.size());
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (patterns[i].empty()) // Hyperscan 5.4.0 crashes on these
      throw Failure("pattern " + std::to_string(i) + " is empty");
    expressions.push_back(patterns[i].data());
    lengths.push_back(patterns[i].size());
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t *raw = nullptr;
  hs_compile_error_t *error = nullptr;
  if (hs_compile_lit_multi(expressions.data(), nullptr, ids.data(), lengths.data(),
                           static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, &raw,
                           &error) != HS_SUCCESS) {
    std::string why = error != nullptr && error->message != nullptr ? error->message : "unknown";
    const int which = error != nullptr ? error->expression : -1;
    hs_free_compile_error(error);
    if (which >= 0)
      throw RefusedPattern(static_cast<std::size_t>(which), why);
    throw Failure("Hyperscan refused the dictionary: " + why);
  }
  const Database db(raw);
  char *bytes = nullptr;
  std::size_t size = 0;
  if (hs_serialize_database(db.get(), &bytes, &size) != HS_SUCCESS)
    throw Failure("hs_serialize_database failed");
  std::string serialized(bytes, size);
  std::free(bytes); // NOLINT: allocated by Hyperscan's default allocator (malloc)
  return serialized;
}

/// A database loaded from serialized bytes, with its scratch space and pattern lengths: what
/// one scanning thread needs. Throws Failure when the bytes are not a database this Hyperscan
/// can load (another version, another platform, damaged).
class LoadedDatabase {
public:
  LoadedDatabase(std::span<const std::byte> serialized, std::vector<std::uint32_t> lengths)
      : lengths_(std::move(lengths)) {
    const auto *bytes = reinterpret_cast<const char *>(serialized.data());
    char *info = nullptr;
    if (hs_serialized_database_info(bytes, serialized.size(), &info) != HS_SUCCESS)
      throw Failure("not a serialized Hyperscan database (or a damaged one)");
    info_ = info;
    std::free(info); // NOLINT: Hyperscan's default allocator
    hs_database_t *raw = nullptr;
    if (const hs_error_t e = hs_deserialize_database(bytes, serialized.size(), &raw);
        e != HS_SUCCESS)
      throw Failure("cannot load the database (" + info_ + "): Hyperscan error " +
                    std::to_string(e) +
                    (e == HS_DB_VERSION_ERROR    ? " (another Hyperscan version)"
                     : e == HS_DB_PLATFORM_ERROR ? " (built for another CPU)"
                                                 : ""));
    db_.reset(raw);
    hs_scratch_t *scratch = nullptr;
    if (hs_alloc_scratch(db_.get(), &scratch) != HS_SUCCESS)
      throw Failure("hs_alloc_scratch failed");
    scratch_.reset(scratch);
    if (hs_database_size(db_.get(), &database_bytes_) != HS_SUCCESS ||
        hs_scratch_size(scratch_.get(), &scratch_bytes_) != HS_SUCCESS)
      throw Failure("hs_database_size or hs_scratch_size failed");
  }

  [[nodiscard]] std::size_t pattern_count() const noexcept { return lengths_.size(); }
  [[nodiscard]] std::span<const std::uint32_t> lengths() const noexcept { return lengths_; }
  [[nodiscard]] const std::string &info() const noexcept { return info_; }
  [[nodiscard]] std::size_t database_bytes() const noexcept { return database_bytes_; }
  [[nodiscard]] std::size_t scratch_bytes() const noexcept { return scratch_bytes_; }

  /// Appends every occurrence in `doc` to `out` as (doc_id, offset, length, pattern), sorted.
  /// With `piece` (`doc` is then a piece of a longer document: TextBatch.piece_*), only the
  /// matches that start in the piece's first `piece.owned` bytes count, at document offset
  /// `piece.offset` + their start in `doc`.
  /// false when Hyperscan fails or reports a match that contradicts the dictionary (an id out
  /// of range, or a match that would start before the document), or when a counted match's
  /// offset would not fit 32 bits: the database does not belong to these lengths, or the
  /// piece is not one; what was appended for this document is removed again.
  bool scan(std::uint64_t doc_id, std::string_view doc, std::vector<Claim> &out,
            Piece piece = {}) const {
    if (doc.empty()) // patterns are never empty (and hs_scan refuses a null pointer)
      return true;
    const std::uint64_t owned = std::min<std::uint64_t>(piece.owned, doc.size());
    constexpr std::uint64_t kOffsets = std::uint64_t{1} << 32; // a claim's offset is 32-bit
    if (piece.offset > kOffsets || owned > kOffsets - piece.offset)
      return false;
    const std::size_t first = out.size();
    Context context{this, doc_id, &out, piece.offset, owned, true};
    const hs_error_t e = hs_scan(db_.get(), doc.data(), static_cast<unsigned>(doc.size()), 0,
                                 scratch_.get(), &LoadedDatabase::on_match, &context);
    if (e != HS_SUCCESS || !context.consistent) {
      out.resize(first);
      return false;
    }
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
    return true;
  }

private:
  struct Context {
    const LoadedDatabase *self;
    std::uint64_t doc_id;
    std::vector<Claim> *out;
    std::uint64_t base;  // Piece::offset
    std::uint64_t owned; // matches starting at or after this are the next piece's
    bool consistent;
  };

  static int on_match(unsigned id, unsigned long long /*from: 0 without SOM*/,
                      unsigned long long to, unsigned /*flags*/, void *opaque) {
    auto &c = *static_cast<Context *>(opaque);
    const std::span<const std::uint32_t> lengths = c.self->lengths_;
    if (id >= lengths.size() || to < lengths[id]) {
      c.consistent = false;
      return 1; // stops the scan
    }
    const std::uint64_t start = to - lengths[id];
    if (start >= c.owned)
      return 0; // look-ahead: the next piece owns it
    // scan() checked base + owned <= 2^32.
    c.out->push_back({c.doc_id, static_cast<std::uint32_t>(c.base + start), lengths[id], id});
    return 0;
  }

  std::vector<std::uint32_t> lengths_;
  Database db_;
  Scratch scratch_;
  std::string info_;
  std::size_t database_bytes_ = 0;
  std::size_t scratch_bytes_ = 0;
};

} // namespace claims

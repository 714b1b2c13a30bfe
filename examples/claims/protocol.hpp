// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// What claim_scan and claim_scanner agree on beyond schemas/claims.fbs: error codes, message
// sizes, and the check of a StringColumn received from the (untrusted) peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <shmpipe/schemas/claims_shmpipe.h>

namespace claims {

/// Envelope Error codes a scanner answers with.
enum ErrorCode : std::int32_t {
  kBadRequest = 20,   ///< not a message a scanner serves, or one whose columns contradict
  kBadDatabase = 21,  ///< the PatternSet's database cannot be loaded here
  kNoDictionary = 22, ///< a TextBatch before any PatternSet was loaded
  kScanFailed = 23,   ///< Hyperscan failed, or its matches contradict the pattern lengths
};

/// Ring bytes a ClaimBatch of `claims` claims needs: four columns (8 + 3 x 4 bytes a claim)
/// plus the tables, vector headers and alignment around them.
[[nodiscard]] constexpr std::size_t claim_batch_bytes(std::size_t claims) noexcept {
  return 512 + claims * 20;
}

/// The most claims one ClaimBatch may carry in a ring whose messages are at most
/// `max_message` bytes.
[[nodiscard]] constexpr std::size_t max_claims_per_message(std::size_t max_message) noexcept {
  return max_message > claim_batch_bytes(1) ? (max_message - 512) / 20 : 1;
}

/// What a document adds to a TextBatch besides its text: its id (8) and its offset (4).
inline constexpr std::size_t kTextBatchBytesPerDocument = 12;

/// Ring bytes a TextBatch of `docs` documents and `bytes` text bytes needs.
[[nodiscard]] constexpr std::size_t text_batch_bytes(std::size_t docs, std::size_t bytes) noexcept {
  return 512 + docs * kTextBatchBytesPerDocument + bytes;
}

/// A StringColumn of n strings whose invariants (schemas/common.fbs) hold: only then may
/// strings be sliced from it.
class Column {
public:
  [[nodiscard]] static std::optional<Column> of(const shmpipe::schema::StringColumn *column,
                                                std::size_t n) noexcept {
    const auto *offsets = column != nullptr ? column->offsets() : nullptr;
    const auto *bytes = column != nullptr ? column->bytes() : nullptr;
    const std::size_t size = bytes != nullptr ? bytes->size() : 0;
    if (n == 0) // absent, empty or [0], and no bytes
      return (offsets == nullptr || offsets->size() == 0 ||
              (offsets->size() == 1 && offsets->Get(0) == 0)) &&
                     size == 0
                 ? std::optional<Column>(Column(nullptr, nullptr, 0))
                 : std::nullopt;
    if (offsets == nullptr || offsets->size() != n + 1 || offsets->Get(0) != 0 ||
        offsets->Get(static_cast<flatbuffers::uoffset_t>(n)) != size)
      return std::nullopt;
    for (flatbuffers::uoffset_t i = 0; i < n; ++i)
      if (offsets->Get(i) > offsets->Get(i + 1))
        return std::nullopt;
    return Column(offsets, bytes, size);
  }

  /// String i (i < n), or nullopt when the column no longer holds what of() checked: a peer
  /// that shares the memory could rewrite an offset in between, so each is read once and
  /// bounded again.
  [[nodiscard]] std::optional<std::string_view> at(flatbuffers::uoffset_t i) const noexcept {
    if (offsets_ == nullptr)
      return std::string_view();
    const std::uint32_t begin = offsets_->Get(i);
    const std::uint32_t end = offsets_->Get(i + 1);
    if (begin > end || end > size_)
      return std::nullopt;
    if (begin == end) // n empty strings may come without a bytes vector
      return std::string_view();
    return std::string_view(reinterpret_cast<const char *>(bytes_->data()) + begin, end - begin);
  }

private:
  Column(const flatbuffers::Vector<std::uint32_t> *offsets,
         const flatbuffers::Vector<std::uint8_t> *bytes, std::size_t size) noexcept
      : offsets_(offsets), bytes_(bytes), size_(size) {}

  const flatbuffers::Vector<std::uint32_t> *offsets_;
  const flatbuffers::Vector<std::uint8_t> *bytes_;
  std::size_t size_; // bytes_->size() when of() checked it
};

} // namespace claims

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Validation of one record header read from the (untrusted) data region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/shared_atomic.hpp>

namespace shmpipe::detail {

/// A record header copied out of shared memory, and the ring index just past its record.
struct ParsedRecord {
  RecordHeader header;
  std::uint64_t end;
};

/// Copies the header of the record at ring index `at` out of shared memory (once: only the
/// copy is used) and checks it against everything but its sequence number: it must lie wholly
/// before `limit` (a validated write index), have no unknown flag bits (and padding never the
/// restart flag), and not run past the end of the data region. `at` and the capacity are
/// multiples of 16, so a header never straddles the end of the region.
[[nodiscard]] inline bool parse_record(const std::byte *data, std::uint64_t capacity,
                                       std::uint64_t at, std::uint64_t limit,
                                       ParsedRecord &out) noexcept {
  const std::uint64_t available = limit - at;
  const std::uint64_t offset = at & (capacity - 1);
  const std::uint64_t room = capacity - offset;
  if (available < sizeof(RecordHeader) || available > capacity)
    return false;
  std::uint64_t words[2];
  copy_from_shared(words, data + offset, 2);
  std::memcpy(&out.header, words, sizeof(RecordHeader));
  const RecordHeader &h = out.header;
  const std::uint64_t size = record_size(h.length);
  if ((h.flags & ~(kRecordPadding | kRecordRestart)) != 0 || size > room || size > available)
    return false;
  if ((h.flags & kRecordPadding) != 0 && (h.flags & kRecordRestart) != 0)
    return false;
  out.end = at + size;
  return true;
}

} // namespace shmpipe::detail

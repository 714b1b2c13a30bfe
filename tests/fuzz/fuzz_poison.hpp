// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// For the fuzz targets: make AddressSanitizer fault on any touch of a segment outside the
// part under test.
#pragma once

#include <cstddef>

#include <sanitizer/asan_interface.h>
#include <unistd.h>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/segment.hpp>

namespace shmpipe::fuzz {

/// Poisons the segment's header and everything from `end` to the end of its last page: only
/// what lies between the two (one ring's or one lane's bytes) may be touched.
inline void poison_outside(Segment &segment, std::byte *end) {
  std::byte *base = segment.base();
  ASAN_POISON_MEMORY_REGION(base, sizeof(detail::SegmentHeader));
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t mapped = (segment.size_bytes() + page - 1) / page * page;
  ASAN_POISON_MEMORY_REGION(end, static_cast<std::size_t>(base + mapped - end));
}

} // namespace shmpipe::fuzz

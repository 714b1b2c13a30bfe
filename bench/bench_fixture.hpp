// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// A ring with both ends in this thread, for the in-process microbenchmarks.
#pragma once

#include <shmpipe/ring.hpp>

#include <cstdint>
#include <string>

#include <unistd.h>

namespace shmpipe::bench {

struct Fixture {
  explicit Fixture(std::uint64_t capacity)
      : guard("shmpipe-bench-" + std::to_string(::getpid())),
        segment(Segment::create(guard.name(), {.ring_capacity = capacity})), writer(segment),
        reader(segment) {}
  ScopedRemove guard;
  Segment segment;
  RingWriter writer;
  RingReader reader;
};

} // namespace shmpipe::bench

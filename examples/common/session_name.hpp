// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Sessions the example programs create get names nobody can take first: a fixed prefix (the
// program and its pid, for a reader of `shmpipe ls`) and 16 random hex digits.
#pragma once

#include <shmpipe/segment.hpp>
#include <shmpipe/supervisor.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace examples {

/// A Supervisor on a session named `prefix` + 16 random hex digits
/// (shmpipe::unique_segment_name); a name that exists already (someone created it first) is
/// tried again with new digits, a few times. Throws what the Supervisor's constructor throws.
[[nodiscard]] inline std::unique_ptr<shmpipe::Supervisor>
start_supervisor(std::string_view prefix, const shmpipe::SupervisorOptions &options) {
  for (int attempt = 1;; ++attempt) {
    try {
      return std::make_unique<shmpipe::Supervisor>(shmpipe::unique_segment_name(prefix), options);
    } catch (const shmpipe::Error &e) {
      // 64 random bits do not collide by chance: 8 collisions in a row are not bad luck.
      if (e.code() != shmpipe::Errc::segment_exists || attempt == 8)
        throw;
    }
  }
}

} // namespace examples

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The library version (the only place it is written) and the shared-memory layout version.
#pragma once

#include <cstdint>

#define SHMPIPE_VERSION_MAJOR 0
#define SHMPIPE_VERSION_MINOR 1
#define SHMPIPE_VERSION_PATCH 0
#define SHMPIPE_VERSION "0.1.0"

namespace shmpipe {

/// Version of the byte layout in docs/LAYOUT.md. It is written into every segment header and
/// checked on open: two processes built against different layouts refuse to talk, whatever
/// their library versions are. Any change to detail/layout.hpp bumps it.
inline constexpr std::uint32_t kLayoutVersion = 4;

} // namespace shmpipe

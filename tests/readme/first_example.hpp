// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// What README.md's first example uses and leaves to the reader: a record type and what is done
// with it. Declarations only: the snippets are compiled, not linked.
#pragma once

#include <cstdint>

#include <shmpipe/shmpipe.hpp>

struct Order {
  std::uint64_t id;
  std::uint32_t quantity;
};
inline constexpr std::uint16_t kOrderType = 1;
void handle(const Order &order, std::uint16_t type, std::uint64_t seq);

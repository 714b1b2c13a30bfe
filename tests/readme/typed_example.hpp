// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// What README.md's typed-message example takes from the text around it: the endpoints of the
// first example, the items of the order, and what is done with the result. Declarations only:
// the snippets are compiled, not linked.
#pragma once

#include <cstdint>
#include <vector>

#include <shmpipe/shmpipe.hpp>

using namespace std::chrono_literals; // as in the first example

extern shmpipe::Producer tx;
extern shmpipe::Consumer rx;
extern const std::vector<std::uint32_t> items;
void use(const flatbuffers::String *customer, std::int32_t quantity);
void report(shmpipe::Status status);

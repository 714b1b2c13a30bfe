// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The SPSC byte ring: RingWriter (producer end) and RingReader (consumer end).
#pragma once

#include <shmpipe/ring_reader.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/ring_writer.hpp>

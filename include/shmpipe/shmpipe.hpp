// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Umbrella header: every public header (tests/unit/shmpipe_hpp_test.cmake checks that none is
// missing).
#pragma once

#include <shmpipe/channel.hpp>
#include <shmpipe/config.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/fixed_ring.hpp>
#include <shmpipe/fwd.hpp>
#include <shmpipe/inspect.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/message_traits.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/ring_reader.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/ring_writer.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/session.hpp>
#include <shmpipe/supervisor.hpp>
#include <shmpipe/version.hpp>
#include <shmpipe/wait.hpp>

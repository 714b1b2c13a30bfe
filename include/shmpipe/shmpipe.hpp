// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Umbrella header: everything public.
#pragma once

#include <shmpipe/channel.hpp>
#include <shmpipe/config.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/fixed_ring.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/message_traits.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/segment.hpp>
#include <shmpipe/version.hpp>
#include <shmpipe/wait.hpp>

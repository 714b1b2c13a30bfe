// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The prelude of a README.md C++ block that names none (see CMakeLists.txt): nothing but the
// library, so such a block must declare everything else it uses.
#pragma once

#include <shmpipe/shmpipe.hpp>

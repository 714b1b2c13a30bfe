// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peers whose library was not found at build time: still in the report, as skipped.
#include "harness.hpp"

namespace {

[[maybe_unused]] bench::Sample never(std::size_t, std::uint64_t) {
  throw std::runtime_error("not built");
}

#ifdef SHMPIPE_BENCH_NO_ZMQ
bench::Register zmq_missing{bench::Peer{
    .name = "zeromq_ipc",
    .unavailable =
        [] {
          return std::optional<std::string>("libzmq not found at build time "
                                            "(apt-get install libzmq3-dev)");
        },
    .throughput = never,
    .rtt_blocking = never,
    .order = 60,
}};
#endif

#ifdef SHMPIPE_BENCH_NO_ICEORYX
bench::Register iceoryx_missing{bench::Peer{
    .name = "iceoryx",
    .unavailable =
        [] {
          return std::optional<std::string>("iceoryx_posh not found at build time "
                                            "(apt-get install libiceoryx-posh-dev "
                                            "iceoryx)");
        },
    .throughput = never,
    .rtt_spin = never,
    .order = 20,
}};
#endif

} // namespace

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peers whose library was not found at build time: still in the report, as skipped.
#include "harness.hpp"

namespace {

/// A peer that reports `why` in every scenario it would have run.
[[maybe_unused]] bench::Peer missing(std::string name, std::string why,
                                     std::initializer_list<const char *> scenarios, int order) {
  bench::Peer peer;
  peer.name = std::move(name);
  peer.unavailable = [why] { return std::optional<std::string>(why); };
  for (const char *scenario : scenarios)
    peer.scenarios[scenario] = {
        .run = [](const bench::Load &) -> bench::Sample { throw std::runtime_error("not built"); }};
  peer.order = order;
  return peer;
}

#ifdef SHMPIPE_BENCH_NO_ZMQ
const bench::Register zmq_missing{
    missing("zeromq_ipc", "libzmq not found at build time (apt-get install libzmq3-dev)",
            {bench::scenario::kSingle, bench::scenario::kRttSleep}, 60)};
#endif

#ifdef SHMPIPE_BENCH_NO_ICEORYX
const bench::Register iceoryx_missing{missing(
    "iceoryx", "iceoryx_posh not found at build time (apt-get install libiceoryx-posh-dev iceoryx)",
    {bench::scenario::kSingle, bench::scenario::kStreaming, bench::scenario::kRttSpin}, 20)};
#endif

} // namespace

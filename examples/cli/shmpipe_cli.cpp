// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// `shmpipe`: list shmpipe segments and remove the ones nobody alive uses any more.
//
//   shmpipe ls               every segment: size, rings and lanes, fill, counters, who is
//                            attached and whether that process is alive
//   shmpipe rm NAME...       removes the names (processes that have them mapped keep them)
//   shmpipe rm --stale       removes every segment whose creator and endpoints are all dead
#include <shmpipe/inspect.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

std::string bytes(std::uint64_t n) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string endpoint(const char *role, const shmpipe::EndpointInfo &e) {
  if (e.pid == 0)
    return std::string(role) + (e.closed ? " detached" : " none");
  return std::string(role) + " " + std::to_string(e.pid) + (e.alive ? " alive" : " DEAD");
}

void print_side(const char *what, const shmpipe::SideStats &s) {
  std::printf("      %s: %llu records, %s, %llu stalls, %llu sleeps, %llu wakeups\n", what,
              static_cast<unsigned long long>(s.records), bytes(s.bytes).c_str(),
              static_cast<unsigned long long>(s.stalls), static_cast<unsigned long long>(s.sleeps),
              static_cast<unsigned long long>(s.wakeups));
}

int list() {
  const auto segments = shmpipe::list_segments();
  if (segments.empty())
    std::printf("no shmpipe segments in /dev/shm\n");
  for (const shmpipe::SegmentInfo &s : segments) {
    if (!s.error.empty()) {
      std::printf("%s: unreadable: %s\n", s.name.c_str(), s.error.c_str());
      continue;
    }
    std::printf("%s: %s, %zu ring(s), %zu lane(s), creator %d %s%s\n", s.name.c_str(),
                bytes(s.size).c_str(), s.rings.size(), s.lanes.size(), s.creator_pid,
                s.creator_alive ? "alive" : "DEAD", s.stale() ? "  [stale]" : "");
    for (std::size_t i = 0; i < s.rings.size(); ++i) {
      const shmpipe::RingInfo &r = s.rings[i];
      std::printf("  ring %zu: %s, %.1f%% full, %s, %s\n", i, bytes(r.capacity).c_str(),
                  100.0 * r.fill(), endpoint("producer", r.producer).c_str(),
                  endpoint("consumer", r.consumer).c_str());
      print_side("sent", r.stats.producer);
      print_side("read", r.stats.consumer);
    }
    for (std::size_t i = 0; i < s.lanes.size(); ++i) {
      const shmpipe::LaneInfo &l = s.lanes[i];
      std::printf("  lane %zu: %s, %s, %s\n", i, bytes(l.bytes).c_str(),
                  endpoint("producer", l.producer).c_str(),
                  endpoint("consumer", l.consumer).c_str());
    }
  }
  return 0;
}

int usage() {
  std::fprintf(stderr, "usage: shmpipe ls\n       shmpipe rm NAME...\n       shmpipe rm --stale\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  const std::string_view command = argv[1];
  try {
    if (command == "ls" && argc == 2)
      return list();
    if (command == "rm" && argc == 3 && std::string_view(argv[2]) == "--stale") {
      for (const std::string &name : shmpipe::remove_stale_segments())
        std::printf("removed %s\n", name.c_str());
      return 0;
    }
    if (command == "rm" && argc >= 3) {
      int status = 0;
      for (int i = 2; i < argc; ++i) {
        if (!shmpipe::detail::has_segment_magic(argv[i])) {
          std::fprintf(stderr, "shmpipe: %s: not a shmpipe segment (left alone)\n", argv[i]);
          status = 1;
        } else if (!shmpipe::Segment::remove(argv[i])) {
          std::fprintf(stderr, "shmpipe: %s: could not remove it\n", argv[i]);
          status = 1;
        } else {
          std::printf("removed %s\n", argv[i]);
        }
      }
      return status;
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "shmpipe: %s\n", e.what());
    return 1;
  }
  return usage();
}

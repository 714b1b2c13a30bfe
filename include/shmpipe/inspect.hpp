// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Inspecting segments from outside: which exist, who is attached and alive, how full the rings
// are; and removing the ones every attached process has left for dead (kill -9 leaves them).
#pragma once

// Design: a segment is found by its magic (the first 8 bytes of an object in /dev/shm), then
// opened like any peer would and read without taking a role: every value shown is a snapshot
// of shared memory that its writers may change meanwhile. A segment is *stale* when its creator
// has died and no ring or lane has a live producer or consumer; liveness is judged by pid and
// process start time, so a reused pid does not keep a dead segment alive.
//
// Removing a stale segment only unlinks its name: a process that still has it mapped (it
// cannot be a live endpoint, or the segment would not be stale) keeps its mapping. A process
// that opens the name between the check and the unlink gets a segment nobody serves: tools
// should not remove segments while new endpoints are starting under the same name.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/ring_stats.hpp>
#include <shmpipe/segment.hpp>

namespace shmpipe {

/// One side of a ring or lane.
struct EndpointInfo {
  pid_t pid = 0;       ///< 0: nobody holds the role
  bool alive = false;  ///< the holder's process (pid and start time) is running
  bool closed = false; ///< the side detached cleanly (its `closed` flag)
};

struct RingInfo {
  std::uint64_t capacity = 0;
  std::uint64_t write_index = 0; ///< bytes ever published
  std::uint64_t read_index = 0;  ///< bytes ever released
  EndpointInfo producer, consumer;
  RingStats stats;
  /// Published and not yet released, as a fraction of the capacity (0 to 1; more means the
  /// indices are inconsistent).
  [[nodiscard]] double fill() const noexcept {
    return capacity == 0
               ? 0.0
               : static_cast<double>(write_index - read_index) / static_cast<double>(capacity);
  }
};

struct LaneInfo {
  std::uint64_t bytes = 0;
  EndpointInfo producer, consumer;
  RingStats stats;
};

struct SegmentInfo {
  std::string name;
  std::uint64_t size = 0;
  pid_t creator_pid = 0;
  bool creator_alive = false;
  std::vector<RingInfo> rings;
  std::vector<LaneInfo> lanes;
  /// Why the segment could not be read (it has shmpipe's magic but another layout, another
  /// owner, ...); empty when it was.
  std::string error;

  /// The creator is dead and no live process holds any role in it (Segment::abandoned(), as
  /// of this snapshot).
  [[nodiscard]] bool stale() const noexcept {
    if (!error.empty() || creator_alive)
      return false;
    for (const RingInfo &r : rings)
      if (r.producer.alive || r.consumer.alive)
        return false;
    for (const LaneInfo &l : lanes)
      if (l.producer.alive || l.consumer.alive)
        return false;
    return true;
  }
};

namespace detail {

[[nodiscard]] inline EndpointInfo endpoint_info(const OwnerLine &line) noexcept {
  // relaxed: a snapshot for display; nothing is read through these values.
  const std::uint64_t token = line.owner.load(std::memory_order_relaxed);
  return {token == 0 ? 0 : owner_pid(token), token != 0 && owner_alive(token),
          line.closed.load(std::memory_order_relaxed) != 0};
}

/// Whether the object /dev/shm/<name> starts with shmpipe's magic (without mapping it).
[[nodiscard]] inline bool has_segment_magic(const std::string &name) noexcept {
  const std::string path = "/dev/shm/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return false;
  std::uint64_t magic = 0;
  const ssize_t got = ::pread(fd, &magic, sizeof magic, 0);
  ::close(fd);
  return got == static_cast<ssize_t>(sizeof magic) && magic == kSegmentMagic;
}

} // namespace detail

/// Reads what segment `name` holds. Throws Error when it cannot be opened (missing, not a
/// segment, another layout, no permission).
[[nodiscard]] inline SegmentInfo inspect_segment(std::string_view name) {
  // Any owner: this only reads and shows what is there (root cleans up every user's segments).
  Segment segment = Segment::open(name, /*allow_other_owner=*/true);
  SegmentInfo info;
  info.name = segment.name();
  info.size = segment.size_bytes();
  info.creator_pid = segment.creator_pid();
  info.creator_alive = detail::owner_alive(
      detail::make_owner_token(segment.creator_pid(), segment.creator_start_time()));
  for (std::uint32_t i = 0; i < segment.ring_count(); ++i) {
    const detail::RingMemory mem = segment.ring(i);
    const detail::RingControl &c = *mem.control;
    // relaxed: display only (see endpoint_info).
    info.rings.push_back({mem.capacity, c.producer_index.index.load(std::memory_order_relaxed),
                          c.consumer_index.index.load(std::memory_order_relaxed),
                          detail::endpoint_info(c.producer_owner),
                          detail::endpoint_info(c.consumer_owner), detail::read_stats(c)});
  }
  for (std::uint32_t i = 0; i < segment.lane_count(); ++i) {
    const detail::LaneMemory mem = segment.lane(i);
    const detail::LaneControl &c = *mem.control;
    info.lanes.push_back(
        {mem.bytes,
         detail::endpoint_info(c.producer_owner),
         detail::endpoint_info(c.consumer_owner),
         {detail::read_side(c.producer_stats), detail::read_side(c.consumer_stats)}});
  }
  return info;
}

/// Every shmpipe segment in /dev/shm (found by its magic), in name order. Segments that
/// cannot be read are listed with `error` set; other objects are skipped.
[[nodiscard]] inline std::vector<SegmentInfo> list_segments() {
  std::vector<std::string> names;
  if (DIR *dir = ::opendir("/dev/shm")) {
    while (const dirent *entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != ".." && Segment::valid_name(name) &&
          detail::has_segment_magic(name))
        names.push_back(name);
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  std::vector<SegmentInfo> out;
  for (const std::string &name : names) {
    try {
      out.push_back(inspect_segment(name));
    } catch (const Error &e) {
      SegmentInfo failed;
      failed.name = name;
      failed.error = e.what();
      out.push_back(std::move(failed));
    }
  }
  return out;
}

/// Removes every stale segment (see SegmentInfo::stale()); returns their names.
inline std::vector<std::string> remove_stale_segments() {
  std::vector<std::string> removed;
  for (const SegmentInfo &info : list_segments())
    if (info.stale() && Segment::remove(info.name))
      removed.push_back(info.name);
  return removed;
}

} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// libFuzzer target: arbitrary bytes as a shared-memory object that Segment::open validates.
// The object is the input itself and, when the input's header names a small segment size, also
// that size with the input copied over its start (so that geometry checks are reached without
// the fuzzer having to guess the exact length). Segment::open must throw shmpipe::Error or
// return a segment whose geometry fits the object; then every ring and lane must lie inside the
// mapping, and attaching both ends of ring 0 must work or throw Error.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <shmpipe/ring.hpp>

namespace {

using namespace shmpipe;

/// Objects larger than this are not made (the header's size field may say anything).
constexpr std::uint64_t kMaxObject = std::uint64_t{1} << 20;

std::string g_name;

void fail(const char *what) {
  std::fprintf(stderr, "segment_fuzz: %s\n", what);
  std::abort();
}

/// Creates the object with `size` bytes, the input over its start.
bool make_object(std::span<const std::uint8_t> bytes, std::uint64_t size) {
  ::shm_unlink(g_name.c_str());
  const int fd = ::shm_open(g_name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return false;
  bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
  const std::size_t n = std::min<std::uint64_t>(bytes.size(), size);
  for (std::size_t done = 0; ok && done < n;) {
    const ssize_t w = ::pwrite(fd, bytes.data() + done, n - done, static_cast<off_t>(done));
    ok = w > 0;
    done += ok ? static_cast<std::size_t>(w) : 0;
  }
  ::close(fd);
  return ok;
}

void open_and_check(std::uint64_t size) {
  std::optional<Segment> seg;
  try {
    seg.emplace(Segment::open(g_name));
  } catch (const Error &) {
    return; // refused, with a reason: fine
  }
  if (seg->size_bytes() != size)
    fail("the header's size is not the object's");
  const std::byte *begin = seg->base();
  const std::byte *end = begin + size;
  for (std::uint32_t i = 0; i < seg->ring_count(); ++i) {
    const detail::RingMemory ring = seg->ring(i);
    const auto *control = reinterpret_cast<const std::byte *>(ring.control);
    if (control < begin || ring.data != control + sizeof(detail::RingControl) ||
        ring.data + ring.capacity > end || ring.capacity != seg->ring_capacity())
      fail("a ring lies outside the object");
  }
  for (std::uint32_t i = 0; i < seg->lane_count(); ++i) {
    const detail::LaneMemory lane = seg->lane(i);
    if (lane.base < begin || lane.base + lane.bytes > end)
      fail("a lane lies outside the object");
  }
  (void)seg->abandoned();
  if (seg->ring_count() == 0)
    return;
  try {
    RingWriter writer(*seg, 0);
    (void)writer.try_write(std::as_bytes(std::span("x", 1)));
  } catch (const Error &) {
  }
  try {
    RingReader reader(*seg, 0);
    ReadSlot slot = reader.try_peek();
    if (slot)
      reader.release(std::move(slot));
  } catch (const Error &) {
  }
}

void check(std::span<const std::uint8_t> bytes, std::uint64_t size) {
  if (make_object(bytes, size))
    open_and_check(size);
  ::shm_unlink(g_name.c_str());
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  g_name = "shmpipe-fuzz-seg-" + std::to_string(::getpid());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  check(bytes, size);
  if (size >= sizeof(detail::SegmentHeader)) {
    std::uint64_t claimed = 0;
    std::memcpy(&claimed, data + offsetof(detail::SegmentHeader, segment_size), sizeof claimed);
    if (claimed != size && claimed >= sizeof(detail::SegmentHeader) && claimed <= kMaxObject)
      check(bytes, claimed);
  }
  return 0;
}

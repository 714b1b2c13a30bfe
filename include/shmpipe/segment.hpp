// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Segment: a named POSIX shared-memory object holding a validated header and its rings.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/version.hpp>

#include <shmpipe/config.hpp>
#include <shmpipe/detail/layout.hpp>
#include <shmpipe/detail/process.hpp>
#include <shmpipe/error.hpp>
#include <shmpipe/version.hpp>

namespace shmpipe {

class Segment;

/// Most fixed-size lanes one segment may hold.
inline constexpr std::uint32_t kMaxLanes = 1024;
/// Smallest and largest lane (bytes, a multiple of kCacheLine): the lane's 320-byte control block
/// and at least the two cache lines of the smallest spsc_queue; the upper bound keeps the
/// segment size far from overflowing.
inline constexpr std::uint64_t kMinLaneBytes = 448;
inline constexpr std::uint64_t kMaxLaneBytes = std::uint64_t{1} << 32;

/// Geometry and access rights of a new segment.
struct SegmentOptions {
  std::uint64_t ring_capacity = std::uint64_t{1} << 20; ///< data bytes per ring, a power of two
  std::uint32_t rings = 1; ///< rings in the segment (0 is allowed when there are lanes)
  /// Fixed-size lanes after the rings (FixedRing; 0 = none), each `lane_bytes` long, rounded up
  /// to a cache line. Size them with FixedRing<T, N>::lane_bytes (the largest, for mixed lanes).
  std::uint32_t lanes = 0;
  std::uint64_t lane_bytes = 0;
  std::uint64_t schema_id = 0; ///< stored for the application
  unsigned mode = 0600;        ///< permission bits of the object
  /// When a segment of that name exists but is abandoned (its creator and every endpoint died,
  /// as kill -9 leaves it, or its creator died before finishing it), remove it and create a
  /// new one instead of failing with segment_exists. A segment any live process still uses
  /// (or creates) is never replaced, and processes that still map the old one keep it: the two
  /// generations never share memory.
  bool replace_abandoned = false;
};

namespace detail {

/// Where one ring lives inside a mapped segment. Capacity is a process-local copy taken when
/// the segment was validated: the shared header may be overwritten by a hostile peer later.
struct RingMemory {
  RingControl *control = nullptr;
  std::byte *data = nullptr;
  std::uint64_t capacity = 0;
};

/// Where one fixed-size lane lives inside a mapped segment; `bytes` is a process-local copy, as
/// in RingMemory.
struct LaneMemory {
  LaneControl *control = nullptr;
  std::byte *base = nullptr; ///< the lane's first byte (its control block)
  std::uint64_t bytes = 0;
};

[[nodiscard]] constexpr bool valid_capacity(std::uint64_t c) noexcept {
  return c >= kMinRingCapacity && c <= kMaxRingCapacity && (c & (c - 1)) == 0;
}

[[nodiscard]] constexpr bool valid_lane_stride(std::uint64_t s) noexcept {
  return s >= kMinLaneBytes && s <= kMaxLaneBytes && s % kCacheLine == 0;
}

/// A read-only view of part of a segment's object, mapped apart from the segment's read-write
/// mapping (Segment::map_read_only). Move-only; unmaps on destruction. A store through data()
/// faults (SIGSEGV). The pages are the object's own (MAP_SHARED), the same ones the read-write
/// mapping shows: what a peer or this process writes there is what data() reads.
class ReadOnlyMapping {
public:
  ReadOnlyMapping() noexcept = default;
  ReadOnlyMapping(ReadOnlyMapping &&) noexcept = default;
  ReadOnlyMapping &operator=(ReadOnlyMapping &&) noexcept = default;
  ReadOnlyMapping(const ReadOnlyMapping &) = delete;
  ReadOnlyMapping &operator=(const ReadOnlyMapping &) = delete;
  ~ReadOnlyMapping() = default;

  /// The first byte of the requested range (not of the page it lies in); null when empty.
  [[nodiscard]] const std::byte *data() const noexcept {
    return static_cast<const std::byte *>(region_.get_address());
  }
  [[nodiscard]] std::uint64_t size() const noexcept { return region_.get_size(); }

private:
  friend class shmpipe::Segment;
  explicit ReadOnlyMapping(boost::interprocess::mapped_region region) noexcept
      : region_(std::move(region)) {}

  boost::interprocess::mapped_region region_;
};

/// Checks a segment header (a private copy: the peer may change the original) against this
/// program's layout and against `actual`, the object's size. Throws Error: layout_mismatch,
/// size_mismatch. Shared by Segment::open and the inspection tools (inspect.hpp).
inline void check_header(const SegmentHeader &h, std::uint64_t actual, const std::string &name) {
  if (h.layout_version != kLayoutVersion)
    throw Error(Errc::layout_mismatch, name,
                "layout version is " + std::to_string(h.layout_version) + ", expected " +
                    std::to_string(kLayoutVersion));
  if (h.cache_line != kCacheLine || h.record_align != kRecordAlign)
    throw Error(Errc::layout_mismatch, name,
                "cache line / record alignment are " + std::to_string(h.cache_line) + " / " +
                    std::to_string(h.record_align) + ", expected " + std::to_string(kCacheLine) +
                    " / " + std::to_string(kRecordAlign));
  if (h.header_size != sizeof(SegmentHeader))
    throw Error(Errc::layout_mismatch, name,
                "header size is " + std::to_string(h.header_size) + ", expected " +
                    std::to_string(sizeof(SegmentHeader)));
  if ((h.ring_count == 0 && h.lane_count == 0) || h.ring_count > kMaxRings ||
      !valid_capacity(h.ring_capacity) || h.ring_stride != sizeof(RingControl) + h.ring_capacity)
    throw Error(Errc::layout_mismatch, name,
                "ring geometry is invalid (count " + std::to_string(h.ring_count) + ", capacity " +
                    std::to_string(h.ring_capacity) + ", stride " + std::to_string(h.ring_stride) +
                    ")");
  // No overflow: count <= 64 and stride <= 2^32 + 384.
  const std::uint64_t rings_end = sizeof(SegmentHeader) + h.ring_count * h.ring_stride;
  const bool lanes_ok = h.lane_count == 0
                            ? h.lane_offset == 0 && h.lane_stride == 0
                            : h.lane_count <= kMaxLanes && h.lane_offset == rings_end &&
                                  valid_lane_stride(h.lane_stride);
  if (!lanes_ok)
    throw Error(Errc::layout_mismatch, name,
                "lane geometry is invalid (count " + std::to_string(h.lane_count) + ", offset " +
                    std::to_string(h.lane_offset) + ", stride " + std::to_string(h.lane_stride) +
                    ")");
  // No overflow: lane count <= 1024 and lane stride <= 2^32.
  const std::uint64_t expected = rings_end + std::uint64_t{h.lane_count} * h.lane_stride;
  if (h.segment_size != expected || actual != expected)
    throw Error(Errc::size_mismatch, name,
                "header says " + std::to_string(h.segment_size) + " bytes, geometry needs " +
                    std::to_string(expected) + ", the object has " + std::to_string(actual));
}

} // namespace detail

/// A named shared-memory object mapped into this process. Move-only; unmaps on destruction but
/// never removes the name (see remove() and ScopedRemove).
///
/// **Example**:
///
///     auto seg = shmpipe::Segment::create("orders", {.ring_capacity = 1 << 20});
///     auto peer = shmpipe::Segment::open("orders"); // in the other process
class Segment {
public:
  /// Creates the object exclusively (never opens an existing one), sizes it, reserves its
  /// memory so that a full /dev/shm is reported here instead of as SIGBUS later, maps all of
  /// it (no page faults later, in the middle of a transfer), and writes the header. Throws
  /// Error. With `replace_abandoned`, an abandoned segment of that name is removed first
  /// (remove_if_abandoned()); of several processes that race to replace the same one, exactly
  /// one succeeds and the others get segment_exists (in use by a live process).
  static Segment create(std::string_view name, const SegmentOptions &options = {}) {
    const std::string checked = checked_name(name);
    // A round fails only when another process created or removed the name in between; the
    // next round judges what it left. Each such round means another process made progress.
    for (int round = 0; round < kCreateRounds; ++round) {
      try {
        if (std::optional<Segment> made = create_exclusive(checked, options))
          return std::move(*made);
        continue; // a replacer took our object before we locked it: judge the name again
      } catch (const Error &e) {
        if (e.code() != Errc::segment_exists || !options.replace_abandoned)
          throw;
      }
      std::string why;
      if (judge_and_remove(checked, why) == Verdict::in_use)
        throw Error(Errc::segment_exists, checked, why);
    }
    throw Error(Errc::segment_exists, checked,
                "other processes keep creating and removing the name; gave up after " +
                    std::to_string(kCreateRounds) + " rounds");
  }

  /// Removes segment `name` if it is abandoned (see abandoned(); or its creator died before it
  /// finished writing the header), with the same protocol as create(replace_abandoned): the
  /// name is removed only while it still names the object that was judged, never a segment
  /// another process created in the meantime. Returns whether it removed it: false when the
  /// name does not exist, is in use or being created by a live process, or is not a segment
  /// of this layout owned by this user (left alone). For tools that sweep /dev/shm.
  static bool remove_if_abandoned(std::string_view name) noexcept {
    if (!valid_name(name))
      return false;
    try {
      std::string why;
      return judge_and_remove(std::string(name), why) == Verdict::removed;
    } catch (...) { // not a segment of ours, or the system refused: left alone
      return false;
    }
  }

  /// True when the creator and every ring and lane endpoint have died (pid and start time):
  /// nobody can be using the segment any more. A snapshot: a process may attach right after.
  [[nodiscard]] bool abandoned() noexcept {
    if (detail::owner_alive(detail::make_owner_token(creator_pid_, creator_start_time_)))
      return false;
    auto alive = [](const detail::OwnerLine &line) {
      // relaxed: a snapshot; the owner word is only compared with live processes.
      const std::uint64_t token = line.owner.load(std::memory_order_relaxed);
      return token != 0 && detail::owner_alive(token);
    };
    for (std::uint32_t i = 0; i < ring_count_; ++i)
      if (alive(ring(i).control->producer_owner) || alive(ring(i).control->consumer_owner))
        return false;
    for (std::uint32_t i = 0; i < lane_count_; ++i)
      if (alive(lane(i).control->producer_owner) || alive(lane(i).control->consumer_owner))
        return false;
    return true;
  }

private:
  static constexpr int kCreateRounds = 16;
  /// Tries at 100 us for the creation lock of a fresh object (a replacer's hold is short).
  static constexpr int kCreationLockTries = 10000;

  /// The new segment, or nothing when a replacer judged our fresh object (size 0, no lock yet)
  /// abandoned and removed the name before we could lock it (or held the lock for more than a
  /// second). Throws Error (segment_exists when the name exists).
  static std::optional<Segment> create_exclusive(const std::string &checked,
                                                 const SegmentOptions &options) {
    namespace bip = boost::interprocess;
    if (!detail::valid_capacity(options.ring_capacity))
      throw Error(Errc::invalid_argument, checked,
                  "ring capacity " + std::to_string(options.ring_capacity) +
                      " is not a power of two in [" + std::to_string(kMinRingCapacity) + ", " +
                      std::to_string(kMaxRingCapacity) + "]");
    if ((options.rings == 0 && options.lanes == 0) || options.rings > kMaxRings)
      throw Error(Errc::invalid_argument, checked,
                  "ring count " + std::to_string(options.rings) + " is not in [1, " +
                      std::to_string(kMaxRings) + "] (or 0 with lanes)");
    if (options.lanes > kMaxLanes)
      throw Error(Errc::invalid_argument, checked,
                  "lane count " + std::to_string(options.lanes) + " is more than " +
                      std::to_string(kMaxLanes));
    // Rounded up so that every lane starts on its own cache line; the bound check comes first so
    // the rounding cannot overflow.
    const std::uint64_t lane_stride =
        options.lanes == 0 || options.lane_bytes > kMaxLaneBytes
            ? options.lane_bytes
            : (options.lane_bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
    if (options.lanes != 0 && !detail::valid_lane_stride(lane_stride))
      throw Error(Errc::invalid_argument, checked,
                  "lane bytes " + std::to_string(options.lane_bytes) + " are not in [" +
                      std::to_string(kMinLaneBytes) + ", " + std::to_string(kMaxLaneBytes) +
                      "] (use FixedRing<T, N>::lane_bytes)");
    if ((options.mode & ~0777u) != 0)
      throw Error(Errc::invalid_argument, checked, "mode has bits outside 0777");

    const std::uint64_t stride = sizeof(detail::RingControl) + options.ring_capacity;
    const std::uint64_t lane_offset = sizeof(detail::SegmentHeader) + options.rings * stride;
    const std::uint64_t total = lane_offset + options.lanes * lane_stride;

    std::optional<Segment> made(Segment{});
    Segment &seg = *made;
    seg.name_ = checked;
    bip::permissions perm;
    perm.set_permissions(static_cast<int>(options.mode));
    try {
      seg.object_ =
          bip::shared_memory_object(bip::create_only, checked.c_str(), bip::read_write, perm);
    } catch (const bip::interprocess_exception &e) {
      throw translate(e, checked, "create");
    }
    // The creation lock (docs/LAYOUT.md, "Creating and replacing"): held until the magic is
    // stored, so that a replacer never takes a segment being made for an abandoned one. A
    // replacer may have locked the object in the instant before we did (it judges it, and
    // removes the name if it finds it empty): wait until it lets go, then look whether the
    // name is still ours. Bounded: a replacer stopped while it holds the lock must not hang us.
    const int fd = seg.object_.get_mapping_handle().handle;
    for (int tries = 0; ::flock(fd, LOCK_EX | LOCK_NB) != 0; ++tries) {
      if (errno != EWOULDBLOCK) {
        const int error = errno;
        bip::shared_memory_object::remove(checked.c_str());
        throw Error(Errc::system, checked, std::string("flock failed: ") + std::strerror(error),
                    error);
      }
      if (tries == kCreationLockTries)
        return std::nullopt; // the replacer removes the name when it resumes
      ::usleep(100);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_nlink == 0)
      return std::nullopt; // a replacer removed it before we locked it: not ours any more
    // From here on the name is ours: remove it again if initialization fails, so a failed
    // create leaves nothing behind.
    try {
      seg.object_.truncate(static_cast<bip::offset_t>(total));
      const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(total));
      if (rc == ENOSPC)
        throw Error(Errc::out_of_space, checked,
                    "cannot reserve " + std::to_string(total) +
                        " bytes in /dev/shm (too small? containers: --shm-size or --ipc=host)",
                    rc);
      if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL)
        throw Error(Errc::system, checked,
                    std::string("posix_fallocate failed: ") + std::strerror(rc), rc);
      seg.region_ = bip::mapped_region(seg.object_, bip::read_write);
    } catch (const bip::interprocess_exception &e) {
      bip::shared_memory_object::remove(checked.c_str());
      throw translate(e, checked, "size and map");
    } catch (...) {
      bip::shared_memory_object::remove(checked.c_str());
      throw;
    }

    auto *h = static_cast<detail::SegmentHeader *>(seg.region_.get_address());
    h->layout_version = kLayoutVersion;
    h->cache_line = static_cast<std::uint32_t>(kCacheLine);
    h->segment_size = total;
    h->header_size = sizeof(detail::SegmentHeader);
    h->ring_count = options.rings;
    h->record_align = static_cast<std::uint32_t>(kRecordAlign);
    h->ring_capacity = options.ring_capacity;
    h->ring_stride = stride;
    h->schema_id = options.schema_id;
    h->creator_pid = static_cast<std::uint32_t>(::getpid());
    h->boost_version = BOOST_VERSION;
    h->creator_start_time = detail::self_start_time(); // 0: unknown (see make_owner_token)
    h->lane_count = options.lanes;
    // A segment without lanes keeps these zero, as the bytes were before lanes existed.
    h->lane_offset = options.lanes != 0 ? lane_offset : 0;
    h->lane_stride = options.lanes != 0 ? lane_stride : 0;
    // [sync:magic] release: every header field above, and the zeroed ring control blocks,
    // are visible before the magic. Pairs with the acquire in open().
    h->magic.store(detail::kSegmentMagic, std::memory_order_release);
    // Made: from now on the creator's pid and start time say whether it is in use.
    ::flock(fd, LOCK_UN);
    seg.adopt_geometry(*h);
    seg.prefault();
    return made;
  }

  enum class Verdict : std::uint8_t {
    removed, ///< it was abandoned, and the name is gone
    gone,    ///< the name vanished or changed hands while we looked: judge it again
    in_use,  ///< a live process creates, replaces or uses it (`why` says which)
  };

  /// Judges the object named `name` and removes the name if it is abandoned. Throws Error when
  /// it is not a segment of this layout (or of this user): such an object is left alone.
  ///
  /// Race-free against other replacers: the judgement and the removal happen while holding
  /// the object's exclusive creation lock (flock), and only after checking that the object is
  /// still linked. Every process that removes a name this way holds that lock when it does,
  /// so while we hold it the name keeps naming the object we judged. The kernel drops the
  /// lock of a process that dies: a creator killed before its header was complete leaves an
  /// unlocked object without magic, which is abandoned.
  static Verdict judge_and_remove(const std::string &name, std::string &why) {
    const std::string path = "/" + name;
    // O_NONBLOCK: a FIFO planted under the name must not block us (it is refused below).
    const int fd = ::shm_open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0) {
      if (errno == ENOENT)
        return Verdict::gone;
      const int error = errno;
      throw Error(error == EACCES ? Errc::permission_denied : Errc::system, name,
                  std::string("cannot open it to judge it: ") + std::strerror(error), error);
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); } // also drops the lock
    } closer{fd};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) {
        const int error = errno;
        throw Error(Errc::system, name, std::string("flock failed: ") + std::strerror(error),
                    error);
      }
      why = "exists and is being created or replaced by a live process";
      return Verdict::in_use;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int error = errno;
      throw Error(Errc::system, name, "cannot stat the object", error);
    }
    if (st.st_nlink == 0)
      return Verdict::gone; // another replacer removed it before we locked it
    if (!S_ISREG(st.st_mode))
      throw Error(Errc::bad_magic, name, "is not a regular file: left alone");
    // A creator sizes the object in one step and stores the magic last: one that died left
    // size 0, or the full size and no magic. Anything else is judged as a segment (and an
    // object that is not one of ours is refused there, and left alone).
    std::uint64_t magic = 0;
    if (st.st_size >= static_cast<off_t>(sizeof magic) &&
        ::pread(fd, &magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic)) {
      const int error = errno;
      throw Error(Errc::system, name, "cannot read the header", error);
    }
    const bool unfinished =
        st.st_size == 0 ||
        (st.st_size >= static_cast<off_t>(sizeof(detail::SegmentHeader)) && magic == 0);
    if (!unfinished) {
      // Judged through a mapping of its own (no prefault: it may be about to go). Then the
      // name must still be this object: a remover outside this protocol (remove()) may have
      // replaced it.
      Segment old = open_mapped(name, false, false);
      struct stat mapped {};
      if (::fstat(old.object_.get_mapping_handle().handle, &mapped) != 0 ||
          mapped.st_ino != st.st_ino || mapped.st_dev != st.st_dev)
        return Verdict::gone;
      if (!old.abandoned()) {
        why = "exists and is in use by a live process (creator pid " +
              std::to_string(old.creator_pid()) + ")";
        return Verdict::in_use;
      }
    } else if (st.st_uid != ::geteuid()) {
      throw Error(Errc::permission_denied, name,
                  "an unfinished object owned by uid " + std::to_string(st.st_uid) +
                      ", not by this user: left alone");
    }
    // Otherwise a creator died before it stored the magic (it held the lock until then).
    remove(name);
    return Verdict::removed;
  }

public:
  /// Opens and validates an existing segment, then maps all of it. Throws Error naming the
  /// mismatch when the object is missing, not permitted, not yet initialized, or not a segment
  /// of this layout. A segment owned by another user is refused (permission_denied) unless
  /// `allow_other_owner`: whoever owns it controls every byte this process will read.
  static Segment open(std::string_view name, bool allow_other_owner = false) {
    return open_mapped(checked_name(name), allow_other_owner, true);
  }

  /// Removes the name; processes that have it mapped keep their mapping. Never throws.
  /// Returns false if there was nothing to remove or the name is invalid.
  static bool remove(std::string_view name) noexcept {
    if (!valid_name(name))
      return false;
    return boost::interprocess::shared_memory_object::remove(std::string(name).c_str());
  }

  /// Whether `name` is acceptable: 1..kMaxNameLength characters from [A-Za-z0-9._-], not
  /// starting with '.'.
  [[nodiscard]] static bool valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > kMaxNameLength || name.front() == '.')
      return false;
    for (const char c : name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok)
        return false;
    }
    return true;
  }

  Segment(Segment &&) noexcept = default;
  Segment &operator=(Segment &&) noexcept = default;
  Segment(const Segment &) = delete;
  Segment &operator=(const Segment &) = delete;
  ~Segment() = default;

  [[nodiscard]] const std::string &name() const noexcept { return name_; }
  [[nodiscard]] std::uint32_t ring_count() const noexcept { return ring_count_; }
  [[nodiscard]] std::uint64_t ring_capacity() const noexcept { return ring_capacity_; }
  [[nodiscard]] std::uint64_t size_bytes() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t schema_id() const noexcept { return schema_id_; }
  [[nodiscard]] pid_t creator_pid() const noexcept { return creator_pid_; }
  /// The creator's start time (clock ticks since boot): with the pid, names the process.
  [[nodiscard]] std::uint64_t creator_start_time() const noexcept { return creator_start_time_; }
  [[nodiscard]] std::uint32_t lane_count() const noexcept { return lane_count_; }
  /// Bytes per lane (SegmentOptions::lane_bytes rounded up to a cache line); 0 without lanes.
  [[nodiscard]] std::uint64_t lane_bytes() const noexcept { return lane_stride_; }
  /// BOOST_VERSION of the creator: a lane's queue layout is Boost's, so FixedRing endpoints
  /// refuse a segment made with another version.
  [[nodiscard]] std::uint32_t boost_version() const noexcept { return boost_version_; }

  /// The mapped bytes (header included). For tests and tools; the rings are reached through
  /// RingWriter and RingReader.
  [[nodiscard]] std::byte *base() noexcept {
    return static_cast<std::byte *>(region_.get_address());
  }

  /// Where ring `index` lives. Throws Error(invalid_argument) for an index out of range.
  [[nodiscard]] detail::RingMemory ring(std::uint32_t index) {
    if (index >= ring_count_)
      throw Error(Errc::invalid_argument, name_,
                  "ring " + std::to_string(index) + " does not exist (segment has " +
                      std::to_string(ring_count_) + ")");
    std::byte *ring_base = base() + sizeof(detail::SegmentHeader) + index * ring_stride_;
    return {reinterpret_cast<detail::RingControl *>(ring_base),
            ring_base + sizeof(detail::RingControl), ring_capacity_};
  }

  /// Maps bytes [offset, offset + length) of the object a second time, read-only (PROT_READ,
  /// MAP_SHARED, prefaulted), for a consumer that must not be able to write what it reads
  /// (ReaderOptions::read_only_data). mmap takes page-aligned offsets only and the regions of a
  /// segment are not page-aligned, so the mapping starts at the page boundary at or below
  /// `offset` and data() points at `offset` itself. Throws Error: invalid_argument for an
  /// empty range or one that does not lie inside the object; what mmap failed with otherwise.
  [[nodiscard]] detail::ReadOnlyMapping map_read_only(std::uint64_t offset,
                                                      std::uint64_t length) const {
    namespace bip = boost::interprocess;
    if (length == 0 || offset > size_ || length > size_ - offset)
      throw Error(Errc::invalid_argument, name_,
                  "cannot map " + std::to_string(length) + " bytes at offset " +
                      std::to_string(offset) + " read-only: the object has " +
                      std::to_string(size_) + " bytes");
    try {
      // Boost maps from offset rounded down to a page (mmap's rule) and hands back the
      // address of `offset`; unmapping covers the whole page range again.
      return detail::ReadOnlyMapping(
          bip::mapped_region(object_, bip::read_only, static_cast<bip::offset_t>(offset),
                             static_cast<std::size_t>(length), nullptr, MAP_POPULATE));
    } catch (const bip::interprocess_exception &e) {
      throw translate(e, name_, "map read-only");
    }
  }

  /// Where lane `index` lives; FixedWriter and FixedReader attach to it. Throws
  /// Error(invalid_argument) for an index out of range.
  [[nodiscard]] detail::LaneMemory lane(std::uint32_t index) {
    if (index >= lane_count_)
      throw Error(Errc::invalid_argument, name_,
                  "lane " + std::to_string(index) + " does not exist (segment has " +
                      std::to_string(lane_count_) + ")");
    std::byte *lane_base = base() + lane_offset_ + index * lane_stride_;
    return {reinterpret_cast<detail::LaneControl *>(lane_base), lane_base, lane_stride_};
  }

private:
  Segment() = default;

  static Segment open_mapped(const std::string &checked, bool allow_other_owner, bool prefault) {
    namespace bip = boost::interprocess;
    Segment seg;
    seg.name_ = checked;
    try {
      seg.object_ = bip::shared_memory_object(bip::open_only, checked.c_str(), bip::read_write);
    } catch (const bip::interprocess_exception &e) {
      throw translate(e, checked, "open");
    }
    struct stat st {};
    if (::fstat(seg.object_.get_mapping_handle().handle, &st) != 0)
      throw Error(Errc::system, checked, "cannot stat the object", errno);
    if (st.st_uid != ::geteuid() && !allow_other_owner)
      throw Error(Errc::permission_denied, checked,
                  "owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                      std::to_string(::geteuid()) +
                      "); open it with allow_other_owner to trust "
                      "that user");
    bip::offset_t size = 0;
    if (!seg.object_.get_size(size))
      throw Error(Errc::system, checked, "cannot read the object's size", errno);
    const auto actual = static_cast<std::uint64_t>(size);
    if (actual == 0)
      throw Error(Errc::not_ready, checked, "the object has size 0 (creator not done yet)");
    if (actual < sizeof(detail::SegmentHeader))
      throw Error(Errc::size_mismatch, checked,
                  "the object has " + std::to_string(actual) + " bytes, less than a header");
    try {
      seg.region_ = bip::mapped_region(seg.object_, bip::read_write);
    } catch (const bip::interprocess_exception &e) {
      throw translate(e, checked, "map");
    }
    auto *h = static_cast<detail::SegmentHeader *>(seg.region_.get_address());
    // [sync:magic] acquire: pairs with the release in create(); the header fields read below
    // are the creator's.
    const std::uint64_t magic = h->magic.load(std::memory_order_acquire);
    if (magic == 0)
      throw Error(Errc::not_ready, checked, "the header is not written yet (creator not done)");
    if (magic != detail::kSegmentMagic)
      throw Error(Errc::bad_magic, checked,
                  "magic is " + hex(magic) + ", expected " + hex(detail::kSegmentMagic));
    // Copy the header once: a peer may rewrite it while we validate.
    detail::SegmentHeader copy;
    detail::copy_from_shared(&copy, h, sizeof copy / 8);
    seg.validate(copy, actual);
    seg.adopt_geometry(copy);
    if (prefault)
      seg.prefault();
    return seg;
  }

  static std::string checked_name(std::string_view name) {
    if (!valid_name(name))
      throw Error(Errc::invalid_name, std::string(name.substr(0, kMaxNameLength)),
                  "a name has 1 to " + std::to_string(kMaxNameLength) +
                      " characters from [A-Za-z0-9._-] and does not start with '.'");
    return std::string(name);
  }

  static std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
  }

  static Error translate(const boost::interprocess::interprocess_exception &e,
                         const std::string &name, const char *what) {
    namespace bip = boost::interprocess;
    const int native = e.get_native_error();
    const std::string detail = std::string(what) + " failed: " + e.what();
    switch (e.get_error_code()) {
    case bip::already_exists_error:
      return Error(Errc::segment_exists, name, detail, native);
    case bip::not_found_error:
    case bip::not_such_file_or_directory:
      return Error(Errc::segment_missing, name, detail, native);
    case bip::security_error:
      return Error(Errc::permission_denied, name, detail, native);
    case bip::out_of_space_error:
    case bip::out_of_memory_error:
      return Error(Errc::out_of_space, name, detail, native);
    default:
      break;
    }
    switch (native) {
    case EEXIST:
      return Error(Errc::segment_exists, name, detail, native);
    case ENOENT:
      return Error(Errc::segment_missing, name, detail, native);
    case EACCES:
    case EPERM:
      return Error(Errc::permission_denied, name, detail, native);
    case ENOSPC:
    case ENOMEM:
      return Error(Errc::out_of_space, name, detail, native);
    default:
      return Error(Errc::system, name, detail, native);
    }
  }

  void validate(const detail::SegmentHeader &h, std::uint64_t actual) const {
    detail::check_header(h, actual, name_);
  }

  /// Maps every page now, so that the first lap around a ring does not take a page fault per
  /// 4 KiB in the middle of a transfer. Best effort: kernels before 5.14 fault lazily instead.
  void prefault() noexcept {
#ifndef MADV_POPULATE_WRITE
#define SHMPIPE_MADV_POPULATE_WRITE 23 // Linux 5.14 uapi value
#else
#define SHMPIPE_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#endif
    ::madvise(region_.get_address(), region_.get_size(), SHMPIPE_MADV_POPULATE_WRITE);
#undef SHMPIPE_MADV_POPULATE_WRITE
  }

  void adopt_geometry(const detail::SegmentHeader &h) noexcept {
    ring_count_ = h.ring_count;
    ring_capacity_ = h.ring_capacity;
    ring_stride_ = h.ring_stride;
    size_ = h.segment_size;
    schema_id_ = h.schema_id;
    creator_pid_ = static_cast<pid_t>(h.creator_pid);
    creator_start_time_ = h.creator_start_time;
    boost_version_ = h.boost_version;
    lane_count_ = h.lane_count;
    lane_offset_ = h.lane_offset;
    lane_stride_ = h.lane_stride;
  }

  std::string name_;
  boost::interprocess::shared_memory_object object_;
  boost::interprocess::mapped_region region_;
  std::uint32_t ring_count_ = 0;
  std::uint64_t ring_capacity_ = 0;
  std::uint64_t ring_stride_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t schema_id_ = 0;
  pid_t creator_pid_ = 0;
  std::uint64_t creator_start_time_ = 0;
  std::uint32_t boost_version_ = 0;
  std::uint32_t lane_count_ = 0;
  std::uint64_t lane_offset_ = 0;
  std::uint64_t lane_stride_ = 0;
};

/// Removes a segment name on construction (a leftover from an earlier run) and on destruction.
/// For tests and examples, after Boost.Interprocess's shm_remove idiom.
class ScopedRemove {
public:
  explicit ScopedRemove(std::string name) : name_(std::move(name)) { Segment::remove(name_); }
  ~ScopedRemove() { Segment::remove(name_); }
  ScopedRemove(const ScopedRemove &) = delete;
  ScopedRemove &operator=(const ScopedRemove &) = delete;
  [[nodiscard]] const std::string &name() const noexcept { return name_; }

private:
  std::string name_;
};

/// `prefix` followed by 16 random hex digits (64 bits from getrandom), for a segment another
/// user cannot guess and create first (a name such as "app-<pid>" can be taken in advance, and
/// every run then fails with segment_exists). The name is not reserved: create it with
/// Segment::create (or Core::create, Supervisor) and, on Errc::segment_exists, call this again
/// for a new one. Throws Error(invalid_name) when the result is not a valid name (a prefix
/// starting with '.', holding other characters than [A-Za-z0-9._-], or longer than
/// kMaxNameLength - 16), Error(system) when the kernel gives no random bytes.
///
/// **Example**:
///
///     for (;;) try {
///       return shmpipe::Segment::create(shmpipe::unique_segment_name("orders-"));
///     } catch (const shmpipe::Error &e) {
///       if (e.code() != shmpipe::Errc::segment_exists) throw;
///     }
[[nodiscard]] inline std::string unique_segment_name(std::string_view prefix) {
  std::uint64_t bits = 0;
  auto *bytes = reinterpret_cast<unsigned char *>(&bits);
  std::size_t have = 0;
  while (have < sizeof bits) {
    const ssize_t n = ::getrandom(bytes + have, sizeof bits - have, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw Error(Errc::system, std::string(prefix.substr(0, kMaxNameLength)),
                  "getrandom failed for a unique name", errno);
    have += static_cast<std::size_t>(n);
  }
  std::string name(prefix);
  constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4)
    name += kHex[(bits >> shift) & 0xF];
  if (!Segment::valid_name(name))
    throw Error(Errc::invalid_name, name.substr(0, kMaxNameLength),
                "prefix is not valid in a segment name (at most " +
                    std::to_string(kMaxNameLength - 16) +
                    " characters from [A-Za-z0-9._-], "
                    "not starting with '.')");
  return name;
}

} // namespace shmpipe

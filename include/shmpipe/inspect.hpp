// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Inspecting segments from outside: which exist, who is attached and alive, how full the rings
// are; and removing the ones every attached process has left for dead (kill -9 leaves them).
#pragma once

// Design: /dev/shm is shared with every local user and program, so everything in it is
// untrusted input, and looking must cost nothing and change nothing. An entry is examined
// with fstatat (no link followed) and skipped unless it is a regular file, so a FIFO is never
// opened (opening one can block, or wake a writer waiting for a reader); it is then opened
// read-only with O_NONBLOCK | O_NOFOLLOW (in case it was swapped meanwhile) and checked again
// with fstat. Nothing is mapped: the header and each control block are read with pread into
// private memory, at offsets checked against the object's real size first. pread of a hole in
// tmpfs copies the shared zero page, so a forged sparse object of any size costs no memory,
// where a mapping would allocate every page it touches (and MAP_POPULATE or MADV_POPULATE all
// of them). A segment is recognised by its magic and its header checked as Segment::open does.
// Every value shown is a snapshot that the segment's writers may change meanwhile.
//
// A segment is *stale* when its creator has died and no ring or lane has a live producer or
// consumer; liveness is judged by pid and process start time, so a reused pid does not keep a
// dead segment alive. An object whose header is not written yet (size 0, or magic still 0) may
// be a segment being created right now: it is never judged stale, only removed on request
// (RemoveOptions::force).
//
// Removing only unlinks the name: a process that still has the segment mapped keeps its
// mapping. Before the unlink the object is judged a second time, and the name must still refer
// to the object that was judged (device and inode), so a segment created under the same name
// meanwhile (Segment::create with replace_abandoned) is left alone. What remains is the window
// between that last check and the unlink itself, and a process that opens the name in it gets
// a segment nobody serves: tools should not remove segments while new endpoints are starting
// under the same name.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shmpipe/config.hpp>
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
  std::uint64_t size = 0;      ///< bytes of the object (its real size, not the header's claim)
  std::uint32_t owner_uid = 0; ///< the user that owns the object
  pid_t creator_pid = 0;
  bool creator_alive = false;
  std::vector<RingInfo> rings;
  std::vector<LaneInfo> lanes;
  /// Why the segment could not be read (no permission, header not written yet, another
  /// layout, ...); empty when it was.
  std::string error;

  /// The creator is dead and no live process holds any role in it (as of this snapshot).
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

/// Where POSIX shared-memory objects live on Linux (glibc's shm_open opens /dev/shm/<name>).
inline constexpr const char *kShmDirectory = "/dev/shm";

class OwnedFd {
public:
  explicit OwnedFd(int fd = -1) noexcept : fd_(fd) {}
  OwnedFd(OwnedFd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd &operator=(OwnedFd &&other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  OwnedFd(const OwnedFd &) = delete;
  OwnedFd &operator=(const OwnedFd &) = delete;
  ~OwnedFd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

private:
  int fd_;
};

[[nodiscard]] inline std::string errno_text(int err) { return std::strerror(err); }

/// Error(system) for the errno of the call that just failed (read before anything else runs).
[[nodiscard]] inline Error os_error(const std::string &name, const char *what) {
  const int err = errno;
  return Error(Errc::system, name, std::string(what) + ": " + errno_text(err), err);
}

[[nodiscard]] inline const char *file_kind(mode_t mode) noexcept {
  if (S_ISLNK(mode))
    return "a symbolic link";
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  return "not a regular file";
}

[[nodiscard]] inline std::string owner_text(const struct stat &st) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "owned by uid " + std::to_string(st.st_uid) + ", mode " + mode + "; this is uid " +
         std::to_string(::geteuid());
}

/// An object of the shm directory, open for reading.
struct ShmObject {
  OwnedFd fd;
  struct stat st {};
};

/// Opens `name` in the directory `dir` for reading, without blocking, following a link or
/// opening anything but a regular file. Throws Error: segment_missing, permission_denied,
/// bad_magic (not a regular file), system.
[[nodiscard]] inline ShmObject open_object(int dir, const std::string &name) {
  ShmObject obj;
  if (::fstatat(dir, name.c_str(), &obj.st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    if (err == ENOENT)
      throw Error(Errc::segment_missing, name, "no such segment in /dev/shm", err);
    throw Error(Errc::system, name, "cannot stat it: " + errno_text(err), err);
  }
  if (!S_ISREG(obj.st.st_mode))
    throw Error(Errc::bad_magic, name,
                "is " + std::string(file_kind(obj.st.st_mode)) + ", left alone");
  // Checked again after opening: the entry may have been replaced since fstatat.
  obj.fd = OwnedFd(
      ::openat(dir, name.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
  if (obj.fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT)
      throw Error(Errc::segment_missing, name, "no such segment in /dev/shm", err);
    if (err == EACCES || err == EPERM)
      throw Error(Errc::permission_denied, name, "cannot read it (" + owner_text(obj.st) + ")",
                  err);
    if (err == ELOOP || err == ENXIO)
      throw Error(Errc::bad_magic, name, "is not a regular file, left alone", err);
    throw Error(Errc::system, name, "cannot open it: " + errno_text(err), err);
  }
  if (::fstat(obj.fd.get(), &obj.st) != 0)
    throw os_error(name, "cannot stat it");
  if (!S_ISREG(obj.st.st_mode))
    throw Error(Errc::bad_magic, name,
                "is " + std::string(file_kind(obj.st.st_mode)) + ", left alone");
  return obj;
}

/// Reads exactly `n` bytes at `offset`; false when the object ends first (it shrank).
[[nodiscard]] inline bool read_exactly(int fd, void *dst, std::size_t n, std::uint64_t offset) {
  auto *out = static_cast<unsigned char *>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    out += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

[[nodiscard]] inline EndpointInfo endpoint_info(const OwnerLine &line) noexcept {
  // relaxed: `line` is a private copy read with pread; a snapshot for display.
  const std::uint64_t token = line.owner.load(std::memory_order_relaxed);
  return {token == 0 ? 0 : owner_pid(token), token != 0 && owner_alive(token),
          line.closed.load(std::memory_order_relaxed) != 0};
}

/// Reads the segment in `obj` (header, then every control block) without mapping it. Throws
/// Error: not_ready (header not written yet), bad_magic, size_mismatch (too small, or it shrank
/// while being read), layout_mismatch.
[[nodiscard]] inline SegmentInfo read_segment(const ShmObject &obj, const std::string &name) {
  const auto actual = static_cast<std::uint64_t>(obj.st.st_size);
  if (actual == 0)
    throw Error(Errc::not_ready, name,
                "the object has size 0: being created, or its creator died creating it");
  // The magic decides first whether the object is shmpipe's at all: whatever else is wrong
  // with another program's object, it is left alone. A creator sizes the object before it
  // writes anything, so a small one with no magic yet is not a segment being created.
  SegmentHeader h;
  std::memset(static_cast<void *>(&h), 0, sizeof h);
  const std::size_t head = std::min<std::uint64_t>(actual, sizeof h);
  if (!read_exactly(obj.fd.get(), &h, head, 0))
    throw Error(Errc::size_mismatch, name, "the object shrank while its header was read");
  // relaxed: a private copy, read with pread.
  const std::uint64_t magic = h.magic.load(std::memory_order_relaxed);
  if (magic == kSegmentMagic && actual < sizeof(SegmentHeader))
    throw Error(Errc::size_mismatch, name,
                "the object has " + std::to_string(actual) + " bytes, less than a header");
  if (magic == 0 && actual >= sizeof(SegmentHeader))
    throw Error(Errc::not_ready, name,
                "the header is not written yet: being created, or its creator died creating it");
  if (magic != kSegmentMagic)
    throw Error(Errc::bad_magic, name, "not shmpipe's magic, left alone");
  try {
    check_header(h, actual, name);
  } catch (const Error &) {
    // The creator stores the magic last ([sync:magic]), but one pread is not a sequence of
    // ordered loads: it may copy the magic after the creator stored it and another field
    // before the creator wrote it. A creator never rewrites its header once the magic is
    // there, so a second read is final.
    if (!read_exactly(obj.fd.get(), &h, sizeof h, 0))
      throw Error(Errc::size_mismatch, name, "the object shrank while its header was read");
    // relaxed: private copy.
    if (h.magic.load(std::memory_order_relaxed) != kSegmentMagic)
      throw Error(Errc::bad_magic, name, "its magic changed while it was read, left alone");
    check_header(h, actual, name);
  }

  SegmentInfo info;
  info.name = name;
  info.size = actual;
  info.owner_uid = static_cast<std::uint32_t>(obj.st.st_uid);
  info.creator_pid = static_cast<pid_t>(h.creator_pid);
  info.creator_alive = owner_alive(make_owner_token(info.creator_pid, h.creator_start_time));
  // check_header() proved every block below lies inside the object's size as of the fstat; a
  // short read means it was truncated since.
  for (std::uint32_t i = 0; i < h.ring_count; ++i) {
    RingControl c;
    if (!read_exactly(obj.fd.get(), &c, sizeof c, sizeof(SegmentHeader) + i * h.ring_stride))
      throw Error(Errc::size_mismatch, name, "the object shrank while it was read");
    // relaxed: private copy.
    info.rings.push_back({h.ring_capacity, c.producer_index.index.load(std::memory_order_relaxed),
                          c.consumer_index.index.load(std::memory_order_relaxed),
                          endpoint_info(c.producer_owner), endpoint_info(c.consumer_owner),
                          read_stats(c)});
  }
  for (std::uint32_t i = 0; i < h.lane_count; ++i) {
    LaneControl c;
    if (!read_exactly(obj.fd.get(), &c, sizeof c, h.lane_offset + i * h.lane_stride))
      throw Error(Errc::size_mismatch, name, "the object shrank while it was read");
    info.lanes.push_back({h.lane_stride,
                          endpoint_info(c.producer_owner),
                          endpoint_info(c.consumer_owner),
                          {read_side(c.producer_stats), read_side(c.consumer_stats)}});
  }
  return info;
}

[[nodiscard]] inline OwnedFd open_shm_directory() {
  OwnedFd dir(::open(kShmDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0)
    throw os_error(kShmDirectory, "cannot open the directory");
  return dir;
}

/// Names in the shm directory that are valid segment names starting with `prefix`, sorted.
[[nodiscard]] inline std::vector<std::string> segment_names(int dir, std::string_view prefix) {
  std::vector<std::string> names;
  // fdopendir takes the descriptor over: give it its own.
  DIR *stream = ::fdopendir(::dup(dir));
  if (stream == nullptr)
    throw os_error(kShmDirectory, "cannot read the directory");
  while (const dirent *entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (Segment::valid_name(name) && name.substr(0, prefix.size()) == prefix)
      names.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

/// Unlinks `name` if it still refers to the object `judged` was read from. False when the name
/// is gone or now refers to another object, or when a creator or a replacer holds the object's
/// creation lock (docs/LAYOUT.md, "Creating and replacing"): holding that lock while checking
/// and unlinking, as Segment's replacers do, means no one else can unlink this name and put a
/// new object under it in between. Throws Error(permission_denied), Error(system).
inline bool unlink_if_same(int dir, const std::string &name, const ShmObject &judged_object) {
  const struct stat &judged = judged_object.st;
  if (::flock(judged_object.fd.get(), LOCK_EX | LOCK_NB) != 0)
    return false; // being created or replaced right now: not ours to remove
  struct stat now {};
  if (::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return false;
    throw os_error(name, "cannot stat it");
  }
  if (now.st_dev != judged.st_dev || now.st_ino != judged.st_ino)
    return false;
  if (::unlinkat(dir, name.c_str(), 0) != 0) {
    const int err = errno;
    if (err == ENOENT)
      return false;
    if (err == EACCES || err == EPERM)
      throw Error(Errc::permission_denied, name,
                  "cannot remove it (" + owner_text(now) +
                      "; /dev/shm is sticky: only the owner or root may)",
                  err);
    throw Error(Errc::system, name, "cannot remove it: " + errno_text(err), err);
  }
  return true;
}

/// Who keeps the segment alive, for an in_use error.
[[nodiscard]] inline std::string live_users(const SegmentInfo &info) {
  std::string out;
  auto add = [&](const std::string &what, pid_t pid) {
    out += (out.empty() ? "" : ", ") + what + " pid " + std::to_string(pid);
  };
  if (info.creator_alive)
    add("creator", info.creator_pid);
  for (std::size_t i = 0; i < info.rings.size(); ++i) {
    if (info.rings[i].producer.alive)
      add("ring " + std::to_string(i) + " producer", info.rings[i].producer.pid);
    if (info.rings[i].consumer.alive)
      add("ring " + std::to_string(i) + " consumer", info.rings[i].consumer.pid);
  }
  for (std::size_t i = 0; i < info.lanes.size(); ++i) {
    if (info.lanes[i].producer.alive)
      add("lane " + std::to_string(i) + " producer", info.lanes[i].producer.pid);
    if (info.lanes[i].consumer.alive)
      add("lane " + std::to_string(i) + " consumer", info.lanes[i].consumer.pid);
  }
  return out;
}

} // namespace detail

/// Reads what segment `name` holds, without mapping it or allocating any of its memory. Works
/// on any user's segment that this user may read (it only reads). Throws Error: invalid_name;
/// segment_missing; permission_denied; bad_magic (not a regular file, or not shmpipe's);
/// not_ready (its header is not written yet); layout_mismatch, size_mismatch.
[[nodiscard]] inline SegmentInfo inspect_segment(std::string_view name) {
  if (!Segment::valid_name(name))
    throw Error(Errc::invalid_name, std::string(name.substr(0, kMaxNameLength)),
                "not a valid segment name");
  const detail::OwnedFd dir = detail::open_shm_directory();
  const std::string checked(name);
  return detail::read_segment(detail::open_object(dir.get(), checked), checked);
}

/// Every shmpipe segment in /dev/shm whose name starts with `prefix`, in name order. Segments
/// that cannot be read (another layout, no permission to read the object, so that whether it
/// is one cannot be told) are listed with `error` set. Skipped: objects that are not shmpipe's
/// (wrong magic, not regular files), objects whose header is not written yet, and names that
/// disappear while the listing runs.
[[nodiscard]] inline std::vector<SegmentInfo> list_segments(std::string_view prefix = {}) {
  const detail::OwnedFd dir = detail::open_shm_directory();
  std::vector<SegmentInfo> out;
  for (const std::string &name : detail::segment_names(dir.get(), prefix)) {
    try {
      out.push_back(detail::read_segment(detail::open_object(dir.get(), name), name));
    } catch (const Error &e) {
      if (e.code() == Errc::segment_missing || e.code() == Errc::bad_magic ||
          e.code() == Errc::not_ready)
        continue;
      SegmentInfo failed;
      failed.name = name;
      failed.error = e.what();
      struct stat st {};
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        failed.size = static_cast<std::uint64_t>(st.st_size);
        failed.owner_uid = static_cast<std::uint32_t>(st.st_uid);
      }
      out.push_back(std::move(failed));
    }
  }
  return out;
}

struct RemoveOptions {
  /// Also remove a segment that is in use, or whose liveness cannot be judged (header not
  /// written yet, another layout). Never an object that is not shmpipe's.
  bool force = false;
  bool dry_run = false; ///< check everything, remove nothing
};

/// Removes segment `name` when it is stale (SegmentInfo::stale()), or whatever its state with
/// `force`. Throws Error: invalid_name; segment_missing (no such segment, or it went away
/// meanwhile); bad_magic (not a regular file or not shmpipe's: never removed);
/// permission_denied (cannot read or unlink it); in_use (a live creator or endpoint); not_ready,
/// layout_mismatch, size_mismatch (liveness cannot be judged); segment_exists when the name
/// was replaced by another object while it was judged.
inline void remove_segment(std::string_view name, const RemoveOptions &options = {}) {
  if (!Segment::valid_name(name))
    throw Error(Errc::invalid_name, std::string(name.substr(0, kMaxNameLength)),
                "not a valid segment name");
  const std::string checked(name);
  const detail::OwnedFd dir = detail::open_shm_directory();
  const detail::ShmObject obj = detail::open_object(dir.get(), checked);
  try {
    const SegmentInfo info = detail::read_segment(obj, checked);
    if (!info.stale() && !options.force)
      throw Error(Errc::in_use, checked, "in use by " + detail::live_users(info));
  } catch (const Error &e) {
    const bool judgeable = e.code() == Errc::not_ready || e.code() == Errc::layout_mismatch ||
                           e.code() == Errc::size_mismatch;
    if (!(judgeable && options.force))
      throw;
  }
  if (options.dry_run)
    return;
  if (!detail::unlink_if_same(dir.get(), checked, obj)) {
    struct stat now {};
    if (::fstatat(dir.get(), checked.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0)
      throw Error(Errc::segment_missing, checked, "removed by another process meanwhile");
    if (now.st_dev == obj.st.st_dev && now.st_ino == obj.st.st_ino)
      throw Error(Errc::in_use, checked, "being created or replaced by another process now");
    throw Error(Errc::segment_exists, checked,
                "replaced by another object meanwhile (the new one is left alone)");
  }
}

struct SweepOptions {
  std::string prefix;   ///< only segments whose name starts with it (empty: all)
  bool dry_run = false; ///< judge, remove nothing
};

struct SweepResult {
  std::vector<std::string> removed; ///< stale segments removed (dry_run: that would be)
  std::vector<Error> failed;        ///< stale segments that could not be removed, and why
};

/// Removes every stale segment whose name starts with `options.prefix`. Tolerates segments
/// that other processes create, use and remove meanwhile: each is judged twice, from two
/// independent reads, and removed only if both say stale and its name still refers to the
/// object judged. Segments being created (header not written yet) are never stale.
inline SweepResult remove_stale_segments(const SweepOptions &options = {}) {
  const detail::OwnedFd dir = detail::open_shm_directory();
  SweepResult result;
  for (const std::string &name : detail::segment_names(dir.get(), options.prefix)) {
    detail::ShmObject obj;
    try {
      obj = detail::open_object(dir.get(), name);
      // Two reads: a pread of an owner word is not guaranteed to be one 8-byte access, so a
      // word being rewritten could read torn, as a dead process.
      if (!detail::read_segment(obj, name).stale() || !detail::read_segment(obj, name).stale())
        continue;
    } catch (const Error &) {
      // Not a segment, not readable, not complete, or gone: not judged stale, left alone.
      continue;
    }
    try {
      if (options.dry_run || detail::unlink_if_same(dir.get(), name, obj))
        result.removed.push_back(name);
    } catch (const Error &e) {
      result.failed.push_back(e);
    }
  }
  return result;
}

} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of inspect.hpp: listing segments with their endpoints, telling stale ones (creator and
// endpoints dead, as after kill -9) from live ones, and removing only the stale ones; and
// /dev/shm as hostile input: FIFOs, sockets, links, directories, forged sparse and truncated
// files, objects that are not shmpipe's or not readable, and names that come and go meanwhile.
// Every sweep here is limited to this process's own names (own_prefix()): ctest runs tests in
// parallel, and a sweep of everything would remove another test's stale segments.
#include <shmpipe/inspect.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/session.hpp>

#include <algorithm>

#include <sys/mman.h>
#include <sys/stat.h>

#include <sys/file.h>

#include <gtest/gtest.h>

#include "../support/shm_entries.hpp"
#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

const SegmentInfo *find(const std::vector<SegmentInfo> &all, const std::string &name) {
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const SegmentInfo &s) { return s.name == name; });
  return it == all.end() ? nullptr : &*it;
}

/// The prefix of every name test::unique_name() makes in this process.
std::string own_prefix() { return "shmpipe-test-" + std::to_string(::getpid()) + "-"; }

bool contains(const std::vector<std::string> &names, const std::string &name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

Errc inspect_error(const std::string &name) {
  try {
    static_cast<void>(inspect_segment(name));
  } catch (const Error &e) {
    return static_cast<Errc>(e.code().value());
  }
  return Errc{};
}

Errc remove_error(const std::string &name, RemoveOptions options = {}) {
  try {
    remove_segment(name, options);
  } catch (const Error &e) {
    return static_cast<Errc>(e.code().value());
  }
  return Errc{};
}

TEST(InspectTest, LiveSegmentShowsItsEndpointsAndIsNotStale) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096, .rings = 2});
  RingWriter writer(segment, 0);
  RingReader reader(segment, 1);
  ASSERT_EQ(writer.try_write(std::vector<std::byte>(100)), Status::ok);
  const SegmentInfo info = inspect_segment(guard.name());
  EXPECT_EQ(info.creator_pid, ::getpid());
  EXPECT_TRUE(info.creator_alive);
  ASSERT_EQ(info.rings.size(), 2u);
  EXPECT_EQ(info.rings[0].producer.pid, ::getpid());
  EXPECT_TRUE(info.rings[0].producer.alive);
  EXPECT_EQ(info.rings[0].consumer.pid, 0);
  EXPECT_EQ(info.rings[0].stats.producer.records, 1u);
  EXPECT_EQ(info.rings[0].write_index, 128u); // 16-byte header + 100 rounded up to 112
  EXPECT_NEAR(info.rings[0].fill(), 128.0 / 4096.0, 1e-12);
  EXPECT_EQ(info.rings[1].consumer.pid, ::getpid());
  EXPECT_FALSE(info.stale());
  const auto all = list_segments(own_prefix());
  ASSERT_NE(find(all, guard.name()), nullptr);
  EXPECT_TRUE(find(all, guard.name())->error.empty());
}

// What kill -9 leaves behind: a segment whose creator and endpoints are all dead. It is
// listed as stale and removed by remove_stale_segments(); a live one next to it is not.
TEST(InspectTest, SegmentsLeftByKilledProcessesAreStaleAndRemoved) {
  const std::string dead_name = test::unique_name("-dead");
  ScopedRemove dead_guard(dead_name);
  ScopedRemove live_guard(test::unique_name("-live"));
  Segment live = Segment::create(live_guard.name(), {.ring_capacity = 4096});
  test::Child child([&] {
    Segment segment = Segment::create(dead_name, {.ring_capacity = 4096});
    RingWriter writer(segment);
    ::kill(::getpid(), SIGKILL);
    return 0;
  });
  EXPECT_EQ(child.wait(10s), -SIGKILL);
  const SegmentInfo dead = inspect_segment(dead_name);
  EXPECT_FALSE(dead.creator_alive);
  EXPECT_EQ(dead.rings[0].producer.pid, child.pid());
  EXPECT_FALSE(dead.rings[0].producer.alive);
  EXPECT_TRUE(dead.stale());
  const SweepResult swept = remove_stale_segments({.prefix = own_prefix()});
  EXPECT_TRUE(contains(swept.removed, dead_name));
  EXPECT_FALSE(contains(swept.removed, live_guard.name()));
  EXPECT_TRUE(swept.failed.empty());
  EXPECT_THROW(static_cast<void>(Segment::open(dead_name)), Error);
  EXPECT_NO_THROW(static_cast<void>(Segment::open(live_guard.name())));
}

// What `shmpipe ls` shows for a running session: both rings with the core and the worker
// (another process) attached and alive, and the handshake's records counted.
TEST(InspectTest, ALiveSessionShowsCoreAndWorker) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name, {.capacity = 4096});
  test::Child child([&] {
    Worker worker = Worker::attach(name, {.worker_name = "inspected"});
    const Incoming shutdown = worker.receive(10s);
    return !shutdown && worker.shutdown_requested() ? 0 : 1;
  });
  core.await_ready(10s);
  const SegmentInfo info = inspect_segment(name);
  ASSERT_EQ(info.rings.size(), 2u);
  EXPECT_TRUE(info.creator_alive);
  EXPECT_EQ(info.rings[0].producer.pid, ::getpid()); // requests: core -> worker
  EXPECT_EQ(info.rings[0].consumer.pid, child.pid());
  EXPECT_TRUE(info.rings[0].consumer.alive);
  EXPECT_EQ(info.rings[1].producer.pid, child.pid()); // responses: worker -> core
  EXPECT_EQ(info.rings[1].consumer.pid, ::getpid());
  EXPECT_EQ(info.rings[1].stats.producer.records, 1u); // the Ready
  EXPECT_FALSE(info.stale());
  ASSERT_EQ(core.shutdown("inspected", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(InspectTest, OtherObjectsInDevShmAreLeftAlone) {
  const std::string name = test::unique_name("-foreign");
  const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "not a segment", 13), 13);
  ::close(fd);
  EXPECT_EQ(inspect_error(name), Errc::bad_magic);
  EXPECT_EQ(find(list_segments(own_prefix()), name), nullptr);
  static_cast<void>(remove_stale_segments({.prefix = own_prefix()}));
  EXPECT_EQ(remove_error(name, {.force = true}), Errc::bad_magic); // never, whatever the options
  EXPECT_EQ(::access(("/dev/shm/" + name).c_str(), F_OK), 0);      // still there
  ::shm_unlink(("/" + name).c_str());
}

// A sweep removes only names with its prefix: tests (and tools) that share a machine must not
// remove each other's stale segments.
TEST(InspectTest, SweepRemovesOnlyNamesWithItsPrefix) {
  test::ShmEntry mine(own_prefix() + "sweep-mine");
  test::ShmEntry other(own_prefix() + "sweep-other");
  ASSERT_TRUE(test::forge_segment(mine.name(), test::valid_header(4096), 128 + 384 + 4096));
  ASSERT_TRUE(test::forge_segment(other.name(), test::valid_header(4096), 128 + 384 + 4096));
  EXPECT_TRUE(inspect_segment(mine.name()).stale());
  EXPECT_TRUE(inspect_segment(other.name()).stale());
  const SweepResult dry = remove_stale_segments({.prefix = mine.name(), .dry_run = true});
  EXPECT_EQ(dry.removed, std::vector<std::string>{mine.name()});
  EXPECT_TRUE(mine.exists());
  const SweepResult swept = remove_stale_segments({.prefix = mine.name()});
  EXPECT_EQ(swept.removed, std::vector<std::string>{mine.name()});
  EXPECT_FALSE(mine.exists());
  EXPECT_TRUE(other.exists());
}

// A FIFO, a socket, a symbolic link (to a valid stale segment) and a directory, each with a
// segment-like name: listing skips them without blocking (opening a FIFO for reading blocks
// until a writer comes), nothing removes them, and inspecting one says what it is.
TEST(InspectTest, EntriesThatAreNotRegularFilesAreSkippedWithoutBlocking) {
  const std::string prefix = own_prefix() + "odd-";
  test::ShmEntry fifo(prefix + "fifo"), dir(prefix + "dir"), link(prefix + "link"),
      sock(prefix + "sock");
  const std::string target = "/tmp/" + link.name() + "-target";
  ::unlink(target.c_str());
  ASSERT_EQ(::mkfifo(fifo.path().c_str(), 0666), 0);
  ASSERT_EQ(::mkdir(dir.path().c_str(), 0777), 0);
  ASSERT_TRUE(test::forge_file(target, test::valid_header(4096), 128 + 384 + 4096));
  ASSERT_EQ(::symlink(target.c_str(), link.path().c_str()), 0);
  test::ShmSocket socket(sock.name());
  ASSERT_TRUE(socket.bound());
  // In a child with a time limit: a hang fails the test instead of blocking it forever.
  test::Child child([&] {
    if (!list_segments(prefix).empty())
      return 1;
    for (const std::string &name : {fifo.name(), dir.name(), link.name(), sock.name()}) {
      if (inspect_error(name) != Errc::bad_magic)
        return 2;
      if (remove_error(name, {.force = true}) != Errc::bad_magic)
        return 3;
    }
    const SweepResult swept = remove_stale_segments({.prefix = prefix});
    return swept.removed.empty() && swept.failed.empty() ? 0 : 4;
  });
  EXPECT_EQ(child.wait(60s), 0);
  EXPECT_TRUE(fifo.exists() && dir.exists() && link.exists() && sock.exists());
  EXPECT_EQ(::access(target.c_str(), F_OK), 0);
  ::unlink(target.c_str());
}

// A forged header over a sparse 1 GiB file: inspecting, listing and judging it allocate none
// of its pages (a mapping would fault them in; prefaulting would fill a small /dev/shm).
TEST(InspectTest, ASparseForgedSegmentGetsNoPagesAllocated) {
  test::ShmEntry sparse(own_prefix() + "sparse");
  const std::uint64_t capacity = std::uint64_t{1} << 30;
  ASSERT_TRUE(
      test::forge_segment(sparse.name(), test::valid_header(capacity), 128 + 384 + capacity));
  const std::uint64_t before = sparse.blocks();
  ASSERT_LE(before, 64u); // the header's page only (512-byte blocks)
  const SegmentInfo info = inspect_segment(sparse.name());
  EXPECT_EQ(info.size, 128 + 384 + capacity);
  ASSERT_EQ(info.rings.size(), 1u);
  EXPECT_EQ(info.rings[0].capacity, capacity);
  EXPECT_TRUE(info.stale());
  ASSERT_NE(find(list_segments(own_prefix()), sparse.name()), nullptr);
  EXPECT_EQ(remove_stale_segments({.prefix = own_prefix(), .dry_run = true}).removed,
            std::vector<std::string>{sparse.name()});
  EXPECT_EQ(sparse.blocks(), before);
}

// Files that have shmpipe's magic but do not hold what their header says: listed with the
// reason, never judged stale, removed only on request.
TEST(InspectTest, TruncatedAndMisshapenSegmentsAreReportedNotSwept) {
  test::ShmEntry truncated(own_prefix() + "bad-truncated"), tiny(own_prefix() + "bad-tiny"),
      geometry(own_prefix() + "bad-geometry");
  ASSERT_TRUE(test::forge_segment(truncated.name(), test::valid_header(4096), 128 + 384));
  ASSERT_TRUE(test::forge_segment(tiny.name(), test::valid_header(4096), 100));
  detail::SegmentHeader h = test::valid_header(4096);
  h.ring_capacity = 1000; // not a power of two
  ASSERT_TRUE(test::forge_segment(geometry.name(), h, 128 + 384 + 4096));
  EXPECT_EQ(inspect_error(truncated.name()), Errc::size_mismatch);
  EXPECT_EQ(inspect_error(tiny.name()), Errc::size_mismatch);
  EXPECT_EQ(inspect_error(geometry.name()), Errc::layout_mismatch);
  const auto all = list_segments(own_prefix());
  for (const test::ShmEntry *e : {&truncated, &tiny, &geometry}) {
    const SegmentInfo *info = find(all, e->name());
    ASSERT_NE(info, nullptr) << e->name();
    EXPECT_FALSE(info->error.empty());
    EXPECT_FALSE(info->stale());
  }
  EXPECT_TRUE(remove_stale_segments({.prefix = own_prefix()}).removed.empty());
  EXPECT_EQ(remove_error(truncated.name()), Errc::size_mismatch);
  EXPECT_TRUE(truncated.exists());
  EXPECT_EQ(remove_error(truncated.name(), {.force = true}), Errc{});
  EXPECT_FALSE(truncated.exists());
}

// An object whose header is not written yet (size 0 before ftruncate, or magic still 0) may be
// a segment being created right now: not listed, never swept, removed only with force.
TEST(InspectTest, ASegmentBeingCreatedIsNeverStale) {
  test::ShmEntry empty(own_prefix() + "new-empty"), unmagic(own_prefix() + "new-nomagic");
  ASSERT_TRUE(test::forge_segment(empty.name(), test::valid_header(4096), 0));
  detail::SegmentHeader h = test::valid_header(4096);
  h.magic.store(0, std::memory_order_relaxed);
  ASSERT_TRUE(test::forge_segment(unmagic.name(), h, 128 + 384 + 4096));
  for (const test::ShmEntry *e : {&empty, &unmagic}) {
    EXPECT_EQ(inspect_error(e->name()), Errc::not_ready);
    EXPECT_EQ(find(list_segments(own_prefix()), e->name()), nullptr);
    EXPECT_EQ(remove_error(e->name()), Errc::not_ready);
  }
  EXPECT_TRUE(remove_stale_segments({.prefix = own_prefix()}).removed.empty());
  EXPECT_TRUE(empty.exists() && unmagic.exists());
  EXPECT_EQ(remove_error(empty.name(), {.force = true}), Errc{});
  EXPECT_FALSE(empty.exists());
}

TEST(InspectTest, ALiveSegmentIsRemovedOnlyWithForce) {
  ScopedRemove guard(test::unique_name());
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096});
  try {
    remove_segment(guard.name());
    ADD_FAILURE() << "a live segment was removed";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::in_use);
    EXPECT_NE(std::string(e.what()).find("creator pid " + std::to_string(::getpid())),
              std::string::npos)
        << e.what();
  }
  remove_segment(guard.name(), {.force = true, .dry_run = true});
  EXPECT_EQ(::access(test::shm_path(guard.name()).c_str(), F_OK), 0);
  remove_segment(guard.name(), {.force = true});
  EXPECT_NE(::access(test::shm_path(guard.name()).c_str(), F_OK), 0);
}

TEST(InspectTest, RemovingAMissingSegmentSaysNoSuchSegment) {
  const std::string name = test::unique_name("-missing");
  try {
    remove_segment(name);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::segment_missing);
    EXPECT_NE(std::string(e.what()).find("no such segment"), std::string::npos) << e.what();
  }
  EXPECT_EQ(remove_error("../etc/passwd"), Errc::invalid_name);
}

// A segment this user may not read (another user's 0600 object; as root, checked from a child
// that became nobody): listed as unreadable with "permission denied", never swept, and
// inspecting or removing it says so.
TEST(InspectTest, AnUnreadableSegmentSaysPermissionDenied) {
  const std::string prefix = own_prefix() + "locked";
  test::ShmEntry locked(prefix);
  const mode_t mode = ::geteuid() == 0 ? 0600 : 0000; // a non-root owner cannot read mode 000
  ASSERT_TRUE(test::forge_segment(locked.name(), test::valid_header(4096), 128 + 384 + 4096, mode));
  test::Child child([&] {
    if (!test::become_unprivileged())
      return 77;
    const auto all = list_segments(prefix);
    const SegmentInfo *info = find(all, locked.name());
    if (info == nullptr || info->error.find("permission denied") == std::string::npos ||
        info->stale())
      return 1;
    if (inspect_error(locked.name()) != Errc::permission_denied)
      return 2;
    if (remove_error(locked.name(), {.force = true}) != Errc::permission_denied)
      return 3;
    return remove_stale_segments({.prefix = prefix}).removed.empty() ? 0 : 4;
  });
  const int code = child.wait(60s);
  if (code == 77)
    GTEST_SKIP() << "running as root and cannot setuid(nobody) here";
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(locked.exists());
}

// Another user's stale segment that this user may read but not unlink (/dev/shm is sticky):
// the sweep reports it as failed with permission_denied instead of skipping it silently. Needs
// a second user: run as root, checked from a child that became nobody.
TEST(InspectTest, AStaleSegmentThatCannotBeUnlinkedIsReported) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root, to own a segment that the child (nobody) may read only";
  const std::string prefix = own_prefix() + "foreign-stale";
  test::ShmEntry stale(prefix);
  ASSERT_TRUE(test::forge_segment(stale.name(), test::valid_header(4096), 128 + 384 + 4096, 0644));
  test::Child child([&] {
    if (!test::become_unprivileged())
      return 77;
    if (!inspect_segment(stale.name()).stale())
      return 1;
    const SweepResult swept = remove_stale_segments({.prefix = prefix});
    if (!swept.removed.empty() || swept.failed.size() != 1 ||
        swept.failed[0].code() != Errc::permission_denied ||
        swept.failed[0].segment() != stale.name())
      return 2;
    return remove_error(stale.name()) == Errc::permission_denied ? 0 : 3;
  });
  const int code = child.wait(60s);
  if (code == 77)
    GTEST_SKIP() << "running as root and cannot setuid(nobody) here";
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(stale.exists());
}

// The name is replaced by a new segment between the judgment and the unlink (a restarted
// creator with replace_abandoned): the new one is left alone.
TEST(InspectTest, ANameReplacedAfterItWasJudgedIsNotRemoved) {
  test::ShmEntry entry(own_prefix() + "replaced");
  ASSERT_TRUE(test::forge_segment(entry.name(), test::valid_header(4096), 128 + 384 + 4096));
  const detail::OwnedFd dir = detail::open_shm_directory();
  const detail::ShmObject judged = detail::open_object(dir.get(), entry.name());
  ASSERT_TRUE(detail::read_segment(judged, entry.name()).stale());
  Segment replacement =
      Segment::create(entry.name(), {.ring_capacity = 4096, .replace_abandoned = true});
  EXPECT_FALSE(detail::unlink_if_same(dir.get(), entry.name(), judged));
  EXPECT_NO_THROW(static_cast<void>(Segment::open(entry.name())));
}

// A creator or replacer holds the object's creation lock while it works on the name
// (docs/LAYOUT.md, "Creating and replacing"): a sweep that judged the object stale leaves it
// alone while the lock is held, and removes it once it is released.
TEST(InspectTest, AnObjectUnderItsCreationLockIsNotRemoved) {
  test::ShmEntry entry(own_prefix() + "locked");
  ASSERT_TRUE(test::forge_segment(entry.name(), test::valid_header(4096), 128 + 384 + 4096));
  const detail::OwnedFd dir = detail::open_shm_directory();
  const detail::ShmObject judged = detail::open_object(dir.get(), entry.name());
  ASSERT_TRUE(detail::read_segment(judged, entry.name()).stale());
  const detail::ShmObject holder = detail::open_object(dir.get(), entry.name());
  ASSERT_EQ(::flock(holder.fd.get(), LOCK_EX | LOCK_NB), 0);
  EXPECT_FALSE(detail::unlink_if_same(dir.get(), entry.name(), judged));
  EXPECT_TRUE(entry.exists());
  ASSERT_EQ(::flock(holder.fd.get(), LOCK_UN), 0);
  EXPECT_TRUE(detail::unlink_if_same(dir.get(), entry.name(), judged));
  EXPECT_FALSE(entry.exists());
}

// Other processes create, fill and remove segments while sweeps and listings run: every
// listing shows each name either whole or not at all, no live or half-created segment is
// removed, and every stale one is.
TEST(InspectTest, SweepsTolerateSegmentsComingAndGoing) {
  const std::string prefix = own_prefix() + "churn-";
  constexpr int kRounds = 150;
  // Creates, fills and removes live segments; fails if one disappears while it owns it.
  test::Child live([&] {
    for (int i = 0; i < kRounds; ++i) {
      const std::string name = prefix + "live-" + std::to_string(i);
      Segment segment = Segment::create(name, {.ring_capacity = 4096});
      RingWriter writer(segment);
      if (writer.try_write(std::vector<std::byte>(64)) != Status::ok)
        return 2;
      struct stat st {};
      if (::stat(test::shm_path(name).c_str(), &st) != 0)
        return 1; // removed under a live creator
      Segment::remove(name);
    }
    return 0;
  });
  // Leaves stale segments (its children die without cleaning up) and half-created objects.
  test::Child dying([&] {
    for (int i = 0; i < kRounds; ++i) {
      const std::string name = prefix + "dead-" + std::to_string(i);
      test::Child creator([&] {
        Segment segment = Segment::create(name, {.ring_capacity = 4096});
        ::_exit(0);
        return 0;
      });
      if (creator.wait(30s) != 0)
        return 1;
      if (i % 10 == 0 &&
          !test::forge_segment(prefix + "half-" + std::to_string(i), test::valid_header(4096), 0))
        return 2;
    }
    return 0;
  });
  // Until both have finished (exited: a zombie counts as finished), or a bound on rounds.
  const auto running = [](pid_t pid) {
    const detail::ProcessInfo p = detail::read_process(pid);
    return p.start != 0 && p.state != 'Z';
  };
  std::string bad;
  for (int round = 0;
       bad.empty() && round < 200000 && (running(live.pid()) || running(dying.pid())); ++round) {
    for (const SegmentInfo &info : list_segments(prefix))
      if (!info.error.empty())
        bad = info.name + ": " + info.error;
    static_cast<void>(remove_stale_segments({.prefix = prefix}));
  }
  EXPECT_EQ(bad, "");
  EXPECT_EQ(live.wait(120s), 0);
  EXPECT_EQ(dying.wait(120s), 0);
  const SweepResult last = remove_stale_segments({.prefix = prefix});
  EXPECT_TRUE(last.failed.empty());
  // What is left: the half-created objects only (never stale), which are removed here.
  const detail::OwnedFd dir = detail::open_shm_directory();
  int half = 0;
  for (const std::string &name : detail::segment_names(dir.get(), prefix)) {
    EXPECT_EQ(name.rfind(prefix + "half-", 0), 0u) << name << " left behind";
    half += name.rfind(prefix + "half-", 0) == 0 ? 1 : 0;
    ::unlink(test::shm_path(name).c_str());
  }
  EXPECT_EQ(half, kRounds / 10);
}

} // namespace
} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of inspect.hpp: listing segments with their endpoints, telling stale ones (creator and
// endpoints dead, as after kill -9) from live ones, and removing only the stale ones.
#include <shmpipe/inspect.hpp>
#include <shmpipe/ring.hpp>
#include <shmpipe/session.hpp>

#include <algorithm>

#include <sys/mman.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

const SegmentInfo *find(const std::vector<SegmentInfo> &all, const std::string &name) {
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const SegmentInfo &s) { return s.name == name; });
  return it == all.end() ? nullptr : &*it;
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
  const auto all = list_segments();
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
  const std::vector<std::string> removed = remove_stale_segments();
  EXPECT_NE(std::find(removed.begin(), removed.end(), dead_name), removed.end());
  EXPECT_EQ(std::find(removed.begin(), removed.end(), live_guard.name()), removed.end());
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
    return shutdown && shutdown.is<schema::Envelope>() ? 0 : 1;
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
  EXPECT_FALSE(detail::has_segment_magic(name));
  EXPECT_EQ(find(list_segments(), name), nullptr);
  static_cast<void>(remove_stale_segments());
  EXPECT_EQ(::access(("/dev/shm/" + name).c_str(), F_OK), 0); // still there
  ::shm_unlink(("/" + name).c_str());
}

} // namespace
} // namespace shmpipe

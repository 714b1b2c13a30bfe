// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of detail/death_alarm.hpp: a sleeper on a futex word is woken when a watched process
// exits, in this process and in a child forked after the alarm's thread started; running out
// of slots or a bad descriptor degrade to "not armed", never to a crash.
#include <shmpipe/detail/death_alarm.hpp>

#include <chrono>
#include <csignal>
#include <future>
#include <vector>

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// A child that waits to be killed, and a pidfd for it.
struct Victim {
  test::Child child{[] {
    ::pause();
    return 0;
  }};
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid(), 0));
  ~Victim() {
    if (pidfd >= 0)
      ::close(pidfd);
  }
};

/// Arms the alarm for `victim`, kills it from another thread while this one sleeps on a word
/// nobody writes, and returns how long the sleep lasted (the limit is a minute).
Clock::duration sleep_through_death(Victim &victim) {
  SharedAtomic<std::uint32_t> word{};
  DeathAlarm &alarm = DeathAlarm::instance();
  const DeathAlarm::Handle armed = alarm.arm(victim.pidfd, word);
  EXPECT_NE(armed, 0u);
  auto killer = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(50ms);
    ::kill(victim.child.pid(), SIGKILL);
  });
  const auto start = Clock::now();
  // A wake may be spurious: sleep again unless the process is gone.
  for (;;) {
    futex_wait(word, 0, Clock::now() + 60s);
    pollfd pfd{victim.pidfd, POLLIN, 0};
    if (::poll(&pfd, 1, 0) > 0 || Clock::now() - start > 60s)
      break;
  }
  const auto slept = Clock::now() - start;
  alarm.disarm(armed);
  killer.get();
  return slept;
}

TEST(DeathAlarmTest, WakesASleeperWhenTheWatchedProcessExits) {
  Victim victim;
  ASSERT_GE(victim.pidfd, 0) << "pidfd_open needs Linux 5.3";
  EXPECT_LT(sleep_through_death(victim), 30s) << "woken by the alarm, not by the 60 s limit";
  EXPECT_EQ(victim.child.wait(10s), -SIGKILL);
}

TEST(DeathAlarmTest, WakesAgainUntilDisarmedSoALateSleeperIsNotLost) {
  // The process is dead before the sleep starts: the repeated wakes (every millisecond until
  // disarm) still end a futex_wait entered afterwards.
  Victim victim;
  ASSERT_GE(victim.pidfd, 0);
  SharedAtomic<std::uint32_t> word{};
  DeathAlarm &alarm = DeathAlarm::instance();
  const DeathAlarm::Handle armed = alarm.arm(victim.pidfd, word);
  ASSERT_NE(armed, 0u);
  ::kill(victim.child.pid(), SIGKILL);
  std::this_thread::sleep_for(100ms); // the alarm has fired by now
  const auto start = Clock::now();
  futex_wait(word, 0, Clock::now() + 60s);
  EXPECT_LT(Clock::now() - start, 30s);
  alarm.disarm(armed);
  alarm.disarm(armed); // twice: harmless
}

TEST(DeathAlarmTest, WorksInAChildForkedAfterItsThreadStarted) {
  if (kThreadSanitizer)
    GTEST_SKIP() << "TSan forbids threads after a fork; the alarm stands down there";
  {
    Victim warm_up; // starts the alarm's thread in this process
    ASSERT_GE(warm_up.pidfd, 0);
    static_cast<void>(sleep_through_death(warm_up));
  }
  test::Child child([] {
    Victim victim; // a grandchild
    if (victim.pidfd < 0)
      return 1;
    return sleep_through_death(victim) < 30s ? 0 : 2;
  });
  EXPECT_EQ(child.wait(120s), 0);
}

TEST(DeathAlarmTest, BadDescriptorsAndFullTablesAreNotArmed) {
  SharedAtomic<std::uint32_t> word{};
  DeathAlarm &alarm = DeathAlarm::instance();
  EXPECT_EQ(alarm.arm(-1, word), 0u);
  EXPECT_EQ(alarm.arm(1 << 20, word), 0u) << "not an open descriptor";
  alarm.disarm(0);
  alarm.disarm(~DeathAlarm::Handle{0}); // garbage: ignored

  // Every slot armed (one pidfd each, for this very process), then one more.
  std::vector<int> fds;
  std::vector<DeathAlarm::Handle> handles;
  for (std::uint32_t i = 0; i < DeathAlarm::kSlots; ++i) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    handles.push_back(alarm.arm(fd, word));
    ASSERT_NE(handles.back(), 0u) << i;
  }
  const int extra = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  EXPECT_EQ(alarm.arm(extra, word), 0u) << "table full: not armed, the caller polls";
  for (DeathAlarm::Handle h : handles)
    alarm.disarm(h);
  const DeathAlarm::Handle again = alarm.arm(extra, word);
  EXPECT_NE(again, 0u) << "slots come back";
  alarm.disarm(again);
  for (int fd : fds)
    ::close(fd);
  ::close(extra);
}

} // namespace
} // namespace shmpipe::detail

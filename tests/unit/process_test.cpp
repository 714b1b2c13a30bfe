// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of detail/process.hpp: process identity and liveness, including pid reuse and garbage
// owner words (they come from the untrusted peer).
#include <shmpipe/detail/process.hpp>

#include <csignal>

#include <sys/wait.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe::detail {
namespace {

TEST(ProcessTest, StartTimeOfThisProcessIsKnownAndStable) {
  const std::uint64_t start = process_start_time(::getpid());
  EXPECT_GT(start, 0u);
  EXPECT_EQ(process_start_time(::getpid()), start);
  EXPECT_EQ(process_start_time(0x3fffffff), 0u) << "no such process";
}

TEST(ProcessTest, OwnerTokenPacksPidAndStartTime) {
  const std::uint64_t token = make_owner_token(1234, 0x1'2345'6789ULL);
  EXPECT_EQ(owner_pid(token), 1234);
  EXPECT_EQ(token & 0xffffffffULL, 0x2345'6789ULL);
}

TEST(ProcessTest, ThisProcessIsAlive) { EXPECT_TRUE(owner_alive(self_owner_token())); }

TEST(ProcessTest, SamePidWithAnotherStartTimeIsAReusedPid) {
  const std::uint64_t token = self_owner_token();
  EXPECT_FALSE(owner_alive(token ^ 1));
}

TEST(ProcessTest, ExitedProcessIsDead) {
  std::uint64_t token = 0;
  {
    test::Child child([] {
      ::pause();
      return 0;
    });
    // Its start time can be read while it runs.
    for (int i = 0; i < 1000 && token == 0; ++i) {
      const std::uint64_t start = process_start_time(child.pid());
      if (start != 0)
        token = make_owner_token(child.pid(), start);
    }
    ASSERT_NE(token, 0u);
    EXPECT_TRUE(owner_alive(token));
    child.kill_now();
  }
  EXPECT_FALSE(owner_alive(token));
}

/// A forked child that waits to be killed (the caller kills and reaps it), and its owner token.
struct PausedChild {
  pid_t pid;
  std::uint64_t token;
};

PausedChild fork_paused_child() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  std::uint64_t start = 0;
  for (int i = 0; i < 10000 && pid > 0 && start == 0; ++i)
    start = process_start_time(pid);
  return {pid, make_owner_token(pid, start)};
}

// A crashed child that its parent has not reaped yet is a zombie: dead, although kill(pid, 0)
// still succeeds and its start time is still readable.
TEST(ProcessTest, ZombieIsDead) {
  const auto [pid, token] = fork_paused_child();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(owner_alive(token));
  ::kill(pid, SIGKILL);
  // Wait until it is a zombie (not reaped: no waitpid yet).
  for (int i = 0; i < 10000 && read_process(pid).state != 'Z'; ++i)
    ::usleep(100);
  EXPECT_EQ(read_process(pid).state, 'Z');
  EXPECT_EQ(::kill(pid, 0), 0) << "a zombie still answers kill(pid, 0)";
  EXPECT_FALSE(owner_alive(token));
  ::waitpid(pid, nullptr, 0);
}

TEST(PeerWatchTest, SeesAChildDieWithoutBeingReaped) {
  const auto [pid, token] = fork_paused_child();
  ASSERT_GT(pid, 0);
  PeerWatch watch;
  EXPECT_FALSE(watch.dead(token));
  EXPECT_FALSE(watch.dead(token)); // the cheap path
  ::kill(pid, SIGKILL);
  bool dead = false;
  for (int i = 0; i < 10000 && !dead; ++i) {
    dead = watch.dead(token);
    if (!dead)
      ::usleep(100);
  }
  EXPECT_TRUE(dead) << "not reaped yet, and still seen dead";
  ::waitpid(pid, nullptr, 0);
}

TEST(PeerWatchTest, NobodyIsNotDeadAndAReusedPidIs) {
  PeerWatch watch;
  EXPECT_FALSE(watch.dead(0));
  EXPECT_FALSE(watch.dead(self_owner_token()));
  EXPECT_TRUE(watch.dead(self_owner_token() ^ 1)) << "same pid, other start time";
  EXPECT_TRUE(watch.dead(make_owner_token(0x3ffffff0, 1)));
  PeerWatch moved = std::move(watch);
  EXPECT_TRUE(moved.dead(make_owner_token(0x3ffffff0, 1)));
}

TEST(ProcessTest, GarbageTokensAreNotAlive) {
  EXPECT_FALSE(owner_alive(0));
  EXPECT_FALSE(owner_alive(0xffffffff00000000ULL)); // pid -1 would mean "every process"
  EXPECT_FALSE(owner_alive(0x8000000000000000ULL)); // negative pid: a process group
  EXPECT_FALSE(owner_alive(0x3fffffff00000000ULL)); // beyond pid_max
}

} // namespace
} // namespace shmpipe::detail

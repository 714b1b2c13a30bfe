// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of detail/process.hpp: process identity and liveness, including pid reuse and garbage
// owner words (they come from the untrusted peer).
#include <shmpipe/detail/process.hpp>

#include <csignal>
#include <vector>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

// A process whose main thread called pthread_exit while another thread goes on working shows
// state Z in /proc/PID/stat (the kernel keeps the thread-group leader until the last thread
// exits), and kill(pid, 0) succeeds: it is alive, and must not lose its role to a second
// process. It dies only when its last thread does.
TEST(ProcessTest, AProcessWhoseMainThreadExitedIsAliveUntilItsLastThreadExits) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    pthread_t worker;
    // The worker keeps the process alive until the parent closes the pipe, then exits it.
    static int read_end = -1;
    read_end = go[0];
    if (::pthread_create(
            &worker, nullptr,
            [](void *) -> void * {
              char c;
              while (::read(read_end, &c, 1) > 0) {
              }
              ::_exit(0);
            },
            nullptr) != 0)
      ::_exit(3);
    // What pthread_exit() does to the main thread, without unwinding through the test
    // framework's frames (it would catch the unwind and abort the process).
    ::syscall(SYS_exit, 0);
  }
  ASSERT_GT(pid, 0);
  ::close(go[0]);
  std::uint64_t start = 0;
  for (int i = 0; i < 10000 && start == 0; ++i)
    start = process_start_time(pid);
  const std::uint64_t token = make_owner_token(pid, start);
  // Wait until the main thread is gone: the leader shows Z.
  for (int i = 0; i < 10000 && read_process(pid).state != 'Z'; ++i)
    ::usleep(100);
  EXPECT_EQ(read_process(pid).state, 'Z') << "the main thread did not exit";
  EXPECT_TRUE(owner_alive(token)) << "a live process with an exited main thread";
  PeerWatch watch;
  EXPECT_FALSE(watch.dead(token));
  EXPECT_FALSE(watch.dead(token)); // the pidfd path agrees
  ::close(go[1]);                  // the worker exits the process
  bool dead = false;
  for (int i = 0; i < 10000 && !dead; ++i) {
    dead = watch.dead(token);
    if (!dead)
      ::usleep(100);
  }
  EXPECT_TRUE(dead);
  EXPECT_FALSE(owner_alive(token)) << "a zombie (not reaped yet) with no thread left";
  ::waitpid(pid, nullptr, 0);
}

// A claimer that cannot read its own /proc/self/stat (no /proc in its sandbox, or no file
// descriptor left) has no start time to store. It must not be judged dead by those that can
// read /proc: its token says "start time unknown" and it is judged by kill(pid, 0) alone.
TEST(ProcessTest, AHolderWithoutAKnownStartTimeIsJudgedByItsPid) {
  const std::uint64_t unknown = make_owner_token(::getpid(), 0);
  EXPECT_EQ(unknown & 0xffffffffULL, 0u);
  EXPECT_TRUE(owner_alive(unknown)) << "a live process that could not read its start time";
  EXPECT_FALSE(owner_alive(make_owner_token(0x3ffffff0, 0))) << "no such process";
  // A real start time whose low half is 0 is not taken for "unknown".
  EXPECT_NE(make_owner_token(1234, 0x1'0000'0000ULL) & 0xffffffffULL, 0u);
}

// Out of file descriptors when it claims: the start time was read once already and is
// remembered, so the claim still carries it.
TEST(ProcessTest, OwnTokenNeedsNoFileDescriptorOnceKnown) {
  const std::uint64_t token = self_owner_token();
  ASSERT_NE(token & 0xffffffffULL, 0u);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> hogs;
  for (int fd = ::dup(0); fd >= 0; fd = ::dup(0))
    hogs.push_back(fd);
  const bool exhausted = errno == EMFILE;
  const std::uint64_t again = self_owner_token();
  for (const int fd : hogs)
    ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(exhausted);
  EXPECT_EQ(again, token);
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

// A stray write zeroes the owner word while its holder runs; then the holder exits. "Nobody
// holds it" must not hide that death: the holder seen last is still judged (and its pidfd is
// only armed while it is judged alive). A clean detach is forgotten with forget().
TEST(PeerWatchTest, AHolderWhoseWordWasZeroedIsStillSeenToDie) {
  const auto [pid, token] = fork_paused_child();
  ASSERT_GT(pid, 0);
  PeerWatch watch;
  EXPECT_FALSE(watch.dead(token));
  EXPECT_FALSE(watch.dead(0)) << "word zeroed, holder still running";
  EXPECT_GE(watch.fd(), 0) << "its pidfd stays watched";
  ::kill(pid, SIGKILL);
  bool dead = false;
  for (int i = 0; i < 10000 && !dead; ++i) {
    dead = watch.dead(0);
    if (!dead)
      ::usleep(100);
  }
  EXPECT_TRUE(dead) << "the zeroed word hid the holder's death";
  EXPECT_EQ(watch.fd(), -1) << "a dead holder's pidfd must not stay armed";
  ::waitpid(pid, nullptr, 0);
}

TEST(PeerWatchTest, AForgottenHolderIsNotJudged) {
  PeerWatch watch;
  EXPECT_TRUE(watch.dead(make_owner_token(0x3ffffff0, 1)));
  EXPECT_TRUE(watch.dead(0)) << "the holder seen last";
  watch.forget(); // it detached cleanly
  EXPECT_FALSE(watch.dead(0)) << "forgotten: nobody to judge";
  EXPECT_EQ(watch.fd(), -1);
}

TEST(ProcessTest, GarbageTokensAreNotAlive) {
  EXPECT_FALSE(owner_alive(0));
  EXPECT_FALSE(owner_alive(0xffffffff00000000ULL)); // pid -1 would mean "every process"
  EXPECT_FALSE(owner_alive(0x8000000000000000ULL)); // negative pid: a process group
  EXPECT_FALSE(owner_alive(0x3fffffff00000000ULL)); // beyond pid_max
}

} // namespace
} // namespace shmpipe::detail

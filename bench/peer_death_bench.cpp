// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// How long a blocked endpoint takes to learn that its peer process died, and what an idle
// blocked endpoint costs: the two sides of the death alarm (detail/death_alarm.hpp).
//
//   peer_death_bench [--rounds N] [--idle-seconds S]
//
// Detection: a consumer sleeps in peek() on a channel whose producer (a child that sent one
// record, then pauses) is SIGKILLed by a helper thread 50 ms later; the latency runs from just
// before kill() to peek() returning peer_dead. Once with the default liveness interval
// (500 ms) and once with one hour, so that only the alarm can end the sleep. Then the reverse:
// a producer sleeping in reserve() on a full ring while its consumer child is killed.
// Idle: a consumer blocked for S seconds on a live, silent producer: CPU time of this whole
// process (the alarm's thread included) over the window, and the futex sleeps it entered.
#include <shmpipe/channel.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using shmpipe::Clock;

struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

std::string name_for(const char *what, int round) {
  return "shmpipe-bench-death-" + std::to_string(::getpid()) + "-" + what + "-" +
         std::to_string(round);
}

/// Forks a child running `body` (never returns in the child); the parent gets its pid once
/// the child wrote a byte to the pipe (it is attached).
template <class Body> pid_t fork_attached(Body body) {
  int ready[2];
  if (::pipe(ready) != 0)
    std::exit(3);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    body(ready[1]);
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  if (::read(ready[0], &byte, 1) != 1) {
    std::fprintf(stderr, "child failed to attach\n");
    std::exit(3);
  }
  ::close(ready[0]);
  return pid;
}

double kill_and_time(pid_t pid, const std::function<shmpipe::Status()> &wait) {
  auto killed = std::async(std::launch::async, [pid] {
    std::this_thread::sleep_for(50ms); // the waiter sleeps by now (spin 50 us, yield 200 us)
    const Clock::time_point at = Clock::now();
    ::kill(pid, SIGKILL);
    return at;
  });
  const shmpipe::Status status = wait();
  const Clock::time_point noticed = Clock::now();
  if (status != shmpipe::Status::peer_dead) {
    std::fprintf(stderr, "expected peer_dead, got %s\n",
                 std::string(shmpipe::to_string(status)).c_str());
    std::exit(4);
  }
  return std::chrono::duration<double, std::micro>(noticed - killed.get()).count();
}

double consumer_notices(int round, std::chrono::milliseconds interval) {
  const std::string name = name_for("c", round);
  shmpipe::Consumer rx =
      shmpipe::Consumer::create(name, {.capacity = 4096, .wait = {.liveness_interval = interval}});
  Child child;
  child.pid = fork_attached([&](int fd) {
    shmpipe::Producer tx = shmpipe::Producer::open(name);
    const char byte = 1;
    if (tx.send(std::vector<std::byte>(8), 10s) != shmpipe::Status::ok ||
        ::write(fd, &byte, 1) != 1)
      ::_exit(2);
    ::pause();
  });
  if (shmpipe::ReadSlot first = rx.peek(10s))
    rx.release(std::move(first));
  return kill_and_time(child.pid, [&] { return rx.peek(60s).status(); });
}

double producer_notices(int round, std::chrono::milliseconds interval) {
  const std::string name = name_for("p", round);
  shmpipe::Producer tx =
      shmpipe::Producer::create(name, {.capacity = 4096, .wait = {.liveness_interval = interval}});
  Child child;
  child.pid = fork_attached([&](int fd) {
    shmpipe::Consumer rx = shmpipe::Consumer::open(name);
    const char byte = 1;
    if (::write(fd, &byte, 1) != 1)
      ::_exit(2);
    ::pause();
  });
  while (shmpipe::WriteSlot slot = tx.try_reserve(1000))
    tx.commit(std::move(slot));
  return kill_and_time(child.pid, [&] { return tx.reserve(1000, 60s).status(); });
}

void report(const char *what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) {
    return us[std::min(us.size() - 1,
                       static_cast<std::size_t>(q * static_cast<double>(us.size())))];
  };
  std::printf("%-58s %9.1f %9.1f %9.1f\n", what, at(0.5), at(0.9), us.back());
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

} // namespace

int main(int argc, char **argv) {
  int rounds = 50;
  int idle_seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0)
      rounds = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--idle-seconds") == 0)
      idle_seconds = std::max(1, std::atoi(argv[i + 1]));
  }
  std::printf("%-58s %9s %9s %9s\n", "dead peer noticed after (us), over rounds", "median", "p90",
              "max");
  for (const auto interval : {std::chrono::milliseconds(500), std::chrono::milliseconds(3600000)}) {
    const char *label = interval.count() == 500 ? "500 ms" : "1 h";
    std::vector<double> consumer, producer;
    for (int r = 0; r < rounds; ++r) {
      consumer.push_back(consumer_notices(r, interval));
      producer.push_back(producer_notices(r, interval));
    }
    report(("consumer asleep in peek(), liveness interval " + std::string(label)).c_str(),
           consumer);
    report(("producer asleep in reserve(), liveness interval " + std::string(label)).c_str(),
           producer);
  }

  // Idle: a consumer blocked on a live producer that sends nothing.
  const std::string name = name_for("idle", 0);
  shmpipe::Consumer rx = shmpipe::Consumer::create(name, {.capacity = 4096});
  Child child;
  child.pid = fork_attached([&](int fd) {
    shmpipe::Producer tx = shmpipe::Producer::open(name);
    const char byte = 1;
    if (::write(fd, &byte, 1) != 1)
      ::_exit(2);
    ::pause();
  });
  const std::uint64_t sleeps_before = rx.stats().consumer.sleeps;
  const double cpu_before = cpu_seconds();
  const Clock::time_point start = Clock::now();
  const shmpipe::Status status = rx.peek(std::chrono::seconds(idle_seconds)).status();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  std::printf("idle consumer blocked %.1f s (%s): %.4f%% of a core, %llu futex sleeps\n", wall,
              std::string(shmpipe::to_string(status)).c_str(), 100.0 * cpu / wall,
              static_cast<unsigned long long>(rx.stats().consumer.sleeps - sleeps_before));
  return 0;
}

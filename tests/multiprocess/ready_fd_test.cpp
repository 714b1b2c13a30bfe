// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of detail/ready_fd.hpp through the endpoints that hand it out (Consumer, FixedReader,
// Core, Worker, Supervisor): the descriptor wakes a poll() for a record, the close, the peer's
// death (also a peer that attached after the wait began), a deadline and a lost worker; it is
// quiet after a try that found nothing; a burst costs the producer one datagram. Every wait
// is bounded.
#include <shmpipe/fixed_ring.hpp>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/shmpipe.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

/// Whether `fd` polls readable within `limit`.
bool readable(int fd, std::chrono::milliseconds limit) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(limit.count())) == 1 && (pfd.revents & POLLIN) != 0;
}

std::span<const std::byte> text(const char *s) {
  return std::as_bytes(std::span(s, std::strlen(s)));
}

/// What a loop does: wait until the descriptor is readable, try until a try finds something
/// other than empty (an attach also wakes it, with nothing to read yet).
ReadSlot next_record(Consumer &rx, int fd, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  for (;;) {
    ReadSlot slot = rx.try_peek();
    if (slot.status() != Status::empty)
      return slot;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left <= 0ms || !readable(fd, left))
      return rx.try_peek(); // empty: nothing came in time
  }
}

struct ScopedRemove {
  std::string name;
  ~ScopedRemove() { Segment::remove(name); }
};

TEST(ReadyFd, ConsumerWakesForARecordAndIsQuietAfterAnEmptyTry) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 16});
  const int fd = rx.ready_fd();
  EXPECT_EQ(fd, rx.ready_fd()) << "the same descriptor every call";
  EXPECT_TRUE(readable(fd, 0ms)) << "readable at first: nothing is armed before a try";
  EXPECT_EQ(rx.try_peek().status(), Status::empty); // arms it
  EXPECT_FALSE(readable(fd, 0ms));

  test::Child child([&] {
    Producer tx = Producer::open(name, {.open_timeout = 5s});
    std::this_thread::sleep_for(100ms); // the parent sits in poll() by then
    return tx.send(text("hello"), 5s) == Status::ok ? 0 : 1;
  });
  ReadSlot slot = next_record(rx, fd, 10s);
  ASSERT_EQ(slot.status(), Status::ok);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(slot.bytes().data()), slot.bytes().size()),
            "hello");
  rx.release(std::move(slot));
  // The producer closed and left: the next try reports it, then nothing more wakes us.
  ASSERT_EQ(child.wait(10s), 0);
  EXPECT_EQ(next_record(rx, fd, 10s).status(), Status::closed);
  // Like a socket at its end of file: it stays readable, and every try says closed.
  EXPECT_TRUE(readable(fd, 0ms));
  EXPECT_EQ(rx.try_peek().status(), Status::closed);
}

TEST(ReadyFd, ABurstCostsTheProducerOneDatagram) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 16});
  Producer tx = Producer::open(name);
  const int fd = rx.ready_fd();
  EXPECT_EQ(rx.try_peek().status(), Status::empty);
  const std::uint64_t before = tx.stats().producer.wakeups;
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(tx.send(text("x"), 1s), Status::ok);
  EXPECT_EQ(tx.stats().producer.wakeups - before, 1u) << "one datagram per arm, not per publish";
  ASSERT_TRUE(readable(fd, 5s));
  int got = 0;
  while (ReadSlot slot = rx.try_peek()) {
    rx.release(std::move(slot));
    ++got;
  }
  EXPECT_EQ(got, 100);
  EXPECT_FALSE(readable(fd, 0ms)) << "the empty try took the datagram and re-armed";
  // Without a waiting loop (the consumer drains by blocking peeks, never arms again after the
  // datagram was answered), publishing costs no system call.
  ASSERT_EQ(tx.send(text("y"), 1s), Status::ok);
  const std::uint64_t after_one = tx.stats().producer.wakeups;
  EXPECT_EQ(after_one - before, 2u);
  ReadSlot slot = rx.peek(1s);
  ASSERT_TRUE(slot);
  rx.release(std::move(slot));
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(tx.send(text("z"), 1s), Status::ok);
  EXPECT_EQ(tx.stats().producer.wakeups, after_one) << "generation answered: no more datagrams";
}

// Lost wake-ups show as a poll() that times out while records wait: a producer that
// publishes in bursts with pauses of random length, so that publishes land before, during and
// after each arm, against a consumer that only ever waits in poll().
TEST(ReadyFd, NoWakeUpIsLostUnderRacingBursts) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 12});
  const int fd = rx.ready_fd();
  constexpr std::uint64_t kRecords = 20000;
  test::Child child([&] {
    Producer tx = Producer::open(name, {.open_timeout = 5s});
    std::uint64_t state = 12345;
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      if (tx.send(std::as_bytes(std::span(&i, 1)), 5s) != Status::ok)
        return 1;
      state = test::mix(state);
      if (state % 8 == 0) // a pause of 0..63 us, often shorter than a wake-up takes
        std::this_thread::sleep_for(std::chrono::microseconds(state % 64));
    }
    return 0;
  });
  std::uint64_t expected = 0;
  int stuck = 0;
  while (expected < kRecords) {
    ReadSlot slot = rx.try_peek();
    if (slot) {
      std::uint64_t value = 0;
      std::memcpy(&value, slot.bytes().data(), sizeof value);
      ASSERT_EQ(value, expected);
      ++expected;
      rx.release(std::move(slot));
      continue;
    }
    ASSERT_EQ(slot.status(), Status::empty);
    if (!readable(fd, 5000ms) && ++stuck > 0)
      break;
  }
  EXPECT_EQ(stuck, 0) << "a poll slept 5 s with record " << expected << " published";
  EXPECT_EQ(expected, kRecords);
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(ReadyFd, ConsumerWithoutADescriptorCostsTheProducerNothing) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 16});
  Producer tx = Producer::open(name);
  EXPECT_EQ(rx.try_peek().status(), Status::empty);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(tx.send(text("x"), 1s), Status::ok);
  EXPECT_EQ(tx.stats().producer.wakeups, 0u);
}

TEST(ReadyFd, ProducerDeathWakesThePollAndIsReportedOnce) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 16});
  const int fd = rx.ready_fd();
  test::Child child([&] {
    Producer tx = Producer::open(name, {.open_timeout = 5s});
    if (tx.send(text("last words"), 5s) != Status::ok)
      return 1;
    for (;;)
      std::this_thread::sleep_for(1s); // killed by the parent
  });
  ReadSlot slot = next_record(rx, fd, 10s);
  ASSERT_TRUE(slot);
  rx.release(std::move(slot));
  EXPECT_EQ(rx.try_peek().status(), Status::empty); // watches the producer's pidfd now
  EXPECT_FALSE(readable(fd, 0ms));
  ::kill(child.pid(), SIGKILL);
  ASSERT_TRUE(readable(fd, 10s)) << "the pidfd in the set wakes the loop";
  EXPECT_EQ(rx.try_peek().status(), Status::peer_dead);
  child.kill_now(); // reaps it
  EXPECT_FALSE(readable(fd, 0ms)) << "a reported death leaves the descriptor quiet";
  EXPECT_EQ(rx.try_peek().status(), Status::peer_dead);
}

TEST(ReadyFd, AProducerThatAttachesLaterAndDiesSilentlyIsNoticed) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 16});
  const int fd = rx.ready_fd();
  EXPECT_EQ(rx.try_peek().status(), Status::empty); // armed, nobody to watch yet
  test::Child child([&]() -> int {
    Producer tx = Producer::open(name, {.open_timeout = 5s});
    for (;;)
      std::this_thread::sleep_for(1s); // never publishes; killed by the parent
  });
  ASSERT_TRUE(readable(fd, 10s)) << "the producer's attach sends a wake-up";
  EXPECT_EQ(rx.try_peek().status(), Status::empty); // now watching its pidfd
  EXPECT_FALSE(readable(fd, 0ms));
  child.kill_now();
  ASSERT_TRUE(readable(fd, 10s));
  EXPECT_EQ(rx.try_peek().status(), Status::peer_dead);
}

TEST(ReadyFd, StrangersDatagramsAreDroppedNotLooped) {
  const std::string name = test::unique_name();
  Consumer rx = Consumer::create(name, {.capacity = 1 << 16});
  const int fd = rx.ready_fd();
  EXPECT_EQ(rx.try_peek().status(), Status::empty);
  // What any local process can do: send to the abstract name stored in the owner line.
  Segment view = Segment::open(name); // a second mapping: what a stranger could read
  const detail::RingControl *ctl = view.ring(0).control;
  const std::uint64_t token = ctl->consumer_owner.wake_socket.load(std::memory_order_relaxed);
  ASSERT_NE(token, 0u);
  for (int i = 0; i < 40; ++i)
    detail::send_wake(token);
  ASSERT_TRUE(readable(fd, 5s));
  EXPECT_EQ(rx.try_peek().status(), Status::empty);
  EXPECT_FALSE(readable(fd, 0ms)) << "every datagram was read, however many came";
}

TEST(ReadyFd, LaneReaderWakesForAnElementAndTheClose) {
  const std::string name = test::unique_name();
  ScopedRemove guard{name};
  Segment segment = Segment::create(
      name, {.rings = 0, .lanes = 1, .lane_bytes = FixedRing<std::uint64_t, 64>::lane_bytes});
  FixedReader<std::uint64_t, 64> rx(segment, 0);
  const int fd = rx.ready_fd();
  std::uint64_t value = 0;
  EXPECT_EQ(rx.try_pop(value), Status::empty);
  test::Child child([&] {
    Segment mine = Segment::open(name);
    FixedWriter<std::uint64_t, 64> tx(mine, 0);
    std::this_thread::sleep_for(100ms);
    return tx.push(42, 5s) == Status::ok ? 0 : 1;
  });
  const auto next = [&] {
    for (;;) {
      const Status status = rx.try_pop(value);
      if (status != Status::empty || !readable(fd, 10000ms))
        return status;
    }
  };
  ASSERT_EQ(next(), Status::ok);
  EXPECT_EQ(value, 42u);
  ASSERT_EQ(child.wait(10s), 0);
  EXPECT_EQ(next(), Status::closed);
}

// --- sessions ---

Sent ask(Core &core, const std::string &path, WaitLimit limit,
         std::optional<Deadline> deadline = {}) {
  return core.request<schema::Extraction>(
      [&](flatbuffers::FlatBufferBuilder &b) {
        const auto body = schema::CreateExtractRequest(b, b.CreateString(path), 1);
        return schema::CreateExtraction(b, 0, schema::ExtractionBody::ExtractRequest, body.Union());
      },
      limit, deadline);
}

/// As next_record(), for a Core: the next response or expired request, or timeout.
Incoming next_incoming(Core &core, int fd, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  for (;;) {
    Incoming in = core.receive(0ms);
    if (in || in.status() != Status::timeout || in.request_id() != 0)
      return in;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left <= 0ms || !readable(fd, left))
      return in;
  }
}

TEST(ReadyFd, CoreWakesForAResponseAndForADeadline) {
  const std::string name = test::unique_name();
  Core core = Core::create(name, {.capacity = 1 << 16});
  test::Child child([&] {
    Worker worker = Worker::attach(name);
    Incoming first = worker.receive(10s); // answered
    if (!first)
      return 1;
    const std::uint64_t id = first.request_id();
    first.release();
    std::this_thread::sleep_for(50ms);
    if (worker.error(id, 7, "done", 5s) != Status::ok)
      return 2;
    Incoming second = worker.receive(10s); // never answered: its deadline passes
    if (!second)
      return 3;
    second.release();
    return worker.receive(10s).status() == Status::closed ? 0 : 4;
  });
  core.await_ready(10s);
  const int fd = core.ready_fd();
  EXPECT_EQ(core.receive(0ms).status(), Status::timeout);
  EXPECT_FALSE(readable(fd, 0ms));

  const Sent first = ask(core, "a", 5s);
  ASSERT_EQ(first.status, Status::ok);
  Incoming in = next_incoming(core, fd, 10s);
  ASSERT_TRUE(in) << to_string(in.status());
  EXPECT_EQ(in.request_id(), first.request_id);
  in.release();
  EXPECT_EQ(core.receive(0ms).status(), Status::timeout);
  EXPECT_FALSE(readable(fd, 0ms));

  const auto asked = Clock::now();
  const Sent second = ask(core, "b", 5s, deadline_after(300ms));
  ASSERT_EQ(second.status, Status::ok);
  EXPECT_EQ(core.receive(0ms).status(), Status::timeout);
  Incoming expired = next_incoming(core, fd, 10s); // the deadline's timer wakes the loop
  EXPECT_GE(Clock::now() - asked, 250ms);
  EXPECT_EQ(expired.status(), Status::timeout);
  EXPECT_EQ(expired.request_id(), second.request_id);
  EXPECT_EQ(core.receive(0ms).request_id(), 0u);
  EXPECT_FALSE(readable(fd, 0ms));
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(ReadyFd, WorkerWakesForARequestAndTheShutdown) {
  const std::string name = test::unique_name();
  Core core = Core::create(name, {.capacity = 1 << 16});
  test::Child child([&] {
    Worker worker = Worker::attach(name);
    const int fd = worker.ready_fd();
    int served = 0;
    for (;;) {
      if (!readable(fd, 10000ms))
        return 10;
      for (;;) {
        Incoming in = worker.receive(0ms);
        if (in) {
          const std::uint64_t id = in.request_id();
          in.release();
          if (worker.error(id, 1, "seen", 5s) != Status::ok)
            return 11;
          ++served;
          continue;
        }
        if (in.status() == Status::closed)
          return worker.shutdown_requested() && served == 3 ? 0 : 12;
        if (in.status() != Status::timeout)
          return 13;
        break;
      }
    }
  });
  core.await_ready(10s);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(ask(core, "x", 5s).status, Status::ok);
    Incoming in = core.receive(10s);
    ASSERT_TRUE(in) << "request " << i << ": " << to_string(in.status());
    in.release();
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(core.shutdown("bye", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

#ifdef SHMPIPE_TEST_WORKER
TEST(ReadyFd, SupervisorWakesForALostWorkerAndStaysQuietWhenIdle) {
  const std::string name = test::unique_name();
  ScopedRemove guard{name};
  SupervisorOptions options;
  options.command = {SHMPIPE_TEST_WORKER};
  options.session.capacity = 1 << 16;
  options.health_interval = 200ms;
  options.health_timeout = 2s;
  options.backoff_initial = 400ms; // the loop waits out the backoff without spinning
  Supervisor sup(name, options);
  const int fd = sup.ready_fd();

  // Idle with health checks on: the loop wakes for each check, not in a spin.
  int wakes = 0;
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto until = Clock::now() + 1s;
  while (Clock::now() < until) {
    if (!readable(fd, 100ms))
      continue;
    ++wakes;
    while (sup.receive(0ms).request_id() != 0) {
    }
  }
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_GE(wakes, 3) << "health checks and their replies go through the loop";
  EXPECT_LE(wakes, 40) << "not a spin";
  const auto cpu_us = [](const rusage &r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000 + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  EXPECT_LT(cpu_us(after) - cpu_us(before), 200000) << "an idle loop costs (nearly) no CPU";

  const auto asked = sup.request<schema::Extraction>(
      [&](flatbuffers::FlatBufferBuilder &b) {
        const auto body = schema::CreateExtractRequest(b, b.CreateString("crash"), 1);
        return schema::CreateExtraction(b, 0, schema::ExtractionBody::ExtractRequest, body.Union());
      },
      5s);
  ASSERT_EQ(asked.status, Status::ok);
  const pid_t first_pid = sup.worker_pid();
  // The worker dies on that request: the loop is woken, the request reported lost.
  bool lost = false;
  const auto give_up = Clock::now() + 15s;
  while (!lost && Clock::now() < give_up) {
    if (!readable(fd, 1000ms))
      continue;
    for (Incoming in = sup.receive(0ms); in.request_id() != 0 || in; in = sup.receive(0ms))
      if (in.request_id() == asked.request_id) {
        EXPECT_EQ(in.status(), Status::peer_dead);
        lost = true;
      }
  }
  EXPECT_TRUE(lost);
  // The restart falls due by the timer and happens inside receive().
  int backoff_wakes = 0;
  while (sup.worker_pid() <= 0 && Clock::now() < give_up)
    if (readable(fd, 1000ms)) {
      ++backoff_wakes;
      while (sup.receive(0ms).request_id() != 0) {
      }
    }
  EXPECT_LE(backoff_wakes, 5) << "the dead worker's pidfd left the set";
  EXPECT_GT(sup.worker_pid(), 0);
  EXPECT_NE(sup.worker_pid(), first_pid);
  EXPECT_EQ(sup.restarts(), 1u);
}
#endif

} // namespace
} // namespace shmpipe

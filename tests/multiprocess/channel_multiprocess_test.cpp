// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Cross-process tests of channel.hpp (Producer, Consumer) and the roles of ring.hpp: a forked
// child is the peer. Ten million records of random sizes with per-byte checks and sequence
// checks in each wait mode; one producer and one consumer per ring across processes; dead
// peers are reported, not waited for.
#include <shmpipe/channel.hpp>

#include <csignal>
#include <cstdio>
#include <future>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

/// Ring of 16 KiB: the largest record (16368 bytes) needs the whole ring, and wrap-arounds
/// happen every few records.
constexpr std::uint64_t kCapacity = 16 * 1024;

/// The consumer side, run in the child: every record must have the next sequence number, the
/// size that sequence number implies, and the bytes that sequence number implies.
int consume_stream(const std::string &name, WaitMode mode, std::uint64_t records,
                   const ReaderOptions &reader = {}) {
  Consumer rx =
      Consumer::open(name, {.wait = {.mode = mode}, .reader = reader, .open_timeout = 30s});
  const std::size_t max = kCapacity - 16;
  std::uint64_t seq = 0;
  while (seq < records) {
    // Alternate between single records and batches so that both paths carry the stream.
    if ((seq / 1000) % 2 == 0) {
      ReadSlot rec = rx.peek(deadline_after(60s));
      if (!rec) {
        std::fprintf(stderr, "consumer: peek at %llu: %s\n", static_cast<unsigned long long>(seq),
                     std::string(to_string(rec.status())).c_str());
        return 10;
      }
      if (rec.seq() != seq || rec.bytes().size() != test::record_size_for(seq, max) ||
          rec.type() != static_cast<std::uint16_t>(seq) || !test::check_pattern(rec.bytes(), seq)) {
        std::fprintf(stderr, "consumer: record %llu is wrong\n",
                     static_cast<unsigned long long>(seq));
        return 11;
      }
      rx.release(std::move(rec));
      ++seq;
    } else {
      ReadBatch batch = rx.peek_batch(deadline_after(60s));
      if (batch.status() != Status::ok) {
        std::fprintf(stderr, "consumer: batch at %llu: %s\n", static_cast<unsigned long long>(seq),
                     std::string(to_string(batch.status())).c_str());
        return 12;
      }
      while (ReadSlot rec = batch.next()) {
        if (rec.seq() != seq || rec.bytes().size() != test::record_size_for(seq, max) ||
            rec.type() != static_cast<std::uint16_t>(seq) ||
            !test::check_pattern(rec.bytes(), seq)) {
          std::fprintf(stderr, "consumer: record %llu is wrong\n",
                       static_cast<unsigned long long>(seq));
          return 13;
        }
        ++seq;
      }
      if (batch.status() != Status::ok)
        return 14;
      rx.release(std::move(batch));
    }
  }
  // The producer closes after its last record: the stream must end cleanly, with nothing more.
  const ReadSlot end = rx.peek(deadline_after(60s));
  if (end.status() != Status::closed) {
    std::fprintf(stderr, "consumer: expected closed, got %s\n",
                 std::string(to_string(end.status())).c_str());
    return 15;
  }
  const RingStats stats = rx.stats();
  return stats.consumer.records == records && stats.producer.records == records ? 0 : 16;
}

void stream_between_processes(WaitMode mode) {
  const std::uint64_t records = test::records_from_env("SHMPIPE_TEST_RECORDS", 10'000'000);
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = kCapacity, .wait = {.mode = mode}});
  test::Child child([&] { return consume_stream(name, mode, records); });
  ASSERT_EQ(tx.max_payload(), kCapacity - 16);
  for (std::uint64_t seq = 0; seq < records; ++seq) {
    WriteSlot slot = tx.reserve(test::record_size_for(seq, tx.max_payload()), deadline_after(60s));
    ASSERT_TRUE(slot) << "record " << seq << ": " << to_string(slot.status());
    test::fill_pattern(slot.bytes(), seq);
    // Stage runs of records and publish them together, except every 3rd run.
    if (seq % 16 != 15 && (seq / 16) % 3 != 0)
      tx.stage(std::move(slot), static_cast<std::uint16_t>(seq));
    else
      tx.commit(std::move(slot), static_cast<std::uint16_t>(seq));
  }
  tx.close();
  EXPECT_EQ(child.wait(600s), 0);
  const RingStats stats = tx.stats();
  EXPECT_EQ(stats.producer.records, records);
  EXPECT_GT(stats.producer.wraps, records / 100);
  std::printf("[ stats    ] %llu records, %.2f GB, wraps %llu, producer sleeps %llu, consumer "
              "sleeps %llu, wakeups %llu/%llu\n",
              static_cast<unsigned long long>(stats.producer.records),
              static_cast<double>(stats.producer.bytes) / 1e9,
              static_cast<unsigned long long>(stats.producer.wraps),
              static_cast<unsigned long long>(stats.producer.sleeps),
              static_cast<unsigned long long>(stats.consumer.sleeps),
              static_cast<unsigned long long>(stats.producer.wakeups),
              static_cast<unsigned long long>(stats.consumer.wakeups));
}

TEST(ChannelMultiprocessTest, TenMillionRecordsBlocking) {
  stream_between_processes(WaitMode::blocking);
}
TEST(ChannelMultiprocessTest, TenMillionRecordsSpinning) {
  stream_between_processes(WaitMode::busy_spin);
}

TEST(ChannelMultiprocessTest, SecondProducerOrConsumerInAnotherProcessIsRefused) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name);
  Consumer rx = Consumer::open(name);
  test::Child child([&] {
    int refused = 0;
    try {
      Producer second = Producer::open(name);
    } catch (const Error &e) {
      refused += e.code() == Errc::role_taken &&
                 std::string(e.what()).find(std::to_string(::getppid())) != std::string::npos;
    }
    try {
      Consumer second = Consumer::open(name);
    } catch (const Error &e) {
      refused += e.code() == Errc::role_taken;
    }
    return refused == 2 ? 0 : 1;
  });
  EXPECT_EQ(child.wait(30s), 0);
}

TEST(ChannelMultiprocessTest, ConsumerSeesDeadProducerAfterItsLastRecords) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Consumer rx = Consumer::create(name, {.capacity = 4096, .wait = {.liveness_interval = 20ms}});
  test::Child child([&] {
    Producer tx = Producer::open(name);
    for (int i = 0; i < 3; ++i)
      if (tx.send(std::vector<std::byte>(10), deadline_after(10s)) != Status::ok)
        return 1;
    std::raise(SIGKILL); // no close(): a crash
    return 2;
  });
  EXPECT_EQ(child.wait(30s), -SIGKILL);
  for (int i = 0; i < 3; ++i) {
    ReadSlot rec = rx.peek(deadline_after(10s));
    ASSERT_TRUE(rec) << "records committed before the crash survive it";
    rx.release(std::move(rec));
  }
  const auto start = Clock::now();
  EXPECT_EQ(rx.peek(deadline_after(20s)).status(), Status::peer_dead);
  EXPECT_LT(Clock::now() - start, 10s) << "noticed long before the deadline";
}

TEST(ChannelMultiprocessTest, ProducerSeesDeadConsumerInsteadOfWaitingForSpace) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = 4096, .wait = {.liveness_interval = 20ms}});
  test::Child child([&] {
    Consumer rx = Consumer::open(name);
    std::raise(SIGKILL);
    return 2;
  });
  EXPECT_EQ(child.wait(30s), -SIGKILL);
  while (tx.try_reserve(1000))
    tx.commit(tx.try_reserve(1000));
  EXPECT_EQ(tx.reserve(1000, deadline_after(20s)).status(), Status::peer_dead);
}

/// Kills `pid` once `delay` has passed (the other side is asleep by then: it spins for 50 us
/// and yields for 200 us before it sleeps) and returns when it did so.
std::future<Clock::time_point> kill_after(pid_t pid, std::chrono::milliseconds delay) {
  return std::async(std::launch::async, [pid, delay] {
    std::this_thread::sleep_for(delay);
    const Clock::time_point killed = Clock::now();
    ::kill(pid, SIGKILL);
    return killed;
  });
}

// With an hour between liveness checks, only the death alarm (detail/death_alarm.hpp) can end
// these sleeps: a dead peer ends a blocking call at once, not at the next check. How quickly is
// measured by bench/ (shmpipe_bench); here "long before the hour" is the pass mark.
const WaitPolicy kNoPolling{.liveness_interval = std::chrono::hours(1)};

TEST(ChannelMultiprocessTest, PeerDeathWakesASleepingConsumer) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Consumer rx = Consumer::create(name, {.capacity = 4096, .wait = kNoPolling});
  test::Child child([&] {
    Producer tx = Producer::open(name);
    if (tx.send(std::vector<std::byte>(10), deadline_after(10s)) != Status::ok)
      return 1;
    ::pause(); // alive, silent, until killed
    return 2;
  });
  ReadSlot first = rx.peek(deadline_after(20s));
  ASSERT_TRUE(first);
  rx.release(std::move(first));
  auto killed = kill_after(child.pid(), 300ms);
  EXPECT_EQ(rx.peek(deadline_after(60s)).status(), Status::peer_dead);
  const auto noticed = Clock::now() - killed.get();
  std::printf("dead producer noticed by a sleeping consumer after %.3f ms\n",
              std::chrono::duration<double, std::milli>(noticed).count());
  EXPECT_LT(noticed, 20s);
  EXPECT_EQ(child.wait(30s), -SIGKILL);
}

TEST(ChannelMultiprocessTest, PeerDeathWakesAProducerWaitingForSpace) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = 4096, .wait = kNoPolling});
  int attached[2];
  ASSERT_EQ(::pipe(attached), 0);
  test::Child child([&] {
    Consumer rx = Consumer::open(name);
    const char byte = 1;
    if (::write(attached[1], &byte, 1) != 1)
      return 1;
    ::pause();
    return 2;
  });
  // Fill the ring once the consumer is there, then wait for space it will never make.
  char byte = 0;
  ASSERT_EQ(::read(attached[0], &byte, 1), 1);
  ::close(attached[0]);
  ::close(attached[1]);
  while (WriteSlot slot = tx.try_reserve(1000))
    tx.commit(std::move(slot));
  auto killed = kill_after(child.pid(), 300ms);
  EXPECT_EQ(tx.reserve(1000, deadline_after(60s)).status(), Status::peer_dead);
  const auto noticed = Clock::now() - killed.get();
  std::printf("dead consumer noticed by a sleeping producer after %.3f ms\n",
              std::chrono::duration<double, std::milli>(noticed).count());
  EXPECT_LT(noticed, 20s);
  EXPECT_EQ(child.wait(30s), -SIGKILL);
}

// The parent consumes while its child producer crashes: the child is a zombie until reaped,
// and must count as dead all the same.
TEST(ChannelMultiprocessTest, UnreapedCrashedChildIsDead) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Consumer rx = Consumer::create(name, {.capacity = 4096, .wait = {.liveness_interval = 20ms}});
  const pid_t pid = ::fork();
  if (pid == 0) {
    Producer tx = Producer::open(name);
    (void)tx.send(std::vector<std::byte>(1), deadline_after(10s));
    std::raise(SIGKILL);
  }
  ASSERT_GT(pid, 0);
  ReadSlot first = rx.peek(deadline_after(20s));
  ASSERT_TRUE(first);
  rx.release(std::move(first));
  EXPECT_EQ(rx.peek(deadline_after(20s)).status(), Status::peer_dead);
  ::waitpid(pid, nullptr, 0);
}

// A child forked after the parent became producer inherits the handle, not the role: its
// close() must not end the parent's stream.
TEST(ChannelMultiprocessTest, ForkedChildDoesNotCloseTheParentsStream) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = 4096});
  Consumer rx = Consumer::open(name);
  test::Child child([&] {
    tx.close();
    return 0;
  });
  ASSERT_EQ(child.wait(30s), 0);
  ASSERT_EQ(tx.send(std::vector<std::byte>(2), deadline_after(10s)), Status::ok);
  ReadSlot rec = rx.peek(deadline_after(10s));
  ASSERT_TRUE(rec) << to_string(rec.status());
  EXPECT_EQ(rec.bytes().size(), 2u);
}

TEST(ChannelMultiprocessTest, RoleOfACrashedProcessIsTakenOver) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Consumer rx = Consumer::create(name, {.capacity = 4096});
  test::Child child([&] {
    Producer tx = Producer::open(name);
    (void)tx.send(std::vector<std::byte>(5), deadline_after(10s));
    std::raise(SIGKILL);
    return 2;
  });
  EXPECT_EQ(child.wait(30s), -SIGKILL);
  Producer replacement = Producer::open(name); // the dead holder does not block the role
  ASSERT_EQ(replacement.send(std::vector<std::byte>(6), deadline_after(10s)), Status::ok);
  ReadSlot first = rx.peek(deadline_after(10s));
  ASSERT_TRUE(first);
  EXPECT_EQ(first.bytes().size(), 5u);
  rx.release(std::move(first));
  ReadSlot second = rx.peek(deadline_after(10s));
  ASSERT_TRUE(second);
  EXPECT_EQ(second.bytes().size(), 6u);
  EXPECT_EQ(second.seq(), 1u);
}

TEST(ChannelMultiprocessTest, BlockingConsumerInAnotherProcessIsWoken) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = 4096});
  test::Child child([&] {
    Consumer rx = Consumer::open(name);
    for (int i = 0; i < 5; ++i) {
      ReadSlot rec = rx.peek(deadline_after(30s));
      if (!rec || rec.bytes().size() != static_cast<std::size_t>(i))
        return 1;
      rx.release(std::move(rec));
    }
    return rx.stats().consumer.sleeps >= 1 ? 0 : 3;
  });
  for (int i = 0; i < 5; ++i) {
    // Let the consumer fall asleep between records (the statistics show when it has).
    const auto give_up = Clock::now() + 20s;
    const std::uint64_t before = tx.stats().consumer.sleeps;
    while (tx.stats().consumer.sleeps == before && Clock::now() < give_up)
      std::this_thread::sleep_for(1ms);
    ASSERT_EQ(tx.send(std::vector<std::byte>(static_cast<std::size_t>(i)), deadline_after(10s)),
              Status::ok);
  }
  EXPECT_EQ(child.wait(60s), 0);
  EXPECT_GE(tx.stats().producer.wakeups, 5u);
}

TEST(ChannelMultiprocessTest, OpenWaitsForTheCreator) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  test::Child child([&] {
    Consumer rx = Consumer::open(name, {.open_timeout = 30s});
    ReadSlot rec = rx.peek(deadline_after(30s));
    return rec && rec.bytes().size() == 3 ? 0 : 1;
  });
  std::this_thread::sleep_for(50ms);
  Producer tx = Producer::create(name);
  ASSERT_EQ(tx.send(std::vector<std::byte>(3), deadline_after(10s)), Status::ok);
  EXPECT_EQ(child.wait(60s), 0);
}

TEST(ChannelMultiprocessTest, OpenWithoutTimeoutFailsAtOnce) {
  const std::string name = test::unique_name();
  EXPECT_THROW(Consumer::open(name), Error);
  const auto start = Clock::now();
  EXPECT_THROW(Consumer::open(name, {.open_timeout = 50ms}), Error);
  EXPECT_GE(Clock::now() - start, 50ms);
}

// ReaderOptions::read_only_data through the channel, consumer in the child: the stream test's
// checks (every byte, size, type and sequence number; batches and single records) hold when
// the consumer reads through its read-only mapping.
TEST(ChannelMultiprocessTest, ReadOnlyConsumerGetsTheWholeStream) {
  const std::uint64_t records = test::records_from_env("SHMPIPE_TEST_RECORDS", 1'000'000);
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = kCapacity});
  test::Child child(
      [&] { return consume_stream(name, WaitMode::blocking, records, {.read_only_data = true}); });
  for (std::uint64_t seq = 0; seq < records; ++seq) {
    WriteSlot slot = tx.reserve(test::record_size_for(seq, tx.max_payload()), deadline_after(60s));
    ASSERT_TRUE(slot) << "record " << seq << ": " << to_string(slot.status());
    test::fill_pattern(slot.bytes(), seq);
    tx.commit(std::move(slot), static_cast<std::uint16_t>(seq));
  }
  tx.close();
  EXPECT_EQ(child.wait(600s), 0);
}

// The same the other way round: the consumer creates the channel (so it maps the segment
// read-write and its ring a second time read-only), the producer in the child opens it.
TEST(ChannelMultiprocessTest, ReadOnlyConsumerThatCreatedTheChannel) {
  constexpr std::uint64_t kRecords = 20'000;
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Consumer rx = Consumer::create(name, {.capacity = 4096, .reader = {.read_only_data = true}});
  test::Child child([&] {
    Producer tx = Producer::open(name);
    for (std::uint64_t seq = 0; seq < kRecords; ++seq) {
      WriteSlot slot = tx.reserve(test::record_size_for(seq, 1000), deadline_after(60s));
      if (!slot)
        return 1;
      test::fill_pattern(slot.bytes(), seq);
      tx.commit(std::move(slot));
    }
    tx.close();
    return 0;
  });
  std::uint64_t seq = 0;
  for (;;) {
    ReadSlot rec = rx.peek(deadline_after(60s));
    if (!rec) {
      EXPECT_EQ(rec.status(), Status::closed);
      break;
    }
    ASSERT_EQ(rec.seq(), seq);
    ASSERT_EQ(rec.bytes().size(), test::record_size_for(seq, 1000));
    ASSERT_TRUE(test::check_pattern(rec.bytes(), seq)) << "record " << seq;
    rx.release(std::move(rec));
    ++seq;
  }
  EXPECT_EQ(seq, kRecords);
  EXPECT_GT(rx.stats().consumer.wraps, 0u);
  EXPECT_EQ(child.wait(60s), 0);
}

TEST(ChannelMultiprocessTest, CreatorRemovesTheNameWhenItGoesAway) {
  const std::string name = test::unique_name();
  {
    Producer tx = Producer::create(name);
    Consumer rx = Consumer::open(name);
  }
  EXPECT_FALSE(Segment::remove(name));
}

} // namespace
} // namespace shmpipe

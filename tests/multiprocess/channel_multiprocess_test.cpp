// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Cross-process tests of channel.hpp (Producer, Consumer) and the roles of ring.hpp: a forked
// child is the peer. Ten million records of random sizes with per-byte checks and sequence
// checks in each wait mode; one producer and one consumer per ring across processes; dead
// peers are reported, not waited for.
#include <shmpipe/channel.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

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

bool name_exists(const std::string &name) {
  return ::access(("/dev/shm/" + name).c_str(), F_OK) == 0;
}

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

// The same for the name: a forked child that destroys its copy of the creator's Producer must
// not remove the parent's name (only the creating process does).
TEST(ChannelMultiprocessTest, ForkedChildDoesNotRemoveTheParentsName) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Producer tx = Producer::create(name, {.capacity = 4096});
  Consumer rx = Consumer::open(name);
  test::Child child([&] {
    Producer inherited = std::move(tx);
    return 0; // ~Producer in the child
  });
  ASSERT_EQ(child.wait(30s), 0);
  EXPECT_TRUE(name_exists(name));
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

// README's first example as two processes, with a producer that exits right after its last
// commit (the destructor's close() is all it does): the consumer gets every record, then
// `closed`, whichever process starts first, and the name is gone afterwards.
constexpr int kShortLivedRecords = 3;

/// The producer of README's first example: create, commit, exit. `committed` gets one byte
/// after the last commit, so that a test can start the consumer only then.
int short_lived_producer(const std::string &name, int committed = -1,
                         const ChannelOptions &options = {}) {
  Producer tx = Producer::create(name, options);
  for (int i = 0; i < kShortLivedRecords; ++i) {
    WriteSlot slot = tx.reserve(sizeof(int), 1s);
    if (!slot)
      return 1;
    std::memcpy(slot.bytes().data(), &i, sizeof i);
    tx.commit(std::move(slot), 7);
  }
  const char byte = 1;
  if (committed >= 0 && ::write(committed, &byte, 1) != 1)
    return 2;
  return 0; // ~Producer, right after the last commit
}

/// The consumer of README's first example: every record in order, then `closed`.
int readme_consumer(const std::string &name) {
  Consumer rx = Consumer::open(name, {.open_timeout = 30s});
  int expected = 0;
  while (ReadSlot rec = rx.peek(30s)) {
    int value = -1;
    if (rec.bytes().size() != sizeof value || rec.type() != 7)
      return 3;
    std::memcpy(&value, rec.bytes().data(), sizeof value);
    if (value != expected++)
      return 4;
    rx.release(std::move(rec));
  }
  if (expected != kShortLivedRecords)
    return 5;
  return rx.peek(0s).status() == Status::closed ? 0 : 6;
}

TEST(ChannelMultiprocessTest, ShortLivedProducerStartedFirstDelivers) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  int committed[2];
  ASSERT_EQ(::pipe(committed), 0);
  test::Child producer([&] { return short_lived_producer(name, committed[1]); });
  ::close(committed[1]);
  // The consumer process starts only once the producer has committed everything and is on
  // its way out.
  char byte = 0;
  ASSERT_EQ(::read(committed[0], &byte, 1), 1);
  ::close(committed[0]);
  test::Child consumer([&] { return readme_consumer(name); });
  EXPECT_EQ(consumer.wait(120s), 0);
  EXPECT_EQ(producer.wait(120s), 0);
  EXPECT_FALSE(name_exists(name));
}

TEST(ChannelMultiprocessTest, ShortLivedProducerStartedSecondDelivers) {
  // The consumer polls for the name; a producer that creates, commits and removes it between
  // two polls used to be missed. Several rounds, because that window is short.
  for (int round = 0; round < 20; ++round) {
    const std::string name = test::unique_name();
    ScopedRemove guard(name);
    test::Child consumer([&] { return readme_consumer(name); });
    test::Child producer([&] { return short_lived_producer(name); });
    ASSERT_EQ(consumer.wait(120s), 0) << "round " << round;
    ASSERT_EQ(producer.wait(120s), 0) << "round " << round;
    ASSERT_FALSE(name_exists(name)) << "round " << round;
  }
}

// Nobody opens the channel: the producer waits `linger`, then removes the name and exits.
TEST(ChannelMultiprocessTest, ShortLivedProducerWithoutConsumerLeavesNothing) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  test::Child producer([&] { return short_lived_producer(name, -1, {.linger = 200ms}); });
  EXPECT_EQ(producer.wait(120s), 0) << "bounded: the wait ends after `linger`";
  EXPECT_FALSE(name_exists(name));
}

// A consumer that attached and then crashed has the segment already; the producer does not
// wait for another one (an hour's linger would show as a hang here).
TEST(ChannelMultiprocessTest, ProducerDoesNotLingerForAConsumerThatAttachedAndDied) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  int created[2];
  int go[2];
  ASSERT_EQ(::pipe(created), 0);
  ASSERT_EQ(::pipe(go), 0);
  test::Child producer([&] {
    Producer tx = Producer::create(name, {.linger = std::chrono::hours(1)});
    char byte = 1;
    if (::write(created[1], &byte, 1) != 1 || ::read(go[0], &byte, 1) != 1)
      return 1;
    return tx.send(std::vector<std::byte>(8), 1s) == Status::ok ? 0 : 2;
  });
  char byte = 0;
  ASSERT_EQ(::read(created[0], &byte, 1), 1);
  test::Child consumer([&] {
    Consumer rx = Consumer::open(name);
    std::raise(SIGKILL);
    return 2;
  });
  EXPECT_EQ(consumer.wait(60s), -SIGKILL);
  ASSERT_EQ(::write(go[1], &byte, 1), 1);
  for (int fd : {created[0], created[1], go[0], go[1]})
    ::close(fd);
  EXPECT_EQ(producer.wait(120s), 0);
  EXPECT_FALSE(name_exists(name));
}

// A producer killed -9 while it waits for a consumer leaves its segment, which is then
// abandoned: its creator and both roles are dead or free, so it is replaced (or swept by
// `shmpipe rm --stale`).
TEST(ChannelMultiprocessTest, ProducerKilledWhileLingeringLeavesAnAbandonedSegment) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  int committed[2];
  ASSERT_EQ(::pipe(committed), 0);
  test::Child producer(
      [&] { return short_lived_producer(name, committed[1], {.linger = std::chrono::hours(1)}); });
  ::close(committed[1]);
  char byte = 0;
  ASSERT_EQ(::read(committed[0], &byte, 1), 1);
  ::close(committed[0]);
  producer.kill_now();
  ASSERT_TRUE(name_exists(name));
  Producer replacement = Producer::create(name, {.replace_abandoned = true, .linger = 0ms});
  EXPECT_EQ(replacement.stats().producer.records, 0u) << "a new segment, not the old one";
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

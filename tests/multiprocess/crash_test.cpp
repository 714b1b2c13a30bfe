// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Crash consistency (docs/LAYOUT.md, "Crash semantics"): the peer of a ring is killed with
// SIGKILL at random instants, again and again, and a new process takes its role over.
//
// - ProducerKilled: this process is the consumer, forked children produce. After each kill the
//   consumer must have every record the child committed (and nothing it did not publish), none
//   torn, then peer_dead; the next child continues the numbering (ReadSlot::seq() and the
//   payload's own counter) without a gap or a repeat.
// - ConsumerKilled: this process is the producer, forked children consume. Across all
//   consumers every record is processed at least once, in order, none torn, and a record is
//   processed twice only if it was in the hands of a consumer when it was killed; a producer
//   waiting on a dead consumer gets peer_dead.
//
// Every wait has a deadline: a hang fails the test. Rounds per direction: SHMPIPE_KILL_ROUNDS
// (default 200; the `stress` registration runs 1000); seed: SHMPIPE_CRASH_SEED.
#include <shmpipe/ring.hpp>
#include <shmpipe/segment.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/mman.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

/// Small ring: records of up to ~1 KiB wrap every few records.
constexpr std::uint64_t kCapacity = 4096;
constexpr std::size_t kMaxBody = 1000;
constexpr std::size_t kMaxBatch = 4; // records a batch-mode consumer holds at most

/// Short liveness interval: a dead peer is noticed within milliseconds, not half a second.
const WaitPolicy kPolicy{.liveness_interval = 2ms};

/// Every record's payload: this head, then `length` bytes of the pattern of `seq`.
struct PayloadHead {
  std::uint64_t seq;      // the payload's own counter, continued across processes
  std::uint32_t gen;      // generation (process) that wrote it
  std::uint32_t length;   // body bytes
  std::uint64_t checksum; // FNV-1a of the body, mixed with seq and gen
  std::uint64_t reserved;
};
static_assert(sizeof(PayloadHead) == 32);

std::uint64_t checksum(std::span<const std::byte> body, std::uint64_t seq, std::uint32_t gen) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ test::mix(seq ^ (std::uint64_t{gen} << 40));
  for (const std::byte b : body)
    h = (h ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ULL;
  return h;
}

std::size_t payload_size(std::uint64_t seq) {
  return sizeof(PayloadHead) + test::record_size_for(seq, kMaxBody);
}

void fill_payload(std::span<std::byte> out, std::uint64_t seq, std::uint32_t gen) {
  const std::span<std::byte> body = out.subspan(sizeof(PayloadHead));
  test::fill_pattern(body, seq);
  const PayloadHead head{seq, gen, static_cast<std::uint32_t>(body.size()),
                         checksum(body, seq, gen), 0};
  std::memcpy(out.data(), &head, sizeof head);
}

/// Empty when `rec` is an intact record of payload counter `seq` (and ring sequence number
/// `seq`); `gen` is checked unless negative. Otherwise what is wrong.
std::string check_record(const ReadSlot &rec, std::uint64_t seq, long gen) {
  const std::span<const std::byte> bytes = rec.bytes();
  if (bytes.size() < sizeof(PayloadHead))
    return "record of " + std::to_string(bytes.size()) + " bytes is too short";
  PayloadHead head{};
  std::memcpy(&head, bytes.data(), sizeof head);
  if (head.seq != seq)
    return "payload counter " + std::to_string(head.seq) + ", expected " + std::to_string(seq);
  if (rec.seq() != seq)
    return "ring seq " + std::to_string(rec.seq()) + ", expected " + std::to_string(seq);
  if (gen >= 0 && head.gen != static_cast<std::uint64_t>(gen))
    return "record " + std::to_string(seq) + " from generation " + std::to_string(head.gen) +
           ", expected " + std::to_string(gen);
  const std::span<const std::byte> body = bytes.subspan(sizeof(PayloadHead));
  if (bytes.size() != payload_size(seq) || head.length != body.size() ||
      rec.type() != static_cast<std::uint16_t>(seq))
    return "record " + std::to_string(seq) + " has the wrong size or type";
  if (head.checksum != checksum(body, seq, head.gen) || !test::check_pattern(body, seq))
    return "record " + std::to_string(seq) + " is torn (checksum)";
  return {};
}

/// Where a producer child is, for the statistics of where kills land.
enum Phase : std::uint64_t {
  starting,
  reserving,
  filling,
  committing,
  staging,
  publishing,
  copying,
  counting,
  idle,
  kPhases
};
constexpr const char *kPhaseNames[] = {"start-up", "reserve", "fill",        "commit", "stage",
                                       "publish",  "write",   "bookkeeping", "idle"};

/// A page shared with every child (MAP_SHARED | MAP_ANONYMOUS, inherited across fork); counters
/// are "seq + 1" of a record, 0 for none.
struct SharedPage {
  std::atomic<std::uint64_t> attached;   // generation + 1 of the child that holds its role
  std::atomic<std::uint64_t> attempted;  // producer: highest record reserved, + 1
  std::atomic<std::uint64_t> committed;  // producer: highest record whose commit returned, + 1
  std::atomic<std::uint64_t> processed;  // consumer: highest record fully checked, + 1
  std::atomic<std::uint64_t> released;   // consumer: highest record whose release returned, + 1
  std::atomic<std::uint64_t> hand;       // consumer: records that may be processed, unreleased
  std::atomic<std::uint64_t> duplicates; // consumers: records processed a second time
  std::atomic<std::uint64_t> error;      // a child's first error: its code
  std::atomic<std::uint64_t> phase;      // what the child is doing: a Phase
  char message[512];                     // and what was wrong
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class SharedMapping {
public:
  SharedMapping() {
    void *p = ::mmap(nullptr, sizeof(SharedPage), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      throw std::runtime_error("mmap failed");
    page_ = new (p) SharedPage{};
  }
  SharedMapping(const SharedMapping &) = delete;
  SharedMapping &operator=(const SharedMapping &) = delete;
  ~SharedMapping() { ::munmap(page_, sizeof(SharedPage)); }
  SharedPage *operator->() const noexcept { return page_; }
  SharedPage &operator*() const noexcept { return *page_; }

private:
  SharedPage *page_ = nullptr;
};

/// Records a child's error in the page (the first one wins) and returns `code`.
int child_fail(SharedPage &page, int code, const std::string &what) {
  std::uint64_t none = 0;
  if (page.error.compare_exchange_strong(none, static_cast<std::uint64_t>(code))) {
    std::snprintf(page.message, sizeof page.message, "%s", what.c_str());
    std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), what.c_str());
  }
  return code;
}

/// Removes the segment when the test ends, also when it fails.
std::uint64_t kill_rounds() { return test::records_from_env("SHMPIPE_KILL_ROUNDS", 200); }

std::uint64_t seed() {
  const std::uint64_t s = test::records_from_env("SHMPIPE_CRASH_SEED", 0);
  return s != 0 ? s : std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
}

/// A kill delay in microseconds, log-uniform in [1, max_us]: most kills land within the
/// first records, some after many wraps.
std::chrono::microseconds kill_delay(std::mt19937_64 &rng, double max_us) {
  std::uniform_real_distribution<double> exponent(0.0, std::log(max_us));
  return std::chrono::microseconds(static_cast<long>(std::exp(exponent(rng))));
}

/// Waits until `page.attached` is `gen + 1` (or a child error), running `work` meanwhile.
template <class Work> bool wait_attached(SharedPage &page, std::uint64_t gen, Work &&work) {
  const Deadline limit = deadline_after(20s);
  while (page.attached.load() != gen + 1) {
    if (Clock::now() >= limit || page.error.load() != 0)
      return false;
    work();
  }
  return true;
}

// ------------------------------------------------------------------------------------------
// The producer is killed.

/// A producer child: continues the payload counter at `first`, mixing single commits, staged
/// batches and copying writes, until it is killed (or 60 s pass, which the parent never lets
/// happen).
int produce_until_killed(const std::string &name, SharedPage &page, std::uint64_t gen,
                         std::uint64_t first, std::uint64_t rng_seed) {
  Segment seg = Segment::open(name);
  RingWriter tx(seg);
  page.attached.store(gen + 1);
  const auto at = [&page](Phase phase) { page.phase.store(phase, std::memory_order_relaxed); };
  std::mt19937_64 rng(rng_seed);
  // Unpaced, the producer outruns the checking consumer and waits in reserve() nearly all the
  // time, so nearly every kill lands there. Paced producers take their time building records,
  // between staging and publishing and between records (where the consumer catches up and
  // sleeps), so that kills land in those places too.
  const bool paced = rng() % 3 != 0;
  const auto pause = [&](std::uint64_t max_us) {
    if (!paced)
      return;
    const Deadline until = Clock::now() + std::chrono::microseconds(rng() % max_us);
    while (Clock::now() < until) {
    }
  };
  std::vector<std::byte> copy(sizeof(PayloadHead) + kMaxBody);
  const auto g = static_cast<std::uint32_t>(gen);
  const Deadline stop = deadline_after(60s);
  std::uint64_t seq = first;
  while (Clock::now() < stop) {
    const std::uint64_t mode = rng() % 8;
    if (mode < 4) { // reserve, fill in place, commit
      page.attempted.store(seq + 1);
      at(reserving);
      WriteSlot slot = tx.reserve(payload_size(seq), deadline_after(10s), kPolicy);
      if (!slot)
        return child_fail(page, 20, "reserve: " + std::string(to_string(slot.status())));
      at(filling);
      fill_payload(slot.bytes(), seq, g);
      pause(20);
      at(committing);
      tx.commit(std::move(slot), static_cast<std::uint16_t>(seq));
      at(counting);
      page.committed.store(++seq);
      at(idle);
      pause(20);
    } else if (mode < 7) { // a staged batch, one publish
      const std::uint64_t n = 2 + rng() % 5;
      for (std::uint64_t i = 0; i < n; ++i) {
        // A reservation may publish what is staged (full ring, wrap): those records are
        // committed without a commit() returning, hence `attempted` before reserving.
        page.attempted.store(seq + 1);
        at(reserving);
        WriteSlot slot = tx.reserve(payload_size(seq), deadline_after(10s), kPolicy);
        if (!slot)
          return child_fail(page, 21, "reserve: " + std::string(to_string(slot.status())));
        at(filling);
        fill_payload(slot.bytes(), seq, g);
        pause(10);
        at(staging);
        tx.stage(std::move(slot), static_cast<std::uint16_t>(seq));
        ++seq;
        pause(5);
      }
      at(publishing);
      tx.publish();
      at(counting);
      page.committed.store(seq);
      at(idle);
      pause(20);
    } else { // copying write
      const std::span<std::byte> payload(copy.data(), payload_size(seq));
      fill_payload(payload, seq, g);
      page.attempted.store(seq + 1);
      at(copying);
      const Status status =
          tx.write(payload, deadline_after(10s), kPolicy, static_cast<std::uint16_t>(seq));
      if (status != Status::ok)
        return child_fail(page, 22, "write: " + std::string(to_string(status)));
      at(counting);
      page.committed.store(++seq);
      at(idle);
      pause(20);
    }
  }
  return 23;
}

/// The consumer side, in this process: one reader for the whole test, checking every record.
class CheckingReader {
public:
  explicit CheckingReader(Segment &seg) : rx_(seg) {}

  /// Reads what is there without waiting; false (with a failure recorded) on a bad record.
  bool poll(std::mt19937_64 &rng, long gen) {
    if (rng() % 2 == 0) {
      ReadSlot rec = rx_.try_peek();
      if (!rec)
        return rec.status() == Status::empty || fail("try_peek", rec.status());
      if (!take(rec, gen))
        return false;
      rx_.release(std::move(rec));
      return true;
    }
    ReadBatch batch = rx_.try_peek_batch(1 + rng() % 8);
    if (batch.status() != Status::ok)
      return batch.status() == Status::empty || fail("try_peek_batch", batch.status());
    while (ReadSlot rec = batch.next())
      if (!take(rec, gen))
        return false;
    if (batch.status() != Status::ok)
      return fail("batch.next", batch.status());
    rx_.release(std::move(batch));
    return true;
  }

  /// Reads until the stream ends; returns how it ended (peer_dead, closed, ...), or corrupt
  /// after a bad record. Bounded: every wait has a deadline.
  Status drain(std::mt19937_64 &rng, long gen) {
    for (;;) {
      if (rng() % 2 == 0) {
        ReadSlot rec = rx_.peek(deadline_after(10s), kPolicy);
        if (!rec)
          return rec.status();
        if (!take(rec, gen))
          return Status::corrupt;
        rx_.release(std::move(rec));
      } else {
        ReadBatch batch = rx_.peek_batch(deadline_after(10s), kPolicy, 1 + rng() % 8);
        if (batch.status() != Status::ok)
          return batch.status();
        while (ReadSlot rec = batch.next())
          if (!take(rec, gen))
            return Status::corrupt;
        if (batch.status() != Status::ok)
          return batch.status();
        rx_.release(std::move(batch));
      }
    }
  }

  [[nodiscard]] std::uint64_t next() const noexcept { return next_; }
  [[nodiscard]] const std::string &failure() const noexcept { return failure_; }

private:
  bool take(const ReadSlot &rec, long gen) {
    if (std::string what = check_record(rec, next_, gen); !what.empty()) {
      failure_ = std::move(what);
      return false;
    }
    ++next_;
    return true;
  }
  bool fail(const char *where, Status status) {
    failure_ = std::string(where) + ": " + std::string(to_string(status));
    return false;
  }

  RingReader rx_;
  std::uint64_t next_ = 0; // the next record expected (payload counter and ring seq)
  std::string failure_;
};

/// The seed of this run, printed so that a failure can be replayed with SHMPIPE_CRASH_SEED.
std::uint64_t announced_seed(std::uint64_t rounds) {
  const std::uint64_t s = seed();
  std::printf("SHMPIPE_CRASH_SEED=%llu rounds=%llu\n", static_cast<unsigned long long>(s),
              static_cast<unsigned long long>(rounds));
  return s;
}

/// What both directions set up: the round count and a seed (printed, for replay), one ring,
/// and the page the processes share.
struct KillRun {
  std::uint64_t rounds = kill_rounds();
  std::uint64_t seed = announced_seed(rounds);
  std::mt19937_64 rng{seed};
  ScopedRemove guard{test::unique_name()};
  Segment segment = Segment::create(guard.name(), {.ring_capacity = kCapacity});
  SharedMapping page;
};

TEST(Crash, ProducerKilled) {
  KillRun run;
  SCOPED_TRACE("SHMPIPE_CRASH_SEED=" + std::to_string(run.seed));
  const std::uint64_t rounds = run.rounds;
  std::mt19937_64 &rng = run.rng;
  const std::string &name = run.guard.name();
  Segment &seg = run.segment;
  SharedMapping &page = run.page;
  CheckingReader rx(seg);

  std::uint64_t early_kills = 0;
  std::uint64_t in_flight = 0; // kills after which a record beyond `committed` had arrived
  std::uint64_t landed[kPhases] = {};
  for (std::uint64_t gen = 0; gen < rounds; ++gen) {
    SCOPED_TRACE("generation " + std::to_string(gen));
    const std::uint64_t first = rx.next();
    page->attempted.store(first);
    page->committed.store(first);
    page->phase.store(starting);
    const std::uint64_t child_seed = rng();
    test::Child child([&] { return produce_until_killed(name, *page, gen, first, child_seed); });
    const auto g = static_cast<long>(gen);
    bool ok = true;
    // One kill in five counts from the fork, so that it may land in the start-up (open, role
    // claim, recovery); the rest count from the attach, up to 4 ms of writing. Not the first:
    // a consumer waiting for a producer that never claimed the role has nobody to be told is
    // dead (it gets timeout).
    Deadline kill_at = Clock::now() + kill_delay(rng, 2000);
    if (gen == 0 || rng() % 5 != 0) {
      ASSERT_TRUE(wait_attached(*page, gen, [&] { ok = ok && rx.poll(rng, g); }))
          << "child never attached: " << page->message;
      kill_at = Clock::now() + kill_delay(rng, 4000);
    } else {
      ++early_kills;
    }
    while (ok && Clock::now() < kill_at)
      ok = rx.poll(rng, g);
    ASSERT_TRUE(ok) << rx.failure();
    ::kill(child.pid(), SIGKILL);
    const int code = child.wait(10s);
    ASSERT_EQ(code, -SIGKILL) << "the producer child ended on its own: " << page->message;

    // Everything published before the kill, then peer_dead (not a hang, not a timeout).
    const Status end = rx.drain(rng, g);
    ASSERT_EQ(end, Status::peer_dead) << to_string(end) << " " << rx.failure();
    // Committed records all arrived; nothing that was not even reserved did.
    const std::uint64_t committed = page->committed.load();
    const std::uint64_t attempted = page->attempted.load();
    ASSERT_GE(rx.next(), committed) << "committed records were lost";
    ASSERT_LE(rx.next(), attempted) << "records that were never written arrived";
    if (rx.next() > committed)
      ++in_flight;
    ++landed[std::min<std::uint64_t>(page->phase.load(), kPhases - 1)];
  }

  // A last producer ends the stream cleanly: its records follow, then closed.
  const std::uint64_t first = rx.next();
  test::Child last([&] {
    Segment seg2 = Segment::open(name);
    RingWriter tx(seg2);
    page->attached.store(rounds + 1);
    std::vector<std::byte> payload(sizeof(PayloadHead) + kMaxBody);
    for (std::uint64_t seq = first; seq < first + 300; ++seq) {
      const std::span<std::byte> bytes(payload.data(), payload_size(seq));
      fill_payload(bytes, seq, static_cast<std::uint32_t>(rounds));
      if (const Status status =
              tx.write(bytes, deadline_after(10s), kPolicy, static_cast<std::uint16_t>(seq));
          status != Status::ok) {
        std::fprintf(stderr, "last producer: write of record %llu: %s\n",
                     static_cast<unsigned long long>(seq), std::string(to_string(status)).c_str());
        return 30;
      }
    }
    return 0;
  });
  // Until it has claimed the role, the owner word names the last killed producer, and a
  // consumer told so answers peer_dead (rightly): drain once the new one holds it.
  ASSERT_TRUE(wait_attached(*page, rounds, [] {})) << page->message;
  EXPECT_EQ(rx.drain(rng, static_cast<long>(rounds)), Status::closed) << rx.failure();
  EXPECT_EQ(last.wait(30s), 0);
  EXPECT_EQ(rx.next(), first + 300);
  std::printf("%llu producers killed (%llu counted from the fork), %llu records, %llu kills "
              "with a record published but its commit not returned\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(early_kills),
              static_cast<unsigned long long>(rx.next()),
              static_cast<unsigned long long>(in_flight));
  std::printf("kills landed in:");
  for (std::size_t i = 0; i < kPhases; ++i)
    std::printf(" %s %llu", kPhaseNames[i], static_cast<unsigned long long>(landed[i]));
  std::printf("\n");
}

// ------------------------------------------------------------------------------------------
// The consumer is killed.

/// Stores max(current, value).
void store_max(std::atomic<std::uint64_t> &word, std::uint64_t value) {
  std::uint64_t current = word.load();
  while (current < value && !word.compare_exchange_weak(current, value)) {
  }
}

/// A consumer child: reads on from where the last consumer released, single records or
/// (`batches`) batches of up to kMaxBatch, recording in the page what it processed and
/// released. Returns 0 when the stream is closed.
int consume_until_killed(const std::string &name, SharedPage &page, std::uint64_t gen, bool batches,
                         std::uint64_t rng_seed) {
  Segment seg = Segment::open(name);
  RingReader rx(seg);
  // What the consumers before us did: processed everything below `processed`, released (at
  // least) everything below `released`; at most `hand` records may be processed, unreleased.
  const std::uint64_t processed = page.processed.load();
  const std::uint64_t released = page.released.load();
  const std::uint64_t hand = page.hand.load();
  const std::uint64_t own_hand = batches ? kMaxBatch : 1;
  page.attached.store(gen + 1);
  std::mt19937_64 rng(rng_seed);
  bool first = true;
  bool caught_up = false; // every record processed before we attached is released
  std::uint64_t expect = 0;

  // Checks one record and "processes" it; 0 or an error code.
  const auto process = [&](const ReadSlot &rec) -> int {
    if (rec.bytes().size() < sizeof(PayloadHead))
      return child_fail(page, 40, "short record");
    PayloadHead head{};
    std::memcpy(&head, rec.bytes().data(), sizeof head);
    const std::uint64_t seq = first ? head.seq : expect;
    if (std::string what = check_record(rec, seq, -1); !what.empty())
      return child_fail(page, 41, what);
    if (first) {
      // Resuming: not before what was released (a release is final), not after what was
      // processed (nothing skipped), and the records seen twice were all in hand.
      if (seq < released || seq > processed || processed - seq > hand)
        return child_fail(page, 42,
                          "resumed at " + std::to_string(seq) + " after processed " +
                              std::to_string(processed) + ", released " + std::to_string(released) +
                              ", in hand " + std::to_string(hand));
      page.duplicates.fetch_add(processed - seq);
      // The records in hand may still include our predecessors' until we released them.
      page.hand.store(std::max(hand, own_hand));
      first = false;
    }
    expect = seq + 1;
    store_max(page.processed, seq + 1);
    return 0;
  };
  const auto after_release = [&] {
    page.released.store(expect);
    if (!caught_up && expect >= processed) {
      caught_up = true;
      page.hand.store(own_hand);
    }
  };
  // Some time between processing and releasing, so that kills land there too.
  const auto linger = [&] {
    if (rng() % 4 == 0) {
      const Deadline until = Clock::now() + std::chrono::microseconds(rng() % 50);
      while (Clock::now() < until) {
      }
    }
  };

  for (;;) {
    if (!batches || rng() % 2 == 0) {
      ReadSlot rec = rx.peek(deadline_after(10s), kPolicy);
      if (rec.status() == Status::closed)
        return 0;
      if (!rec)
        return child_fail(page, 43, "peek: " + std::string(to_string(rec.status())));
      if (const int code = process(rec); code != 0)
        return code;
      linger();
      rx.release(std::move(rec));
      after_release();
    } else {
      ReadBatch batch = rx.peek_batch(deadline_after(10s), kPolicy, kMaxBatch);
      if (batch.status() == Status::closed)
        return 0;
      if (batch.status() != Status::ok)
        return child_fail(page, 44, "peek_batch: " + std::string(to_string(batch.status())));
      while (ReadSlot rec = batch.next())
        if (const int code = process(rec); code != 0)
          return code;
      if (batch.status() != Status::ok)
        return child_fail(page, 45, "batch: " + std::string(to_string(batch.status())));
      linger();
      rx.release(std::move(batch));
      after_release();
    }
  }
}

/// The producer side, in this process: one writer for the whole test.
class CountingWriter {
public:
  explicit CountingWriter(Segment &seg) : tx_(seg) {}

  /// Writes records (single commits and staged batches) until `limit`; returns ok when the
  /// deadline passed while writing, or why a reservation failed.
  Status write_until(std::mt19937_64 &rng, WaitLimit limit) {
    for (;;) {
      const std::uint64_t n = rng() % 3 == 0 ? 1 + rng() % 5 : 1;
      for (std::uint64_t i = 0; i < n; ++i) {
        WriteSlot slot = tx_.reserve(payload_size(next_), limit, kPolicy);
        if (!slot) {
          tx_.publish();
          return slot.status() == Status::timeout ? Status::ok : slot.status();
        }
        fill_payload(slot.bytes(), next_, 0);
        tx_.stage(std::move(slot), static_cast<std::uint16_t>(next_));
        ++next_;
      }
      tx_.publish();
    }
  }

  [[nodiscard]] std::uint64_t next() const noexcept { return next_; }
  void close() noexcept { tx_.close(); }

private:
  RingWriter tx_;
  std::uint64_t next_ = 0;
};

TEST(Crash, ConsumerKilled) {
  KillRun run;
  SCOPED_TRACE("SHMPIPE_CRASH_SEED=" + std::to_string(run.seed));
  const std::uint64_t rounds = run.rounds;
  std::mt19937_64 &rng = run.rng;
  const std::string &name = run.guard.name();
  Segment &seg = run.segment;
  SharedMapping &page = run.page;
  CountingWriter tx(seg);

  std::uint64_t early_kills = 0;
  for (std::uint64_t gen = 0; gen < rounds; ++gen) {
    SCOPED_TRACE("generation " + std::to_string(gen));
    const bool batches = gen % 2 == 1;
    const std::uint64_t child_seed = rng();
    test::Child child([&] { return consume_until_killed(name, *page, gen, batches, child_seed); });
    // As for producers: one kill in five counts from the fork (not the first: a producer
    // waiting for a consumer that never attached has nobody to be told is dead).
    Deadline kill_at = Clock::now() + kill_delay(rng, 2000);
    if (gen == 0 || rng() % 5 != 0) {
      Status status = Status::ok;
      ASSERT_TRUE(wait_attached(*page, gen,
                                [&] {
                                  if (status == Status::ok || status == Status::peer_dead)
                                    status = tx.write_until(rng, deadline_after(100us));
                                }))
          << "child never attached: " << page->message;
      ASSERT_TRUE(status == Status::ok || status == Status::peer_dead) << to_string(status);
      kill_at = Clock::now() + kill_delay(rng, 4000);
    } else {
      ++early_kills;
    }
    // Until the child claims the role, the ring may be full with a dead consumer's owner
    // word still in place: peer_dead then is the truth, so write on.
    while (Clock::now() < kill_at) {
      const Status status = tx.write_until(rng, kill_at);
      ASSERT_TRUE(status == Status::ok || status == Status::peer_dead)
          << to_string(status) << " " << page->message;
    }
    ::kill(child.pid(), SIGKILL);
    const int code = child.wait(10s);
    ASSERT_EQ(code, -SIGKILL) << "the consumer child ended on its own: " << page->message;
    ASSERT_EQ(page->error.load(), 0u) << page->message;
    // A producer waiting for space that only a dead consumer could make is told so.
    ASSERT_EQ(tx.write_until(rng, deadline_after(10s)), Status::peer_dead);
  }

  // A last consumer reads everything, then the stream is closed.
  const std::uint64_t gen = rounds;
  test::Child last([&] { return consume_until_killed(name, *page, gen, true, rng()); });
  ASSERT_TRUE(wait_attached(*page, gen, [] {})) << page->message;
  ASSERT_EQ(tx.write_until(rng, deadline_after(20ms)), Status::ok);
  tx.close();
  EXPECT_EQ(last.wait(30s), 0) << page->message;
  EXPECT_EQ(page->error.load(), 0u) << page->message;
  EXPECT_EQ(page->processed.load(), tx.next()) << "every record processed";
  EXPECT_EQ(page->released.load(), tx.next());
  std::printf("%llu consumers killed (%llu counted from the fork), %llu records, %llu "
              "processed twice\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(early_kills),
              static_cast<unsigned long long>(tx.next()),
              static_cast<unsigned long long>(page->duplicates.load()));
}

} // namespace
} // namespace shmpipe

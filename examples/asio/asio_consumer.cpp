// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// asio_consumer: one thread and one boost::asio::io_context serve a shmpipe Consumer through
// its readiness descriptor, next to a timer that prints the rate, a deadline and the stop
// signals: no polling, no second thread. The producer is this program again (--produce),
// started as a child.
//
//   asio_consumer [--records N] [--rate R] [--idle-ms MS] [--die-after N] [--tick-ms MS]
//                 [--deadline-s S]
//
// The producer sends N records (8 to 256 bytes, every byte checked here) in bursts of 1 to
// 64, R records/s on average (0: as fast as the ring takes them), pauses MS milliseconds
// halfway (the consumer reports the CPU time that pause cost it), then closes the stream;
// with --die-after it kills itself with SIGKILL after that many records instead.
// Exit status: 0 when every record arrived intact and the stream closed; 1 with the reason
// (the producer died, records were wrong, the deadline passed, the idle loop used CPU); 2 for
// a bad command line; a stop signal (Ctrl-C, SIGTERM, SIGHUP) ends it with that signal, once
// the producer is stopped and reaped and the segment removed.
#include <shmpipe/shmpipe.hpp>

#include "common/program.hpp"

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using shmpipe::Status;

constexpr examples::Usage
    kUsage("asio_consumer", "asio_consumer [--records N] [--rate R] [--idle-ms MS] [--die-after N] "
                            "[--tick-ms MS] [--deadline-s S]");
constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

struct Options {
  std::uint64_t records = 5000;
  std::uint64_t rate = 10000;       // records/s on average; 0: unpaced
  std::uint64_t idle_ms = 0;        // the producer's pause halfway
  std::uint64_t die_after = kNever; // the producer crashes after this many records
  std::uint64_t tick_ms = 500;      // the rate line's interval
  std::uint64_t deadline_s = 60;    // the whole run's limit

  // The producer pauses before this record, so the consumer knows which gap to measure.
  [[nodiscard]] std::uint64_t pause_before() const { return idle_ms > 0 ? records / 2 : kNever; }
};

Options parse(int argc, char **argv) {
  Options o;
  kUsage.options(argc, argv, [&](std::string_view flag, std::string_view value) {
    if (flag == "--records")
      o.records = kUsage.number<std::uint64_t>(value, "--records", 1, 1'000'000'000);
    else if (flag == "--rate")
      o.rate = kUsage.number<std::uint64_t>(value, "--rate", 0, 100'000'000);
    else if (flag == "--idle-ms")
      o.idle_ms = kUsage.number<std::uint64_t>(value, "--idle-ms", 0, 600'000);
    else if (flag == "--die-after")
      o.die_after = kUsage.number<std::uint64_t>(value, "--die-after", 0, kNever);
    else if (flag == "--tick-ms")
      o.tick_ms = kUsage.number<std::uint64_t>(value, "--tick-ms", 10, 600'000);
    else if (flag == "--deadline-s")
      o.deadline_s = kUsage.number<std::uint64_t>(value, "--deadline-s", 1, 86'400);
    else
      kUsage.fail("unknown option " + std::string(flag));
  });
  if (o.idle_ms > 0 && o.records < 2)
    kUsage.fail("--idle-ms needs at least 2 records (the pause comes halfway)");
  return o;
}

// Record `seq`: its size and every byte follow from seq, so the consumer checks the order and
// each byte without being told anything. The first 8 bytes are seq itself.
std::size_t record_size(std::uint64_t seq) { return 8 + static_cast<std::size_t>(seq * 37 % 249); }
std::byte record_byte(std::uint64_t seq, std::size_t i) {
  return static_cast<std::byte>((seq * 131 + i) & 0xff);
}

void fill(std::span<std::byte> out, std::uint64_t seq) {
  std::memcpy(out.data(), &seq, sizeof seq);
  for (std::size_t i = sizeof seq; i < out.size(); ++i)
    out[i] = record_byte(seq, i);
}

bool intact(std::span<const std::byte> in, std::uint64_t seq) {
  std::uint64_t got = 0;
  if (in.size() != record_size(seq) || (std::memcpy(&got, in.data(), sizeof got), got != seq))
    return false;
  for (std::size_t i = sizeof seq; i < in.size(); ++i)
    if (in[i] != record_byte(seq, i))
      return false;
  return true;
}

// --- the producer (--produce NAME ...), a plain blocking program -------------------------

int produce(const std::string &name, const Options &o) {
  auto tx = shmpipe::Producer::open(name, {.open_timeout = 5s});
  const auto start = shmpipe::Clock::now();
  std::chrono::nanoseconds paused{0};
  std::uint64_t burst_left = 0;
  for (std::uint64_t seq = 0; seq < o.records; ++seq) {
    if (seq == o.die_after)
      ::raise(SIGKILL); // a crash: no close(), nothing unwound
    if (seq == o.pause_before()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(o.idle_ms));
      paused += std::chrono::milliseconds(o.idle_ms);
    }
    if (o.rate > 0 && burst_left == 0) {
      // Bursts of 1 to 64 records, each at its place in the schedule: the consumer sees both
      // single records (a wake-up each) and runs of them (one wake-up for many).
      const std::chrono::duration<double> at(static_cast<double>(seq) /
                                             static_cast<double>(o.rate));
      std::this_thread::sleep_until(start + paused +
                                    std::chrono::duration_cast<std::chrono::nanoseconds>(at));
      burst_left = 1 + (seq * 0x9e3779b97f4a7c15ULL >> 58); // 1..64, from seq's bits
    }
    if (burst_left > 0)
      --burst_left;
    shmpipe::WriteSlot slot = tx.reserve(record_size(seq), 5s); // waits while the ring is full
    if (!slot) {
      std::fprintf(stderr, "asio_consumer --produce: record %" PRIu64 ": %s\n", seq,
                   std::string(shmpipe::to_string(slot.status())).c_str());
      return 1;
    }
    fill(slot.bytes(), seq);
    tx.commit(std::move(slot));
  }
  tx.close(); // the consumer's next try reports Status::closed
  return 0;
}

// --- the consumer ---------------------------------------------------------------------------

/// "exited with status 3", "killed by SIGKILL": a wait status for a message.
std::string describe(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  const char *name = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : nullptr;
  return name != nullptr ? std::string("was killed by SIG") + name : "ended oddly";
}

/// The producer child. Killed and reaped by the destructor on any path that did not wait()
/// for it, so that no exit of ours (an exception, a stop signal) leaves it running.
class ProducerProcess {
public:
  ProducerProcess(const std::string &segment, const Options &o) {
    std::vector<std::string> args = {"asio_consumer", "--produce", segment};
    for (const auto &[flag, value] : {std::pair{"--records", o.records},
                                      {"--rate", o.rate},
                                      {"--idle-ms", o.idle_ms},
                                      {"--die-after", o.die_after}})
      args.insert(args.end(), {flag, std::to_string(value)});
    std::vector<char *> argv;
    for (std::string &arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    // Its own process group: Ctrl-C at a terminal reaches only us, and we stop the child
    // ourselves. Otherwise it would die of the same SIGINT and the loop could see the
    // producer's death before the signal, and report a crash instead of a stop.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    const int rc = ::posix_spawn(&pid_, "/proc/self/exe", nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
      throw std::system_error(rc, std::generic_category(), "cannot start the producer");
  }
  ProducerProcess(const ProducerProcess &) = delete;
  ProducerProcess &operator=(const ProducerProcess &) = delete;
  ~ProducerProcess() {
    if (pid_ > 0) { // it owns nothing that needs unwinding: the segment is ours
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Its wait status once it exits, within `limit`; throws (and the destructor kills it)
  /// when it does not.
  int wait(std::chrono::milliseconds limit) {
    // A pidfd polls readable when the process exits: a bounded wait without a sleep loop.
    // (The system call itself: glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.)
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0)
      throw std::system_error(errno, std::generic_category(), "pidfd_open of the producer");
    pollfd pfd{pidfd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(limit.count()));
    ::close(pidfd);
    if (ready != 1)
      throw std::runtime_error("the producer did not exit within " + std::to_string(limit.count()) +
                               " ms");
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return status;
  }

private:
  pid_t pid_ = 0;
};

/// CPU time (user + system) this process used so far.
std::chrono::microseconds cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

/// The event loop's handlers: the ring, a rate line every tick, the deadline and the stop
/// signals, all on one io_context run by one thread (so no handler needs a lock).
class Loop {
public:
  enum class End { running, closed, producer_died, failed, stopped };

  Loop(asio::io_context &io, asio::signal_set &signals, shmpipe::Consumer &rx, const Options &o)
      : io_(io), signals_(signals), rx_(rx), options_(o), ready_(io, duplicate(rx.ready_fd())),
        tick_(io), deadline_(io) {}

  void start() {
    started_ = last_tick_ = shmpipe::Clock::now();
    tick_.expires_at(started_);
    tick();
    deadline_.expires_after(std::chrono::seconds(options_.deadline_s));
    deadline_.async_wait([this](const boost::system::error_code &ec) {
      if (!ec)
        fail("the deadline (" + std::to_string(options_.deadline_s) + " s) passed after " +
             count() + " records");
    });
    signals_.async_wait([this](const boost::system::error_code &ec, int signal) {
      if (!ec)
        finish(End::stopped, signal);
    });
    // Try first, wait after, here as everywhere (see wait_ready): what is in the ring already
    // made its change before any wait began. Last, as it may end the run at once (finish()
    // cancels the waits above).
    drain();
  }

  [[nodiscard]] End end() const noexcept { return end_; }
  [[nodiscard]] int signal() const noexcept { return signal_; }
  [[nodiscard]] const std::string &reason() const noexcept { return reason_; }
  [[nodiscard]] std::uint64_t received() const noexcept { return received_; }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::uint64_t errors() const noexcept { return errors_; }
  [[nodiscard]] std::uint64_t wakeups() const noexcept { return wakeups_; }
  [[nodiscard]] shmpipe::Clock::duration elapsed() const noexcept { return finished_ - started_; }
  [[nodiscard]] shmpipe::Clock::duration idle_wall() const noexcept { return idle_wall_; }
  [[nodiscard]] std::chrono::microseconds idle_cpu() const noexcept { return idle_cpu_; }

private:
  // A duplicate, not the Consumer's descriptor itself: stream_descriptor closes what it holds
  // when it is destroyed, and the Consumer closes its own; sharing one number, the second
  // close would hit whatever descriptor was opened with that number meanwhile. The duplicate
  // refers to the same epoll instance, so it is readable exactly when the Consumer's is, and
  // every exit path (an exception included) closes it once, with no release() to forget.
  static int duplicate(int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
      throw std::system_error(errno, std::generic_category(), "dup of the ready descriptor");
    return copy;
  }

  // asio registers descriptors edge-triggered (EPOLLET) and does not look before it waits:
  // async_wait completes on a change that comes after it. That is what the ready descriptor
  // gives when the wait follows a try that found nothing (that try re-arms it, and anything
  // published afterwards makes it readable anew), in the same handler, before the loop
  // returns to epoll_wait. So: wait only right after an empty try.
  void wait_ready() {
    ready_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code &ec) {
                        if (ec || end_ != End::running) // see finish()
                          return;
                        ++wakeups_;
                        drain();
                      });
  }

  // What the descriptor's contract asks: take records until a try finds none. At most
  // kPerTurn at a time, so that a producer faster than us cannot starve the timers and the
  // signals: the rest is posted behind them (without waiting: no change would come).
  void drain() {
    static constexpr int kPerTurn = 1024;
    for (int n = 0; n < kPerTurn; ++n) {
      shmpipe::ReadSlot rec = rx_.try_peek();
      if (!rec)
        return no_record(rec.status());
      take(rec.bytes());
      rx_.release(std::move(rec)); // frees its space for the producer
    }
    asio::post(io_, [this] {
      if (end_ == End::running)
        drain();
    });
  }

  void take(std::span<const std::byte> record) {
    const std::uint64_t seq = received_++;
    bytes_ += record.size();
    if (!intact(record, seq) && errors_++ == 0)
      std::fprintf(stderr, "asio_consumer: record %" PRIu64 " is wrong (%zu bytes)\n", seq,
                   record.size());
    // The producer's pause lies between records pause_before() - 1 and pause_before(): what
    // this process spent meanwhile is what an idle loop costs (timer ticks included).
    if (received_ == options_.pause_before()) {
      idle_from_ = shmpipe::Clock::now();
      idle_cpu_ = cpu_time();
    } else if (seq == options_.pause_before()) {
      idle_wall_ = shmpipe::Clock::now() - idle_from_;
      idle_cpu_ = cpu_time() - idle_cpu_;
    }
  }

  void no_record(Status status) {
    switch (status) {
    case Status::empty: // this try re-armed the descriptor
      return wait_ready();
    case Status::closed:
      if (received_ == options_.records)
        return finish(End::closed);
      return fail("the stream closed after " + count() + " records");
    case Status::peer_dead: // committed records came first: received_ is all it sent
      reason_ = "the producer died after " + count() + " records (peer_dead)";
      return finish(End::producer_died); // not fail(): main() adds how it died
    default:
      return fail("the ring reports " + std::string(shmpipe::to_string(status)) + " after " +
                  count() + " records");
    }
  }

  void tick() {
    // From the previous expiry, not from now: the lines stay on a fixed grid.
    tick_.expires_at(tick_.expiry() + std::chrono::milliseconds(options_.tick_ms));
    tick_.async_wait([this](const boost::system::error_code &ec) {
      if (ec || end_ != End::running) // see finish()
        return;
      const auto now = shmpipe::Clock::now();
      const double secs = std::chrono::duration<double>(now - last_tick_).count();
      std::printf("asio_consumer: %7.3f s %10" PRIu64 " records %10.0f records/s\n",
                  std::chrono::duration<double>(now - started_).count(), received_,
                  static_cast<double>(received_ - at_last_tick_) / secs);
      std::fflush(stdout);
      last_tick_ = now;
      at_last_tick_ = received_;
      tick();
    });
  }

  void fail(std::string reason) {
    if (end_ == End::running)
      reason_ = std::move(reason);
    finish(End::failed);
  }

  // Cancels every pending wait: run() returns once their handlers have run. cancel() cannot
  // abort a wait that completed in the same reactor turn: its handler still runs, with
  // success. So every handler that would start a new wait checks end_ first; a tick due in the
  // turn that saw the close once re-armed itself forever, with the stop signals cancelled.
  void finish(End end, int signal = 0) {
    if (end_ != End::running)
      return;
    end_ = end;
    signal_ = signal;
    finished_ = shmpipe::Clock::now();
    ready_.cancel();
    tick_.cancel();
    deadline_.cancel();
    signals_.cancel();
  }

  [[nodiscard]] std::string count() const {
    return std::to_string(received_) + " of " + std::to_string(options_.records);
  }

  asio::io_context &io_;
  asio::signal_set &signals_;
  shmpipe::Consumer &rx_;
  const Options &options_;
  asio::posix::stream_descriptor ready_;
  asio::steady_timer tick_;
  asio::steady_timer deadline_;

  End end_ = End::running;
  int signal_ = 0;
  std::string reason_;
  std::uint64_t received_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t wakeups_ = 0;
  std::uint64_t at_last_tick_ = 0;
  shmpipe::Clock::time_point started_{}, finished_{}, last_tick_{}, idle_from_{};
  shmpipe::Clock::duration idle_wall_{};
  std::chrono::microseconds idle_cpu_{0};
};

int consume(const Options &o) {
  asio::io_context io(1); // concurrency hint 1: one thread runs it, asio may skip its locks
  // Before anything that must be cleaned up: from here on a stop signal is an event of the
  // loop (asio's handler replaces run_main's), and the unwinding below cleans up.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  // We create the segment, so it is ours to remove: the Consumer's destructor does it.
  auto rx = shmpipe::Consumer::create(shmpipe::unique_segment_name("asio-consumer-"),
                                      {.capacity = 1 << 16});
  const std::string name(rx.segment().name());
  ProducerProcess producer(name, o);
  std::printf("asio_consumer: serving %s, producer pid %d\n", name.c_str(),
              static_cast<int>(producer.pid()));
  std::fflush(stdout);

  Loop loop(io, signals, rx, o);
  loop.start();
  io.run();

  switch (loop.end()) {
  case Loop::End::stopped:
    throw examples::Interrupted(loop.signal()); // run_main raises it again, once all is gone
  case Loop::End::producer_died:                // it is gone: its wait status says how
    throw std::runtime_error(loop.reason() + ": it " + describe(producer.wait(5s)));
  case Loop::End::failed:
    throw std::runtime_error(loop.reason());
  default:
    break;
  }
  if (const int status = producer.wait(5s); !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the producer " + describe(status));

  if (o.idle_ms > 0) {
    const double idle_s = std::chrono::duration<double>(loop.idle_wall()).count();
    const double cpu_ms = static_cast<double>(loop.idle_cpu().count()) / 1000.0;
    const double share = cpu_ms / 10.0 / idle_s; // percent
    std::printf("asio_consumer: the producer's %.3f s pause cost %.3f ms of CPU (%.3f%%)\n", idle_s,
                cpu_ms, share);
    // A loop that polled would show tens of percent; an idle one costs its timer ticks.
    if (share > 5.0)
      throw std::runtime_error("the idle loop used more than 5% of a CPU");
  }
  // The summary comes last, and only here: a line with 0 errors means everything passed.
  const double secs = std::chrono::duration<double>(loop.elapsed()).count();
  std::printf("asio_consumer: received %" PRIu64 " of %" PRIu64 " records (%" PRIu64
              " bytes) in %.3f s, %" PRIu64 " errors, %" PRIu64 " wake-ups\n",
              loop.received(), o.records, loop.bytes(), secs, loop.errors(), loop.wakeups());
  return loop.errors() == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 2 && std::string_view(argv[1]) == "--produce")
    return examples::run_main("asio_consumer --produce",
                              [&] { return produce(argv[2], parse(argc - 2, argv + 2)); });
  return examples::run_main("asio_consumer", [&] { return consume(parse(argc, argv)); });
}

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The C++ core of the Python benchmarks (issue 15, item 6). One measurement per invocation,
// printed as one JSON line; bench/python/run.py runs the invocations in rotating order and
// computes medians and ratios. The Python side of each measurement is bench/python/peers.py,
// started here as a child process (its start-up is timed apart from the measurement).
//
//   py_core_bench ledger shm|ndjson --python P --peers peers.py --rows N [--source numpy|rows]
//                 [--batch N]
//   py_core_bench rtt shm|shm-sleep|sock --python P --peers peers.py --n N
//   py_core_bench aio shm|sock --python P --peers peers.py --n N --gap-us G
//
// ledger: seed 001's scenario. The Python worker sends N ledger rows; the core reads every
//   field of every row (numbers summed, strings touched: length, first and last byte; see
//   Checksum). Two requests per process: the first (cold: fresh ring pages, first calls in the
//   interpreter) hashes every byte of every string, so that the driver can check that both
//   transports deliver the same rows; the second is the steady-state number.
// rtt: 64-byte request, 64-byte echo, one at a time, through a session (shm: the core's default
//   wait policy, shm-sleep: futex only, no spinning, and the worker sleeps in poll() on its
//   readiness fd) or a Unix socket pair (blocking read/write on both sides).
// aio: the Python side awaits shmpipe.aio.Consumer.receive() (shm) or loop.sock_recv() (sock)
//   in an asyncio loop; this side sleeps --gap-us before each ping so that the loop is parked
//   in epoll_wait when the ping comes; it waits for each pong sleeping, in both variants.
//   One-way latency = the Python side's CLOCK_MONOTONIC when the await returned minus this
//   side's CLOCK_MONOTONIC just before publishing.
#include <shmpipe/channel.hpp>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/session.hpp>

#include "../ledger_read.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock; // CLOCK_MONOTONIC, as Python's time.monotonic_ns()

[[noreturn]] void fail(const std::string &why) { throw std::runtime_error(why); }

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

double ms_since(std::int64_t t0) { return static_cast<double>(now_ns() - t0) / 1e6; }

std::string unique_name(const char *what) {
  std::random_device rd;
  return std::string("shmpipe-pybench-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(rd() % 1000000);
}

// ---- child processes -----------------------------------------------------------------------

/// A child process, killed (SIGKILL) and reaped if it was not waited for: nothing is left
/// behind on an error path.
class Child {
public:
  /// Starts `argv`; `stdin_fd` / `stdout_fd` (if >= 0) become its stdin / stdout; `keep_fd`
  /// (if >= 0) stays open in it under the same number.
  Child(const std::vector<std::string> &argv, int stdin_fd = -1, int stdout_fd = -1,
        int keep_fd = -1) {
    std::vector<char *> args;
    for (const std::string &a : argv)
      args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0)
      fail("fork: " + std::string(std::strerror(errno)));
    if (pid_ == 0) {
      if (stdin_fd >= 0 && ::dup2(stdin_fd, 0) < 0)
        std::_Exit(120);
      if (stdout_fd >= 0 && ::dup2(stdout_fd, 1) < 0)
        std::_Exit(120);
      if (keep_fd >= 0 && ::fcntl(keep_fd, F_SETFD, 0) != 0)
        std::_Exit(120);
      ::execv(args[0], args.data());
      std::_Exit(127);
    }
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  /// Waits up to `limit` for the child to exit; fails unless it exited with status 0.
  void wait(std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_)
        break;
      if (r < 0)
        fail("waitpid: " + std::string(std::strerror(errno)));
      if (Clock::now() >= until)
        fail("the Python side did not exit in time");
      std::this_thread::sleep_for(1ms);
    }
    pid_ = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      fail("the Python side failed (wait status " + std::to_string(status) + ")");
  }

private:
  pid_t pid_ = 0;
};

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
};

void write_all(int fd, const void *data, std::size_t size) {
  const auto *p = static_cast<const char *>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      fail("write: " + std::string(n < 0 ? std::strerror(errno) : "nothing written"));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

/// Reads exactly `size` bytes, waiting at most `timeout_ms` for each piece.
void read_exact(int fd, void *data, std::size_t size, int timeout_ms = 10000) {
  auto *p = static_cast<char *>(data);
  while (size > 0) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) == 0)
      fail("read: timed out");
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      fail("read: " + std::string(n < 0 ? std::strerror(errno) : "end of stream"));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// ---- the rows ------------------------------------------------------------------------------

using shmpipe::bench::Checksum;

/// Reads one verified LedgerBatch in place into `sum` (bench/ledger_read.hpp).
void read_ledger(const sc::LedgerBatch *b, Checksum &sum) {
  if (b == nullptr)
    fail("ledger: a message that is not a LedgerBatch");
  if (!shmpipe::bench::read_batch(b, sum))
    fail("ledger: inconsistent batch");
}

struct Args {
  std::string mode, variant, python = "/usr/bin/python3", peers, source = "numpy";
  std::size_t rows = 100000, batch = 4096, n = 10000, gap_us = 500;
};

struct Pass {
  double ms;
  Checksum sum;
};

void print_ledger(const Args &a, double startup_ms, const Pass &cold, const Pass &warm) {
  std::printf("{\"bench\":\"ledger\",\"variant\":\"%s\",\"source\":\"%s\",\"rows\":%zu,"
              "\"startup_ms\":%.3f,\"cold_ms\":%.3f,\"ms\":%.3f,\"rows_read\":%" PRIu64
              ",\"full_strings\":\"%016" PRIx64 "\",\"full_numbers\":\"%016" PRIx64 "\","
              "\"touch_strings\":\"%016" PRIx64 "\",\"touch_numbers\":\"%016" PRIx64 "\"}\n",
              a.variant.c_str(), a.source.c_str(), a.rows, startup_ms, cold.ms, warm.ms,
              warm.sum.rows, cold.sum.strings, cold.sum.numbers, warm.sum.strings,
              warm.sum.numbers);
}

void ledger_shm(const Args &a) {
  const std::string name = unique_name("ledger");
  shmpipe::SessionOptions options;
  options.capacity = std::uint64_t{1} << 23; // ~18 batches of 4096 rows in flight
  shmpipe::Core core = shmpipe::Core::create(name, options);
  const std::int64_t spawned = now_ns();
  Child child({a.python, a.peers, "ledger-shm", name, std::to_string(a.rows), a.source,
               std::to_string(a.batch)});
  core.await_ready(60s);
  const double startup_ms = ms_since(spawned);
  std::array<Pass, 2> passes{};
  for (int k = 0; k < 2; ++k) {
    Checksum sum{k == 0};
    const std::int64_t t0 = now_ns();
    const shmpipe::Sent sent = core.request<sc::Extraction>(
        [](fb::FlatBufferBuilder &b) {
          const auto req = sc::CreateExtractRequest(b, b.CreateString("ledger"), 0);
          return sc::CreateExtraction(b, 1, sc::ExtractionBody::ExtractRequest, req.Union());
        },
        10s, {}, {.size_hint = 128});
    if (sent.status != shmpipe::Status::ok)
      fail("request: " + std::string(shmpipe::to_string(sent.status)));
    for (bool last = false; !last;) {
      shmpipe::Incoming in = core.receive(60s);
      if (!in || in.request_id() != sent.request_id)
        fail("receive: " + std::string(shmpipe::to_string(in.status())));
      last = in.final();
      shmpipe::Received<sc::Extraction> msg = std::move(in).as<sc::Extraction>();
      if (!msg)
        fail("receive: " + std::string(shmpipe::to_string(msg.status())));
      read_ledger(msg->body_as_LedgerBatch(), sum);
    }
    passes[static_cast<std::size_t>(k)] = {ms_since(t0), sum};
  }
  if (core.shutdown("done", 5s) != shmpipe::Status::ok)
    fail("shutdown");
  child.wait(10s);
  print_ledger(a, startup_ms, passes[0], passes[1]);
}

/// Lines from a descriptor, kept across calls.
class LineReader {
public:
  explicit LineReader(int fd) : fd_(fd), chunk_(1 << 16) {}
  /// The next line (without '\n'); valid until the next call. Fails at end of stream.
  std::string_view next() {
    for (;;) {
      const std::size_t nl = buf_.find('\n', start_);
      if (nl != std::string::npos) {
        const std::string_view line(buf_.data() + start_, nl - start_);
        start_ = nl + 1;
        return line;
      }
      buf_.erase(0, start_);
      start_ = 0;
      const ssize_t n = ::read(fd_, chunk_.data(), chunk_.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        fail("ndjson: the stream ended early");
      buf_.append(chunk_.data(), static_cast<std::size_t>(n));
    }
  }

private:
  int fd_;
  std::string buf_;
  std::size_t start_ = 0;
  std::vector<char> chunk_;
};

void ledger_ndjson(const Args &a) {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
    fail("pipe");
  Fd to_r(to_child[0]), to_w(to_child[1]), from_r(from_child[0]), from_w(from_child[1]);
  const std::int64_t spawned = now_ns();
  Child child({a.python, a.peers, "ledger-ndjson", std::to_string(a.rows)}, to_r.fd, from_w.fd);
  to_r.reset();
  from_w.reset();
  LineReader lines(from_r.fd);
  if (lines.next() != "ready")
    fail("ndjson: no ready line");
  const double startup_ms = ms_since(spawned);
  std::array<Pass, 2> passes{};
  for (int k = 0; k < 2; ++k) {
    Checksum sum{k == 0};
    const std::int64_t t0 = now_ns();
    write_all(to_w.fd, "go\n", 3);
    for (;;) {
      const std::string_view text = lines.next();
      const nlohmann::json j = nlohmann::json::parse(text);
      if (j.contains("end")) {
        if (j.at("end").get<std::uint64_t>() != sum.rows)
          fail("ndjson: row count differs from the end line");
        break;
      }
      const auto &bb = j.at("bbox");
      sum.row(j.at("page").get<std::uint32_t>(), j.at("stt").get<std::string>(),
              j.at("code").get<std::string>(), j.at("name").get<std::string>(),
              j.at("unit").get<std::string>(), j.at("quantity").get<double>(),
              j.at("unit_price").get<double>(), j.at("amount").get<double>(),
              j.at("flags").get<unsigned>(),
              {bb.at(0).get<float>(), bb.at(1).get<float>(), bb.at(2).get<float>(),
               bb.at(3).get<float>()});
    }
    passes[static_cast<std::size_t>(k)] = {ms_since(t0), sum};
  }
  to_w.reset(); // end of stdin: the worker exits
  child.wait(10s);
  print_ledger(a, startup_ms, passes[0], passes[1]);
}

// ---- round trips ---------------------------------------------------------------------------

constexpr std::size_t kPayload = 64;
constexpr std::size_t kWarmup = 1000;

std::array<std::byte, kPayload> payload(std::uint64_t i) {
  std::array<std::byte, kPayload> p{};
  std::memset(p.data(), 'x', p.size());
  std::memcpy(p.data(), &i, sizeof i); // bytes 4..8 are never a file identifier ("SPEV")
  return p;
}

double percentile(std::vector<std::int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[at]);
}

void print_rtt(const Args &a, double startup_ms, double total_ns,
               const std::vector<std::int64_t> &rtt) {
  std::printf("{\"bench\":\"rtt\",\"variant\":\"%s\",\"pairing\":\"C++ core <-> Python worker\","
              "\"n\":%zu,\"startup_ms\":%.3f,\"per_s\":%.1f,\"mean_us\":%.3f,\"p50_us\":%.3f,"
              "\"p99_us\":%.3f}\n",
              a.variant.c_str(), rtt.size(), startup_ms,
              static_cast<double>(rtt.size()) / (total_ns / 1e9),
              total_ns / static_cast<double>(rtt.size()) / 1e3, percentile(rtt, 0.5) / 1e3,
              percentile(rtt, 0.99) / 1e3);
}

void rtt_shm(const Args &a) {
  const bool sleep = a.variant == "shm-sleep";
  const std::string name = unique_name("rtt");
  shmpipe::SessionOptions options;
  options.capacity = std::uint64_t{1} << 16;
  if (sleep) // futex only: a sleeping wait against the sockets' sleeping read()
    options.wait = {.mode = shmpipe::WaitMode::blocking, .spin_for = 0ns, .yield_for = 0ns};
  shmpipe::Core core = shmpipe::Core::create(name, options);
  const std::int64_t spawned = now_ns();
  Child child({a.python, a.peers, "rtt-shm", name, sleep ? "poll" : "receive"});
  core.await_ready(60s);
  const double startup_ms = ms_since(spawned);
  std::vector<std::int64_t> rtt;
  rtt.reserve(a.n);
  std::int64_t start = 0;
  for (std::size_t i = 0; i < kWarmup + a.n; ++i) {
    if (i == kWarmup)
      start = now_ns();
    const auto p = payload(i);
    const std::int64_t t0 = now_ns();
    const shmpipe::Sent sent = core.request_buffer(p, 5s);
    if (sent.status != shmpipe::Status::ok)
      fail("request: " + std::string(shmpipe::to_string(sent.status)));
    shmpipe::Incoming in = core.receive(5s);
    if (!in || in.request_id() != sent.request_id || in.buffer().size() != kPayload ||
        std::memcmp(in.buffer().data(), p.data(), kPayload) != 0)
      fail("rtt: wrong or no reply (" + std::string(shmpipe::to_string(in.status())) + ")");
    in.release();
    if (i >= kWarmup)
      rtt.push_back(now_ns() - t0);
  }
  const auto total = static_cast<double>(now_ns() - start);
  if (core.shutdown("done", 5s) != shmpipe::Status::ok)
    fail("shutdown");
  child.wait(10s);
  print_rtt(a, startup_ms, total, rtt);
}

void rtt_sock(const Args &a) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    fail("socketpair");
  Fd mine(sv[0]), theirs(sv[1]);
  const std::int64_t spawned = now_ns();
  Child child({a.python, a.peers, "rtt-sock", std::to_string(theirs.fd)}, -1, -1, theirs.fd);
  theirs.reset();
  char ready = 0;
  read_exact(mine.fd, &ready, 1, 60000);
  const double startup_ms = ms_since(spawned);
  std::vector<std::int64_t> rtt;
  rtt.reserve(a.n);
  std::int64_t start = 0;
  std::array<std::byte, kPayload> back{};
  for (std::size_t i = 0; i < kWarmup + a.n; ++i) {
    if (i == kWarmup)
      start = now_ns();
    const auto p = payload(i);
    const std::int64_t t0 = now_ns();
    write_all(mine.fd, p.data(), p.size());
    read_exact(mine.fd, back.data(), back.size());
    if (back != p)
      fail("rtt: wrong reply");
    if (i >= kWarmup)
      rtt.push_back(now_ns() - t0);
  }
  const auto total = static_cast<double>(now_ns() - start);
  ::shutdown(mine.fd, SHUT_WR); // end of stream: the peer exits
  child.wait(10s);
  print_rtt(a, startup_ms, total, rtt);
}

// ---- asyncio wake-up -----------------------------------------------------------------------

constexpr std::size_t kAioWarmup = 100;

struct Pong {
  std::uint64_t i;
  std::int64_t received_ns; // the Python side's CLOCK_MONOTONIC when its await returned
};

void print_aio(const Args &a, double startup_ms, const std::vector<std::int64_t> &one_way,
               const std::vector<std::int64_t> &rtt) {
  std::printf("{\"bench\":\"aio\",\"variant\":\"%s\",\"n\":%zu,\"gap_us\":%zu,"
              "\"startup_ms\":%.3f,\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,"
              "\"rtt_p50_us\":%.3f}\n",
              a.variant.c_str(), one_way.size(), a.gap_us, startup_ms,
              percentile(one_way, 0.5) / 1e3, percentile(one_way, 0.9) / 1e3,
              percentile(one_way, 0.99) / 1e3, percentile(rtt, 0.5) / 1e3);
}

Pong parse_pong(std::span<const std::byte> bytes, std::uint64_t want) {
  Pong pong{};
  if (bytes.size() < sizeof pong)
    fail("aio: short pong");
  std::memcpy(&pong.i, bytes.data(), 8);
  std::memcpy(&pong.received_ns, bytes.data() + 8, 8);
  if (pong.i != want)
    fail("aio: pong out of order");
  return pong;
}

template <class Ping, class AwaitPong>
void aio_loop(const Args &a, Ping &&ping, AwaitPong &&await_pong, std::vector<std::int64_t> &ow,
              std::vector<std::int64_t> &rtt) {
  for (std::size_t i = 0; i < kAioWarmup + a.n; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(a.gap_us));
    std::array<std::byte, kPayload> p = payload(i);
    const std::int64_t t0 = now_ns();
    std::memcpy(p.data() + 8, &t0, 8);
    ping(p);
    const Pong pong = await_pong(i);
    const std::int64_t t1 = now_ns();
    if (i >= kAioWarmup) {
      ow.push_back(pong.received_ns - t0);
      rtt.push_back(t1 - t0);
    }
  }
}

void aio_shm(const Args &a) {
  const std::string ping_name = unique_name("aio-ping"), pong_name = unique_name("aio-pong");
  // This side waits for the pong sleeping (futex only), as the socket variant sleeps in read():
  // a spinning wait here would take a vCPU from the Python side on this 2-vCPU machine.
  shmpipe::Consumer back = shmpipe::Consumer::create(
      pong_name,
      {.capacity = 1u << 16,
       .wait = {.mode = shmpipe::WaitMode::blocking, .spin_for = 0ns, .yield_for = 0ns}});
  const std::int64_t spawned = now_ns();
  Child child({a.python, a.peers, "aio-shm", ping_name, pong_name});
  // The Python side creates the ping channel (as its consumer), then says ready on the other.
  shmpipe::Producer tx = shmpipe::Producer::open(ping_name, {.open_timeout = 60s, .linger = 0ms});
  if (shmpipe::ReadSlot ready = back.peek(60s))
    back.release(std::move(ready));
  else
    fail("aio: no ready from the Python side");
  const double startup_ms = ms_since(spawned);
  std::vector<std::int64_t> ow, rtt;
  aio_loop(
      a,
      [&](const std::array<std::byte, kPayload> &p) {
        if (tx.send(p, 5s) != shmpipe::Status::ok)
          fail("aio: send");
      },
      [&](std::uint64_t i) {
        shmpipe::ReadSlot slot = back.peek(5s);
        if (!slot)
          fail("aio: no pong (" + std::string(shmpipe::to_string(slot.status())) + ")");
        const Pong pong = parse_pong(slot.bytes(), i);
        back.release(std::move(slot));
        return pong;
      },
      ow, rtt);
  tx.close(); // the stream ends: the Python side's receive raises Closed
  child.wait(10s);
  print_aio(a, startup_ms, ow, rtt);
}

void aio_sock(const Args &a) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    fail("socketpair");
  Fd mine(sv[0]), theirs(sv[1]);
  const std::int64_t spawned = now_ns();
  Child child({a.python, a.peers, "aio-sock", std::to_string(theirs.fd)}, -1, -1, theirs.fd);
  theirs.reset();
  char ready = 0;
  read_exact(mine.fd, &ready, 1, 60000);
  const double startup_ms = ms_since(spawned);
  std::vector<std::int64_t> ow, rtt;
  aio_loop(
      a, [&](const std::array<std::byte, kPayload> &p) { write_all(mine.fd, p.data(), p.size()); },
      [&](std::uint64_t i) {
        std::array<std::byte, kPayload> back{};
        read_exact(mine.fd, back.data(), back.size());
        return parse_pong(back, i);
      },
      ow, rtt);
  ::shutdown(mine.fd, SHUT_WR);
  child.wait(10s);
  print_aio(a, startup_ms, ow, rtt);
}

std::size_t number(const char *s, const char *what) {
  char *end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v == 0)
    fail(std::string(what) + ": expected a positive integer, got '" + s + "'");
  return static_cast<std::size_t>(v);
}

Args parse(int argc, char **argv) {
  if (argc < 3)
    fail("usage: py_core_bench ledger|rtt|aio VARIANT --peers peers.py [--python P] [--rows N] "
         "[--source numpy|rows] [--batch N] [--n N] [--gap-us N]");
  Args a;
  a.mode = argv[1];
  a.variant = argv[2];
  for (int i = 3; i < argc; i += 2) {
    if (i + 1 >= argc)
      fail(std::string("missing value for ") + argv[i]);
    const std::string_view k = argv[i];
    const char *v = argv[i + 1];
    if (k == "--python")
      a.python = v;
    else if (k == "--peers")
      a.peers = v;
    else if (k == "--source")
      a.source = v;
    else if (k == "--rows")
      a.rows = number(v, "--rows");
    else if (k == "--batch")
      a.batch = number(v, "--batch");
    else if (k == "--n")
      a.n = number(v, "--n");
    else if (k == "--gap-us")
      a.gap_us = number(v, "--gap-us");
    else
      fail("unknown option " + std::string(k));
  }
  if (a.peers.empty())
    fail("--peers (the path of bench/python/peers.py) is required");
  if (a.source != "numpy" && a.source != "rows")
    fail("--source: numpy or rows");
  return a;
}

} // namespace

int main(int argc, char **argv) {
  try {
    const Args a = parse(argc, argv);
    if (a.mode == "ledger" && a.variant == "shm")
      ledger_shm(a);
    else if (a.mode == "ledger" && a.variant == "ndjson")
      ledger_ndjson(a);
    else if (a.mode == "rtt" && (a.variant == "shm" || a.variant == "shm-sleep"))
      rtt_shm(a);
    else if (a.mode == "rtt" && a.variant == "sock")
      rtt_sock(a);
    else if (a.mode == "aio" && a.variant == "shm")
      aio_shm(a);
    else if (a.mode == "aio" && a.variant == "sock")
      aio_sock(a);
    else
      fail("unknown benchmark '" + a.mode + " " + a.variant + "'");
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "py_core_bench: %s\n", e.what());
    return 1;
  }
}

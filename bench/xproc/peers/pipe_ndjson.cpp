// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peer "pipe_ndjson": the legacy path shmpipe replaces, NDJSON lines with base64 over a pipe.

#include "harness.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <poll.h>

namespace {

using bench::Fd;

constexpr char kPeer[] = "pipe_ndjson";
constexpr std::size_t kChunk = 64 * 1024; // stdio buffer of the writer, read size of the reader
constexpr std::uint64_t kWarmup = 1000;   // RTT round trips before the timed ones
constexpr int kTimeoutMs = 10'000;        // a reader waiting longer fails instead of hanging
// Baselines (section 5) found pinning neither consistently better nor worse for the pipe;
// pinned keeps the rows comparable with the other peers, which all run pinned.
constexpr bool kPin = true;

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(std::string(kPeer) + ": " + what);
}

[[noreturn]] void fail_errno(const std::string &what) { fail(what + ": " + std::strerror(errno)); }

// ---------------------------------------------------------------------------------------------
// Base64 (RFC 4648, with padding).

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Two output characters per 12 input bits: half the lookups of the textbook 6-bit loop.
constexpr auto kPairs = [] {
  std::array<std::array<char, 2>, 4096> pairs{};
  for (std::size_t i = 0; i < pairs.size(); ++i)
    pairs[i] = {kAlphabet[i >> 6], kAlphabet[i & 63]};
  return pairs;
}();

/// Character -> 6-bit value; 0xff for characters outside the alphabet.
constexpr auto kValues = [] {
  std::array<std::uint8_t, 256> values{};
  values.fill(0xff);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  return values;
}();

constexpr std::size_t base64_length(std::size_t bytes) { return (bytes + 2) / 3 * 4; }

/// Writes base64_length(size) characters to `out`; returns the end.
char *base64_encode(const std::byte *in, std::size_t size, char *out) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(in[i]); };
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3, out += 4) {
    const std::uint32_t bits = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    std::memcpy(out, kPairs[bits >> 12].data(), 2);
    std::memcpy(out + 2, kPairs[bits & 0xfff].data(), 2);
  }
  if (const std::size_t rest = size - i; rest > 0) {
    const std::uint32_t bits = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out[0] = kAlphabet[bits >> 18];
    out[1] = kAlphabet[(bits >> 12) & 63];
    out[2] = rest == 2 ? kAlphabet[(bits >> 6) & 63] : '=';
    out[3] = '=';
    out += 4;
  }
  return out;
}

/// Decodes `text` into `out`, which holds `capacity` bytes; returns the byte count. Throws on
/// malformed input or if it does not fit.
std::size_t base64_decode(std::string_view text, std::byte *out, std::size_t capacity) {
  if (text.size() % 4 != 0)
    fail("base64 length is not a multiple of 4");
  if (text.empty())
    return 0;
  const std::size_t padding = text.back() != '=' ? 0 : text[text.size() - 2] != '=' ? 1 : 2;
  if (text.size() / 4 * 3 - padding > capacity)
    fail("base64 payload larger than expected");
  const auto *s = reinterpret_cast<const unsigned char *>(text.data());
  const std::size_t full_quads = text.size() / 4 - (padding > 0 ? 1 : 0);
  std::uint32_t invalid = 0; // any 0xff lookup sets bit 7
  std::byte *o = out;
  for (std::size_t q = 0; q < full_quads; ++q, s += 4, o += 3) {
    const std::uint32_t a = kValues[s[0]], b = kValues[s[1]], c = kValues[s[2]], d = kValues[s[3]];
    invalid |= a | b | c | d;
    const std::uint32_t bits = a << 18 | b << 12 | c << 6 | d;
    o[0] = static_cast<std::byte>(bits >> 16);
    o[1] = static_cast<std::byte>(bits >> 8);
    o[2] = static_cast<std::byte>(bits);
  }
  if (padding > 0) {
    const std::uint32_t a = kValues[s[0]], b = kValues[s[1]];
    const std::uint32_t c = padding == 1 ? kValues[s[2]] : 0;
    invalid |= a | b | c;
    const std::uint32_t bits = a << 18 | b << 12 | c << 6;
    *o++ = static_cast<std::byte>(bits >> 16);
    if (padding == 1)
      *o++ = static_cast<std::byte>(bits >> 8);
  }
  if (invalid & 0x80)
    fail("invalid base64 character");
  return static_cast<std::size_t>(o - out);
}

// ---------------------------------------------------------------------------------------------
// The line format: {"seq":N,"data":"<base64 of the payload>"}

constexpr std::string_view kHead = R"({"seq":)";
constexpr std::string_view kMiddle = R"(,"data":")";
constexpr std::string_view kTail = "\"}\n";

constexpr std::size_t max_line_length(std::size_t size) {
  return kHead.size() + 20 + kMiddle.size() + base64_length(size) + kTail.size();
}

char *append(char *out, std::string_view text) {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

/// Formats one line (with its '\n') into `out`, which holds max_line_length(size); returns its
/// length.
std::size_t format_line(char *out, std::uint64_t seq, const std::byte *payload, std::size_t size) {
  char *at = append(out, kHead);
  at = std::to_chars(at, at + 20, seq).ptr;
  at = append(at, kMiddle);
  at = base64_encode(payload, size, at);
  at = append(at, kTail);
  return static_cast<std::size_t>(at - out);
}

struct Line {
  std::uint64_t seq = 0;
  std::string_view data; // still base64
};

/// A small parser for these lines: finds the "seq" and "data" members wherever they are and
/// allows whitespace around the ':'. No escapes: base64 has no '"' or '\'.
Line parse_line(std::string_view line) {
  const auto value_of = [&](std::string_view key) {
    std::size_t at = line.find(key);
    if (at == std::string_view::npos)
      fail("line without " + std::string(key));
    at += key.size();
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t'))
      ++at;
    if (at >= line.size() || line[at] != ':')
      fail("no ':' after " + std::string(key));
    ++at;
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t'))
      ++at;
    return at;
  };
  Line parsed;
  std::size_t at = value_of(R"("seq")");
  if (std::from_chars(line.data() + at, line.data() + line.size(), parsed.seq).ec != std::errc{})
    fail("\"seq\" is not a number");
  at = value_of(R"("data")");
  if (at >= line.size() || line[at] != '"')
    fail("\"data\" is not a string");
  ++at;
  const std::size_t close = line.find('"', at);
  if (close == std::string_view::npos)
    fail("unterminated \"data\" string");
  parsed.data = line.substr(at, close - at);
  return parsed;
}

/// Parses a line, checks it is message `want_seq` of `payload.size()` bytes (a lost or
/// reordered line is an error), decodes it into `payload`, touches every decoded byte.
std::uint64_t consume_line(std::string_view text, std::uint64_t want_seq,
                           std::vector<std::byte> &payload) {
  const Line line = parse_line(text);
  if (line.seq != want_seq)
    fail("expected seq " + std::to_string(want_seq) + ", got " + std::to_string(line.seq));
  if (base64_decode(line.data, payload.data(), payload.size()) != payload.size())
    fail("payload of the wrong size");
  return bench::touch_payload(payload.data(), payload.size());
}

// ---------------------------------------------------------------------------------------------
// Pipes.

/// A pipe whose read end is non-blocking, so the reader can wait in poll() with a timeout (a
/// pipe has no SO_RCVTIMEO). The write end stays blocking, as in the legacy path. After the
/// fork each process must close the end it does not use, or EOF would never come.
struct Pipe {
  /// `bytes`: the pipe's buffer (F_SETPIPE_SZ), 0 for the kernel's default (64 KiB).
  explicit Pipe(std::size_t bytes = 0) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      fail_errno("pipe");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    if (bytes != 0 && ::fcntl(write_end.get(), F_SETPIPE_SZ, static_cast<int>(bytes)) < 0)
      fail_errno("fcntl(F_SETPIPE_SZ)");
    const int flags = ::fcntl(read_end.get(), F_GETFL);
    if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0)
      fail_errno("fcntl");
  }
  Fd read_end, write_end;
};

/// While it lives, writing to a pipe whose reader is gone fails with EPIPE instead of raising
/// SIGPIPE, which would kill the harness (the leader writes in the RTT scenario). Set before
/// the fork, so the follower inherits it; restored afterwards, the harness runs one scenario at
/// a time.
class SigpipeIgnored {
public:
  SigpipeIgnored() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigemptyset(&ignore.sa_mask);
    if (::sigaction(SIGPIPE, &ignore, &saved_) != 0)
      fail_errno("sigaction");
  }
  ~SigpipeIgnored() { ::sigaction(SIGPIPE, &saved_, nullptr); }
  SigpipeIgnored(const SigpipeIgnored &) = delete;
  SigpipeIgnored &operator=(const SigpipeIgnored &) = delete;

private:
  struct sigaction saved_ {};
};

/// Reads a pipe in 64 KiB chunks and hands out complete lines. read() is tried first; only when
/// the pipe is empty does it wait in poll(), with a deadline, so a stuck writer is an error and
/// an exited one is EOF.
class LineReader {
public:
  explicit LineReader(Fd fd) : fd_(std::move(fd)), buffer_(4 * kChunk) {}

  /// The next line without its '\n'; valid until the next call.
  std::string_view next() {
    for (;;) {
      if (const void *newline = std::memchr(buffer_.data() + scan_, '\n', end_ - scan_)) {
        const std::size_t line_end =
            static_cast<std::size_t>(static_cast<const char *>(newline) - buffer_.data());
        const std::string_view line(buffer_.data() + begin_, line_end - begin_);
        begin_ = scan_ = line_end + 1;
        return line;
      }
      scan_ = end_;
      fill();
    }
  }

  /// When the first bytes arrived (the start of a throughput measurement).
  [[nodiscard]] std::chrono::steady_clock::time_point first_data() const { return first_data_; }

private:
  /// Reads one chunk after the data held. The partial line is moved to the front only when the
  /// room behind it runs short (a 64 KiB message is an 87 KiB line); the buffer grows only if
  /// one line does not fit.
  void fill() {
    if (buffer_.size() - end_ < kChunk) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      scan_ -= begin_;
      begin_ = 0;
      if (buffer_.size() - end_ < kChunk)
        buffer_.resize(end_ + kChunk);
    }
    for (;;) {
      const ssize_t got = ::read(fd_.get(), buffer_.data() + end_, kChunk);
      if (got > 0) {
        if (!started_) {
          first_data_ = std::chrono::steady_clock::now();
          started_ = true;
        }
        end_ += static_cast<std::size_t>(got);
        return;
      }
      if (got == 0)
        fail("the other process closed the pipe early");
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        fail_errno("read");
      pollfd wait{fd_.get(), POLLIN, 0};
      const int ready = ::poll(&wait, 1, kTimeoutMs);
      if (ready == 0)
        fail("read timed out (the other process is stuck)");
      if (ready < 0 && errno != EINTR)
        fail_errno("poll");
    }
  }

  Fd fd_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0; // start of the first unconsumed line
  std::size_t scan_ = 0;  // searched for '\n' up to here
  std::size_t end_ = 0;   // end of the data read
  bool started_ = false;
  std::chrono::steady_clock::time_point first_data_;
};

/// Writes lines through a stdio FILE* with a 64 KiB buffer, as the legacy producer does.
class LineWriter {
public:
  LineWriter(Fd fd, std::size_t size) : buffer_(kChunk), line_(max_line_length(size)) {
    file_ = ::fdopen(fd.get(), "w");
    if (file_ == nullptr)
      fail_errno("fdopen");
    fd.release(); // the FILE owns it now
    if (std::setvbuf(file_, buffer_.data(), _IOFBF, buffer_.size()) != 0)
      fail("setvbuf failed");
  }
  ~LineWriter() {
    if (file_ != nullptr)
      std::fclose(file_);
  }
  LineWriter(const LineWriter &) = delete;
  LineWriter &operator=(const LineWriter &) = delete;

  void put(std::uint64_t seq, const std::byte *payload, std::size_t size) {
    const std::size_t length = format_line(line_.data(), seq, payload, size);
    if (std::fwrite(line_.data(), 1, length, file_) != length)
      fail_errno("write");
  }
  void flush() {
    if (std::fflush(file_) != 0)
      fail_errno("write");
  }
  void close() {
    if (std::fclose(std::exchange(file_, nullptr)) != 0)
      fail_errno("write");
  }

private:
  std::vector<char> buffer_; // outlives file_: the destructor body closes it first
  std::vector<char> line_;
  std::FILE *file_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// `count` messages of `size` bytes as NDJSON lines through a pipe of `ring_bytes`. The
/// follower fills each payload, formats and base64-encodes its line into the FILE*'s buffer
/// and flushes it (one write()) every `batch` lines; the leader reads up to 64 KiB per read()
/// (a pipe has no message boundaries), splits lines, parses, decodes and touches every decoded
/// byte. Timed from the first bytes read to the last message consumed.
bench::Sample throughput(std::size_t size, std::uint64_t count, std::size_t ring_bytes,
                         std::size_t batch) {
  if (size == 0 || count == 0 || batch == 0)
    fail("throughput needs a size, a count and a batch");
  SigpipeIgnored no_sigpipe;
  Pipe pipe(ring_bytes);
  bench::SharedScratch scratch;
  auto *go = new (scratch.data()) std::atomic<std::uint32_t>{0};
  return bench::run_pair(
      [&] {
        pipe.write_end.reset();
        LineReader reader(std::move(pipe.read_end));
        std::vector<std::byte> payload(size);
        // The producer waits for this, so the pipe is not pre-filled before the clock runs.
        go->store(1, std::memory_order_release);
        std::uint64_t sum = 0;
        for (std::uint64_t seq = 0; seq < count; ++seq)
          sum += consume_line(reader.next(), seq, payload);
        const double seconds = bench::seconds_since(reader.first_data());
        bench::check_sum(sum, bench::expected_stream(size, count), kPeer);
        bench::Sample sample;
        sample.seconds = seconds;
        sample.messages = count;
        return sample;
      },
      [&] {
        pipe.read_end.reset();
        LineWriter writer(std::move(pipe.write_end), size);
        std::vector<std::byte> payload(size);
        bench::spin_until(*go, 1);
        for (std::uint64_t seq = 0; seq < count; ++seq) {
          bench::fill_payload(payload.data(), size, seq);
          writer.put(seq, payload.data(), size);
          if (seq % batch == batch - 1)
            writer.flush();
        }
        writer.close();
        return 0;
      },
      kPin);
}

/// `count` round trips of one line each way, after kWarmup untimed ones. Timed on the leader:
/// format + write + flush of its line, the follower's read, parse, decode, re-encode and write
/// of the echo, and the leader's read, parse, decode and touch of it. The payload is filled
/// before and verified after the timed part.
bench::Sample rtt_sleep(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  if (size == 0)
    fail("rtt needs a size");
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the follower starts waiting
  SigpipeIgnored no_sigpipe;
  Pipe ping, pong;
  const std::uint64_t rounds = kWarmup + count;
  bench::Sample result = bench::run_pair(
      [&] {
        ping.read_end.reset();
        pong.write_end.reset();
        LineWriter writer(std::move(ping.write_end), size);
        LineReader reader(std::move(pong.read_end));
        std::vector<std::byte> out(size), in(size);
        bench::Sample sample;
        sample.latencies_ns.reserve(count);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          bench::fill_payload(out.data(), size, i);
          const std::uint64_t t0 = bench::Tsc::ticks();
          writer.put(i, out.data(), size);
          writer.flush();
          const std::uint64_t sum = consume_line(reader.next(), i, in);
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (sum != bench::expected_touch(size, i))
            fail("echo corrupted");
          if (i >= kWarmup)
            sample.latencies_ns.push_back(tsc.ns(t1 - t0));
        }
        sample.cpu_ns_per_op = static_cast<double>(bench::process_cpu_ns() - cpu0);
        return sample;
      },
      [&] {
        ping.write_end.reset();
        pong.read_end.reset();
        LineReader reader(std::move(ping.read_end));
        LineWriter writer(std::move(pong.write_end), size);
        std::vector<std::byte> payload(size);
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < rounds; ++i) {
          const Line line = parse_line(reader.next());
          if (line.seq != i)
            fail("ping out of order");
          if (base64_decode(line.data, payload.data(), payload.size()) != size)
            fail("ping of the wrong size");
          writer.put(line.seq, payload.data(), size);
          writer.flush();
        }
        bench::report_follower_cpu(bench::process_cpu_ns() - cpu0);
        return 0;
      },
      kPin);
  result.cpu_ns_per_op = (result.cpu_ns_per_op + static_cast<double>(bench::follower_cpu_ns())) /
                         static_cast<double>(rounds);
  return result;
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = kPeer;
  peer.scenarios[bench::scenario::kSingle] = {
      .run =
          [](const bench::Load &load) {
            return throughput(load.size, load.count, load.ring_bytes, 1);
          },
      .sizes = {64, 1024},
      .form = "one write() per line; read() of up to 64 KiB (a pipe has no message boundaries); "
              "256 KiB pipe"};
  peer.scenarios[bench::scenario::kBatched] = {
      .run =
          [](const bench::Load &load) {
            return throughput(load.size, load.count, load.ring_bytes, load.batch);
          },
      .sizes = {64, 1024},
      .form = "one write() per 32 lines; read() of up to 64 KiB; 256 KiB pipe"};
  peer.scenarios[bench::scenario::kRttSleep] = {
      .run = rtt_sleep, .form = "one line each way, write() + poll()/read(); base64 both ways"};
  peer.order = 70;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace

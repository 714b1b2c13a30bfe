// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// shmpipe_demo: a producer process streams records to a consumer process it spawns, for
// 64-byte and 4-KiB records, and the consumer reports messages/s and MB/s.
//
//   shmpipe_demo [--records N] [--mode blocking|spin] [--batch N]
//
// N defaults to 5 million 64-byte and 1 million 4-KiB records.
// The producer builds each record in place (reserve -> write -> stage/commit); the consumer
// reads each in place and checks every byte, then releases a whole batch with one store.
#include <shmpipe/shmpipe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace {

using namespace std::chrono_literals;

struct Args {
  std::uint64_t records = 0; // 0: 5 million 64-byte records, 1 million 4-KiB records
  std::uint64_t batch = 32;  // records published with one index store
  shmpipe::WaitMode mode = shmpipe::WaitMode::blocking;
};

shmpipe::WaitMode parse_mode(const std::string &s) {
  if (s == "spin")
    return shmpipe::WaitMode::busy_spin;
  if (s == "blocking")
    return shmpipe::WaitMode::blocking;
  std::fprintf(stderr, "demo: unknown mode '%s' (blocking or spin)\n", s.c_str());
  std::exit(2);
}

const char *mode_name(shmpipe::WaitMode m) {
  return m == shmpipe::WaitMode::busy_spin ? "spin" : "blocking";
}

/// Record `seq` carries seq in its first 8 bytes and (seq & 0xff) in every other byte.
void fill(std::span<std::byte> payload, std::uint64_t seq) {
  std::memcpy(payload.data(), &seq, sizeof seq);
  std::memset(payload.data() + sizeof seq, static_cast<int>(seq & 0xff),
              payload.size() - sizeof seq);
}

bool check(std::span<const std::byte> payload, std::uint64_t seq, std::size_t size) {
  if (payload.size() != size)
    return false;
  std::uint64_t got = 0;
  std::memcpy(&got, payload.data(), sizeof got);
  // Word-wise with no early exit, so the compiler vectorizes it and every byte is still read.
  const std::uint64_t pattern = 0x0101010101010101ULL * (seq & 0xff);
  std::uint64_t diff = got ^ seq;
  std::size_t i = sizeof seq;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, payload.data() + i, sizeof word);
    diff |= word ^ pattern;
  }
  for (; i < size; ++i)
    diff |= static_cast<std::uint64_t>(payload[i]) ^ (seq & 0xff);
  return diff == 0;
}

int consume(const std::string &name, std::uint64_t records, std::size_t size,
            shmpipe::WaitMode mode) {
  auto rx = shmpipe::Consumer::open(name, {.wait = {.mode = mode}, .open_timeout = 10s});
  std::uint64_t seq = 0;
  auto start = shmpipe::Clock::now();
  while (seq < records) {
    shmpipe::ReadBatch batch = rx.peek_batch(shmpipe::deadline_after(10s));
    if (batch.status() != shmpipe::Status::ok) {
      std::fprintf(stderr, "demo consumer: %s after %llu records\n",
                   std::string(shmpipe::to_string(batch.status())).c_str(),
                   static_cast<unsigned long long>(seq));
      return 1;
    }
    if (seq == 0)
      start = shmpipe::Clock::now(); // from the first record on: the producer may start first
    while (shmpipe::ReadSlot rec = batch.next()) {
      if (!check(rec.bytes(), seq, size)) {
        std::fprintf(stderr, "demo consumer: record %llu is wrong\n",
                     static_cast<unsigned long long>(seq));
        return 1;
      }
      ++seq;
    }
    rx.release(std::move(batch));
  }
  const double secs = std::chrono::duration<double>(shmpipe::Clock::now() - start).count();
  if (rx.peek(shmpipe::deadline_after(10s)).status() != shmpipe::Status::closed) {
    std::fprintf(stderr, "demo consumer: the stream did not end cleanly\n");
    return 1;
  }
  const shmpipe::RingStats stats = rx.stats();
  std::printf("demo: %5zu B records: %llu msgs in %.3f s = %7.2f M msgs/s, %8.1f MB/s "
              "(%s; consumer slept %llu times)\n",
              size, static_cast<unsigned long long>(records), secs,
              static_cast<double>(records) / secs / 1e6,
              static_cast<double>(records) * static_cast<double>(size) / secs / 1e6,
              mode_name(mode), static_cast<unsigned long long>(stats.consumer.sleeps));
  return 0;
}

int produce(const std::string &self, std::uint64_t records, std::size_t size,
            shmpipe::WaitMode mode, std::uint64_t batch) {
  const std::string name =
      "shmpipe-demo-" + std::to_string(::getpid()) + "-" + std::to_string(size);
  auto tx = shmpipe::Producer::create(name, {.capacity = 1u << 20, .wait = {.mode = mode}});

  const std::string records_arg = std::to_string(records);
  const std::string size_arg = std::to_string(size);
  const std::string mode_arg = mode_name(mode);
  std::vector<char *> argv{const_cast<char *>(self.c_str()),
                           const_cast<char *>("--consume"),
                           const_cast<char *>(name.c_str()),
                           const_cast<char *>(records_arg.c_str()),
                           const_cast<char *>(size_arg.c_str()),
                           const_cast<char *>(mode_arg.c_str()),
                           nullptr};
  pid_t child = 0;
  if (const int rc =
          ::posix_spawn(&child, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
      rc != 0) {
    std::fprintf(stderr, "demo: cannot start the consumer: %s\n", std::strerror(rc));
    return 1;
  }
  for (std::uint64_t seq = 0; seq < records; ++seq) {
    shmpipe::WriteSlot slot = tx.reserve(size, shmpipe::deadline_after(10s));
    if (!slot) {
      std::fprintf(stderr, "demo producer: %s at record %llu\n",
                   std::string(shmpipe::to_string(slot.status())).c_str(),
                   static_cast<unsigned long long>(seq));
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      return 1;
    }
    fill(slot.bytes(), seq);
    // Publish in batches: one index store (and one cache-line transfer) per batch.
    if (seq % batch == batch - 1)
      tx.commit(std::move(slot));
    else
      tx.stage(std::move(slot));
  }
  tx.close();
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  try {
    if (argc == 6 && std::string(argv[1]) == "--consume")
      return consume(argv[2], std::strtoull(argv[3], nullptr, 10),
                     std::strtoull(argv[4], nullptr, 10), parse_mode(argv[5]));
    Args args;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag == "--records")
        args.records = std::strtoull(argv[i + 1], nullptr, 10);
      else if (flag == "--mode")
        args.mode = parse_mode(argv[i + 1]);
      else if (flag == "--batch")
        args.batch = std::max<std::uint64_t>(1, std::strtoull(argv[i + 1], nullptr, 10));
      else {
        std::fprintf(stderr,
                     "usage: shmpipe_demo [--records N] [--mode blocking|spin] [--batch N]\n");
        return 2;
      }
    }
    int failures = 0;
    failures +=
        produce(argv[0], args.records != 0 ? args.records : 5'000'000, 64, args.mode, args.batch);
    failures +=
        produce(argv[0], args.records != 0 ? args.records : 1'000'000, 4096, args.mode, args.batch);
    std::printf(failures == 0 ? "demo: ok\n" : "demo: FAILED\n");
    return failures == 0 ? 0 : 1;
  } catch (const shmpipe::Error &e) {
    std::fprintf(stderr, "demo: %s\n", e.what());
    return 1;
  }
}

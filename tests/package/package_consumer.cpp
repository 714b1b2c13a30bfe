// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// A program outside the project that uses shmpipe the way a user would: through the umbrella
// header and the shmpipe::shmpipe target. Sends and receives one record.
#include <shmpipe/shmpipe.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include <unistd.h>

int main() {
  using namespace std::chrono_literals;
  const std::string name = "shmpipe-package-consumer-" + std::to_string(::getpid());
  shmpipe::ScopedRemove guard(name);
  auto tx = shmpipe::Producer::create(name, {.capacity = 4096});
  auto rx = shmpipe::Consumer::open(name);
  auto slot = tx.reserve(5, shmpipe::deadline_after(1s));
  if (!slot)
    return 1;
  std::memcpy(slot.bytes().data(), "hello", 5);
  tx.commit(std::move(slot), 1);
  auto rec = rx.peek(shmpipe::deadline_after(1s));
  if (!rec || rec.bytes().size() != 5 || std::memcmp(rec.bytes().data(), "hello", 5) != 0)
    return 2;
  rx.release(std::move(rec));
  std::printf("package consumer: ok (shmpipe %s, layout %u)\n", SHMPIPE_VERSION,
              shmpipe::kLayoutVersion);
  return 0;
}

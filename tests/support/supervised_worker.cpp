// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The worker that supervisor_test runs: it misbehaves on request. Each Extraction request's
// `path` is a command:
//   echo              answer PageText{page, "echo"} (final)
//   warn              send a Warning (code 1, "running low"), then answer as echo
//   stderr:TEXT       write TEXT and a newline to standard error, then answer as echo
//   crash             die with SIGKILL, no answer
//   crash-once:FILE   die the first time (creating FILE), answer the next time
//   hang              stop serving (and stop answering health checks), sleeping
//   deadlock          two threads that each wait for the other's mutex, for ever
//   stop              stop itself with SIGSTOP
//   sleep:MS          sleep MS milliseconds, then answer (busy without using CPU)
//   spin:MS           use the CPU for MS milliseconds, then answer (one long request)
//   spin-forever      use the CPU for ever on this request
//   spin-once:FILE    spin for ever the first time (creating FILE), answer the next time
//   grow:MIB          allocate and touch MIB mebibytes, keep them, answer
// Command-line modes, before the session is opened: --exit-before-ready N, --never-ready,
// --only-once FILE (serve if FILE does not exist, creating it; else exit 5 before Ready),
// --ignore-term (SIGTERM does nothing: only SIGKILL stops it).
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

namespace schema = shmpipe::schema;
using namespace std::chrono_literals;

std::vector<std::unique_ptr<char[]>> hoard; // what grow: keeps

void spin_for(std::chrono::milliseconds how_long) {
  const auto until = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < until) {
  }
}

/// Whether FILE did not exist yet (and now does): the first time a -once command runs.
bool first_time(const std::string &file) {
  const int fd = ::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  ::close(fd);
  return true;
}

[[noreturn]] void deadlock() {
  std::mutex a, b;
  std::thread other([&] {
    const std::lock_guard hold_b(b);
    std::this_thread::sleep_for(50ms);
    const std::lock_guard wait_a(a);
  });
  const std::lock_guard hold_a(a);
  std::this_thread::sleep_for(50ms);
  const std::lock_guard wait_b(b);
  std::abort(); // not reached
}

shmpipe::Status answer(shmpipe::Worker &worker, std::uint64_t id, std::uint32_t page,
                       std::string_view text) {
  return worker.reply<schema::Extraction>(
      id,
      [&](flatbuffers::FlatBufferBuilder &b) {
        const auto body = schema::CreatePageText(b, page, b.CreateString(text.data(), text.size()));
        return schema::CreateExtraction(b, 0, schema::ExtractionBody::PageText, body.Union());
      },
      10s);
}

int serve(shmpipe::Worker &worker) {
  for (;;) {
    shmpipe::Incoming in = worker.receive(60s);
    if (!in) // Shutdown (closed), or the core is gone: done
      return in.status() == shmpipe::Status::timeout ? 3 : 0;
    const std::uint64_t id = in.request_id();
    auto request = std::move(in).as<schema::Extraction>();
    const schema::ExtractRequest *r = request ? request->body_as_ExtractRequest() : nullptr;
    if (r == nullptr || r->path() == nullptr) {
      static_cast<void>(worker.error(id, 1, "not an ExtractRequest", 10s));
      continue;
    }
    const std::string command = r->path()->str();
    const std::uint32_t page = r->page();
    request.release();
    if (command == "crash")
      std::raise(SIGKILL);
    if (command == "warn" && worker.warn(1, "running low", 10s) != shmpipe::Status::ok)
      return 6;
    if (command.rfind("stderr:", 0) == 0) {
      std::fprintf(stderr, "%s\n", command.c_str() + 7);
      std::fflush(stderr);
    }
    if (command.rfind("crash-once:", 0) == 0 && first_time(command.substr(11)))
      std::raise(SIGKILL);
    if (command == "hang")
      for (;;)
        std::this_thread::sleep_for(1h);
    if (command == "deadlock")
      deadlock();
    if (command == "stop")
      std::raise(SIGSTOP);
    if (command.rfind("sleep:", 0) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(command.c_str() + 6)));
    if (command.rfind("spin:", 0) == 0)
      spin_for(std::chrono::milliseconds(std::atoi(command.c_str() + 5)));
    if (command == "spin-forever" ||
        (command.rfind("spin-once:", 0) == 0 && first_time(command.substr(10))))
      for (;;)
        spin_for(1h);
    if (command.rfind("grow:", 0) == 0) {
      const std::size_t bytes = std::strtoull(command.c_str() + 5, nullptr, 10) << 20;
      hoard.emplace_back(new char[bytes]);
      std::memset(hoard.back().get(), 1, bytes); // resident, not just reserved
    }
    if (answer(worker, id, page, command) != shmpipe::Status::ok)
      return 4;
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 3 && std::strcmp(argv[1], "--exit-before-ready") == 0)
    return std::atoi(argv[2]);
  if (argc == 2 && std::strcmp(argv[1], "--never-ready") == 0) {
    std::this_thread::sleep_for(1h);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--only-once") == 0 && !first_time(argv[2]))
    return 5;
  if (argc == 2 && std::strcmp(argv[1], "--ignore-term") == 0)
    std::signal(SIGTERM, SIG_IGN);
  try {
    shmpipe::Worker worker = shmpipe::attach_supervised({.worker_name = "supervised_worker"});
    return serve(worker);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "supervised_worker: %s\n", e.what());
    return 2;
  }
}

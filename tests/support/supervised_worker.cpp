// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The worker that supervisor_test runs: it misbehaves on request. Each Extraction request's
// `path` is a command:
//   echo              answer PageText{page, "echo"} (final)
//   crash             die with SIGKILL, no answer
//   crash-once:FILE   die the first time (creating FILE), answer the next time
//   hang              stop serving (and stop answering health checks)
//   grow:MIB          allocate and touch MIB mebibytes, keep them, answer
// Command-line modes, before the session is opened: --exit-before-ready N, --never-ready,
// --only-once FILE (serve if FILE does not exist, creating it; else exit 5 before Ready).
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
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
    if (!in)
      return in.status() == shmpipe::Status::timeout ? 3 : 0; // core gone: done
    if (in.is<schema::Envelope>()) {
      auto envelope = std::move(in).as<schema::Envelope>();
      if (envelope && envelope->body_type() == schema::Control::Shutdown)
        return 0;
      continue;
    }
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
    if (command.rfind("crash-once:", 0) == 0) {
      const std::string file = command.substr(11);
      const int fd = ::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
      if (fd >= 0) { // first time
        ::close(fd);
        std::raise(SIGKILL);
      }
    }
    if (command == "hang")
      for (;;)
        std::this_thread::sleep_for(1h);
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
  if (argc == 3 && std::strcmp(argv[1], "--only-once") == 0) {
    const int fd = ::open(argv[2], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
      return 5;
    ::close(fd);
  }
  try {
    shmpipe::Worker worker = shmpipe::attach_supervised({.worker_name = "supervised_worker"});
    return serve(worker);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "supervised_worker: %s\n", e.what());
    return 2;
  }
}

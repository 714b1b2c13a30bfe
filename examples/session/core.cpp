// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The core of the session example: runs greeting_worker under a Supervisor (restarted if it
// dies, killed if it hangs), sends one request per name on the command line, all at once, and
// prints the answers as they come. Ctrl-C or SIGTERM at any point leaves nothing behind: the
// signal only sets a flag (common/program.hpp), the loop unwinds, and the Supervisor's
// destructor stops the worker and removes the session's segment.
//
//   greeting_core [--worker PATH] NAME...
#include <greeting_shmpipe.h>
#include <shmpipe/shmpipe.hpp>

#include "common/program.hpp"

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

/// greeting_worker next to this program, unless --worker says where.
std::string worker_path(int &argc, char **&argv) {
  if (argc > 2 && std::string(argv[1]) == "--worker") {
    std::string path = argv[2];
    argc -= 2;
    argv += 2;
    return path;
  }
  std::vector<char> self(4096);
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  std::string dir = n > 0 ? std::string(self.data(), static_cast<std::size_t>(n)) : ".";
  return dir.substr(0, dir.rfind('/') + 1) + "greeting_worker";
}

} // namespace

int greet(int argc, char **argv) {
  using namespace std::chrono_literals;
  const std::string worker = worker_path(argc, argv);
  if (argc < 2)
    throw examples::UsageError("usage: greeting_core [--worker PATH] NAME...");
  {
    shmpipe::SupervisorOptions options;
    options.command = {worker};
    options.on_worker_loss = shmpipe::OnWorkerLoss::retry_once;
    options.on_event = [](const shmpipe::SupervisorEvent &e) {
      std::fprintf(stderr, "greeting_core: worker %d %s: %s\n", static_cast<int>(e.pid),
                   std::string(to_string(e.kind)).c_str(), e.detail.c_str());
    };
    examples::defer_stop_signals(); // from here on a signal unwinds instead of killing us
    // Starts the worker and waits for its Ready; the segment is removed when `sup` goes. A
    // random name: another user cannot squat it in advance.
    shmpipe::Supervisor sup(shmpipe::unique_segment_name("greeting-"), options);

    std::map<std::uint64_t, std::string> asked; // request id -> name
    for (int i = 1; i < argc; ++i) {
      const std::string name = argv[i];
      const shmpipe::Sent sent = sup.request<greeting::Message>(
          [&](flatbuffers::FlatBufferBuilder &b) {
            const auto request = greeting::CreateRequestDirect(b, name.c_str());
            return greeting::CreateMessage(b, greeting::Body::Request, request.Union());
          },
          5s);
      if (sent.status != shmpipe::Status::ok)
        throw std::runtime_error("cannot send: " + std::string(to_string(sent.status)));
      asked.emplace(sent.request_id, name);
    }

    std::size_t answered = 0;
    const shmpipe::Deadline give_up = shmpipe::deadline_after(10s);
    while (sup.in_flight() > 0) {
      examples::throw_if_stopped();
      shmpipe::Incoming in = sup.receive(200ms); // short, to notice a stop signal
      const std::uint64_t id = in.request_id();
      if (!in) { // a request that will get no answer says so with its id; id 0: none came
        if (id == 0 && in.status() == shmpipe::Status::timeout && shmpipe::Clock::now() < give_up)
          continue;
        std::fprintf(stderr, "greeting_core: request %llu: %s\n",
                     static_cast<unsigned long long>(id),
                     std::string(to_string(in.status())).c_str());
        if (id == 0)
          return 1;
        continue;
      }
      const auto message = in.as<greeting::Message>();
      const greeting::Reply *reply = message ? message->body_as_Reply() : nullptr;
      if (reply == nullptr || reply->text() == nullptr) {
        std::fprintf(stderr, "greeting_core: request %llu: not a Reply\n",
                     static_cast<unsigned long long>(id));
        continue;
      }
      std::printf("%s -> %s (worker %u)\n", asked[id].c_str(), reply->text()->c_str(),
                  reply->worker_pid());
      ++answered;
    }
    std::printf("greeting_core: %zu of %zu answered\n", answered, asked.size());
    static_cast<void>(sup.shutdown("done", 2s)); // Shutdown, then SIGTERM, then SIGKILL
    return answered == asked.size() ? 0 : 1;
  }
}

int main(int argc, char **argv) {
  return examples::run_main("greeting_core", [&] { return greet(argc, argv); });
}

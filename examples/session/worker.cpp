// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The worker of the session example: started by greeting_core's Supervisor, it greets whoever
// it is asked to, until the core tells it to stop. Health checks and Shutdown are handled by
// Worker::receive(); the worker only sees its own requests.
#include <greeting_shmpipe.h>
#include <shmpipe/shmpipe.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

int main() {
  using namespace std::chrono_literals;
  try {
    shmpipe::Worker worker = shmpipe::attach_supervised({.worker_name = "greeting_worker"});
    for (;;) {
      shmpipe::Incoming in = worker.receive(1h);
      if (!in) // closed: the core asked us to stop (or went away)
        return in.status() == shmpipe::Status::closed ? 0 : 1;
      const std::uint64_t id = in.request_id();
      const auto message = in.as<greeting::Message>(); // verified, read in shared memory
      const greeting::Request *request = message ? message->body_as_Request() : nullptr;
      if (request == nullptr || request->name() == nullptr) {
        if (worker.error(id, 1, "not a greeting Request", 5s) != shmpipe::Status::ok)
          return 1;
        continue;
      }
      const std::string text = "Hello, " + request->name()->str() + "!";
      const shmpipe::Status sent = worker.reply<greeting::Message>(
          id,
          [&](flatbuffers::FlatBufferBuilder &b) { // built in place, in the response ring
            const auto reply = greeting::CreateReplyDirect(b, text.c_str(),
                                                           static_cast<std::uint32_t>(::getpid()));
            return greeting::CreateMessage(b, greeting::Body::Reply, reply.Union());
          },
          5s);
      if (sent != shmpipe::Status::ok)
        return 1; // the core is gone
    }
  } catch (const shmpipe::Error &e) { // setup: not started by a Supervisor, handshake, ...
    std::fprintf(stderr, "greeting_worker: %s\n", e.what());
    return 2;
  }
}

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The C++ side of the Python tests (tests/python/): one role per run, checking everything it
// receives and saying what went wrong on stderr (exit status 0 only when all was right).
//   produce NAME COUNT SIZE   create channel NAME, send COUNT records of SIZE bytes (pattern()),
//                             record i with type i % 65536, then close (lingering for a consumer)
//   consume NAME COUNT        open channel NAME (waiting 10 s), receive COUNT records and check
//                             them against pattern(), then expect the stream to be closed
//   core NAME COUNT           create session NAME, await the worker's Ready (expects the name
//                             "py-worker" and the capability "echo"), send COUNT ExtractRequests
//                             (path "echo", page i) at once, expect for each a PageText
//                             (page i, text "echo i", not final) then a final PageText (page
//                             i + 1000); then an ExtractRequest "fail" that must come back as
//                             an envelope Error (code 7, message "failed on purpose"); then
//                             Shutdown "done". Prints "core: ok".
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/shmpipe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

namespace sc = shmpipe::schema;
using namespace std::chrono_literals;

/// The byte at offset `i` of record `seq` (the Python tests compute the same).
std::byte pattern(std::uint64_t seq, std::size_t i) {
  return static_cast<std::byte>((seq * 31 + i * 7 + 1) & 0xff);
}

int fail(const std::string &why) {
  std::fprintf(stderr, "python_peer: %s\n", why.c_str());
  return 1;
}

int produce(const std::string &name, std::uint64_t count, std::size_t size) {
  shmpipe::Producer tx = shmpipe::Producer::create(name, {.capacity = 1 << 16, .linger = 10s});
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    shmpipe::WriteSlot slot = tx.reserve(size, 10s);
    if (!slot)
      return fail("reserve: " + std::string(shmpipe::to_string(slot.status())));
    for (std::size_t i = 0; i < size; ++i)
      slot.bytes()[i] = pattern(seq, i);
    tx.commit(std::move(slot), static_cast<std::uint16_t>(seq % 65536));
  }
  tx.close(); // waits (linger) until the consumer has attached
  std::puts("produce: ok");
  return 0;
}

int consume(const std::string &name, std::uint64_t count) {
  shmpipe::Consumer rx = shmpipe::Consumer::open(name, {.open_timeout = 10s});
  for (std::uint64_t n = 0; n < count; ++n) {
    shmpipe::ReadSlot rec = rx.peek(10s);
    if (!rec)
      return fail("record " + std::to_string(n) + ": " + std::string(to_string(rec.status())));
    if (rec.seq() != n || rec.type() != n % 65536)
      return fail("record " + std::to_string(n) + " has seq " + std::to_string(rec.seq()) +
                  " and type " + std::to_string(rec.type()));
    for (std::size_t i = 0; i < rec.bytes().size(); ++i)
      if (rec.bytes()[i] != pattern(n, i))
        return fail("record " + std::to_string(n) + ": byte " + std::to_string(i) + " differs");
    rx.release(std::move(rec));
  }
  const shmpipe::Status end = rx.peek(10s).status();
  if (end != shmpipe::Status::closed)
    return fail("after the records: " + std::string(to_string(end)) + ", not closed");
  std::printf("consume: %llu records ok\n", static_cast<unsigned long long>(count));
  return 0;
}

shmpipe::Sent extract(shmpipe::Core &core, const std::string &path, std::uint32_t page) {
  return core.request<sc::Extraction>(
      [&](flatbuffers::FlatBufferBuilder &b) {
        const auto r = sc::CreateExtractRequest(b, b.CreateString(path), page);
        return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
      },
      10s);
}

int core(const std::string &name, std::uint32_t count) {
  shmpipe::Core c = shmpipe::Core::create(name, {.capacity = 1 << 16});
  const shmpipe::WorkerInfo &info = c.await_ready(20s);
  if (info.name != "py-worker" || info.capabilities != std::vector<std::string>{"echo"} ||
      info.protocol_version != shmpipe::kSessionProtocol || info.pid <= 0)
    return fail("unexpected Ready: name '" + info.name + "', pid " + std::to_string(info.pid));
  std::vector<std::uint64_t> ids;
  for (std::uint32_t page = 0; page < count; ++page) {
    const shmpipe::Sent sent = extract(c, "echo", page);
    if (sent.status != shmpipe::Status::ok)
      return fail("request: " + std::string(to_string(sent.status)));
    ids.push_back(sent.request_id);
  }
  for (std::uint32_t page = 0; page < count; ++page)
    for (const bool last : {false, true}) {
      shmpipe::Incoming in = c.receive(20s);
      if (!in)
        return fail("response: " + std::string(to_string(in.status())));
      if (in.request_id() != ids[page] || in.final() != last || in.type() != (last ? 0 : 5))
        return fail("response for request " + std::to_string(in.request_id()) +
                    (in.final() ? " (final)" : "") + ", expected " + std::to_string(ids[page]));
      const shmpipe::Received<sc::Extraction> r = std::move(in).as<sc::Extraction>();
      const sc::PageText *text = r ? r->body_as_PageText() : nullptr;
      const std::uint32_t want = last ? page + 1000 : page;
      if (text == nullptr || text->page() != want ||
          (!last &&
           (text->text() == nullptr || text->text()->str() != "echo " + std::to_string(page))))
        return fail("response for page " + std::to_string(page) + " is not the PageText expected");
    }
  const shmpipe::Sent failing = extract(c, "fail", 0);
  {
    shmpipe::Incoming in = c.receive(20s);
    const shmpipe::Received<sc::Envelope> error = std::move(in).as<sc::Envelope>();
    const sc::Error *e = error ? error->body_as_Error() : nullptr;
    if (e == nullptr || e->code() != 7 || e->message() == nullptr ||
        e->message()->str() != "failed on purpose" || e->request_id() != failing.request_id)
      return fail("the failing request did not come back as the Error expected");
  } // released: one message at a time
  if (c.in_flight() != 0)
    return fail(std::to_string(c.in_flight()) + " requests still in flight");
  if (c.shutdown("done", 10s) != shmpipe::Status::ok)
    return fail("shutdown");
  // The worker leaves once it has the Shutdown: its end closes.
  const shmpipe::Incoming last = c.receive(20s);
  if (last.status() != shmpipe::Status::closed && last.status() != shmpipe::Status::peer_dead)
    return fail("after Shutdown: " + std::string(to_string(last.status())) + ", request " +
                std::to_string(last.request_id()) + " '" + std::string(last.identifier()) + "'");
  std::puts("core: ok");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 4 && args[0] == "produce")
      return produce(args[1], std::stoull(args[2]), std::stoull(args[3]));
    if (args.size() == 3 && args[0] == "consume")
      return consume(args[1], std::stoull(args[2]));
    if (args.size() == 3 && args[0] == "core")
      return core(args[1], static_cast<std::uint32_t>(std::stoul(args[2])));
  } catch (const std::exception &e) {
    return fail(e.what());
  }
  std::fprintf(stderr, "usage: python_peer produce NAME COUNT SIZE | consume NAME COUNT | "
                       "core NAME COUNT\n");
  return 2;
}

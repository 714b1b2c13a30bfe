// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of session.hpp with the worker in a forked process: handshake (accepted, wrong
// protocol, missing schema, no worker, dead worker), pipelined requests matched by id, health,
// per-request deadlines, shutdown, and the segment's removal at the end.
#include <shmpipe/session.hpp>

#include <random>
#include <set>
#include <thread>

#include <signal.h>

#include <gtest/gtest.h>

#include "../support/schema_samples.hpp"
#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;
namespace sc = shmpipe::schema;
namespace fb = flatbuffers;

constexpr std::uint64_t kExtractionSchema = 0x5345;

fb::Offset<sc::Extraction> extract_request(fb::FlatBufferBuilder &b, std::uint32_t page) {
  const auto r = sc::CreateExtractRequest(b, b.CreateString("/doc.pdf"), page);
  return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
}

/// A worker that answers each ExtractRequest for page p with a PageText ("page p") and a
/// final LedgerBatch of p rows (`ledger`; else the PageText is final), until Shutdown.
/// `delay`: how long it works on each request.
int serve(const std::string &name, SessionOptions options, std::chrono::milliseconds delay = 0ms,
          bool ledger = true) {
  Worker worker = Worker::attach(name, options);
  for (;;) {
    Incoming in = worker.receive(10s);
    if (!in) // a Shutdown comes as closed, without the worker knowing the envelope schema
      return worker.shutdown_requested() && worker.shutdown_reason() == "test over"
                 ? 0
                 : 10 + static_cast<int>(in.status());
    if (in.is<sc::Envelope>())
      return 2;
    const std::uint64_t id = in.request_id();
    const Received<sc::Extraction> request = in.as<sc::Extraction>(); // on an lvalue too
    if (!request || request->body_as_ExtractRequest() == nullptr)
      return 3;
    const std::uint32_t page = request->body_as_ExtractRequest()->page();
    std::this_thread::sleep_for(delay);
    const std::string text = "page " + std::to_string(page);
    if (worker.reply<sc::Extraction>(
            id,
            [&](fb::FlatBufferBuilder &b) {
              const auto t = sc::CreatePageText(b, page, b.CreateString(text));
              return sc::CreateExtraction(b, id, sc::ExtractionBody::PageText, t.Union());
            },
            10s, /*final=*/!ledger) != Status::ok)
      return 4;
    if (!ledger)
      continue;
    if (worker.reply<sc::Extraction>(
            id, [&](fb::FlatBufferBuilder &b) { return test::build_ledger_batch(b, page, 0, id); },
            10s) != Status::ok)
      return 5;
  }
}

TEST(SessionTest, HandshakeRequestsHealthAndShutdown) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name, {.schema_ids = {kExtractionSchema}});
  test::Child child([&] {
    return serve(name, {.schema_ids = {1, kExtractionSchema},
                        .capabilities = {"ledger"},
                        .worker_name = "pdf-worker"});
  });
  const WorkerInfo &info = core.await_ready(10s);
  EXPECT_EQ(info.pid, child.pid());
  EXPECT_EQ(info.name, "pdf-worker");
  EXPECT_EQ(info.protocol_version, kSessionProtocol);
  EXPECT_EQ(info.capabilities, std::vector<std::string>{"ledger"});
  EXPECT_NE(info.start_time, 0u);

  // Three requests in flight at once; each gets a PageText then a final LedgerBatch.
  std::vector<std::uint64_t> ids;
  for (std::uint32_t page = 1; page <= 3; ++page) {
    const Sent sent = core.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) { return extract_request(b, page); }, 5s);
    ASSERT_EQ(sent.status, Status::ok);
    ids.push_back(sent.request_id);
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(core.in_flight(), 3u);
  for (std::uint32_t page = 1; page <= 3; ++page) {
    Incoming text = core.receive(10s);
    ASSERT_TRUE(text) << to_string(text.status());
    EXPECT_EQ(text.request_id(), ids[page - 1]);
    EXPECT_FALSE(text.final());
    {
      const Received<sc::Extraction> t = std::move(text).as<sc::Extraction>();
      ASSERT_TRUE(t && t->body_as_PageText());
      EXPECT_EQ(t->body_as_PageText()->text()->str(), "page " + std::to_string(page));
    } // released: one message at a time
    Incoming rows = core.receive(10s);
    ASSERT_TRUE(rows);
    EXPECT_TRUE(rows.final());
    EXPECT_FALSE(rows.late());
    const Received<sc::Extraction> batch = std::move(rows).as<sc::Extraction>();
    ASSERT_TRUE(batch);
    EXPECT_EQ(test::check_ledger_batch(*batch, page), "");
  }
  EXPECT_EQ(core.in_flight(), 0u);

  const Sent health = core.health(5s);
  ASSERT_EQ(health.status, Status::ok);
  Incoming reply = core.receive(10s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply.request_id(), health.request_id);
  const Received<sc::Envelope> h = std::move(reply).as<sc::Envelope>();
  ASSERT_TRUE(h && h->body_as_HealthReply());
  EXPECT_GT(h->body_as_HealthReply()->rss_bytes(), 0u);
  EXPECT_EQ(h->body_as_HealthReply()->requests_served(), 3u);

  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

// Both sides read their incoming ring through a read-only mapping (ReaderOptions): the
// messages verify and read the same, across a wrap of the small rings.
TEST(SessionTest, ReadOnlyDataOnBothSides) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  const SessionOptions options{.capacity = 1 << 14, .reader = {.read_only_data = true}};
  Core core = Core::create(name, options);
  test::Child child([&] { return serve(name, options); });
  core.await_ready(10s);
  for (std::uint32_t page = 1; page <= 40; ++page) {
    const Sent sent = core.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) { return extract_request(b, page); }, 5s);
    ASSERT_EQ(sent.status, Status::ok);
    Incoming text = core.receive(10s);
    ASSERT_TRUE(text) << to_string(text.status());
    text.release();
    Incoming rows = core.receive(10s);
    ASSERT_TRUE(rows && rows.final());
    const Received<sc::Extraction> batch = std::move(rows).as<sc::Extraction>();
    ASSERT_TRUE(batch);
    EXPECT_EQ(test::check_ledger_batch(*batch, page), "");
  }
  EXPECT_GT(core.received_stats().consumer.wraps, 0u) << "the rings wrapped";
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(SessionTest, WrongProtocolVersionIsRefusedOnBothSides) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] {
    Worker worker = Worker::attach(name, {.worker_name = "old", .protocol_version = 99});
    Incoming in = worker.receive(10s);
    const Received<sc::Envelope> error = std::move(in).as<sc::Envelope>();
    if (!error || error->body_as_Error() == nullptr)
      return 1;
    // The worker learns why, with the session's code.
    return error->body_as_Error()->code() ==
                       static_cast<std::int32_t>(SessionError::handshake_rejected) &&
                   error->body_as_Error()->message()->string_view().find("protocol 99") !=
                       std::string_view::npos
               ? 0
               : 2;
  });
  try {
    core.await_ready(10s);
    ADD_FAILURE() << "a worker speaking protocol 99 was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::handshake);
    EXPECT_NE(std::string(e.what()).find("speaks session protocol 99, this core speaks " +
                                         std::to_string(kSessionProtocol)),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(SessionTest, MissingSchemaIdIsRefused) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name, {.schema_ids = {kExtractionSchema, 77}});
  test::Child child([&] {
    Worker worker = Worker::attach(name, {.schema_ids = {kExtractionSchema}});
    return worker.receive(10s).status() == Status::ok ? 0 : 1;
  });
  try {
    core.await_ready(10s);
    ADD_FAILURE() << "a worker without schema 77 was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::handshake);
    EXPECT_NE(std::string(e.what()).find("does not offer schema id 77"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(SessionTest, NoWorkerTimesOut) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  try {
    core.await_ready(100ms);
    ADD_FAILURE() << "Ready from nobody";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::handshake);
    EXPECT_NE(std::string(e.what()).find("no Ready from the worker: timeout"), std::string::npos)
        << e.what();
  }
}

TEST(SessionTest, WorkerThatDiesBeforeReadyIsReported) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] {
    Segment segment = Segment::open(name);
    RingWriter responses(segment, 1); // attached as the worker, then dies without a word
    ::_exit(0);
    return 0;
  });
  ASSERT_EQ(child.wait(10s), 0);
  try {
    core.await_ready(10s);
    ADD_FAILURE() << "Ready from a dead worker";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::handshake);
    EXPECT_NE(std::string(e.what()).find("peer_dead"), std::string::npos) << e.what();
  }
}

// A request with a deadline the worker misses is reported once, with its id, when the
// deadline passes; its responses still arrive afterwards, marked late; nothing is lost.
TEST(SessionTest, PerRequestDeadlines) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] { return serve(name, {}, 300ms); });
  core.await_ready(10s);
  const Sent slow = core.request<sc::Extraction>(
      [](fb::FlatBufferBuilder &b) { return extract_request(b, 2); }, 5s, deadline_after(50ms));
  ASSERT_EQ(slow.status, Status::ok);
  const auto start = Clock::now();
  Incoming expired = core.receive(10s);
  EXPECT_EQ(expired.status(), Status::timeout);
  EXPECT_EQ(expired.request_id(), slow.request_id);
  EXPECT_LT(Clock::now() - start, 250ms); // the deadline, not the worker's answer, woke us
  EXPECT_EQ(core.in_flight(), 0u);
  for (int i = 0; i < 2; ++i) {
    Incoming late = core.receive(10s);
    ASSERT_TRUE(late) << to_string(late.status());
    EXPECT_EQ(late.request_id(), slow.request_id);
    EXPECT_TRUE(late.late());
  }
  // A receive with nothing pending simply times out on its own limit.
  EXPECT_EQ(core.receive(20ms).status(), Status::timeout);
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

// A core that sends every request before it receives any: the worker's answers fill the
// response ring while the request ring is full, so each side waits for the other unless
// request() keeps the responses that arrive meanwhile. 100k requests, default ring sizes;
// every request answered exactly once, in order.
TEST(SessionTest, SendingEverythingBeforeReceivingDoesNotDeadlock) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] { return serve(name, {}, 0ms, /*ledger=*/false); });
  core.await_ready(10s);
  constexpr std::uint32_t kRequests = 100000;
  for (std::uint32_t page = 1; page <= kRequests; ++page) {
    const Sent sent = core.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) { return extract_request(b, page); }, 30s, {},
        {.size_hint = 64});
    ASSERT_EQ(sent.status, Status::ok) << "request " << page;
    ASSERT_EQ(sent.request_id, page);
  }
  EXPECT_GT(core.kept(), 0u); // the rings did fill: responses were kept for us
  std::uint64_t finals = 0;
  std::uint64_t expected = 1;
  while (finals < kRequests) {
    Incoming in = core.receive(30s);
    ASSERT_TRUE(in) << to_string(in.status()) << " after " << finals << " final responses";
    ASSERT_EQ(in.request_id(), expected);
    ASSERT_FALSE(in.late());
    ASSERT_TRUE(in.final());
    const Received<sc::Extraction> text = in.as<sc::Extraction>();
    ASSERT_TRUE(text && text->body_as_PageText()) << "kept or not, a response verifies";
    ASSERT_EQ(text->body_as_PageText()->page(), expected);
    ++finals;
    ++expected;
  }
  EXPECT_EQ(core.in_flight(), 0u);
  EXPECT_EQ(core.kept(), 0u);
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

// As above, with requests built past their size hint (none given: 16 bytes): the room
// request() makes for the hint is not room for the message, which outgrows it, moves to the
// heap and is copied in. That copy must keep responses while it waits too, or both sides wait:
// here the worker answers each request with many large responses (so that it waits for room
// in the response ring most of the time) and requests are large or small at random (so
// that the room a small one leaves is enough for the hint but not for the next large one).
TEST(SessionTest, SendingEverythingBeforeReceivingDoesNotDeadlockWithoutASizeHint) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  const SessionOptions options{.capacity = 1 << 14};
  Core core = Core::create(name, options);
  constexpr int kResponses = 20; // per request, the last one final
  test::Child child([&] {
    Worker worker = Worker::attach(name, options);
    for (;;) {
      Incoming in = worker.receive(10s);
      if (!in)
        return worker.shutdown_requested() ? 0 : 10 + static_cast<int>(in.status());
      const std::uint64_t id = in.request_id();
      in.release();
      for (int n = 1; n <= kResponses; ++n)
        if (worker.reply<sc::Extraction>(
                id,
                [&](fb::FlatBufferBuilder &b) {
                  const auto t = sc::CreatePageText(b, 1, b.CreateString(std::string(4000, 't')));
                  return sc::CreateExtraction(b, id, sc::ExtractionBody::PageText, t.Union());
                },
                10s, /*final=*/n == kResponses) != Status::ok)
          return 4;
    }
  });
  core.await_ready(10s);
  constexpr std::uint32_t kRequests = 200;
  std::minstd_rand random(14); // sizes in no period the ring's could match
  std::vector<bool> large(kRequests + 1);
  for (std::uint32_t page = 1; page <= kRequests; ++page)
    large[page] = random() % 2 == 0;
  for (std::uint32_t page = 1; page <= kRequests; ++page) {
    const Sent sent = core.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) {
          const std::string path(large[page] ? 3000 : 10, 'p');
          const auto r = sc::CreateExtractRequest(b, b.CreateString(path), page);
          return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
        },
        5s);
    ASSERT_EQ(sent.status, Status::ok) << "request " << page;
  }
  std::uint64_t finals = 0;
  while (finals < kRequests) {
    Incoming in = core.receive(10s);
    ASSERT_TRUE(in) << to_string(in.status()) << " after " << finals << " final responses";
    if (in.final()) {
      ASSERT_EQ(in.request_id(), ++finals);
    }
  }
  EXPECT_EQ(core.in_flight(), 0u);
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

// A worker that closed its response direction and reads no more: request() waits for room
// until its limit, and the end of the responses is not kept once per look (receive() meets
// it in the ring, where it stays).
TEST(SessionTest, WaitingForRoomKeepsTheEndOfTheResponsesAtMostOnce) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  const SessionOptions options{.capacity = 1 << 12};
  Core core = Core::create(name, options);
  test::Child child([&] {
    Worker worker = Worker::attach(name, options);
    worker.close();
    std::this_thread::sleep_for(1s);
    return 0;
  });
  core.await_ready(10s);
  Status status = Status::ok;
  for (std::uint32_t page = 1; page <= 1000 && status == Status::ok; ++page)
    status = core.request<sc::Extraction>(
                     [&](fb::FlatBufferBuilder &b) { return extract_request(b, page); }, 300ms, {},
                     {.size_hint = 64})
                 .status;
  EXPECT_EQ(status, Status::timeout);
  EXPECT_LE(core.kept(), 1u);
  EXPECT_EQ(core.receive(0ms).status(), Status::closed);
  EXPECT_EQ(child.wait(10s), 0);
}

// Many requests with deadlines, most answered in time: only the ones that expire are
// reported, each once, and the rest arrive as ordinary responses.
TEST(SessionTest, ManyDeadlinesOnlyTheMissedOnesExpire) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] { return serve(name, {}, 0ms, /*ledger=*/false); });
  core.await_ready(10s);
  std::set<std::uint64_t> answered;
  for (std::uint32_t page = 1; page <= 5000; ++page) {
    const Sent sent = core.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) { return extract_request(b, page); }, 10s, deadline_after(1h),
        {.size_hint = 64});
    ASSERT_EQ(sent.status, Status::ok);
    for (Incoming in = core.receive(0ms); in; in = core.receive(0ms))
      if (in.final())
        answered.insert(in.request_id());
  }
  // One request the worker gets only after we stop it: expires, alone, at its deadline.
  while (core.in_flight() > 0) {
    Incoming in = core.receive(10s);
    ASSERT_TRUE(in) << to_string(in.status());
    if (in.final())
      answered.insert(in.request_id());
  }
  EXPECT_EQ(answered.size(), 5000u);
  ::kill(child.pid(), SIGSTOP);
  const Sent missed = core.request<sc::Extraction>(
      [&](fb::FlatBufferBuilder &b) { return extract_request(b, 1); }, 5s, deadline_after(20ms));
  ASSERT_EQ(missed.status, Status::ok);
  Incoming expired = core.receive(10s);
  EXPECT_EQ(expired.status(), Status::timeout);
  EXPECT_EQ(expired.request_id(), missed.request_id);
  EXPECT_EQ(core.receive(20ms).status(), Status::timeout); // reported once
  ::kill(child.pid(), SIGCONT);
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

/// A finished Extraction PageText for `page`, built with the builder's own alignment (as another
/// language's FlatBuffers library would), whose size is not a multiple of 16.
std::vector<std::byte> unaligned_page_text(std::uint64_t request_id, std::uint32_t page) {
  for (std::size_t pad = 0;; ++pad) {
    fb::FlatBufferBuilder b;
    const auto t = sc::CreatePageText(b, page, b.CreateString(std::string(pad, 'x')));
    b.Finish(sc::CreateExtraction(b, request_id, sc::ExtractionBody::PageText, t.Union()),
             MessageTraits<sc::Extraction>::identifier);
    if (b.GetSize() % kRecordAlign != 0) {
      const auto *p = reinterpret_cast<const std::byte *>(b.GetBufferPointer());
      return {p, p + b.GetSize()};
    }
  }
}

// request_buffer() and reply_buffer() take finished buffers of any size (zero-padded to 16
// bytes in the ring): they verify on the other side, and reply_buffer() sets `final` as asked.
TEST(SessionTest, FinishedBuffersOfAnySizeTravelBothWays) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] {
    Worker worker = Worker::attach(name);
    Incoming in = worker.receive(10s);
    if (!in)
      return 2;
    const std::uint64_t id = in.request_id();
    Received<sc::Extraction> request = std::move(in).as<sc::Extraction>();
    if (!request || request->body_as_PageText() == nullptr)
      return 3;
    const std::uint32_t page = request->body_as_PageText()->page();
    request.release();
    const std::vector<std::byte> first = unaligned_page_text(id, page + 1);
    const std::vector<std::byte> last = unaligned_page_text(id, page + 2);
    if (worker.reply_buffer(id, first, 10s, /*final=*/false, 7) != Status::ok ||
        worker.reply_buffer(id, last, 10s) != Status::ok)
      return 4;
    return worker.receive(10s).status() == Status::closed ? 0 : 5;
  });
  static_cast<void>(core.await_ready(10s));
  const std::vector<std::byte> request = unaligned_page_text(0, 40);
  ASSERT_NE(request.size() % kRecordAlign, 0u);
  const Sent sent = core.request_buffer(request, 5s);
  ASSERT_EQ(sent.status, Status::ok);
  for (const std::uint32_t page : {41u, 42u}) {
    Incoming in = core.receive(10s);
    ASSERT_TRUE(in) << to_string(in.status());
    EXPECT_EQ(in.request_id(), sent.request_id);
    EXPECT_EQ(in.final(), page == 42);
    EXPECT_EQ(in.type(), page == 41 ? 7 : 0);
    EXPECT_EQ(in.buffer().size() % kRecordAlign, 0u);
    const Received<sc::Extraction> reply = std::move(in).as<sc::Extraction>();
    ASSERT_TRUE(reply && reply->body_as_PageText());
    EXPECT_EQ(reply->body_as_PageText()->page(), page);
  }
  EXPECT_EQ(core.in_flight(), 0u);
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(SessionTest, WorkReportsComeWithFinalResponsesAndWarningsWithIdZero) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name);
  test::Child child([&] {
    Worker worker = Worker::attach(name, {.report_work = true});
    Incoming in = worker.receive(10s);
    if (!in)
      return 2;
    const std::uint64_t id = in.request_id();
    in.release();
    // ~64 MiB touched while serving: the peak must show it; 50 ms of work: the duration too.
    std::vector<char> ballast(64u << 20, 1);
    std::this_thread::sleep_for(50ms);
    if (worker.warn(1, "resident set over the soft limit", 5s) != Status::ok)
      return 3;
    if (worker.error(id, 7, "partial", 5s) != Status::ok) // final: reported
      return 4;
    return ballast[12345] == 1 && worker.receive(10s).status() == Status::closed ? 0 : 5;
  });
  static_cast<void>(core.await_ready(10s));
  const Sent sent = core.request<sc::Extraction>(
      [&](fb::FlatBufferBuilder &b) { return extract_request(b, 1); }, 5s);
  ASSERT_EQ(sent.status, Status::ok);
  Incoming warning = core.receive(10s);
  ASSERT_TRUE(warning) << to_string(warning.status());
  EXPECT_EQ(warning.request_id(), 0u);
  EXPECT_FALSE(warning.late()) << "a notice answers nothing, so it is not late either";
  EXPECT_FALSE(warning.work_report());
  {
    const Received<sc::Envelope> envelope = warning.as<sc::Envelope>();
    ASSERT_TRUE(envelope);
    ASSERT_EQ(envelope->body_type(), sc::Control::Warning);
    EXPECT_EQ(envelope->body_as_Warning()->code(), 1);
    EXPECT_GT(envelope->body_as_Warning()->rss_bytes(), 64u << 20);
  }
  Incoming answer = core.receive(10s);
  ASSERT_TRUE(answer) << to_string(answer.status());
  EXPECT_EQ(answer.request_id(), sent.request_id);
  ASSERT_TRUE(answer.work_report());
  EXPECT_GE(answer.work_report()->duration, 50ms);
  EXPECT_LT(answer.work_report()->duration, 10s);
  EXPECT_GE(answer.work_report()->peak_rss_bytes, 64u << 20);
  const Received<sc::Envelope> error = answer.as<sc::Envelope>();
  ASSERT_TRUE(error) << "the report sits between the frame and the buffer, which verifies";
  EXPECT_EQ(error->body_as_Error()->code(), 7);
  ASSERT_EQ(core.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(child.wait(10s), 0);
}

// While the request ring is full, request() keeps arriving responses for receive(); one the
// caller still holds stays where it is (copying and releasing it would pull the ring out from
// under the caller's span): request() times out instead of freeing it.
TEST(SessionTest, WaitingForRoomLeavesAHeldResponseAlone) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  Core core = Core::create(name, {.capacity = 1 << 12});
  test::Child child([&] { return serve(name, {}, 0ms, /*ledger=*/false); });
  static_cast<void>(core.await_ready(10s));
  ASSERT_EQ(core.request<sc::Extraction>(
                    [&](fb::FlatBufferBuilder &b) { return extract_request(b, 1); }, 5s)
                .status,
            Status::ok);
  Incoming held = core.receive(10s);
  ASSERT_TRUE(held);
  const std::string before(reinterpret_cast<const char *>(held.buffer().data()),
                           held.buffer().size());
  // Fill both rings: the worker blocks on a full response ring behind `held`.
  Status last = Status::ok;
  for (std::uint32_t page = 2; page < 2000 && last == Status::ok; ++page)
    last = core.request<sc::Extraction>(
                   [&](fb::FlatBufferBuilder &b) { return extract_request(b, page); }, 200ms)
               .status;
  EXPECT_EQ(last, Status::timeout);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(held.buffer().data()), held.buffer().size()),
            before)
      << "the held response's bytes were not reused";
  const Received<sc::Extraction> text = held.as<sc::Extraction>();
  ASSERT_TRUE(text && text->body_as_PageText());
  EXPECT_EQ(text->body_as_PageText()->page(), 1u);
}

TEST(SessionTest, TheCoreRemovesTheSegmentWhenItGoesAway) {
  const std::string name = test::unique_name();
  ScopedRemove guard(name);
  {
    Core core = Core::create(name);
    EXPECT_NO_THROW(static_cast<void>(Segment::open(name)));
  }
  try {
    static_cast<void>(Segment::open(name));
    ADD_FAILURE() << "the segment outlived its session";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::segment_missing);
  }
}

} // namespace
} // namespace shmpipe

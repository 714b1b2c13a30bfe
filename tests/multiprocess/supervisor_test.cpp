// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of supervisor.hpp against a real worker executable (support/supervised_worker.cpp):
// start, exec failures, a worker that dies before Ready, crash / hang / memory restarts, what
// happens to requests in flight (lost or retried once), backoff and giving up, environment
// limits. Every wait is bounded.
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

#include <gtest/gtest.h>

#include "../support/test_support.hpp"

namespace shmpipe {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct ScopedRemove {
  std::string name;
  ~ScopedRemove() { Segment::remove(name); }
};

/// Options for the test worker, with events recorded.
struct Fixture {
  std::string name = test::unique_name();
  ScopedRemove guard{name};
  std::vector<SupervisorEvent> events;
  SupervisorOptions options;

  explicit Fixture(std::vector<std::string> extra_args = {}) {
    options.command = {SHMPIPE_TEST_WORKER};
    options.command.insert(options.command.end(), extra_args.begin(), extra_args.end());
    options.session.capacity = 1 << 16;
    options.ready_timeout = 10s;
    options.health_interval = 100ms;
    options.health_timeout = 1s;
    options.backoff_initial = 10ms;
    options.backoff_max = 100ms;
    options.on_event = [this](const SupervisorEvent &e) { events.push_back(e); };
  }

  [[nodiscard]] std::size_t count(SupervisorEvent::Kind kind) const {
    std::size_t n = 0;
    for (const SupervisorEvent &e : events)
      n += e.kind == kind;
    return n;
  }
};

Sent ask(Supervisor &sup, const std::string &command, std::uint32_t page = 7,
         std::optional<Deadline> deadline = {}) {
  return sup.request<schema::Extraction>(
      [&](flatbuffers::FlatBufferBuilder &b) {
        const auto body = schema::CreateExtractRequest(b, b.CreateString(command), page);
        return schema::CreateExtraction(b, 0, schema::ExtractionBody::ExtractRequest, body.Union());
      },
      5s, deadline);
}

/// The next response to anything but a health check: the text the worker echoed, or why none.
struct Answer {
  Status status;
  std::uint64_t id;
  std::string text;
  std::uint32_t page = 0;
};

Answer next_answer(Supervisor &sup, std::chrono::milliseconds limit = 30s) {
  Incoming in = sup.receive(limit);
  Answer answer{in.status(), in.request_id(), {}};
  if (!in)
    return answer;
  auto reply = std::move(in).as<schema::Extraction>();
  const schema::PageText *text = reply ? reply->body_as_PageText() : nullptr;
  if (text == nullptr || text->text() == nullptr)
    return {Status::invalid_message, answer.id, {}};
  answer.text = text->text()->str();
  answer.page = text->page();
  return answer;
}

/// Drives receive() (answers dropped) until `kind` has happened, at most `limit`.
bool wait_for_event(Supervisor &sup, const Fixture &f, SupervisorEvent::Kind kind,
                    std::chrono::milliseconds limit = 10s) {
  const Deadline until = deadline_after(limit);
  while (f.count(kind) == 0 && Clock::now() < until)
    static_cast<void>(sup.receive(20ms));
  return f.count(kind) != 0;
}

TEST(SupervisorTest, StartsTheWorkerAndServesRequests) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  ASSERT_NE(sup.worker(), nullptr);
  EXPECT_EQ(sup.worker()->name, "supervised_worker");
  EXPECT_EQ(sup.worker()->pid, sup.worker_pid());
  for (std::uint32_t i = 0; i < 20; ++i) {
    const Sent sent = ask(sup, "echo", i);
    ASSERT_EQ(sent.status, Status::ok);
    EXPECT_EQ(sent.request_id, i + 1);
  }
  for (std::uint32_t i = 0; i < 20; ++i) {
    const Answer a = next_answer(sup);
    ASSERT_EQ(a.status, Status::ok) << to_string(a.status);
    EXPECT_EQ(a.id, i + 1);
    EXPECT_EQ(a.page, i);
    EXPECT_EQ(a.text, "echo");
  }
  EXPECT_EQ(sup.in_flight(), 0u);
  // Health checks keep flowing while idle and are never handed to the caller.
  EXPECT_EQ(next_answer(sup, 500ms).status, Status::timeout);
  EXPECT_EQ(sup.restarts(), 0u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::started), 1u);
}

TEST(SupervisorTest, AMissingExecutableIsAClearSetupError) {
  Fixture f;
  f.options.command = {"/nonexistent/shmpipe-worker"};
  try {
    Supervisor sup(f.name, f.options);
    FAIL() << "started";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), make_error_code(Errc::worker_failed));
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists("/dev/shm/" + f.name)) << "no segment left behind";
}

TEST(SupervisorTest, AWorkerThatExitsBeforeReadyIsReportedAtOnce) {
  Fixture f({"--exit-before-ready", "3"});
  const auto start = Clock::now();
  try {
    Supervisor sup(f.name, f.options);
    FAIL() << "started";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), make_error_code(Errc::worker_failed));
    EXPECT_NE(std::string(e.what()).find("exited with status 3"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 5s) << "not the 10 s ready timeout";
}

TEST(SupervisorTest, AWorkerThatNeverSaysReadyTimesOut) {
  Fixture f({"--never-ready"});
  f.options.ready_timeout = 300ms;
  EXPECT_THROW(Supervisor(f.name, f.options), Error);
  EXPECT_FALSE(fs::exists("/dev/shm/" + f.name));
}

TEST(SupervisorTest, AKilledWorkerIsRestartedAndItsRequestReportedLost) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  const pid_t first = sup.worker_pid();
  const Sent doomed = ask(sup, "hang"); // busy: in flight when killed
  ASSERT_EQ(doomed.status, Status::ok);
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  const Answer lost = next_answer(sup);
  EXPECT_EQ(lost.status, Status::peer_dead);
  EXPECT_EQ(lost.id, doomed.request_id);
  // A new worker serves the next request; ids go on.
  const Sent next = ask(sup, "echo");
  EXPECT_NE(sup.worker_pid(), first);
  ASSERT_EQ(next.status, Status::ok);
  EXPECT_EQ(next.request_id, doomed.request_id + 1);
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.id, next.request_id);
  EXPECT_EQ(sup.restarts(), 1u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::exited), 1u);
}

TEST(SupervisorTest, RetryOnceDeliversTheAnswerOfARequestThatKilledItsFirstWorker) {
  Fixture f;
  f.options.on_worker_loss = OnWorkerLoss::retry_once;
  const std::string marker = "/tmp/" + f.name + ".marker";
  Supervisor sup(f.name, f.options);
  const Sent before = ask(sup, "echo", 1);
  const Sent risky = ask(sup, "crash-once:" + marker, 2);
  const Sent after = ask(sup, "echo", 3);
  ASSERT_EQ(risky.status, Status::ok);
  std::map<std::uint64_t, Answer> answers;
  while (answers.size() < 3) {
    const Answer a = next_answer(sup);
    ASSERT_EQ(a.status, Status::ok) << to_string(a.status) << " id " << a.id;
    EXPECT_TRUE(answers.emplace(a.id, a).second) << "answered twice: " << a.id;
  }
  EXPECT_EQ(answers[before.request_id].page, 1u);
  EXPECT_EQ(answers[risky.request_id].page, 2u);
  EXPECT_EQ(answers[after.request_id].page, 3u);
  EXPECT_EQ(sup.restarts(), 1u);
  fs::remove(marker);
}

// request_buffer(): a finished buffer of any size, kept for the retry like a built one.
TEST(SupervisorTest, RequestBufferIsRetriedLikeABuiltRequest) {
  Fixture f;
  f.options.on_worker_loss = OnWorkerLoss::retry_once;
  const std::string marker = "/tmp/" + f.name + ".marker";
  Supervisor sup(f.name, f.options);
  flatbuffers::FlatBufferBuilder b; // its own alignment: the size need not be a multiple of 16
  const auto body = schema::CreateExtractRequest(b, b.CreateString("crash-once:" + marker), 9);
  b.Finish(schema::CreateExtraction(b, 0, schema::ExtractionBody::ExtractRequest, body.Union()),
           MessageTraits<schema::Extraction>::identifier);
  const Sent sent =
      sup.request_buffer(std::as_bytes(std::span(b.GetBufferPointer(), b.GetSize())), 5s);
  ASSERT_EQ(sent.status, Status::ok);
  const Answer a = next_answer(sup);
  ASSERT_EQ(a.status, Status::ok) << to_string(a.status);
  EXPECT_EQ(a.id, sent.request_id);
  EXPECT_EQ(a.page, 9u);
  EXPECT_EQ(sup.restarts(), 1u);
  fs::remove(marker);
}

TEST(SupervisorTest, RetryOnceGivesUpOnARequestThatKillsEveryWorker) {
  Fixture f;
  f.options.on_worker_loss = OnWorkerLoss::retry_once;
  Supervisor sup(f.name, f.options);
  const Sent poison = ask(sup, "crash");
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::peer_dead);
  EXPECT_EQ(a.id, poison.request_id);
  // request() brings up the next worker itself.
  const Sent fine = ask(sup, "echo");
  ASSERT_EQ(fine.status, Status::ok);
  EXPECT_EQ(next_answer(sup).id, fine.request_id);
  EXPECT_EQ(sup.restarts(), 2u) << "after the first worker and the one that got the retry";
}

TEST(SupervisorTest, AHungWorkerIsKilledAndRestarted) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  const pid_t first = sup.worker_pid();
  const Sent stuck = ask(sup, "hang");
  const auto start = Clock::now();
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::peer_dead);
  EXPECT_EQ(a.id, stuck.request_id);
  EXPECT_GE(Clock::now() - start, 900ms) << "not before health_timeout";
  EXPECT_EQ(f.count(SupervisorEvent::Kind::hung), 1u);
  ASSERT_EQ(ask(sup, "echo").status, Status::ok);
  EXPECT_EQ(next_answer(sup).status, Status::ok);
  EXPECT_NE(sup.worker_pid(), first);
}

// Busy is not hung: 256 jobs of 15 ms queue up behind each other, so the HealthRequest waits
// about 4 s behind them against a 1 s health_timeout. The worker answers jobs meanwhile: it is
// alive, never killed, and every job is answered.
TEST(SupervisorTest, AWorkerWorkingThroughALongQueueIsNotKilled) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  const pid_t pid = sup.worker_pid();
  for (std::uint32_t i = 0; i < 256; ++i)
    ASSERT_EQ(ask(sup, "sleep:15", i).status, Status::ok);
  std::set<std::uint64_t> answered;
  while (answered.size() < 256) {
    const Answer a = next_answer(sup);
    ASSERT_EQ(a.status, Status::ok) << to_string(a.status) << " after " << answered.size();
    EXPECT_TRUE(answered.insert(a.id).second);
  }
  EXPECT_EQ(sup.restarts(), 0u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::hung), 0u);
  EXPECT_EQ(sup.worker_pid(), pid);
}

// One request that works for 3 s, three times the health timeout, using the CPU: its worker
// does not answer health checks meanwhile, and is not killed for it.
TEST(SupervisorTest, AWorkerOnOneLongRequestIsNotKilled) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  const Sent slow = ask(sup, "spin:3000");
  ASSERT_EQ(slow.status, Status::ok);
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::ok) << to_string(a.status);
  EXPECT_EQ(a.id, slow.request_id);
  EXPECT_EQ(sup.restarts(), 0u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::hung), 0u);
}

// Really stuck without using the CPU: a deadlock, or SIGSTOP. Found through health_timeout,
// killed, restarted; the request in flight is reported lost (OnWorkerLoss::fail).
TEST(SupervisorTest, DeadlockedAndStoppedWorkersAreKilledAndRestarted) {
  for (const char *how : {"deadlock", "stop"}) {
    SCOPED_TRACE(how);
    Fixture f;
    Supervisor sup(f.name, f.options);
    const pid_t first = sup.worker_pid();
    const Sent stuck = ask(sup, how);
    const Answer a = next_answer(sup);
    EXPECT_EQ(a.status, Status::peer_dead);
    EXPECT_EQ(a.id, stuck.request_id);
    EXPECT_EQ(f.count(SupervisorEvent::Kind::hung), 1u);
    ASSERT_EQ(ask(sup, "echo").status, Status::ok);
    EXPECT_EQ(next_answer(sup).status, Status::ok);
    EXPECT_NE(sup.worker_pid(), first);
    EXPECT_NE(::kill(first, 0), 0) << "the stuck worker was reaped";
  }
}

// Seed 003's table: a request that runs over its time kills its worker, is retried once on
// the next worker, then fails with its id and status timeout; the requests around it
// complete. The worker spins (uses CPU), so only request_timeout can find it.
TEST(SupervisorTest, ARequestOverRequestTimeoutIsRetriedOnceThenFailsWhileTheOthersComplete) {
  Fixture f;
  f.options.request_timeout = 400ms;
  Supervisor sup(f.name, f.options);
  const Sent before = ask(sup, "echo", 1);
  const Sent spinning = ask(sup, "spin-forever", 2);
  const Sent after1 = ask(sup, "sleep:10", 3);
  const Sent after2 = ask(sup, "echo", 4);
  std::map<std::uint64_t, Answer> answers;
  while (answers.size() < 4) {
    const Answer a = next_answer(sup);
    ASSERT_TRUE(answers.emplace(a.id, a).second) << "settled twice: " << a.id;
  }
  EXPECT_EQ(answers[before.request_id].status, Status::ok);
  EXPECT_EQ(answers[spinning.request_id].status, Status::timeout);
  EXPECT_EQ(answers[after1.request_id].status, Status::ok);
  EXPECT_EQ(answers[after1.request_id].page, 3u);
  EXPECT_EQ(answers[after2.request_id].status, Status::ok);
  EXPECT_EQ(answers[after2.request_id].page, 4u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::stuck), 2u) << "first try and its one retry";
  EXPECT_EQ(sup.restarts(), 2u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::hung), 0u) << "it used the CPU: alive, but stuck";
  EXPECT_EQ(sup.in_flight(), 0u);
}

TEST(SupervisorTest, ARequestOverRequestTimeoutOnceIsAnsweredByTheNextWorker) {
  Fixture f;
  f.options.request_timeout = 400ms;
  const std::string marker = "/tmp/" + f.name + ".marker";
  Supervisor sup(f.name, f.options);
  const Sent once = ask(sup, "spin-once:" + marker, 5);
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::ok) << to_string(a.status);
  EXPECT_EQ(a.id, once.request_id);
  EXPECT_EQ(a.page, 5u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::stuck), 1u);
  EXPECT_EQ(sup.restarts(), 1u);
  fs::remove(marker);
}

// A request that waits in the queue is not charged for the wait: ten 150 ms requests
// against a 400 ms request_timeout take 1.5 s in all, and nobody is killed.
TEST(SupervisorTest, RequestTimeoutCountsWorkNotQueueing) {
  Fixture f;
  f.options.request_timeout = 400ms;
  Supervisor sup(f.name, f.options);
  for (std::uint32_t i = 0; i < 10; ++i)
    ASSERT_EQ(ask(sup, "spin:150", i).status, Status::ok);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(next_answer(sup).status, Status::ok);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::stuck), 0u);
  EXPECT_EQ(sup.restarts(), 0u);
}

// request_timeout times the worker, not the caller: an answer that came in time and waits
// unread while the caller is busy elsewhere does not make its worker stuck.
TEST(SupervisorTest, AnAnswerWaitingUnreadIsNotAStuckRequest) {
  Fixture f;
  f.options.request_timeout = 300ms;
  Supervisor sup(f.name, f.options);
  const Sent sent = ask(sup, "sleep:50", 1);
  ASSERT_EQ(sent.status, Status::ok);
  // The supervisor looks once (the request is the oldest from now on), then the caller is
  // away for longer than request_timeout; the worker answered after 50 ms.
  EXPECT_EQ(next_answer(sup, 0ms).status, Status::timeout);
  std::this_thread::sleep_for(1s);
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::ok) << to_string(a.status);
  EXPECT_EQ(a.id, sent.request_id);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::stuck), 0u);
  EXPECT_EQ(sup.restarts(), 0u);
}

// Answers a worker gave before it died are answers. Here request() keeps them for the caller
// (it sends everything before receiving), then finds the worker gone: they are still
// delivered, and only the requests the worker left unanswered are reported lost.
TEST(SupervisorTest, AnswersGivenBeforeTheWorkerWentAreDelivered) {
  Fixture f;
  f.options.session.capacity = 1 << 14;
  Supervisor sup(f.name, f.options);
  constexpr std::uint32_t kAnswered = 2000;
  for (std::uint32_t page = 1; page <= kAnswered; ++page)
    ASSERT_EQ(ask(sup, "echo", page).status, Status::ok);
  const Sent crash = ask(sup, "crash", 0);
  ASSERT_EQ(crash.status, Status::ok);
  // More requests until the request ring is full and request() finds the worker gone.
  Status status = Status::ok;
  for (int i = 0; i < 100000 && status == Status::ok; ++i)
    status = ask(sup, "echo", 0).status;
  ASSERT_EQ(status, Status::peer_dead);
  std::map<std::uint64_t, Status> settled;
  for (Answer a = next_answer(sup, 2s); a.id != 0; a = next_answer(sup, 2s))
    ASSERT_TRUE(settled.emplace(a.id, a.status).second) << "settled twice: " << a.id;
  for (std::uint64_t id = 1; id <= kAnswered; ++id)
    ASSERT_EQ(settled[id], Status::ok) << "request " << id;
  EXPECT_EQ(settled[crash.request_id], Status::peer_dead);
  EXPECT_EQ(sup.in_flight(), 0u);
}

TEST(SupervisorTest, AWorkersWarningIsAnEventNotAResponse) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  const Sent sent = ask(sup, "warn");
  ASSERT_EQ(sent.status, Status::ok);
  const Answer a = next_answer(sup);
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.id, sent.request_id) << "the warning (request id 0) was not handed out";
  ASSERT_EQ(f.count(SupervisorEvent::Kind::worker_warning), 1u);
  for (const SupervisorEvent &e : f.events) {
    if (e.kind == SupervisorEvent::Kind::worker_warning) {
      EXPECT_NE(e.detail.find("code 1"), std::string::npos) << e.detail;
    }
  }
}

TEST(SupervisorTest, TheWorkersStandardErrorGoesToItsLogAcrossRestarts) {
  Fixture f;
  const fs::path log = fs::temp_directory_path() / (f.name + ".log");
  struct RemoveLog {
    fs::path path;
    ~RemoveLog() { fs::remove(path); }
  } remove_log{log};
  f.options.stderr_path = log.string();
  f.options.on_worker_loss = OnWorkerLoss::fail;
  Supervisor sup(f.name, f.options);
  ASSERT_EQ(ask(sup, "stderr:first worker").status, Status::ok);
  EXPECT_EQ(next_answer(sup).status, Status::ok);
  ASSERT_EQ(ask(sup, "crash").status, Status::ok);
  EXPECT_EQ(next_answer(sup).status, Status::peer_dead);
  ASSERT_EQ(ask(sup, "stderr:second worker").status, Status::ok);
  EXPECT_EQ(next_answer(sup).status, Status::ok);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("first worker\n"), std::string::npos) << text;
  EXPECT_NE(text.find("second worker\n"), std::string::npos) << "appended, not truncated";

  Fixture g;
  g.options.stderr_path = "/nonexistent-dir/worker.log";
  try {
    Supervisor bad(g.name, g.options);
    ADD_FAILURE() << "a log that cannot be opened was accepted";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), Errc::worker_failed);
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/worker.log"), std::string::npos);
  }
}

TEST(SupervisorTest, MemoryLimitsWarnThenRestart) {
  Fixture f;
  f.options.rss_soft_limit = std::uint64_t{64} << 20;
  f.options.rss_hard_limit = std::uint64_t{160} << 20;
  Supervisor sup(f.name, f.options);
  const pid_t first = sup.worker_pid();
  ASSERT_EQ(ask(sup, "grow:100").status, Status::ok);
  EXPECT_EQ(next_answer(sup).status, Status::ok);
  EXPECT_TRUE(wait_for_event(sup, f, SupervisorEvent::Kind::memory_warning));
  EXPECT_EQ(next_answer(sup, 300ms).status, Status::timeout);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::memory_warning), 1u) << "once per crossing";
  EXPECT_EQ(sup.worker_pid(), first) << "the soft limit only warns";
  // Over the hard limit: killed, maybe before it answers (then that request is lost).
  const Sent big = ask(sup, "grow:100");
  ASSERT_EQ(big.status, Status::ok);
  const Answer a = next_answer(sup);
  EXPECT_TRUE(a.status == Status::ok || a.status == Status::peer_dead) << to_string(a.status);
  EXPECT_EQ(a.id, big.request_id);
  EXPECT_TRUE(wait_for_event(sup, f, SupervisorEvent::Kind::over_memory));
  ASSERT_EQ(ask(sup, "echo").status, Status::ok);
  EXPECT_EQ(next_answer(sup).status, Status::ok);
  EXPECT_EQ(sup.restarts(), 1u);
  EXPECT_NE(sup.worker_pid(), first);
}

TEST(SupervisorTest, LimitsComeFromTheEnvironment) {
  Fixture f;
  ::setenv("SHMPIPE_RSS_HARD_MB", "120", 1);
  {
    Supervisor sup(f.name, f.options);
    const pid_t first = sup.worker_pid();
    ASSERT_EQ(ask(sup, "grow:150").status, Status::ok);
    EXPECT_TRUE(wait_for_event(sup, f, SupervisorEvent::Kind::over_memory));
    ASSERT_EQ(ask(sup, "echo").status, Status::ok);
    EXPECT_EQ(next_answer(sup).status, Status::ok);
    EXPECT_NE(sup.worker_pid(), first);
  }
  ::setenv("SHMPIPE_RSS_HARD_MB", "lots", 1);
  EXPECT_THROW(Supervisor(f.name, f.options), Error);
  ::unsetenv("SHMPIPE_RSS_HARD_MB");
}

TEST(SupervisorTest, GivesUpAfterRepeatedFailedStartsWithBackoff) {
  const std::string marker = "/tmp/" + test::unique_name() + ".started";
  Fixture f({"--only-once", marker}); // every start after the first exits before Ready
  f.options.max_failed_starts = 3;
  f.options.backoff_initial = 20ms;
  f.options.backoff_max = 1s;
  Supervisor sup(f.name, f.options);
  const Sent doomed = ask(sup, "crash");
  ASSERT_EQ(doomed.status, Status::ok);
  const auto start = Clock::now();
  const Answer lost = next_answer(sup);
  EXPECT_EQ(lost.status, Status::peer_dead);
  EXPECT_EQ(lost.id, doomed.request_id);
  // Then no more workers: every call says so at once.
  EXPECT_EQ(next_answer(sup).status, Status::peer_dead);
  EXPECT_GE(Clock::now() - start, 20ms + 40ms + 80ms) << "backoff doubles between starts";
  EXPECT_EQ(f.count(SupervisorEvent::Kind::start_failed), 3u);
  EXPECT_EQ(f.count(SupervisorEvent::Kind::gave_up), 1u);
  EXPECT_EQ(ask(sup, "echo").status, Status::peer_dead);
  EXPECT_EQ(sup.worker(), nullptr);
  fs::remove(marker);
}

TEST(SupervisorTest, ShutdownStopsTheWorkerAndSettlesEveryRequest) {
  Fixture f;
  Supervisor sup(f.name, f.options);
  const pid_t pid = sup.worker_pid();
  EXPECT_EQ(sup.shutdown("test over", 5s), Status::ok);
  EXPECT_EQ(sup.worker_pid(), -1);
  EXPECT_NE(::kill(pid, 0), 0) << "reaped";
  EXPECT_EQ(next_answer(sup, 100ms).status, Status::peer_dead);
  EXPECT_FALSE(fs::exists("/dev/shm/" + f.name));
  ASSERT_EQ(f.count(SupervisorEvent::Kind::stopped), 1u);
  EXPECT_EQ(f.events.back().detail, "the worker exited with status 0 after Shutdown");
}

// Politely first: a worker too busy to read its Shutdown gets SIGTERM when the limit passes;
// one that ignores SIGTERM gets SIGKILL after stop_grace.
TEST(SupervisorTest, ShutdownEscalatesToSigtermThenSigkill) {
  for (const bool ignores_term : {false, true}) {
    SCOPED_TRACE(ignores_term ? "ignores SIGTERM" : "default SIGTERM");
    Fixture f(ignores_term ? std::vector<std::string>{"--ignore-term"}
                           : std::vector<std::string>{});
    f.options.stop_grace = 300ms;
    Supervisor sup(f.name, f.options);
    const pid_t pid = sup.worker_pid();
    ASSERT_EQ(ask(sup, "spin:20000").status, Status::ok);
    const auto start = Clock::now();
    static_cast<void>(sup.shutdown("test over", 200ms));
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_NE(::kill(pid, 0), 0) << "reaped";
    ASSERT_EQ(f.count(SupervisorEvent::Kind::stopped), 1u);
    EXPECT_EQ(f.events.back().detail, ignores_term
                                          ? "the worker was killed by signal 9 after SIGKILL"
                                          : "the worker was killed by signal 15 after SIGTERM");
    EXPECT_EQ(next_answer(sup, 100ms).status, Status::peer_dead) << "the busy request";
    EXPECT_FALSE(fs::exists("/dev/shm/" + f.name));
  }
}

} // namespace
} // namespace shmpipe

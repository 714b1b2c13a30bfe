// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Supervisor: runs a worker executable on a session and keeps it running ("let it crash"):
// Ready deadline, health checks, memory limits, restarts with backoff, and an answer for every
// request that was in flight when a worker went.
#pragma once

// Design: the supervisor owns a Core (session.hpp) and the worker process. It is driven by the
// caller's receive() calls (no thread of its own): each call also sends the periodic
// HealthRequest, reads the worker's resident set size, and restarts a worker that died, hung
// or crossed the hard memory limit. A restart kills and reaps the old process, removes its
// segment and creates a fresh one under the same name, so two generations never share a ring.
//
// Busy is not hung. The HealthRequest waits in the request ring behind the jobs, so a worker
// working through a long queue, or on one long request, answers it late. When no HealthReply
// has come within health_timeout, the supervisor looks for signs of life it can see without
// the worker's help before it kills: the worker committed a record (any response), released
// a request (it is moving through the queue), or used CPU time (clock_getcpuclockid: a
// deadlocked or SIGSTOPped process uses none). Any of them since the last look and the worker
// gets another health_timeout. What this cannot see is a worker that spins for ever on one
// request: that is what request_timeout is for. The request the worker is on is taken to be
// the oldest one without its final response, timed from the moment it became the oldest
// (for a worker that serves in order, when it started on it; never earlier, so a request
// waiting in the queue is never charged for the time it waited). Past request_timeout the
// worker is stuck: killed and restarted; that request is sent once more to the next worker
// and, if it runs over again, reported with status timeout and its id; the others in flight
// are sent again without being charged a retry ("retry once, then fail").
//
// Shutdown asks politely first: a Shutdown message, then SIGTERM once the caller's limit has
// passed, then SIGKILL after stop_grace.
//
// Request ids are the supervisor's own, stable across restarts (each Core numbers from 1).
// When a worker goes, each request it had not answered finally is either reported lost (an
// Incoming with status peer_dead and the request's id) or, with OnWorkerLoss::retry_once,
// sent once more to the next worker, from a copy taken when it was built
// (SendOptions::keep): a request that kills its worker cannot kill every worker after it.
//
// Why not Boost.Process: in Boost 1.74 it needs the compiled Boost.Filesystem library, which a
// header-only library cannot impose on its users; fork/exec is the few lines below.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmpipe/error.hpp>
#include <shmpipe/session.hpp>

extern char **environ; // NOLINT: POSIX declares it nowhere

namespace shmpipe {

/// The environment variable through which a supervised worker learns its session's name.
inline constexpr const char *kSessionEnv = "SHMPIPE_SESSION";

/// For a worker started by a Supervisor: attaches to the session named in SHMPIPE_SESSION.
/// Throws Error (invalid_name when the variable is unset) or what Worker::attach throws.
inline Worker attach_supervised(const SessionOptions &options = {}) {
  const char *name = std::getenv(kSessionEnv);
  if (name == nullptr || *name == '\0')
    throw Error(Errc::invalid_name, "",
                std::string(kSessionEnv) + " is not set: not started by a Supervisor?");
  return Worker::attach(name, options);
}

/// What happens to requests in flight when their worker dies, hangs or is killed.
enum class OnWorkerLoss : std::uint8_t {
  fail,       ///< each is answered with status peer_dead and its id
  retry_once, ///< each is sent once more to the next worker (one copy kept per request)
};

/// What happened to the worker, for logs (SupervisorOptions::on_event).
struct SupervisorEvent {
  enum class Kind : std::uint8_t {
    started,        ///< a worker said Ready
    exited,         ///< it died or exited on its own (detail: exit status or signal)
    hung,           ///< no HealthReply nor sign of life within health_timeout: killed
    stuck,          ///< a request ran over request_timeout: killed
    stopped,        ///< shutdown(): how the worker ended (Shutdown, SIGTERM or SIGKILL)
    over_memory,    ///< resident set above rss_hard_limit: killed
    memory_warning, ///< resident set above rss_soft_limit (once per crossing)
    start_failed,   ///< a restart did not produce a ready worker
    gave_up,        ///< max_failed_starts in a row: no more restarts
    worker_warning, ///< the worker sent a schema::Warning (detail: its code, message and RSS)
  };
  Kind kind;
  pid_t pid;          ///< the worker concerned (0 when none was started)
  std::string detail; ///< human-readable
};

[[nodiscard]] inline std::string_view to_string(SupervisorEvent::Kind kind) noexcept {
  switch (kind) {
  case SupervisorEvent::Kind::started:
    return "started";
  case SupervisorEvent::Kind::exited:
    return "exited";
  case SupervisorEvent::Kind::hung:
    return "hung";
  case SupervisorEvent::Kind::stuck:
    return "stuck";
  case SupervisorEvent::Kind::stopped:
    return "stopped";
  case SupervisorEvent::Kind::over_memory:
    return "over_memory";
  case SupervisorEvent::Kind::memory_warning:
    return "memory_warning";
  case SupervisorEvent::Kind::start_failed:
    return "start_failed";
  case SupervisorEvent::Kind::gave_up:
    return "gave_up";
  case SupervisorEvent::Kind::worker_warning:
    return "worker_warning";
  }
  return "unknown";
}

struct SupervisorOptions {
  /// The worker's executable (looked up in PATH when it has no '/') and its arguments. The
  /// session name reaches it in the environment (kSessionEnv): see attach_supervised().
  std::vector<std::string> command{};
  SessionOptions session{};                        ///< the core's side of each session
  std::chrono::milliseconds ready_timeout{10000};  ///< from start to Ready
  std::chrono::milliseconds health_interval{1000}; ///< between HealthRequests; 0: none
  /// No HealthReply by then, and no sign of life either (see the design note): the worker
  /// hangs and is killed.
  std::chrono::milliseconds health_timeout{3000};
  /// How long the worker may work on one request (see the design note); past it the worker
  /// is killed, the request retried once on the next worker and then reported as timeout.
  /// 0: no limit. A copy of every request is kept while it is in flight when set.
  std::chrono::milliseconds request_timeout{0};
  /// shutdown(): after the caller's limit, SIGTERM; after this much more, SIGKILL.
  std::chrono::milliseconds stop_grace{1000};
  /// Resident set size limits in bytes, checked every health_interval (every second when
  /// health checks are off); 0: none. The environment overrides them, in MiB:
  /// SHMPIPE_RSS_SOFT_MB and SHMPIPE_RSS_HARD_MB.
  std::uint64_t rss_soft_limit = 0;               ///< above it: a memory_warning event
  std::uint64_t rss_hard_limit = 0;               ///< above it: the worker is killed and restarted
  std::chrono::milliseconds backoff_initial{100}; ///< before the first restart; doubles
  std::chrono::milliseconds backoff_max{5000};    ///< and stays at most this
  /// Restarts that fail in a row (no Ready) before the supervisor gives up: requests fail
  /// with peer_dead from then on.
  unsigned max_failed_starts = 5;
  OnWorkerLoss on_worker_loss = OnWorkerLoss::fail;
  /// SIGKILL the worker when the thread that started it exits (PR_SET_PDEATHSIG: the kernel
  /// ties it to the thread, not the process), so that no worker outlives its core. Turn it
  /// off when the supervisor is created on a short-lived thread.
  bool kill_with_parent = true;
  std::function<void(const SupervisorEvent &)> on_event{}; ///< called on the caller's thread
  /// Where the worker's standard error goes (its tracebacks, say): appended to this file,
  /// created 0644 if missing, for every worker this supervisor starts. Empty: the caller's.
  std::string stderr_path{};
};

/// Runs one worker process on a session. Setup throws Error; send and receive return
/// statuses. Neither copyable nor movable (the worker process is tied to it); one thread at a
/// time.
class Supervisor {
public:
  /// Creates session `name`, starts the worker and waits for its Ready. Throws
  /// Error(worker_failed) when it cannot be run, exits or does not say Ready within
  /// ready_timeout, and what Core::create / Core::await_ready throw.
  Supervisor(std::string_view name, SupervisorOptions options)
      : name_(name), options_(std::move(options)), backoff_(options_.backoff_initial) {
    if (options_.command.empty())
      throw Error(Errc::invalid_argument, name_, "SupervisorOptions::command is empty");
    options_.rss_soft_limit = limit_from_env("SHMPIPE_RSS_SOFT_MB", options_.rss_soft_limit);
    options_.rss_hard_limit = limit_from_env("SHMPIPE_RSS_HARD_MB", options_.rss_hard_limit);
    start_worker(); // throws: a command that cannot start at all is a setup error
  }

  Supervisor(const Supervisor &) = delete;
  Supervisor &operator=(const Supervisor &) = delete;

  /// Asks the worker to shut down (a second, then SIGTERM and stop_grace), then kills
  /// whatever is left.
  ~Supervisor() {
    if (core_)
      static_cast<void>(shutdown("supervisor destroyed", std::chrono::seconds(1)));
    stop_worker(SIGKILL);
  }

  /// Builds a request of type `Root` in place (see Core::request) with a new id, stable
  /// across restarts. When the worker is down, first starts the next one (after its backoff,
  /// if `limit` allows: else timeout). peer_dead: no worker could be started, or the
  /// supervisor gave up; nothing was sent.
  template <Message Root, class Build>
  [[nodiscard]] Sent request(Build &&build, WaitLimit limit, std::optional<Deadline> deadline = {},
                             SendOptions options = {}) {
    const Deadline until = limit.resolve(Clock::now());
    if (const Status up = ensure_worker(until); up != Status::ok)
      return {up, 0};
    Pending pending{0, deadline, {}, options.type, false};
    if (options_.on_worker_loss == OnWorkerLoss::retry_once || options_.request_timeout.count() > 0)
      options.keep = &pending.bytes;
    const Sent sent = core_->request<Root>(std::forward<Build>(build), until, deadline, options);
    Sent tracked = track(sent, std::move(pending));
    refresh_ready(); // request() may have kept responses, or lost a worker and its requests
    return tracked;
  }

  /// Sends a finished FlatBuffer as a request (see Core::request_buffer), with an id as
  /// request() gives, and the same handling when the worker is down or goes.
  [[nodiscard]] Sent request_buffer(std::span<const std::byte> buffer, WaitLimit limit,
                                    std::optional<Deadline> deadline = {}, std::uint16_t type = 0) {
    const Deadline until = limit.resolve(Clock::now());
    if (const Status up = ensure_worker(until); up != Status::ok)
      return {up, 0};
    Pending pending{0, deadline, {}, type, false};
    if (options_.on_worker_loss == OnWorkerLoss::retry_once || options_.request_timeout.count() > 0)
      pending.bytes.assign(buffer.begin(), buffer.end());
    return track(core_->request_buffer(buffer, until, deadline, type), std::move(pending));
  }

  /// The next response (request ids as request() gave them), or a request that will get none:
  /// status peer_dead (its worker went and it is not retried) or timeout (its deadline
  /// passed, or it ran over request_timeout twice), with its id; or why nothing came by
  /// `limit` (timeout with id 0; peer_dead with id 0 once the supervisor gave up). Restarts
  /// happen inside this call.
  [[nodiscard]] Incoming receive(WaitLimit limit) {
    Incoming in = take_next(limit);
    refresh_ready();
    return in;
  }

  /// A descriptor for an event loop, as RingReader::ready_fd() describes, the same across
  /// worker restarts: readable when receive() may return something or has supervision to do
  /// (a response, a request lost or timed out, a health check or restart that is due, the
  /// worker's death). Once it polls readable, call receive() with a zero timeout until it
  /// returns timeout with id 0. A restart that falls due runs inside that call and blocks it
  /// until the new worker is Ready (ready_timeout at most).
  [[nodiscard]] int ready_fd() {
    if (!ready_) {
      ready_ = std::make_unique<detail::ReadyFd>(name_);
      if (core_)
        core_->reader_.share_ready(*ready_);
    }
    refresh_ready();
    return ready_->fd();
  }

  /// Tells the worker to finish and waits for it to exit until `limit`; then SIGTERM, and
  /// SIGKILL after stop_grace (a `stopped` event says which ended it). Requests still in
  /// flight are reported lost by receive(). The status is the Shutdown message's.
  [[nodiscard]] Status shutdown(std::string_view reason, WaitLimit limit) {
    if (!core_)
      return Status::closed;
    const Deadline until = limit.resolve(Clock::now());
    const Status sent = core_->shutdown(reason, until);
    const pid_t pid = pid_;
    std::string how = "after Shutdown";
    if (!wait_exit(until)) {
      ::kill(pid_, SIGTERM);
      how = "after SIGTERM";
      if (!wait_exit(deadline_after(options_.stop_grace)))
        how = "after SIGKILL";
    }
    stop_worker(SIGKILL);
    if (pid > 0) {
      pid_ = pid; // for the event
      emit(SupervisorEvent::Kind::stopped, "the worker " + exit_text_ + " " + how);
      pid_ = -1;
    }
    salvage_answers();
    core_.reset(); // removes the segment
    if (ready_)
      static_cast<void>(ready_->watch_peer(0, -1));
    lose_all_pending();
    gave_up_ = true; // no restarts after a shutdown
    return sent;
  }

  [[nodiscard]] pid_t worker_pid() const noexcept { return pid_; }
  /// Workers started after the first.
  [[nodiscard]] unsigned restarts() const noexcept { return restarts_; }
  /// Requests without their final response (nor reported lost or timed out).
  [[nodiscard]] std::size_t in_flight() const noexcept { return pending_.size(); }
  /// The current worker's Ready; nullptr while none runs.
  [[nodiscard]] const WorkerInfo *worker() const noexcept {
    return core_ ? &core_->worker() : nullptr;
  }

private:
  struct Pending {
    std::uint64_t core_id; // the id on the current worker's session; 0: not sent to it
    std::optional<Deadline> deadline;
    std::vector<std::byte> bytes; // retry_once or request_timeout: the request as built
    std::uint16_t type;
    bool retried; // its one retry is spent
  };

  /// What the supervisor can see of a worker's progress without its help (design note).
  struct LifeSigns {
    std::uint64_t committed = 0; // records the worker wrote (response ring's producer count)
    std::uint64_t released = 0;  // requests it gave back (request ring's consumer count)
    std::int64_t cpu_ns = -1;    // CPU time of the whole process; -1: unknown
    [[nodiscard]] bool moved_since(const LifeSigns &before) const noexcept {
      return committed != before.committed || released != before.released ||
             (cpu_ns >= 0 && before.cpu_ns >= 0 && cpu_ns > before.cpu_ns);
    }
  };

  /// receive() without the descriptor's upkeep.
  [[nodiscard]] Incoming take_next(WaitLimit limit) {
    const Deadline until = limit.resolve(Clock::now());
    for (;;) {
      if (!given_.empty()) {
        Incoming in = std::move(given_.front());
        given_.pop_front();
        return in;
      }
      if (!lost_.empty()) {
        const auto [id, why] = lost_.front();
        lost_.pop_front();
        return about(id, why);
      }
      if (gave_up_)
        return about(0, Status::peer_dead);
      if (!core_) {
        if (ensure_worker(until) == Status::timeout)
          return about(0, Status::timeout);
        continue; // started, failed (then lost_ or gave_up_ say so) or tries again
      }
      supervise(Clock::now());
      if (!core_)
        continue;
      Incoming in = core_->receive(std::min(until, next_check_));
      if (in) {
        if (std::optional<Incoming> answer = translate(std::move(in)))
          return std::move(*answer);
        continue;
      }
      switch (in.status()) {
      case Status::timeout:
        if (in.request_id() != 0) // that request's deadline passed
          return expired(in.request_id());
        if (Clock::now() >= until)
          return about(0, Status::timeout);
        continue;
      case Status::peer_dead:
      case Status::closed:
      case Status::corrupt:
        lose_worker(SupervisorEvent::Kind::exited, std::string(to_string(in.status())));
        continue;
      default: // invalid_message: one bad response, the stream goes on
        return in;
      }
    }
  }

  /// Sets the descriptor's timer to the next moment receive() has something to do, and keeps
  /// it readable while answers wait in process memory.
  void refresh_ready() noexcept {
    if (!ready_)
      return;
    if (core_)
      ready_->set_timer(std::min(next_check_, core_->requests_.earliest()));
    else
      ready_->set_timer(gave_up_ ? Deadline::max() : next_start_);
    ready_->set_pending(!given_.empty() || !lost_.empty() || gave_up_ ||
                        (core_ && core_->kept() != 0));
  }

  [[nodiscard]] static std::uint64_t limit_from_env(const char *name, std::uint64_t fallback) {
    const char *text = std::getenv(name);
    if (text == nullptr || *text == '\0')
      return fallback;
    char *end = nullptr;
    errno = 0;
    const unsigned long long mib = std::strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || mib > (std::uint64_t{1} << 40))
      throw Error(Errc::invalid_argument, "",
                  std::string(name) + "='" + text + "' is not a size in MiB");
    return static_cast<std::uint64_t>(mib) << 20;
  }

  Sent track(Sent sent, Pending &&pending) {
    if (sent.status != Status::ok) {
      if (sent.status == Status::peer_dead || sent.status == Status::closed)
        lose_worker(SupervisorEvent::Kind::exited, "gone while a request was sent");
      return {sent.status, 0};
    }
    const std::uint64_t id = next_id_++;
    pending.core_id = sent.request_id;
    by_core_id_.emplace(sent.request_id, id);
    if (options_.request_timeout.count() > 0)
      order_.push_back(sent.request_id);
    pending_.emplace(id, std::move(pending));
    return {Status::ok, id};
  }

  void emit(SupervisorEvent::Kind kind, std::string detail) {
    if (options_.on_event)
      options_.on_event(SupervisorEvent{kind, pid_, std::move(detail)});
  }

  static Incoming about(std::uint64_t id, Status status) noexcept {
    Incoming in;
    in.status_ = status;
    in.frame_.request_id = id;
    return in;
  }

  [[nodiscard]] LifeSigns life_signs() const noexcept {
    LifeSigns signs;
    // Counters the worker's side of each ring keeps in shared memory (relaxed statistics):
    // a worker that lies in them only makes itself look alive, which request_timeout and
    // the memory limits still catch.
    signs.committed = core_->received_stats().producer.records;
    signs.released = core_->sent_stats().consumer.records;
    timespec cpu{};
    if (has_cpu_clock_ && ::clock_gettime(cpu_clock_, &cpu) == 0)
      signs.cpu_ns = static_cast<std::int64_t>(cpu.tv_sec) * 1000000000 + cpu.tv_nsec;
    return signs;
  }

  /// A response on the current session, renumbered; nullopt when it was ours (HealthReply).
  std::optional<Incoming> translate(Incoming &&in) {
    const std::uint64_t core_id = in.request_id();
    if (core_id != 0 && core_id == health_id_) {
      health_id_ = 0;
      backoff_ = options_.backoff_initial; // healthy: the next failure starts afresh
      in.release();
      return std::nullopt;
    }
    if (core_id == 0 && in.is<schema::Envelope>()) {
      const auto *root = verify_message<schema::Envelope>(in.buffer(), options_.session.verify);
      if (root != nullptr && root->body_type() == schema::Control::Warning) {
        const schema::Warning *warning = root->body_as_Warning();
        std::string text = "code " + std::to_string(warning->code()) + ", resident " +
                           std::to_string(warning->rss_bytes() >> 20) + " MiB";
        if (const flatbuffers::String *message = warning->message(); message != nullptr)
          text += ": " + std::string(message->data(), std::min<std::size_t>(message->size(), 1024));
        in.release();
        emit(SupervisorEvent::Kind::worker_warning, std::move(text));
        return std::nullopt;
      }
    }
    const auto mapped = by_core_id_.find(core_id);
    if (mapped == by_core_id_.end()) { // an old health reply, or garbage: keep the id at 0
      in.frame_.request_id = 0;
      return std::move(in);
    }
    const std::uint64_t id = mapped->second;
    in.frame_.request_id = id;
    if (in.final()) {
      by_core_id_.erase(mapped);
      pending_.erase(id);
    }
    return std::move(in);
  }

  Incoming expired(std::uint64_t core_id) {
    const auto mapped = by_core_id_.find(core_id);
    if (mapped == by_core_id_.end()) // our own HealthRequest has no deadline; cannot happen
      return about(0, Status::timeout);
    const std::uint64_t id = mapped->second;
    pending_.erase(id); // a late response still maps (by_core_id_ keeps it) and comes late()
    return about(id, Status::timeout);
  }

  /// Before a worker's session goes: the answers it gave that the caller has not read (kept
  /// by request(), or in the ring) leave the segment, renumbered, for receive(); only what
  /// the worker left unanswered is then lost or retried.
  void salvage_answers() {
    for (;;) {
      Incoming in = core_->receive(std::chrono::milliseconds(0));
      if (in.status() == Status::timeout && in.request_id() != 0) { // its deadline passed
        given_.push_back(expired(in.request_id()));
        continue;
      }
      if (in.status() == Status::invalid_message)
        continue; // already consumed, as receive() would have reported it
      if (!in || !in.take_out_of_ring())
        return; // nothing more, or no memory for a copy: the rest counts as unanswered
      if (std::optional<Incoming> answer = translate(std::move(in)))
        given_.push_back(std::move(*answer));
    }
  }

  /// Health, memory and request-time checks that are due; sets next_check_.
  void supervise(Clock::time_point now) {
    const bool health_on = options_.health_interval.count() > 0;
    if (health_on && health_id_ != 0 && now - health_sent_ >= options_.health_timeout) {
      const LifeSigns signs = life_signs();
      if (!signs.moved_since(health_baseline_)) {
        lose_worker(SupervisorEvent::Kind::hung,
                    "no HealthReply and no sign of life within " +
                        std::to_string(options_.health_timeout.count()) + " ms");
        return;
      }
      health_baseline_ = signs; // busy, not hung: another round
      health_sent_ = now;
    }
    if (options_.request_timeout.count() > 0 && !check_request_time(now))
      return;
    if (now >= next_periodic_) {
      next_periodic_ =
          now + (health_on ? options_.health_interval : std::chrono::milliseconds(1000));
      if (!check_memory())
        return;
      if (health_on && health_id_ == 0) {
        // Zero wait: a ring full of requests just postpones the check to the next round.
        const Sent sent = core_->health(std::chrono::milliseconds(0));
        if (sent.status == Status::ok) {
          health_id_ = sent.request_id;
          health_sent_ = now;
          health_baseline_ = life_signs();
        }
      }
    }
    next_check_ = next_periodic_;
    if (health_id_ != 0)
      next_check_ = std::min(next_check_, health_sent_ + options_.health_timeout);
    if (oldest_core_id_ != 0)
      next_check_ = std::min(next_check_, oldest_since_ + options_.request_timeout);
  }

  /// request_timeout: false when the worker was killed for running over it.
  bool check_request_time(Clock::time_point now) {
    // Requests whose final response came are no longer in by_core_id_; the ones that timed
    // out for the caller still are, until their final response: the worker is still on them.
    while (!order_.empty() && !by_core_id_.contains(order_.front()))
      order_.pop_front();
    const std::uint64_t oldest = order_.empty() ? 0 : order_.front();
    if (oldest != oldest_core_id_) {
      oldest_core_id_ = oldest;
      oldest_since_ = now;
      return true;
    }
    if (oldest == 0 || now - oldest_since_ < options_.request_timeout)
      return true;
    // Its answer may have come in time and wait unread (the caller was busy elsewhere, or
    // request() kept it): the receive() that called us reads what waits first, then we judge.
    if (core_->answers_waiting())
      return true;
    const std::uint64_t id = by_core_id_.at(oldest);
    lose_worker(SupervisorEvent::Kind::stuck,
                "request " + std::to_string(id) + " ran over request_timeout (" +
                    std::to_string(options_.request_timeout.count()) + " ms)",
                id);
    return false;
  }

  /// false when the worker was killed for its memory.
  bool check_memory() {
    if (options_.rss_soft_limit == 0 && options_.rss_hard_limit == 0)
      return true;
    const std::uint64_t rss = detail::resident_bytes(pid_);
    const auto mib = [](std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
    if (options_.rss_hard_limit != 0 && rss > options_.rss_hard_limit) {
      lose_worker(SupervisorEvent::Kind::over_memory,
                  "resident " + mib(rss) + " > hard limit " + mib(options_.rss_hard_limit));
      return false;
    }
    const bool over_soft = options_.rss_soft_limit != 0 && rss > options_.rss_soft_limit;
    if (over_soft && !memory_warned_)
      emit(SupervisorEvent::Kind::memory_warning,
           "resident " + mib(rss) + " > soft limit " + mib(options_.rss_soft_limit));
    memory_warned_ = over_soft;
    return true;
  }

  /// The worker is gone or must go: kill and reap it, drop its session, settle its requests,
  /// schedule a restart. `stuck_on`: the request it ran over request_timeout with (our id),
  /// 0 for any other loss.
  void lose_worker(SupervisorEvent::Kind why, std::string detail, std::uint64_t stuck_on = 0) {
    const pid_t pid = pid_;
    const std::string how = stop_worker(SIGKILL);
    if (!how.empty())
      detail += "; " + how;
    pid_ = pid; // for the event
    emit(why, std::move(detail));
    pid_ = -1;
    salvage_answers();
    core_.reset(); // removes the segment: the next worker gets a fresh one
    if (ready_)
      static_cast<void>(ready_->watch_peer(0, -1)); // its death is dealt with: no more wakes for it
    by_core_id_.clear();
    order_.clear();
    oldest_core_id_ = 0;
    health_id_ = 0;
    memory_warned_ = false;
    const std::size_t first_lost = lost_.size();
    for (auto it = pending_.begin(); it != pending_.end();) {
      Pending &p = it->second;
      const bool innocent = stuck_on != 0 && it->first != stuck_on; // only one request was stuck
      const bool retry = stuck_on != 0 || options_.on_worker_loss == OnWorkerLoss::retry_once;
      if (!p.bytes.empty() && (innocent || (retry && !p.retried))) {
        p.retried = p.retried || !innocent;
        p.core_id = 0; // sent again once the next worker is ready
        ++it;
      } else {
        lost_.emplace_back(it->first, it->first == stuck_on ? Status::timeout : Status::peer_dead);
        it = pending_.erase(it);
      }
    }
    // Oldest first, as they were sent (pending_ is unordered): a caller that blames the
    // first one reported for a death blames the oldest request the worker had.
    std::sort(lost_.begin() + static_cast<std::ptrdiff_t>(first_lost), lost_.end());
    next_start_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  }

  /// Every pending request reported lost (peer_dead), oldest first.
  void lose_all_pending() {
    const std::size_t first_lost = lost_.size();
    for (auto &[id, pending] : pending_)
      lost_.emplace_back(id, Status::peer_dead);
    pending_.clear();
    std::sort(lost_.begin() + static_cast<std::ptrdiff_t>(first_lost), lost_.end());
  }

  /// ok when a worker runs (starting one if its backoff has passed by `until`); timeout when
  /// the backoff outlasts `until`; peer_dead when a start failed or the supervisor gave up.
  Status ensure_worker(Deadline until) {
    if (core_)
      return Status::ok;
    if (gave_up_)
      return Status::peer_dead;
    if (next_start_ > until) {
      std::this_thread::sleep_until(until);
      return Status::timeout;
    }
    std::this_thread::sleep_until(next_start_);
    try_restart();
    return core_ ? Status::ok : Status::peer_dead;
  }

  void try_restart() {
    try {
      start_worker();
      ++restarts_;
    } catch (const Error &e) {
      emit(SupervisorEvent::Kind::start_failed, e.what());
      if (++failed_starts_ >= options_.max_failed_starts) {
        gave_up_ = true;
        emit(SupervisorEvent::Kind::gave_up,
             std::to_string(failed_starts_) + " failed starts in a row");
        lose_all_pending();
        return;
      }
      next_start_ = Clock::now() + backoff_;
      backoff_ = std::min(backoff_ * 2, options_.backoff_max);
    }
  }

  /// Creates the session, runs the command, waits for Ready, resends what is to be retried.
  /// Throws Error; leaves no process and no segment behind when it does.
  void start_worker() {
    SessionOptions session = options_.session;
    session.replace_abandoned = true; // a killed predecessor of ours may have left it
    core_.emplace(Core::create(name_, session));
    if (ready_)
      core_->reader_.share_ready(*ready_);
    try {
      pid_ = spawn();
      has_cpu_clock_ = ::clock_getcpuclockid(pid_, &cpu_clock_) == 0;
      const Deadline until = deadline_after(options_.ready_timeout);
      while (core_->poll_ready(std::min(until, deadline_after(std::chrono::milliseconds(20)))) ==
             nullptr) {
        if (reap(false))
          throw Error(Errc::worker_failed, name_, "the worker " + exit_text_ + " before Ready");
        if (Clock::now() >= until)
          throw Error(Errc::worker_failed, name_,
                      "no Ready within " + std::to_string(options_.ready_timeout.count()) + " ms");
      }
    } catch (...) {
      stop_worker(SIGKILL);
      core_.reset();
      throw;
    }
    failed_starts_ = 0;
    next_periodic_ = Clock::now() + options_.health_interval;
    next_check_ = next_periodic_;
    emit(SupervisorEvent::Kind::started, core_->worker().name);
    // Again in the order they were first sent: our ids grow with it.
    std::vector<std::uint64_t> resend;
    for (const auto &[id, pending] : pending_)
      if (pending.core_id == 0)
        resend.push_back(id);
    std::sort(resend.begin(), resend.end());
    for (const std::uint64_t id : resend) {
      Pending &pending = pending_.at(id);
      const Sent sent = core_->request_buffer(pending.bytes, std::chrono::seconds(1),
                                              pending.deadline, pending.type);
      if (sent.status != Status::ok) { // the new worker went too: settled by the next loss
        lost_.emplace_back(id, Status::peer_dead);
        pending_.erase(id);
        continue;
      }
      pending.core_id = sent.request_id;
      by_core_id_.emplace(sent.request_id, id);
      if (options_.request_timeout.count() > 0)
        order_.push_back(sent.request_id);
    }
  }

  /// fork + exec of options_.command with the session name in the environment. Throws
  /// Error(worker_failed) when the executable cannot be run (errno from exec, through a
  /// close-on-exec pipe).
  pid_t spawn() {
    // Everything the child needs is built before fork(): in a process with threads, the child
    // may only make async-signal-safe calls until exec.
    std::vector<std::string> env;
    const std::string prefix = std::string(kSessionEnv) + "=";
    for (char **e = environ; e != nullptr && *e != nullptr; ++e)
      if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0)
        env.emplace_back(*e);
    env.push_back(prefix + name_);
    std::vector<char *> envp;
    for (std::string &s : env)
      envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = options_.command;
    std::vector<char *> argv;
    for (std::string &s : args)
      argv.push_back(s.data());
    argv.push_back(nullptr);

    int log_fd = -1; // opened here, not in the child: a failure is the caller's error
    if (!options_.stderr_path.empty()) {
      log_fd =
          ::open(options_.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0)
        throw Error(Errc::worker_failed, name_,
                    "cannot open the worker's log '" + options_.stderr_path +
                        "': " + std::strerror(errno),
                    errno);
    }
    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
      const int error = errno;
      if (log_fd >= 0)
        ::close(log_fd);
      throw Error(Errc::system, name_, "pipe2 failed", error);
    }
    const pid_t parent = ::getpid();
    const bool kill_with_parent = options_.kill_with_parent;
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(status_pipe[0]);
      if (kill_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) // the parent died before prctl
          ::_exit(127);
      }
      if (log_fd >= 0 && ::dup2(log_fd, STDERR_FILENO) < 0) { // dup2 clears O_CLOEXEC
        const int error = errno;
        static_cast<void>(::write(status_pipe[1], &error, sizeof error));
        ::_exit(127);
      }
      ::execvpe(argv[0], argv.data(), envp.data());
      const int error = errno;
      static_cast<void>(::write(status_pipe[1], &error, sizeof error));
      ::_exit(127);
    }
    ::close(status_pipe[1]);
    if (log_fd >= 0)
      ::close(log_fd);
    if (pid < 0) {
      const int error = errno;
      ::close(status_pipe[0]);
      throw Error(Errc::system, name_, "fork failed", error);
    }
    int exec_error = 0;
    ssize_t n = 0;
    do
      n = ::read(status_pipe[0], &exec_error, sizeof exec_error);
    while (n < 0 && errno == EINTR);
    ::close(status_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof exec_error)) {
      ::waitpid(pid, nullptr, 0);
      throw Error(Errc::worker_failed, name_,
                  "cannot run '" + options_.command.front() + "': " + std::strerror(exec_error),
                  exec_error);
    }
    return pid;
  }

  /// Whether the worker has exited (reaped now, exit_text_ says how); `block`: wait for it.
  bool reap(bool block) {
    if (pid_ <= 0)
      return true;
    int status = 0;
    pid_t r = 0;
    do
      r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
      return false;
    if (r == pid_)
      exit_text_ = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                     : "was killed by signal " + std::to_string(WTERMSIG(status));
    else
      exit_text_ = "is gone";
    pid_ = -1;
    return true;
  }

  /// Whether the worker has exited by `until` (reaped then). Sleeps on a pidfd (Linux 5.3+),
  /// which becomes readable when the process exits; without one, in 1 ms steps.
  bool wait_exit(Deadline until) {
    if (reap(false))
      return true;
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    bool exited = false;
    for (;;) {
      if ((exited = reap(false)))
        break;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0)
        break;
      if (fd >= 0) {
        pollfd pfd{fd, POLLIN, 0};
        static_cast<void>(
            ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000))));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (fd >= 0)
      ::close(fd);
    return exited;
  }

  /// Sends `signal` to a worker still running, reaps it, and says how it ended ("" if none).
  std::string stop_worker(int signal) {
    if (pid_ <= 0)
      return {};
    if (!reap(false)) {
      ::kill(pid_, signal);
      reap(true);
    }
    return "the worker " + exit_text_;
  }

  std::string name_;
  SupervisorOptions options_;
  std::unique_ptr<detail::ReadyFd> ready_; // ready_fd()'s; before core_, whose reader uses it
  std::optional<Core> core_;
  pid_t pid_ = -1;
  std::string exit_text_;
  std::chrono::milliseconds backoff_;
  Clock::time_point next_start_{};
  Clock::time_point next_periodic_{};
  Clock::time_point next_check_ = Clock::time_point::max();
  std::uint64_t health_id_ = 0; // the HealthRequest awaiting its reply (core id), 0: none
  Clock::time_point health_sent_{};
  LifeSigns health_baseline_{}; // as they were when health_sent_ was set
  clockid_t cpu_clock_{};       // the worker's process CPU-time clock
  bool has_cpu_clock_ = false;
  bool memory_warned_ = false;
  unsigned restarts_ = 0;
  unsigned failed_starts_ = 0;
  bool gave_up_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Pending> pending_;          // our id -> request
  std::unordered_map<std::uint64_t, std::uint64_t> by_core_id_; // current session's id -> ours
  std::deque<std::pair<std::uint64_t, Status>> lost_;           // requests to report as settled so
  std::deque<Incoming> given_; // answers of a worker that went, out of its segment (first)
  // request_timeout: the current session's request ids in the order sent (answered ones are
  // dropped from the front lazily), and since when the front one has been the oldest.
  std::deque<std::uint64_t> order_;
  std::uint64_t oldest_core_id_ = 0;
  Clock::time_point oldest_since_{};
};

} // namespace shmpipe

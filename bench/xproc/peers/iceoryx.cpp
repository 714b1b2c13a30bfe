// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Peer "iceoryx": iceoryx 2.0.3 (Debian) publish/subscribe with the loan API, as in
// baselines.md §7.
//
// Processes. Every scenario call starts its own `iox-roudi` (about 0.3 s) with a generated
// config, runs the subscriber and the publisher in two forked children (CPU 0 and CPU 1), each
// of which calls PoshRuntime::initRuntime itself, and stops RouDi afterwards. The harness
// process never becomes an iceoryx runtime: a runtime cannot be torn down and re-created in
// one process. Results travel back through a SharedScratch mapping created before the forks.
//
// RouDi readiness: RouDi serves its clients on the Unix datagram socket /tmp/roudi, created
// after its shared-memory segments. A connect() to a datagram socket succeeds only while some
// process has it bound (a stale file from a killed RouDi gives ECONNREFUSED), so the leader
// polls connect() until it succeeds, and checks that its own iox-roudi is still alive. Only
// then are the workers forked, so initRuntime never waits for RouDi.
//
// Data path. Untyped API for every size: UntypedPublisher::loan(size, 64) -> fill every byte
// -> publish(); UntypedSubscriber::take() -> touch every byte -> release(). Lossless:
// publisher subscriberTooSlowPolicy = WAIT_FOR_CONSUMER, subscriber queueFullPolicy =
// BLOCK_PRODUCER. Both sides busy-poll (no WaitSet), so compare with spinning transports.
// Timing starts only after the subscription is established (publisher: hasSubscribers(),
// subscriber: SubscribeState::SUBSCRIBED). Streaming (64 KiB, 1 MiB): the publisher loans
// message i only once the subscriber has released message i - in_flight, the rule every
// streaming peer follows. iceoryx has no batch call (one loan/publish and one take/release per
// chunk), so it has no throughput_batched row. CPU per round trip counts the two workers, not
// RouDi (which takes no part in the data path once the ports are connected). Every wait is bounded:
// a side that sees no progress for 10 s throws, and the leader kills both children if either fails.

#include "harness.hpp"

#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/capro/service_description.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <fstream>
#include <memory>
#include <sstream>

extern char **environ;

namespace {

constexpr const char *kName = "iceoryx";
constexpr std::uint64_t kWarmup = 1000;
constexpr std::uint32_t kAlignment = 64;
constexpr auto kStallLimit = std::chrono::seconds(10); ///< no progress for this long: error
constexpr auto kRunLimit = std::chrono::seconds(300);  ///< a whole scenario call
constexpr auto kRoudiStartLimit = std::chrono::seconds(10);
constexpr auto kRoudiStopLimit = std::chrono::seconds(5); ///< SIGTERM, then SIGKILL
constexpr const char *kRoudiSocket = "/tmp/roudi";        ///< IOX_UDS_SOCKET_PATH_PREFIX + "roudi"

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(std::string(kName) + ": " + what);
}

// ---------------------------------------------------------------------------------------------
// RouDi.

/// Mempools: payload capacity (RouDi adds the 40-byte chunk header) and chunk count. The
/// defaults of iox-roudi's built-in config, plus 2 KiB chunks (1 KiB payloads aligned to 64 B
/// do not fit the 1 KiB pool) and 64 chunks of 1 MiB + 4 KiB (a 64-byte-aligned 1 MiB payload
/// does not fit the 1 MiB pool, and the 4 MiB pool holds only 10 chunks). Chunks are only
/// touched when used, so the unused pools cost address space, not memory.
struct Pool {
  std::size_t size;
  std::size_t count;
};
constexpr std::array<Pool, 9> kPools{{{128, 10000},
                                      {1024, 5000},
                                      {2048, 2000},
                                      {16384, 1000},
                                      {131072, 200},
                                      {524288, 50},
                                      {1048576, 30},
                                      {1048576 + 4096, 64},
                                      {4194304, 10}}};

std::string roudi_config() {
  std::ostringstream out;
  out << "[general]\nversion = 1\n\n[[segment]]\n";
  for (const Pool &pool : kPools)
    out << "\n[[segment.mempool]]\nsize = " << pool.size << "\ncount = " << pool.count << "\n";
  return out.str();
}

/// True while some process has RouDi's socket bound.
bool roudi_socket_live() {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, kRoudiSocket, sizeof addr.sun_path - 1);
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

std::optional<std::string> find_roudi() {
  const char *path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/iox-roudi";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

std::string file_tail(const std::string &path, std::size_t bytes = 600) {
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

/// What a RouDi leaves when it does not shut down cleanly (a worker killed after a failure,
/// or RouDi itself killed): its socket, its locks and its two shared-memory segments, the data
/// segment named after its writer group. RouDi removes them itself on a clean shutdown.
std::vector<std::string> roudi_leftovers() {
  std::vector<std::string> out{kRoudiSocket, "/tmp/roudi.lock", "/tmp/iox-unique-roudi.lock",
                               bench::shm_path("iceoryx_mgmt")};
  if (const group *g = ::getgrgid(::getegid()); g != nullptr)
    out.push_back(bench::shm_path(g->gr_name));
  return out;
}

/// One iox-roudi process, from a generated config, for the lifetime of this object. Its
/// stdout and stderr go to a log file in /tmp, quoted in errors and removed afterwards.
/// A signal that ends the harness stops it as stop() does (bench::interrupt), and it gets
/// SIGTERM if the harness dies.
class Roudi {
public:
  Roudi() {
    if (roudi_socket_live())
      fail(std::string("another iox-roudi is already serving ") + kRoudiSocket + "; stop it first");
    const std::optional<std::string> exe = find_roudi();
    if (!exe)
      fail("iox-roudi not found on PATH");
    const std::string base = "/tmp/" + bench::unique_name(kName);
    config_ = base + "-roudi.toml";
    log_ = base + "-roudi.log";
    on_signal_.push_back(std::make_unique<bench::interrupt::Unlink>(config_));
    on_signal_.push_back(std::make_unique<bench::interrupt::Unlink>(log_));
    {
      std::ofstream out(config_);
      out << roudi_config();
      if (!out.flush()) {
        remove_files();
        fail("cannot write " + config_);
      }
    }
    spawn(*exe);
    try {
      wait_ready();
    } catch (...) {
      stop();
      remove_files();
      throw;
    }
  }
  ~Roudi() {
    stop();
    remove_files();
  }
  Roudi(const Roudi &) = delete;
  Roudi &operator=(const Roudi &) = delete;

private:
  /// fork + exec rather than posix_spawn: the child needs PR_SET_PDEATHSIG (kept across exec),
  /// so that a harness killed outright still stops its RouDi, which then cleans up itself.
  void spawn(const std::string &exe) {
    std::string arg0 = "iox-roudi", arg1 = "-c";
    std::array<char *, 4> argv{arg0.data(), arg1.data(), config_.data(), nullptr};
    std::vector<std::string> leftovers = roudi_leftovers();
    // Held back until RouDi's leftovers are registered under its pid: a signal in between
    // would stop RouDi and not know what to remove if it shut down uncleanly.
    const bench::interrupt::Blocked blocked;
    try {
      pid_ = bench::interrupt::fork_child(/*gentle=*/true, SIGTERM);
    } catch (...) {
      pid_ = -1;
      remove_files();
      throw;
    }
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec. SIGPIPE stays ignored, as the
      // harness has it; the three signals fork_child reset are at their defaults.
      const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      const int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (in < 0 || out < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0)
        ::_exit(126);
      ::execve(exe.c_str(), argv.data(), environ);
      ::_exit(127);
    }
    for (const std::string &path : leftovers)
      on_signal_.push_back(std::make_unique<bench::interrupt::Unlink>(path, pid_));
  }

  void wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + kRoudiStartLimit;
    for (;;) {
      int status = 0;
      if (bench::interrupt::reap(pid_, status, false)) {
        pid_ = -1;
        fail("iox-roudi exited during start-up (status " + std::to_string(status) +
             "); its log: " + file_tail(log_));
      }
      if (roudi_socket_live())
        return;
      if (std::chrono::steady_clock::now() > deadline)
        fail("iox-roudi not ready after 10 s; its log: " + file_tail(log_));
      ::usleep(2000);
    }
  }

  void stop() noexcept {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + kRoudiStopLimit;
    int status = 0;
    while (!bench::interrupt::reap(pid_, status, false)) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        bench::interrupt::reap(pid_, status, true);
        break;
      }
      ::usleep(1000);
    }
    pid_ = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      return;
    // RouDi aborts its shutdown when a registered process died without deregistering (a
    // worker killed after a failure). Remove what it left; nobody else owns these names, since
    // no other RouDi was running when this one started and this one held RouDi's lock.
    try {
      std::fprintf(stderr, "%s: iox-roudi did not shut down cleanly (%s); its log ends: %s\n",
                   kName, WIFSIGNALED(status) ? "killed by a signal" : "non-zero exit",
                   file_tail(log_, 300).c_str());
    } catch (...) {
    }
    try {
      for (const std::string &path : roudi_leftovers())
        ::unlink(path.c_str());
    } catch (...) { // out of memory: nothing better to do
    }
  }

  void remove_files() noexcept {
    if (!config_.empty())
      ::unlink(config_.c_str());
    if (!log_.empty())
      ::unlink(log_.c_str());
  }

  pid_t pid_ = -1;
  std::string config_;
  std::string log_;
  /// Unregistered only after the destructor's body has removed the files (members outlive it).
  std::vector<std::unique_ptr<bench::interrupt::Unlink>> on_signal_;
};

// ---------------------------------------------------------------------------------------------
// Worker processes.

/// Shared between the leader and both workers (placement-new at the start of SharedScratch).
/// Latency samples follow at kTicksOffset.
struct Control {
  std::atomic<std::uint32_t> warmed{0};   ///< the subscriber has consumed the warm-up messages
  std::atomic<std::uint32_t> finished{0}; ///< the measuring side is done; the other may leave
  std::atomic<std::uint64_t> released{0}; ///< timed messages the subscriber has released
  std::array<std::uint64_t, 2> cpu_ns{};  ///< CPU time of each worker in its measured loop
  double seconds = 0;
  std::uint64_t sum = 0;                        ///< over the timed messages
  std::uint64_t warmup_sum = 0;                 ///< over the untimed ones before them
  std::array<std::array<char, 256>, 2> error{}; ///< one message per worker
};
constexpr std::size_t kTicksOffset = 4096;
static_assert(sizeof(Control) <= kTicksOffset);

/// A forked worker: pinned, its own iceoryx runtime, then `body`. Killed (SIGKILL) and reaped
/// by the destructor unless it already exited. Its runtime is named
/// shmpipe-bench-<harness pid>-<role>-<worker pid>, and owns /tmp/<name> (its socket) and
/// /tmp/<name>.lock, which the runtime removes when it ends normally; a killed worker's are
/// removed here, or by the signal handler (bench::interrupt).
class Worker {
public:
  Worker(int cpu, const char *role, std::array<char, 256> &error, const std::function<void()> &body)
      : role_(role) {
    const std::string prefix = "shmpipe-bench-" + std::to_string(::getpid()) + "-" + role + "-";
    // Held back until the worker's files are registered under its pid.
    const bench::interrupt::Blocked blocked;
    pid_ = bench::interrupt::fork_child();
    if (pid_ != 0) {
      const std::string socket = "/tmp/" + prefix + std::to_string(pid_);
      files_ = {socket, socket + ".lock"};
      for (const std::string &file : files_)
        on_signal_.push_back(std::make_unique<bench::interrupt::Unlink>(file));
    } else {
      int code = 1;
      try {
        bench::pin_to_cpu(cpu);
        iox::log::LogManager::GetLogManager().SetDefaultLogLevel(
            iox::log::LogLevel::kWarn, iox::log::LogLevelOutput::kHideLogLevel);
        const std::string name = prefix + std::to_string(::getpid());
        iox::runtime::PoshRuntime *runtime = &iox::runtime::PoshRuntime::initRuntime(
            iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name));
        try {
          body();
          code = 0;
        } catch (const std::exception &e) {
          std::snprintf(error.data(), error.size(), "%s", e.what());
          std::fprintf(stderr, "%s %s: %s\n", kName, role, e.what());
        }
        // Deregister from RouDi (the runtime's destructor sends TERMINATION): RouDi aborts its
        // own shutdown if a registered process has vanished. The destructor is called by hand
        // because the process leaves with _exit, so static destructors never run: this copy of
        // the harness must not run the harness's static destructors and atexit handlers.
        runtime->~PoshRuntime();
      } catch (const std::exception &e) {
        std::snprintf(error.data(), error.size(), "%s", e.what());
        std::fprintf(stderr, "%s %s: %s\n", kName, role, e.what());
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
  }
  ~Worker() {
    kill();
    for (const std::string &file : files_)
      ::unlink(file.c_str());
  }
  Worker(const Worker &) = delete;
  Worker &operator=(const Worker &) = delete;

  /// The exit status once the worker has exited (and been reaped), nothing while it runs.
  std::optional<int> poll() {
    if (pid_ <= 0)
      return status_;
    if (bench::interrupt::reap(pid_, status_, false)) {
      pid_ = -1;
      return status_;
    }
    return std::nullopt;
  }
  void kill() noexcept {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    bench::interrupt::reap(pid_, status_, true);
    pid_ = -1;
  }
  [[nodiscard]] const char *role() const noexcept { return role_; }

private:
  const char *role_;
  pid_t pid_ = -1;
  int status_ = 0;
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<bench::interrupt::Unlink>> on_signal_;
};

std::string describe(int status) {
  if (WIFEXITED(status))
    return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

/// Starts RouDi, runs `first` on CPU 0 and `second` on CPU 1 in their own processes, and waits
/// for both; throws (after killing both) if either fails or the run exceeds kRunLimit.
void run_workers(bench::SharedScratch &scratch, const char *first_role,
                 const std::function<void()> &first, const char *second_role,
                 const std::function<void()> &second) {
  auto *control = static_cast<Control *>(scratch.data());
  const Roudi roudi;
  Worker a(0, first_role, control->error[0], first);
  Worker b(1, second_role, control->error[1], second);
  std::array<Worker *, 2> workers{&a, &b};
  const auto deadline = std::chrono::steady_clock::now() + kRunLimit;
  int running = 2;
  while (running > 0) {
    running = 0;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      const std::optional<int> status = workers[i]->poll();
      if (!status) {
        ++running;
        continue;
      }
      if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        a.kill();
        b.kill();
        const std::string why(control->error[i].data());
        fail(std::string(workers[i]->role()) + " process failed (" + describe(*status) + ")" +
             (why.empty() ? "" : ": " + why));
      }
    }
    if (running > 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        a.kill();
        b.kill();
        fail("run did not finish within 300 s; both processes killed");
      }
      ::usleep(5000); // the leader wakes rarely: both CPUs belong to the workers
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Inside the workers.

/// Throws when a busy-poll loop has made no progress for kStallLimit (the clock is read only
/// every 1024 idle polls).
class Stall {
public:
  void progress() noexcept {
    idle_ = 0;
    since_ = {};
  }
  void idle(const char *what) {
    if ((++idle_ & 1023U) != 0)
      return;
    const auto now = std::chrono::steady_clock::now();
    if (since_ == std::chrono::steady_clock::time_point{})
      since_ = now;
    else if (now - since_ > kStallLimit)
      fail(std::string(what) + ": no progress for 10 s");
  }

private:
  std::uint32_t idle_ = 0;
  std::chrono::steady_clock::time_point since_{};
};

iox::capro::IdString_t id_string(const std::string &text) {
  return {iox::cxx::TruncateToCapacity, text};
}

iox::capro::ServiceDescription service(const std::string &instance, const std::string &event) {
  return {id_string("shmpipe-bench"), id_string(instance), id_string(event)};
}

iox::popo::PublisherOptions publisher_options() {
  iox::popo::PublisherOptions options;
  options.historyCapacity = 0;
  options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return options;
}

/// 256 (the maximum) for small messages; 16 for large ones, as baselines.md §7 used for 1 MiB
/// (queue + loans must stay below the pool's chunk count).
std::uint64_t queue_capacity(std::size_t size) { return size <= 16384 ? 256 : 16; }

/// Untimed messages before a throughput run. RouDi is new, so its chunks have never been
/// touched; a long-running RouDi would have them mapped. The mempool's free list hands out the
/// most recently released chunk first, so twice the chunks that can be in flight (queue, the
/// publisher's 8 loans, the subscriber's one) pre-faults every chunk the run will use.
std::uint64_t warmup_messages(std::size_t size) { return 2 * (queue_capacity(size) + 9); }

iox::popo::SubscriberOptions subscriber_options(std::size_t size) {
  iox::popo::SubscriberOptions options;
  options.queueCapacity = queue_capacity(size);
  options.historyRequest = 0;
  options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return options;
}

template <class Ready> void wait_for(Ready &&ready, const char *what) {
  const auto deadline = std::chrono::steady_clock::now() + kStallLimit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline)
      fail(std::string(what) + " not established after 10 s");
    ::usleep(1000);
  }
}

void wait_subscribed(const iox::popo::UntypedSubscriber &sub) {
  wait_for([&] { return sub.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; },
           "subscription");
}

void wait_subscribers(const iox::popo::UntypedPublisher &pub) {
  wait_for([&] { return pub.hasSubscribers(); }, "publisher's subscriber");
}

/// Sleeps (does not spin) until the measuring side is done, so the other side's chunks stay
/// alive until they are consumed.
void wait_finished(const Control &control) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (control.finished.load(std::memory_order_acquire) == 0) {
    if (std::chrono::steady_clock::now() > deadline)
      fail("the measuring process did not finish");
    ::usleep(200);
  }
}

std::byte *loan(iox::popo::UntypedPublisher &pub, std::size_t size, Stall &stall) {
  for (;;) {
    auto chunk = pub.loan(static_cast<std::uint32_t>(size), kAlignment);
    if (!chunk.has_error()) {
      stall.progress();
      return static_cast<std::byte *>(chunk.value());
    }
    if (chunk.get_error() != iox::popo::AllocationError::RUNNING_OUT_OF_CHUNKS)
      fail(std::string("loan(") + std::to_string(size) +
           ") failed: " + iox::popo::asStringLiteral(chunk.get_error()));
    stall.idle("loan (mempool exhausted)");
  }
}

const std::byte *take(iox::popo::UntypedSubscriber &sub, std::size_t size, Stall &stall) {
  for (;;) {
    auto chunk = sub.take();
    if (!chunk.has_error()) {
      stall.progress();
      const void *payload = chunk.value();
      if (iox::mepoo::ChunkHeader::fromUserPayload(payload)->userPayloadSize() != size)
        fail("received a chunk of the wrong size");
      return static_cast<const std::byte *>(payload);
    }
    if (chunk.get_error() != iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE)
      fail(std::string("take failed: ") + iox::popo::asStringLiteral(chunk.get_error()));
    stall.idle("take (waiting for data)");
  }
}

/// A unique instance name for the services of one scenario call; also rejects payloads that no
/// mempool holds (iceoryx would abort the worker).
std::string instance_name(std::size_t size) {
  constexpr std::size_t largest = kPools.back().size - kAlignment;
  if (size == 0 || size > largest)
    fail("payload of " + std::to_string(size) + " bytes: the mempools hold 1 to " +
         std::to_string(largest));
  return bench::unique_name(kName);
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// `count` messages, one loan/publish and one take/release each; with `in_flight` non-zero, at
/// most that many loaned and not yet released by the subscriber.
bench::Sample throughput(std::size_t size, std::uint64_t count, std::size_t in_flight) {
  if (count == 0)
    return {};
  const std::string instance = instance_name(size);
  bench::SharedScratch scratch;
  auto *control = new (scratch.data()) Control{};
  const std::uint64_t warmup = warmup_messages(size);
  run_workers(
      scratch, "subscriber",
      [&] {
        iox::popo::UntypedSubscriber sub(service(instance, "data"), subscriber_options(size));
        wait_subscribed(sub);
        Stall stall;
        std::uint64_t warmup_sum = 0;
        for (std::uint64_t i = 0; i < warmup; ++i) {
          const std::byte *payload = take(sub, size, stall);
          warmup_sum += bench::touch_payload(payload, size);
          sub.release(payload);
        }
        // The queue is empty now and the publisher waits for this: the timed stream starts
        // with no messages produced before the clock starts.
        control->warmed.store(1, std::memory_order_release);
        const std::byte *payload = take(sub, size, stall);
        const auto start = std::chrono::steady_clock::now();
        std::uint64_t sum = bench::touch_payload(payload, size);
        sub.release(payload);
        control->released.store(1, std::memory_order_release);
        for (std::uint64_t i = 1; i < count; ++i) {
          payload = take(sub, size, stall);
          sum += bench::touch_payload(payload, size);
          sub.release(payload);
          control->released.store(i + 1, std::memory_order_release);
        }
        control->seconds = bench::seconds_since(start);
        control->sum = sum;
        control->warmup_sum = warmup_sum;
        control->finished.store(1, std::memory_order_release);
      },
      "publisher",
      [&] {
        iox::popo::UntypedPublisher pub(service(instance, "data"), publisher_options());
        wait_subscribers(pub);
        Stall stall;
        for (std::uint64_t i = 0; i < warmup; ++i) {
          std::byte *payload = loan(pub, size, stall);
          bench::fill_payload(payload, size, i);
          pub.publish(payload);
        }
        bench::spin_until(control->warmed, 1, kStallLimit);
        for (std::uint64_t i = 0; i < count; ++i) {
          if (in_flight != 0)
            bench::wait_for_credit(control->released, i, in_flight);
          std::byte *payload = loan(pub, size, stall);
          bench::fill_payload(payload, size, i);
          pub.publish(payload);
        }
        wait_finished(*control);
      });
  bench::check_sum(control->warmup_sum, bench::expected_stream(size, warmup), kName);
  bench::check_sum(control->sum, bench::expected_stream(size, count), kName);
  bench::Sample sample;
  sample.seconds = control->seconds;
  sample.messages = count;
  return sample;
}

void check_message(const std::byte *payload, std::size_t size, std::uint64_t seq) {
  if (bench::touch_payload(payload, size) != bench::expected_touch(size, seq))
    fail("round-trip payload corrupted");
}

bench::Sample rtt_spin(const bench::Load &load) {
  const std::size_t size = load.size;
  const std::uint64_t count = load.count;
  const std::string instance = instance_name(size);
  const bench::Tsc &tsc = bench::Tsc::get(); // calibrate before the forks
  bench::SharedScratch scratch(kTicksOffset + count * sizeof(std::uint64_t));
  auto *control = new (scratch.data()) Control{};
  auto *ticks =
      reinterpret_cast<std::uint64_t *>(static_cast<std::byte *>(scratch.data()) + kTicksOffset);
  const std::uint64_t total = kWarmup + count;
  run_workers(
      scratch, "pinger",
      [&] {
        iox::popo::UntypedPublisher ping(service(instance, "ping"), publisher_options());
        iox::popo::UntypedSubscriber pong(service(instance, "pong"), subscriber_options(size));
        wait_subscribers(ping);
        wait_subscribed(pong);
        Stall stall;
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
          const std::uint64_t t0 = bench::Tsc::ticks();
          std::byte *out = loan(ping, size, stall);
          bench::fill_payload(out, size, i);
          ping.publish(out);
          const std::byte *in = take(pong, size, stall);
          check_message(in, size, i);
          pong.release(in);
          const std::uint64_t t1 = bench::Tsc::ticks();
          if (i >= kWarmup)
            ticks[i - kWarmup] = t1 - t0;
        }
        control->cpu_ns[0] = bench::process_cpu_ns() - cpu0;
        control->finished.store(1, std::memory_order_release);
      },
      "ponger",
      [&] {
        iox::popo::UntypedSubscriber ping(service(instance, "ping"), subscriber_options(size));
        iox::popo::UntypedPublisher pong(service(instance, "pong"), publisher_options());
        wait_subscribed(ping);
        wait_subscribers(pong);
        Stall stall;
        const std::uint64_t cpu0 = bench::process_cpu_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
          const std::byte *in = take(ping, size, stall);
          check_message(in, size, i);
          ping.release(in);
          std::byte *out = loan(pong, size, stall);
          bench::fill_payload(out, size, i);
          pong.publish(out);
        }
        control->cpu_ns[1] = bench::process_cpu_ns() - cpu0;
        wait_finished(*control);
      });
  bench::Sample sample;
  sample.latencies_ns.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i)
    sample.latencies_ns.push_back(tsc.ns(ticks[i]));
  // Both workers have exited (run_workers reaped them): their stores are visible.
  sample.cpu_ns_per_op =
      static_cast<double>(control->cpu_ns[0] + control->cpu_ns[1]) / static_cast<double>(total);
  return sample;
}

std::optional<std::string> unavailable() {
  if (!find_roudi())
    return std::string("iox-roudi not found on PATH (Debian package iceoryx)");
  if (roudi_socket_live())
    return std::string("another iox-roudi is already running (") + kRoudiSocket +
           " is live); this peer starts its own";
  return std::nullopt;
}

bench::Peer make_peer() {
  bench::Peer peer;
  peer.name = kName;
  peer.unavailable = unavailable;
  peer.scenarios[bench::scenario::kSingle] = {
      .run = [](const bench::Load &load) { return throughput(load.size, load.count, 0); },
      .form = "loan/publish, take/release per chunk; queue of 256 chunks (its maximum)"};
  peer.scenarios[bench::scenario::kBatched] = {
      .not_applicable = "no batch call in iceoryx 2.0: one loan/publish and one take/release "
                        "per chunk"};
  peer.scenarios[bench::scenario::kStreaming] = {
      .run =
          [](const bench::Load &load) {
            return throughput(load.size, load.count, std::max<std::size_t>(load.in_flight, 1));
          },
      .form = "loan/publish, take/release per chunk; busy polling"};
  peer.scenarios[bench::scenario::kRttSpin] = {.run = rtt_spin,
                                               .form = "loan/publish, take/release; busy polling"};
  peer.order = 20;
  return peer;
}

const bench::Register reg{make_peer()};

} // namespace

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The orchestrator side of claim scanning: K claim_scanner processes, each run by a
// shmpipe::Supervisor on its own session, fed TextBatches built in place by one thread per
// scanner; their ClaimBatches are checked against the text and handed to the caller's sink in
// document order. Used by claim_scan and by bench/claim_scan_bench.
//
// Why a thread per scanner: a Supervisor is driven by its caller's receive() (restarts and
// health checks happen inside it), and receive() blocks on one session. One thread per
// scanner sleeps on its own ring and wakes only for its scanner's answers; the caller's thread
// only merges.
//
// Bounded memory: one more thread reads the documents (DocumentReader) and cuts them into
// batches as the scan goes, never the whole file; a document longer than a batch goes in
// pieces (TextBatch.piece_*), so the rings are sized for a batch, not for the longest
// document. The reader stays at most `window` = 2 x scanners x in_flight batches ahead of the
// merge: batch i is not read before batch i - window was handed to the sink. So at any time at
// most `window` batches exist in the orchestrator, read, queued, in a ring, or answered and
// waiting for an earlier one to be merged: their text (batch_bytes + the longest pattern - 1
// each, kept until the batch's claims are checked against it) and their claims. Twice
// scanners x in_flight lets every scanner keep in_flight batches queued while one slow batch
// holds the merge up.
//
// Faults: a scanner that dies is restarted by its Supervisor; the lane sends the dictionary
// to the new process before anything else, then every batch the dead one had not finished,
// from the documents (the claims already received for such a batch are dropped, so nothing is
// delivered twice). A batch on which scanners die three times ends the run with an error
// naming its documents, as does a scanner that answers with claims the text contradicts.
#pragma once

#include <shmpipe/schemas/claims_shmpipe.h>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include "common/session_name.hpp"
#include "hyperscan.hpp"
#include "inputs.hpp"
#include "protocol.hpp"

namespace claims {

struct PipelineOptions {
  std::string scanner;   ///< the claim_scanner executable
  unsigned scanners = 1; ///< K scanner processes
  /// Text per TextBatch (at least one document; a longer document goes in pieces of this
  /// many bytes plus the longest pattern - 1 bytes of look-ahead). 256 KiB is a few hundred
  /// microseconds of scanning, against which waking the sleeping peer (a futex round trip is
  /// 17-23 us on the development VM) is small; with 64 KiB, 1k phrases ran at
  /// 0.885 of the in-process rate against 0.932 with 256 KiB (claim_scan_bench).
  std::size_t batch_bytes = std::size_t{256} << 10;
  unsigned in_flight = 4;       ///< batches sent ahead, per scanner
  std::size_t chunk_claims = 0; ///< 0: as many claims per message as fit
  /// Smallest ring (each direction): the rings grow, by powers of two, to hold the
  /// dictionary and in_flight + 1 of the largest batch (batch_bytes + the longest pattern).
  /// (512 KiB to 64 MiB made no difference beyond noise to the 10k-phrase rate in
  /// claim_scan_bench --ring-kib.)
  std::uint64_t min_ring_bytes = std::uint64_t{1} << 22;
  /// Sessions are named prefix-K-<16 random hex digits>; empty: "shmpipe-claims-<pid>".
  std::string session_prefix;
  /// Scanner events (restarts, ...) for the user; called on a lane's thread.
  std::function<void(const std::string &)> log{};
};

struct PipelineReport {
  std::uint64_t docs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t claims = 0;
  std::uint64_t batches = 0;
  unsigned restarts = 0;        ///< scanner processes started after the first K
  double setup_seconds = 0;     ///< start the scanners, ship and load the dictionary
  double scan_seconds = 0;      ///< first batch sent to last claims delivered
  std::uint64_t scanner_ns = 0; ///< time scanners spent in their scan loops (ClaimBatch.scan_ns)
};

/// Receives each batch's claims, in document order, on the thread that called run().
using ClaimSink = std::function<void(std::span<const Claim>)>;

class Pipeline {
public:
  /// Starts the scanners and loads the dictionary into each; throws Failure (with the
  /// scanner's own words when it refuses the dictionary) or shmpipe::Error. The documents are
  /// read by run().
  Pipeline(const Dictionary &dictionary, DocumentReader documents, PipelineOptions options)
      : dictionary_(dictionary), reader_(std::move(documents)), options_(std::move(options)) {
    if (options_.scanners == 0 || options_.in_flight == 0 || options_.batch_bytes == 0)
      throw Failure("scanners, in-flight batches and batch bytes must be at least 1");
    if (dictionary_.lengths.empty())
      throw Failure("the dictionary is empty");
    if (options_.session_prefix.empty())
      options_.session_prefix = "shmpipe-claims-" + std::to_string(::getpid());
    cut_.batch_bytes = options_.batch_bytes;
    cut_.lookahead = *std::max_element(dictionary_.lengths.begin(), dictionary_.lengths.end()) - 1;
    window_ = std::uint64_t{2} * options_.scanners * options_.in_flight;
    size_rings();
    const auto start = std::chrono::steady_clock::now();
    for (unsigned k = 0; k < options_.scanners; ++k)
      lanes_.push_back(std::make_unique<Lane>(*this, k));
    for (auto &lane : lanes_)
      lane->await_dictionary();
    setup_seconds_ = seconds_since(start);
  }

  Pipeline(const Pipeline &) = delete;
  Pipeline &operator=(const Pipeline &) = delete;
  ~Pipeline() = default;

  /// Scans every document and hands the claims to `sink` in order. Throws Failure when a
  /// batch cannot be scanned (see the file comment); the sink has then had every batch before
  /// it, and none after. Once per Pipeline (the scanners are shut down at the end). An
  /// exception from the sink stops the scanners and comes out of run().
  PipelineReport run(const ClaimSink &sink) {
    if (ran_)
      throw Failure("Pipeline::run() called twice");
    ran_ = true;
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    const auto join = [&] {
      for (std::thread &t : threads)
        t.join();
    };
    PipelineReport report;
    try {
      threads.emplace_back([this] { read_batches(); });
      for (auto &lane : lanes_)
        threads.emplace_back([&lane] { lane->run(); });
      for (std::uint64_t b = 0;; ++b) {
        std::vector<Claim> claims;
        {
          std::unique_lock lock(mutex_);
          delivered_cv_.wait(lock, [&] {
            return results_.contains(b) || (read_all_ && b >= batch_count_) || !failure_.empty();
          });
          const auto it = results_.find(b);
          if (it == results_.end())
            break; // all merged, or a failure
          claims.swap(it->second);
          results_.erase(it);
        }
        sink(claims);
        report.claims += claims.size();
        report.batches = b + 1;
        {
          std::lock_guard lock(mutex_);
          delivered_ = b + 1;
        }
        window_cv_.notify_all(); // the reader may read one more
      }
    } catch (...) {
      fail("stopped: the caller's sink failed");
      join();
      throw;
    }
    // Scanning ends with the last claims delivered; the lanes' shutdown of their scanners
    // (which waits for the processes to exit) is not part of it.
    report.scan_seconds = seconds_since(start);
    join();
    if (!failure_.empty())
      throw Failure(failure_);
    report.setup_seconds = setup_seconds_;
    report.docs = reader_.docs(); // the reader's thread has ended
    report.bytes = reader_.bytes();
    for (auto &lane : lanes_) {
      report.restarts += lane->restarts();
      report.scanner_ns += lane->scanner_ns();
    }
    return report;
  }

  /// The session ring size used for each scanner, in bytes.
  [[nodiscard]] std::uint64_t ring_bytes() const noexcept { return ring_bytes_; }

private:
  using Clock = std::chrono::steady_clock;

  /// A batch of documents as read, numbered in document order.
  struct Batch {
    std::uint64_t index;
    DocumentBatch docs;
  };

  static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  /// Sizes the rings: the requests ring holds the dictionary, and in_flight + 1 of the
  /// largest batch: a piece, batch_bytes of its own and the look-ahead (whole documents take
  /// at most batch_bytes + one document's id and offset).
  void size_rings() {
    const std::size_t largest = text_batch_bytes(1, cut_.batch_bytes + cut_.lookahead);
    const std::size_t dictionary =
        dictionary_.database.size() + 4 * dictionary_.lengths.size() + 1024;
    const std::uint64_t need =
        std::max<std::uint64_t>({options_.min_ring_bytes, std::uint64_t{dictionary},
                                 (std::uint64_t{options_.in_flight} + 1) * largest});
    constexpr std::uint64_t kLargest = std::uint64_t{1} << 31; // FlatBuffers' 2 GiB limit
    if (need > kLargest)
      throw Failure("a batch or the dictionary needs a ring of " + std::to_string(need) +
                    " bytes, more than the 2 GiB a FlatBuffer may span: lower --batch-bytes "
                    "or --in-flight");
    ring_bytes_ = 4096;
    while (ring_bytes_ < need)
      ring_bytes_ <<= 1;
  }

  /// The reader's thread: reads batches into queue_, at most window_ ahead of the merge.
  void read_batches() noexcept {
    try {
      for (std::uint64_t index = 0;; ++index) {
        {
          std::unique_lock lock(mutex_);
          window_cv_.wait(lock, [&] { return index < delivered_ + window_ || !failure_.empty(); });
          if (!failure_.empty())
            return;
        }
        std::optional<DocumentBatch> docs = reader_.next(cut_, stop_);
        if (stop_.load(std::memory_order_relaxed)) // a flag only: failure_ says why
          return;
        {
          std::lock_guard lock(mutex_);
          if (docs)
            queue_.push_back(std::make_unique<Batch>(Batch{index, std::move(*docs)}));
          else {
            read_all_ = true;
            batch_count_ = index;
          }
        }
        batch_cv_.notify_all();
        if (!docs) {
          delivered_cv_.notify_all(); // the merge may be waiting for a batch that never comes
          return;
        }
      }
    } catch (const std::exception &e) {
      fail(e.what());
    }
  }

  /// A lane failed: the run ends with `why`.
  void fail(const std::string &why) {
    {
      std::lock_guard lock(mutex_);
      if (failure_.empty())
        failure_ = why;
      // Set under the mutex so that a thread that checked its wait's predicate before does
      // get the notification; relaxed because the mutex orders it.
      stop_.store(true, std::memory_order_relaxed);
    }
    delivered_cv_.notify_all();
    window_cv_.notify_all();
    batch_cv_.notify_all();
  }

  void deliver(std::uint64_t batch, std::vector<Claim> &&claims) {
    {
      std::lock_guard lock(mutex_);
      results_[batch] = std::move(claims);
    }
    delivered_cv_.notify_all();
  }

  /// The oldest batch that nobody took yet, or nullptr when none is read yet; `none_left`
  /// then says whether one will come.
  std::unique_ptr<Batch> take_batch(bool &none_left) {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      none_left = read_all_;
      return nullptr;
    }
    std::unique_ptr<Batch> b = std::move(queue_.front());
    queue_.pop_front();
    return b;
  }

  /// Waits up to `limit` for a batch to take (or the end of the documents, or a failure).
  void await_batch(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    batch_cv_.wait_for(lock, limit,
                       [&] { return !queue_.empty() || read_all_ || !failure_.empty(); });
  }

  [[nodiscard]] static std::string describe(const Batch &batch) {
    const DocumentBatch &d = batch.docs;
    if (d.piece())
      return "batch " + std::to_string(batch.index) + " (document " + std::to_string(d.first_doc) +
             ", line " + std::to_string(d.first_doc + 1) + ", bytes " +
             std::to_string(d.piece_offset) + ".." +
             std::to_string(d.piece_offset + d.piece_length - 1) + ")";
    const std::uint64_t last = d.first_doc + d.docs() - 1;
    return "batch " + std::to_string(batch.index) + " (documents " + std::to_string(d.first_doc) +
           ".." + std::to_string(last) + ", lines " + std::to_string(d.first_doc + 1) + ".." +
           std::to_string(last + 1) + ")";
  }

  /// One scanner process and the thread that feeds it.
  class Lane {
  public:
    Lane(Pipeline &p, unsigned index) : p_(p), index_(index) {
      shmpipe::SupervisorOptions o;
      o.command = {p_.options_.scanner};
      if (p_.options_.chunk_claims != 0)
        o.command.insert(o.command.end(),
                         {"--chunk-claims", std::to_string(p_.options_.chunk_claims)});
      o.session.capacity = p_.ring_bytes_;
      // Sleep at once instead of spinning first: the scanner has in_flight batches queued, so
      // a lane that wakes a few microseconds late costs nothing, while a lane spinning on the
      // other core slows the scanner down (on the 2-vCPU development VM a busy loop on the
      // other vCPU cut the in-process 100k-pattern scan rate by ~30%).
      o.session.wait.spin_for = std::chrono::nanoseconds(0);
      o.session.wait.yield_for = std::chrono::nanoseconds(0);
      // ClaimBatches are read from a private copy: a scanner could otherwise rewrite one
      // between its verification and the reads below. They are small (20 bytes a claim).
      o.session.verify.copy = true;
      o.on_worker_loss = shmpipe::OnWorkerLoss::fail; // resent from the documents: lost()
      o.health_interval = std::chrono::seconds(1);
      o.health_timeout = std::chrono::seconds(30); // a batch of long documents takes a while
      // The Supervisor is created on the caller's thread (the main thread, which lives as long
      // as the process: PR_SET_PDEATHSIG follows the thread) and later driven by the lane's
      // thread, one thread at a time; a restart from the lane's thread ties the new scanner
      // to that thread, and the lane shuts its scanner down before the thread ends.
      o.on_event = [this](const shmpipe::SupervisorEvent &e) {
        if (e.kind != shmpipe::SupervisorEvent::Kind::started && p_.options_.log)
          p_.options_.log("scanner " + std::to_string(index_) + " (pid " + std::to_string(e.pid) +
                          ") " + std::string(shmpipe::to_string(e.kind)) + ": " + e.detail);
      };
      // The name ends in random digits: one nobody can create first (session_name.hpp).
      sup_ = examples::start_supervisor(
          p_.options_.session_prefix + "-" + std::to_string(index) + "-", o);
      if (!send_dictionary())
        throw Failure("scanner " + std::to_string(index_) + ": cannot send the dictionary");
    }

    /// Waits for the first scanner's answer to the dictionary; throws Failure if it refuses.
    void await_dictionary() {
      const auto until = Clock::now() + std::chrono::seconds(120);
      while (dictionary_request_ != 0) {
        if (Clock::now() >= until)
          throw Failure("scanner " + std::to_string(index_) +
                        ": no answer to the dictionary within 120 s");
        shmpipe::Incoming in = sup_->receive(std::chrono::seconds(1));
        if (const std::string why = handle(std::move(in)); !why.empty())
          throw Failure(why);
      }
    }

    void run() noexcept {
      try {
        while (!p_.stop_.load(std::memory_order_relaxed)) { // a flag only: failure_ says why
          if (const std::string why = fill(); !why.empty())
            return p_.fail(why);
          const bool idle = requests_.empty() && retry_.empty() && dictionary_request_ == 0;
          if (idle && exhausted_)
            break;
          if (idle) {
            // No batch read yet: the reader waits for the merge (an earlier batch on another
            // scanner) or for the file. Sleep on the queue, and still let the Supervisor do
            // its health checks below.
            p_.await_batch(std::chrono::milliseconds(100));
            last_progress_ = Clock::now();
          }
          shmpipe::Incoming in =
              sup_->receive(idle ? std::chrono::milliseconds(0) : std::chrono::milliseconds(500));
          if (in || in.request_id() != 0)
            last_progress_ = Clock::now();
          else if (Clock::now() - last_progress_ > std::chrono::minutes(10))
            return p_.fail("scanner " + std::to_string(index_) + ": no answer for 10 minutes");
          if (const std::string why = handle(std::move(in)); !why.empty())
            return p_.fail(why);
        }
        static_cast<void>(sup_->shutdown("done", std::chrono::seconds(2)));
      } catch (const std::exception &e) {
        p_.fail("scanner " + std::to_string(index_) + ": " + e.what());
      }
    }

    [[nodiscard]] unsigned restarts() const noexcept { return sup_->restarts(); }
    [[nodiscard]] std::uint64_t scanner_ns() const noexcept { return scanner_ns_; }

  private:
    struct Request {
      std::unique_ptr<Batch> batch; // kept to check the claims against, or to send again
      unsigned worker;              // sup_->restarts() when sent: which scanner process got it
    };

    std::string name() const { return "scanner " + std::to_string(index_); }

    /// Sends the dictionary to the current scanner (starting one if none runs).
    bool send_dictionary() {
      const Dictionary &d = p_.dictionary_;
      const shmpipe::Sent sent = sup_->request<shmpipe::schema::Claims>(
          [&](flatbuffers::FlatBufferBuilder &b) {
            namespace sc = shmpipe::schema;
            const auto lengths = b.CreateVector(d.lengths);
            const auto database = b.CreateVector(
                reinterpret_cast<const std::uint8_t *>(d.database.data()), d.database.size());
            const auto set = sc::CreatePatternSet(b, static_cast<std::uint32_t>(d.lengths.size()),
                                                  database, 0, lengths);
            return sc::CreateClaims(b, sc::ClaimsBody::PatternSet, set.Union());
          },
          std::chrono::seconds(30), std::nullopt,
          {.size_hint = d.database.size() + 4 * d.lengths.size() + 1024});
      if (sent.status != shmpipe::Status::ok)
        return false;
      dictionary_request_ = sent.request_id;
      dictionary_worker_ = sup_->restarts();
      has_dictionary_ = true;
      return true;
    }

    /// Sends batches until in_flight are out. A non-empty result ends the run.
    std::string fill() {
      while (requests_.size() < p_.options_.in_flight) {
        std::unique_ptr<Batch> b;
        if (!retry_.empty()) {
          b = std::move(retry_.front());
          retry_.pop_front();
        } else if (!exhausted_) {
          b = p_.take_batch(exhausted_);
        }
        if (!b)
          return {};
        // A new scanner process knows no dictionary: it gets one before its first batch. It
        // serves in order, so the batch needs no wait for the answer.
        const bool fresh = sup_->worker() == nullptr || sup_->restarts() != dictionary_worker_;
        if ((fresh || !has_dictionary_) && !send_dictionary()) {
          retry_.push_front(std::move(b));
          return {}; // the scanner is down: receive() restarts it or says it gave up
        }
        const shmpipe::Sent sent = send_batch(*b);
        if (sent.status != shmpipe::Status::ok) {
          retry_.push_front(std::move(b));
          return {};
        }
        requests_[sent.request_id] = {std::move(b), sup_->restarts()};
      }
      return {};
    }

    shmpipe::Sent send_batch(const Batch &batch) {
      const DocumentBatch &d = batch.docs;
      const std::size_t n = d.docs();
      return sup_->request<shmpipe::schema::Claims>(
          [&](flatbuffers::FlatBufferBuilder &builder) {
            namespace sc = shmpipe::schema;
            // Filled right after creation: creating the next vector may move the buffer.
            std::uint8_t *text = nullptr;
            const auto bytes = builder.CreateUninitializedVector(d.text.size(), &text);
            if (!d.text.empty())
              std::memcpy(text, d.text.data(), d.text.size());
            const auto offset_col = builder.CreateVector(d.offsets);
            std::uint64_t *ids = nullptr;
            const auto id_col = builder.CreateUninitializedVector(n, &ids);
            for (std::size_t i = 0; i < n; ++i)
              ids[i] = d.first_doc + i;
            const auto column = sc::CreateStringColumn(builder, offset_col, bytes);
            const auto text_batch = sc::CreateTextBatch(builder, batch.index, id_col, column,
                                                        d.piece_offset, d.piece_length);
            return sc::CreateClaims(builder, sc::ClaimsBody::TextBatch, text_batch.Union());
          },
          std::chrono::seconds(30), std::nullopt,
          {.size_hint = text_batch_bytes(n, d.text.size())});
    }

    /// One answer (or news of a lost request). A non-empty result ends the run.
    std::string handle(shmpipe::Incoming &&in) {
      namespace sc = shmpipe::schema;
      const std::uint64_t id = in.request_id();
      if (!in) {
        if (in.status() == shmpipe::Status::invalid_message)
          return name() + ": a message that is not a valid session record or FlatBuffer";
        if (in.status() == shmpipe::Status::peer_dead)
          return id == 0 ? name() + ": the scanner could not be restarted" : lost(id);
        if (id == 0 && in.status() == shmpipe::Status::timeout)
          return {}; // nothing came in time
        return name() + ": " + std::string(shmpipe::to_string(in.status())) +
               (id != 0 ? " for request " + std::to_string(id) : std::string());
      }
      if (id == 0) // no request of ours: a HealthReply that came after its deadline
        return {};
      if (id == dictionary_request_) {
        dictionary_request_ = 0;
        dictionary_deaths_ = 0; // loaded: earlier deaths were not the dictionary's fault
        if (in.is<sc::Envelope>())
          return name() + " refused the dictionary: " + error_text(std::move(in));
        const auto reply = std::move(in).as<sc::Claims>();
        const sc::PatternSetLoaded *loaded = reply ? reply->body_as_PatternSetLoaded() : nullptr;
        if (loaded == nullptr || loaded->pattern_count() != p_.dictionary_.lengths.size())
          return name() + ": an unexpected answer to the dictionary";
        return {};
      }
      const auto it = requests_.find(id);
      if (it == requests_.end())
        return name() + ": an answer to request " + std::to_string(id) + ", which is not pending";
      const Batch &batch = *it->second.batch;
      const std::uint64_t b = batch.index;
      if (in.is<sc::Envelope>())
        return name() + " failed on " + describe(batch) + ": " + error_text(std::move(in));
      const bool final = in.final();
      const auto reply = std::move(in).as<sc::Claims>();
      const sc::ClaimBatch *claims = reply ? reply->body_as_ClaimBatch() : nullptr;
      if (claims == nullptr)
        return name() + ": an answer to " + describe(batch) + " that is not a valid ClaimBatch";
      if (const std::string why = take(batch, *claims); !why.empty())
        return name() + ": invalid claims for " + describe(batch) + ": " + why;
      if (final) {
        scanner_ns_ += claims->scan_ns();
        p_.deliver(b, std::move(partial_[b]));
        partial_.erase(b);
        requests_.erase(it); // and the batch's text with it
      }
      return {};
    }

    /// A request whose scanner died before answering it in full. The scanner serves in
    /// order, so the first request lost in a death is the one it was working on: that one
    /// counts a death; the others were only queued behind it.
    std::string lost(std::uint64_t id) {
      const auto it = requests_.find(id);
      const bool dictionary = id == dictionary_request_;
      if (!dictionary && it == requests_.end())
        return {};
      // Losses of one death come together, in request order; the supervisor numbers
      // processes by restarts(), so the next death is told apart by the process that died.
      const unsigned worker = dictionary ? dictionary_worker_ : it->second.worker;
      const bool culprit = worker != last_death_;
      last_death_ = worker;
      if (dictionary) {
        dictionary_request_ = 0;
        has_dictionary_ = false;
        if (culprit && ++dictionary_deaths_ >= 3)
          return name() + ": the scanner died loading the dictionary three times";
        return {};
      }
      std::unique_ptr<Batch> batch = std::move(it->second.batch);
      requests_.erase(it);
      const std::uint64_t b = batch->index;
      partial_.erase(b); // claims of a dead scanner's unfinished batch: all come again
      if (culprit && ++deaths_[b] >= 3)
        return name() + ": scanners died three times on " + describe(*batch);
      retry_.push_back(std::move(batch));
      std::sort(retry_.begin(), retry_.end(), [](const auto &x, const auto &y) {
        return x->index < y->index; // in document order again
      });
      return {};
    }

    /// Checks one ClaimBatch against the batch's text and the dictionary and appends it.
    std::string take(const Batch &batch, const shmpipe::schema::ClaimBatch &claims) {
      if (claims.batch_id() != batch.index)
        return "batch_id " + std::to_string(claims.batch_id());
      const auto size = [](const auto *v) -> std::size_t { return v != nullptr ? v->size() : 0; };
      const std::size_t n = size(claims.doc_id());
      if (size(claims.pattern_id()) != n || size(claims.offset()) != n ||
          size(claims.length()) != n)
        return "columns of different lengths";
      const DocumentBatch &docs = batch.docs;
      std::vector<Claim> &out = partial_[batch.index];
      out.reserve(out.size() + n);
      const Dictionary &d = p_.dictionary_;
      for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
        const Claim c{claims.doc_id()->Get(i), claims.offset()->Get(i), claims.length()->Get(i),
                      claims.pattern_id()->Get(i)};
        if (c.doc_id < docs.first_doc || c.doc_id - docs.first_doc >= docs.docs())
          return "document " + std::to_string(c.doc_id) + " is not in the batch";
        if (c.pattern_id >= d.lengths.size() || c.length != d.lengths[c.pattern_id])
          return "pattern " + std::to_string(c.pattern_id) + " with length " +
                 std::to_string(c.length);
        // A piece's text starts piece_offset bytes into its document, and only claims that
        // start in the piece's own bytes are its (the next piece reports the others).
        const std::uint64_t base = docs.piece_offset;
        if (docs.piece() && (c.offset < base || c.offset - base >= docs.piece_length))
          return "document " + std::to_string(c.doc_id) + ": a claim at byte " +
                 std::to_string(c.offset) + ", outside the piece's bytes " + std::to_string(base) +
                 ".." + std::to_string(base + docs.piece_length - 1);
        const std::string_view text = docs.doc(static_cast<std::size_t>(c.doc_id - docs.first_doc));
        const std::uint64_t at = c.offset - base; // whole documents: base is 0
        if (at + c.length > text.size() ||
            std::memcmp(text.data() + at, d.patterns[c.pattern_id].data(), c.length) != 0)
          return "document " + std::to_string(c.doc_id) + " does not hold pattern " +
                 std::to_string(c.pattern_id) + " at byte " + std::to_string(c.offset);
        if (!out.empty() && !(out.back() < c))
          return "claims out of order or repeated at document " + std::to_string(c.doc_id);
        out.push_back(c);
      }
      return {};
    }

    static std::string error_text(shmpipe::Incoming &&in) {
      const auto envelope = std::move(in).as<shmpipe::schema::Envelope>();
      const auto *error = envelope ? envelope->body_as_Error() : nullptr;
      if (error == nullptr)
        return "an unexpected message";
      return error->message() != nullptr ? error->message()->str() : "an error without a message";
    }

    Pipeline &p_;
    unsigned index_;
    std::unique_ptr<shmpipe::Supervisor> sup_;
    std::map<std::uint64_t, Request> requests_;           // batch requests in flight, by id
    std::map<std::uint64_t, std::vector<Claim>> partial_; // claims of unfinished batches
    std::deque<std::unique_ptr<Batch>> retry_;            // batches to send again
    std::map<std::uint64_t, unsigned> deaths_;            // batch -> scanners that died on it
    bool exhausted_ = false;                              // take_batch() said none are left
    std::uint64_t dictionary_request_ = 0;                // its answer is pending
    unsigned dictionary_worker_ = 0; // the scanner process the dictionary went to
    bool has_dictionary_ = false;    // it went to the current process
    unsigned dictionary_deaths_ = 0;
    unsigned last_death_ = ~0u;
    std::uint64_t scanner_ns_ = 0;
    Clock::time_point last_progress_ = Clock::now();
  };

  const Dictionary &dictionary_;
  DocumentReader reader_; // used by the reader's thread only, while run() runs
  PipelineOptions options_;
  Cut cut_;
  std::uint64_t window_ = 0; // batches alive at once (see the file comment)
  std::uint64_t ring_bytes_ = 0;
  double setup_seconds_ = 0;
  std::vector<std::unique_ptr<Lane>> lanes_;
  bool ran_ = false;

  std::atomic<bool> stop_{false};            // set with failure_, under mutex_
  std::mutex mutex_;                         // guards everything below
  std::condition_variable delivered_cv_;     // a result, the end of the documents, or a failure
  std::condition_variable window_cv_;        // the merge moved on, or a failure
  std::condition_variable batch_cv_;         // a batch read, the end of the documents, or a failure
  std::deque<std::unique_ptr<Batch>> queue_; // read, not yet taken by a lane
  bool read_all_ = false;                    // the reader reached the end of the documents
  std::uint64_t batch_count_ = 0;            // read_all_: how many batches there were
  std::uint64_t delivered_ = 0;              // batches handed to the sink
  std::map<std::uint64_t, std::vector<Claim>> results_; // answered, waiting for the merge
  std::string failure_;
};

} // namespace claims

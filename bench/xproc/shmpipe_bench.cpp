// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// shmpipe_bench: every scenario, every peer, one run, one report.
//
//   shmpipe_bench [--quick] [--reps N] [--json FILE] [--plots DIR] [--results FILE]
//                 [--analysis FILE] [--only peer,...] [--scenarios name,...]
//
// Scenarios (bench::scenario): throughput_single and throughput_batched (64 B, 1 KiB),
// streaming (64 KiB, 1 MiB), rtt_spin, rtt_sleep + rtt_default (64 B, run as one group),
// transfer (1 MiB, 10 MiB), idle_cpu. The peers of one scenario group are run interleaved:
// repetition 1 of every peer, then repetition 2 in the reverse order, and so on (11
// repetitions, --reps N to change, 1 with --quick). A throughput run is sized by an untimed
// calibration run to last about 0.25 s (0.03 s with --quick).
//
// The placement canary. On a VM the host decides where the two vCPUs run, and a cache line
// moves between them 3x faster in some minutes than in others; every figure moves with it. So
// a cache-line ping-pong (bench::canary_round_trip_ns) runs between every two runs, and each
// run gets the canary before and after it. The canary values of the whole run are split into
// placements at every gap of kPlacementGap or more between consecutive sorted values; a run
// whose two canaries fall in different placements is "mixed" and compared with nothing.
// Medians, spreads and ratios are per placement, never pooled; a ratio between two peers is
// the median of the ratios of their runs of the same repetition in the same placement.
//
// Stopped by SIGINT, SIGTERM or SIGHUP, it stops its child processes (iox-roudi gently),
// removes every segment, socket and temporary file it created, leaves the output files as they
// were (each is written under a temporary name and renamed at the end) and exits with
// 128 + the signal (bench::interrupt).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <sys/utsname.h>

#include "harness.hpp"

#ifndef SHMPIPE_BENCH_FLAGS
#define SHMPIPE_BENCH_FLAGS "unknown"
#endif

namespace {

namespace sc = bench::scenario;

/// Messages per batch call in throughput_batched.
constexpr std::size_t kBatch = 32;
/// Messages written and not yet released, at most, in streaming.
constexpr std::size_t kInFlight = 4;
/// Two canary values this far apart (ratio) with none between them: two placements.
constexpr double kPlacementGap = 1.5;

struct Options {
  bool quick = false;
  int reps = 0; // 0: the default (11, or 1 with --quick)
  std::string json;
  std::string plots;
  std::string results;
  std::string analysis; // a hand-written file appended to RESULTS.md
  std::set<std::string> only;
  std::set<std::string> scenarios;
  std::string command;
};

struct Machine {
  std::string cpu, kernel, compiler, flags;
  long cores = 0;
};

Machine describe_machine() {
  Machine m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      m.cpu = line.substr(line.find(':') + 2);
      break;
    }
  m.cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  utsname u{};
  ::uname(&u);
  m.kernel = std::string(u.sysname) + " " + u.release;
  m.compiler = std::string("g++ ") + __VERSION__;
  m.flags = SHMPIPE_BENCH_FLAGS;
  return m;
}

std::string size_text(std::uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0)
    return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

double median(std::vector<double> v) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(const std::vector<double> &sorted, double p) {
  if (sorted.empty())
    return NAN;
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

bool is_throughput(const std::string &s) {
  return s == sc::kSingle || s == sc::kBatched || s == sc::kStreaming;
}
bool is_rtt(const std::string &s) {
  return s == sc::kRttSpin || s == sc::kRttSleep || s == sc::kRttDefault;
}
bool is_shmpipe(const std::string &transport) { return transport.rfind("shmpipe", 0) == 0; }

std::string si(double v, const char *unit);

// ---------------------------------------------------------------------------------------------
// What was measured.

/// One run of one row, with the canary around it.
struct Run {
  int rep = 0;
  double canary_before_ns = NAN;
  double canary_after_ns = NAN;
  std::string placement; // set by classify(); "mixed" when before and after disagree
  std::optional<double> msgs_per_s, bytes_per_s, p50_ns, p99_ns, p999_ns, max_ns, cpu_ns_per_op,
      sleeps_per_op, cpu_percent;
  std::vector<double> latencies_ns; // sorted; round trips only (for the distribution plot)
};

/// A row of the report: a peer in a scenario at a size, and its runs.
struct Row {
  std::string transport, scenario;
  std::uint64_t size_bytes = 0;
  std::string form;
  std::string load; // what every peer of the scenario was given (ring bytes, in flight, ...)
  bool limit = false;
  int group = 0;
  std::optional<std::string> skipped; // n/a, unavailable, or failed, with the reason
  std::vector<Run> runs;
};

/// The figure a row is judged by: higher is better for throughput, lower for the rest.
std::optional<double> merit(const Row &row, const Run &run) {
  if (is_throughput(row.scenario))
    return run.msgs_per_s;
  if (row.scenario == sc::kIdleCpu)
    return run.cpu_percent;
  return run.p50_ns;
}

bool higher_is_better(const Row &row) { return is_throughput(row.scenario); }

void fill_run(Run &run, const Row &row, bench::Sample &s) {
  if (is_throughput(row.scenario)) {
    run.msgs_per_s = static_cast<double>(s.messages) / std::max(s.seconds, 1e-12);
    run.bytes_per_s = *run.msgs_per_s * static_cast<double>(row.size_bytes);
    return;
  }
  if (row.scenario == sc::kIdleCpu) {
    run.cpu_percent = s.cpu_percent;
    return;
  }
  std::sort(s.latencies_ns.begin(), s.latencies_ns.end());
  if (s.latencies_ns.empty())
    throw std::runtime_error("no latency samples");
  run.p50_ns = percentile(s.latencies_ns, 50);
  run.p99_ns = percentile(s.latencies_ns, 99);
  run.p999_ns = percentile(s.latencies_ns, 99.9);
  run.max_ns = s.latencies_ns.back();
  if (s.cpu_ns_per_op >= 0)
    run.cpu_ns_per_op = s.cpu_ns_per_op;
  if (s.sleeps_per_op >= 0)
    run.sleeps_per_op = s.sleeps_per_op;
  if (row.scenario == sc::kTransfer) {
    run.msgs_per_s = 1e9 / *run.p50_ns;
    run.bytes_per_s = *run.msgs_per_s * static_cast<double>(row.size_bytes);
  }
  if (is_rtt(row.scenario))
    run.latencies_ns = std::move(s.latencies_ns);
}

// ---------------------------------------------------------------------------------------------
// Running.

struct Runner {
  const Options &opt;
  std::vector<Row> rows;
  int groups = 0;
  double canary_seconds = 0;
  std::vector<double> canaries; // every canary measured, in order

  /// Repetitions per row (idle_cpu: 1). Many, because only the runs of one placement pair up,
  /// and a placement may hold only some of them.
  [[nodiscard]] int reps() const { return opt.reps > 0 ? opt.reps : opt.quick ? 1 : 11; }

  double canary() {
    const auto start = std::chrono::steady_clock::now();
    const double ns = bench::canary_round_trip_ns(opt.quick ? 2000 : 10000);
    canary_seconds += bench::seconds_since(start);
    canaries.push_back(ns);
    return ns;
  }

  /// What every peer of `scenario` at `size` is given, before throughput calibration.
  [[nodiscard]] bench::Load load_for(const std::string &scenario, std::size_t size) const {
    bench::Load load{.size = size};
    if (scenario == sc::kSingle || scenario == sc::kBatched)
      load.ring_bytes = bench::kSmallRingBytes;
    if (scenario == sc::kBatched)
      load.batch = kBatch;
    if (scenario == sc::kStreaming)
      load.in_flight = kInFlight;
    if (scenario == sc::kRttSpin)
      load.count = opt.quick ? 5000 : 100000;
    else if (scenario == sc::kRttSleep || scenario == sc::kRttDefault)
      load.count = opt.quick ? 1000 : 20000;
    else if (scenario == sc::kTransfer)
      load.count = (size <= (1u << 20) ? 200u : 30u) / (opt.quick ? 4u : 1u);
    else if (scenario == sc::kIdleCpu)
      load.seconds = opt.quick ? 0.5 : 2.0;
    return load;
  }

  [[nodiscard]] std::string describe_load(const std::string &scenario, std::size_t size) const {
    const bench::Load load = load_for(scenario, size);
    if (scenario == sc::kSingle)
      return "one message per call; 256 KiB of buffer";
    if (scenario == sc::kBatched)
      return std::to_string(kBatch) + " messages per batch call; 256 KiB of buffer";
    if (scenario == sc::kStreaming)
      return "at most " + std::to_string(kInFlight) +
             " messages written and not yet released; each released once read";
    if (is_rtt(scenario))
      return std::to_string(load.count) + " timed round trips after an untimed warm-up";
    if (scenario == sc::kTransfer)
      return "one message in flight, acknowledged; " +
             std::to_string(load_for(scenario, std::size_t{1} << 20).count) +
             " transfers at 1 MiB, " +
             std::to_string(load_for(scenario, std::size_t{10} << 20).count) + " at 10 MiB";
    if (scenario == sc::kIdleCpu)
      return "consumer blocked " + si(load.seconds, "s") + " on an empty channel";
    return "";
  }

  /// Runs the `scenarios` at `size` for every peer that has them, interleaved.
  void group(const std::vector<bench::Peer> &peers, const std::vector<std::string> &scenarios,
             std::size_t size) {
    std::vector<std::string> wanted;
    for (const std::string &s : scenarios)
      if (opt.scenarios.empty() || opt.scenarios.count(s) != 0)
        wanted.push_back(s);
    if (wanted.empty())
      return;
    const int id = ++groups;
    struct Cell {
      std::size_t row;
      std::function<bench::Sample()> once;
    };
    std::vector<Cell> cells;
    const std::size_t first_row = rows.size();
    for (const bench::Peer &peer : peers)
      for (const std::string &scenario : wanted) {
        const auto it = peer.scenarios.find(scenario);
        if (it == peer.scenarios.end())
          continue;
        const bench::Scenario &how = it->second;
        if (!how.sizes.empty() &&
            std::find(how.sizes.begin(), how.sizes.end(), size) == how.sizes.end())
          continue;
        Row row{.transport = peer.name,
                .scenario = scenario,
                .size_bytes = size,
                .form = how.form,
                .load = describe_load(scenario, size),
                .limit = peer.physical_limit,
                .group = id};
        if (!how.not_applicable.empty()) {
          row.skipped = "n/a: " + how.not_applicable;
          rows.push_back(std::move(row));
          continue;
        }
        try {
          if (auto why = peer.unavailable())
            row.skipped = "unavailable: " + *why;
        } catch (const std::exception &e) {
          row.skipped = std::string("unavailable: ") + e.what();
        }
        bench::Load load = load_for(scenario, size);
        if (!row.skipped && is_throughput(scenario)) {
          try {
            // Warm-up and calibration: how many messages make a quarter of a second here?
            const std::uint64_t probe = size <= 1024 ? 20000 : size <= 65536 ? 2000 : 100;
            load.count = probe;
            const bench::Sample warm = how.run(load);
            const double rate = static_cast<double>(warm.messages) / std::max(warm.seconds, 1e-9);
            load.count = static_cast<std::uint64_t>(
                std::clamp(rate * (opt.quick ? 0.03 : 0.25), static_cast<double>(probe), 5e7));
          } catch (const std::exception &e) {
            row.skipped = std::string("failed: ") + e.what();
          }
        }
        rows.push_back(std::move(row));
        if (!rows.back().skipped)
          cells.push_back({rows.size() - 1, [run = how.run, load] { return run(load); }});
      }
    const int reps = wanted.front() == sc::kIdleCpu ? 1 : this->reps();
    double canary_ns = cells.empty() ? NAN : canary();
    for (int rep = 0; rep < reps; ++rep)
      for (std::size_t k = 0; k < cells.size(); ++k) {
        // Every other repetition in reverse: a drift in time favours no peer.
        const Cell &cell = cells[rep % 2 == 0 ? k : cells.size() - 1 - k];
        Row &row = rows[cell.row];
        if (row.skipped)
          continue;
        Run run{.rep = rep, .canary_before_ns = canary_ns};
        try {
          bench::Sample sample = cell.once();
          fill_run(run, row, sample);
        } catch (const std::exception &e) {
          row.skipped = std::string("failed: ") + e.what();
          row.runs.clear();
        }
        canary_ns = canary();
        run.canary_after_ns = canary_ns;
        if (!row.skipped)
          row.runs.push_back(std::move(run));
      }
    for (std::size_t i = first_row; i < rows.size(); ++i) {
      const Row &r = rows[i];
      std::fprintf(stderr, "  %-18s %8s  %-24s %s\n", r.scenario.c_str(),
                   size_text(r.size_bytes).c_str(), r.transport.c_str(),
                   r.skipped ? r.skipped->c_str() : "done");
    }
  }

  void all() {
    std::vector<bench::Peer> peers;
    for (const bench::Peer &peer : bench::registry())
      if (opt.only.empty() || opt.only.count(peer.name) != 0)
        peers.push_back(peer);
    std::sort(peers.begin(), peers.end(),
              [](const bench::Peer &a, const bench::Peer &b) { return a.order < b.order; });
    for (const std::size_t size : {64u, 1024u}) {
      group(peers, {sc::kSingle}, size);
      group(peers, {sc::kBatched}, size);
    }
    for (const std::size_t size : {std::size_t{64} << 10, std::size_t{1} << 20})
      group(peers, {sc::kStreaming}, size);
    group(peers, {sc::kRttSpin}, 64);
    group(peers, {sc::kRttSleep, sc::kRttDefault}, 64);
    for (const std::size_t size : {std::size_t{1} << 20, std::size_t{10} << 20})
      group(peers, {sc::kTransfer}, size);
    group(peers, {sc::kIdleCpu}, 0);
  }
};

// ---------------------------------------------------------------------------------------------
// Placements.

struct Placement {
  std::string name;
  double low_ns = NAN, high_ns = NAN; // canary values in it
  int values = 0;                     // canary measurements in it
  int runs = 0;                       // runs assigned to it
};

struct Placements {
  std::vector<Placement> classes; // fastest canary first
  int mixed_runs = 0;
  int canaries = 0;
  std::string split; // how the classes were found, for the report
};

/// Splits the canary measurements of the whole run at each gap of kPlacementGap or more
/// between consecutive sorted values, names the classes A, B, ... (fastest first), and gives
/// each run the class of its canaries before and after, or "mixed".
Placements classify(const std::vector<double> &canaries, std::vector<Row> &rows) {
  Placements out;
  std::vector<double> values = canaries;
  std::sort(values.begin(), values.end());
  out.canaries = static_cast<int>(values.size());
  std::vector<double> bounds; // upper bound (exclusive) of every class but the last
  std::ostringstream why;
  for (std::size_t i = 1; i < values.size(); ++i)
    if (values[i] >= kPlacementGap * values[i - 1]) {
      bounds.push_back(std::sqrt(values[i] * values[i - 1]));
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s%.0f ns -> %.0f ns (%.2fx; split at %.0f ns)",
                    bounds.size() == 1 ? "" : ", ", values[i - 1], values[i],
                    values[i] / values[i - 1], bounds.back());
      why << buf;
    }
  auto class_of = [&](double v) {
    std::size_t c = 0;
    while (c < bounds.size() && v >= bounds[c])
      ++c;
    return c;
  };
  if (!values.empty())
    out.classes.resize(bounds.size() + 1);
  for (std::size_t c = 0; c < out.classes.size(); ++c)
    out.classes[c].name = std::string(1, static_cast<char>('A' + std::min<std::size_t>(c, 25)));
  for (const double v : values) {
    Placement &p = out.classes[class_of(v)];
    p.low_ns = p.values == 0 ? v : std::min(p.low_ns, v);
    p.high_ns = p.values == 0 ? v : std::max(p.high_ns, v);
    p.values += 1;
  }
  for (Row &row : rows)
    for (Run &run : row.runs) {
      const std::size_t a = class_of(run.canary_before_ns);
      const std::size_t b = class_of(run.canary_after_ns);
      if (a == b) {
        run.placement = out.classes[a].name;
        out.classes[a].runs += 1;
      } else {
        run.placement = "mixed";
        out.mixed_runs += 1;
      }
    }
  char head[200];
  std::snprintf(head, sizeof head,
                "Gaps of %.1fx or more between consecutive sorted canary values (%d measured) "
                "split placements: ",
                kPlacementGap, out.canaries);
  out.split = head + (bounds.empty() ? std::string("none, so one placement.") : why.str() + ".");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Statistics per placement.

struct Spread {
  double median = NAN, low = NAN, high = NAN;
  int n = 0;
};

Spread spread(std::vector<double> v) {
  Spread s;
  if (v.empty())
    return s;
  std::sort(v.begin(), v.end());
  s.median = median(v);
  s.low = v.front();
  s.high = v.back();
  s.n = static_cast<int>(v.size());
  return s;
}

template <class Get> Spread row_spread(const Row &row, const std::string &placement, Get get) {
  std::vector<double> v;
  for (const Run &run : row.runs)
    if (run.placement == placement)
      if (const std::optional<double> x = get(run))
        v.push_back(*x);
  return spread(std::move(v));
}

const Run *run_of(const Row &row, int rep) {
  for (const Run &run : row.runs)
    if (run.rep == rep)
      return &run;
  return nullptr;
}

/// Ratios a/b of `get` over the repetitions where both rows ran in `placement`.
template <class Get>
Spread paired(const Row &a, const Row &b, const std::string &placement, Get get) {
  std::vector<double> v;
  for (const Run &ra : a.runs) {
    if (ra.placement != placement)
      continue;
    const Run *rb = run_of(b, ra.rep);
    if (rb == nullptr || rb->placement != placement)
      continue;
    const std::optional<double> x = get(ra), y = get(*rb);
    if (x && y && *y != 0)
      v.push_back(*x / *y);
  }
  return spread(std::move(v));
}

/// Rows of one group are judged by the same figure (round trips of both kinds by p50).
Spread paired_merit(const Row &a, const Row &b, const std::string &placement) {
  return paired(a, b, placement, [&](const Run &r) { return merit(a, r); });
}

struct Comparison {
  const Row *peer = nullptr;
  Spread ratio;
};

/// The best non-shmpipe, non-limit peer of `row`'s group in `placement` (by median merit), and
/// the paired ratio with it.
Comparison best_peer(const Row &row, const std::vector<Row> &rows, const std::string &placement) {
  Comparison best;
  double best_merit = NAN;
  for (const Row &other : rows) {
    if (other.group != row.group || other.skipped || other.limit || is_shmpipe(other.transport))
      continue;
    const Spread m = row_spread(other, placement, [&](const Run &r) { return merit(other, r); });
    if (m.n == 0)
      continue;
    const Spread ratio = paired_merit(row, other, placement);
    if (ratio.n == 0)
      continue;
    const bool better = std::isnan(best_merit) ||
                        (higher_is_better(row) ? m.median > best_merit : m.median < best_merit);
    if (better) {
      best_merit = m.median;
      best = {&other, ratio};
    }
  }
  return best;
}

Comparison limit_of(const Row &row, const std::vector<Row> &rows, const std::string &placement) {
  for (const Row &other : rows)
    if (other.group == row.group && other.limit && !other.skipped &&
        other.size_bytes == row.size_bytes) {
      const Spread ratio = paired_merit(row, other, placement);
      if (ratio.n > 0)
        return {&other, ratio};
    }
  return {};
}

const Row *find_row(const std::vector<Row> &rows, const std::string &transport,
                    const std::string &scenario, std::uint64_t size) {
  for (const Row &r : rows)
    if (r.transport == transport && r.scenario == scenario && r.size_bytes == size && !r.skipped)
      return &r;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Text.

std::string si(double v, const char *unit) {
  if (!std::isfinite(v))
    return "-";
  const char *prefixes[] = {"", "k", "M", "G", "T"};
  int p = 0;
  while (std::fabs(v) >= 1000 && p < 4) {
    v /= 1000;
    ++p;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g %s%s", v, prefixes[p], unit);
  return buf;
}

std::string ns_text(double v) {
  if (!std::isfinite(v))
    return "-";
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f ms", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2f us", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f ns", v);
  return buf;
}

std::string ratio_text(double v) {
  if (!std::isfinite(v))
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gx", v);
  return buf;
}

/// "median (low-high)" of a spread, each value through `fmt`; "-" when empty.
template <class Fmt> std::string spread_text(const Spread &s, Fmt fmt) {
  if (s.n == 0)
    return "-";
  if (s.n == 1)
    return fmt(s.median);
  return fmt(s.median) + " (" + fmt(s.low) + " - " + fmt(s.high) + ")";
}

std::string ratio_spread_text(const Spread &s) {
  if (s.n == 0)
    return "-";
  char buf[96];
  if (s.n == 1)
    std::snprintf(buf, sizeof buf, "%.3gx (1 pair)", s.median);
  else
    std::snprintf(buf, sizeof buf, "%.3gx (%.3g-%.3g, %d pairs)", s.median, s.low, s.high, s.n);
  return buf;
}

std::string placement_label(const Placements &pl, const std::string &name) {
  for (const Placement &p : pl.classes)
    if (p.name == name)
      return name + " (canary " + ns_text(p.low_ns) + " - " + ns_text(p.high_ns) + ")";
  return name;
}

std::string placements_text(const Placements &pl) {
  std::ostringstream os;
  os << "A cache-line ping-pong between the two pinned processes (the canary: "
        "the median of its round trips) runs before and after every run. "
     << pl.split << " A run whose canaries before and after fall in different placements is "
     << "\"mixed\" and is compared with nothing.\n\n";
  os << "| placement | canary round trip, min - max | canary measurements | runs |\n"
        "|---|---:|---:|---:|\n";
  for (const Placement &p : pl.classes)
    os << "| " << p.name << " | " << ns_text(p.low_ns) << " - " << ns_text(p.high_ns) << " | "
       << p.values << " | " << p.runs << " |\n";
  os << "| mixed | | | " << pl.mixed_runs << " |\n";
  return os.str();
}

/// One table per placement: every measured row's runs in it, median (min - max).
std::string placement_tables(const std::vector<Row> &rows, const Placements &pl) {
  std::ostringstream os;
  for (const Placement &p : pl.classes) {
    if (p.runs == 0)
      continue;
    os << "### Placement " << placement_label(pl, p.name) << "\n\n";
    os << "Median of the runs in this placement (min - max); ratios are medians of paired "
          "runs (same repetition, same placement).\n\n";
    os << "| scenario | size | transport | runs | msgs/s | bytes/s | p50 | p99 | p99.9 | max | "
          "CPU per round trip | futex sleeps per round trip | shmpipe vs best peer | "
          "shmpipe vs limit |\n";
    os << "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
    for (const Row &row : rows) {
      if (row.skipped)
        continue;
      const auto get = [&](std::optional<double> Run::*field) {
        return row_spread(row, p.name, [field](const Run &r) { return r.*field; });
      };
      const Spread msgs = get(&Run::msgs_per_s);
      if (msgs.n == 0 && get(&Run::p50_ns).n == 0 && get(&Run::cpu_percent).n == 0)
        continue;
      const Spread p50 = get(&Run::p50_ns);
      const bool show_msgs = is_throughput(row.scenario);
      os << "| " << row.scenario << " | "
         << (row.scenario == sc::kIdleCpu ? std::string("-") : size_text(row.size_bytes)) << " | "
         << row.transport << " | " << std::max({msgs.n, p50.n, get(&Run::cpu_percent).n}) << " | "
         << (show_msgs ? spread_text(msgs, [](double v) { return si(v, ""); }) : "-") << " | "
         << (show_msgs                       ? si(get(&Run::bytes_per_s).median, "B/s")
             : row.scenario == sc::kTransfer ? si(get(&Run::bytes_per_s).median, "B/s")
                                             : "-")
         << " | " << spread_text(p50, ns_text) << " | " << ns_text(get(&Run::p99_ns).median)
         << " | " << ns_text(get(&Run::p999_ns).median) << " | "
         << ns_text(get(&Run::max_ns).median) << " | ";
      if (row.scenario == sc::kIdleCpu) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f%% of a core", get(&Run::cpu_percent).median);
        os << buf;
      } else {
        os << ns_text(get(&Run::cpu_ns_per_op).median);
      }
      const Spread sleeps = get(&Run::sleeps_per_op);
      char sleeps_buf[32] = "-";
      if (sleeps.n > 0)
        std::snprintf(sleeps_buf, sizeof sleeps_buf, "%.2f", sleeps.median);
      os << " | " << sleeps_buf << " | ";
      if (is_shmpipe(row.transport) && row.scenario != sc::kIdleCpu) {
        const Comparison best = best_peer(row, rows, p.name);
        os << (best.peer
                   ? ratio_spread_text(best.ratio) + " " + best.peer->transport +
                         (best.peer->scenario != row.scenario ? " " + best.peer->scenario : "")
                   : "-")
           << " | ";
        if (row.scenario == sc::kRttSpin) {
          const Spread c = row_spread(row, p.name, [](const Run &r) -> std::optional<double> {
            return *r.p50_ns / r.canary_before_ns;
          });
          os << spread_text(c, ratio_text) << " the canary";
        } else {
          const Comparison lim = limit_of(row, rows, p.name);
          os << (lim.peer ? ratio_spread_text(lim.ratio) + " " + lim.peer->transport : "-");
        }
      } else {
        os << " | ";
      }
      os << " |\n";
    }
    os << "\n";
  }
  return os.str();
}

std::string forms_table(const std::vector<Row> &rows) {
  std::ostringstream os;
  os << "| scenario | what every peer gets | transport | how it runs |\n|---|---|---|---|\n";
  std::set<std::string> seen;
  for (const Row &row : rows) {
    if (row.skipped || !seen.insert(row.scenario + "/" + row.transport).second)
      continue;
    os << "| " << row.scenario << " | " << (row.load.empty() ? "-" : row.load) << " | "
       << row.transport << " | " << row.form << " |\n";
  }
  os << "\nNot run:\n\n| scenario | size | transport | why |\n|---|---:|---|---|\n";
  for (const Row &row : rows)
    if (row.skipped)
      os << "| " << row.scenario << " | " << size_text(row.size_bytes) << " | " << row.transport
         << " | " << *row.skipped << " |\n";
  return os.str();
}

/// Every run of every row: its figure, placement and canary before it.
std::string runs_table(const std::vector<Row> &rows) {
  std::size_t most = 0;
  for (const Row &row : rows)
    most = std::max(most, row.runs.size());
  std::ostringstream os;
  os << "Each cell: the run's figure (msgs/s, or p50, or CPU %), its placement, and the canary "
        "round trip before and after it (ns).\n\n| scenario | size | transport |";
  for (std::size_t i = 0; i < most; ++i)
    os << " run " << i + 1 << " |";
  os << "\n|---|---:|---|";
  for (std::size_t i = 0; i < most; ++i)
    os << "---|";
  os << "\n";
  for (const Row &row : rows) {
    if (row.skipped || row.runs.empty())
      continue;
    os << "| " << row.scenario << " | "
       << (row.scenario == sc::kIdleCpu ? std::string("-") : size_text(row.size_bytes)) << " | "
       << row.transport << " |";
    std::vector<const Run *> ordered;
    for (const Run &run : row.runs)
      ordered.push_back(&run);
    std::sort(ordered.begin(), ordered.end(),
              [](const Run *a, const Run *b) { return a->rep < b->rep; });
    for (const Run *run : ordered) {
      const std::optional<double> m = merit(row, *run);
      std::string figure = !m                             ? "-"
                           : is_throughput(row.scenario)  ? si(*m, "")
                           : row.scenario == sc::kIdleCpu ? std::to_string(*m) + "%"
                                                          : ns_text(*m);
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %s %.0f/%.0f |", figure.c_str(), run->placement.c_str(),
                    run->canary_before_ns, run->canary_after_ns);
      os << buf;
    }
    for (std::size_t i = ordered.size(); i < most; ++i)
      os << " |";
    os << "\n";
  }
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Goals (issue 16), judged per placement.

struct Goal {
  std::string goal, placement, ratio, verdict, compared_with;
  Spread value;     // the headline ratio
  Spread cpu_ratio; // the sleeping round trip's second condition: CPU per round trip
};

std::vector<Goal> goals(const std::vector<Row> &rows, const Placements &pl) {
  std::vector<Goal> out;
  // Adds one line per placement in which `ratio` has pairs; or one "not measured" line.
  auto judge = [&](const std::string &goal, const std::string &with, bool rows_found,
                   const std::function<std::optional<Goal>(const Placement &)> &ratio) {
    std::size_t added = 0;
    if (rows_found)
      for (const Placement &p : pl.classes)
        if (std::optional<Goal> g = ratio(p)) {
          g->goal = goal;
          g->placement = placement_label(pl, p.name);
          g->compared_with = with;
          out.push_back(std::move(*g));
          ++added;
        }
    if (added == 0)
      out.push_back({goal,
                     "-",
                     "-",
                     "not measured",
                     with + (rows_found ? " (no pair of runs in one placement)" : " (no row)"),
                     {}});
  };
  auto versus = [&](const std::string &goal, const std::string &with, const Row *a, const Row *b,
                    bool higher, double target) {
    judge(goal, with, a && b, [&](const Placement &p) -> std::optional<Goal> {
      const Spread r = paired_merit(*a, *b, p.name);
      if (r.n == 0)
        return std::nullopt;
      const bool met = higher ? r.median >= target : r.median <= target;
      return Goal{.ratio = ratio_spread_text(r), .verdict = met ? "met" : "NOT met", .value = r};
    });
  };
  versus("64 B, one message per call: shmpipe >= 1.0x Boost.Lockfree",
         "boost_lockfree_spsc_shm throughput_single msgs/s",
         find_row(rows, "shmpipe", sc::kSingle, 64),
         find_row(rows, "boost_lockfree_spsc_shm", sc::kSingle, 64), true, 1.0);
  versus("64 B, batched: shmpipe >= 1.0x Boost.Lockfree bulk",
         "boost_lockfree_spsc_shm throughput_batched msgs/s",
         find_row(rows, "shmpipe", sc::kBatched, 64),
         find_row(rows, "boost_lockfree_spsc_shm", sc::kBatched, 64), true, 1.0);
  const Row *spin = find_row(rows, "shmpipe", sc::kRttSpin, 64);
  judge("64 B spinning round trip p50 <= 1.3x the canary of the same run",
        "the canary before each run", spin != nullptr,
        [&](const Placement &p) -> std::optional<Goal> {
          const Spread r = row_spread(*spin, p.name, [](const Run &run) -> std::optional<double> {
            return *run.p50_ns / run.canary_before_ns;
          });
          if (r.n == 0)
            return std::nullopt;
          char buf[96];
          if (r.n == 1)
            std::snprintf(buf, sizeof buf, "%.3gx (1 run)", r.median);
          else
            std::snprintf(buf, sizeof buf, "%.3gx (%.3g-%.3g, %d runs)", r.median, r.low, r.high,
                          r.n);
          return Goal{.ratio = buf, .verdict = r.median <= 1.3 ? "met" : "NOT met", .value = r};
        });
  const Row *sleep = find_row(rows, "shmpipe", sc::kRttSleep, 64);
  const Row *uds = find_row(rows, "unix_socket", sc::kRttSleep, 64);
  judge("64 B sleeping round trip p50 <= 0.5x Unix socket, at <= 1.0x its CPU per round trip",
        "unix_socket rtt_sleep p50 and CPU per round trip", sleep && uds,
        [&](const Placement &p) -> std::optional<Goal> {
          const Spread lat = paired(*sleep, *uds, p.name, [](const Run &r) { return r.p50_ns; });
          const Spread cpu =
              paired(*sleep, *uds, p.name, [](const Run &r) { return r.cpu_ns_per_op; });
          if (lat.n == 0)
            return std::nullopt;
          const bool met = lat.median <= 0.5 && cpu.n > 0 && cpu.median <= 1.0;
          return Goal{.ratio = "p50 " + ratio_spread_text(lat) + "; CPU " + ratio_spread_text(cpu),
                      .verdict = met ? "met" : "NOT met",
                      .value = lat,
                      .cpu_ratio = cpu};
        });
  versus("1 MiB streaming, " + std::to_string(kInFlight) + " in flight: shmpipe >= 1.0x iceoryx",
         "iceoryx streaming bytes/s", find_row(rows, "shmpipe", sc::kStreaming, 1 << 20),
         find_row(rows, "iceoryx", sc::kStreaming, 1 << 20), true, 1.0);
  return out;
}

std::string goals_table(const std::vector<Goal> &gs) {
  std::ostringstream os;
  os << "| goal | placement | ratio: median of paired runs (min-max, pairs) | verdict | "
        "compared with |\n|---|---|---|---|---|\n";
  for (const Goal &g : gs)
    os << "| " << g.goal << " | " << g.placement << " | " << g.ratio << " | " << g.verdict << " | "
       << g.compared_with << " |\n";
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Files.

/// An output file, written under a temporary name next to it and renamed into place by
/// commit(): a run that stops before (an error, a signal) leaves the previous file, never a
/// half-written one, and no temporary file either.
class StagedFile {
public:
  explicit StagedFile(const std::string &path)
      : path_(path), temp_(path + ".partial-" + std::to_string(::getpid())), on_signal_(temp_) {}
  ~StagedFile() {
    if (!committed_)
      ::unlink(temp_.c_str());
  }
  StagedFile(const StagedFile &) = delete;
  StagedFile &operator=(const StagedFile &) = delete;
  [[nodiscard]] const std::string &temp() const noexcept { return temp_; }
  void commit() {
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      throw std::runtime_error("cannot rename " + temp_ + " to " + path_ + ": " +
                               std::strerror(errno));
    committed_ = true;
  }

private:
  std::string path_, temp_;
  bench::interrupt::Unlink on_signal_;
  bool committed_ = false;
};

/// Throws unless everything written to `out` reached the file.
void check_written(std::ofstream &out, const std::string &path) {
  out.flush();
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

std::string json_number(const std::optional<double> &v) {
  if (!v || !std::isfinite(*v))
    return "null";
  std::ostringstream os;
  os.precision(10);
  os << *v;
  return os.str();
}

std::string json_spread(const Spread &s) {
  if (s.n == 0)
    return "null";
  return "{\"median\": " + json_number(s.median) + ", \"min\": " + json_number(s.low) +
         ", \"max\": " + json_number(s.high) + ", \"n\": " + std::to_string(s.n) + "}";
}

void write_json(const std::string &path, const Machine &m, const std::vector<Row> &rows,
                const Placements &pl, const std::vector<Goal> &gs, const Options &opt) {
  std::ofstream out(path);
  out << "{\n  \"machine\": {\"cpu\": " << json_string(m.cpu) << ", \"cores\": " << m.cores
      << ", \"kernel\": " << json_string(m.kernel) << ", \"compiler\": " << json_string(m.compiler)
      << ", \"flags\": " << json_string(m.flags)
      << "},\n  \"command\": " << json_string(opt.command)
      << ",\n  \"placements\": {\"split\": " << json_string(pl.split)
      << ", \"gap\": " << kPlacementGap << ", \"mixed_runs\": " << pl.mixed_runs
      << ", \"classes\": [";
  for (std::size_t i = 0; i < pl.classes.size(); ++i) {
    const Placement &p = pl.classes[i];
    out << (i ? ", " : "") << "{\"name\": " << json_string(p.name)
        << ", \"canary_min_ns\": " << json_number(p.low_ns)
        << ", \"canary_max_ns\": " << json_number(p.high_ns) << ", \"runs\": " << p.runs << "}";
  }
  out << "]},\n  \"goals\": [\n";
  for (std::size_t i = 0; i < gs.size(); ++i)
    out << "    {\"goal\": " << json_string(gs[i].goal)
        << ", \"placement\": " << json_string(gs[i].placement)
        << ", \"ratio\": " << json_spread(gs[i].value)
        << ", \"cpu_ratio\": " << json_spread(gs[i].cpu_ratio)
        << ", \"text\": " << json_string(gs[i].ratio)
        << ", \"verdict\": " << json_string(gs[i].verdict)
        << ", \"compared_with\": " << json_string(gs[i].compared_with) << "}"
        << (i + 1 < gs.size() ? ",\n" : "\n");
  out << "  ],\n  \"results\": [\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row &r = rows[i];
    out << "    {\"transport\": " << json_string(r.transport)
        << ", \"scenario\": " << json_string(r.scenario) << ", \"size_bytes\": " << r.size_bytes
        << ", \"form\": " << json_string(r.form) << ", \"load\": " << json_string(r.load)
        << ", \"limit\": " << (r.limit ? "true" : "false")
        << ", \"skipped\": " << (r.skipped ? json_string(*r.skipped) : "null")
        << ",\n     \"by_placement\": {";
    bool first = true;
    for (const Placement &p : pl.classes) {
      auto get = [&](std::optional<double> Run::*field) {
        return row_spread(r, p.name, [field](const Run &run) { return run.*field; });
      };
      const Spread any = row_spread(r, p.name, [&](const Run &run) { return merit(r, run); });
      if (any.n == 0)
        continue;
      out << (first ? "" : ", ") << json_string(p.name)
          << ": {\"msgs_per_s\": " << json_spread(get(&Run::msgs_per_s))
          << ", \"bytes_per_s\": " << json_spread(get(&Run::bytes_per_s))
          << ", \"p50_ns\": " << json_spread(get(&Run::p50_ns))
          << ", \"p99_ns\": " << json_spread(get(&Run::p99_ns))
          << ", \"p999_ns\": " << json_spread(get(&Run::p999_ns))
          << ", \"cpu_ns_per_op\": " << json_spread(get(&Run::cpu_ns_per_op))
          << ", \"sleeps_per_op\": " << json_spread(get(&Run::sleeps_per_op))
          << ", \"cpu_percent\": " << json_spread(get(&Run::cpu_percent)) << "}";
      first = false;
    }
    out << "},\n     \"runs\": [";
    for (std::size_t k = 0; k < r.runs.size(); ++k) {
      const Run &run = r.runs[k];
      out << (k ? ", " : "") << "{\"rep\": " << run.rep
          << ", \"placement\": " << json_string(run.placement)
          << ", \"canary_before_ns\": " << json_number(run.canary_before_ns)
          << ", \"canary_after_ns\": " << json_number(run.canary_after_ns)
          << ", \"msgs_per_s\": " << json_number(run.msgs_per_s)
          << ", \"p50_ns\": " << json_number(run.p50_ns)
          << ", \"p99_ns\": " << json_number(run.p99_ns)
          << ", \"p999_ns\": " << json_number(run.p999_ns)
          << ", \"max_ns\": " << json_number(run.max_ns)
          << ", \"cpu_ns_per_op\": " << json_number(run.cpu_ns_per_op)
          << ", \"sleeps_per_op\": " << json_number(run.sleeps_per_op)
          << ", \"cpu_percent\": " << json_number(run.cpu_percent) << "}";
    }
    out << "]}" << (i + 1 < rows.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
  check_written(out, path);
}

/// The plots of one run, written into a hidden directory inside `dir` and moved into `dir` by
/// commit(), like StagedFile. plots.gp names its files relative to `dir`: run it there.
class PlotFiles {
public:
  explicit PlotFiles(const std::string &dir)
      : dir_(dir), stage_(dir + "/.partial-" + std::to_string(::getpid())) {
    // A plots directory this run creates is removed again if a signal stops it (it is still
    // empty then: nothing is moved into it before commit()).
    if (!std::filesystem::exists(dir_))
      created_dir_ = std::make_unique<bench::interrupt::Unlink>(dir_);
    std::filesystem::create_directories(dir_);
    add("");
    add("data");
    std::filesystem::create_directories(stage_ + "/data");
  }
  ~PlotFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(stage_, ignored);
    if (created_dir_ && !committed_)
      std::filesystem::remove(dir_, ignored); // only if empty
  }
  PlotFiles(const PlotFiles &) = delete;
  PlotFiles &operator=(const PlotFiles &) = delete;

  /// The staged path of `name` (relative to the plots directory), registered for removal on a
  /// signal and for commit().
  std::string add(const std::string &name) {
    const std::string path = name.empty() ? stage_ : stage_ + "/" + name;
    on_signal_.push_back(std::make_unique<bench::interrupt::Unlink>(path));
    if (!name.empty() && name != "data")
      names_.push_back(name);
    return path;
  }
  /// Forgets a staged file (removed): it is not moved into place.
  void drop(const std::string &name) {
    ::unlink((stage_ + "/" + name).c_str());
    std::erase(names_, name);
  }
  [[nodiscard]] const std::string &stage() const noexcept { return stage_; }

  /// Removes the previous run's plots (other placements, the old names: what this class
  /// writes, nothing else) and moves this run's into place.
  void commit() {
    const std::string data = dir_ + "/data";
    std::filesystem::create_directories(data);
    auto is_ours = [](const std::filesystem::path &file, const char *ext) {
      const std::string name = file.filename().string();
      return file.extension() == ext &&
             (name.rfind("throughput", 0) == 0 || name.rfind("rtt", 0) == 0);
    };
    for (const auto &entry : std::filesystem::directory_iterator(dir_))
      if (entry.is_regular_file() && is_ours(entry.path(), ".png"))
        std::filesystem::remove(entry.path());
    for (const auto &entry : std::filesystem::directory_iterator(data))
      if (entry.is_regular_file() &&
          (is_ours(entry.path(), ".dat") || entry.path().filename() == "plots.gp"))
        std::filesystem::remove(entry.path());
    for (const std::string &name : names_)
      std::filesystem::rename(stage_ + "/" + name, dir_ + "/" + name);
    committed_ = true;
  }

private:
  std::string dir_, stage_;
  std::unique_ptr<bench::interrupt::Unlink> created_dir_;
  std::vector<std::unique_ptr<bench::interrupt::Unlink>> on_signal_;
  std::vector<std::string> names_;
  bool committed_ = false;
};

/// Runs gnuplot on `script` (relative to `dir`) in `dir`, its stderr with its stdout. A child
/// of fork_child, so a signal to the harness stops it too. True when it succeeded.
bool run_gnuplot(const std::string &dir, const std::string &script) {
  const pid_t pid = bench::interrupt::fork_child();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0 || ::dup2(1, 2) < 0)
      ::_exit(126);
    ::execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char *>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  bench::interrupt::reap(pid, status, true);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Per placement: throughput-<P>.png (bytes/s against size, one line per peer and form) and
/// rtt-<P>.png (the distribution of the last run of each round-trip row in that placement),
/// staged in `files`. Returns the image file names written.
std::vector<std::string> write_plots(PlotFiles &files, const std::vector<Row> &rows,
                                     const Placements &pl) {
  std::vector<std::string> images;
  const std::string script = "data/plots.gp";
  std::ofstream gp(files.add(script));
  gp << "# Run in the plots directory: gnuplot " << script << "\n";
  gp << "set terminal pngcairo noenhanced size 900,560 font 'sans,10'\n";
  for (const Placement &p : pl.classes) {
    if (p.runs == 0)
      continue;
    // Throughput: one message per call (single at 64 B / 1 KiB, streaming above) and batched.
    std::map<std::string, std::vector<std::pair<std::uint64_t, double>>> lines;
    for (const Row &r : rows) {
      if (r.skipped || !is_throughput(r.scenario))
        continue;
      const Spread b = row_spread(r, p.name, [](const Run &run) { return run.bytes_per_s; });
      if (b.n == 0)
        continue;
      lines[r.transport + (r.scenario == sc::kBatched ? " (batched)" : "")].emplace_back(
          r.size_bytes, b.median);
    }
    if (!lines.empty()) {
      const std::string image = "throughput-" + p.name + ".png";
      files.add(image);
      images.push_back(image);
      gp << "set output '" << image << "'\n";
      gp << "set title 'Cross-process throughput, placement " << placement_label(pl, p.name)
         << " (median of its runs)'\n";
      gp << "unset yrange\nset logscale xy\nset xlabel 'message size (bytes)'\n"
            "set ylabel 'bytes/s'\nset key outside right\nset grid\n"
            "set xtics ('64 B' 64, '1 KiB' 1024, '64 KiB' 65536, '1 MiB' 1048576)\nplot ";
      bool first = true;
      for (const auto &[title, points] : lines) {
        std::string safe = title;
        for (char &c : safe)
          if (c == ' ' || c == '(' || c == ')' || c == '/')
            c = '_';
        const std::string file = "data/throughput_" + p.name + "_" + safe + ".dat";
        std::ofstream dat(files.add(file));
        for (const auto &[size, bytes] : points)
          dat << size << " " << bytes << "\n";
        check_written(dat, file);
        gp << (first ? "" : ", ") << "'" << file << "' using 1:2 with linespoints title '" << title
           << "'";
        first = false;
      }
      gp << "\n";
    }
    // Round trips: the last run in this placement of every round-trip row.
    bool any = false;
    std::ostringstream plot;
    for (const Row &r : rows) {
      if (r.skipped || !is_rtt(r.scenario))
        continue;
      const Run *last = nullptr;
      for (const Run &run : r.runs)
        if (run.placement == p.name && !run.latencies_ns.empty() && (!last || run.rep > last->rep))
          last = &run;
      if (!last)
        continue;
      const std::string file = "data/rtt_" + p.name + "_" + r.transport + "_" + r.scenario + ".dat";
      std::ofstream dat(files.add(file));
      const std::vector<double> &s = last->latencies_ns;
      const std::size_t step = std::max<std::size_t>(1, s.size() / 2000);
      for (std::size_t i = 0; i < s.size(); i += step)
        dat << s[i] << " " << static_cast<double>(i + 1) / static_cast<double>(s.size()) << "\n";
      dat << s.back() << " 1\n";
      check_written(dat, file);
      plot << (any ? ", " : "") << "'" << file << "' using 1:2 with lines title '" << r.transport
           << " " << r.scenario << "'";
      any = true;
    }
    if (any) {
      const std::string image = "rtt-" + p.name + ".png";
      files.add(image);
      images.push_back(image);
      gp << "set output '" << image << "'\n";
      gp << "set title '64 B round trip, placement " << placement_label(pl, p.name)
         << ": distribution (last run)'\n";
      gp << "unset logscale\nset logscale x\nset xlabel 'round trip (ns)'\n"
            "set ylabel 'fraction'\nset xtics auto\nset yrange [0:1]\nplot "
         << plot.str() << "\n";
    }
  }
  check_written(gp, script);
  gp.close();
  if (!run_gnuplot(files.stage(), script)) {
    std::fprintf(stderr, "gnuplot failed or is missing: no plots (data kept)\n");
    for (const std::string &image : images)
      files.drop(image);
    images.clear();
  }
  return images;
}

void write_results(const std::string &path, const Machine &m, const Options &opt,
                   const std::string &report, const std::vector<std::string> &images) {
  std::ofstream out(path);
  out << "# shmpipe benchmark results\n\n";
  out << "Generated by `shmpipe_bench`; every number on this page comes from the one run "
         "below.\n\n";
  out << "## Machine\n\n";
  out << "| | |\n|---|---|\n| cpu | " << m.cpu << " |\n| cores | " << m.cores << " |\n| kernel | "
      << m.kernel << " |\n| compiler | " << m.compiler << " |\n| flags | " << m.flags << " |\n\n";
  out << "## Command\n\n```sh\n" << opt.command << "\n```\n\n";
  out << report;
  for (const std::string &image : images)
    out << "![" << image << "](" << image << ")\n\n";
  if (!opt.analysis.empty()) {
    std::ifstream in(opt.analysis);
    out << "\n" << in.rdbuf();
  }
  check_written(out, path);
}

} // namespace

int main(int argc, char **argv) {
  Options opt;
  opt.command = "shmpipe_bench";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    opt.command += " " + a;
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      opt.command += " " + std::string(argv[i + 1]);
      return argv[++i];
    };
    if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--reps") {
      const std::string v = value();
      opt.reps = std::atoi(v.c_str());
      if (opt.reps < 1 || opt.reps > 99) {
        std::fprintf(stderr, "--reps needs a number from 1 to 99\n");
        return 2;
      }
    } else if (a == "--json") {
      opt.json = value();
    } else if (a == "--plots") {
      opt.plots = value();
    } else if (a == "--results") {
      opt.results = value();
    } else if (a == "--analysis") {
      opt.analysis = value();
    } else if (a == "--only" || a == "--scenarios") {
      std::stringstream list(value());
      for (std::string item; std::getline(list, item, ',');)
        (a == "--only" ? opt.only : opt.scenarios).insert(item);
    } else {
      std::fprintf(stderr, "usage: shmpipe_bench [--quick] [--reps N] [--json FILE] [--plots DIR] "
                           "[--results FILE] [--analysis FILE] [--only peer,...] "
                           "[--scenarios name,...]\n");
      return 2;
    }
  }
  {
    std::set<std::string> peers, scenarios;
    for (const bench::Peer &peer : bench::registry()) {
      peers.insert(peer.name);
      for (const auto &[name, how] : peer.scenarios)
        scenarios.insert(name);
    }
    auto check = [](const std::set<std::string> &asked, const std::set<std::string> &known,
                    const char *what) {
      for (const std::string &name : asked)
        if (known.count(name) == 0) {
          std::string list;
          for (const std::string &k : known)
            list += (list.empty() ? "" : ", ") + k;
          std::fprintf(stderr, "unknown %s '%s' (known: %s)\n", what, name.c_str(), list.c_str());
          return false;
        }
      return true;
    };
    if (!check(opt.only, peers, "peer") || !check(opt.scenarios, scenarios, "scenario"))
      return 2;
  }
  ::signal(SIGPIPE, SIG_IGN); // a dead socket peer is an error return, not a dead harness
  // From here on, SIGINT, SIGTERM and SIGHUP stop every child, remove every segment, socket and
  // temporary file, and leave the output files as they were (bench::interrupt).
  bench::interrupt::install();
  const Machine machine = describe_machine();
  (void)bench::Tsc::get();
  const auto start = std::chrono::steady_clock::now();
  Runner runner{.opt = opt};
  try {
    runner.all();
  } catch (const std::exception &e) { // the canary failed: nothing can be classified
    std::fprintf(stderr, "shmpipe_bench: %s\n", e.what());
    return 1;
  }
  std::vector<Row> &rows = runner.rows;
  const Placements pl = classify(runner.canaries, rows);
  const std::vector<Goal> gs = goals(rows, pl);
  std::ostringstream report;
  report << "## Placements\n\n" << placements_text(pl) << "\n";
  report << "## Goals (issue 16), per placement\n\n" << goals_table(gs) << "\n";
  report << "## Results by placement\n\n" << placement_tables(rows, pl);
  report << "## How each peer runs each scenario\n\n" << forms_table(rows) << "\n";
  report << "## Every run\n\n" << runs_table(rows) << "\n";
  std::printf("machine: %s, %ld cores, %s, %s\nflags: %s\n\n%s", machine.cpu.c_str(), machine.cores,
              machine.kernel.c_str(), machine.compiler.c_str(), machine.flags.c_str(),
              report.str().c_str());
  // Every output is written under a temporary name first and all are moved into place at
  // the end, with the signals held back: a run stopped earlier leaves the previous outputs.
  try {
    std::optional<StagedFile> json, results;
    std::optional<PlotFiles> plots;
    if (!opt.json.empty()) {
      json.emplace(opt.json);
      write_json(json->temp(), machine, rows, pl, gs, opt);
    }
    std::vector<std::string> images;
    if (!opt.plots.empty()) {
      plots.emplace(opt.plots);
      images = write_plots(*plots, rows, pl);
    }
    if (!opt.results.empty()) {
      results.emplace(opt.results);
      write_results(results->temp(), machine, opt, report.str(), images);
    }
    const bench::interrupt::Blocked blocked;
    if (json)
      json->commit();
    if (plots)
      plots->commit();
    if (results)
      results->commit();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "shmpipe_bench: %s\n", e.what());
    return 1;
  }
  std::printf("total time: %.1f s (canaries %.1f s)\n", bench::seconds_since(start),
              runner.canary_seconds);
  return 0;
}

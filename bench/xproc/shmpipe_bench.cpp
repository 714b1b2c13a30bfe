// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// shmpipe_bench: every scenario, every peer, one run, one table.
//
//   shmpipe_bench [--quick] [--json FILE] [--plots DIR] [--results FILE] [--only a,b,...]
//                 [--scenarios throughput,rtt_spin,rtt_blocking,transfer,idle_cpu]
//
// Throughput counts are calibrated per peer (a warm-up run sizes the timed runs to about a
// quarter of a second), each timed run is repeated (5 times, 7 for transfer and rtt_spin, 1
// with --quick), runs of different peers are interleaved, and the median is reported; latency
// percentiles are the medians of the per-run percentiles.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <sys/utsname.h>

#include "harness.hpp"

#ifndef SHMPIPE_BENCH_FLAGS
#define SHMPIPE_BENCH_FLAGS "unknown"
#endif

namespace {

struct Options {
  bool quick = false;
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

double percentile(std::vector<double> &sorted, double p) {
  if (sorted.empty())
    return NAN;
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// Latency samples of the last run per (transport, scenario), for the distribution plot.
std::map<std::string, std::vector<double>> g_last_latencies;

std::string describe(const std::exception &e) { return e.what(); }

/// One row of the report being measured: a peer in a scenario at a size.
struct Cell {
  const bench::Peer *peer;
  std::function<bench::Sample()> once; // one timed run
  bench::Result result;
  std::vector<bench::Sample> samples;
};

void summarize(Cell &cell) {
  bench::Result &r = cell.result;
  if (r.skipped || cell.samples.empty())
    return;
  r.runs = static_cast<int>(cell.samples.size());
  if (r.scenario == "throughput") {
    std::vector<double> rates;
    for (const bench::Sample &s : cell.samples)
      rates.push_back(static_cast<double>(s.messages) / s.seconds);
    r.msgs_per_s = median(rates);
    r.bytes_per_s = *r.msgs_per_s * static_cast<double>(r.size_bytes);
    return;
  }
  if (r.scenario == "idle_cpu") {
    std::vector<double> cpu;
    for (const bench::Sample &s : cell.samples)
      cpu.push_back(s.cpu_percent);
    r.cpu_percent = median(cpu);
    return;
  }
  std::vector<double> p50, p99, p999, max;
  for (bench::Sample &s : cell.samples) {
    std::sort(s.latencies_ns.begin(), s.latencies_ns.end());
    p50.push_back(percentile(s.latencies_ns, 50));
    p99.push_back(percentile(s.latencies_ns, 99));
    p999.push_back(percentile(s.latencies_ns, 99.9));
    max.push_back(s.latencies_ns.empty() ? NAN : s.latencies_ns.back());
  }
  r.p50_ns = median(p50);
  r.p99_ns = median(p99);
  r.p999_ns = median(p999);
  r.max_ns = median(max);
  if (r.scenario == "transfer") {
    r.msgs_per_s = 1e9 / *r.p50_ns;
    r.bytes_per_s = *r.msgs_per_s * static_cast<double>(r.size_bytes);
  }
  g_last_latencies[r.transport + "/" + r.scenario + "/" + std::to_string(r.size_bytes)] =
      std::move(cell.samples.back().latencies_ns);
}

/// Runs one scenario at one size for every peer that has it. Runs are interleaved (run 1 of
/// every peer, then run 2 of every peer, ...): on a shared VM whose speed shifts from minute
/// to minute, peers compared with each other then see the same conditions.
void run_group(const std::vector<bench::Peer> &peers, const std::string &scenario, std::size_t size,
               const Options &opt, std::vector<bench::Result> &out) {
  if (!opt.scenarios.empty() && opt.scenarios.count(scenario) == 0)
    return;
  std::vector<Cell> cells;
  for (const bench::Peer &peer : peers) {
    const bool has = scenario == "throughput"     ? static_cast<bool>(peer.throughput)
                     : scenario == "rtt_spin"     ? static_cast<bool>(peer.rtt_spin)
                     : scenario == "rtt_blocking" ? static_cast<bool>(peer.rtt_blocking)
                     : scenario == "transfer"     ? static_cast<bool>(peer.transfer)
                                                  : static_cast<bool>(peer.idle_cpu);
    if (!has)
      continue;
    if (scenario == "throughput" && !peer.throughput_sizes.empty() &&
        std::find(peer.throughput_sizes.begin(), peer.throughput_sizes.end(), size) ==
            peer.throughput_sizes.end())
      continue;
    Cell cell{.peer = &peer,
              .result = {.transport = peer.name, .scenario = scenario, .size_bytes = size}};
    try {
      if (auto why = peer.unavailable())
        cell.result.skipped = *why;
    } catch (const std::exception &e) {
      cell.result.skipped = describe(e);
    }
    if (!cell.result.skipped) {
      try {
        if (scenario == "throughput") {
          // Warm-up and calibration: how many messages make a quarter of a second here?
          const std::uint64_t probe = size <= 1024 ? 20000 : size <= 65536 ? 2000 : 100;
          const bench::Sample warm = peer.throughput(size, probe);
          const double rate = static_cast<double>(warm.messages) / std::max(warm.seconds, 1e-9);
          const auto count = static_cast<std::uint64_t>(
              std::clamp(rate * (opt.quick ? 0.08 : 0.25), static_cast<double>(probe), 5e7));
          cell.once = [&peer, size, count] { return peer.throughput(size, count); };
        } else if (scenario == "rtt_spin") {
          const std::uint64_t n = opt.quick ? 20000 : 100000;
          cell.once = [&peer, size, n] { return peer.rtt_spin(size, n); };
        } else if (scenario == "rtt_blocking") {
          const std::uint64_t n = opt.quick ? 3000 : 20000;
          cell.once = [&peer, size, n] { return peer.rtt_blocking(size, n); };
        } else if (scenario == "transfer") {
          const std::uint64_t n = (size <= (1u << 20) ? 200u : 30u) / (opt.quick ? 4u : 1u);
          cell.once = [&peer, size, n] { return peer.transfer(size, n); };
        } else {
          cell.once = [&peer] { return peer.idle_cpu(2.0); };
        }
      } catch (const std::exception &e) {
        cell.result.skipped = "failed: " + describe(e);
      }
    }
    cells.push_back(std::move(cell));
  }
  // Latency runs are short and vary most with the VM's mood: more of them.
  const int runs = scenario == "idle_cpu" || opt.quick                ? 1
                   : scenario == "transfer" || scenario == "rtt_spin" ? 7
                                                                      : 5;
  for (int run = 0; run < runs; ++run)
    for (Cell &cell : cells) {
      if (cell.result.skipped)
        continue;
      try {
        cell.samples.push_back(cell.once());
      } catch (const std::exception &e) {
        cell.result.skipped = "failed: " + describe(e);
      }
    }
  for (Cell &cell : cells) {
    summarize(cell);
    const bench::Result &r = cell.result;
    std::fprintf(stderr, "  %-13s %8s  %-24s %s\n", r.scenario.c_str(),
                 size_text(r.size_bytes).c_str(), r.transport.c_str(),
                 r.skipped ? r.skipped->c_str() : "done");
    out.push_back(r);
  }
}

std::vector<bench::Result> run_all(const Options &opt) {
  std::vector<bench::Peer> peers;
  for (const bench::Peer &peer : bench::registry())
    if (opt.only.empty() || opt.only.count(peer.name) != 0)
      peers.push_back(peer);
  std::sort(peers.begin(), peers.end(),
            [](const bench::Peer &a, const bench::Peer &b) { return a.order < b.order; });
  std::vector<bench::Result> results;
  for (const std::size_t size : {64u, 1024u, 65536u, 1048576u})
    run_group(peers, "throughput", size, opt, results);
  run_group(peers, "rtt_spin", 64, opt, results);
  run_group(peers, "rtt_blocking", 64, opt, results);
  for (const std::size_t size : {std::size_t{1} << 20, std::size_t{10} << 20})
    run_group(peers, "transfer", size, opt, results);
  run_group(peers, "idle_cpu", 0, opt, results);
  return results;
}

// ---------------------------------------------------------------------------------------------
// Output.

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

void write_json(const std::string &path, const Machine &m, const std::vector<bench::Result> &rs,
                const Options &opt) {
  std::ofstream out(path);
  out << "{\n  \"machine\": {\"cpu\": " << json_string(m.cpu) << ", \"cores\": " << m.cores
      << ", \"kernel\": " << json_string(m.kernel) << ", \"compiler\": " << json_string(m.compiler)
      << ", \"flags\": " << json_string(m.flags)
      << "},\n  \"command\": " << json_string(opt.command) << ",\n  \"results\": [\n";
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const bench::Result &r = rs[i];
    out << "    {\"transport\": " << json_string(r.transport)
        << ", \"scenario\": " << json_string(r.scenario) << ", \"size_bytes\": " << r.size_bytes
        << ", \"msgs_per_s\": " << json_number(r.msgs_per_s)
        << ", \"bytes_per_s\": " << json_number(r.bytes_per_s)
        << ", \"p50_ns\": " << json_number(r.p50_ns) << ", \"p99_ns\": " << json_number(r.p99_ns)
        << ", \"p999_ns\": " << json_number(r.p999_ns) << ", \"max_ns\": " << json_number(r.max_ns)
        << ", \"cpu_percent\": " << json_number(r.cpu_percent) << ", \"runs\": " << r.runs
        << ", \"skipped\": " << (r.skipped ? json_string(*r.skipped) : "null") << "}"
        << (i + 1 < rs.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
}

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

std::string ns_text(const std::optional<double> &v) {
  if (!v)
    return "-";
  char buf[32];
  if (*v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f ms", *v / 1e6);
  else if (*v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2f us", *v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f ns", *v);
  return buf;
}

bool is_limit(const std::string &transport) {
  for (const bench::Peer &p : bench::registry())
    if (p.name == transport)
      return p.physical_limit;
  return false;
}

bool is_shmpipe(const std::string &transport) { return transport.rfind("shmpipe", 0) == 0; }

/// The figure of merit of a row: higher is better for throughput, lower for the rest.
std::optional<double> merit(const bench::Result &r) {
  if (r.skipped)
    return std::nullopt;
  if (r.scenario == "throughput")
    return r.msgs_per_s;
  if (r.scenario == "idle_cpu")
    return r.cpu_percent;
  return r.p50_ns;
}

struct Ratios {
  std::optional<double> to_best_peer, to_limit;
  std::string best_peer, limit;
};

Ratios ratios(const bench::Result &row, const std::vector<bench::Result> &rs) {
  Ratios out;
  const auto mine = merit(row);
  if (!mine || row.scenario == "idle_cpu")
    return out;
  const bool higher_better = row.scenario == "throughput";
  // rtt_spin peers compete with rtt_spin, blocking with blocking.
  for (const bench::Result &r : rs) {
    if (r.size_bytes != row.size_bytes || is_shmpipe(r.transport))
      continue;
    const auto theirs = merit(r);
    if (!theirs)
      continue;
    if (is_limit(r.transport)) {
      // Only a limit measured in the same group (so at the same time) compares fairly.
      const bool limit_applies = r.scenario == row.scenario;
      if (limit_applies) {
        out.to_limit = *mine / *theirs;
        out.limit = r.transport;
      }
      continue;
    }
    if (r.scenario != row.scenario)
      continue;
    const bool better = !out.to_best_peer || (higher_better ? *theirs > *mine / *out.to_best_peer
                                                            : *theirs < *mine / *out.to_best_peer);
    if (better) {
      out.to_best_peer = *mine / *theirs;
      out.best_peer = r.transport;
    }
  }
  if (higher_better && out.to_limit && row.bytes_per_s) {
    // For throughput the limit is in bytes/s (memcpy or the raw handoff).
    for (const bench::Result &r : rs)
      if (r.transport == out.limit && r.scenario == row.scenario &&
          r.size_bytes == row.size_bytes && r.bytes_per_s)
        out.to_limit = *row.bytes_per_s / *r.bytes_per_s;
  }
  return out;
}

std::string ratio_text(const std::optional<double> &v, const std::string &who) {
  if (!v)
    return "-";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.3gx %s", *v, who.c_str());
  return buf;
}

std::string table(const std::vector<bench::Result> &rs) {
  std::ostringstream os;
  os << "| scenario | size | transport | msgs/s | bytes/s | p50 | p99 | p99.9 | max | cpu | "
        "shmpipe vs best peer | shmpipe vs limit |\n";
  os << "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  for (const bench::Result &r : rs) {
    os << "| " << r.scenario << " | "
       << (r.scenario == "idle_cpu" ? std::string("-") : size_text(r.size_bytes)) << " | "
       << r.transport << " | ";
    if (r.skipped) {
      os << "skipped: " << *r.skipped << " | | | | | | | | |\n";
      continue;
    }
    os << (r.msgs_per_s ? si(*r.msgs_per_s, "") : "-") << " | "
       << (r.bytes_per_s ? si(*r.bytes_per_s, "B/s") : "-") << " | " << ns_text(r.p50_ns) << " | "
       << ns_text(r.p99_ns) << " | " << ns_text(r.p999_ns) << " | " << ns_text(r.max_ns) << " | ";
    if (r.cpu_percent) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.1f%%", *r.cpu_percent);
      os << buf;
    } else {
      os << "-";
    }
    os << " | ";
    if (is_shmpipe(r.transport)) {
      const Ratios q = ratios(r, rs);
      os << ratio_text(q.to_best_peer, q.best_peer) << " | " << ratio_text(q.to_limit, q.limit);
    } else {
      os << " | ";
    }
    os << " |\n";
  }
  return os.str();
}

const bench::Result *find(const std::vector<bench::Result> &rs, const std::string &t,
                          const std::string &s, std::uint64_t size) {
  for (const bench::Result &r : rs)
    if (r.transport == t && r.scenario == s && r.size_bytes == size && !r.skipped)
      return &r;
  return nullptr;
}

/// The goals of the benchmark issue, each judged on this run.
std::string goals(const std::vector<bench::Result> &rs) {
  std::ostringstream os;
  auto line = [&](const std::string &goal, std::optional<double> ratio, bool met,
                  const std::string &detail) {
    char buf[32] = "n/a";
    if (ratio)
      std::snprintf(buf, sizeof buf, "%.3g", *ratio);
    os << "| " << goal << " | " << buf << " | "
       << (ratio ? (met ? "met" : "NOT met") : "not measured") << " | " << detail << " |\n";
  };
  os << "| goal | measured ratio | verdict | compared with |\n|---|---:|---|---|\n";
  // 64 B throughput >= 7x best peer.
  if (const auto *me = find(rs, "shmpipe", "throughput", 64)) {
    const Ratios q = ratios(*me, rs);
    line("64 B throughput >= 7x the best peer", q.to_best_peer,
         q.to_best_peer && *q.to_best_peer >= 7, q.best_peer);
  }
  const auto *spin = find(rs, "shmpipe", "rtt_spin", 64);
  const auto *atomic = find(rs, "atomic_pingpong", "rtt_spin", 64);
  if (spin && atomic) {
    const double r50 = *spin->p50_ns / *atomic->p50_ns;
    const double r999 = *spin->p999_ns / *atomic->p999_ns;
    line("64 B spin RTT p50 <= 1.3x atomic ping-pong", r50, r50 <= 1.3, "atomic_pingpong p50");
    line("64 B spin RTT p99.9 <= 1.5x atomic ping-pong", r999, r999 <= 1.5,
         "atomic_pingpong p99.9");
  }
  const auto *blocking = find(rs, "shmpipe", "rtt_blocking", 64);
  const auto *uds = find(rs, "unix_socket", "rtt_blocking", 64);
  if (blocking && uds) {
    const double r = *blocking->p50_ns / *uds->p50_ns;
    line("64 B blocking RTT p50 <= 0.5x Unix socket", r, r <= 0.5, "unix_socket p50");
  }
  for (const std::uint64_t size : {std::uint64_t{1} << 20, std::uint64_t{10} << 20}) {
    const auto *me = find(rs, "shmpipe", "transfer", size);
    const auto *raw = find(rs, "raw_shm_handoff", "transfer", size);
    if (me && raw) {
      const double r = *me->p50_ns / *raw->p50_ns;
      line(size_text(size) + " transfer <= 1.1x raw handoff", r, r <= 1.1, "raw_shm_handoff p50");
    }
  }
  const auto *big = find(rs, "shmpipe", "throughput", 1 << 20);
  const auto *iox = find(rs, "iceoryx", "throughput", 1 << 20);
  if (big && iox) {
    const double r = *big->bytes_per_s / *iox->bytes_per_s;
    line("1 MiB streaming >= iceoryx", r, r >= 1.0, "iceoryx bytes/s");
  } else {
    line("1 MiB streaming >= iceoryx", std::nullopt, false, "iceoryx not measured");
  }
  if (const auto *idle = find(rs, "shmpipe", "idle_cpu", 0))
    line("idle CPU 0.0%", idle->cpu_percent, *idle->cpu_percent < 0.05,
         "consumer blocked 2 s (percent, not a ratio)");
  return os.str();
}

void write_plots(const std::string &dir, const std::vector<bench::Result> &rs) {
  const std::string data = dir + "/data";
  std::filesystem::create_directories(data);
  // Throughput by size: one data file per transport, bytes/s against size.
  std::set<std::string> transports;
  for (const bench::Result &r : rs)
    if (r.scenario == "throughput" && r.bytes_per_s)
      transports.insert(r.transport);
  std::ofstream gp(data + "/plots.gp");
  gp << "set terminal pngcairo noenhanced size 900,560 font 'sans,10'\n";
  gp << "set output '" << dir << "/throughput.png'\n";
  gp << "set title 'Cross-process throughput (every byte written and read)'\n";
  gp << "set logscale xy\nset xlabel 'message size (bytes)'\nset ylabel 'bytes/s'\n";
  gp << "set key outside right\nset grid\nset xtics ('64 B' 64, '1 KiB' 1024, '64 KiB' 65536, '1 "
        "MiB' 1048576)\n";
  gp << "plot ";
  bool first = true;
  for (const std::string &t : transports) {
    const std::string file = data + "/throughput_" + t + ".dat";
    std::ofstream dat(file);
    for (const bench::Result &r : rs)
      if (r.transport == t && r.scenario == "throughput" && r.bytes_per_s)
        dat << r.size_bytes << " " << *r.bytes_per_s << "\n";
    gp << (first ? "" : ", ") << "'" << file << "' using 1:2 with linespoints title '" << t << "'";
    first = false;
  }
  gp << "\n";
  // RTT distribution: the CDF of the last run of every 64 B round-trip row.
  gp << "set output '" << dir << "/rtt.png'\n";
  gp << "set title '64 B round trip between two processes: distribution (last run)'\n";
  gp << "unset logscale\nset logscale x\nset xlabel 'round trip (ns)'\nset ylabel 'fraction'\n";
  gp << "set xtics auto\nset yrange [0:1]\nplot ";
  first = true;
  for (const auto &[key, samples] : g_last_latencies) {
    if (key.find("/rtt_") == std::string::npos || samples.empty())
      continue;
    std::string safe = key;
    std::replace(safe.begin(), safe.end(), '/', '_');
    const std::string file = data + "/rtt_" + safe + ".dat";
    std::ofstream dat(file);
    const std::size_t step = std::max<std::size_t>(1, samples.size() / 2000);
    for (std::size_t i = 0; i < samples.size(); i += step)
      dat << samples[i] << " " << static_cast<double>(i + 1) / static_cast<double>(samples.size())
          << "\n";
    dat << samples.back() << " 1\n";
    gp << (first ? "" : ", ") << "'" << file << "' using 1:2 with lines title '"
       << key.substr(0, key.find("/64")) << "'";
    first = false;
  }
  gp << "\n";
  gp.close();
  const std::string cmd = "gnuplot '" + data + "/plots.gp' 2>&1";
  if (std::system(cmd.c_str()) != 0)
    std::fprintf(stderr, "gnuplot failed or is missing: no plots (data kept in %s)\n", dir.c_str());
}

void write_results(const std::string &path, const Machine &m, const Options &opt,
                   const std::string &tbl, const std::string &goal_table) {
  std::ofstream out(path);
  out << "# shmpipe benchmark results\n\n";
  out << "Generated by `shmpipe_bench`; every number on this page comes from the one run "
         "below.\n\n";
  out << "## Machine\n\n";
  out << "| | |\n|---|---|\n| cpu | " << m.cpu << " |\n| cores | " << m.cores << " |\n| kernel | "
      << m.kernel << " |\n| compiler | " << m.compiler << " |\n| flags | " << m.flags << " |\n\n";
  out << "## Command\n\n```sh\n" << opt.command << "\n```\n\n";
  out << "## Goals\n\n" << goal_table << "\n";
  out << "## All rows\n\n" << tbl << "\n";
  out << "![throughput](throughput.png)\n\n![rtt](rtt.png)\n";
  if (!opt.analysis.empty()) {
    std::ifstream in(opt.analysis);
    out << "\n" << in.rdbuf();
  }
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
    if (a == "--quick")
      opt.quick = true;
    else if (a == "--json")
      opt.json = value();
    else if (a == "--plots")
      opt.plots = value();
    else if (a == "--results")
      opt.results = value();
    else if (a == "--analysis")
      opt.analysis = value();
    else if (a == "--only" || a == "--scenarios") {
      std::stringstream list(value());
      for (std::string item; std::getline(list, item, ',');)
        (a == "--only" ? opt.only : opt.scenarios).insert(item);
    } else {
      std::fprintf(stderr, "usage: shmpipe_bench [--quick] [--json FILE] [--plots DIR] "
                           "[--results FILE] [--analysis FILE] [--only peer,...] "
                           "[--scenarios name,...]\n");
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN); // a dead socket peer is an error return, not a dead harness
  const Machine machine = describe_machine();
  (void)bench::Tsc::get();
  const auto start = std::chrono::steady_clock::now();
  const std::vector<bench::Result> results = run_all(opt);
  const std::string tbl = table(results);
  const std::string goal_table = goals(results);
  std::printf("machine: %s, %ld cores, %s, %s\nflags: %s\n\n%s\n%s\n", machine.cpu.c_str(),
              machine.cores, machine.kernel.c_str(), machine.compiler.c_str(),
              machine.flags.c_str(), tbl.c_str(), goal_table.c_str());
  if (!opt.json.empty())
    write_json(opt.json, machine, results, opt);
  if (!opt.plots.empty())
    write_plots(opt.plots, results);
  if (!opt.results.empty())
    write_results(opt.results, machine, opt, tbl, goal_table);
  std::printf("total time: %.1f s\n", bench::seconds_since(start));
  return 0;
}

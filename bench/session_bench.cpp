// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Verified request/reply round trips per second through a Supervisor and a real worker
// process, with 1 to 30000 requests in flight: the cost of a call must not grow with what is
// in flight (issue 14, item 1).
//
//   session_bench [--requests N] [--reps R] [--in-flight 1,16,256,4096,30000] [--out FILE]
//
// Each run sends N requests (an ExtractRequest FlatBuffer built in place), keeping `in
// flight` of them outstanding: a new request goes out as soon as a final answer comes back.
// The worker verifies each request and answers with a PageText built in place, which the core
// verifies and checks against the request's page. Default SupervisorOptions (health checks
// every second, 3 s health timeout) and default ring sizes, as a user would have them. The
// levels run in rotating order within each repetition, on one Supervisor; the report gives
// each level's median rate, its spread, and the ratio of each level to 256 in flight
// (median of the per-repetition ratios, so that both sides of a ratio come from the same
// minute). A run that loses a request or restarts the worker is reported as such.
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/shmpipe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

namespace sc = shmpipe::schema;
namespace fb = flatbuffers;
using namespace std::chrono_literals;
using shmpipe::Status;

int serve() {
  shmpipe::Worker worker = shmpipe::attach_supervised({.worker_name = "session_bench"});
  for (;;) {
    shmpipe::Incoming in = worker.receive(60s);
    if (!in)
      return in.status() == Status::closed ? 0 : 3;
    const std::uint64_t id = in.request_id();
    const shmpipe::Received<sc::Extraction> request = in.as<sc::Extraction>();
    const sc::ExtractRequest *r = request ? request->body_as_ExtractRequest() : nullptr;
    if (r == nullptr) {
      static_cast<void>(worker.error(id, 1, "not an ExtractRequest", 10s));
      continue;
    }
    const std::uint32_t page = r->page();
    if (worker.reply<sc::Extraction>(
            id,
            [&](fb::FlatBufferBuilder &b) {
              const auto text = sc::CreatePageText(b, page, b.CreateString("ok"));
              return sc::CreateExtraction(b, id, sc::ExtractionBody::PageText, text.Union());
            },
            60s, true, {.size_hint = 96}) != Status::ok)
      return 4;
  }
}

struct Run {
  double per_second = 0;
  std::uint64_t lost = 0; // answers that were not a verified, matching PageText
};

Run run(shmpipe::Supervisor &sup, std::uint64_t requests, std::uint64_t in_flight) {
  const std::uint64_t restarts = sup.restarts();
  std::uint64_t sent = 0, settled = 0;
  Run result;
  const auto start = std::chrono::steady_clock::now();
  while (settled < requests) {
    while (sent < requests && sup.in_flight() < in_flight) {
      const auto page = static_cast<std::uint32_t>(sent);
      const shmpipe::Sent s = sup.request<sc::Extraction>(
          [&](fb::FlatBufferBuilder &b) {
            const auto r = sc::CreateExtractRequest(b, b.CreateString("bench.pdf"), page);
            return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
          },
          30s, {}, {.size_hint = 96});
      if (s.status != Status::ok) {
        std::fprintf(stderr, "session_bench: request failed: %s\n",
                     std::string(to_string(s.status)).c_str());
        std::exit(1);
      }
      ++sent;
    }
    shmpipe::Incoming in = sup.receive(30s);
    if (!in && in.request_id() == 0) {
      std::fprintf(stderr, "session_bench: receive: %s\n",
                   std::string(to_string(in.status())).c_str());
      std::exit(1);
    }
    ++settled;
    const shmpipe::Received<sc::Extraction> answer = in.as<sc::Extraction>();
    const sc::PageText *text = answer ? answer->body_as_PageText() : nullptr;
    if (text == nullptr || text->text() == nullptr || text->text()->string_view() != "ok")
      ++result.lost;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  result.per_second = static_cast<double>(requests) / took.count();
  if (sup.restarts() != restarts)
    result.lost += requests; // a restart within the run: the run does not count
  return result;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : (n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

std::vector<std::uint64_t> parse_list(const char *text) {
  std::vector<std::uint64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(std::stoull(item));
  return out;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::strcmp(argv[1], "--worker") == 0)
    return serve();
  std::uint64_t requests = 100000;
  int reps = 5;
  std::vector<std::uint64_t> levels{1, 16, 256, 4096, 30000};
  std::string out_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--requests")
      requests = std::stoull(argv[i + 1]);
    else if (flag == "--reps")
      reps = std::stoi(argv[i + 1]);
    else if (flag == "--in-flight")
      levels = parse_list(argv[i + 1]);
    else if (flag == "--out")
      out_path = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: session_bench [--requests N] [--reps R] [--in-flight A,B,...] "
                           "[--out FILE]\n");
      return 2;
    }
  }
  shmpipe::SupervisorOptions options;
  options.command = {"/proc/self/exe", "--worker"};
  std::uint64_t events = 0; // other than `started`: hung, exited, ...
  options.on_event = [&](const shmpipe::SupervisorEvent &e) {
    if (e.kind == shmpipe::SupervisorEvent::Kind::started ||
        e.kind == shmpipe::SupervisorEvent::Kind::stopped)
      return;
    std::fprintf(stderr, "session_bench: worker %s: %s\n", std::string(to_string(e.kind)).c_str(),
                 e.detail.c_str());
    ++events;
  };
  shmpipe::Supervisor sup(shmpipe::unique_segment_name("shmpipe-session-bench-"), options);
  run(sup, std::min<std::uint64_t>(requests, 20000), 256); // warm-up: pages, caches, clocks

  std::map<std::uint64_t, std::vector<double>> rates;
  std::map<std::uint64_t, std::uint64_t> lost;
  std::vector<std::map<std::uint64_t, double>> per_rep(static_cast<std::size_t>(reps));
  for (int rep = 0; rep < reps; ++rep)
    for (std::size_t k = 0; k < levels.size(); ++k) {
      const std::uint64_t level = levels[(k + static_cast<std::size_t>(rep)) % levels.size()];
      const Run r = run(sup, requests, level);
      rates[level].push_back(r.per_second);
      lost[level] += r.lost;
      per_rep[static_cast<std::size_t>(rep)][level] = r.per_second;
    }

  std::ostringstream report;
  char line[256];
  report << "session_bench: " << requests << " verified request/reply round trips per run, " << reps
         << " repetitions, levels in rotating order; Supervisor + worker process, "
         << "default options and ring sizes\n";
  std::snprintf(line, sizeof line, "%10s %16s %16s %16s %12s %8s\n", "in flight", "median (k/s)",
                "min (k/s)", "max (k/s)", "vs 256", "lost");
  report << line;
  for (const std::uint64_t level : levels) {
    std::vector<double> ratios;
    for (const auto &rep : per_rep)
      if (rep.contains(256))
        ratios.push_back(rep.at(level) / rep.at(256));
    const auto &v = rates[level];
    std::snprintf(line, sizeof line, "%10llu %16.1f %16.1f %16.1f %12s %8llu\n",
                  static_cast<unsigned long long>(level), median(v) / 1e3,
                  *std::min_element(v.begin(), v.end()) / 1e3,
                  *std::max_element(v.begin(), v.end()) / 1e3,
                  ratios.empty() ? "n/a" : std::to_string(median(ratios)).substr(0, 5).c_str(),
                  static_cast<unsigned long long>(lost[level]));
    report << line;
  }
  report << "worker restarts: " << sup.restarts()
         << ", supervisor events other than started: " << events << "\n";
  std::cout << report.str();
  if (!out_path.empty())
    std::ofstream(out_path) << report.str();
  std::uint64_t all_lost = 0;
  for (const auto &[level, n] : lost)
    all_lost += n;
  return all_lost == 0 && sup.restarts() == 0 ? 0 : 1;
}

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// extract_dump: runs an extraction worker (extract_worker, or extract_worker.py) under a
// shmpipe::Supervisor, asks it for a document and some of its pages, one request at a time,
// and writes every message it answers, byte for byte, so that the answers of two workers can
// be compared field by field (tests/test_extract_worker.py).
//
//   extract_dump OUT_DIR PDF DPI PAGES WORKER [WORKER_ARG...]
//
// PAGES: 0-based page numbers separated by commas, in the order to ask for them ("all": every
// page in order). Writes OUT_DIR/<n>.bin for the n-th message received (from 0) and
// OUT_DIR/manifest.txt, one line per message: "<n> <request> <page> <identifier> <final>",
// where request is "open" or "page", page is -1 for open. Exit status 0 when every request got
// its final answer, 1 otherwise (the reason on stderr).
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;

struct Dump {
  std::string dir;
  std::ofstream manifest;
  int count = 0;

  /// Writes every answer to request `id` until the final one; false when it does not come.
  bool answers(shmpipe::Supervisor &sup, std::uint64_t id, const char *kind, long page) {
    for (;;) {
      shmpipe::Incoming in = sup.receive(120s);
      if (!in) {
        std::fprintf(stderr, "extract_dump: no answer to %s %ld: %s\n", kind, page,
                     std::string(shmpipe::to_string(in.status())).c_str());
        return false;
      }
      if (in.request_id() != id)
        continue;
      const auto bytes = in.buffer();
      std::ofstream(dir + "/" + std::to_string(count) + ".bin", std::ios::binary)
          .write(reinterpret_cast<const char *>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size()));
      // An Error answer ends its request whatever its flag says.
      const bool last = in.final() || in.is<sc::Envelope>();
      manifest << count << ' ' << kind << ' ' << page << ' ' << in.identifier() << ' '
               << (in.final() ? 1 : 0) << '\n';
      ++count;
      if (last)
        return true;
    }
  }
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: extract_dump OUT_DIR PDF DPI PAGES WORKER [WORKER_ARG...]\n");
    return 2;
  }
  try {
    const std::string pdf = argv[2];
    const auto dpi = static_cast<std::uint16_t>(std::atoi(argv[3]));
    const std::string pages_arg = argv[4];
    shmpipe::SupervisorOptions options;
    options.command.assign(argv + 5, argv + argc);
    options.session.capacity = std::uint64_t{1} << 25;
    options.health_timeout = 60s;
    shmpipe::Supervisor sup("shmpipe-extract-dump-" + std::to_string(::getpid()), options);
    Dump dump{argv[1], std::ofstream(std::string(argv[1]) + "/manifest.txt"), 0};

    const shmpipe::Sent open = sup.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) {
          const auto o = sc::CreateOpenDocument(b, b.CreateString(pdf));
          return sc::CreateExtraction(b, 0, sc::ExtractionBody::OpenDocument, o.Union());
        },
        30s);
    if (open.status != shmpipe::Status::ok || !dump.answers(sup, open.request_id, "open", -1))
      return 1;

    std::vector<std::uint32_t> pages;
    if (pages_arg == "all") {
      std::ifstream first(dump.dir + "/0.bin", std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(first)),
                              std::istreambuf_iterator<char>());
      fb::Verifier verifier(reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size());
      if (!verifier.VerifyBuffer<sc::Extraction>("SPEX"))
        return 0; // an Error: nothing more to ask
      const auto *doc = fb::GetRoot<sc::Extraction>(bytes.data())->body_as_DocumentInfo();
      for (std::uint32_t p = 0; doc != nullptr && p < doc->pages(); ++p)
        pages.push_back(p);
    } else {
      std::istringstream in(pages_arg);
      for (std::string item; std::getline(in, item, ',');)
        pages.push_back(static_cast<std::uint32_t>(std::stoul(item)));
    }
    for (const std::uint32_t page : pages) {
      const shmpipe::Sent sent = sup.request<sc::Extraction>(
          [&](fb::FlatBufferBuilder &b) {
            const auto r = sc::CreateExtractRequest(b, b.CreateString(pdf), page, nullptr, dpi);
            return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
          },
          30s);
      if (sent.status != shmpipe::Status::ok || !dump.answers(sup, sent.request_id, "page", page))
        return 1;
    }
    static_cast<void>(sup.shutdown("done", 5s));
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "extract_dump: %s\n", e.what());
    return 1;
  }
}

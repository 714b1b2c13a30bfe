// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Issue 7, item 6: claim scanning through shmpipe (claims::Pipeline: claim_scanner processes
// fed TextBatches built in place, ClaimBatches back) versus the same Hyperscan loop in one
// process (claims::LoadedDatabase::scan over the same documents), for dictionaries of 1k, 10k
// and 100k phrases, in one run.
//
//   claim_scan_bench [--reps N] [--copies N] [--sizes 1000,10000,100000] [--batch-bytes N]
//                    [--scanners-max K] [--ring-kib N] [--scanner PATH] [--out FILE]
//
// Corpus: the fortunes package, one fortune per document (its newlines made spaces: ~166 bytes
// a document), repeated --copies times. Dictionary: web2a phrases (miscfiles) and WordNet noun
// collocations (wordnet-base), deduplicated, shuffled with a fixed seed, the first N taken.
// Each repetition runs the in-process loop and then the pipeline with 1..K scanners on the
// same documents; the table gives medians. Both paths' claims are counted and hashed and must
// agree. Setup (compiling, starting scanners, loading the dictionary) is reported apart: the
// rates are for scanning.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "hyperscan.hpp"
#include "inputs.hpp"
#include "pipeline.hpp"
#include "support/command.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  unsigned reps = 11;
  unsigned copies = 32;
  std::vector<std::size_t> sizes{1000, 10000, 100000};
  std::size_t batch_bytes = std::size_t{256} << 10;
  unsigned scanners_max = 2;
  std::uint64_t ring_bytes = 0; // 0: the pipeline's default
  std::string scanner = CLAIM_SCANNER;
  std::string out;
};

[[noreturn]] void die(const std::string &why) {
  std::fprintf(stderr, "claim_scan_bench: %s\n", why.c_str());
  std::exit(1);
}

std::size_t number(std::string_view text) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0)
    die("not a positive number: '" + std::string(text) + "'");
  return v;
}

Args parse_args(int argc, char **argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc)
      die("usage: claim_scan_bench [--reps N] [--copies N] [--sizes A,B,..] [--batch-bytes N] "
          "[--scanners-max K] [--ring-kib N] [--scanner PATH] [--out FILE]");
    const std::string_view flag = argv[i], value = argv[i + 1];
    if (flag == "--reps")
      a.reps = static_cast<unsigned>(number(value));
    else if (flag == "--copies")
      a.copies = static_cast<unsigned>(number(value));
    else if (flag == "--batch-bytes")
      a.batch_bytes = number(value);
    else if (flag == "--scanners-max")
      a.scanners_max = static_cast<unsigned>(number(value));
    else if (flag == "--scanner")
      a.scanner = value;
    else if (flag == "--ring-kib")
      a.ring_bytes = std::uint64_t{number(value)} << 10;
    else if (flag == "--out")
      a.out = value;
    else if (flag == "--sizes") {
      a.sizes.clear();
      std::stringstream list{std::string(value)};
      for (std::string item; std::getline(list, item, ',');)
        a.sizes.push_back(number(item));
    } else
      die("unknown option " + std::string(flag));
  }
  return a;
}

std::string read_file(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read " + path.string() + " (apt-get install fortunes miscfiles wordnet-base)");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Fortunes, one per line, newlines inside a fortune made spaces.
std::string fortune_documents() {
  std::vector<fs::path> files;
  for (const fs::directory_entry &e : fs::directory_iterator("/usr/share/games/fortunes"))
    if (e.is_regular_file() && e.path().extension() != ".dat" && e.path().extension() != ".u8")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string docs;
  for (const fs::path &f : files) {
    const std::string text = read_file(f);
    std::size_t begin = 0;
    while (begin < text.size()) {
      std::size_t end = text.find("\n%\n", begin);
      if (end == std::string::npos)
        end = text.size();
      std::string doc = text.substr(begin, end - begin);
      std::replace(doc.begin(), doc.end(), '\n', ' ');
      if (!doc.empty() && doc != "%")
        docs += doc + '\n';
      begin = end + 3;
    }
  }
  return docs;
}

/// web2a phrases and WordNet collocations ('_' made ' '), deduplicated, in a fixed shuffle.
std::vector<std::string> phrase_pool() {
  std::vector<std::string> pool;
  std::set<std::string> seen;
  const auto add = [&](std::string phrase) {
    if (!phrase.empty() && seen.insert(phrase).second)
      pool.push_back(std::move(phrase));
  };
  const shmpipe::test::CommandResult zcat =
      shmpipe::test::run_command("zcat /usr/share/dict/web2a.gz");
  if (zcat.status != 0)
    die("cannot decompress /usr/share/dict/web2a.gz (apt-get install miscfiles)");
  std::istringstream web2a(zcat.output);
  for (std::string line; std::getline(web2a, line);)
    add(line);
  std::istringstream nouns(read_file("/usr/share/wordnet/index.noun"));
  for (std::string line; std::getline(nouns, line);) {
    if (line.empty() || line[0] == ' ')
      continue; // the licence header
    std::string lemma = line.substr(0, line.find(' '));
    if (lemma.find('_') == std::string::npos)
      continue; // single words: the dictionary is of phrases
    std::replace(lemma.begin(), lemma.end(), '_', ' ');
    add(lemma);
  }
  std::mt19937_64 rng(7);
  std::shuffle(pool.begin(), pool.end(), rng);
  return pool;
}

struct Digest {
  std::uint64_t claims = 0;
  std::uint64_t hash = 1469598103934665603ull; // FNV-1a over every claim's fields
  void add(std::span<const claims::Claim> batch) {
    claims += batch.size();
    for (const claims::Claim &c : batch)
      for (const std::uint64_t v : {c.doc_id, std::uint64_t{c.offset}, std::uint64_t{c.length},
                                    std::uint64_t{c.pattern_id}})
        hash = (hash ^ v) * 1099511628211ull;
  }
  bool operator==(const Digest &) const = default;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Row {
  std::size_t patterns = 0;
  double database_mb = 0;
  double compile_s = 0;
  std::vector<double> setup_s;                  // one scanner up with the dictionary loaded
  std::vector<std::vector<double>> rates;       // [variant] docs/s per rep (0: in process)
  std::map<unsigned, std::vector<double>> busy; // [variant] scanners' share in their loops
  std::uint64_t claims = 0;
};

} // namespace

int main(int argc, char **argv) {
  const Args args = parse_args(argc, argv);
  const std::string one_copy = fortune_documents();
  std::string all;
  for (unsigned c = 0; c < args.copies; ++c)
    all += one_copy;
  const claims::LineFile doc_file = claims::LineFile::from_bytes(std::move(all));
  const std::vector<std::string_view> &docs = doc_file.lines();
  const double mb = static_cast<double>(doc_file.size_bytes() - docs.size()) / 1e6;
  const std::vector<std::string> pool = phrase_pool();
  std::fprintf(stderr,
               "corpus: %zu documents (%u copies of fortunes), %.2f MB, %.1f bytes/doc; "
               "phrase pool %zu\n",
               docs.size(), args.copies, mb, mb * 1e6 / static_cast<double>(docs.size()),
               pool.size());

  std::vector<Row> rows;
  for (const std::size_t size : args.sizes) {
    if (size > pool.size())
      die("only " + std::to_string(pool.size()) + " phrases in the pool");
    Row row;
    row.patterns = size;
    claims::Dictionary dictionary;
    for (std::size_t i = 0; i < size; ++i) {
      dictionary.patterns.emplace_back(pool[i]);
      dictionary.lengths.push_back(static_cast<std::uint32_t>(pool[i].size()));
    }
    auto start = Clock::now();
    dictionary.database = claims::compile_serialized(dictionary.patterns);
    row.compile_s = std::chrono::duration<double>(Clock::now() - start).count();
    row.database_mb = static_cast<double>(dictionary.database.size()) / 1e6;
    const claims::LoadedDatabase loaded(std::as_bytes(std::span(dictionary.database)),
                                        dictionary.lengths);
    const claims::Cut cut{args.batch_bytes,
                          *std::max_element(dictionary.lengths.begin(), dictionary.lengths.end()) -
                              1u};
    // Variant 0: in process; 1..K: the pipeline with k scanners. Each repetition runs them all,
    // starting with a different one each time, so that the machine's slow spells fall on every
    // variant.
    const unsigned pipelines = args.scanners_max;
    row.rates.resize(pipelines + 1);
    std::vector<claims::Claim> batch;
    std::vector<Digest> pipeline_digests;
    for (unsigned rep = 0; rep < args.reps; ++rep) {
      Digest local;
      for (unsigned i = 0; i <= pipelines; ++i) {
        const unsigned variant = (rep + i) % (pipelines + 1);
        if (variant == 0) {
          // The scanner's loop over the pipeline's own cut: the same DocumentReader splits the
          // same bytes into the same batches, so that both sides pay for finding the lines.
          local = Digest{};
          start = Clock::now();
          claims::DocumentReader reader = claims::DocumentReader::of_bytes(doc_file.bytes());
          const std::atomic<bool> never{false};
          while (std::optional<claims::DocumentBatch> b = reader.next(cut, never)) {
            if (b->piece())
              die("a fortune longer than a batch: raise --batch-bytes");
            for (std::size_t d = 0; d < b->docs(); ++d)
              if (!loaded.scan(b->first_doc + d, b->doc(d), batch))
                die("hs_scan failed");
            local.add(batch);
            batch.clear();
          }
          const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
          row.rates[0].push_back(static_cast<double>(docs.size()) / seconds);
          row.claims = local.claims;
          continue;
        }
        claims::PipelineOptions options;
        options.scanner = args.scanner;
        options.scanners = variant;
        options.batch_bytes = args.batch_bytes;
        if (args.ring_bytes != 0)
          options.min_ring_bytes = args.ring_bytes;
        options.log = [](const std::string &line) { std::fprintf(stderr, "%s\n", line.c_str()); };
        Digest remote;
        claims::Pipeline pipeline(dictionary, claims::DocumentReader::of_bytes(doc_file.bytes()),
                                  options);
        const claims::PipelineReport report =
            pipeline.run([&](std::span<const claims::Claim> claims) { remote.add(claims); });
        pipeline_digests.push_back(remote);
        if (variant == 1)
          row.setup_s.push_back(report.setup_seconds);
        row.rates[variant].push_back(static_cast<double>(docs.size()) / report.scan_seconds);
        row.busy[variant].push_back(static_cast<double>(report.scanner_ns) / 1e9 /
                                    report.scan_seconds / options.scanners);
      }
      for (const Digest &remote : pipeline_digests)
        if (!(remote == local))
          die("the pipeline's claims differ from the in-process loop's (" +
              std::to_string(remote.claims) + " vs " + std::to_string(local.claims) + ")");
      pipeline_digests.clear();
      std::fprintf(stderr, "%zu patterns, rep %u: in-process %.0f docs/s, pipeline x1 %.0f\n", size,
                   rep + 1, row.rates[0].back(), row.rates[1].back());
    }
    rows.push_back(std::move(row));
  }

  std::ostringstream table;
  const double bytes_per_doc = mb * 1e6 / static_cast<double>(docs.size());
  table << "claim_scan_bench: " << docs.size() << " fortune documents (" << args.copies
        << " copies, " << static_cast<int>(bytes_per_doc) << " bytes/doc), batches of "
        << args.batch_bytes << " bytes, medians of " << args.reps
        << " reps; ratio = median of each rep's pipeline / in-process; busy = share of the scan "
           "time the scanners spent in their scan loops\n\n";
  const auto label = [](unsigned variant) { return "pipeline x" + std::to_string(variant); };
  const std::size_t variants = rows.empty() ? 0 : rows.front().rates.size();
  table << "| patterns | DB MB | compile s | scanner up s | in-process docs/s (MB/s) |";
  for (unsigned v = 1; v < variants; ++v)
    table << " " << label(v) << " docs/s (MB/s) | ratio | busy |";
  table << " matches |\n|---|---|---|---|---|";
  for (unsigned v = 1; v < variants; ++v)
    table << "---|---|---|";
  table << "---|\n";
  char cell[160];
  for (const Row &r : rows) {
    const double local = median(r.rates[0]);
    std::snprintf(cell, sizeof cell, "| %zu | %.1f | %.2f | %.3f | %.0f (%.1f) |", r.patterns,
                  r.database_mb, r.compile_s, median(r.setup_s), local,
                  local * bytes_per_doc / 1e6);
    table << cell;
    for (unsigned v = 1; v < variants; ++v) {
      const std::vector<double> &p = r.rates[v];
      std::vector<double> ratios;
      for (std::size_t i = 0; i < p.size(); ++i)
        ratios.push_back(p[i] / r.rates[0][i]);
      const double rate = median(p);
      std::snprintf(cell, sizeof cell, " %.0f (%.1f) | %.3f | %.0f%% |", rate,
                    rate * bytes_per_doc / 1e6, median(ratios), 100 * median(r.busy.at(v)));
      table << cell;
    }
    table << ' ' << r.claims << " |\n";
  }
  std::fputs(table.str().c_str(), stdout);
  if (!args.out.empty()) {
    std::ofstream out(args.out, std::ios::binary);
    out << table.str();
  }
  return 0;
}

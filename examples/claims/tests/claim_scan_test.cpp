// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// End-to-end tests of claim_scan + claim_scanner: the TSV output must equal, byte for byte,
// what the reference Aho-Corasick (aho_corasick.hpp) finds, on generated edge cases, random
// bytes and real text from Debian packages; bad inputs fail with a message naming the file
// and line; a scanner killed in the middle of a batch loses and duplicates nothing; and the
// scanner answers hostile requests with errors and keeps serving. Documents are read as they
// are scanned, and one longer than a batch travels in pieces: DocumentReader's cut is checked
// on its own, and the pipeline's output on long documents with matches across every piece
// boundary.
#include <shmpipe/schemas/claims_shmpipe.h>
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "aho_corasick.hpp"
#include "hyperscan.hpp"
#include "inputs.hpp"
#include "protocol.hpp"
#include "support/command.hpp"

namespace {

namespace fs = std::filesystem;
namespace sc = shmpipe::schema;
namespace ref = claims::reference;
using namespace std::chrono_literals;

using shmpipe::test::read_file;

struct Result {
  int status = -1;
  std::string err; // stderr
};

/// The orchestrator under test: the C++ claim_scan, or claim_scan.py (issue 15) run by the
/// Python the package was built for, with the build tree's shmpipe package. Both must pass the
/// same tests: same output, same exit statuses, same messages but for the program's name.
struct Program {
  std::string name;              ///< how its messages start: "claim_scan" or "claim_scan.py"
  std::vector<std::string> argv; ///< what runs it, before its arguments
  std::vector<std::string> env;  ///< NAME=value pairs it needs
  /// The shell words that run it, with `env` ("NAME=value ...") first.
  [[nodiscard]] std::string command(const std::string &extra_env) const {
    std::string c = extra_env;
    for (const std::string &e : env)
      c += " " + e;
    for (const std::string &a : argv)
      c += " " + a;
    return c;
  }
};

/// For test names and failure messages: the program's name, not its bytes.
void PrintTo(const Program &program, std::ostream *os) { *os << program.name; }

Program cpp_program() { return {"claim_scan", {CLAIM_SCAN}, {}}; }

#ifdef CLAIM_SCAN_PY
Program python_program() {
  std::vector<std::string> env = {"PYTHONPATH=" CLAIM_SCAN_PY_PATH, "PYTHONDONTWRITEBYTECODE=1"};
  if (!std::string(CLAIM_SCAN_PY_PRELOAD).empty()) { // an ASan build (see CMakeLists.txt)
    env.emplace_back("LD_PRELOAD=" CLAIM_SCAN_PY_PRELOAD);
    env.emplace_back("ASAN_OPTIONS=detect_leaks=0:abort_on_error=1");
  }
  return {"claim_scan.py", {CLAIM_SCAN_PYTHON, CLAIM_SCAN_PY}, env};
}
#endif

/// Runs `program` with `args`; stdout is not used, stderr is returned.
Result run_program(const Program &program, const std::string &args, const std::string &env = "") {
  shmpipe::test::CommandResult r =
      shmpipe::test::run_command(program.command(env) + " " + args + " 2>&1 >/dev/null");
  return {r.status, std::move(r.output)};
}

void write_file(const fs::path &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Lines as claim_scan reads them: '\n' separates, a final '\n' ends the last line.
std::vector<std::string> lines_of(const std::string &bytes) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < bytes.size()) {
    std::size_t end = bytes.find('\n', begin);
    if (end == std::string::npos)
      end = bytes.size();
    lines.push_back(bytes.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

std::string joined(const std::vector<std::string> &lines) {
  std::string out;
  for (const std::string &l : lines)
    out += l + '\n';
  return out;
}

/// The text of the fortunes package, one fortune file line per document; empty when the
/// package is not installed.
std::string fortunes_text() {
  const fs::path dir = "/usr/share/games/fortunes";
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const fs::directory_entry &e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() != ".dat" && e.path().extension() != ".u8")
        files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string text;
  for (const fs::path &f : files)
    text += read_file(f);
  return text;
}

class ClaimScanTest : public ::testing::TestWithParam<Program> {
protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    std::replace(name.begin(), name.end(), '/', '-');
    dir_ =
        fs::temp_directory_path() / ("shmpipe-claims-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Runs the program under test with `args`; stdout is not used, stderr is returned.
  Result claim_scan(const std::string &args, const std::string &env = "") const {
    return run_program(GetParam(), args, env);
  }

  /// Writes the inputs, runs claim_scan and compares its output with the reference's.
  void expect_reference_output(const std::vector<std::string> &patterns,
                               const std::string &doc_bytes, const std::string &options = "",
                               const std::string &env = "") {
    write_file(dir_ / "patterns.txt", joined(patterns));
    write_file(dir_ / "docs.txt", doc_bytes);
    const Result r = claim_scan(args() + " " + options, env);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find(GetParam().name + ": docs "), std::string::npos) << r.err;
    // A scanner that a sanitizer (or anything else) killed is restarted and the output can
    // still be right: only a run with a crash injected may restart one.
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
    if (env.empty()) {
      EXPECT_NE(r.err.find("restarts 0)"), std::string::npos) << r.err;
    }
    const std::string expected = ref::to_tsv(ref::all_claims(patterns, lines_of(doc_bytes)));
    const std::string got = read_file(dir_ / "out.tsv");
    ASSERT_EQ(got.size(), expected.size()) << r.err;
    EXPECT_TRUE(got == expected) << "outputs differ";
    last_stderr_ = r.err;
  }

  [[nodiscard]] std::string args() const {
    return "--patterns " + (dir_ / "patterns.txt").string() + " --docs " +
           (dir_ / "docs.txt").string() + " --out " + (dir_ / "out.tsv").string();
  }

  fs::path dir_;
  std::string last_stderr_;
};

TEST_P(ClaimScanTest, OverlappingNestedDuplicateAndEdgePatterns) {
  const std::vector<std::string> patterns = {
      "abc", "bc",  "aaa", "a",      "aa",   "abc" /* duplicate of 0 */,
      "c",   "xyz", "z",   "abcabc", "\xff", std::string("\0b", 2),
      "\r",  "\t",  "é",   "日本",   "本語", "e\xcc\x81" /* e + combining acute */};
  std::string docs;
  docs += "abcaaaa\n";                              // abc@0, bc@1, aaa@3, aaa@4, ...
  docs += "\n";                                     // an empty document
  docs += "abc\n";                                  // a document equal to a pattern
  docs += "xyzabcabcxyz\n";                         // patterns at both edges, nested ones
  docs += std::string("\0b\xff\xff\r\t", 6) + "\n"; // NUL, 0xFF, CR and TAB bytes
  docs += "日本語 café cafe\xcc\x81\n";             // UTF-8, two spellings of é
  docs += "no match here: qwerty\n";
  docs += "zzz"; // the last line has no newline
  expect_reference_output(patterns, docs);
}

TEST_P(ClaimScanTest, RandomBytesManySmallBatchesTwoScanners) {
  std::mt19937_64 rng(20261206);
  for (int round = 0; round < 3; ++round) {
    // A small alphabet makes overlaps and nesting common; the full byte range (but '\n',
    // which separates lines) makes binary documents.
    const bool small_alphabet = round != 1;
    const auto byte = [&]() -> char {
      if (small_alphabet)
        return "ab\0\xff"[rng() % 4];
      char c = '\n';
      while (c == '\n')
        c = static_cast<char>(rng() % 256);
      return c;
    };
    std::vector<std::string> doc_lines(300);
    for (std::string &d : doc_lines)
      for (std::size_t n = rng() % 200; n > 0; --n)
        d += byte();
    std::vector<std::string> patterns;
    for (int i = 0; i < 150; ++i) {
      const std::string &d = doc_lines[rng() % doc_lines.size()];
      if (d.size() < 2 || i % 5 == 0) { // some patterns that may occur nowhere
        std::string p;
        for (std::size_t n = 1 + rng() % 6; n > 0; --n)
          p += byte();
        patterns.push_back(p);
      } else {
        const std::size_t at = rng() % (d.size() - 1);
        patterns.push_back(d.substr(at, 1 + rng() % std::min<std::size_t>(12, d.size() - at)));
      }
    }
    expect_reference_output(patterns, joined(doc_lines),
                            "--scanners 2 --batch-bytes 500 --in-flight 3");
    if (HasFatalFailure())
      return;
  }
}

TEST_P(ClaimScanTest, RepliesSplitIntoManyClaimBatches) {
  // Single letters over long documents: thousands of claims a batch, sent 7 a message.
  std::vector<std::string> patterns = {"a", "b", "ab", "ba", "aba", "e", "the", " "};
  std::string docs;
  for (int i = 0; i < 40; ++i)
    docs += std::string(static_cast<std::size_t>(i) * 50, 'a') + "ababab the bee\n";
  expect_reference_output(patterns, docs, "--chunk-claims 7 --batch-bytes 4096");
}

TEST_P(ClaimScanTest, FortunesWithWebsterPhrases) {
  const std::string text = fortunes_text();
  if (text.empty() || !fs::exists("/usr/share/dict/web2a.gz"))
    GTEST_SKIP() << "needs the fortunes and miscfiles packages";
  const shmpipe::test::CommandResult web2a =
      shmpipe::test::run_command("zcat /usr/share/dict/web2a.gz");
  ASSERT_EQ(web2a.status, 0);
  const std::vector<std::string> patterns = lines_of(web2a.output);
  ASSERT_GT(patterns.size(), 70000u);
  expect_reference_output(patterns, text, "--scanners 2");
}

TEST_P(ClaimScanTest, LicensesWithAmericanEnglishWords) {
  // A dense dictionary (every common word, 'a' and 'I' included) over legal text that every
  // Debian system has: 92k overlapping claims.
  std::string text;
  for (const char *name : {"GPL-3", "Apache-2.0", "MPL-2.0", "Artistic", "BSD"})
    text += read_file(fs::path("/usr/share/common-licenses") / name);
  const std::vector<std::string> words = lines_of(read_file("/usr/share/dict/american-english"));
  if (text.empty() || words.empty())
    GTEST_SKIP() << "needs base-files and wamerican";
  expect_reference_output(words, text);
  EXPECT_NE(last_stderr_.find("patterns " + std::to_string(words.size())), std::string::npos);
}

TEST_P(ClaimScanTest, MissingFilesAreNamed) {
  write_file(dir_ / "patterns.txt", "abc\n");
  Result r = claim_scan("--patterns " + (dir_ / "nope.txt").string() + " --docs " +
                        (dir_ / "patterns.txt").string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot read '" + (dir_ / "nope.txt").string() + "'"), std::string::npos)
      << r.err;
  r = claim_scan("--patterns " + (dir_ / "patterns.txt").string() + " --docs " +
                 (dir_ / "missing-docs").string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("missing-docs"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
}

TEST_P(ClaimScanTest, EmptyDictionaryAndEmptyLinesAreErrors) {
  write_file(dir_ / "docs.txt", "some text\n");
  write_file(dir_ / "patterns.txt", "");
  Result r = claim_scan(args());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is empty: no patterns"), std::string::npos) << r.err;

  write_file(dir_ / "patterns.txt", "one\ntwo\n\nfour\n");
  r = claim_scan(args());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 3 (pattern id 2) is empty"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out.tsv"));
}

TEST_P(ClaimScanTest, PatternHyperscanRefusesIsNamed) {
  write_file(dir_ / "docs.txt", "some text\n");
  write_file(dir_ / "patterns.txt", "ok\nfine\n" + std::string(20000, 'x') + "\n");
  const Result r = claim_scan(args());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 3 (pattern id 2, 20000 bytes): Hyperscan refuses it"),
            std::string::npos)
      << r.err;
}

TEST_P(ClaimScanTest, UsageErrors) {
  EXPECT_EQ(claim_scan("--patterns x").status, 2);
  EXPECT_EQ(claim_scan(args() + " --scanners 0").status, 2);
  EXPECT_EQ(claim_scan(args() + " --frobnicate 1").status, 2);
}

TEST_P(ClaimScanTest, NoDocumentsGiveAnEmptyOutput) { expect_reference_output({"abc"}, ""); }

TEST_P(ClaimScanTest, ScannerKilledMidBatchLosesAndDuplicatesNothing) {
  // The scanner sends the claims it holds for the batch, then dies on document 61 (the
  // marker file makes it happen once): the batch's claims must come once, all of them.
  std::vector<std::string> patterns = {"e", "th", "the", "he", "in", "ing", " "};
  std::string docs;
  for (int i = 0; i < 200; ++i)
    docs += "the thing " + std::to_string(i) + " is in the heap, nothing else\n";
  for (const char *scanners : {"1", "2"}) {
    const fs::path marker = dir_ / (std::string("crashed-") + scanners);
    expect_reference_output(
        patterns, docs, std::string("--batch-bytes 1000 --chunk-claims 10 --scanners ") + scanners,
        "SHMPIPE_CLAIMS_CRASH=61:" + marker.string());
    EXPECT_TRUE(fs::exists(marker));
    EXPECT_NE(last_stderr_.find("exited"), std::string::npos) << last_stderr_;
    EXPECT_NE(last_stderr_.find("restarts 1)"), std::string::npos) << last_stderr_;
  }
}

TEST_P(ClaimScanTest, BatchThatKillsEveryScannerFailsNamingItsDocuments) {
  write_file(dir_ / "patterns.txt", "needle\n");
  std::string docs;
  for (int i = 0; i < 100; ++i)
    docs += "hay hay hay needle " + std::to_string(i) + "\n";
  write_file(dir_ / "docs.txt", docs);
  const Result r = claim_scan(args() + " --batch-bytes 200", "SHMPIPE_CLAIMS_CRASH=42");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("died three times on batch"), std::string::npos) << r.err;
  // "documents A..B, lines A+1..B+1": the range must hold document 42.
  const std::size_t at = r.err.find("(documents ");
  ASSERT_NE(at, std::string::npos) << r.err;
  unsigned long first = 0, last = 0, first_line = 0, last_line = 0;
  ASSERT_EQ(std::sscanf(r.err.c_str() + at, "(documents %lu..%lu, lines %lu..%lu)", &first, &last,
                        &first_line, &last_line),
            4)
      << r.err;
  EXPECT_LE(first, 42u);
  EXPECT_GE(last, 42u);
  EXPECT_EQ(first_line, first + 1);
  EXPECT_EQ(last_line, last + 1);
  EXPECT_FALSE(fs::exists(dir_ / "out.tsv"));
}

TEST_P(ClaimScanTest, ScannerKilledLoadingTheDictionaryIsRestartedWithIt) {
  const fs::path marker = dir_ / "crashed";
  expect_reference_output({"needle", "hay", "y n"}, "hay needle\nneedle hay\nno\n",
                          "--batch-bytes 16", "SHMPIPE_CLAIMS_CRASH_ON_LOAD=" + marker.string());
  EXPECT_TRUE(fs::exists(marker));
  EXPECT_NE(last_stderr_.find("restarts 1)"), std::string::npos) << last_stderr_;
}

TEST_P(ClaimScanTest, ScannerThatLiesAboutAClaimIsCaught) {
  write_file(dir_ / "patterns.txt", "needle\n");
  std::string docs;
  for (int i = 0; i < 20; ++i)
    docs += "hay " + std::to_string(i) + " needle hay\n";
  write_file(dir_ / "docs.txt", docs);
  for (const char *doc : {"7", "13"}) { // 7 holds "needle"; so does 13: both forged
    const Result r =
        claim_scan(args() + " --batch-bytes 100", std::string("SHMPIPE_CLAIMS_FORGE=") + doc);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("invalid claims for batch"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("document " + std::string(doc) + " does not hold pattern 0"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "out.tsv"));
  }
}

/// A byte of a small alphabet, so that patterns cut from a text occur many times, overlapping
/// and nested.
std::string random_text(std::mt19937_64 &rng, std::size_t size, const char *alphabet = "abc") {
  const std::size_t letters = std::strlen(alphabet);
  std::string text(size, ' ');
  for (char &c : text)
    c = alphabet[rng() % letters];
  return text;
}

/// The number after `key` in claim_scan's summary line, or -1.
long long summary_number(const std::string &err, const std::string &key) {
  const std::size_t at = err.find(key + " ");
  return at == std::string::npos ? -1 : std::atoll(err.c_str() + at + key.size() + 1);
}

TEST(DocumentReaderTest, BatchesAndPiecesRebuildEveryDocumentWithinTheCut) {
  // Random documents around the batch size (shorter, equal, one more, many times longer,
  // empty), with and without a final newline, cut with and without look-ahead: the batches'
  // documents and the pieces' own bytes must give back every document, in order, and no
  // batch may hold more than batch_bytes of text plus the look-ahead.
  std::mt19937_64 rng(20261207);
  for (int round = 0; round < 400; ++round) {
    const claims::Cut cut{1 + rng() % 40, round % 3 == 0 ? 0 : rng() % 30};
    const std::size_t b = cut.batch_bytes;
    std::vector<std::string> docs(rng() % 9);
    for (std::string &d : docs) {
      const std::size_t sizes[] = {0, 1, b - 1, b, b + 1, 2 * b, 7 * b + 3, rng() % (5 * b + 5)};
      d = random_text(rng, sizes[rng() % std::size(sizes)]);
    }
    std::string bytes = joined(docs);
    if (!docs.empty() && !docs.back().empty() && rng() % 2 == 0)
      bytes.pop_back(); // the last document without its newline
    claims::DocumentReader reader = claims::DocumentReader::of_bytes(bytes);
    const std::atomic<bool> stop{false};
    std::vector<std::string> rebuilt;
    while (std::optional<claims::DocumentBatch> batch = reader.next(cut, stop)) {
      SCOPED_TRACE("round " + std::to_string(round) + ", batch_bytes " + std::to_string(b) +
                   ", lookahead " + std::to_string(cut.lookahead));
      ASSERT_GE(batch->docs(), 1u);
      ASSERT_EQ(batch->offsets.front(), 0u);
      ASSERT_EQ(batch->offsets.back(), batch->text.size());
      ASSERT_LE(batch->text.size(), b + cut.lookahead);
      if (batch->piece()) {
        ASSERT_EQ(batch->docs(), 1u);
        if (batch->piece_offset == 0)
          rebuilt.emplace_back();
        ASSERT_EQ(batch->first_doc + 1, rebuilt.size());
        ASSERT_EQ(rebuilt.back().size(), batch->piece_offset);
        const std::string &doc = docs[batch->first_doc];
        ASSERT_GT(doc.size(), b) << "only a document longer than a batch goes in pieces";
        ASSERT_LE(batch->piece_length, b);
        // A piece owns batch_bytes (the last one, the rest) and looks ahead as far as the
        // cut says, or to the end of the document.
        const std::size_t left = doc.size() - batch->piece_offset;
        EXPECT_EQ(batch->piece_length, std::min<std::size_t>(b, left));
        EXPECT_EQ(batch->text.size(), std::min(left, batch->piece_length + cut.lookahead));
        EXPECT_EQ(batch->text, doc.substr(batch->piece_offset, batch->text.size()));
        rebuilt.back() += batch->text.substr(0, batch->piece_length);
      } else {
        ASSERT_EQ(batch->first_doc, rebuilt.size());
        std::size_t cost = 0;
        for (std::size_t i = 0; i < batch->docs(); ++i) {
          rebuilt.emplace_back(batch->doc(i));
          cost += batch->doc(i).size() + claims::kTextBatchBytesPerDocument;
        }
        if (batch->docs() > 1) {
          EXPECT_LE(cost, b);
        }
        EXPECT_LE(batch->text.size(), b);
      }
    }
    ASSERT_EQ(rebuilt, docs) << "round " << round;
    EXPECT_EQ(reader.docs(), docs.size());
    std::size_t total = 0;
    for (const std::string &d : docs)
      total += d.size();
    EXPECT_EQ(reader.bytes(), total);
  }
}

TEST_P(ClaimScanTest, OneLongDocumentWithMatchesAcrossEveryPieceBoundary) {
  // 64-byte pieces of a 20 kB document. For every piece boundary: short patterns across it,
  // patterns longer than a piece (100 and 150 bytes: they span two and three boundaries) and
  // patterns nested in those, over an alphabet small enough that the short ones overlap
  // everywhere. Each must be found exactly once, at its offset in the document.
  std::mt19937_64 rng(640);
  const std::string doc = random_text(rng, 20000);
  std::set<std::string> unique = {"a", "b", "ab", "ba", "aba", "abab", "bab", "cc"};
  for (std::size_t at = 128; at + 100 < doc.size(); at += 64) {
    unique.insert(doc.substr(at - 1, 2));
    unique.insert(doc.substr(at - 3, 7));
    unique.insert(doc.substr(at - 40, 100));
    unique.insert(doc.substr(at - 30, 50)); // inside the one above
    unique.insert(doc.substr(at - 75, 150));
  }
  const std::vector<std::string> patterns(unique.begin(), unique.end());
  expect_reference_output(patterns, doc + "\n", "--batch-bytes 64 --scanners 2 --in-flight 3");
  EXPECT_GE(summary_number(last_stderr_, "batches"), 20000 / 64) << last_stderr_;
}

TEST_P(ClaimScanTest, LongDocumentsAmongShortOnesAndALongLastOneWithoutNewline) {
  // Documents of every size around the batch size, long ones next to each other and next to
  // empty ones, and a last document many batches long that ends without a newline: its
  // length a multiple of the batch size, one more and one less.
  std::mt19937_64 rng(257);
  for (const std::size_t batch : {std::size_t{256}, std::size_t{100}, std::size_t{37}}) {
    for (const std::size_t last : {batch * 8, batch * 8 + 1, batch * 8 - 1}) {
      std::vector<std::string> docs;
      for (const std::size_t size : {std::size_t{0}, std::size_t{5}, batch * 6, std::size_t{10},
                                     std::size_t{0}, batch * 3 + 7, batch - 1, batch, batch + 1,
                                     std::size_t{1}, batch * 12, batch * 2, std::size_t{2}})
        docs.push_back(random_text(rng, size, "ab\xff"));
      docs.push_back(random_text(rng, last, "ab\xff"));
      std::set<std::string> unique;
      for (int i = 0; i < 60; ++i) {
        const std::string &d = docs[rng() % docs.size()];
        if (d.size() < 2)
          continue;
        // Up to three pieces long, and at most 300 bytes: Hyperscan 5.4.0's literal mode fails
        // some scans (HS_UNKNOWN_ERROR, intel/hyperscan#303) with several literals of 600+
        // bytes over a small alphabet, also on whole documents.
        const std::size_t length =
            1 + rng() % std::min<std::size_t>({d.size() - 1, 3 * batch, 300});
        unique.insert(d.substr(rng() % (d.size() - length), length));
      }
      std::string bytes = joined(docs);
      bytes.pop_back();
      expect_reference_output(std::vector<std::string>(unique.begin(), unique.end()), bytes,
                              "--batch-bytes " + std::to_string(batch) +
                                  " --scanners 2 --in-flight 2");
      if (HasFatalFailure())
        return;
    }
  }
}

TEST_P(ClaimScanTest, ScannerKilledInTheMiddleOfALongDocumentsPiecesLosesNothing) {
  // Document 1 goes in 256-byte pieces; the scanner sends part of the claims of the piece
  // that holds byte 15000 and dies: that piece and the ones queued behind it come again,
  // the pieces answered before do not.
  std::vector<std::string> patterns = {"e", "th", "the", "he", "in", "ing", " ", "g 1"};
  std::string long_doc;
  for (int i = 0; long_doc.size() < 30000; ++i)
    long_doc += "the thing " + std::to_string(i) + " is in the heap, nothing else; ";
  const std::string docs = "short one\n" + long_doc + "\nanother short one\n";
  for (const char *scanners : {"1", "2"}) {
    const fs::path marker = dir_ / (std::string("crashed-") + scanners);
    expect_reference_output(
        patterns, docs, std::string("--batch-bytes 256 --chunk-claims 5 --scanners ") + scanners,
        "SHMPIPE_CLAIMS_CRASH=1@15000:" + marker.string());
    EXPECT_TRUE(fs::exists(marker));
    EXPECT_NE(last_stderr_.find("restarts 1)"), std::string::npos) << last_stderr_;
  }
}

TEST_P(ClaimScanTest, DocumentLargerThanTheRingTravelsThroughARingSizedForBatches) {
  // A 6 MiB document with 4 KiB batches: the ring stays at its 4 MiB minimum, smaller than
  // the document (sized for the document, it would have been 5 x 6 MiB rounded up: 32 MiB).
  std::mt19937_64 rng(6);
  std::string doc = random_text(rng, std::size_t{6} << 20, "abcdefgh");
  const std::vector<std::string> patterns = {"abcdefg", "hgfedcba", "aaaa", "abcabc", "h"};
  expect_reference_output(patterns, doc + "\n", "--batch-bytes 4096");
  EXPECT_EQ(summary_number(last_stderr_, "ring"), 4 << 20) << last_stderr_;
  EXPECT_GE(summary_number(last_stderr_, "batches"), (6 << 20) / 4096) << last_stderr_;
}

TEST_P(ClaimScanTest, DocumentsAreScannedBeforeTheInputEnds) {
  // The documents come through a pipe whose writer stops half way: a scanner must reach
  // document 5 (the crash hook leaves a marker there, then the scanner is restarted) while
  // the rest has not been written yet. A claim_scan that reads its input whole before it
  // scans would wait for the end of the pipe.
  const std::vector<std::string> patterns = {"needle", "hay", "y n"};
  std::vector<std::string> docs;
  for (int i = 0; i < 200; ++i)
    docs.push_back("hay hay needle " + std::to_string(i) + " hay");
  write_file(dir_ / "patterns.txt", joined(patterns));
  const fs::path fifo = dir_ / "docs.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const fs::path marker = dir_ / "reached";
  Result r;
  std::thread run([&] {
    r = claim_scan("--patterns " + (dir_ / "patterns.txt").string() + " --docs " + fifo.string() +
                       " --out " + (dir_ / "out.tsv").string() + " --batch-bytes 200",
                   "SHMPIPE_CLAIMS_CRASH=5:" + marker.string());
  });
  // The pipe opens once claim_scan opens it for reading (ENXIO until then).
  const auto until = std::chrono::steady_clock::now() + 60s;
  int fd = -1;
  while (fd < 0 && std::chrono::steady_clock::now() < until) {
    fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      std::this_thread::sleep_for(10ms);
  }
  bool reached = false;
  if (fd >= 0) {
    ASSERT_EQ(::fcntl(fd, F_SETFL, 0), 0); // blocking writes from here
    const auto write_all = [&](const std::string &bytes) {
      for (std::size_t at = 0; at < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
        if (n <= 0)
          return;
        at += static_cast<std::size_t>(n);
      }
    };
    const std::vector<std::string> first(docs.begin(), docs.begin() + 100);
    const std::vector<std::string> second(docs.begin() + 100, docs.end());
    write_all(joined(first));
    while (!(reached = fs::exists(marker)) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    write_all(joined(second));
    ::close(fd);
  }
  run.join();
  EXPECT_GE(fd, 0) << "claim_scan never opened the pipe: " << r.err;
  EXPECT_TRUE(reached) << "nothing was scanned before the input ended";
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("restarts 1)"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir_ / "out.tsv"), ref::to_tsv(ref::all_claims(patterns, docs)));
}

/// The scanner on its own, driven through a Supervisor like claim_scan does, with requests
/// that a faulty or hostile core could send.
class ScannerProtocolTest : public ::testing::Test {
protected:
  void SetUp() override {
    shmpipe::SupervisorOptions o;
    o.command = {CLAIM_SCANNER};
    sup_ = std::make_unique<shmpipe::Supervisor>(
        "shmpipe-claims-test-" + std::to_string(::getpid()), std::move(o));
  }

  template <class Build> shmpipe::Incoming ask(Build &&build) {
    const shmpipe::Sent sent = sup_->request<sc::Claims>(std::forward<Build>(build), 10s);
    EXPECT_EQ(sent.status, shmpipe::Status::ok);
    shmpipe::Incoming in = sup_->receive(30s);
    EXPECT_EQ(in.request_id(), sent.request_id);
    return in;
  }

  /// The error code of an Envelope Error answer, or -1.
  static int error_code(shmpipe::Incoming &&in) {
    if (!in.is<sc::Envelope>())
      return -1;
    const auto envelope = std::move(in).as<sc::Envelope>();
    const sc::Error *e = envelope ? envelope->body_as_Error() : nullptr;
    return e != nullptr ? e->code() : -1;
  }

  static flatbuffers::Offset<sc::Claims> pattern_set(flatbuffers::FlatBufferBuilder &b,
                                                     const std::string &database,
                                                     const std::vector<std::uint32_t> &lengths) {
    const auto set = sc::CreatePatternSet(
        b, static_cast<std::uint32_t>(lengths.size()),
        b.CreateVector(reinterpret_cast<const std::uint8_t *>(database.data()), database.size()), 0,
        b.CreateVector(lengths));
    return sc::CreateClaims(b, sc::ClaimsBody::PatternSet, set.Union());
  }

  static flatbuffers::Offset<sc::Claims> text_batch(flatbuffers::FlatBufferBuilder &b,
                                                    std::vector<std::uint32_t> offsets,
                                                    const std::string &bytes, std::size_t docs,
                                                    std::uint64_t piece_offset = 0,
                                                    std::uint32_t piece_length = 0) {
    std::vector<std::uint64_t> ids(docs);
    for (std::size_t i = 0; i < docs; ++i)
      ids[i] = 100 + i;
    const auto column = sc::CreateStringColumn(
        b, b.CreateVector(offsets),
        b.CreateVector(reinterpret_cast<const std::uint8_t *>(bytes.data()), bytes.size()));
    const auto batch =
        sc::CreateTextBatch(b, 9, b.CreateVector(ids), column, piece_offset, piece_length);
    return sc::CreateClaims(b, sc::ClaimsBody::TextBatch, batch.Union());
  }

  std::unique_ptr<shmpipe::Supervisor> sup_;
};

TEST_F(ScannerProtocolTest, HostileRequestsGetErrorsAndTheScannerGoesOn) {
  const pid_t pid = sup_->worker_pid();
  const std::vector<std::string_view> words = {"he", "she", "hers"};
  const std::string database = claims::compile_serialized(words);

  // A batch before any dictionary.
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 3}, "she", 1);
            })),
            claims::kNoDictionary);
  // A damaged database, and a good one whose lengths do not match its pattern count.
  std::string damaged = database;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x5a);
  EXPECT_EQ(error_code(ask([&](auto &b) { return pattern_set(b, "junk junk junk", {2}); })),
            claims::kBadDatabase);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return pattern_set(b, damaged, {2, 3, 4});
            })),
            claims::kBadDatabase);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return pattern_set(b, database, {2, 3, 0});
            })),
            claims::kBadRequest);
  // Lengths for fewer patterns than the database holds load (Hyperscan cannot tell its
  // pattern count), but the first match of a pattern beyond them fails the batch.
  EXPECT_EQ(ask([&](auto &b) { return pattern_set(b, database, {2, 3}); }).is<sc::Claims>(), true);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 6}, "ushers", 1);
            })),
            claims::kScanFailed);
  // The right one loads.
  {
    shmpipe::Incoming in = ask([&](auto &b) { return pattern_set(b, database, {2, 3, 4}); });
    const auto reply = std::move(in).as<sc::Claims>();
    ASSERT_TRUE(reply);
    ASSERT_NE(reply->body_as_PatternSetLoaded(), nullptr);
    EXPECT_EQ(reply->body_as_PatternSetLoaded()->pattern_count(), 3u);
  }
  // Offsets past the bytes, decreasing offsets, a count that disagrees with doc_ids.
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 30}, "ushers", 1);
            })),
            claims::kBadRequest);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 4, 2, 6}, "ushers", 3);
            })),
            claims::kBadRequest);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 6}, "ushers", 2);
            })),
            claims::kBadRequest);
  // And a good batch is still scanned: "ushers" holds she@1, he@2, hers@2.
  shmpipe::Incoming in = ask([&](auto &b) { return text_batch(b, {0, 6}, "ushers", 1); });
  ASSERT_TRUE(in.final());
  const auto reply = std::move(in).as<sc::Claims>();
  ASSERT_TRUE(reply);
  const sc::ClaimBatch *claims = reply->body_as_ClaimBatch();
  ASSERT_NE(claims, nullptr);
  EXPECT_EQ(claims->batch_id(), 9u);
  ASSERT_EQ(claims->doc_id()->size(), 3u);
  const std::vector<std::uint32_t> pattern(claims->pattern_id()->begin(),
                                           claims->pattern_id()->end());
  const std::vector<std::uint32_t> offset(claims->offset()->begin(), claims->offset()->end());
  EXPECT_EQ(pattern, (std::vector<std::uint32_t>{1, 0, 2}));
  EXPECT_EQ(offset, (std::vector<std::uint32_t>{1, 2, 2}));
  EXPECT_EQ(claims->doc_id()->Get(0), 100u);
  EXPECT_EQ(sup_->worker_pid(), pid); // the same process answered everything
  EXPECT_EQ(sup_->restarts(), 0u);
}

// ---- Every exit path cleans up (issue 14): no session segment, no scanner, no partial file.

/// claim_scan in the background, and what it left behind once it ended.
class ClaimScanCleanupTest : public ClaimScanTest {
protected:
  std::unique_ptr<shmpipe::test::Background> start(const std::vector<std::string> &extra,
                                                   const std::vector<std::string> &env = {}) {
    std::vector<std::string> argv = GetParam().argv;
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<std::string> environment = GetParam().env;
    environment.insert(environment.end(), env.begin(), env.end());
    auto program = std::make_unique<shmpipe::test::Background>(argv, dir_ / "log", environment);
    EXPECT_GT(program->pid(), 0);
    return program;
  }
  [[nodiscard]] std::vector<std::string> standard_args() const {
    return {"--patterns", (dir_ / "patterns.txt").string(), "--docs", (dir_ / "docs.txt").string(),
            "--out",      (dir_ / "out.tsv").string()};
  }

  /// The sessions of claim_scan `pid`: shmpipe-claims-PID-K-<random> (or, before names were
  /// random, shmpipe-claims-PID-K).
  [[nodiscard]] static std::vector<std::string> segments_of(pid_t pid) {
    return shmpipe::test::entries_starting_with("/dev/shm",
                                                "shmpipe-claims-" + std::to_string(pid) + "-");
  }

  /// Waits for the end and checks: `status`, no segment, no process of the group, no partial
  /// file, and the files of DIR as `before` (name -> bytes).
  void expect_nothing_left(shmpipe::test::Background &program, int status,
                           const std::map<std::string, std::string> &before) {
    EXPECT_EQ(program.wait(), status) << read_file(dir_ / "log");
    EXPECT_EQ(segments_of(program.pid()), std::vector<std::string>{});
    EXPECT_FALSE(program.group_alive()) << "a scanner outlived claim_scan";
    EXPECT_EQ(files(), before);
  }

  /// The files of DIR (the log aside) with their bytes, or a digest of them past 64 bytes.
  [[nodiscard]] std::map<std::string, std::string> files() const {
    std::map<std::string, std::string> all;
    for (const fs::directory_entry &e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name == "log")
        continue;
      std::string bytes = e.is_directory() ? std::string("<dir>") : read_file(e.path());
      if (bytes.size() > 64)
        bytes = std::to_string(bytes.size()) + " bytes, hash " +
                std::to_string(std::hash<std::string>{}(bytes));
      all[name] = std::move(bytes);
    }
    return all;
  }
};

// --out naming an input, by any spelling, used to replace the input with the results (exit
// status 0). Now refused, status 2, before anything is read or written.
TEST_P(ClaimScanCleanupTest, AnOutputThatIsAnInputIsRefusedAndTheInputKept) {
  write_file(dir_ / "patterns.txt", "needle\nhay\n");
  write_file(dir_ / "docs.txt", "hay needle hay\nneedle\n");
  fs::create_directories(dir_ / "sub");
  fs::create_symlink(dir_ / "docs.txt", dir_ / "docs-link.txt");
  fs::create_hard_link(dir_ / "patterns.txt", dir_ / "patterns-link.txt");
  const std::map<std::string, std::string> before = files();
  const std::string docs = (dir_ / "docs.txt").string();
  const std::string patterns = (dir_ / "patterns.txt").string();
  for (const std::string &out :
       {docs, patterns, (dir_ / "sub" / ".." / "docs.txt").string(),
        (dir_ / "docs-link.txt").string(), (dir_ / "patterns-link.txt").string()}) {
    SCOPED_TRACE("--out " + out);
    auto program = start({"--patterns", patterns, "--docs", docs, "--out", out});
    expect_nothing_left(*program, 2, before);
    EXPECT_NE(read_file(dir_ / "log").find("would be replaced by the results"), std::string::npos)
        << read_file(dir_ / "log");
  }
  // The input named through the link, the output by its own name: the same file too.
  auto program =
      start({"--patterns", patterns, "--docs", (dir_ / "docs-link.txt").string(), "--out", docs});
  expect_nothing_left(*program, 2, before);
}

// Failures before and during the scan, and bad arguments: an earlier complete output stays as
// it was; no partial file, no session, no scanner remains.
TEST_P(ClaimScanCleanupTest, FailuresAndBadArgumentsLeaveNothing) {
  write_file(dir_ / "out.tsv", "0\t0\t0\t6\n"); // an earlier run's output
  write_file(dir_ / "patterns.txt", "needle\n");
  std::string docs;
  for (int i = 0; i < 100; ++i)
    docs += "hay hay hay needle " + std::to_string(i) + "\n";
  write_file(dir_ / "docs.txt", docs);
  std::map<std::string, std::string> before = files();
  {
    SCOPED_TRACE("a batch that kills every scanner (a failure with the scanners running)");
    std::vector<std::string> args = standard_args();
    args.insert(args.end(), {"--batch-bytes", "200", "--scanners", "2"});
    auto program = start(args, {"SHMPIPE_CLAIMS_CRASH=42"});
    expect_nothing_left(*program, 1, before);
  }
  {
    SCOPED_TRACE("missing docs");
    auto program = start({"--patterns", (dir_ / "patterns.txt").string(), "--docs",
                          (dir_ / "missing.txt").string(), "--out", (dir_ / "out.tsv").string()});
    expect_nothing_left(*program, 1, before);
  }
  for (const std::vector<std::string> &bad :
       {std::vector<std::string>{"--scanners", "0"}, {"--frobnicate", "1"}, {"--in-flight"}}) {
    SCOPED_TRACE("bad arguments");
    std::vector<std::string> args = standard_args();
    args.insert(args.end(), bad.begin(), bad.end());
    auto program = start(args);
    expect_nothing_left(*program, 2, before);
  }
  write_file(dir_ / "patterns.txt", "");
  before = files();
  SCOPED_TRACE("an empty dictionary");
  auto program = start(standard_args());
  expect_nothing_left(*program, 1, before);
}

// SIGINT and SIGTERM once the scan runs (sessions exist, claims are being written): the
// scanners are stopped, the sessions and the partial file removed, the earlier output left as
// it was, and the status says which signal ended the run.
TEST_P(ClaimScanCleanupTest, StopSignalsMidRunLeaveNothingAndKeepTheEarlierOutput) {
  write_file(dir_ / "out.tsv", "0\t0\t0\t6\n"); // an earlier run's output
  write_file(dir_ / "patterns.txt", "the\nin\nheap\nthing\n");
  std::string docs;
  for (int i = 0; i < 200000; ++i)
    docs += "the thing " + std::to_string(i) + " is in the heap\n";
  write_file(dir_ / "docs.txt", docs);
  const std::map<std::string, std::string> before = files();
  for (const int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    // One document a batch, one batch in flight: a run of many round trips, long enough to
    // be stopped in the middle.
    std::vector<std::string> args = standard_args();
    args.insert(args.end(), {"--batch-bytes", "64", "--in-flight", "1", "--scanners", "2"});
    auto program = start(args);
    std::vector<std::string> segments;
    const bool started = shmpipe::test::wait_until([&] {
      segments = segments_of(program->pid());
      bool written = false;
      for (const std::string &partial : shmpipe::test::entries_starting_with(dir_, "out.tsv."))
        written = written || fs::file_size(dir_ / partial) > 0;
      return (segments.size() == 2 && written) || !program->running();
    });
    ASSERT_TRUE(started && program->running()) << read_file(dir_ / "log");
    for (const std::string &name : segments) { // shmpipe-claims-PID-K-<16 hex digits>
      const std::string prefix = "shmpipe-claims-" + std::to_string(program->pid()) + "-";
      EXPECT_EQ(name.size(), prefix.size() + 2 + 16) << name;
    }
    program->signal(sig);
    expect_nothing_left(*program, 128 + sig, before);
    EXPECT_NE(read_file(dir_ / "log").find("stopped by SIG"), std::string::npos)
        << read_file(dir_ / "log");
  }
}

// Two runs writing the same output at once each have a partial file of their own (mkstemp),
// and the output is one run's complete result.
TEST_P(ClaimScanCleanupTest, ConcurrentRunsHaveTheirOwnPartialFiles) {
  const std::vector<std::string> patterns = {"the", "in", "heap"};
  std::string docs;
  for (int i = 0; i < 20000; ++i)
    docs += "the thing " + std::to_string(i) + " is in the heap\n";
  write_file(dir_ / "patterns.txt", joined(patterns));
  write_file(dir_ / "docs.txt", docs);
  std::vector<std::string> args = standard_args();
  args.insert(args.end(), {"--batch-bytes", "256"});
  auto first = start(args);
  auto second = start(args);
  EXPECT_EQ(first->wait(), 0);
  EXPECT_EQ(second->wait(), 0);
  EXPECT_EQ(shmpipe::test::entries_starting_with(dir_, "out.tsv."), std::vector<std::string>{});
  EXPECT_TRUE(read_file(dir_ / "out.tsv") ==
              ref::to_tsv(ref::all_claims(patterns, lines_of(docs))));
}

TEST_F(ScannerProtocolTest, PiecesReportOnlyTheirOwnMatchesAtDocumentOffsets) {
  const std::vector<std::string_view> words = {"he", "she", "hers"};
  const std::string database = claims::compile_serialized(words);
  ASSERT_TRUE(ask([&](auto &b) { return pattern_set(b, database, {2, 3, 4}); }).is<sc::Claims>());
  // Not a piece of one document, a piece longer than its text, offsets past 32 bits.
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 3, 6}, "ushers", 2, 0, 3);
            })),
            claims::kBadRequest);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 6}, "ushers", 1, 0, 7);
            })),
            claims::kBadRequest);
  EXPECT_EQ(error_code(ask([&](auto &b) {
              return text_batch(b, {0, 6}, "ushers", 1, UINT32_MAX, 2);
            })),
            claims::kBadRequest);
  // "ushers" at byte 1000 of its document, owning its first two bytes: she starts in them
  // (at 1001); he and hers start at 1002, which the next piece owns.
  shmpipe::Incoming in = ask([&](auto &b) { return text_batch(b, {0, 6}, "ushers", 1, 1000, 2); });
  const auto reply = std::move(in).as<sc::Claims>();
  ASSERT_TRUE(reply);
  const sc::ClaimBatch *claims = reply->body_as_ClaimBatch();
  ASSERT_NE(claims, nullptr);
  ASSERT_EQ(claims->doc_id()->size(), 1u);
  EXPECT_EQ(claims->pattern_id()->Get(0), 1u);
  EXPECT_EQ(claims->offset()->Get(0), 1001u);
  EXPECT_EQ(claims->doc_id()->Get(0), 100u);
  EXPECT_EQ(sup_->restarts(), 0u);
}

// ---- Both orchestrators run every test above.

INSTANTIATE_TEST_SUITE_P(Cpp, ClaimScanTest, ::testing::Values(cpp_program()));
INSTANTIATE_TEST_SUITE_P(Cpp, ClaimScanCleanupTest, ::testing::Values(cpp_program()));

#ifdef CLAIM_SCAN_PY
INSTANTIATE_TEST_SUITE_P(Python, ClaimScanTest, ::testing::Values(python_program()));
INSTANTIATE_TEST_SUITE_P(Python, ClaimScanCleanupTest, ::testing::Values(python_program()));

/// claim_scan.py against claim_scan itself, not only against the reference: the same TSV byte
/// for byte, and the same summary counts, batches included (the documents are cut into the same
/// batches and pieces), over short, empty and long documents, with several batch sizes, scanner
/// counts and claim chunks.
TEST(ClaimScanPythonTest, SameTsvAndSummaryAsClaimScan) {
  const fs::path dir = fs::temp_directory_path() /
                       ("shmpipe-claims-" + std::to_string(::getpid()) + "-same-as-claim_scan");
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937_64 rng(1515);
  std::vector<std::string> docs;
  for (int i = 0; i < 400; ++i) {
    const std::size_t sizes[] = {0, 1, 17, 90, 300, 1000, 5000};
    docs.push_back(random_text(rng, sizes[rng() % std::size(sizes)], "abcd \xff"));
  }
  std::set<std::string> unique = {"a", "ab", "abc", " ", "dd", "\xff\xff"};
  for (int i = 0; i < 200; ++i) {
    const std::string &d = docs[rng() % docs.size()];
    if (d.size() > 2) {
      const std::size_t length = 1 + rng() % std::min<std::size_t>(d.size() - 1, 40);
      unique.insert(d.substr(rng() % (d.size() - length), length));
    }
  }
  write_file(dir / "patterns.txt", joined(std::vector<std::string>(unique.begin(), unique.end())));
  std::string bytes = joined(docs);
  bytes.pop_back(); // the last document without its newline
  write_file(dir / "docs.txt", bytes);
  for (const std::string options : {"", "--scanners 2 --batch-bytes 300 --in-flight 2",
                                    "--scanners 3 --batch-bytes 1000 --chunk-claims 50"}) {
    SCOPED_TRACE(options);
    const std::string args = "--patterns " + (dir / "patterns.txt").string() + " --docs " +
                             (dir / "docs.txt").string() + " " + options + " --out ";
    const Result cpp = run_program(cpp_program(), args + (dir / "cpp.tsv").string());
    const Result py = run_program(python_program(), args + (dir / "py.tsv").string());
    ASSERT_EQ(cpp.status, 0) << cpp.err;
    ASSERT_EQ(py.status, 0) << py.err;
    const std::string expected = read_file(dir / "cpp.tsv");
    EXPECT_GT(expected.size(), 100000u);
    EXPECT_TRUE(read_file(dir / "py.tsv") == expected) << "the TSVs differ";
    for (const char *key : {"docs", "bytes", "patterns", "matches", "batches", "ring", "restarts"})
      EXPECT_EQ(summary_number(py.err, key), summary_number(cpp.err, key)) << key << "\n"
                                                                           << cpp.err << py.err;
  }
  fs::remove_all(dir);
}
#endif

} // namespace

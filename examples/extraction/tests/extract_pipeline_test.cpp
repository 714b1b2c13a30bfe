// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// End-to-end tests of extract_core + extract_worker: ledger PDFs generated at test time
// (testdata/make_ledger_pdf.py, ReportLab) must come out as exactly the rows the generator
// wrote, with one PNG per row; page text must hold the words pdftotext prints; missing,
// damaged and encrypted PDFs fail clearly; a worker killed on a page is restarted and the page
// retried once, then reported while the rest of the document completes.
//
// Every test runs with each worker: "cpp" (extract_worker, poppler) and, when the Python
// package is built, "python" (`--worker python`: extract_worker.py, PyMuPDF). Both must give
// the same ledger.csv and evidence files; the Python worker's page text is compared with
// pdftotext's characters, whitespace aside (poppler's physical layout glues close cells,
// PyMuPDF's words do not).
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/command.hpp"

namespace {

namespace fs = std::filesystem;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;

using shmpipe::test::read_file;

/// Output (stdout and stderr) and exit status of a shell command.
struct Result {
  int status = -1;
  std::string out;
};

Result run(const std::string &command) {
  shmpipe::test::CommandResult r = shmpipe::test::run_command(command + " 2>&1");
  return {r.status, std::move(r.output)};
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::vector<std::string> words_of(const std::string &text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

/// The text without its whitespace.
std::string without_space(const std::string &text) {
  std::string out;
  for (const std::string &w : words_of(text))
    out += w;
  return out;
}

/// The names of the files in `dir`, sorted.
std::vector<std::string> names_in(const fs::path &dir) {
  std::vector<std::string> names = shmpipe::test::entries_starting_with(dir, "");
  std::sort(names.begin(), names.end());
  return names;
}

/// The workers every test runs with (the test's parameter).
std::vector<std::string> workers() {
#ifdef EXTRACT_WORKER_PY
  return {"cpp", "python"};
#else
  return {"cpp"};
#endif
}

/// The pids of the living children of `parent` (from /proc/PID/stat: field 4 is the ppid).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const fs::directory_entry &e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const std::string stat = read_file(e.path() / "stat");
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos)
      continue;
    std::istringstream rest(stat.substr(paren + 1));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent && state != 'Z')
      children.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return children;
}

/// A scratch directory per test, removed afterwards. The parameter names the worker.
class ExtractPipelineTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info->name(); // "Name/worker"
    std::replace(test.begin(), test.end(), '/', '-');
    dir_ =
        fs::temp_directory_path() / ("shmpipe-extract-" + std::to_string(::getpid()) + "-" + test);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  [[nodiscard]] static bool python() { return GetParam() == "python"; }

  /// extract_core's arguments that choose the worker.
  [[nodiscard]] static std::vector<std::string> worker_args() {
    if (python())
      return {"--worker", "python"};
    return {};
  }
  [[nodiscard]] static std::string worker_flag() { return python() ? " --worker python" : ""; }

  /// The command that runs the worker itself (under a Supervisor of the test's own).
  [[nodiscard]] static std::vector<std::string> worker_command() {
#ifdef EXTRACT_WORKER_PY
    if (python())
      return {PYTHON, EXTRACT_WORKER_PY};
#endif
    return {EXTRACT_WORKER};
  }

  /// Page text as the worker should give it: pdftotext's words (the C++ worker), or its
  /// characters without whitespace (the Python worker).
  static void expect_page_text(const std::string &actual, const std::string &oracle,
                               const std::string &name) {
    if (python())
      EXPECT_EQ(without_space(actual), without_space(oracle)) << name;
    else
      EXPECT_EQ(words_of(actual), words_of(oracle)) << name;
  }
  void TearDown() override {
    if (!HasFailure())
      fs::remove_all(dir_);
  }

  /// Generates a ledger PDF and its expected ledger.csv; returns the PDF's path.
  fs::path make_pdf(const std::string &args) {
    const fs::path pdf = dir_ / "ledger.pdf";
    const Result r = run(std::string(PYTHON) + " " + LEDGER_PDF_SCRIPT + " " + pdf.string() + " " +
                         (dir_ / "expected.csv").string() + " " + args);
    EXPECT_EQ(r.status, 0) << r.out;
    return pdf;
  }

  Result extract(const fs::path &pdf, const std::string &extra = "") {
    return run(std::string(EXTRACT_CORE) + worker_flag() + " --pdf " + pdf.string() + " --out " +
               (dir_ / "out").string() + " " + extra);
  }

  /// Every row as expected, one readable PNG per row, page text with pdftotext's words.
  void expect_complete_output(const fs::path &pdf) {
    const std::string expected = read_file(dir_ / "expected.csv");
    const std::string actual = read_file(dir_ / "out" / "ledger.csv");
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(actual, expected);
    const std::vector<std::string> rows = lines_of(expected);
    for (std::size_t i = 1; i < rows.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "row-%06zu.png", i);
      const std::string png = read_file(dir_ / "out" / "evidence" / name);
      ASSERT_GT(png.size(), 8u) << name;
      EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n") << name;
    }
    std::size_t pages = 0;
    for (const fs::directory_entry &e : fs::directory_iterator(dir_ / "out" / "pages")) {
      static_cast<void>(e);
      ++pages;
    }
    ASSERT_GT(pages, 0u);
    for (std::size_t p = 1; p <= pages; ++p) {
      char name[32];
      std::snprintf(name, sizeof name, "page-%04zu.txt", p);
      const Result oracle = run("pdftotext -layout -f " + std::to_string(p) + " -l " +
                                std::to_string(p) + " " + pdf.string() + " -");
      ASSERT_EQ(oracle.status, 0);
      expect_page_text(read_file(dir_ / "out" / "pages" / name), oracle.out, name);
    }
  }

  fs::path dir_;
};

TEST_P(ExtractPipelineTest, VietnameseLedgerOverSeveralPages) {
  const fs::path pdf = make_pdf("--lang vi --rows 240 --seed 1 --bad-rows 3");
  const Result r = extract(pdf);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("rows 240 (not adding up 3)"), std::string::npos) << r.out;
  // The summary line and nothing else (a worker stopped as asked is no news).
  EXPECT_EQ(lines_of(r.out).size(), 1u) << r.out;
  expect_complete_output(pdf);
}

// Every layout the generator makes (the extraction README's "Layouts"), ruled and unruled where
// both exist: ledger.csv byte for byte, a PNG per row, page text as pdftotext's; and where names
// wrap onto three lines, a crop as tall as three lines (crops once cut wrapped rows to one).
TEST_P(ExtractPipelineTest, EveryLayoutIsReadExactlyWithACropPerRow) {
  const std::vector<std::string> layouts = {
      "--lang vi",
      "--rules none --valign top --max-lines 3 --lang en",
      "--rules none --valign middle --max-lines 3",
      "--rules none --valign bottom --max-lines 3 --lang en",
      "--rules grid --valign top --max-lines 3",
      "--rules grid --valign middle --max-lines 3 --lang en",
      "--rules grid --valign bottom --max-lines 3",
      "--split-prices --rules grid --valign middle --page a3-landscape",
      "--split-prices --rules none --page a3-landscape --lang en",
      "--numbering hierarchical --rules grid",
      "--numbering hierarchical --rules none --lang en",
      "--sections --rules grid --valign middle",
      "--sections --rules none --valign bottom --lang en",
      "--page a3-landscape --wide-name --center-headers --rules grid",
      "--page a4-landscape --wide-name --center-headers --rules none --lang en",
      "--narrow-stt --first-stt 990 --rules grid",
      "--narrow-stt --first-stt 990 --rules none --lang en",
      "--merged unit --rules grid --valign middle",
      "--merged code --rules grid --valign bottom --lang en",
  };
  int seed = 40;
  for (const std::string &layout : layouts) {
    SCOPED_TRACE(layout);
    const fs::path pdf = make_pdf(layout + " --rows 45 --seed " + std::to_string(++seed));
    const Result r = extract(pdf, "--force");
    ASSERT_EQ(r.status, 0) << r.out;
    expect_complete_output(pdf);
    if (layout.find("--max-lines 3") == std::string::npos)
      continue;
    std::uint32_t tallest = 0; // pixels, from each PNG's IHDR (big-endian height at 20)
    for (const fs::directory_entry &e : fs::directory_iterator(dir_ / "out" / "evidence")) {
      const std::string png = read_file(e.path());
      ASSERT_GE(png.size(), 24u);
      tallest = std::max(tallest, std::uint32_t{static_cast<unsigned char>(png[20])} << 24 |
                                      std::uint32_t{static_cast<unsigned char>(png[21])} << 16 |
                                      std::uint32_t{static_cast<unsigned char>(png[22])} << 8 |
                                      std::uint32_t{static_cast<unsigned char>(png[23])});
    }
    EXPECT_GE(tallest, 3u * 12u * 150u / 72u) << "no crop holds a three-line row";
  }
}

TEST_P(ExtractPipelineTest, EnglishLedgerWithoutRepeatedHeaders) {
  const fs::path pdf = make_pdf("--lang en --rows 150 --seed 2 --no-repeat-header");
  const Result r = extract(pdf, "--dpi 100 --in-flight 2");
  ASSERT_EQ(r.status, 0) << r.out;
  expect_complete_output(pdf);
}

TEST_P(ExtractPipelineTest, AWorkerKilledOnAPageIsRestartedAndThePageRetried) {
  const fs::path pdf = make_pdf("--lang vi --rows 200 --seed 3");
  const std::string marker = (dir_ / "crashed-once").string();
  const Result r = run("SHMPIPE_EXTRACT_CRASH=1:" + marker + " " + EXTRACT_CORE + worker_flag() +
                       " --pdf " + pdf.string() + " --out " + (dir_ / "out").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(marker)) << "the worker was killed";
  EXPECT_NE(r.out.find("exited"), std::string::npos) << r.out;
  expect_complete_output(pdf);
}

TEST_P(ExtractPipelineTest, APageThatKillsEveryWorkerFailsAndTheRestCompletes) {
  const fs::path pdf = make_pdf("--lang en --rows 200 --seed 4");
  const Result r = run(std::string("SHMPIPE_EXTRACT_CRASH=1 ") + EXTRACT_CORE + worker_flag() +
                       " --pdf " + pdf.string() + " --out " + (dir_ / "out").string());
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("page 2 failed"), std::string::npos) << r.out;
  // Every expected row not on page 2 is there, in order (evidence numbers shift).
  std::vector<std::string> expected;
  for (const std::string &line : lines_of(read_file(dir_ / "expected.csv")))
    if (line.rfind("2,", 0) != 0)
      expected.push_back(line.substr(0, line.rfind(',')));
  std::vector<std::string> actual;
  for (const std::string &line : lines_of(read_file(dir_ / "out" / "ledger.csv")))
    actual.push_back(line.substr(0, line.rfind(',')));
  EXPECT_EQ(actual, expected);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "pages" / "page-0001.txt"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "pages" / "page-0003.txt"));
}

/// How many times the workers of a run opened each page (1-based) to read it: the lines
/// "read PAGE" (0-based) that SHMPIPE_EXTRACT_TRACE=FILE makes them append.
std::map<int, int> reads_in(const fs::path &trace) {
  std::map<int, int> reads;
  for (const std::string &line : lines_of(read_file(trace)))
    if (line.starts_with("read "))
      ++reads[std::stoi(line.substr(5)) + 1];
  return reads;
}

/// The lines of a ledger.csv without its evidence column (numbered from 1 in every output),
/// and without the rows of 1-based `page` when it is not 0.
std::vector<std::string> rows_without_evidence(const std::string &csv, int page = 0) {
  std::vector<std::string> rows;
  for (const std::string &line : lines_of(csv))
    if (page == 0 || !line.starts_with(std::to_string(page) + ","))
      rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

// A worker killed on page 4 of a table whose header is only on page 1: the restarted worker
// gets the layout that page 3 ended with (LedgerBatch.layout, handed back in the request) and
// reads page 4 alone. Every page is read once (the read that crashed aside), where the worker
// used to re-read pages 1 to 3 to find the header; every row comes out right.
TEST_P(ExtractPipelineTest, ARestartedWorkerIsHandedTheLayoutAndRereadsNothing) {
  const fs::path pdf = make_pdf("--lang en --rows 200 --seed 18 --no-repeat-header");
  const fs::path trace = dir_ / "trace";
  const std::string marker = (dir_ / "crashed-once").string();
  const Result r = run("SHMPIPE_EXTRACT_TRACE=" + trace.string() +
                       " SHMPIPE_EXTRACT_CRASH=3:" + marker + " " + EXTRACT_CORE + worker_flag() +
                       " --pdf " + pdf.string() + " --out " + (dir_ / "out").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(marker)) << "the worker was killed";
  EXPECT_NE(r.out.find("exited"), std::string::npos) << r.out;
  expect_complete_output(pdf);
  const std::size_t pages = names_in(dir_ / "out" / "pages").size();
  ASSERT_GE(pages, 5u);
  std::map<int, int> once;
  for (int p = 1; p <= static_cast<int>(pages); ++p)
    once[p] = 1;
  EXPECT_EQ(reads_in(trace), once);
}

// A page that kills every worker that reads it (as a page that crashes poppler does), in a
// table whose header is only on page 1: that page fails alone, and every later page, read by
// restarted workers from the layout the pages before them reported, comes out right. It used
// to fail them all: each restarted worker re-read pages back to the header, the killing one
// among them.
TEST_P(ExtractPipelineTest, APageThatKillsEveryWorkerFailsAloneWithoutRepeatedHeaders) {
  const fs::path pdf = make_pdf("--lang vi --rows 250 --seed 19 --no-repeat-header");
  const fs::path trace = dir_ / "trace";
  const Result r =
      run("SHMPIPE_EXTRACT_TRACE=" + trace.string() + " SHMPIPE_EXTRACT_CRASH=2 " + EXTRACT_CORE +
          worker_flag() + " --pdf " + pdf.string() + " --out " + (dir_ / "out").string());
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("page 3 failed: the worker died on this page twice"), std::string::npos)
      << r.out;
  std::size_t failures = 0;
  for (const std::string &line : lines_of(r.out))
    failures += line.find("failed:") != std::string::npos ? 1u : 0u;
  EXPECT_EQ(failures, 1u) << r.out;
  EXPECT_EQ(rows_without_evidence(read_file(dir_ / "out" / "ledger.csv")),
            rows_without_evidence(read_file(dir_ / "expected.csv"), 3));
  const std::size_t pages = names_in(dir_ / "out" / "pages").size() + 1; // page 3 failed
  ASSERT_GE(pages, 5u);
  std::map<int, int> once;
  for (int p = 1; p <= static_cast<int>(pages); ++p)
    if (p != 3)
      once[p] = 1;
  EXPECT_EQ(reads_in(trace), once);
}

// A document in which no ledger row is found says so, on stderr and in the summary line, with
// why when it can tell, and exits 4 (3 when pages failed too) instead of 0; its page text and
// the header-only ledger.csv are in DIR all the same.
TEST_P(ExtractPipelineTest, NoLedgerRowFoundIsSaidAndExits4) {
  fs::path pdf = make_pdf("--lang en --rows 0 --seed 21"); // a table header, no row under it
  Result r = extract(pdf);
  EXPECT_EQ(r.status, 4) << r.out;
  EXPECT_NE(r.out.find("extract_core: no ledger row found in '" + pdf.string() +
                       "': a table header was recognised on page 1, but no ledger row under it"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("rows 0 (no ledger row found: a table header was recognised on page 1"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(read_file(dir_ / "out" / "ledger.csv"), read_file(dir_ / "expected.csv"));
  EXPECT_EQ(lines_of(read_file(dir_ / "out" / "ledger.csv")).size(), 1u);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "pages" / "page-0001.txt"));

  // A table whose only header is on page 1, read from page 2 on.
  pdf = make_pdf("--lang vi --rows 150 --seed 22 --no-repeat-header");
  r = extract(pdf, "--force --pages 2-3");
  EXPECT_EQ(r.status, 4) << r.out;
  EXPECT_NE(r.out.find("rows 0 (no ledger row found: no table header recognised on any page; "
                       "pages before 2 were not read)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(names_in(dir_ / "out" / "pages"),
            (std::vector<std::string>{"page-0002.txt", "page-0003.txt"}));

  // The page with the header kills every worker: no row, and a failed page: status 3.
  r = run(std::string("SHMPIPE_EXTRACT_CRASH=0 ") + EXTRACT_CORE + worker_flag() +
          " --force --pdf " + pdf.string() + " --out " + (dir_ / "out").string());
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("page 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no ledger row found in '" + pdf.string() +
                       "': no table header recognised on any page that could be read"),
            std::string::npos)
      << r.out;

  r = extract(pdf, "--force"); // rows: no such line
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("no ledger row"), std::string::npos) << r.out;
}

TEST_P(ExtractPipelineTest, MissingDamagedAndEncryptedPdfsFailClearly) {
  Result r = extract(dir_ / "nope.pdf");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("cannot read"), std::string::npos) << r.out;

  const fs::path pdf = make_pdf("--lang en --rows 20 --seed 5");
  const std::string bytes = read_file(pdf);
  {
    std::ofstream junk(dir_ / "junk.pdf", std::ios::binary);
    junk << "%PDF-1.4\nthis is not a PDF at all\n";
  }
  r = extract(dir_ / "junk.pdf");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("cannot open"), std::string::npos) << r.out;

  {
    std::ofstream cut(dir_ / "truncated.pdf", std::ios::binary);
    cut << bytes.substr(0, bytes.size() / 3);
  }
  r = extract(dir_ / "truncated.pdf");
  EXPECT_NE(r.status, 0) << r.out; // poppler may repair part of it: an error either way
  EXPECT_EQ(r.out.find("Segmentation"), std::string::npos) << r.out;

  const Result enc = run("qpdf --encrypt secret owner 256 -- " + pdf.string() + " " +
                         (dir_ / "locked.pdf").string());
  ASSERT_EQ(enc.status, 0) << enc.out;
  r = extract(dir_ / "locked.pdf");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("'" + (dir_ / "locked.pdf").string() +
                       "' is encrypted and needs a password to open"),
            std::string::npos)
      << r.out;

  r = extract(pdf, "--pages 5-9");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("pages"), std::string::npos) << r.out;
}

// Encrypted with an empty user password (only an owner password, which restricts what a reader
// may do): it opens without asking, and is extracted like the plain PDF; the restriction on
// copying text (--extract=n) is not enforced. AES-256 and RC4-128 alike.
TEST_P(ExtractPipelineTest, APdfEncryptedWithAnEmptyUserPasswordIsExtracted) {
  const fs::path pdf = make_pdf("--lang vi --rows 60 --seed 17");
  for (const char *how : {"256 --", "256 --extract=n --", "128 --use-aes=n --"}) {
    SCOPED_TRACE(how);
    const fs::path locked = dir_ / "owner-only.pdf";
    const Result enc = run("qpdf --allow-weak-crypto --encrypt '' owner " + std::string(how) + " " +
                           pdf.string() + " " + locked.string());
    ASSERT_EQ(enc.status, 0) << enc.out;
    ASSERT_NE(read_file(locked).find("/Encrypt"), std::string::npos);
    fs::remove_all(dir_ / "out");
    const Result r = extract(locked);
    ASSERT_EQ(r.status, 0) << r.out;
    expect_complete_output(locked);
  }
}

// The worker answers a damaged document with an Error and goes on serving: the same process
// then opens a good one and extracts a page of it.
TEST_P(ExtractPipelineTest, TheWorkerKeepsServingAfterADamagedPdf) {
  const fs::path good = make_pdf("--lang vi --rows 10 --seed 6");
  {
    std::ofstream junk(dir_ / "junk.pdf", std::ios::binary);
    junk << "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n";
  }
  shmpipe::SupervisorOptions options;
  options.command = worker_command();
  options.session.capacity = std::uint64_t{1} << 24;
  shmpipe::Supervisor sup("shmpipe-extract-test-" + std::to_string(::getpid()), options);
  const pid_t worker = sup.worker_pid();
  const auto open = [&](const fs::path &pdf) {
    const shmpipe::Sent sent = sup.request<sc::Extraction>(
        [&](flatbuffers::FlatBufferBuilder &b) {
          const auto o = sc::CreateOpenDocument(b, b.CreateString(pdf.string()));
          return sc::CreateExtraction(b, 0, sc::ExtractionBody::OpenDocument, o.Union());
        },
        10s);
    EXPECT_EQ(sent.status, shmpipe::Status::ok);
    shmpipe::Incoming in = sup.receive(30s);
    EXPECT_EQ(in.request_id(), sent.request_id)
        << shmpipe::to_string(in.status()) << " " << in.identifier();
    return in;
  };
  {
    shmpipe::Incoming bad = open(dir_ / "junk.pdf");
    ASSERT_TRUE(bad.is<sc::Envelope>());
    const auto error = std::move(bad).as<sc::Envelope>();
    ASSERT_TRUE(error && error->body_as_Error());
    EXPECT_NE(error->body_as_Error()->message()->str().find("cannot open"), std::string::npos);
  } // released: a reader holds one message at a time
  shmpipe::Incoming fine = open(good);
  const auto info = std::move(fine).as<sc::Extraction>();
  ASSERT_TRUE(info && info->body_as_DocumentInfo());
  EXPECT_EQ(info->body_as_DocumentInfo()->pages(), 1u);
  EXPECT_EQ(sup.worker_pid(), worker) << "the same worker, not a restarted one";
  EXPECT_EQ(sup.restarts(), 0u);
}

/// What a worker answered one ExtractRequest with: the layout of its LedgerBatch (absent:
/// nullopt), how many rows, and the Error's code and message if it sent one (nothing else then).
struct PageAnswer {
  std::optional<std::vector<std::uint8_t>> layout;
  std::size_t rows = 0;
  std::size_t messages = 0;
  int error_code = 0;
  std::string error;
};

/// Sends page `page` of `pdf` (with `layout` when given) and collects the answer.
PageAnswer ask_page(shmpipe::Supervisor &sup, const fs::path &pdf, std::uint32_t page,
                    const std::vector<std::uint8_t> *layout) {
  const shmpipe::Sent sent = sup.request<sc::Extraction>(
      [&](flatbuffers::FlatBufferBuilder &b) {
        const auto r = sc::CreateExtractRequest(b, b.CreateString(pdf.string()), page, nullptr, 72,
                                                layout != nullptr ? b.CreateVector(*layout) : 0);
        return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
      },
      10s);
  EXPECT_EQ(sent.status, shmpipe::Status::ok);
  PageAnswer answer;
  for (;;) {
    shmpipe::Incoming in = sup.receive(60s);
    if (!in) {
      ADD_FAILURE() << "no answer: " << shmpipe::to_string(in.status());
      return answer;
    }
    if (in.request_id() != sent.request_id)
      continue;
    ++answer.messages;
    const bool final = in.final();
    if (in.is<sc::Envelope>()) {
      const auto envelope = std::move(in).as<sc::Envelope>();
      const sc::Error *error = envelope ? envelope->body_as_Error() : nullptr;
      EXPECT_NE(error, nullptr);
      if (error != nullptr) {
        answer.error_code = error->code();
        answer.error = error->message() != nullptr ? error->message()->str() : "";
      }
      return answer;
    }
    const auto message = std::move(in).as<sc::Extraction>();
    EXPECT_TRUE(message);
    if (const sc::LedgerBatch *batch = message ? message->body_as_LedgerBatch() : nullptr) {
      answer.rows = batch->page() != nullptr ? batch->page()->size() : 0;
      if (batch->layout() != nullptr)
        answer.layout.emplace(batch->layout()->begin(), batch->layout()->end());
    }
    if (final)
      return answer;
  }
}

// The worker's side of a restart, one request at a time: it reports its reading state after
// each page once it has seen a table; a fresh worker asked for page 2 of a table whose header
// is on page 1 finds no row (it re-reads nothing), and finds them all when the request carries
// the state page 1 left, from either worker (one format). A state that is not one it writes
// (size, version, flags, edges that do not chain) is answered with an Error naming the page,
// before anything else, and leaves the worker's own state as it was.
TEST_P(ExtractPipelineTest, TheWorkerAdoptsAGivenLayoutAndRefusesADamagedOne) {
  const fs::path pdf = make_pdf("--lang vi --rows 120 --seed 20 --no-repeat-header");
  std::size_t page2_rows = 0;
  for (const std::string &line : lines_of(read_file(dir_ / "expected.csv")))
    page2_rows += line.starts_with("2,") ? 1u : 0u;
  ASSERT_GT(page2_rows, 0u);
  const auto supervise = [&](const std::vector<std::string> &command, const char *name) {
    shmpipe::SupervisorOptions options;
    options.command = command;
    options.session.capacity = std::uint64_t{1} << 24;
    return std::make_unique<shmpipe::Supervisor>(
        "shmpipe-extract-test-" + std::to_string(::getpid()) + "-" + name, options);
  };
  // The state after page 1, from each worker there is.
  std::vector<std::vector<std::uint8_t>> layouts;
  std::vector<std::vector<std::string>> commands = {{EXTRACT_WORKER}};
#ifdef EXTRACT_WORKER_PY
  commands.push_back({PYTHON, EXTRACT_WORKER_PY});
#endif
  for (const std::vector<std::string> &command : commands) {
    auto sup = supervise(command, "first");
    const PageAnswer first = ask_page(*sup, pdf, 0, nullptr);
    ASSERT_TRUE(first.layout.has_value()) << command.back();
    // ledger.hpp's format: version, style, lines above and below (u32), the number of columns,
    // then per column its slot and five doubles.
    ASSERT_GT(first.layout->size(), 11u);
    ASSERT_EQ(first.layout->size(), 11u + 41u * (*first.layout)[10]);
    EXPECT_EQ((*first.layout)[0], 1) << "version";
    EXPECT_EQ((*first.layout)[1], 0) << "Vietnamese numbers";
    layouts.push_back(*first.layout);
  }
  auto sup = supervise(worker_command(), "second");
  EXPECT_EQ(ask_page(*sup, pdf, 1, nullptr).rows, 0u) << "a fresh worker re-read page 1";
  std::vector<std::vector<std::uint8_t>> bad;
  const std::vector<std::uint8_t> &good = layouts[0];
  bad.push_back({});
  bad.emplace_back(good.begin(), good.end() - 1);
  bad.push_back(good);
  bad.back().push_back(0);
  for (const std::size_t at : {0u, 1u}) { // version 2, style 2
    bad.push_back(good);
    bad.back()[at] = 2;
  }
  bad.push_back(good); // no columns, with their bytes
  bad.back()[10] = 0;
  const std::size_t columns = good[10];
  for (std::size_t col = 0; col < columns; ++col) {
    const std::size_t at = 11 + 41 * col;
    bad.push_back(good); // a column of no kind
    bad.back()[at] = 0xEE;
    bad.push_back(good); // its centre NaN
    for (std::size_t i = 0; i < 8; ++i)
      bad.back()[at + 1 + i] = i == 6 ? 0xF8 : i == 7 ? 0x7F : 0x00;
    bad.push_back(good); // its header cell's extent reversed: from = +1e300
    for (std::size_t i = 0; i < 8; ++i)
      bad.back()[at + 9 + i] = i == 7 ? 0x7E : 0xFF;
  }
  for (const std::vector<std::uint8_t> &layout : bad) {
    const PageAnswer answer = ask_page(*sup, pdf, 1, &layout);
    EXPECT_EQ(answer.messages, 1u);
    EXPECT_EQ(answer.error_code, 14);
    EXPECT_EQ(answer.error, "the layout sent with page 2 (" + std::to_string(layout.size()) +
                                " bytes) is not a reading state this worker writes");
  }
  EXPECT_EQ(ask_page(*sup, pdf, 1, nullptr).rows, 0u) << "a refused layout was adopted";
  for (const std::vector<std::uint8_t> &layout : layouts) {
    const PageAnswer answer = ask_page(*sup, pdf, 1, &layout);
    EXPECT_EQ(answer.rows, page2_rows);
    EXPECT_EQ(answer.error, "");
    ASSERT_TRUE(answer.layout.has_value());
    EXPECT_EQ(answer.layout->size(), layout.size());
  }
  EXPECT_EQ(sup->restarts(), 0u);
}

TEST_P(ExtractPipelineTest, ARealPdfFromADebianPackage) {
  const fs::path gz = "/usr/share/doc/fontconfig/fontconfig-user.pdf.gz";
  if (!fs::exists(gz))
    GTEST_SKIP() << gz << " is not installed";
  const fs::path pdf = dir_ / "fontconfig-user.pdf";
  ASSERT_EQ(run("gzip -dc " + gz.string() + " > " + pdf.string()).status, 0);
  const Result r = extract(pdf, "--pages 1-4");
  // A manual, not a ledger: its text is extracted, and the run says it found no row.
  ASSERT_EQ(r.status, 4) << r.out;
  EXPECT_NE(r.out.find("no ledger row found in '" + pdf.string() +
                       "': no table header recognised on any page (ledger.csv holds only its "
                       "header line)"),
            std::string::npos)
      << r.out;
  for (int p = 1; p <= 4; ++p) {
    char name[32];
    std::snprintf(name, sizeof name, "page-%04d.txt", p);
    const Result oracle = run("pdftotext -layout -f " + std::to_string(p) + " -l " +
                              std::to_string(p) + " " + pdf.string() + " -");
    expect_page_text(read_file(dir_ / "out" / "pages" / name), oracle.out, name);
  }
}

#ifdef EXTRACT_WORKER_PY
/// Width and height of a PNG file (its IHDR chunk), or {0, 0}.
std::pair<std::uint32_t, std::uint32_t> png_size(const fs::path &path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 24 || bytes.compare(12, 4, "IHDR") != 0)
    return {0, 0};
  const auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i)
      v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

// The two workers side by side on one document: the same ledger.csv byte for byte, the same
// evidence files (names and count), crops of the same size (or one pixel apart: two renderers
// round a crop whose edge falls on a pixel boundary differently), the same page files with
// the same characters.
class WorkerComparisonTest : public ExtractPipelineTest {};

TEST_F(WorkerComparisonTest, BothWorkersGiveTheSameLedgerAndEvidence) {
  const fs::path pdf = make_pdf("--lang vi --rows 300 --seed 14 --bad-rows 2");
  std::map<std::string, fs::path> out;
  for (const std::string worker : {"cpp", "python"}) {
    out[worker] = dir_ / ("out-" + worker);
    const Result r =
        run(std::string(EXTRACT_CORE) + (worker == "python" ? " --worker python" : "") +
            " --dpi 120 --pdf " + pdf.string() + " --out " + out[worker].string());
    ASSERT_EQ(r.status, 0) << worker << ": " << r.out;
  }
  const fs::path &cpp = out["cpp"], &python = out["python"];
  EXPECT_EQ(read_file(python / "ledger.csv"), read_file(cpp / "ledger.csv"));
  EXPECT_EQ(read_file(cpp / "ledger.csv"), read_file(dir_ / "expected.csv"));
  const std::vector<std::string> crops = names_in(cpp / "evidence");
  EXPECT_EQ(crops.size(), 300u);
  ASSERT_EQ(names_in(python / "evidence"), crops);
  std::size_t apart = 0;
  for (const std::string &name : crops) {
    const auto [cw, ch] = png_size(cpp / "evidence" / name);
    const auto [pw, ph] = png_size(python / "evidence" / name);
    ASSERT_GT(cw * ch, 0u) << name;
    EXPECT_LE(std::max(cw, pw) - std::min(cw, pw), 1u) << name << ": " << cw << " vs " << pw;
    EXPECT_LE(std::max(ch, ph) - std::min(ch, ph), 1u) << name << ": " << ch << " vs " << ph;
    apart += cw != pw || ch != ph ? 1 : 0;
  }
  std::printf("crops one pixel apart: %zu of %zu\n", apart, crops.size());
  const std::vector<std::string> pages = names_in(cpp / "pages");
  ASSERT_EQ(names_in(python / "pages"), pages);
  for (const std::string &name : pages)
    EXPECT_EQ(without_space(read_file(python / "pages" / name)),
              without_space(read_file(cpp / "pages" / name)))
        << name;
}
#endif

// ---- Every exit path cleans up (issue 14): no session segment, no worker, no partial output.

/// extract_core in the background, and what it left behind once it ended.
class ExtractCleanupTest : public ExtractPipelineTest {
protected:
  /// DIR/out filled by a run over a seven-page ledger (`before`: its files), and `two`, a
  /// two-page ledger whose run would replace them (DIR/expected.csv is its CSV).
  struct UsedOutput {
    int status;
    fs::path two, out;
    std::map<std::string, std::string> before;
  };
  UsedOutput use_output() {
    fs::rename(make_pdf("--lang vi --rows 200 --seed 15"), dir_ / "many.pdf");
    UsedOutput used{0, make_pdf("--lang en --rows 40 --seed 16"), dir_ / "out", {}};
    used.status = extract(dir_ / "many.pdf").status;
    used.before = files_under(used.out);
    return used;
  }

  /// Starts extract_core --pdf `pdf` --out DIR/out `extra...`.
  std::unique_ptr<shmpipe::test::Background> start(const fs::path &pdf,
                                                   const std::vector<std::string> &extra = {}) {
    std::vector<std::string> argv = {EXTRACT_CORE, "--pdf", pdf.string(), "--out",
                                     (dir_ / "out").string()};
    for (const std::vector<std::string> &more : {worker_args(), extra})
      argv.insert(argv.end(), more.begin(), more.end());
    auto program = std::make_unique<shmpipe::test::Background>(argv, dir_ / "log");
    EXPECT_GT(program->pid(), 0);
    return program;
  }

  /// The segments of extract_core `pid`: shmpipe-extract-PID-<random> (or, before names were
  /// random, shmpipe-extract-PID).
  [[nodiscard]] static std::vector<std::string> segments_of(pid_t pid) {
    const std::string prefix = "shmpipe-extract-" + std::to_string(pid);
    std::vector<std::string> names;
    for (std::string &name : shmpipe::test::entries_starting_with("/dev/shm", prefix))
      if (name.size() == prefix.size() || name[prefix.size()] == '-')
        names.push_back(std::move(name));
    return names;
  }

  /// Runs to the end and checks: `status`, no segment, no process of its group, and `out`
  /// exactly as `before` (a map of its files, empty when DIR/out should not exist).
  void expect_nothing_left(shmpipe::test::Background &program, int status,
                           const std::map<std::string, std::string> &before) {
    EXPECT_EQ(program.wait(), status) << read_file(dir_ / "log");
    EXPECT_EQ(segments_of(program.pid()), std::vector<std::string>{});
    EXPECT_FALSE(program.group_alive()) << "a worker outlived extract_core";
    EXPECT_EQ(files_under(dir_ / "out"), before);
    EXPECT_EQ(read_file(dir_ / "log").find("Traceback"), std::string::npos)
        << read_file(dir_ / "log");
  }

  /// Waits until `program` runs with its session and has staged at least 3 PNGs under
  /// DIR/out that are not in `before`; false if it ended first.
  bool wait_until_mid_run(shmpipe::test::Background &program,
                          const std::map<std::string, std::string> &before = {}) {
    const bool started = shmpipe::test::wait_until([&] {
      std::size_t pngs = 0;
      for (const auto &[name, bytes] : files_under(dir_ / "out"))
        pngs += name.ends_with(".png") && !before.contains(name) ? 1u : 0u;
      return (!segments_of(program.pid()).empty() && pngs >= 3) || !program.running();
    });
    return started && program.running();
  }

  /// Every file under `root` (hidden ones too), by relative path, with its bytes (a digest
  /// of them for files over 64 bytes: PNGs are not for printing).
  static std::map<std::string, std::string> files_under(const fs::path &root) {
    std::map<std::string, std::string> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string bytes = it->is_directory() ? std::string("<dir>") : read_file(it->path());
      if (bytes.size() > 64)
        bytes = std::to_string(bytes.size()) + " bytes, hash " +
                std::to_string(std::hash<std::string>{}(bytes));
      files[fs::relative(it->path(), root).string()] = std::move(bytes);
    }
    return files;
  }

  /// A complete output of an earlier run, as the files a later run must leave alone.
  std::map<std::string, std::string> previous_output() {
    fs::create_directories(dir_ / "out" / "pages");
    fs::create_directories(dir_ / "out" / "evidence");
    const std::map<std::string, std::string> files = {{"ledger.csv", "page,stt\n1,earlier run\n"},
                                                      {"pages/page-0001.txt", "earlier page\n"},
                                                      {"evidence/row-000001.png", "earlier png"},
                                                      {"notes.txt", "the user's own file\n"}};
    for (const auto &[name, bytes] : files)
      std::ofstream(dir_ / "out" / name, std::ios::binary) << bytes;
    std::map<std::string, std::string> all = files;
    all["pages"] = all["evidence"] = "<dir>";
    return all;
  }
};

// A handled failure used to call std::exit with the Supervisor alive: its 64 MiB segment
// stayed in /dev/shm each time. Now every one ends with the segment removed, the worker
// stopped, and DIR/out as it was: absent, or holding an earlier run's output.
TEST_P(ExtractCleanupTest, HandledFailuresLeaveNoSegmentNoWorkerAndNoOutput) {
  const fs::path pdf = make_pdf("--lang en --rows 20 --seed 7");
  std::ofstream(dir_ / "junk.pdf", std::ios::binary) << "%PDF-1.4\nthis is not a PDF at all\n";
  std::ofstream(dir_ / "empty.pdf", std::ios::binary) << "";
  ASSERT_EQ(run("qpdf --encrypt secret owner 256 -- " + pdf.string() + " " +
                (dir_ / "locked.pdf").string())
                .status,
            0);
  for (const bool earlier : {false, true}) {
    fs::remove_all(dir_ / "out");
    const std::map<std::string, std::string> before =
        earlier ? previous_output() : std::map<std::string, std::string>{};
    // Over an earlier output, --force: else the run is refused before it reads the PDF.
    const std::vector<std::string> force =
        earlier ? std::vector<std::string>{"--force"} : std::vector<std::string>{};
    for (const char *bad : {"junk.pdf", "empty.pdf", "locked.pdf"}) {
      SCOPED_TRACE(std::string(bad) + (earlier ? " over an earlier output" : ""));
      auto program = start(dir_ / bad, force);
      expect_nothing_left(*program, 1, before);
    }
    SCOPED_TRACE("--pages past the end");
    std::vector<std::string> pages = {"--pages", "2-3"};
    pages.insert(pages.end(), force.begin(), force.end());
    auto program = start(pdf, pages);
    expect_nothing_left(*program, 2, before);
    EXPECT_NE(read_file(dir_ / "log").find("the document has 1 pages"), std::string::npos)
        << read_file(dir_ / "log");
  }
}

TEST_P(ExtractCleanupTest, BadArgumentsLeaveNothing) {
  const fs::path pdf = make_pdf("--lang en --rows 5 --seed 8");
  const std::map<std::string, std::string> before = previous_output();
  for (const std::vector<std::string> &extra : {std::vector<std::string>{"--dpi", "5"},
                                                {"--pages", "x"},
                                                {"--frobnicate", "1"},
                                                {"--force", "--worker", ""}}) {
    auto program = start(pdf, extra);
    expect_nothing_left(*program, 2, before);
  }
  // A repeated option used to win silently over the first: another PDF, another DIR.
  auto program = start(pdf, {"--force", "--pdf", (dir_ / "other.pdf").string()});
  expect_nothing_left(*program, 2, before);
  EXPECT_NE(read_file(dir_ / "log").find("--pdf given twice"), std::string::npos)
      << read_file(dir_ / "log");
}

// SIGINT and SIGTERM in the middle of a run (the session exists and PNGs are being staged):
// the run stops, the worker is stopped, the segment removed, the staged files deleted, and an
// earlier complete output is left exactly as it was. The status says which signal ended it.
TEST_P(ExtractCleanupTest, StopSignalsMidRunLeaveNothingAndKeepTheEarlierOutput) {
  const fs::path pdf = make_pdf("--lang vi --rows 1500 --seed 9");
  for (const int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    fs::remove_all(dir_ / "out");
    const std::map<std::string, std::string> before = previous_output();
    auto program = start(pdf, {"--force"});
    // Started: its session exists, and files are being written under DIR/out.
    ASSERT_TRUE(wait_until_mid_run(*program, before)) << read_file(dir_ / "log");
    const std::vector<std::string> segments = segments_of(program->pid());
    // The name ends in 16 random hex digits: nobody can create it first.
    ASSERT_EQ(segments.size(), 1u);
    const std::string prefix = "shmpipe-extract-" + std::to_string(program->pid()) + "-";
    EXPECT_EQ(segments[0].size(), prefix.size() + 16) << segments[0];
    program->signal(sig);
    expect_nothing_left(*program, 128 + sig, before);
    EXPECT_NE(read_file(dir_ / "log").find("stopped by SIG"), std::string::npos)
        << read_file(dir_ / "log");
  }
}

// Ctrl-C in a terminal signals the whole foreground process group: the worker gets SIGINT too
// (a Python worker must not print a KeyboardInterrupt traceback, and the C++ one dies of it).
// extract_core still ends by SIGINT with nothing left behind and the earlier output intact.
TEST_P(ExtractCleanupTest, CtrlCToTheWholeGroupLeavesNothing) {
  const fs::path pdf = make_pdf("--lang en --rows 1500 --seed 12");
  const std::map<std::string, std::string> before = previous_output();
  auto program = start(pdf, {"--force"});
  ASSERT_TRUE(wait_until_mid_run(*program, before)) << read_file(dir_ / "log");
  ASSERT_EQ(::kill(-program->pid(), SIGINT), 0);
  expect_nothing_left(*program, 128 + SIGINT, before);
  EXPECT_EQ(read_file(dir_ / "log").find("KeyboardInterrupt"), std::string::npos)
      << read_file(dir_ / "log");
}

// SIGTERM to the worker alone (an administrator, an OOM policy): it ends cleanly (no
// traceback), the supervisor restarts it, the page it was on is sent again, and the run
// completes with everything in it.
TEST_P(ExtractCleanupTest, AWorkerEndedBySigtermIsRestartedAndTheRunCompletes) {
  const fs::path pdf = make_pdf("--lang vi --rows 600 --seed 13");
  auto program = start(pdf);
  ASSERT_TRUE(wait_until_mid_run(*program)) << read_file(dir_ / "log");
  const std::vector<pid_t> workers = children_of(program->pid());
  ASSERT_EQ(workers.size(), 1u) << read_file(dir_ / "log");
  ASSERT_EQ(::kill(workers[0], SIGTERM), 0);
  EXPECT_EQ(program->wait(), 0) << read_file(dir_ / "log");
  const std::string log = read_file(dir_ / "log");
  EXPECT_NE(log.find("worker " + std::to_string(workers[0]) + " exited"), std::string::npos) << log;
  EXPECT_NE(log.find("signal 15"), std::string::npos) << log;
  EXPECT_EQ(log.find("Traceback"), std::string::npos) << log;
  EXPECT_EQ(segments_of(program->pid()), std::vector<std::string>{});
  EXPECT_FALSE(program->group_alive());
  expect_complete_output(pdf);
}

// Results that would replace the PDF are refused before anything is written: the PDF as
// DIR/ledger.csv (also through a symlink, a hard link or another spelling of DIR), or inside
// DIR/pages or DIR/evidence, which a run replaces as a whole. A PDF elsewhere in DIR is fine.
TEST_P(ExtractCleanupTest, AnOutputThatWouldReplaceThePdfIsRefused) {
  const fs::path pdf = make_pdf("--lang en --rows 10 --seed 10");
  const std::string bytes = read_file(pdf);
  const fs::path out = dir_ / "out";
  const auto refused = [&](const fs::path &input, const fs::path &out_dir) {
    for (const bool force : {false, true}) { // --force replaces results, never the PDF
      SCOPED_TRACE(input.string() + " into " + out_dir.string() + (force ? " --force" : ""));
      const std::map<std::string, std::string> before = files_under(out);
      std::vector<std::string> argv = {EXTRACT_CORE, "--pdf", input.string(), "--out",
                                       out_dir.string()};
      for (const std::string &a : worker_args())
        argv.push_back(a);
      if (force)
        argv.push_back("--force");
      shmpipe::test::Background program(argv, dir_ / "log");
      EXPECT_EQ(program.wait(), 2) << read_file(dir_ / "log");
      EXPECT_NE(read_file(dir_ / "log").find("PDF"), std::string::npos) << read_file(dir_ / "log");
      EXPECT_EQ(segments_of(program.pid()), std::vector<std::string>{});
      EXPECT_EQ(files_under(out), before);
      EXPECT_EQ(read_file(input), bytes);
    }
  };
  fs::create_directories(out / "pages");
  fs::copy_file(pdf, out / "ledger.csv");
  refused(out / "ledger.csv", out);
  refused(out / "ledger.csv", dir_ / "out" / ".." / "out" / ".");
  fs::create_symlink(out / "ledger.csv", dir_ / "link.pdf");
  refused(dir_ / "link.pdf", out);
  fs::remove(out / "ledger.csv");
  fs::create_hard_link(pdf, out / "ledger.csv");
  refused(pdf, out);
  fs::remove(out / "ledger.csv");
  fs::copy_file(pdf, out / "pages" / "doc.pdf");
  refused(out / "pages" / "doc.pdf", out);
  fs::create_directories(out / "evidence" / "sub");
  fs::copy_file(pdf, out / "evidence" / "sub" / "doc.pdf");
  refused(out / "evidence" / "sub" / "doc.pdf", out);

  fs::copy_file(pdf, out / "doc.pdf"); // in DIR but not replaced: extracted as usual
  const Result r = extract(out / "doc.pdf", "--force"); // over the pages/ and evidence/ there
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_file(out / "doc.pdf"), bytes);
  EXPECT_EQ(read_file(out / "ledger.csv"), read_file(dir_ / "expected.csv"));
}

// Two runs into one DIR at once: each stages in a directory of its own (the staged PNG names
// used to be the same for both, and each deleted the other's), both complete, and DIR ends
// with a complete output.
TEST_P(ExtractCleanupTest, ConcurrentRunsIntoOneDirectoryDoNotShareStagedFiles) {
  const fs::path pdf = make_pdf("--lang vi --rows 120 --seed 11");
  // --force: a run that starts after the other committed would be refused without it.
  auto first = start(pdf, {"--force"});
  auto second = start(pdf, {"--force"});
  EXPECT_EQ(first->wait(), 0);
  EXPECT_EQ(second->wait(), 0);
  EXPECT_EQ(shmpipe::test::entries_starting_with(dir_ / "out", ".extract_core-"),
            std::vector<std::string>{});
  expect_complete_output(pdf);
}

// A DIR that holds an earlier run's results is refused (status 2, nothing changed) unless
// --force says to replace them; then pages/, evidence/ and ledger.csv are the new run's alone
// (another document, or fewer pages, leaves nothing of the earlier run behind) and the user's
// own files stay. An --out that is a file is refused too.
TEST_P(ExtractCleanupTest, AUsedOutputIsRefusedWithoutForceAndReplacedWholeWithIt) {
  const fs::path many = make_pdf("--lang vi --rows 200 --seed 15"); // seven pages
  fs::rename(many, dir_ / "many.pdf");
  fs::rename(dir_ / "expected.csv", dir_ / "many.csv");
  const fs::path two = make_pdf("--lang en --rows 40 --seed 16"); // two pages
  const fs::path out = dir_ / "out";
  ASSERT_EQ(extract(dir_ / "many.pdf").status, 0);
  std::ofstream(out / "notes.txt") << "the user's own file\n";
  ASSERT_GT(names_in(out / "pages").size(), 3u);
  const auto refused = [&](const std::vector<std::string> &extra, const std::string &why) {
    const std::map<std::string, std::string> before = files_under(out);
    auto program = start(two, extra);
    expect_nothing_left(*program, 2, before);
    EXPECT_NE(read_file(dir_ / "log").find(why), std::string::npos) << read_file(dir_ / "log");
  };
  refused({}, "holds the results of an earlier run (pages, evidence, ledger.csv): --force");
  refused({"--pages", "1-1"}, "--force replaces them");
  fs::remove_all(out / "pages"); // any one of the three is enough
  fs::remove_all(out / "evidence");
  refused({}, "(ledger.csv)");
  ASSERT_EQ(extract(dir_ / "many.pdf", "--force").status, 0);

  Result r = extract(two, "--force");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(names_in(out / "pages"), (std::vector<std::string>{"page-0001.txt", "page-0002.txt"}));
  EXPECT_EQ(read_file(out / "ledger.csv"), read_file(dir_ / "expected.csv"));
  EXPECT_EQ(names_in(out / "evidence").size(), 40u);
  EXPECT_EQ(read_file(out / "notes.txt"), "the user's own file\n");

  r = extract(dir_ / "many.pdf", "--force --pages 3-3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(names_in(out / "pages"), std::vector<std::string>{"page-0003.txt"});
  std::string page3;
  std::size_t rows3 = 0;
  for (const std::string &line : lines_of(read_file(dir_ / "many.csv")))
    if (line.starts_with("page,") || line.starts_with("3,")) {
      page3 += line + "\n";
      rows3 += line.starts_with("3,") ? 1u : 0u;
    }
  ASSERT_GT(rows3, 0u);
  // The evidence numbers restart at 1: compare without that column.
  const auto without_evidence = [](const std::string &csv) {
    std::string cut;
    for (const std::string &line : lines_of(csv))
      cut += line.substr(0, line.rfind(',')) + "\n";
    return cut;
  };
  EXPECT_EQ(without_evidence(read_file(out / "ledger.csv")), without_evidence(page3));
  EXPECT_EQ(names_in(out / "evidence").size(), rows3);

  std::ofstream(dir_ / "a-file") << "not a directory\n";
  std::vector<std::string> argv = {
      EXTRACT_CORE, "--pdf", two.string(), "--out", (dir_ / "a-file").string(), "--force"};
  shmpipe::test::Background program(argv, dir_ / "log");
  EXPECT_EQ(program.wait(), 2);
  EXPECT_NE(read_file(dir_ / "log").find("is not a directory"), std::string::npos)
      << read_file(dir_ / "log");
  EXPECT_EQ(read_file(dir_ / "a-file"), "not a directory\n");
}

// A commit holds an flock on DIR while it moves the results in, so that runs into one DIR at
// once commit one after the other and DIR never ends with one run's pages/ beside another's
// ledger.csv. Here the test holds the lock: the run has staged everything and waits, DIR keeps
// the earlier output; a stop signal still ends it with nothing changed; once the lock is
// released a run commits and ends.
TEST_P(ExtractCleanupTest, ACommitWaitsForTheLockOnTheDirectory) {
  const UsedOutput used = use_output();
  ASSERT_EQ(used.status, 0);
  const fs::path &two = used.two, &out = used.out;
  const std::map<std::string, std::string> &before = used.before;
  const int fd = ::open(out.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  const auto staged_and_waiting = [&](shmpipe::test::Background &program) {
    // Staged to the end (ledger.csv is written last, just before the commit).
    const bool staged = shmpipe::test::wait_until([&] {
      for (const std::string &name : shmpipe::test::entries_starting_with(out, ".extract_core-"))
        if (fs::exists(out / name / "ledger.csv"))
          return true;
      return !program.running();
    });
    EXPECT_TRUE(staged && program.running()) << read_file(dir_ / "log");
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(program.running());
    std::map<std::string, std::string> now = files_under(out);
    std::erase_if(now, [](const auto &file) { return file.first.starts_with(".extract_core-"); });
    EXPECT_EQ(now, before) << "committed while another held the lock";
  };
  auto stopped = start(two, {"--force"});
  staged_and_waiting(*stopped);
  stopped->signal(SIGTERM);
  // Within a few seconds, not after the 30 s a commit waits for the lock at most.
  EXPECT_TRUE(shmpipe::test::wait_until([&] { return !stopped->running(); }, 10s));
  expect_nothing_left(*stopped, 128 + SIGTERM, before);

  auto program = start(two, {"--force"});
  staged_and_waiting(*program);
  ::close(fd); // releases it
  EXPECT_EQ(program->wait(), 0) << read_file(dir_ / "log");
  EXPECT_EQ(read_file(out / "ledger.csv"), read_file(dir_ / "expected.csv"));
  EXPECT_EQ(names_in(out / "pages"), (std::vector<std::string>{"page-0001.txt", "page-0002.txt"}));
}

// A commit that cannot move one of the results puts back those it had moved: the run fails
// (status 1) and DIR holds the earlier run's output, not the new pages/ beside the old
// evidence/ and ledger.csv (as it did). The old evidence/ is made immovable (immutable as root,
// read-only otherwise: moving a directory to another parent writes its "..").
TEST_P(ExtractCleanupTest, AFailedCommitPutsBackWhatItHadMoved) {
  const UsedOutput used = use_output();
  ASSERT_EQ(used.status, 0);
  const fs::path &two = used.two, &out = used.out;
  const std::map<std::string, std::string> &before = used.before;
  const fs::path evidence = out / "evidence";
  const bool root = ::geteuid() == 0;
  if (root ? run("chattr +i " + evidence.string()).status != 0
           : (fs::permissions(evidence, fs::perms::owner_write, fs::perm_options::remove), false))
    GTEST_SKIP() << "cannot make " << evidence << " immutable";
  struct Restore {
    fs::path dir;
    bool root;
    ~Restore() {
      if (root)
        static_cast<void>(run("chattr -i " + dir.string()));
      else
        fs::permissions(dir, fs::perms::owner_write, fs::perm_options::add);
    }
  } restore{evidence, root};
  auto program = start(two, {"--force"});
  expect_nothing_left(*program, 1, before);
  const std::string log = read_file(dir_ / "log");
  EXPECT_NE(log.find("cannot move"), std::string::npos) << log;
  EXPECT_NE(log.find("is as it was"), std::string::npos) << log;
  EXPECT_EQ(shmpipe::test::entries_starting_with(out, ".extract_core-"),
            std::vector<std::string>{});
}

// A disk that fills up while page text (or a crop) is written fails the run (status 1) with the
// file that could not be written and why, and leaves nothing behind. A page text that could not
// be written used to be blamed on the worker: every page "failed: an inconsistent message from
// the worker". DIR is a 4 KiB tmpfs in a mount namespace of the test's own (root only).
TEST_P(ExtractCleanupTest, AFullDiskFailsTheRunAndSaysWhatCouldNotBeWritten) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs a mount namespace of its own (root)";
  const fs::path pdf = make_pdf("--lang vi --rows 200 --seed 23"); // 4.5 KiB of text on page 1
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  const Result r =
      run("unshare -m sh -c 'mount -t tmpfs -o size=4k tmpfs " + small.string() + " || exit 99; " +
          EXTRACT_CORE + worker_flag() + " --pdf " + pdf.string() + " --out " +
          (small / "out").string() + "; echo status $?; ls -A " + small.string() + "'");
  if (r.status == 99 || r.out.find("status ") == std::string::npos)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << r.out;
  EXPECT_NE(r.out.find("status 1"), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("extract_core: cannot write " + (small / "out").string() + "/.extract_core-"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(": No space left on device\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("inconsistent"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("libpng"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.ends_with("status 1\n")) << "something left in DIR: " << r.out;
}

std::string worker_name(const ::testing::TestParamInfo<std::string> &info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Workers, ExtractPipelineTest, ::testing::ValuesIn(workers()), worker_name);
INSTANTIATE_TEST_SUITE_P(Workers, ExtractCleanupTest, ::testing::ValuesIn(workers()), worker_name);

} // namespace

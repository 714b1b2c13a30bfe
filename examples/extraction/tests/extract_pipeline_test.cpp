// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// End-to-end tests of extract_core + extract_worker: ledger PDFs generated at test time
// (testdata/make_ledger_pdf.py, ReportLab) must come out as exactly the rows the generator
// wrote, with one PNG per row; page text must hold the words pdftotext prints; missing,
// damaged and encrypted PDFs fail clearly; a worker killed on a page is restarted and the page
// retried once, then reported while the rest of the document completes.
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

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

/// A scratch directory per test, removed afterwards.
class ExtractPipelineTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("shmpipe-extract-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
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
    return run(std::string(EXTRACT_CORE) + " --pdf " + pdf.string() + " --out " +
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
      EXPECT_EQ(words_of(read_file(dir_ / "out" / "pages" / name)), words_of(oracle.out)) << name;
    }
  }

  fs::path dir_;
};

TEST_F(ExtractPipelineTest, VietnameseLedgerOverSeveralPages) {
  const fs::path pdf = make_pdf("--lang vi --rows 240 --seed 1 --bad-rows 3");
  const Result r = extract(pdf);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("rows 240 (not adding up 3)"), std::string::npos) << r.out;
  expect_complete_output(pdf);
}

TEST_F(ExtractPipelineTest, EnglishLedgerWithoutRepeatedHeaders) {
  const fs::path pdf = make_pdf("--lang en --rows 150 --seed 2 --no-repeat-header");
  const Result r = extract(pdf, "--dpi 100 --in-flight 2");
  ASSERT_EQ(r.status, 0) << r.out;
  expect_complete_output(pdf);
}

TEST_F(ExtractPipelineTest, AWorkerKilledOnAPageIsRestartedAndThePageRetried) {
  const fs::path pdf = make_pdf("--lang vi --rows 200 --seed 3");
  const std::string marker = (dir_ / "crashed-once").string();
  const Result r = run("SHMPIPE_EXTRACT_CRASH=1:" + marker + " " + EXTRACT_CORE + " --pdf " +
                       pdf.string() + " --out " + (dir_ / "out").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(marker)) << "the worker was killed";
  EXPECT_NE(r.out.find("exited"), std::string::npos) << r.out;
  expect_complete_output(pdf);
}

TEST_F(ExtractPipelineTest, APageThatKillsEveryWorkerFailsAndTheRestCompletes) {
  const fs::path pdf = make_pdf("--lang en --rows 200 --seed 4");
  const Result r = run(std::string("SHMPIPE_EXTRACT_CRASH=1 ") + EXTRACT_CORE + " --pdf " +
                       pdf.string() + " --out " + (dir_ / "out").string());
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

TEST_F(ExtractPipelineTest, MissingDamagedAndEncryptedPdfsFailClearly) {
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
  EXPECT_NE(r.out.find("encrypted"), std::string::npos) << r.out;

  r = extract(pdf, "--pages 5-9");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("pages"), std::string::npos) << r.out;
}

// The worker answers a damaged document with an Error and goes on serving: the same process
// then opens a good one and extracts a page of it.
TEST_F(ExtractPipelineTest, TheWorkerKeepsServingAfterADamagedPdf) {
  const fs::path good = make_pdf("--lang vi --rows 10 --seed 6");
  {
    std::ofstream junk(dir_ / "junk.pdf", std::ios::binary);
    junk << "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n";
  }
  shmpipe::SupervisorOptions options;
  options.command = {EXTRACT_WORKER};
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

TEST_F(ExtractPipelineTest, ARealPdfFromADebianPackage) {
  const fs::path gz = "/usr/share/doc/fontconfig/fontconfig-user.pdf.gz";
  if (!fs::exists(gz))
    GTEST_SKIP() << gz << " is not installed";
  const fs::path pdf = dir_ / "fontconfig-user.pdf";
  ASSERT_EQ(run("gzip -dc " + gz.string() + " > " + pdf.string()).status, 0);
  const Result r = extract(pdf, "--pages 1-4");
  ASSERT_EQ(r.status, 0) << r.out;
  for (int p = 1; p <= 4; ++p) {
    char name[32];
    std::snprintf(name, sizeof name, "page-%04d.txt", p);
    const Result oracle = run("pdftotext -layout -f " + std::to_string(p) + " -l " +
                              std::to_string(p) + " " + pdf.string() + " -");
    EXPECT_EQ(words_of(read_file(dir_ / "out" / "pages" / name)), words_of(oracle.out)) << name;
  }
}

} // namespace

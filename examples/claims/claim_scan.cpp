// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// claim_scan: finds every occurrence of every pattern of a dictionary in every document,
// through K claim_scanner processes fed over shmpipe sessions.
//
//   claim_scan --patterns FILE --docs FILE --out FILE.tsv [--scanners K] [--batch-bytes N]
//              [--in-flight N] [--chunk-claims N] [--scanner PATH]
//
// Patterns: one per line, exact bytes, id = 0-based line number. Documents: one per line, id =
// 0-based line number, the newline not part of it. Output: doc_id TAB pattern_id TAB offset
// TAB length for every occurrence (overlapping and nested ones included), byte offsets within
// the document, sorted by doc_id, offset, length, pattern_id. A summary line on stderr.
// Exit status: 0 done; 1 bad input or a failed scan; 2 usage (an --out that is the --docs or
// --patterns file, by any name, included); killed by SIGINT, SIGTERM or SIGHUP once the scanners
// are stopped. The output appears only when complete: every other ending leaves an earlier
// FILE.tsv as it was, and no partial file, segment or scanner behind.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cli.hpp"
#include "common/program.hpp"
#include "inputs.hpp"
#include "pipeline.hpp"

namespace {

namespace fs = std::filesystem;

struct Args {
  std::string patterns;
  std::string docs;
  std::string out;
  claims::PipelineOptions pipeline;
};

constexpr examples::Usage
    kUsage("claim_scan", "claim_scan --patterns FILE --docs FILE --out FILE.tsv [--scanners K] "
                         "[--batch-bytes N] [--in-flight N] [--chunk-claims N] [--scanner PATH]");

Args parse_args(int argc, char **argv) {
  Args args;
  kUsage.options(argc, argv, [&](std::string_view flag, std::string_view value) {
    if (flag == "--patterns")
      args.patterns = value;
    else if (flag == "--docs")
      args.docs = value;
    else if (flag == "--out")
      args.out = value;
    else if (flag == "--scanners")
      args.pipeline.scanners = kUsage.number<unsigned>(value, "--scanners", 1, 64);
    else if (flag == "--batch-bytes")
      args.pipeline.batch_bytes =
          kUsage.number<std::size_t>(value, "--batch-bytes", 1, std::size_t{1} << 28);
    else if (flag == "--in-flight")
      args.pipeline.in_flight = kUsage.number<unsigned>(value, "--in-flight", 1, 64);
    else if (flag == "--chunk-claims")
      args.pipeline.chunk_claims =
          kUsage.number<std::size_t>(value, "--chunk-claims", 1, std::size_t{1} << 30);
    else if (flag == "--scanner")
      args.pipeline.scanner = value;
    else
      kUsage.fail("unknown option " + std::string(flag));
  });
  if (args.patterns.empty() || args.docs.empty() || args.out.empty())
    kUsage.fail("--patterns, --docs and --out are required");
  if (args.pipeline.scanner.empty()) // installed side by side
    args.pipeline.scanner =
        (fs::read_symlink("/proc/self/exe").parent_path() / "claim_scanner").string();
  return args;
}

/// Refuses (a usage error) an --out that names an input: renaming the output over it would
/// replace the input with the results. Same file means same device and inode, so symlinks,
/// hard links and other spellings are caught too. Runs before anything is written.
void refuse_overwriting_an_input(const Args &args) {
  for (const std::string *input : {&args.docs, &args.patterns}) {
    std::error_code ec;
    if (fs::equivalent(args.out, *input, ec))
      kUsage.fail("--out '" + args.out + "' is the input '" + *input +
                  "': it would be replaced by the results");
  }
}

/// The permission bits a new file gets (0666 less the umask). Read once, in main, before any
/// thread exists: umask() can only be read by setting it.
mode_t new_file_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

/// The TSV output, written through one buffer into a temporary file beside the output that
/// takes the output's name only when everything is written: a failed or killed run leaves no
/// partial output that looks complete. The temporary file is made by mkstemp: a new name that
/// no concurrent run and no existing file (an input, say) shares.
class TsvWriter {
public:
  TsvWriter(const std::string &path, mode_t mode)
      : path_(path), temporary_(path + ".partial-XXXXXX") {
    const int fd = ::mkostemp(temporary_.data(), O_CLOEXEC); // not for the scanners
    if (fd < 0)
      throw claims::Failure("cannot write '" + temporary_ + "': " + std::strerror(errno));
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr || ::fchmod(fd, mode) != 0) { // mkstemp makes it 0600
      const int error = errno;
      if (file_ != nullptr)
        std::fclose(std::exchange(file_, nullptr));
      else
        ::close(fd);
      std::remove(temporary_.c_str());
      throw claims::Failure("cannot write '" + temporary_ + "': " + std::strerror(error));
    }
    buffer_.resize(1 << 16);
  }
  TsvWriter(const TsvWriter &) = delete;
  TsvWriter &operator=(const TsvWriter &) = delete;
  ~TsvWriter() {
    if (file_ != nullptr) { // not closed: the run failed
      std::fclose(file_);
      std::remove(temporary_.c_str());
    }
  }

  void write(std::span<const claims::Claim> claims) {
    constexpr std::size_t kLine = 20 + 1 + 10 + 1 + 10 + 1 + 10 + 1; // widest line
    for (const claims::Claim &c : claims) {
      if (buffer_.size() - used_ < kLine)
        flush();
      char *p = buffer_.data() + used_;
      char *const end = buffer_.data() + buffer_.size();
      p = std::to_chars(p, end, c.doc_id).ptr;
      *p++ = '\t';
      p = std::to_chars(p, end, c.pattern_id).ptr;
      *p++ = '\t';
      p = std::to_chars(p, end, c.offset).ptr;
      *p++ = '\t';
      p = std::to_chars(p, end, c.length).ptr;
      *p++ = '\n';
      used_ = static_cast<std::size_t>(p - buffer_.data());
    }
  }

  /// Flushes, closes and renames to the output's name; throws Failure on a write error (a
  /// full disk, say).
  void close() {
    flush();
    std::FILE *file = std::exchange(file_, nullptr);
    const bool closed = std::fclose(file) == 0;
    const int error = failed_ ? write_errno_ : errno;
    if (failed_ || !closed || std::rename(temporary_.c_str(), path_.c_str()) != 0) {
      const int why = failed_ || !closed ? error : errno;
      std::remove(temporary_.c_str());
      throw claims::Failure("cannot write '" + path_ + "': " + std::strerror(why));
    }
  }

private:
  void flush() {
    if (used_ != 0 && std::fwrite(buffer_.data(), 1, used_, file_) != used_ && !failed_) {
      failed_ = true;
      write_errno_ = errno;
    }
    used_ = 0;
  }

  std::string path_;
  std::string temporary_;
  std::FILE *file_ = nullptr;
  std::string buffer_;
  std::size_t used_ = 0;
  bool failed_ = false;
  int write_errno_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(int argc, char **argv) {
  const mode_t mode = new_file_mode();
  Args args = parse_args(argc, argv);
  refuse_overwriting_an_input(args);
  const auto start = std::chrono::steady_clock::now();
  const claims::LineFile pattern_file = claims::LineFile::read(args.patterns);
  // Opened now (a missing file is named before any scanner starts), read as it is scanned.
  claims::DocumentReader documents = claims::DocumentReader::open(args.docs);
  const claims::Dictionary dictionary = claims::Dictionary::compile(pattern_file, args.patterns);
  const double compile_seconds = seconds_since(start);
  args.pipeline.log = [](const std::string &line) {
    std::fprintf(stderr, "claim_scan: %s\n", line.c_str());
  };
  examples::defer_stop_signals(); // the scanners, their sessions and the partial file follow
  claims::Pipeline pipeline(dictionary, std::move(documents), args.pipeline);
  examples::throw_if_stopped();
  TsvWriter out(args.out, mode);
  // A stop signal is noticed as the next batch's claims arrive (batches take milliseconds):
  // the exception from the sink stops the scanners and comes out of run().
  const claims::PipelineReport report = pipeline.run([&](std::span<const claims::Claim> claims) {
    examples::throw_if_stopped();
    out.write(claims);
  });
  examples::throw_if_stopped(); // the last moment a signal discards the run
  out.close();
  const double seconds = seconds_since(start);
  const auto docs = static_cast<double>(report.docs);
  const auto megabytes = static_cast<double>(report.bytes) / 1e6;
  std::fprintf(stderr,
               "claim_scan: docs %llu, bytes %llu, patterns %zu, matches %llu, %.3f s, "
               "%.0f docs/s, %.2f MB/s (compile %.3f s, scanners up %.3f s, scan %.3f s: "
               "%.0f docs/s, %.2f MB/s; batches %llu, ring %llu bytes; scanners %u, "
               "restarts %u)\n",
               static_cast<unsigned long long>(report.docs),
               static_cast<unsigned long long>(report.bytes), dictionary.lengths.size(),
               static_cast<unsigned long long>(report.claims), seconds, docs / seconds,
               megabytes / seconds, compile_seconds, report.setup_seconds, report.scan_seconds,
               docs / report.scan_seconds, megabytes / report.scan_seconds,
               static_cast<unsigned long long>(report.batches),
               static_cast<unsigned long long>(pipeline.ring_bytes()), args.pipeline.scanners,
               report.restarts);
  return 0;
}

} // namespace

// Every way out (bad arguments, a failure, a stop signal) unwinds through run(): the
// Supervisors stop the scanners and remove their sessions, TsvWriter removes its partial file.
int main(int argc, char **argv) {
  return examples::run_main("claim_scan", [&] { return run(argc, argv); });
}

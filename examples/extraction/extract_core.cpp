// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// extract_core: extracts page text, ledger rows and evidence images from a PDF through a
// supervised extract_worker process, over a shmpipe session.
//
//   extract_core --pdf FILE --out DIR [--force] [--dpi N] [--pages A-B] [--in-flight K]
//                [--worker PATH|python]
//
// --worker python runs extract_worker.py (PyMuPDF; next to this program) with /usr/bin/python3
// in place of extract_worker (poppler): the same messages, the same ledger.csv and crops.
// writes DIR/pages/page-0001.txt ..., DIR/ledger.csv and DIR/evidence/row-000001.png ..., and
// prints a one-line summary. A DIR that holds an earlier run's results is refused unless --force
// says to replace them. Everything is written into a staging directory inside DIR first and
// takes its place only at the end of a run (pages/, evidence/ and ledger.csv all three or none,
// each replacing its predecessor as a whole): a failed, interrupted (SIGINT, SIGTERM, SIGHUP) or
// refused run leaves DIR as it found it, and no segment and no worker behind. Every message from
// the worker is verified and its columns and pixel sizes checked before use (the worker parses
// untrusted PDFs: it is untrusted too). Pages are requested a few at a time; a worker that dies is
// restarted by the Supervisor and the page it was on is sent once more, with the reading state
// (table layout) the page before reported, so that the new worker re-reads no earlier page; a
// page that fails twice is reported and skipped.
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <png.h>
#include <stdio.h> // renameat2
#include <sys/file.h>
#include <unistd.h>

#include "common/cli.hpp"
#include "common/program.hpp"
#include "common/session_name.hpp"
#include "ledger.hpp"

namespace {

namespace fs = std::filesystem;
namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// A handled failure: "extract_core: what()", exit status 1 (examples::run_main).
class Failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &why) { throw Failure(why); }

struct Args {
  std::string pdf;
  fs::path out;
  bool force = false; // replace an earlier run's results in DIR
  unsigned dpi = 150;
  std::uint32_t first_page = 0; // 1-based; 0: from the first
  std::uint32_t last_page = 0;  // 1-based; 0: to the last
  unsigned in_flight = 4;
  std::string worker;                   // --worker: a path, or "python"
  std::vector<std::string> worker_args; // the command that starts it
};

/// The interpreter of `--worker python`: Debian's, which has python3-fitz.
constexpr const char *kPython = "/usr/bin/python3";

constexpr examples::Usage kUsage("extract_core",
                                 "extract_core --pdf FILE --out DIR [--force] [--dpi N] "
                                 "[--pages A-B] [--in-flight K] [--worker PATH|python]");

[[noreturn]] void usage(const std::string &why) { kUsage.fail(why); }

Args parse_args(int argc, char **argv) {
  Args args;
  std::vector<std::string_view> seen;
  kUsage.options(argc, argv, {"--force"}, [&](std::string_view flag, std::string_view value) {
    // A repeated option would silently win over the first (another PDF, another DIR).
    if (std::find(seen.begin(), seen.end(), flag) != seen.end())
      usage(std::string(flag) + " given twice");
    seen.push_back(flag);
    if (flag == "--pdf")
      args.pdf = value;
    else if (flag == "--out")
      args.out = value;
    else if (flag == "--force")
      args.force = true;
    else if (flag == "--dpi")
      args.dpi = kUsage.number<unsigned>(value, "--dpi", 18, 600);
    else if (flag == "--in-flight")
      args.in_flight = kUsage.number<unsigned>(value, "--in-flight", 1, 64);
    else if (flag == "--worker" && value.empty())
      usage("--worker takes a path or 'python'");
    else if (flag == "--worker")
      args.worker = value;
    else if (flag == "--pages") {
      const std::size_t dash = value.find('-');
      if (dash == std::string_view::npos)
        usage("--pages takes A-B (1-based, inclusive), not '" + std::string(value) + "'");
      args.first_page =
          kUsage.number<std::uint32_t>(value.substr(0, dash), "--pages A", 1, 1u << 30);
      args.last_page = kUsage.number<std::uint32_t>(value.substr(dash + 1), "--pages B",
                                                    args.first_page, 1u << 30);
    } else
      usage("unknown option " + std::string(flag));
  });
  if (args.pdf.empty() || args.out.empty())
    usage("--pdf and --out are required");
  const fs::path here = fs::read_symlink("/proc/self/exe").parent_path(); // installed together
  if (args.worker.empty())
    args.worker = (here / "extract_worker").string();
  else if (args.worker == "python") // extract_worker.py (PyMuPDF), with Debian's Python
    args.worker_args = {kPython, (here / "extract_worker.py").string()};
  if (args.worker_args.empty())
    args.worker_args = {args.worker};
  return args;
}

/// RFC 4180: quoted when it holds a comma, a quote, CR or LF; quotes doubled.
std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string(s);
  std::string out = "\"";
  for (const char c : s) {
    out += c;
    if (c == '"')
      out += '"';
  }
  return out + "\"";
}

/// RGB24 or Gray8 rows `stride` bytes apart to a PNG file. false on any libpng or I/O error.
bool write_png(const fs::path &path, const std::uint8_t *pixels, std::uint32_t width,
               std::uint32_t height, std::uint32_t stride, int color_type) {
  std::FILE *file = std::fopen(path.c_str(), "wbe");
  if (file == nullptr)
    return false;
  // The caller says what failed: libpng's own "libpng error: Write Error" on stderr says less.
  const png_error_ptr quiet_error = [](png_structp p, png_const_charp) { png_longjmp(p, 1); };
  const png_error_ptr quiet_warning = [](png_structp, png_const_charp) {};
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, quiet_error, quiet_warning);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  bool ok = false;
  // libpng reports errors by longjmp to here: nothing with a destructor lives in this frame.
  if (info != nullptr && setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, file);
    png_set_compression_level(png, 3); // evidence crops: speed over the last few percent
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (std::uint32_t y = 0; y < height; ++y)
      png_write_row(png, pixels + std::size_t{y} * stride);
    png_write_end(png, nullptr);
    ok = true;
  }
  png_destroy_write_struct(&png, info != nullptr ? &info : nullptr);
  return std::fclose(file) == 0 && ok;
}

/// A StringColumn of n strings whose offsets are consistent (schemas/common.fbs).
bool valid_column(const sc::StringColumn *column, std::size_t n) {
  if (column == nullptr)
    return n == 0;
  const auto *offsets = column->offsets();
  const std::size_t bytes = column->bytes() != nullptr ? column->bytes()->size() : 0;
  if (offsets == nullptr || offsets->size() != n + 1 || offsets->Get(0) != 0 ||
      offsets->Get(static_cast<fb::uoffset_t>(n)) != bytes)
    return n == 0 && (offsets == nullptr || offsets->size() <= 1) && bytes == 0;
  for (fb::uoffset_t i = 0; i < n; ++i)
    if (offsets->Get(i) > offsets->Get(i + 1))
      return false;
  return true;
}

std::string string_at(const sc::StringColumn *column, fb::uoffset_t i) {
  const std::uint32_t begin = column->offsets()->Get(i);
  const std::uint32_t end = column->offsets()->Get(i + 1);
  return {reinterpret_cast<const char *>(column->bytes()->data()) + begin, end - begin};
}

struct PageResult {
  bool done = false;
  std::string error;                 // why it failed; empty when it did not
  std::vector<extraction::Row> rows; // in page order
  /// The worker's reading state after the page (LedgerBatch.layout, opaque): what a restarted
  /// worker is handed with the page after it. Empty: no table seen yet.
  std::vector<std::uint8_t> layout;
};

class Extraction {
public:
  Extraction(const Args &args, shmpipe::Supervisor &sup) : args_(args), sup_(sup) {}

  /// Opens the document in the worker; throws Failure when it cannot, Interrupted on a stop
  /// signal.
  std::uint32_t open() {
    const shmpipe::Sent sent = sup_.request<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) {
          const auto open = sc::CreateOpenDocument(b, b.CreateString(args_.pdf));
          return sc::CreateExtraction(b, 0, sc::ExtractionBody::OpenDocument, open.Union());
        },
        30s);
    if (sent.status != shmpipe::Status::ok)
      fail("cannot send to the worker: " + std::string(shmpipe::to_string(sent.status)));
    const auto until = Clock::now() + 120s;
    for (;;) {
      examples::throw_if_stopped();
      shmpipe::Incoming in = sup_.receive(kPoll);
      if (in.request_id() != sent.request_id) {
        const bool waiting = in.status() == shmpipe::Status::timeout && Clock::now() < until;
        if (!in && !waiting)
          fail("no answer from the worker: " + std::string(shmpipe::to_string(in.status())));
        continue;
      }
      if (!in)
        fail("the worker died twice opening '" + args_.pdf + "' (damaged PDF?)");
      if (in.is<sc::Envelope>())
        fail(error_text(std::move(in)));
      const auto reply = std::move(in).as<sc::Extraction>();
      const sc::DocumentInfo *info = reply ? reply->body_as_DocumentInfo() : nullptr;
      if (info == nullptr)
        fail("the worker's answer to OpenDocument is not a DocumentInfo");
      return info->pages();
    }
  }

  /// Extracts pages [first, last] (0-based) into `dir` (its pages/ and evidence/ exist);
  /// returns how many failed. Throws Interrupted on a stop signal.
  std::size_t run(std::uint32_t first, std::uint32_t last, const fs::path &dir) {
    dir_ = dir;
    std::uint32_t next = first;
    std::size_t finished = 0;
    const std::size_t total = last - first + 1;
    auto last_progress = Clock::now();
    while (finished < total) {
      examples::throw_if_stopped();
      while ((!retry_.empty() || next <= last) && in_flight_.size() < args_.in_flight) {
        const bool again = !retry_.empty();
        const std::uint32_t page = again ? retry_.front() : next;
        const shmpipe::Sent sent = sup_.request<sc::Extraction>(
            [&](fb::FlatBufferBuilder &b) {
              // Built once a worker runs (request() starts the next one first). One that has
              // not just read the page before (a restarted one, or one whose pages came out
              // of order) gets the state the pages before left: it need not re-read them.
              const bool continues = sup_.restarts() == sent_to_ && page == sent_page_ + 1;
              const std::vector<std::uint8_t> *layout = continues ? nullptr : layout_before(page);
              const auto r =
                  sc::CreateExtractRequest(b, b.CreateString(args_.pdf), page, nullptr,
                                           static_cast<std::uint16_t>(args_.dpi),
                                           layout != nullptr ? b.CreateVector(*layout) : 0);
              return sc::CreateExtraction(b, 0, sc::ExtractionBody::ExtractRequest, r.Union());
            },
            30s);
        if (sent.status != shmpipe::Status::ok)
          break; // the worker is down: receive() restarts it (or reports it gone)
        sent_to_ = sup_.restarts();
        sent_page_ = page;
        in_flight_[sent.request_id] = {page, sup_.restarts()};
        pages_[page] = PageResult{};
        if (again)
          retry_.pop_front();
        else
          ++next;
      }
      shmpipe::Incoming in = sup_.receive(kPoll);
      const std::uint64_t id = in.request_id();
      const auto it = in_flight_.find(id);
      if (!in && id == 0) {
        if (in.status() == shmpipe::Status::peer_dead) { // the supervisor gave up
          for (auto &[lost_id, sent] : in_flight_)
            finish(sent.page, "the worker could not be restarted");
          for (const std::uint32_t page : retry_)
            finish(page, "the worker could not be restarted");
          finished += in_flight_.size() + retry_.size();
          in_flight_.clear();
          retry_.clear();
          for (; next <= last; ++next, ++finished)
            finish(next, "the worker could not be restarted");
          break;
        }
        if (Clock::now() - last_progress > 10min)
          fail("no progress for 10 minutes");
        continue;
      }
      last_progress = Clock::now();
      if (it == in_flight_.end())
        continue; // nothing we asked for
      const std::uint32_t page = it->second.page;
      if (!in) { // lost with its worker
        const unsigned worker = it->second.worker;
        in_flight_.erase(it);
        if (lost(page, worker))
          ++finished;
        continue;
      } else if (in.is<sc::Envelope>()) {
        finish(page, error_text(std::move(in)));
      } else {
        const bool final = in.final();
        bytes_ += in.buffer().size();
        const auto message = std::move(in).as<sc::Extraction>();
        if (!message)
          finish(page, "an invalid message from the worker");
        else if (!take(page, *message))
          finish(page, "an inconsistent message from the worker");
        else if (final)
          finish(page, "");
      }
      if (pages_[page].done) {
        in_flight_.erase(it);
        ++finished;
      }
    }
    std::size_t failed = 0;
    for (const auto &[page, result] : pages_)
      if (!result.error.empty()) {
        ++failed;
        std::fprintf(stderr, "extract_core: page %u failed: %s\n", page + 1, result.error.c_str());
      }
    return failed;
  }

  /// Writes ledger.csv and names the evidence files by row number; returns rows written.
  std::size_t finish_outputs() {
    std::ofstream csv(dir_ / "ledger.csv", std::ios::binary);
    csv << "page,stt,code,name,unit,quantity,unit_price,amount";
    for (const std::string_view part : extraction::Row::kPartNames)
      csv << ',' << part;
    csv << ",evidence\n";
    std::size_t number = 0;
    for (const auto &[page, result] : pages_)
      for (std::size_t i = 0; i < result.rows.size(); ++i) {
        const extraction::Row &r = result.rows[i];
        ++number;
        const fs::path staged = dir_ / "evidence" / staged_name(page, i);
        std::string evidence;
        if (fs::exists(staged)) {
          char name[32];
          std::snprintf(name, sizeof name, "row-%06zu.png", number);
          fs::rename(staged, dir_ / "evidence" / name);
          evidence = std::string("evidence/") + name;
        }
        csv << (page + 1) << ',' << csv_field(r.stt) << ',' << csv_field(r.code) << ','
            << csv_field(r.name) << ',' << csv_field(r.unit) << ','
            << extraction::format_number(r.quantity) << ','
            << extraction::format_number(r.unit_price) << ','
            << extraction::format_number(r.amount);
        for (const double part : r.parts)
          csv << ',' << extraction::format_number(part);
        csv << ',' << evidence << '\n';
        not_adding_up_ += r.adds_up ? 0 : 1;
      }
    csv.close();
    if (!csv)
      fail("cannot write " + (dir_ / "ledger.csv").string() + ": " + std::strerror(errno));
    for (const fs::directory_entry &e : fs::directory_iterator(dir_ / "evidence"))
      if (e.path().filename().string().starts_with(".p")) // a crop without its row
        fs::remove(e.path());
    return number;
  }

  /// Why no row was found (for a run that found none): the first page where the worker saw a
  /// table header, or that it saw none on the pages it read.
  [[nodiscard]] std::string why_no_rows(bool some_failed) const {
    for (const auto &[page, result] : pages_)
      if (result.done && result.error.empty() && !result.layout.empty())
        return "a table header was recognised on page " + std::to_string(page + 1) +
               ", but no ledger row under it";
    std::string why = "no table header recognised on any page";
    if (some_failed)
      why += " that could be read";
    if (!pages_.empty() && pages_.begin()->first > 0)
      why += "; pages before " + std::to_string(pages_.begin()->first + 1) + " were not read";
    return why;
  }

  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t images() const noexcept { return images_; }
  [[nodiscard]] std::size_t not_adding_up() const noexcept { return not_adding_up_; }

private:
  /// How long one wait for the worker lasts: a stop signal is noticed within about this.
  static constexpr auto kPoll = 250ms;

  static std::string staged_name(std::uint32_t page, std::size_t row) {
    char name[48];
    std::snprintf(name, sizeof name, ".p%06u-r%06zu.png", page, row);
    return name;
  }

  static std::string error_text(shmpipe::Incoming &&in) {
    const auto envelope = std::move(in).as<sc::Envelope>();
    const sc::Error *error = envelope ? envelope->body_as_Error() : nullptr;
    if (error == nullptr)
      return "an unexpected message from the worker";
    return error->message() != nullptr ? error->message()->str() : "an error without a message";
  }

  /// The reading state the closest page before `page` that completed reported; nullptr when
  /// none did or it had seen no table (a new worker starts with none).
  [[nodiscard]] const std::vector<std::uint8_t> *layout_before(std::uint32_t page) const {
    for (auto it = pages_.lower_bound(page); it != pages_.begin();) {
      --it;
      if (it->second.done && it->second.error.empty())
        return it->second.layout.empty() ? nullptr : &it->second.layout;
    }
    return nullptr;
  }

  /// A page whose worker died. The worker serves requests in order, so the first page lost
  /// in a death is the one it was on: that one is tried once more, then reported; the others
  /// were only queued behind it and go again, uncounted. Returns true when the page is done.
  bool lost(std::uint32_t page, unsigned worker) {
    const bool culprit = worker != last_death_; // losses come in the order of the requests
    last_death_ = worker;
    if (culprit && ++crashes_[page] >= 2) {
      finish(page, "the worker died on this page twice");
      return true;
    }
    retry_.push_back(page);
    return false;
  }

  void finish(std::uint32_t page, std::string error) {
    PageResult &result = pages_[page];
    result.done = true;
    result.error = std::move(error);
    if (!result.error.empty())
      result.rows.clear();
  }

  /// One message for `page`: false when it contradicts itself.
  bool take(std::uint32_t page, const sc::Extraction &message) {
    if (const sc::PageText *text = message.body_as_PageText()) {
      if (text->page() != page)
        return false;
      char name[32];
      std::snprintf(name, sizeof name, "page-%04u.txt", page + 1);
      const fs::path path = dir_ / "pages" / name;
      std::ofstream out(path, std::ios::binary);
      if (text->text() != nullptr)
        out.write(text->text()->c_str(), static_cast<std::streamsize>(text->text()->size()));
      out.close(); // a full disk may show only here
      if (!out)    // ours, not the worker's: the run cannot be written, so it fails
        fail("cannot write " + path.string() + ": " + std::strerror(errno));
      return true;
    }
    if (const sc::LedgerBatch *batch = message.body_as_LedgerBatch())
      return take_rows(page, *batch);
    if (const sc::Evidence *evidence = message.body_as_Evidence())
      return take_evidence(page, *evidence);
    return false;
  }

  bool take_rows(std::uint32_t page, const sc::LedgerBatch &batch) {
    const std::size_t n = batch.page() != nullptr ? batch.page()->size() : 0;
    const auto sized = [n](const auto *v) {
      return n == 0 ? v == nullptr || v->size() == 0 : v != nullptr && v->size() == n;
    };
    if (!valid_column(batch.stt(), n) || !valid_column(batch.code(), n) ||
        !valid_column(batch.name(), n) || !valid_column(batch.unit(), n) ||
        !sized(batch.quantity()) || !sized(batch.unit_price()) || !sized(batch.amount()) ||
        !sized(batch.flags()) || !sized(batch.row_bbox()) || batch.first_row() != 0)
      return false;
    // The split columns: each absent (the table does not split prices) or one per row.
    const std::array<const fb::Vector<double> *, 6> parts{
        batch.unit_price_material(), batch.unit_price_labour(), batch.unit_price_machine(),
        batch.amount_material(),     batch.amount_labour(),     batch.amount_machine()};
    for (const fb::Vector<double> *part : parts)
      if (part != nullptr && part->size() != n)
        return false;
    // Opaque, kept per page and handed back: bounded (today's is 115 bytes).
    constexpr std::size_t kMaxLayout = 4096;
    if (batch.layout() != nullptr && batch.layout()->size() > kMaxLayout)
      return false;
    std::vector<extraction::Row> rows(n);
    for (fb::uoffset_t i = 0; i < n; ++i) {
      if (batch.page()->Get(i) != page)
        return false;
      extraction::Row &r = rows[i];
      const sc::BBox *box = batch.row_bbox()->Get(i);
      r = {page,
           string_at(batch.stt(), i),
           string_at(batch.code(), i),
           string_at(batch.name(), i),
           string_at(batch.unit(), i),
           batch.quantity()->Get(i),
           batch.unit_price()->Get(i),
           batch.amount()->Get(i),
           (batch.flags()->Get(i) & 1) == 0,
           box->x0(),
           box->y0(),
           box->x1(),
           box->y1()};
      for (std::size_t k = 0; k < parts.size(); ++k)
        if (parts[k] != nullptr)
          r.parts[k] = parts[k]->Get(i);
    }
    pages_[page].rows = std::move(rows);
    if (batch.layout() != nullptr)
      pages_[page].layout.assign(batch.layout()->begin(), batch.layout()->end());
    return true;
  }

  bool take_evidence(std::uint32_t page, const sc::Evidence &evidence) {
    const std::uint64_t bpp = evidence.format() == sc::PixelFormat::RGB24   ? 3
                              : evidence.format() == sc::PixelFormat::Gray8 ? 1
                                                                            : 0;
    const std::uint64_t width = evidence.width(), height = evidence.height();
    const std::uint64_t stride = evidence.stride();
    const std::uint64_t have = evidence.pixels() != nullptr ? evidence.pixels()->size() : 0;
    if (evidence.page() != page || bpp == 0 || width == 0 || height == 0 || width > 1u << 20 ||
        height > 1u << 20 || stride < width * bpp || have < stride * height ||
        evidence.row() >= pages_[page].rows.size())
      return false;
    const fs::path path = dir_ / "evidence" / staged_name(page, evidence.row());
    if (!write_png(path, evidence.pixels()->data(), static_cast<std::uint32_t>(width),
                   static_cast<std::uint32_t>(height), static_cast<std::uint32_t>(stride),
                   bpp == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY))
      fail("cannot write " + path.string() + ": " + std::strerror(errno));
    ++images_;
    return true;
  }

  const Args &args_;
  shmpipe::Supervisor &sup_;
  fs::path dir_; // where run() writes
  struct Sent {
    std::uint32_t page;
    unsigned worker; // sup_.restarts() when it was sent: which worker got it
  };
  std::map<std::uint64_t, Sent> in_flight_; // request id -> page
  std::map<std::uint32_t, PageResult> pages_;
  std::deque<std::uint32_t> retry_;           // pages to send again
  std::map<std::uint32_t, unsigned> crashes_; // page -> deaths while the worker was on it
  unsigned last_death_ = ~0u;                 // the worker (its number) whose loss came last
  unsigned sent_to_ = ~0u;                    // the worker (its number) the last request went to
  std::uint32_t sent_page_ = 0;               // and its page
  std::uint64_t bytes_ = 0;
  std::size_t images_ = 0;
  std::size_t not_adding_up_ = 0;
};

/// Ring size for the crops at `dpi`: an evidence crop is at most a page (A3 assumed as the
/// largest, 842 x 1191 pt) in RGB24; the ring holds two of them.
std::uint64_t ring_bytes(unsigned dpi) {
  const double scale = dpi / 72.0;
  const auto crop = static_cast<std::uint64_t>((842 * scale + 1) * 3 * (1191 * scale + 1));
  std::uint64_t ring = std::uint64_t{1} << 22;
  while (ring < 2 * crop + (1u << 16))
    ring <<= 1;
  return ring;
}

/// Refuses (a usage error) an --out DIR whose results would replace or delete the PDF: the
/// PDF is DIR/ledger.csv, or lies under DIR/pages or DIR/evidence, which a run replaces as a
/// whole. "Is" means the same file (device and inode), whatever the spelling: symlinks, hard
/// links, "..". Runs before anything is written.
void refuse_overwriting_the_input(const Args &args) {
  std::error_code ec;
  if (fs::equivalent(args.pdf, args.out / "ledger.csv", ec))
    usage("--out " + args.out.string() + " would replace the PDF '" + args.pdf +
          "' (it is ledger.csv there)");
  // The PDF's directories, as named (its own name may be a symlink into DIR) and as resolved.
  const fs::path named = fs::canonical(fs::absolute(args.pdf).parent_path());
  const fs::path resolved = fs::canonical(args.pdf).parent_path();
  for (const char *replaced : {"pages", "evidence"}) {
    const fs::path dir = args.out / replaced;
    if (!fs::is_directory(dir, ec))
      continue;
    for (fs::path p : {named, resolved})
      for (;; p = p.parent_path()) {
        if (fs::equivalent(p, dir, ec))
          usage("--out " + args.out.string() + " would delete the PDF '" + args.pdf +
                "': it lies in " + dir.string() + ", which a run replaces");
        if (p == p.parent_path())
          break;
      }
  }
}

/// What a run puts in DIR, in the order OutputDir::commit() moves them there.
constexpr std::array<const char *, 3> kResults{"pages", "evidence", "ledger.csv"};

/// Refuses (a usage error) an --out that is not a directory, and one that holds an earlier
/// run's results unless --force says to replace them: a run replaces each of them as a whole,
/// and a DIR given by mistake (or one with a pages/ of its own) would lose its files. Other
/// files in DIR are never touched, so they are no reason to refuse. Runs before anything is
/// written.
void refuse_a_used_out(const Args &args) {
  std::error_code ec;
  const fs::file_status status = fs::status(args.out, ec);
  if (fs::exists(status) && !fs::is_directory(status))
    usage("--out " + args.out.string() + " is not a directory");
  if (args.force)
    return;
  std::string held;
  for (const char *name : kResults)
    if (fs::exists(fs::symlink_status(args.out / name, ec)))
      held += (held.empty() ? "" : ", ") + std::string(name);
  if (!held.empty())
    usage("--out " + args.out.string() + " holds the results of an earlier run (" + held +
          "): --force replaces them, or choose another directory");
}

/// An exclusive flock(2) on a directory, held for the renames of one commit: runs into one DIR
/// commit one after the other, so that DIR never ends with one run's pages/ and another's
/// ledger.csv.
class DirectoryLock {
public:
  explicit DirectoryLock(const fs::path &dir)
      : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ < 0)
      fail("cannot open " + dir.string() + ": " + std::strerror(errno));
    // Another run holds it for a few renames; 30 s means something else is wrong.
    const auto until = Clock::now() + 30s;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if ((error != EWOULDBLOCK && error != EINTR) || Clock::now() > until) {
        ::close(fd_);
        fail("cannot lock " + dir.string() + ": " +
             (error == EWOULDBLOCK ? std::string("another run holds it") : std::strerror(error)));
      }
      if (const int signal = examples::stop_signal(); signal != 0) {
        ::close(fd_); // nothing is moved yet: the run can still stop
        throw examples::Interrupted(signal);
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  DirectoryLock(const DirectoryLock &) = delete;
  DirectoryLock &operator=(const DirectoryLock &) = delete;
  ~DirectoryLock() { ::close(fd_); } // releases the lock

private:
  int fd_;
};

/// Where a run writes: a new directory DIR/.extract_core-XXXXXX (mkdtemp: concurrent runs
/// into one DIR never share it) whose pages/, evidence/ and ledger.csv commit() moves into
/// DIR. Removed with whatever is in it when the run ends otherwise, and so are the
/// directories the run created for DIR (if empty).
class OutputDir {
public:
  explicit OutputDir(const fs::path &out) : out_(out) {
    try {
      for (fs::path p = fs::absolute(out); !fs::exists(p) && p != p.parent_path();
           p = p.parent_path())
        created_.push_back(p); // innermost first
      fs::create_directories(out);
      std::string name = (out / ".extract_core-XXXXXX").string();
      if (::mkdtemp(name.data()) == nullptr)
        fail("cannot create a directory in '" + out.string() + "': " + std::strerror(errno));
      staging_ = name;
      fs::create_directory(staging_ / "pages");
      fs::create_directory(staging_ / "evidence");
    } catch (...) {
      remove();
      throw;
    }
  }
  OutputDir(const OutputDir &) = delete;
  OutputDir &operator=(const OutputDir &) = delete;
  ~OutputDir() { remove(); }

  [[nodiscard]] const fs::path &path() const noexcept { return staging_; }

  /// Moves the results into DIR, all three or none: each replaces its predecessor in one step
  /// (the old one is exchanged into the staging directory and removed with it), and when one
  /// cannot be moved, those already moved are put back before the run fails.
  void commit() {
    const DirectoryLock lock(out_);
    struct Rename {
      fs::path from, to;
      bool exchange;
    };
    std::vector<Rename> done; // to undo, in reverse
    const auto rename = [&](const fs::path &from, const fs::path &to, unsigned flags) {
      const bool ok = flags != 0
                          ? ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags) == 0
                          : ::rename(from.c_str(), to.c_str()) == 0;
      if (ok)
        done.push_back({from, to, flags == RENAME_EXCHANGE});
      return ok;
    };
    for (const char *name : kResults) {
      const fs::path from = staging_ / name, to = out_ / name;
      if (rename(from, to, RENAME_NOREPLACE) ||
          (errno == EEXIST && rename(from, to, RENAME_EXCHANGE)))
        continue;
      if (errno == EINVAL) { // a file system without renameat2's flags: two steps
        const fs::path old = staging_ / (std::string("old-") + name);
        std::error_code ec;
        if ((!fs::exists(fs::symlink_status(to, ec)) || rename(to, old, 0)) && rename(from, to, 0))
          continue;
      }
      const std::string why =
          "cannot move " + from.string() + " to " + to.string() + ": " + std::strerror(errno);
      for (auto undo = done.rbegin(); undo != done.rend(); ++undo) {
        const bool back = undo->exchange ? ::renameat2(AT_FDCWD, undo->from.c_str(), AT_FDCWD,
                                                       undo->to.c_str(), RENAME_EXCHANGE) == 0
                                         : ::rename(undo->to.c_str(), undo->from.c_str()) == 0;
        if (!back) { // the staging directory is then kept: it holds what DIR lost
          keep_staging_ = true;
          std::fprintf(stderr, "extract_core: cannot put %s back: %s\n", undo->to.c_str(),
                       std::strerror(errno));
        }
      }
      fail(why + (keep_staging_ ? " (DIR is incomplete; the rest is in " + staging_.string() + ")"
                                : " (" + out_.string() + " is as it was)"));
    }
    created_.clear(); // DIR holds the results now
  }

private:
  void remove() noexcept {
    std::error_code ec;
    if (!staging_.empty() && !keep_staging_)
      fs::remove_all(staging_, ec);
    for (const fs::path &dir : created_)
      fs::remove(dir, ec); // only when empty: another run may be writing there too
  }

  fs::path out_;
  fs::path staging_;
  std::vector<fs::path> created_; // directories made for DIR, innermost first
  bool keep_staging_ = false;     // a failed commit could not put everything back
};

int run(int argc, char **argv) {
  const Args args = parse_args(argc, argv);
  {
    std::ifstream probe(args.pdf, std::ios::binary);
    if (!probe)
      fail("cannot read '" + args.pdf + "': " + std::strerror(errno));
  }
  refuse_overwriting_the_input(args);
  refuse_a_used_out(args);
  // A worker that cannot start fails the run anyway, but later and less clearly.
  if (::access(args.worker_args[0].c_str(), X_OK) != 0)
    fail("cannot run the worker " + args.worker_args[0] + ": " + std::strerror(errno) +
         (args.worker == "python" ? " (--worker python needs Debian's python3: apt-get install "
                                    "python3 python3-fitz python3-flatbuffers)"
                                  : ""));
  if (args.worker_args.size() > 1 && ::access(args.worker_args[1].c_str(), R_OK) != 0)
    fail("cannot read the worker script " + args.worker_args[1] + ": " + std::strerror(errno));
  const auto start = Clock::now();
  shmpipe::SupervisorOptions options;
  options.command = args.worker_args;
  options.session.capacity = ring_bytes(args.dpi);
  options.on_worker_loss = shmpipe::OnWorkerLoss::fail; // retried here: see lost()
  options.health_interval = 1s;
  options.health_timeout = 60s; // a page being rendered does not answer health checks
  options.on_event = [](const shmpipe::SupervisorEvent &e) {
    // A start, and a worker that ended cleanly when asked, are how every run goes: no news.
    using Kind = shmpipe::SupervisorEvent::Kind;
    if (e.kind != Kind::started &&
        !(e.kind == Kind::stopped && e.detail.ends_with("exited with status 0 after Shutdown")))
      std::fprintf(stderr, "extract_core: worker %d %s: %s\n", static_cast<int>(e.pid),
                   std::string(shmpipe::to_string(e.kind)).c_str(), e.detail.c_str());
  };
  // The pid tells a reader of `shmpipe ls` whose session it is; the random rest makes the
  // name one nobody can create first.
  examples::defer_stop_signals(); // the worker, its session and the staged files follow
  const std::unique_ptr<shmpipe::Supervisor> sup =
      examples::start_supervisor("shmpipe-extract-" + std::to_string(::getpid()) + "-", options);
  Extraction extraction(args, *sup);
  const std::uint32_t pages = extraction.open();
  const std::uint32_t first = args.first_page != 0 ? args.first_page - 1 : 0;
  const std::uint32_t last = args.last_page != 0 ? args.last_page - 1 : pages - 1;
  if (last >= pages)
    usage("--pages " + std::to_string(first + 1) + "-" + std::to_string(last + 1) +
          ": the document has " + std::to_string(pages) + " pages");
  OutputDir output(args.out);
  const std::size_t failed = extraction.run(first, last, output.path());
  const std::size_t rows = extraction.finish_outputs();
  examples::throw_if_stopped(); // the last moment a signal discards the run
  output.commit();
  static_cast<void>(sup->shutdown("done", 5s));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::size_t done = last - first + 1;
  // No row at all is said, not left to a header-only ledger.csv: a table the reader does not
  // recognise looks exactly like that. The status tells it from success, for scripts; the
  // pages' text is in DIR all the same (a PDF without a table is not an error to read).
  std::string rows_note = "not adding up " + std::to_string(extraction.not_adding_up());
  if (rows == 0) {
    const std::string why = extraction.why_no_rows(failed > 0);
    rows_note = "no ledger row found: " + why;
    std::fprintf(stderr,
                 "extract_core: no ledger row found in '%s': %s (ledger.csv holds only its "
                 "header line)\n",
                 args.pdf.c_str(), why.c_str());
  }
  std::printf("pages %zu (failed %zu), rows %zu (%s), images %zu, bytes moved %llu, %.3f s, "
              "%.1f pages/s\n",
              done, failed, rows, rows_note.c_str(), extraction.images(),
              static_cast<unsigned long long>(extraction.bytes()), seconds,
              static_cast<double>(done) / seconds);
  std::fflush(stdout);
  return failed != 0 ? 3 : rows == 0 ? 4 : 0;
}

} // namespace

// Every way out (bad arguments, a failure, a stop signal) unwinds through run(): the
// Supervisor stops its worker and removes the session, OutputDir removes the staging files.
int main(int argc, char **argv) {
  return examples::run_main("extract_core", [&] { return run(argc, argv); });
}

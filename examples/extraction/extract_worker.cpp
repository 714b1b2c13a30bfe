// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// extract_worker: the PDF side of the extraction pipeline. Started by extract_core through a
// shmpipe::Supervisor; serves OpenDocument and ExtractRequest messages over the session and
// answers with PageText, LedgerBatch and Evidence messages built in place in the ring.
//
// Links poppler-cpp (GPL): this program is GPL when distributed; the header-only shmpipe
// library it uses is not affected. One poppler document per process, used by one thread.
//
// Per ExtractRequest for page p the worker replies, in this order: PageText, LedgerBatch (the
// rows found on p; final when there are none), then one Evidence per row (the last one final).
// Ledger tables continue across pages without repeating their header, so the worker keeps the
// column layout of the document it reads from page to page, and reports it with each page's
// rows (LedgerBatch.layout). A restarted worker is handed the layout of the page before in the
// request (ExtractRequest.layout) and adopts it: it reads no page but the one asked for.
#include <shmpipe/schemas/envelope_shmpipe.h>
#include <shmpipe/schemas/extraction_shmpipe.h>
#include <shmpipe/supervisor.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <poppler-document.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include "ledger.hpp"
#include "rules.hpp"

namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;

/// Error codes of this pipeline (Envelope Error.code).
enum Code : std::int32_t {
  kUnreadable = 10, ///< missing, unreadable or damaged document
  kEncrypted = 11,  ///< needs a user password (one with an empty user password opens)
  kBadPage = 12,    ///< page number out of range
  kTooLarge = 13,   ///< an evidence crop larger than the ring holds
  kBadRequest = 14, ///< not a request this worker serves
};

constexpr auto kSendLimit = 30s; // a core that reads nothing for this long is stuck
constexpr int kRulesDpi = 150;   // the resolution rules are found at (ledger rows from it)

/// The document being read, and the ledger reader's state after the last page it read.
struct Document {
  std::string path;
  std::unique_ptr<poppler::document> doc;
  extraction::LedgerReader ledger;
};

std::vector<extraction::Word> words_of(poppler::page &page) {
  std::vector<extraction::Word> words;
  for (const poppler::text_box &box : page.text_list(poppler::page::text_list_include_font)) {
    const poppler::byte_array utf8 = box.text().to_utf8();
    const poppler::rectf r = box.bbox();
    words.push_back({std::string(utf8.begin(), utf8.end()), r.left(), r.top(), r.right(),
                     r.bottom(), box.get_font_size(), box.has_space_after()});
  }
  return words;
}

/// Test hook for the fault tests: SHMPIPE_EXTRACT_CRASH=PAGE[:MARKER] kills this worker
/// (SIGKILL) when it opens 0-based page PAGE to read it, as a page that crashes poppler would;
/// with MARKER, only while that file does not exist yet (it is created first), i.e. once.
void crash_if_asked(int page) {
  const char *spec = std::getenv("SHMPIPE_EXTRACT_CRASH");
  if (spec == nullptr)
    return;
  char *end = nullptr;
  const unsigned long target = std::strtoul(spec, &end, 10);
  if (end == spec || target != static_cast<unsigned long>(page))
    return;
  if (*end == ':') {
    const int fd = ::open(end + 1, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
      return; // crashed here once already
    ::close(fd);
  }
  std::raise(SIGKILL);
}

/// Test hook: SHMPIPE_EXTRACT_TRACE=FILE appends "read PAGE" (0-based) to FILE for every page
/// this worker opens to read, so that a test sees which pages a run read, and how often.
void trace_read(int page) {
  const char *file = std::getenv("SHMPIPE_EXTRACT_TRACE");
  if (file == nullptr)
    return;
  const int fd = ::open(file, O_CREAT | O_APPEND | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  const std::string line = "read " + std::to_string(page) + "\n";
  static_cast<void>(::write(fd, line.data(), line.size())); // one append: whole lines
  ::close(fd);
}

/// Page `n` opened to read its content (not only its size): where the test hooks act.
std::unique_ptr<poppler::page> open_for_reading(poppler::document &doc, int n) {
  crash_if_asked(n);
  trace_read(n);
  return std::unique_ptr<poppler::page>(doc.create_page(n));
}

/// The core is gone or stuck (a reply could not be sent): nothing is left to serve. Thrown to
/// main, which exits with status 4 once the Worker has detached.
struct CoreGone {};

class Server {
public:
  explicit Server(shmpipe::Worker &worker) : worker_(worker) {
    // poppler reports parse problems of damaged files on stderr; the Error reply says enough.
    poppler::set_debug_error_function([](const std::string &, void *) {}, nullptr);
  }

  int run() {
    for (;;) {
      shmpipe::Incoming in = worker_.receive(std::chrono::hours(24));
      if (!in) // closed: Shutdown (receive() handles it), or the core is gone
        return in.status() == shmpipe::Status::timeout ? 3 : 0;
      const std::uint64_t id = in.request_id();
      const auto request = in.as<sc::Extraction>();
      if (!request) {
        reply_error(id, kBadRequest, "not a valid Extraction message");
        continue;
      }
      if (const sc::OpenDocument *open = request->body_as_OpenDocument())
        serve_open(id, open->path() != nullptr ? open->path()->str() : std::string());
      else if (const sc::ExtractRequest *page = request->body_as_ExtractRequest())
        serve_page(id, page->path() != nullptr ? page->path()->str() : std::string(), page->page(),
                   page->dpi(), page->layout());
      else
        reply_error(id, kBadRequest, "expected OpenDocument or ExtractRequest");
    }
  }

private:
  void reply_error(std::uint64_t id, Code code, const std::string &message) {
    if (worker_.error(id, code, message, kSendLimit) != shmpipe::Status::ok)
      throw CoreGone{};
  }

  void check(shmpipe::Status status) {
    if (status != shmpipe::Status::ok)
      throw CoreGone{};
  }

  /// The document at `path`, opened (and kept) on first use; nullptr after an Error reply.
  Document *open_document(std::uint64_t id, const std::string &path) {
    if (doc_ && doc_->path == path)
      return doc_.get();
    doc_.reset();
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_file(path));
    if (!doc) {
      reply_error(id, kUnreadable, "cannot open '" + path + "': missing, unreadable or not a PDF");
      return nullptr;
    }
    // A PDF encrypted with an empty user password (only an owner password, restricting
    // printing or copying) opens unlocked: poppler tries the empty password itself.
    if (doc->is_locked()) {
      reply_error(id, kEncrypted,
                  "'" + path + "' is encrypted and needs a password to open (none can be given)");
      return nullptr;
    }
    doc_ = std::make_unique<Document>(Document{path, std::move(doc), {}});
    return doc_.get();
  }

  void serve_open(std::uint64_t id, const std::string &path) {
    Document *d = open_document(id, path);
    if (d == nullptr)
      return;
    const int pages = d->doc->pages();
    if (pages <= 0) {
      doc_.reset();
      return reply_error(id, kUnreadable, "'" + path + "' has no pages (damaged?)");
    }
    float max_w = 0, max_h = 0;
    for (int i = 0; i < pages; ++i) {
      const std::unique_ptr<poppler::page> p(d->doc->create_page(i));
      if (!p)
        continue;
      const auto [w, h] = displayed_size(*p);
      max_w = std::max(max_w, w);
      max_h = std::max(max_h, h);
    }
    check(worker_.reply<sc::Extraction>(
        id,
        [&](fb::FlatBufferBuilder &b) {
          const auto info =
              sc::CreateDocumentInfo(b, static_cast<std::uint32_t>(pages), max_w, max_h);
          return sc::CreateExtraction(b, id, sc::ExtractionBody::DocumentInfo, info.Union());
        },
        kSendLimit, true, {.size_hint = 128}));
  }

  /// Page size in points as displayed (text boxes and renders use the rotated page).
  static std::pair<float, float> displayed_size(poppler::page &p) {
    const poppler::rectf r = p.page_rect(poppler::media_box);
    const bool sideways =
        p.orientation() == poppler::page::landscape || p.orientation() == poppler::page::seascape;
    const auto w = static_cast<float>(sideways ? r.height() : r.width());
    const auto h = static_cast<float>(sideways ? r.width() : r.height());
    return {w, h};
  }

  /// `layout`: the reading state before this page (untrusted), or nullptr: the state the
  /// last page this worker read left.
  void serve_page(std::uint64_t id, const std::string &path, std::uint32_t page_no,
                  std::uint16_t dpi, const fb::Vector<std::uint8_t> *layout) {
    Document *d = open_document(id, path);
    if (d == nullptr)
      return;
    if (page_no >= static_cast<std::uint32_t>(d->doc->pages()))
      return reply_error(id, kBadPage,
                         "page " + std::to_string(page_no + 1) + " of '" + path + "' (it has " +
                             std::to_string(d->doc->pages()) + ")");
    if (dpi < 18 || dpi > 1200)
      return reply_error(id, kBadRequest, "dpi " + std::to_string(dpi) + " outside 18..1200");
    if (layout != nullptr && !d->ledger.restore_layout({layout->data(), layout->size()}))
      return reply_error(id, kBadRequest,
                         "the layout sent with page " + std::to_string(page_no + 1) + " (" +
                             std::to_string(layout->size()) +
                             " bytes) is not a reading state this worker writes");
    const int page = static_cast<int>(page_no);
    const std::unique_ptr<poppler::page> p = open_for_reading(*d->doc, page);
    if (!p)
      return reply_error(id, kUnreadable, "page " + std::to_string(page + 1) + " is damaged");
    const auto [width_pt, height_pt] = displayed_size(*p);

    const poppler::byte_array text = p->text().to_utf8();
    check(worker_.reply<sc::Extraction>(
        id,
        [&](fb::FlatBufferBuilder &b) {
          const auto t = sc::CreatePageText(b, page_no, b.CreateString(text.data(), text.size()),
                                            width_pt, height_pt);
          return sc::CreateExtraction(b, id, sc::ExtractionBody::PageText, t.Union());
        },
        kSendLimit, false, {.size_hint = text.size() + 256}));

    const std::vector<extraction::Word> words = words_of(*p);
    // A page that may hold a table is rendered for its rules (at a fixed resolution, so that
    // the rows do not depend on the crops' dpi); the same render serves the crops when the
    // dpi is that one.
    std::optional<poppler::image> image;
    extraction::Rules rules;
    if (d->ledger.may_hold_rows(words)) {
      image = render(*p, kRulesDpi);
      if (!image)
        return reply_error(id, kUnreadable, "page " + std::to_string(page + 1) + " did not render");
      rules =
          extraction::find_rules(reinterpret_cast<const std::uint8_t *>(image->const_data()),
                                 static_cast<std::size_t>(image->bytes_per_row()) *
                                     static_cast<std::size_t>(image->height()),
                                 image->width(), image->height(),
                                 static_cast<std::size_t>(image->bytes_per_row()), 3, kRulesDpi);
    }
    const std::vector<extraction::Row> rows = d->ledger.read_page(page_no, words, rules);
    send_rows(id, page_no, rows, d->ledger);
    if (rows.empty())
      return;
    if (dpi != kRulesDpi)
      image = render(*p, dpi);
    if (!image)
      return reply_error(id, kUnreadable, "page " + std::to_string(page + 1) + " did not render");
    for (std::size_t i = 0; i < rows.size(); ++i)
      send_evidence(id, *image, page_no, i, rows[i], dpi, {width_pt, height_pt},
                    i + 1 == rows.size());
  }

  /// The page rendered at `dpi` as RGB24, or nothing when poppler cannot. One render serves
  /// the rules and all of a page's crops: a render walks the whole page's content however
  /// small the area (32 crops of a page each rendered cost 5x more here).
  static std::optional<poppler::image> render(poppler::page &page, int dpi) {
    poppler::page_renderer renderer;
    renderer.set_image_format(poppler::image::format_rgb24);
    renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
    renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
    poppler::image image = renderer.render_page(&page, dpi, dpi);
    if (!image.is_valid() || image.width() <= 0 || image.height() <= 0 ||
        image.bytes_per_row() < image.width() * 3)
      return std::nullopt;
    return image;
  }

  /// The page's rows as one columnar LedgerBatch, built in place: every column is created
  /// first (uninitialized), then all are filled in one pass over the rows. Creating a vector
  /// may move the buffer (when it outgrows its memory), so none is addressed before all exist.
  /// With them the reader's state after the page, once it has seen a table.
  void send_rows(std::uint64_t id, std::uint32_t page, const std::vector<extraction::Row> &rows,
                 const extraction::LedgerReader &reader) {
    const std::vector<std::uint8_t> layout =
        reader.has_layout() ? reader.save_layout() : std::vector<std::uint8_t>();
    static constexpr std::array<std::string extraction::Row::*, 4> kText{
        &extraction::Row::stt, &extraction::Row::code, &extraction::Row::name,
        &extraction::Row::unit};
    const std::size_t n = rows.size();
    std::array<std::size_t, 4> text{}; // bytes of each string column
    for (const extraction::Row &r : rows)
      for (std::size_t c = 0; c < kText.size(); ++c)
        text[c] += (r.*kText[c]).size();
    const std::size_t text_bytes = text[0] + text[1] + text[2] + text[3];
    check(worker_.reply<sc::Extraction>(
        id,
        [&](fb::FlatBufferBuilder &b) {
          std::uint8_t *u8 = nullptr;
          std::uint32_t *u32 = nullptr;
          double *f64 = nullptr;
          sc::BBox *box = nullptr;
          std::array<fb::Offset<fb::Vector<std::uint8_t>>, 4> bytes_at;
          std::array<fb::Offset<fb::Vector<std::uint32_t>>, 4> offsets_at;
          for (std::size_t c = 0; c < kText.size(); ++c) {
            bytes_at[c] = b.CreateUninitializedVector(text[c], &u8);
            offsets_at[c] = b.CreateUninitializedVector(n + 1, &u32);
          }
          // The split price columns only when some row has a part.
          const bool split = std::any_of(rows.begin(), rows.end(), [](const extraction::Row &r) {
            return std::any_of(r.parts.begin(), r.parts.end(),
                               [](double v) { return !std::isnan(v); });
          });
          std::array<fb::Offset<fb::Vector<double>>, 6> parts_at{};
          if (split)
            for (std::size_t k = 0; k < parts_at.size(); ++k) {
              std::vector<double> column(n);
              for (std::size_t i = 0; i < n; ++i)
                column[i] = rows[i].parts[k];
              parts_at[k] = b.CreateVector(column);
            }
          const auto page_at = b.CreateUninitializedVector(n, &u32);
          const auto quantity_at = b.CreateUninitializedVector(n, &f64);
          const auto unit_price_at = b.CreateUninitializedVector(n, &f64);
          const auto amount_at = b.CreateUninitializedVector(n, &f64);
          const auto flags_at = b.CreateUninitializedVector(n, &u8);
          const auto box_at = b.CreateUninitializedVectorOfStructs(n, &box);
          const auto layout_at =
              layout.empty() ? fb::Offset<fb::Vector<std::uint8_t>>() : b.CreateVector(layout);

          const auto data = [&b](auto at) { return fb::GetMutableTemporaryPointer(b, at)->data(); };
          std::array<std::uint8_t *, 4> bytes{};
          std::array<std::uint32_t *, 4> offsets{};
          std::array<std::uint32_t, 4> used{};
          for (std::size_t c = 0; c < kText.size(); ++c) {
            bytes[c] = data(bytes_at[c]);
            offsets[c] = data(offsets_at[c]);
            offsets[c][0] = 0;
          }
          std::uint32_t *pages = data(page_at);
          double *quantity = data(quantity_at), *unit_price = data(unit_price_at);
          double *amount = data(amount_at);
          std::uint8_t *flags = data(flags_at);
          auto *boxes = reinterpret_cast<sc::BBox *>(data(box_at));
          for (std::size_t i = 0; i < n; ++i) {
            const extraction::Row &r = rows[i];
            for (std::size_t c = 0; c < kText.size(); ++c) {
              const std::string &cell = r.*kText[c];
              std::memcpy(bytes[c] + used[c], cell.data(), cell.size());
              offsets[c][i + 1] = used[c] += static_cast<std::uint32_t>(cell.size());
            }
            pages[i] = page;
            quantity[i] = r.quantity, unit_price[i] = r.unit_price, amount[i] = r.amount;
            flags[i] = r.adds_up ? 0 : 1;
            boxes[i] = sc::BBox(static_cast<float>(r.x0), static_cast<float>(r.y0),
                                static_cast<float>(r.x1), static_cast<float>(r.y1));
          }
          std::array<fb::Offset<sc::StringColumn>, 4> columns;
          for (std::size_t c = 0; c < kText.size(); ++c)
            columns[c] = sc::CreateStringColumn(b, offsets_at[c], bytes_at[c]);
          const auto batch = sc::CreateLedgerBatch(
              b, 0, page_at, columns[0], columns[1], columns[2], columns[3], quantity_at,
              unit_price_at, amount_at, flags_at, box_at, parts_at[0], parts_at[1], parts_at[2],
              parts_at[3], parts_at[4], parts_at[5], layout_at);
          return sc::CreateExtraction(b, id, sc::ExtractionBody::LedgerBatch, batch.Union());
        },
        kSendLimit, rows.empty(), {.size_hint = 512 + n * 80 + text_bytes + layout.size()}));
  }

  /// The row's area of the rendered page as an Evidence message. poppler renders into its
  /// own bitmap (poppler-cpp takes no caller-supplied buffer); each crop is copied once, row by
  /// row, into the vector reserved in the ring, and the core encodes the PNG from the ring.
  void send_evidence(std::uint64_t id, const poppler::image &image, std::uint32_t page,
                     std::size_t index, const extraction::Row &row, std::uint16_t dpi,
                     std::pair<float, float> page_pt, bool last) {
    const double scale = dpi / 72.0;
    constexpr double kMargin = 2.0; // points around the words
    const double x0 = std::clamp(row.x0 - kMargin, 0.0, double{page_pt.first});
    const double y0 = std::clamp(row.y0 - kMargin, 0.0, double{page_pt.second});
    const double x1 = std::clamp(row.x1 + kMargin, x0, double{page_pt.first});
    const double y1 = std::clamp(row.y1 + kMargin, y0, double{page_pt.second});
    const int full_w = image.width(), full_h = image.height();
    const int px = std::clamp(static_cast<int>(std::floor(x0 * scale)), 0, full_w - 1);
    const int py = std::clamp(static_cast<int>(std::floor(y0 * scale)), 0, full_h - 1);
    const int pw = std::clamp(static_cast<int>(std::ceil((x1 - x0) * scale)), 1, full_w - px);
    const int ph = std::clamp(static_cast<int>(std::ceil((y1 - y0) * scale)), 1, full_h - py);
    const auto width = static_cast<std::uint32_t>(pw);
    const auto height = static_cast<std::uint32_t>(ph);
    const std::uint32_t stride = width * 3; // tight rows: poppler pads its own to 4 bytes
    const std::uint64_t bytes = std::uint64_t{stride} * height;
    if (bytes + 1024 > worker_.max_message())
      return reply_error(id, kTooLarge,
                         "evidence crop " + std::to_string(pw) + "x" + std::to_string(ph) + " at " +
                             std::to_string(dpi) + " dpi needs " + std::to_string(bytes) +
                             " bytes; the ring holds messages up to " +
                             std::to_string(worker_.max_message()));
    const auto source_stride = static_cast<std::size_t>(image.bytes_per_row());
    const char *source = image.const_data() + static_cast<std::size_t>(py) * source_stride +
                         static_cast<std::size_t>(px) * 3;
    check(worker_.reply<sc::Extraction>(
        id,
        [&](fb::FlatBufferBuilder &b) {
          std::uint8_t *pixels = nullptr;
          const auto vec = b.CreateUninitializedVector(bytes, &pixels);
          for (std::uint32_t y = 0; y < height; ++y)
            std::memcpy(pixels + std::size_t{y} * stride, source + y * source_stride, stride);
          const sc::BBox box(static_cast<float>(x0), static_cast<float>(y0), static_cast<float>(x1),
                             static_cast<float>(y1));
          const auto evidence = sc::CreateEvidence(b, page, index, &box, width, height, stride,
                                                   sc::PixelFormat::RGB24, dpi, vec);
          return sc::CreateExtraction(b, id, sc::ExtractionBody::Evidence, evidence.Union());
        },
        kSendLimit, last, {.size_hint = bytes + 256}));
  }

  shmpipe::Worker &worker_;
  std::unique_ptr<Document> doc_;
};

} // namespace

int main(int argc, char **argv) {
  if (argc > 1) {
    std::fprintf(stderr, "usage: %s (started by extract_core, which sets %s)\n", argv[0],
                 shmpipe::kSessionEnv);
    return 2;
  }
  try {
    shmpipe::Worker worker = shmpipe::attach_supervised(
        {.capabilities = {"ledger", "evidence"}, .worker_name = "extract_worker"});
    return Server(worker).run();
  } catch (const CoreGone &) {
    return 4;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "extract_worker: %s\n", e.what());
    return 2;
  }
}

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Ledger rows from a worker process to the core: shmpipe (columnar LedgerBatch messages built
// in place, verified and read in place) against the legacy path, NDJSON over a pipe,
// parsed with nlohmann::json and with a hand-written parser. Issue 6, item 7; issue 16, item 4.
//
//   ledger_transport_bench [--reps N] [--rows N[,N...]] [--capacity BYTES] [--batch ROWS]
//                          [--shmpipe-only]
//
// Each run starts when the core tells an already forked worker to go and ends when the core
// has read every field of every row (numbers summed, strings touched, as a core would consume
// them; bench/ledger_read.hpp); the worker's serialization is inside the timing, as it is part
// of the pipeline. The three paths must agree on the checksum, or the program fails. Medians
// over --reps runs, paths interleaved. Before its go, every worker reads its rows once (see
// warm()); the shmpipe worker also writes once around its ring ("shmpipe ms", as a worker that
// has been running has it), or does not ("cold attach": its first lap in the timing).
// --capacity and --batch set the ring and the rows per message (defaults below);
// --shmpipe-only skips NDJSON, to tune them.
#include <shmpipe/channel.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/schemas/extraction_shmpipe.h>

#include "ledger_read.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using shmpipe::bench::Checksum;

/// For the core's side (the parent): a throw unwinds to main(), so that the channel's segment
/// is removed on every exit path. A forked worker ends with std::_Exit instead.
[[noreturn]] void fail(const std::string &why) { throw std::runtime_error(why); }

struct Row {
  std::uint32_t page;
  std::string stt, code, name, unit;
  double quantity, unit_price, amount;
  std::uint8_t flags;
  std::array<float, 4> bbox;
};

std::vector<Row> make_rows(std::size_t n) {
  static const char *const names[] = {
      "Đào móng băng bằng máy đào",
      "Bê tông lót móng đá 4x6 mác 100",
      "Ván khuôn móng cột",
      "Xây tường gạch chỉ 6,5x10,5x22, vữa xi măng mác 75",
      "Lắp đặt ống nhựa PVC \"Tiền Phong\" D110 - tầng 2 khu nhà điều hành",
      "Trát tường trong dày 1,5cm\\lớp 2"};
  static const char *const units[] = {"m3", "m2", "100m2", "tấn", "cái"};
  std::mt19937_64 rng(42);
  std::vector<Row> rows(n);
  for (std::size_t i = 0; i < n; ++i) {
    Row &r = rows[i];
    r.page = static_cast<std::uint32_t>(i / 32);
    r.stt = std::to_string(i + 1);
    r.code = "AB." + std::to_string(10000 + rng() % 90000);
    r.name = names[rng() % 6];
    r.unit = units[rng() % 5];
    r.quantity = static_cast<double>(rng() % 1000000) / 100.0;
    r.unit_price = static_cast<double>(rng() % 10000000);
    r.amount = r.quantity * r.unit_price;
    r.flags = static_cast<std::uint8_t>(rng() % 50 == 0);
    const auto y = static_cast<float>(60 + (i % 32) * 22);
    r.bbox = {30.5f, y, 565.25f, y + 11.5f};
  }
  return rows;
}

// ----------------------------------------------------------------------------------------
// shmpipe: columnar batches built in place.

/// Copies `n` bytes; strings of up to 16 bytes (most of a ledger's cells) without a call, with
/// two overlapping loads and stores that stay within [0, n).
inline void copy_text(std::uint8_t *to, const char *from, std::size_t n) {
  if (n > 16) {
    std::memcpy(to, from, n);
  } else if (n >= 8) {
    std::uint64_t head, tail;
    std::memcpy(&head, from, 8);
    std::memcpy(&tail, from + n - 8, 8);
    std::memcpy(to, &head, 8);
    std::memcpy(to + n - 8, &tail, 8);
  } else if (n >= 4) {
    std::uint32_t head, tail;
    std::memcpy(&head, from, 4);
    std::memcpy(&tail, from + n - 4, 4);
    std::memcpy(to, &head, 4);
    std::memcpy(to + n - 4, &tail, 4);
  } else if (n > 0) {
    to[0] = static_cast<std::uint8_t>(from[0]);
    to[n / 2] = static_cast<std::uint8_t>(from[n / 2]);
    to[n - 1] = static_cast<std::uint8_t>(from[n - 1]);
  }
}

/// Bytes of each string column of rows [from, to).
std::array<std::size_t, 4> text_bytes(const std::vector<Row> &rows, std::size_t from,
                                      std::size_t to) {
  std::array<std::size_t, 4> text{};
  for (std::size_t i = from; i < to; ++i) {
    const Row &r = rows[i];
    text[0] += r.stt.size(), text[1] += r.code.size(), text[2] += r.name.size(),
        text[3] += r.unit.size();
  }
  return text;
}

/// One LedgerBatch of rows [from, to), whose string columns hold `text` bytes, in one pass
/// over the rows: every vector is created
/// (uninitialized) first, then all are filled together, row by row. Creating a vector may move
/// the buffer (if it outgrows its memory), so the vectors are addressed only once all exist.
fb::Offset<sc::Extraction> build_batch(fb::FlatBufferBuilder &b, const std::vector<Row> &rows,
                                       std::size_t from, std::size_t to,
                                       const std::array<std::size_t, 4> &text) {
  const std::size_t n = to - from;
  std::uint8_t *unused = nullptr;
  std::array<fb::Offset<fb::Vector<std::uint8_t>>, 4> bytes_at;
  std::array<fb::Offset<fb::Vector<std::uint32_t>>, 4> offsets_at;
  for (std::size_t c = 0; c < 4; ++c) {
    bytes_at[c] = b.CreateUninitializedVector(text[c], &unused);
    std::uint32_t *offsets = nullptr;
    offsets_at[c] = b.CreateUninitializedVector(n + 1, &offsets);
  }
  std::uint32_t *u32 = nullptr;
  double *f64 = nullptr;
  sc::BBox *box = nullptr;
  const auto page_at = b.CreateUninitializedVector(n, &u32);
  const auto q_at = b.CreateUninitializedVector(n, &f64);
  const auto p_at = b.CreateUninitializedVector(n, &f64);
  const auto a_at = b.CreateUninitializedVector(n, &f64);
  const auto flags_at = b.CreateUninitializedVector(n, &unused);
  const auto box_at = b.CreateUninitializedVectorOfStructs(n, &box);

  const auto data = [&b](auto at) { return fb::GetMutableTemporaryPointer(b, at)->data(); };
  std::array<std::uint8_t *, 4> bytes{};
  std::array<std::uint32_t *, 4> offsets{};
  for (std::size_t c = 0; c < 4; ++c) {
    bytes[c] = data(bytes_at[c]);
    offsets[c] = data(offsets_at[c]);
    offsets[c][0] = 0;
  }
  std::uint32_t *page = data(page_at);
  double *q = data(q_at), *p = data(p_at), *a = data(a_at);
  std::uint8_t *flags = data(flags_at);
  auto *boxes = reinterpret_cast<sc::BBox *>(data(box_at));
  std::array<std::uint32_t, 4> at{};
  for (std::size_t k = 0; k < n; ++k) {
    const Row &r = rows[from + k];
    const std::array<const std::string *, 4> strings{&r.stt, &r.code, &r.name, &r.unit};
    for (std::size_t c = 0; c < 4; ++c) {
      copy_text(bytes[c] + at[c], strings[c]->data(), strings[c]->size());
      offsets[c][k + 1] = at[c] += static_cast<std::uint32_t>(strings[c]->size());
    }
    page[k] = r.page;
    q[k] = r.quantity, p[k] = r.unit_price, a[k] = r.amount;
    flags[k] = r.flags;
    boxes[k] = sc::BBox(r.bbox[0], r.bbox[1], r.bbox[2], r.bbox[3]);
  }
  std::array<fb::Offset<sc::StringColumn>, 4> columns;
  for (std::size_t c = 0; c < 4; ++c)
    columns[c] = sc::CreateStringColumn(b, offsets_at[c], bytes_at[c]);
  const auto batch = sc::CreateLedgerBatch(b, from, page_at, columns[0], columns[1], columns[2],
                                           columns[3], q_at, p_at, a_at, flags_at, box_at);
  return sc::CreateExtraction(b, 1, sc::ExtractionBody::LedgerBatch, batch.Union());
}

/// About the size of build_batch()'s message for `n` rows with `text` bytes of strings.
std::size_t batch_bytes(std::size_t n, const std::array<std::size_t, 4> &text) {
  return text[0] + text[1] + text[2] + text[3] + n * (4 * 4 + 4 + 3 * 8 + 1 + sizeof(sc::BBox)) +
         1024;
}

// 1024 rows (~124 KiB) per message in a 512 KiB ring. On the development VM, 256 KiB / 512
// rows and 1 MiB / 2048 rows each measured ~10% better in some minutes and ~10-25% worse in
// others; 8 MiB / 4096 (the earlier setting) 2-5x slower: more pages written, none in L2.
constexpr std::size_t kBatchRows = 1024;
constexpr std::uint64_t kCapacity = std::uint64_t{1} << 19;

struct ShmOptions {
  std::uint64_t capacity;
  std::size_t batch_rows;
};

// Records that take a freshly attached worker once around the ring before the go (see
// fillers()), of this type; the core drains them untimed.
constexpr std::uint16_t kFiller = 1;
constexpr std::size_t kFillerBytes = 16 << 10;

/// How many filler records cover a ring of `capacity` bytes.
std::size_t fillers(std::uint64_t capacity) {
  return static_cast<std::size_t>(capacity / (kFillerBytes + 16)) + 1;
}

/// `warm`: write once over the whole ring before the go, as a worker that has been running has
/// (its page tables and TLB hold the ring; the core drains the fillers before it starts the
/// clock). A fresh mapping's first writes cost up to ~5 us a page on the development VM, up to
/// ~0.4 ms per 256 KiB of ring, which the "cold attach" column includes.
void shmpipe_worker(const std::string &name, const std::vector<Row> &rows, const ShmOptions &o,
                    bool warm, const std::function<void()> &wait_for_go) {
  // Attaching is set-up, like creating the pipe: outside the timing.
  shmpipe::Producer tx = shmpipe::Producer::open(name, {.open_timeout = 10s});
  for (std::size_t i = 0; warm && i < fillers(o.capacity); ++i) {
    shmpipe::WriteSlot slot = tx.reserve(kFillerBytes, 10s);
    if (!slot)
      std::_Exit(3);
    std::memset(slot.bytes().data(), 0, slot.bytes().size());
    tx.commit(std::move(slot), kFiller);
  }
  wait_for_go();
  for (std::size_t from = 0; from < rows.size(); from += o.batch_rows) {
    const std::size_t to = std::min(rows.size(), from + o.batch_rows);
    const std::array<std::size_t, 4> text = text_bytes(rows, from, to);
    const shmpipe::Status status = tx.send<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) { return build_batch(b, rows, from, to, text); }, 10s,
        {.size_hint = batch_bytes(to - from, text)});
    if (status != shmpipe::Status::ok)
      std::_Exit(3);
  }
  tx.close();
}

/// Releases the fillers of a worker that warms its ring, as they come. Until the worker has
/// attached, the ring still says closed (its previous producer's end of stream).
void drain_fillers(shmpipe::Consumer &rx, std::uint64_t capacity) {
  const auto until = Clock::now() + 10s;
  for (std::size_t i = 0; i < fillers(capacity);) {
    shmpipe::ReadSlot slot = rx.peek(10ms);
    if (slot.status() == shmpipe::Status::closed && Clock::now() < until) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    if (slot.status() == shmpipe::Status::timeout && Clock::now() < until)
      continue;
    if (!slot || slot.type() != kFiller) {
      fail("shmpipe: no filler (" + std::string(shmpipe::to_string(slot.status())) + ")");
    }
    rx.release(std::move(slot));
    ++i;
  }
}

Checksum shmpipe_core(shmpipe::Consumer &rx, bool full) {
  Checksum sum{full};
  for (;;) {
    shmpipe::Received<sc::Extraction> msg = rx.receive<sc::Extraction>(30s);
    if (msg.status() == shmpipe::Status::closed)
      return sum;
    if (!msg || !shmpipe::bench::read_batch(msg->body_as_LedgerBatch(), sum)) {
      fail("shmpipe: bad message (" + std::string(shmpipe::to_string(msg.status())) + ")");
    }
  }
}

// ----------------------------------------------------------------------------------------
// NDJSON over a pipe: one object per row and line, as the legacy worker writes them.

void json_string(std::string &out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

template <class T> void json_number(std::string &out, T v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void write_all(int fd, const std::string &data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0)
      std::_Exit(5);
    done += static_cast<std::size_t>(n);
  }
}

void ndjson_worker(int fd, const std::vector<Row> &rows) {
  std::string out;
  out.reserve(1 << 16);
  for (const Row &r : rows) {
    out += "{\"page\":";
    json_number(out, r.page);
    out += ",\"stt\":";
    json_string(out, r.stt);
    out += ",\"code\":";
    json_string(out, r.code);
    out += ",\"name\":";
    json_string(out, r.name);
    out += ",\"unit\":";
    json_string(out, r.unit);
    out += ",\"quantity\":";
    json_number(out, r.quantity);
    out += ",\"unit_price\":";
    json_number(out, r.unit_price);
    out += ",\"amount\":";
    json_number(out, r.amount);
    out += ",\"flags\":";
    json_number(out, static_cast<unsigned>(r.flags));
    out += ",\"bbox\":[";
    for (int k = 0; k < 4; ++k) {
      if (k != 0)
        out += ',';
      json_number(out, r.bbox[static_cast<std::size_t>(k)]);
    }
    out += "]}\n";
    if (out.size() >= (1 << 16) - 1024) {
      write_all(fd, out);
      out.clear();
    }
  }
  write_all(fd, out);
  ::close(fd);
}

/// Calls `line` for each line read from `fd` until EOF.
template <class Line> void read_lines(int fd, Line &&line) {
  std::string buf;
  std::vector<char> chunk(1 << 16);
  std::size_t start = 0;
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0)
      fail("ndjson: read failed");
    if (n == 0)
      break;
    buf.erase(0, start);
    start = 0;
    buf.append(chunk.data(), static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1)
      line(std::string_view(buf).substr(start, nl - start));
  }
  if (start != buf.size())
    line(std::string_view(buf).substr(start));
}

Checksum nlohmann_core(int fd, bool full) {
  Checksum sum{full};
  read_lines(fd, [&](std::string_view text) {
    const nlohmann::json j = nlohmann::json::parse(text);
    const auto &bb = j.at("bbox");
    sum.row(j.at("page").get<std::uint32_t>(), j.at("stt").get<std::string>(),
            j.at("code").get<std::string>(), j.at("name").get<std::string>(),
            j.at("unit").get<std::string>(), j.at("quantity").get<double>(),
            j.at("unit_price").get<double>(), j.at("amount").get<double>(),
            j.at("flags").get<unsigned>(),
            {bb.at(0).get<float>(), bb.at(1).get<float>(), bb.at(2).get<float>(),
             bb.at(3).get<float>()});
  });
  return sum;
}

/// A parser for exactly this object shape (keys in any order), with full string escapes
/// (\" \\ \/ \b \f \n \r \t \uXXXX with surrogate pairs) and numbers by std::from_chars.
class RowParser {
public:
  explicit RowParser(std::string_view s) : s_(s) {}

  bool parse(Checksum &sum) {
    std::uint32_t page = 0;
    unsigned flags = 0;
    double q = 0, p = 0, a = 0;
    std::array<float, 4> box{};
    std::string stt, code, name, unit;
    if (!eat('{'))
      return false;
    for (bool first = true; !peek('}'); first = false) {
      if (!first && !eat(','))
        return false;
      std::string key;
      if (!string(key) || !eat(':'))
        return false;
      bool ok = true;
      if (key == "page")
        ok = number(page);
      else if (key == "stt")
        ok = string(stt);
      else if (key == "code")
        ok = string(code);
      else if (key == "name")
        ok = string(name);
      else if (key == "unit")
        ok = string(unit);
      else if (key == "quantity")
        ok = number(q);
      else if (key == "unit_price")
        ok = number(p);
      else if (key == "amount")
        ok = number(a);
      else if (key == "flags")
        ok = number(flags);
      else if (key == "bbox") {
        ok = eat('[');
        for (std::size_t k = 0; ok && k < 4; ++k)
          ok = (k == 0 || eat(',')) && number(box[k]);
        ok = ok && eat(']');
      } else
        return false;
      if (!ok)
        return false;
    }
    ++i_;
    sum.row(page, stt, code, name, unit, q, p, a, flags, box);
    return true;
  }

private:
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  bool peek(char c) {
    space();
    return i_ < s_.size() && s_[i_] == c;
  }
  bool eat(char c) {
    if (!peek(c))
      return false;
    ++i_;
    return true;
  }
  template <class T> bool number(T &out) {
    space();
    const auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + s_.size(), out);
    if (ec != std::errc())
      return false;
    i_ = static_cast<std::size_t>(end - s_.data());
    return true;
  }
  bool hex4(std::uint32_t &out) {
    if (i_ + 4 > s_.size())
      return false;
    const auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + i_ + 4, out, 16);
    if (ec != std::errc() || end != s_.data() + i_ + 4)
      return false;
    i_ += 4;
    return true;
  }
  static void utf8(std::string &out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool string(std::string &out) {
    if (!eat('"'))
      return false;
    for (;;) {
      // Copy the run up to the next quote or backslash in one go.
      const std::size_t stop = s_.find_first_of("\"\\", i_);
      if (stop == std::string_view::npos)
        return false;
      out.append(s_.data() + i_, stop - i_);
      i_ = stop + 1;
      if (s_[stop] == '"')
        return true;
      if (i_ >= s_.size())
        return false;
      const char e = s_[i_++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        std::uint32_t cp = 0;
        if (!hex4(cp))
          return false;
        if (cp >= 0xD800 && cp < 0xDC00) { // a high surrogate: its low half must follow
          std::uint32_t low = 0;
          if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
            return false;
          i_ += 2;
          if (!hex4(low) || low < 0xDC00 || low >= 0xE000)
            return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return false;
        }
        utf8(out, cp);
        break;
      }
      default:
        return false;
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

Checksum handwritten_core(int fd, bool full) {
  Checksum sum{full};
  read_lines(fd, [&](std::string_view text) {
    if (!RowParser(text).parse(sum)) {
      fail("ndjson: bad line");
    }
  });
  return sum;
}

// ----------------------------------------------------------------------------------------

struct Run {
  double seconds;
  Checksum sum;
};

/// Reads every field of every row once, as a worker that has just made its rows has them in
/// memory. A worker forked for a run would otherwise touch the parent's pages for the first
/// time inside the timing, which costs ~5 us a page on the development VM (~30 ms for 100k
/// rows, in both transports alike) and measures the VM, not the transport.
std::uint64_t warm(const std::vector<Row> &rows) {
  std::uint64_t sum = 0;
  for (const Row &r : rows) {
    for (const std::string *s : {&r.stt, &r.code, &r.name, &r.unit})
      sum += s->size() + static_cast<unsigned char>(s->empty() ? 0 : s->back());
    sum += r.page + r.flags + static_cast<std::uint64_t>(r.quantity + r.unit_price + r.amount) +
           static_cast<std::uint64_t>(r.bbox[0] + r.bbox[3]);
  }
  return sum;
}

/// Forks the worker, which warms its rows, sets up and then calls the function it is given to
/// wait for the go byte; times from that byte to `core` returning.
Run timed(
    const std::vector<Row> &rows, const std::function<void(const std::function<void()> &)> &worker,
    const std::function<Checksum()> &core, const std::function<void()> &parent_after_fork = [] {}) {
  int go[2], ready[2];
  if (::pipe(go) != 0 || ::pipe(ready) != 0)
    fail("pipe");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    ::close(ready[0]);
    const char warmed = static_cast<char>(warm(rows) & 1);
    worker([&] {
      if (::write(ready[1], &warmed, 1) != 1)
        std::_Exit(9);
      char byte = 0;
      if (::read(go[0], &byte, 1) != 1)
        std::_Exit(9);
    });
    std::_Exit(0);
  }
  ::close(go[0]);
  ::close(ready[1]);
  // Until it is reaped below, a failure here kills the worker: no orphan on any exit path.
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reap{pid};
  parent_after_fork();
  char byte = 0;
  if (::read(ready[0], &byte, 1) != 1)
    fail("the worker died before it was ready");
  ::close(ready[0]);
  std::this_thread::sleep_for(10ms); // it waits in read() on the go pipe by now
  const auto start = Clock::now();
  if (::write(go[1], &byte, 1) != 1)
    fail("the worker died before the go");
  const Checksum sum = core();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(go[1]);
  int status = 0;
  ::waitpid(std::exchange(reap.pid, 0), &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail("worker failed (wait status " + std::to_string(status) + ")");
  }
  return {seconds, sum};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

static int run(int argc, char **argv) {
  int reps = 7;
  std::vector<std::size_t> sizes{10000, 100000};
  ShmOptions shm_options{.capacity = kCapacity, .batch_rows = kBatchRows};
  bool shmpipe_only = false;
  for (int i = 1; i < argc; i += 2) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--shmpipe-only") == 0) {
      shmpipe_only = true;
      --i;
    } else if (!has_value) {
      std::fprintf(stderr, "%s: missing value\n", argv[i]);
      return 2;
    } else if (std::strcmp(argv[i], "--reps") == 0) {
      reps = std::max(1, std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--capacity") == 0) {
      shm_options.capacity = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--batch") == 0) {
      shm_options.batch_rows = std::max<std::size_t>(1, std::strtoull(argv[i + 1], nullptr, 10));
    } else if (std::strcmp(argv[i], "--rows") == 0) {
      sizes.clear();
      for (const char *p = argv[i + 1]; *p != '\0';) {
        char *end = nullptr;
        sizes.push_back(std::strtoull(p, &end, 10));
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("%8s %12s %12s %16s %18s %8s %11s %15s\n", "rows", "shmpipe ms", "cold attach",
              "ndjson hand ms", "ndjson nlohmann ms", "x hand", "x nlohmann", "x nl. (cold)");
  for (const std::size_t n : sizes) {
    const std::vector<Row> rows = make_rows(n);
    std::vector<double> shm, cold, hand, nlo;
    // Run -1 hashes every byte (full) and is not timed: it proves the three paths deliver the
    // same rows; it also warms the core's mapping of the ring, as a running pipeline has it.
    // The timed runs touch every field (see Checksum) and must agree with each other too.
    std::array<std::optional<Checksum>, 2> expected;
    const auto check = [&](const Checksum &sum, const char *path) {
      std::optional<Checksum> &want = expected[sum.full ? 1 : 0];
      if (sum.rows != n || (want && !(sum == *want))) {
        fail(std::string(path) + ": checksum differs (" + std::to_string(sum.rows) + " rows)");
      }
      want = sum;
    };
    // One channel per size, as a core keeps its session: each run's producer attaches anew.
    const std::string name = "shmpipe-ledger-bench-" + std::to_string(::getpid());
    shmpipe::Consumer rx = shmpipe::Consumer::create(name, {.capacity = shm_options.capacity});
    for (int r = -1; r < reps; ++r) {
      const bool full = r < 0;
      for (const bool warm : {true, false}) {
        const Run run = timed(
            rows, [&](const auto &wait) { shmpipe_worker(name, rows, shm_options, warm, wait); },
            [&] { return shmpipe_core(rx, full); },
            [&] {
              if (warm)
                drain_fillers(rx, shm_options.capacity);
            });
        check(run.sum, "shmpipe");
        if (!full)
          (warm ? shm : cold).push_back(run.seconds);
      }
      // NDJSON, hand-written parser, then nlohmann
      for (const bool use_nlohmann : {false, true}) {
        if (shmpipe_only)
          break;
        int fds[2];
        if (::pipe(fds) != 0)
          fail("pipe");
        const Run run = timed(
            rows,
            [&](const auto &wait) {
              ::close(fds[0]);
              wait();
              ndjson_worker(fds[1], rows);
            },
            [&] {
              return use_nlohmann ? nlohmann_core(fds[0], full) : handwritten_core(fds[0], full);
            },
            [&] { ::close(fds[1]); });
        ::close(fds[0]);
        check(run.sum, use_nlohmann ? "nlohmann" : "handwritten");
        if (!full)
          (use_nlohmann ? nlo : hand).push_back(run.seconds);
      }
    }
    const double s = median(shm), c = median(cold);
    if (shmpipe_only) {
      std::printf("%8zu %12.2f %12.2f\n", n, s * 1e3, c * 1e3);
      continue;
    }
    const double h = median(hand), j = median(nlo);
    std::printf("%8zu %12.2f %12.2f %16.2f %18.2f %8.1f %11.1f %15.1f\n", n, s * 1e3, c * 1e3,
                h * 1e3, j * 1e3, h / s, j / s, j / c);
  }
  return 0;
}

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ledger_transport_bench: %s\n", e.what());
    return 1;
  }
}

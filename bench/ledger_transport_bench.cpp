// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Ledger rows from a worker process to the core: shmpipe (columnar LedgerBatch messages built
// in place, verified and read in place) against the legacy path, NDJSON over a pipe,
// parsed with nlohmann::json and with a hand-written parser. Issue 6, item 7.
//
//   ledger_transport_bench [--reps N] [--rows N[,N...]]
//
// Each run starts when the core tells an already forked worker to go and ends when the core
// has read every field of every row (numbers summed, strings hashed, as a core would consume
// them); the worker's serialization is inside the timing, as it is part of the pipeline. The
// three paths must agree on the checksum, or the program fails. Medians over --reps runs,
// paths interleaved.
#include <shmpipe/channel.hpp>
#include <shmpipe/message.hpp>
#include <shmpipe/schemas/extraction_shmpipe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fb = flatbuffers;
namespace sc = shmpipe::schema;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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

/// What the core computes from the rows it read: every field goes into it. `full`: every
/// byte of every string is hashed (the untimed verification run, which proves the paths
/// deliver the same bytes); else each string is touched (length, first and last byte), which
/// is what "readable" costs a core that then uses the fields: the timed runs.
struct Checksum {
  bool full = false;
  std::uint64_t strings = 1469598103934665603ULL; // FNV-1a
  std::uint64_t numbers = 0;                      // sum of the bit patterns of all numbers
  std::uint64_t rows = 0;

  void text(std::string_view s) {
    if (full) {
      for (const char c : s)
        strings = (strings ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
      strings = (strings ^ 0xff) * 1099511628211ULL; // field separator
    } else {
      strings += s.size() + (s.empty() ? 0u
                                       : static_cast<unsigned char>(s.front()) +
                                             static_cast<unsigned char>(s.back()) * 256u);
    }
  }
  void number(double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    numbers += bits;
  }
  void number(float f) { number(static_cast<double>(f)); }
  void row(std::uint32_t page, std::string_view stt, std::string_view code, std::string_view name,
           std::string_view unit, double q, double p, double a, unsigned flags,
           const std::array<float, 4> &box) {
    numbers += page + flags * 7ULL;
    text(stt), text(code), text(name), text(unit);
    number(q), number(p), number(a);
    for (const float f : box)
      number(f);
    ++rows;
  }
  bool operator==(const Checksum &) const = default;
};

// ----------------------------------------------------------------------------------------
// shmpipe: columnar batches built in place.

constexpr std::size_t kBatchRows = 4096;

fb::Offset<sc::StringColumn> column(fb::FlatBufferBuilder &b, const std::vector<Row> &rows,
                                    std::size_t from, std::size_t to, std::string Row::*field) {
  std::size_t total = 0;
  for (std::size_t i = from; i < to; ++i)
    total += (rows[i].*field).size();
  std::uint8_t *bytes = nullptr;
  const auto bytes_vec = b.CreateUninitializedVector(total, &bytes);
  std::size_t at = 0;
  for (std::size_t i = from; i < to; ++i) {
    std::memcpy(bytes + at, (rows[i].*field).data(), (rows[i].*field).size());
    at += (rows[i].*field).size();
  }
  std::uint32_t *offsets = nullptr;
  const auto offsets_vec = b.CreateUninitializedVector(to - from + 1, &offsets);
  std::uint32_t off = 0;
  offsets[0] = 0;
  for (std::size_t i = from; i < to; ++i)
    offsets[i - from + 1] = off += static_cast<std::uint32_t>((rows[i].*field).size());
  return sc::CreateStringColumn(b, offsets_vec, bytes_vec);
}

template <class T, class Get>
fb::Offset<fb::Vector<T>> numbers(fb::FlatBufferBuilder &b, std::size_t from, std::size_t to,
                                  Get get) {
  T *out = nullptr;
  const auto vec = b.CreateUninitializedVector(to - from, &out);
  for (std::size_t i = from; i < to; ++i)
    out[i - from] = get(i);
  return vec;
}

void shmpipe_worker(const std::string &name, const std::vector<Row> &rows,
                    const std::function<void()> &wait_for_go) {
  // Attaching is set-up, like creating the pipe: outside the timing.
  shmpipe::Producer tx = shmpipe::Producer::open(name, {.open_timeout = 10s});
  wait_for_go();
  for (std::size_t from = 0; from < rows.size(); from += kBatchRows) {
    const std::size_t to = std::min(rows.size(), from + kBatchRows);
    const shmpipe::Status status = tx.send<sc::Extraction>(
        [&](fb::FlatBufferBuilder &b) {
          // Each vector is filled as soon as it is created (the buffer may move after).
          const auto stt = column(b, rows, from, to, &Row::stt);
          const auto code = column(b, rows, from, to, &Row::code);
          const auto name_col = column(b, rows, from, to, &Row::name);
          const auto unit = column(b, rows, from, to, &Row::unit);
          const auto page =
              numbers<std::uint32_t>(b, from, to, [&](auto i) { return rows[i].page; });
          const auto q = numbers<double>(b, from, to, [&](auto i) { return rows[i].quantity; });
          const auto p = numbers<double>(b, from, to, [&](auto i) { return rows[i].unit_price; });
          const auto a = numbers<double>(b, from, to, [&](auto i) { return rows[i].amount; });
          const auto f = numbers<std::uint8_t>(b, from, to, [&](auto i) { return rows[i].flags; });
          sc::BBox *boxes = nullptr;
          const auto box_vec = b.CreateUninitializedVectorOfStructs(to - from, &boxes);
          for (std::size_t i = from; i < to; ++i) {
            const auto &bb = rows[i].bbox;
            boxes[i - from] = sc::BBox(bb[0], bb[1], bb[2], bb[3]);
          }
          const auto batch =
              sc::CreateLedgerBatch(b, from, page, stt, code, name_col, unit, q, p, a, f, box_vec);
          return sc::CreateExtraction(b, 1, sc::ExtractionBody::LedgerBatch, batch.Union());
        },
        10s, {.size_hint = (to - from) * 160 + 4096});
    if (status != shmpipe::Status::ok)
      std::_Exit(3);
  }
  tx.close();
}

/// A checked StringColumn as two plain arrays.
struct Strings {
  explicit Strings(const sc::StringColumn *c)
      : offsets(c->offsets()->data()), bytes(reinterpret_cast<const char *>(c->bytes()->data())) {}
  std::string_view operator[](std::size_t i) const {
    return {bytes + offsets[i], offsets[i + 1] - offsets[i]};
  }
  const std::uint32_t *offsets;
  const char *bytes;
};

bool valid(const sc::StringColumn *c, std::size_t n) {
  if (c == nullptr || c->offsets() == nullptr || c->bytes() == nullptr ||
      c->offsets()->size() != n + 1 || c->offsets()->Get(0) != 0 ||
      c->offsets()->Get(static_cast<fb::uoffset_t>(n)) != c->bytes()->size())
    return false;
  for (fb::uoffset_t i = 0; i < n; ++i)
    if (c->offsets()->Get(i) > c->offsets()->Get(i + 1))
      return false;
  return true;
}

Checksum shmpipe_core(shmpipe::Consumer &rx, bool full) {
  Checksum sum{full};
  for (;;) {
    shmpipe::Received<sc::Extraction> msg = rx.receive<sc::Extraction>(30s);
    if (msg.status() == shmpipe::Status::closed)
      return sum;
    const sc::LedgerBatch *b = msg ? msg->body_as_LedgerBatch() : nullptr;
    if (b == nullptr || b->page() == nullptr) {
      std::fprintf(stderr, "shmpipe: bad message (%s)\n",
                   std::string(shmpipe::to_string(msg.status())).c_str());
      std::exit(4);
    }
    const std::size_t n = b->page()->size();
    const auto sized = [n](const auto *v) { return v != nullptr && v->size() == n; };
    if (!valid(b->stt(), n) || !valid(b->code(), n) || !valid(b->name(), n) ||
        !valid(b->unit(), n) || !sized(b->quantity()) || !sized(b->unit_price()) ||
        !sized(b->amount()) || !sized(b->flags()) || !sized(b->row_bbox())) {
      std::fprintf(stderr, "shmpipe: inconsistent batch\n");
      std::exit(4);
    }
    // Checked once per batch above; now plain arrays, as a columnar reader uses them.
    const Strings stt(b->stt()), code(b->code()), name(b->name()), unit(b->unit());
    const std::uint32_t *page = b->page()->data();
    const double *q = b->quantity()->data();
    const double *p = b->unit_price()->data();
    const double *a = b->amount()->data();
    const std::uint8_t *flags = b->flags()->data();
    const auto *boxes = reinterpret_cast<const sc::BBox *>(b->row_bbox()->Data());
    for (std::size_t i = 0; i < n; ++i) {
      const sc::BBox &box = boxes[i];
      sum.row(page[i], stt[i], code[i], name[i], unit[i], q[i], p[i], a[i], flags[i],
              {box.x0(), box.y0(), box.x1(), box.y1()});
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
      std::exit(6);
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
      std::fprintf(stderr, "ndjson: bad line\n");
      std::exit(7);
    }
  });
  return sum;
}

// ----------------------------------------------------------------------------------------

struct Run {
  double seconds;
  Checksum sum;
};

/// Forks the worker, which sets up and then calls the function it is given to wait for the
/// go byte; times from that byte to `core` returning.
Run timed(
    const std::function<void(const std::function<void()> &)> &worker,
    const std::function<Checksum()> &core, const std::function<void()> &parent_after_fork = [] {}) {
  int go[2];
  if (::pipe(go) != 0)
    std::exit(8);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    worker([&] {
      char byte = 0;
      if (::read(go[0], &byte, 1) != 1)
        std::_Exit(9);
    });
    std::_Exit(0);
  }
  ::close(go[0]);
  parent_after_fork();
  std::this_thread::sleep_for(50ms); // the worker has set up and waits on the pipe by now
  const auto start = Clock::now();
  const char byte = 1;
  if (::write(go[1], &byte, 1) != 1)
    std::exit(8);
  const Checksum sum = core();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(go[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "worker failed (status %d)\n", status);
    std::exit(10);
  }
  return {seconds, sum};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  int reps = 7;
  std::vector<std::size_t> sizes{10000, 100000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0)
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--rows") == 0) {
      sizes.clear();
      for (const char *p = argv[i + 1]; *p != '\0';) {
        char *end = nullptr;
        sizes.push_back(std::strtoull(p, &end, 10));
        p = *end == ',' ? end + 1 : end;
      }
    }
  }
  std::printf("%8s %22s %22s %22s %10s %10s\n", "rows", "shmpipe ms (median)", "ndjson hand ms",
              "ndjson nlohmann ms", "x hand", "x nlohmann");
  for (const std::size_t n : sizes) {
    const std::vector<Row> rows = make_rows(n);
    std::vector<double> shm, hand, nlo;
    // Run -1 hashes every byte (full) and is not timed: it proves the three paths deliver the
    // same rows; it also warms the ring's pages, as a running pipeline has them. The timed
    // runs touch every field (see Checksum) and must agree with each other too.
    std::array<std::optional<Checksum>, 2> expected;
    const auto check = [&](const Checksum &sum, const char *path) {
      std::optional<Checksum> &want = expected[sum.full ? 1 : 0];
      if (sum.rows != n || (want && !(sum == *want))) {
        std::fprintf(stderr, "%s: checksum differs (%llu rows)\n", path,
                     static_cast<unsigned long long>(sum.rows));
        std::exit(11);
      }
      want = sum;
    };
    // One channel per size, as a core keeps its session: each run's producer attaches anew.
    const std::string name = "shmpipe-ledger-bench-" + std::to_string(::getpid());
    shmpipe::Consumer rx = shmpipe::Consumer::create(name, {.capacity = 1u << 23});
    for (int r = -1; r < reps; ++r) {
      const bool full = r < 0;
      {
        const Run run = timed([&](const auto &wait) { shmpipe_worker(name, rows, wait); },
                              [&] { return shmpipe_core(rx, full); });
        check(run.sum, "shmpipe");
        if (!full)
          shm.push_back(run.seconds);
      }
      // NDJSON, hand-written parser, then nlohmann
      for (const bool use_nlohmann : {false, true}) {
        int fds[2];
        if (::pipe(fds) != 0)
          return 12;
        const Run run = timed(
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
    const double s = median(shm), h = median(hand), j = median(nlo);
    std::printf("%8zu %22.2f %22.2f %22.2f %10.1f %10.1f\n", n, s * 1e3, h * 1e3, j * 1e3, h / s,
                j / s);
  }
  return 0;
}

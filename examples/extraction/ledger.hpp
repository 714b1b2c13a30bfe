// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Ledger (bill of quantities) rows from the word boxes of PDF pages, without poppler: the
// worker feeds it what poppler::page::text_list() found, the tests feed it synthetic words.
#pragma once

// The method (the usual one for ruled-less tables): words -> lines (by vertical centre) -> cells
// (split where the gap between words is wider than about an em) -> a header line recognised
// by its column names in Vietnamese or English -> each later line's cells assigned to the
// header's columns by horizontal overlap. A line whose STT cell is a row number starts a row;
// a line with text only in the name column, right under a row, continues that row's name;
// anything else (titles, section headings, subtotals, page furniture) is skipped. The column
// layout and the number convention carry over to pages that do not repeat the header.
//
// Input is untrusted (the PDF is): junk coordinates, empty words and any text are handled
// without undefined behaviour; only std::bad_alloc escapes.

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace extraction {

/// One word as poppler reports it: UTF-8 text, box in points (top-left origin, y down).
struct Word {
  std::string text;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double font_size = 0;
  bool space_after = true;
};

/// One ledger row. Numbers are NaN where the cell holds none.
struct Row {
  std::uint32_t page = 0;
  std::string stt, code, name, unit;
  double quantity = std::numeric_limits<double>::quiet_NaN();
  double unit_price = std::numeric_limits<double>::quiet_NaN();
  double amount = std::numeric_limits<double>::quiet_NaN();
  bool adds_up = false; ///< all three numbers present and amount ~ quantity * unit_price
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0; ///< union of the row's words, in points
  /// Unit price and amount split into materials, labour and machine (kPartNames order), NaN
  /// where the table does not split them; unit_price and amount are then their sums.
  std::array<double, 6> parts = nan_parts();

  static constexpr std::array<std::string_view, 6> kPartNames{
      "unit_price_material", "unit_price_labour", "unit_price_machine",
      "amount_material",     "amount_labour",     "amount_machine"};
  [[nodiscard]] static constexpr std::array<double, 6> nan_parts() {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan, nan, nan, nan};
  }
};

enum class NumberStyle : std::uint8_t {
  vietnamese, ///< 1.234.567,5
  english,    ///< 1,234,567.5
};

/// A number written in `style`, with optional thousands separators and a leading '-'; nullopt
/// for anything else (text, misplaced separators, empty).
[[nodiscard]] inline std::optional<double> parse_number(std::string_view text, NumberStyle style) {
  const char thousands = style == NumberStyle::vietnamese ? '.' : ',';
  const char decimal = style == NumberStyle::vietnamese ? ',' : '.';
  std::string plain;
  std::size_t i = 0;
  if (!text.empty() && text[0] == '-') {
    plain += '-';
    i = 1;
  }
  std::size_t digits_in_group = 0, groups = 0;
  bool seen_decimal = false, grouped = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      plain += c;
      ++digits_in_group;
    } else if (c == thousands && !seen_decimal) {
      // Separators stand between groups of exactly three digits (the first group 1-3).
      if (digits_in_group == 0 || digits_in_group > 3 || (groups > 0 && digits_in_group != 3))
        return std::nullopt;
      ++groups;
      grouped = true;
      digits_in_group = 0;
    } else if (c == decimal && !seen_decimal) {
      if (digits_in_group == 0 || (grouped && digits_in_group != 3))
        return std::nullopt;
      seen_decimal = true;
      plain += '.';
      digits_in_group = 0;
    } else {
      return std::nullopt;
    }
  }
  if (digits_in_group == 0 || (grouped && !seen_decimal && digits_in_group != 3))
    return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(plain.data(), plain.data() + plain.size(), value);
  if (ec != std::errc() || end != plain.data() + plain.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

/// The CSV form of a number: the shortest plain decimal that reads back as the same double
/// ("2000", "1234.5"); "" for NaN.
[[nodiscard]] inline std::string format_number(double value) {
  if (std::isnan(value))
    return {};
  char buf[400];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::string();
}

/// Lowercase ASCII letters for the Latin letters Vietnamese and Western European text use
/// (diacritics dropped, đ -> d), for matching column names; other bytes pass through.
[[nodiscard]] inline std::string fold(std::string_view utf8) {
  // Latin-1 Supplement U+00C0..U+00FF, then Vietnamese U+1EA0..U+1EF9, by base letter.
  static constexpr std::string_view latin1 = "aaaaaaaceeeeiiiidnooooo*ouuuuyts"
                                             "aaaaaaaceeeeiiiidnooooo/ouuuuyty";
  static constexpr std::string_view vietnamese = "aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeiiii"
                                                 "oooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyy";
  static_assert(latin1.size() == 64 && vietnamese.size() == 90);
  std::string out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto b0 = static_cast<unsigned char>(utf8[i]);
    char32_t cp = b0 < 0x80 ? b0 : 0xFFFD; // a stray or 4-byte sequence: one '?' a byte
    std::size_t len = 1;
    if (b0 >= 0xC0 && b0 < 0xE0 && i + 1 < utf8.size())
      cp = (char32_t{b0} & 0x1F) << 6 | (static_cast<unsigned char>(utf8[i + 1]) & 0x3F), len = 2;
    else if (b0 >= 0xE0 && b0 < 0xF0 && i + 2 < utf8.size())
      cp = (char32_t{b0} & 0x0F) << 12 | (static_cast<char32_t>(utf8[i + 1]) & 0x3F) << 6 |
           (static_cast<unsigned char>(utf8[i + 2]) & 0x3F),
      len = 3;
    i += len;
    if (cp < 0x80)
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : cp);
    else if (cp >= 0xC0 && cp <= 0xFF)
      out += latin1[cp - 0xC0];
    else if (cp >= 0x1EA0 && cp <= 0x1EF9)
      out += vietnamese[cp - 0x1EA0];
    else if (cp == 0x0102 || cp == 0x0103) // Ă ă
      out += 'a';
    else if (cp == 0x0110 || cp == 0x0111) // Đ đ
      out += 'd';
    else if (cp == 0x0128 || cp == 0x0129) // Ĩ ĩ
      out += 'i';
    else if (cp == 0x0168 || cp == 0x0169) // Ũ ũ
      out += 'u';
    else if (cp == 0x01A0 || cp == 0x01A1) // Ơ ơ
      out += 'o';
    else if (cp == 0x01AF || cp == 0x01B0) // Ư ư
      out += 'u';
    else if (cp >= 0x0300 && cp <= 0x036F) // combining marks (decomposed text)
      continue;
    else
      out += '?';
  }
  return out;
}

namespace detail {

enum Column : std::uint8_t { kStt, kCode, kName, kUnit, kQuantity, kUnitPrice, kAmount, kColumns };

/// Folded column names; a header cell names a column when it equals one of them.
inline constexpr std::array<std::array<std::string_view, 6>, kColumns> kHeaderNames{{
    {"stt", "tt", "no.", "no", "#", "item"},
    {"ma hieu", "ma", "ma so", "ma cong viec", "code", "ref"},
    {"ten cong viec", "noi dung cong viec", "hang muc", "noi dung", "description", "name"},
    {"don vi", "dvt", "don vi tinh", "unit", "", ""},
    {"khoi luong", "kl", "so luong", "quantity", "qty", ""},
    {"don gia", "unit price", "rate", "price", "", ""},
    {"thanh tien", "amount", "total", "", "", ""},
}};

struct Cell {
  std::string text;
  double x0, y0, x1, y1;
};

struct Line {
  std::vector<const Word *> words;
  double y0, y1;
};

[[nodiscard]] inline bool sane(const Word &w) {
  constexpr double kFar = 1e6; // points: far beyond any page
  return !w.text.empty() && std::isfinite(w.x0) && std::isfinite(w.x1) && std::isfinite(w.y0) &&
         std::isfinite(w.y1) && w.x0 <= w.x1 && w.y0 <= w.y1 && std::abs(w.x0) < kFar &&
         std::abs(w.x1) < kFar && std::abs(w.y0) < kFar && std::abs(w.y1) < kFar;
}

[[nodiscard]] inline double em(const Word &w) {
  const double size = std::isfinite(w.font_size) && w.font_size > 0 ? w.font_size : w.y1 - w.y0;
  return std::clamp(size, 1.0, 200.0);
}

/// Words grouped into lines, top to bottom, each left to right.
[[nodiscard]] inline std::vector<Line> lines_of(std::span<const Word> words) {
  std::vector<const Word *> sorted;
  for (const Word &w : words)
    if (sane(w))
      sorted.push_back(&w);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Word *a, const Word *b) { return a->y0 + a->y1 < b->y0 + b->y1; });
  std::vector<Line> lines;
  for (const Word *w : sorted) {
    const double centre = (w->y0 + w->y1) / 2;
    if (lines.empty() || centre > lines.back().y1 || centre < lines.back().y0)
      lines.push_back({{}, w->y0, w->y1});
    lines.back().words.push_back(w);
  }
  for (Line &line : lines) {
    std::stable_sort(line.words.begin(), line.words.end(),
                     [](const Word *a, const Word *b) { return a->x0 < b->x0; });
    for (const Word *w : line.words) {
      line.y0 = std::min(line.y0, w->y0);
      line.y1 = std::max(line.y1, w->y1);
    }
  }
  return lines;
}

/// A line's cells: a gap wider than 0.8 em (word spaces are ~0.3 em, column gutters more)
/// starts a new cell. Words closer than 0.1 em without a space after the first are one word.
[[nodiscard]] inline std::vector<Cell> cells_of(const Line &line) {
  std::vector<Cell> cells;
  const Word *previous = nullptr;
  for (const Word *w : line.words) {
    const double gap = previous != nullptr ? w->x0 - previous->x1 : 0;
    if (previous == nullptr || gap > 0.8 * em(*w)) {
      cells.push_back({w->text, w->x0, w->y0, w->x1, w->y1});
    } else {
      Cell &c = cells.back();
      if (previous->space_after || gap > 0.1 * em(*w))
        c.text += ' ';
      c.text += w->text;
      c.x1 = std::max(c.x1, w->x1);
      c.y0 = std::min(c.y0, w->y0);
      c.y1 = std::max(c.y1, w->y1);
    }
    previous = w;
  }
  return cells;
}

/// A row number as BOQs print them: 12, 1.2.3, I..XXXIX, A..Z (optionally ending in '.').
[[nodiscard]] inline bool is_row_number(std::string_view s) {
  if (!s.empty() && s.back() == '.')
    s.remove_suffix(1);
  if (s.empty() || s.size() > 12)
    return false;
  if (std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
    return s.front() != '.' && s.find("..") == std::string_view::npos;
  if (s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z')
    return true;
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 'I' || c == 'V' || c == 'X'; });
}

} // namespace detail

/// Reads the ledger rows of a document, page after page, in page order.
class LedgerReader {
public:
  /// The rows on page `page` (in reading order), given its words in any order.
  [[nodiscard]] std::vector<Row> read_page(std::uint32_t page, std::span<const Word> words) {
    std::vector<Row> rows;
    bool continuable = false; // the previous line was part of the last row
    double last_bottom = 0, last_height = 0;
    for (const detail::Line &line : detail::lines_of(words)) {
      const std::vector<detail::Cell> cells = detail::cells_of(line);
      if (take_header(cells)) {
        continuable = false;
        continue;
      }
      if (!has_layout())
        continue;
      std::array<std::string, detail::kColumns> texts;
      std::array<bool, detail::kColumns> used{};
      bool inside_name = true; // every cell belongs to the name column
      for (const detail::Cell &c : cells) {
        const int col = column_of(c);
        if (col < 0) {
          inside_name = false;
          continue;
        }
        // Starts inside the name column (a heading across the table starts left of it); may
        // run past the midpoint to the next column's name, as long names do.
        if (col != detail::kName || c.x0 < left_[detail::kName] - 1)
          inside_name = false;
        std::string &t = texts[static_cast<std::size_t>(col)];
        if (!t.empty())
          t += ' ';
        t += c.text;
        used[static_cast<std::size_t>(col)] = true;
      }
      const double height = line.y1 - line.y0;
      if (detail::is_row_number(texts[detail::kStt])) {
        rows.push_back(make_row(page, texts, line));
        continuable = true;
      } else if (continuable && inside_name && used[detail::kName] && !rows.empty() &&
                 line.y0 - last_bottom < 1.5 * std::max(height, last_height)) {
        Row &r = rows.back(); // a wrapped name
        r.name += ' ';
        r.name += texts[detail::kName];
        extend(r, line);
      } else {
        continuable = false;
      }
      last_bottom = line.y1;
      last_height = height;
    }
    for (Row &r : rows)
      finish(r);
    return rows;
  }

  [[nodiscard]] bool has_layout() const noexcept { return has_layout_; }

  /// The reading state that carries over to the next page (whether a table header was seen,
  /// its columns, its number convention) as bytes, for another reader to restore_layout():
  /// a restarted worker continues from it without re-reading earlier pages. Version 1: the
  /// version, has_layout_ (0/1), style_ (0/1), then left_ and right_ (kColumns each) as
  /// little-endian IEEE doubles, NaN for a column the header does not have (every column
  /// before any header). extract_worker.py's Ledger writes and reads the same bytes.
  [[nodiscard]] std::vector<std::uint8_t> save_layout() const {
    std::vector<std::uint8_t> out{kLayoutVersion, has_layout_ ? std::uint8_t{1} : std::uint8_t{0},
                                  static_cast<std::uint8_t>(style_)};
    for (const std::array<double, detail::kColumns> *edges : {&left_, &right_})
      for (const double edge : *edges) {
        const auto bits = std::bit_cast<std::uint64_t>(
            has_layout_ ? edge : std::numeric_limits<double>::quiet_NaN());
        for (int shift = 0; shift < 64; shift += 8)
          out.push_back(static_cast<std::uint8_t>(bits >> shift));
      }
    return out;
  }

  /// Adopts a state that save_layout() wrote. The bytes are untrusted (they come back from
  /// another process): false, and nothing changed, unless they are a state take_header()
  /// can leave: this version and size; flags 0 or 1; without a layout every edge NaN; with one
  /// at least five columns including the quantity and the amount, each absent (both edges NaN)
  /// or spanning left < right, in a chain from -inf to +inf where each column ends where the
  /// next begins, the inner edges finite and on a page.
  [[nodiscard]] bool restore_layout(std::span<const std::uint8_t> bytes) {
    constexpr std::size_t kSize = 3 + 2 * detail::kColumns * 8;
    if (bytes.size() != kSize || bytes[0] != kLayoutVersion || bytes[1] > 1 || bytes[2] > 1)
      return false;
    std::array<double, detail::kColumns> left{}, right{};
    std::size_t at = 3;
    for (std::array<double, detail::kColumns> *edges : {&left, &right})
      for (double &edge : *edges) {
        std::uint64_t bits = 0;
        for (int shift = 0; shift < 64; shift += 8)
          bits |= std::uint64_t{bytes[at++]} << shift;
        edge = std::bit_cast<double>(bits);
      }
    const bool has = bytes[1] == 1;
    std::size_t present = 0;
    for (std::size_t col = 0; col < detail::kColumns; ++col) {
      if (std::isnan(left[col]) != std::isnan(right[col]) || (!has && !std::isnan(left[col])))
        return false;
      present += std::isnan(left[col]) ? 0u : 1u;
    }
    if (has) {
      if (present < 5 || std::isnan(left[detail::kQuantity]) || std::isnan(left[detail::kAmount]))
        return false;
      // Walk the chain from -inf: each step the one column that begins where the last ended.
      constexpr double kFar = 1e6; // points: far beyond any page (detail::sane)
      constexpr double kInf = std::numeric_limits<double>::infinity();
      double edge = -kInf;
      for (std::size_t k = 0; k < present; ++k) {
        std::size_t next = detail::kColumns;
        for (std::size_t col = 0; col < detail::kColumns; ++col)
          if (left[col] == edge) {
            if (next != detail::kColumns)
              return false;
            next = col;
          }
        if (next == detail::kColumns)
          return false;
        const double end = right[next];
        const bool last = k + 1 == present;
        if (!(edge < end) || (last ? end != kInf : !(std::abs(end) < kFar)))
          return false;
        edge = end;
      }
    }
    has_layout_ = has;
    style_ = static_cast<NumberStyle>(bytes[2]);
    left_ = left;
    right_ = right;
    return true;
  }
  static constexpr std::uint8_t kLayoutVersion = 1; ///< of save_layout()'s bytes

private:
  static void extend(Row &r, const detail::Line &line) {
    for (const Word *w : line.words) {
      r.x0 = std::min(r.x0, w->x0);
      r.y0 = std::min(r.y0, w->y0);
      r.x1 = std::max(r.x1, w->x1);
      r.y1 = std::max(r.y1, w->y1);
    }
  }

  /// When `cells` name at least five columns, including the quantity and the amount, they
  /// become the layout: column i spans from the midpoint of the gap before its name to the
  /// midpoint of the gap after it.
  bool take_header(const std::vector<detail::Cell> &cells) {
    std::array<const detail::Cell *, detail::kColumns> found{};
    int named = 0;
    for (const detail::Cell &c : cells) {
      const std::string folded = fold(c.text);
      for (std::size_t col = 0; col < detail::kColumns; ++col)
        for (const std::string_view name : detail::kHeaderNames[col])
          if (!name.empty() && folded == name && found[col] == nullptr) {
            found[col] = &c;
            ++named;
          }
    }
    if (named < 5 || found[detail::kQuantity] == nullptr || found[detail::kAmount] == nullptr)
      return false;
    // Columns in left-to-right order of their names; absent ones never match.
    std::vector<std::size_t> order;
    for (std::size_t col = 0; col < detail::kColumns; ++col)
      if (found[col] != nullptr)
        order.push_back(col);
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return found[a]->x0 < found[b]->x0; });
    left_.fill(std::numeric_limits<double>::quiet_NaN());
    right_.fill(std::numeric_limits<double>::quiet_NaN());
    for (std::size_t k = 0; k < order.size(); ++k) {
      const detail::Cell &c = *found[order[k]];
      left_[order[k]] =
          k == 0 ? -std::numeric_limits<double>::infinity() : (found[order[k - 1]]->x1 + c.x0) / 2;
      right_[order[k]] = k + 1 == order.size() ? std::numeric_limits<double>::infinity()
                                               : (c.x1 + found[order[k + 1]]->x0) / 2;
    }
    // Vietnamese names ("Khối lượng") mean Vietnamese numbers, English ones English numbers.
    const std::string quantity = fold(found[detail::kQuantity]->text);
    style_ = quantity == "quantity" || quantity == "qty" ? NumberStyle::english
                                                         : NumberStyle::vietnamese;
    has_layout_ = true;
    return true;
  }

  /// The column a cell overlaps most, or -1.
  [[nodiscard]] int column_of(const detail::Cell &c) const {
    int best = -1;
    double best_overlap = 0;
    for (std::size_t col = 0; col < detail::kColumns; ++col) {
      if (std::isnan(left_[col]))
        continue;
      const double overlap = std::min(c.x1, right_[col]) - std::max(c.x0, left_[col]);
      const double width = c.x1 - c.x0;
      // A zero-width cell (one narrow glyph) overlaps by containment.
      const bool contains = width <= 0 && c.x0 >= left_[col] && c.x0 < right_[col];
      if ((overlap > best_overlap) || (contains && best < 0)) {
        best = static_cast<int>(col);
        best_overlap = std::max(overlap, 0.0);
      }
    }
    return best;
  }

  Row make_row(std::uint32_t page, std::array<std::string, detail::kColumns> &texts,
               const detail::Line &line) const {
    Row r;
    r.page = page;
    r.stt = std::move(texts[detail::kStt]);
    r.code = std::move(texts[detail::kCode]);
    r.name = std::move(texts[detail::kName]);
    r.unit = std::move(texts[detail::kUnit]);
    const auto number = [&](const std::string &t) {
      return parse_number(t, style_).value_or(std::numeric_limits<double>::quiet_NaN());
    };
    r.quantity = number(texts[detail::kQuantity]);
    r.unit_price = number(texts[detail::kUnitPrice]);
    r.amount = number(texts[detail::kAmount]);
    r.x0 = r.y0 = std::numeric_limits<double>::infinity();
    r.x1 = r.y1 = -std::numeric_limits<double>::infinity();
    extend(r, line);
    return r;
  }

  static void finish(Row &r) {
    const double product = r.quantity * r.unit_price;
    r.adds_up = std::isfinite(product) && std::isfinite(r.amount) &&
                std::abs(r.amount - product) <= std::max(0.5, 1e-6 * std::abs(r.amount));
  }

  bool has_layout_ = false;
  NumberStyle style_ = NumberStyle::vietnamese;
  std::array<double, detail::kColumns> left_{}, right_{};
};

} // namespace extraction

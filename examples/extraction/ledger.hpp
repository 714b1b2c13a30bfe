// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Ledger (bill of quantities) rows from the word boxes and ruling lines of PDF pages, without
// poppler: the workers feed it the words poppler or MuPDF found and the rules of their render
// (rules.hpp); the tests feed it synthetic words and rules.
#pragma once

// The method. Words -> lines (by vertical centre) -> a header: up to four close lines naming
// at least five columns in Vietnamese or English, plus a second line of sub-columns when
// `Đơn giá` / `Thành tiền` are split into materials, labour and machine. Each column then
// reaches to the vertical rule between its name and the next one's, or, in a table without
// rules, to the gutter the body leaves there (never under a column name: right-aligned numbers
// leave room under a wider name). Every word goes to the column its centre lies in.
// Rows come in units: the lines between two row rules (horizontal rules across the STT column)
// of a ruled table, else single lines; text alignment alone cannot tell where a ruled row
// begins, the rules can. A unit with a row number (12, 1.2.3, a), II) and a unit or quantity
// starts a row (a section heading numbered A or II has neither); a unit holding only more of a
// name continues the row above or below it: at the one clearly widest gap when rows are
// padded, else as the table aligns its wrapped cells (learnt from ruled or padded rows: top,
// bottom, or centred with as many lines below the number as above). Anything else (titles,
// headings, subtotals, page furniture) is skipped. A code or unit printed once in a cell
// merged over several ruled rows applies to each. The columns, the number convention and the
// alignment carry over to pages that do not repeat the header (save_layout() hands them to a
// restarted reader).
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
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "rules.hpp"

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

/// What a column holds. The six parts follow Row::parts' order.
enum Slot : std::uint8_t {
  kStt,
  kCode,
  kName,
  kUnit,
  kQuantity,
  kUnitPrice,
  kAmount,
  kPriceMaterial,
  kPriceLabour,
  kPriceMachine,
  kAmountMaterial,
  kAmountLabour,
  kAmountMachine,
  kSlots,
  kUnknown = kSlots, ///< a column the header names with something this reader does not read
};
inline constexpr std::size_t kMainSlots = kAmountMaterial - kPriceMaterial + kAmount + 1 - 3;
static_assert(kMainSlots == 7);

/// Folded column names; a header cell names a column when it equals one of them.
inline constexpr std::array<std::array<std::string_view, 6>, kMainSlots> kHeaderNames{{
    {"stt", "tt", "no.", "no", "#", "item"},
    {"ma hieu", "ma", "ma so", "ma cong viec", "code", "ref"},
    {"ten cong viec", "noi dung cong viec", "hang muc", "noi dung", "description", "name"},
    {"don vi", "dvt", "don vi tinh", "unit", "", ""},
    {"khoi luong", "kl", "so luong", "quantity", "qty", ""},
    {"don gia", "unit price", "rate", "price", "", ""},
    {"thanh tien", "amount", "total", "", "", ""},
}};

/// The sub-columns a two-level header splits `Đơn giá` and `Thành tiền` into: materials,
/// labour, machine, and (index 3) their total.
inline constexpr std::array<std::array<std::string_view, 5>, 4> kPartHeaderNames{{
    {"vat lieu", "vl", "materials", "material", ""},
    {"nhan cong", "nc", "labour", "labor", ""},
    {"may", "may thi cong", "mtc", "machine", "machinery"},
    {"cong", "tong", "tong cong", "", ""},
}};

struct Cell {
  std::string text;
  double x0, y0, x1, y1;
  [[nodiscard]] double centre() const { return (x0 + x1) / 2; }
};

struct Line {
  std::vector<const Word *> words;
  double y0, y1;
  [[nodiscard]] double centre() const { return (y0 + y1) / 2; }
};

/// A column of the table: what it holds and where; left/right bound the words it takes.
struct Column {
  std::uint8_t slot = kUnknown;
  double centre = 0;       ///< of its header cell
  double from = 0, to = 0; ///< its header cell's extent: no gutter lies under it
  double left = -std::numeric_limits<double>::infinity();
  double right = std::numeric_limits<double>::infinity();
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

/// Appends `w` to `text` as the next word of a cell: after a space when poppler saw one or the
/// gap is wider than 0.1 em (words closer than that without a space are one word).
inline void append_word(std::string &text, const Word *previous, const Word &w) {
  if (previous != nullptr && (previous->space_after || w.x0 - previous->x1 > 0.1 * em(w)))
    text += ' ';
  text += w.text;
}

/// A line's cells: a gap wider than 0.8 em (word spaces are ~0.3 em, column gutters more), or
/// a vertical rule (`cuts`, sorted x) between two words, starts a new cell.
[[nodiscard]] inline std::vector<Cell> cells_of(const Line &line, std::span<const double> cuts) {
  std::vector<Cell> cells;
  const Word *previous = nullptr;
  for (const Word *w : line.words) {
    const double gap = previous != nullptr ? w->x0 - previous->x1 : 0;
    bool cut = previous == nullptr || gap > 0.8 * em(*w);
    if (!cut) {
      const double from = (previous->x0 + previous->x1) / 2, to = (w->x0 + w->x1) / 2;
      const auto at = std::upper_bound(cuts.begin(), cuts.end(), from);
      cut = at != cuts.end() && *at < to;
    }
    if (cut) {
      cells.push_back({w->text, w->x0, w->y0, w->x1, w->y1});
    } else {
      Cell &c = cells.back();
      append_word(c.text, previous, *w);
      c.x1 = std::max(c.x1, w->x1);
      c.y0 = std::min(c.y0, w->y0);
      c.y1 = std::max(c.y1, w->y1);
    }
    previous = w;
  }
  return cells;
}

/// `s` without one trailing '.' or ')'.
[[nodiscard]] inline std::string_view number_core(std::string_view s) {
  if (!s.empty() && (s.back() == '.' || s.back() == ')'))
    s.remove_suffix(1);
  return s;
}

/// A section's number: I..XXXIX or A..Z (optionally ending in '.' or ')').
[[nodiscard]] inline bool is_section_number(std::string_view s) {
  s = number_core(s);
  if (s.empty() || s.size() > 8)
    return false;
  if (s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z')
    return true;
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 'I' || c == 'V' || c == 'X'; });
}

/// A row number as BOQs print them: 12, 1.2.3, a), b., or a section's number.
[[nodiscard]] inline bool is_row_number(std::string_view s) {
  const std::string_view core = number_core(s);
  if (core.empty() || core.size() > 12)
    return false;
  if (std::all_of(core.begin(), core.end(),
                  [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
    return core.front() != '.' && core.back() != '.' && core.find("..") == std::string_view::npos;
  if (core.size() == 1 && core[0] >= 'a' && core[0] <= 'z')
    return core.size() < s.size(); // "a)" or "a.", not a bare letter
  return is_section_number(s);
}

/// Digits after the decimal separator of a number as printed in `style` (0 for none).
[[nodiscard]] inline int decimals_of(std::string_view text, NumberStyle style) {
  const std::size_t at = text.find(style == NumberStyle::vietnamese ? ',' : '.');
  return at == std::string_view::npos ? 0 : static_cast<int>(text.size() - at - 1);
}

/// The header's match for a folded cell text: a main column, or a part of a split price.
struct Naming {
  int slot = -1; ///< kStt..kAmount
  int part = -1; ///< 0..3 (kPartHeaderNames)
  [[nodiscard]] bool any() const { return slot >= 0 || part >= 0; }
};

[[nodiscard]] inline Naming naming_of(std::string_view text) {
  const std::string folded = fold(text);
  Naming n;
  for (std::size_t slot = 0; slot < kMainSlots && n.slot < 0; ++slot)
    for (const std::string_view name : kHeaderNames[slot])
      if (!name.empty() && folded == name)
        n.slot = static_cast<int>(slot);
  for (std::size_t part = 0; part < kPartHeaderNames.size() && n.part < 0; ++part)
    for (const std::string_view name : kPartHeaderNames[part])
      if (!name.empty() && folded == name)
        n.part = static_cast<int>(part);
  return n;
}

/// A table header found on a page: its lines and the columns it names.
struct Header {
  std::size_t first = 0, last = 0; // lines
  std::vector<Column> columns;     // by centre, left to right
  NumberStyle style = NumberStyle::vietnamese;
};

/// The header whose first line is `lines[first]`, if one starts there: up to four lines close
/// together that name at least five columns, the quantity and the amount among them, plus the
/// lines right under them that hold only column names (a two-level header's second line).
/// A header cell split over two lines of a narrow column ("Khối" / "lượng") is joined.
[[nodiscard]] inline std::optional<Header> header_at(std::span<const Line> lines,
                                                     std::span<const std::vector<Cell>> cells,
                                                     std::size_t first) {
  const auto named_in = [&](std::size_t i) {
    return std::any_of(cells[i].begin(), cells[i].end(),
                       [](const Cell &c) { return naming_of(c.text).slot >= 0; });
  };
  // A header line has a few cells; a line of hundreds is not one (and would make the joining
  // of stacked cells below quadratic in them).
  constexpr std::size_t kMaxHeaderCells = 64;
  if (cells[first].size() > kMaxHeaderCells || !named_in(first))
    return std::nullopt;
  const double height = lines[first].y1 - lines[first].y0;
  struct Named {
    Cell cell;
    Naming naming;
  };
  for (std::size_t last = first; last < lines.size() && last < first + 4; ++last) {
    if (lines[last].y0 - lines[first].y1 > 4 * height || cells[last].size() > kMaxHeaderCells)
      break;
    // The cells of lines first..last with their names; unnamed ones joined with an unnamed
    // cell under them that they overlap when the two together are a name.
    std::vector<Named> found;
    std::vector<std::pair<std::size_t, std::size_t>> unnamed; // (line, cell)
    for (std::size_t i = first; i <= last; ++i)
      for (std::size_t k = 0; k < cells[i].size(); ++k) {
        const Naming n = naming_of(cells[i][k].text);
        if (n.any())
          found.push_back({cells[i][k], n});
        else
          unnamed.emplace_back(i, k);
      }
    for (const auto &[i, k] : unnamed)
      for (const auto &[j, m] : unnamed) {
        if (j != i + 1)
          continue;
        const Cell &a = cells[i][k], &b = cells[j][m];
        const double overlap = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
        if (overlap * 2 < std::min(a.x1 - a.x0, b.x1 - b.x0))
          continue;
        const Naming n = naming_of(a.text + ' ' + b.text);
        if (n.any())
          found.push_back(
              {{a.text + ' ' + b.text, std::min(a.x0, b.x0), a.y0, std::max(a.x1, b.x1), b.y1}, n});
      }
    std::array<const Named *, kMainSlots> main{};
    int count = 0;
    for (const Named &n : found)
      if (n.naming.slot >= 0 && main[static_cast<std::size_t>(n.naming.slot)] == nullptr) {
        main[static_cast<std::size_t>(n.naming.slot)] = &n;
        ++count;
      }
    if (count < 5 || main[kQuantity] == nullptr || main[kAmount] == nullptr)
      continue;
    // Lines right under it that hold only names belong to it (the sub-columns).
    std::size_t end = last;
    while (end + 1 < lines.size() && lines[end + 1].y0 - lines[end].y1 < 2 * height &&
           !cells[end + 1].empty() &&
           std::all_of(cells[end + 1].begin(), cells[end + 1].end(),
                       [](const Cell &c) { return naming_of(c.text).any(); })) {
      ++end;
      for (const Cell &c : cells[end]) {
        const Naming n = naming_of(c.text);
        found.push_back({c, n});
        if (n.slot >= 0 && main[static_cast<std::size_t>(n.slot)] == nullptr)
          main[static_cast<std::size_t>(n.slot)] = &found.back();
      }
    }
    // `found` may have moved: take the main cells again, by value.
    std::array<std::optional<Cell>, kMainSlots> mains{};
    for (const Named &n : found)
      if (n.naming.slot >= 0 && !mains[static_cast<std::size_t>(n.naming.slot)])
        mains[static_cast<std::size_t>(n.naming.slot)] = n.cell;
    Header h;
    h.first = first;
    h.last = end;
    // Part names under a price or amount cell split it: each goes to the nearer of the two.
    std::array<bool, kMainSlots> split{};
    for (const Named &n : found) {
      if (n.naming.part < 0 ||
          (n.naming.slot >= 0 && mains[static_cast<std::size_t>(n.naming.slot)]->y0 == n.cell.y0))
        continue;
      int parent = -1;
      double distance = std::numeric_limits<double>::infinity();
      for (const int candidate : {int{kUnitPrice}, int{kAmount}}) {
        const std::optional<Cell> &p = mains[static_cast<std::size_t>(candidate)];
        if (p && p->y1 <= n.cell.y0 + 1 && std::abs(p->centre() - n.cell.centre()) < distance) {
          distance = std::abs(p->centre() - n.cell.centre());
          parent = candidate;
        }
      }
      if (parent < 0)
        continue;
      split[static_cast<std::size_t>(parent)] = true;
      const int slot = n.naming.part == 3     ? parent
                       : parent == kUnitPrice ? kPriceMaterial + n.naming.part
                                              : kAmountMaterial + n.naming.part;
      h.columns.push_back({static_cast<std::uint8_t>(slot), n.cell.centre(), n.cell.x0, n.cell.x1});
    }
    for (std::size_t slot = 0; slot < kMainSlots; ++slot)
      if (mains[slot] && !split[slot])
        h.columns.push_back({static_cast<std::uint8_t>(slot), mains[slot]->centre(),
                             mains[slot]->x0, mains[slot]->x1});
    // Cells of the header that name nothing are columns this reader does not read: words under
    // them stay out of the columns beside them.
    for (const auto &[i, k] : unnamed) {
      const Cell &c = cells[i][k];
      if (std::none_of(found.begin(), found.end(), [&](const Named &n) {
            return std::min(c.x1, n.cell.x1) > std::max(c.x0, n.cell.x0);
          }))
        h.columns.push_back({kUnknown, c.centre(), c.x0, c.x1});
    }
    std::sort(h.columns.begin(), h.columns.end(),
              [](const Column &a, const Column &b) { return a.centre < b.centre; });
    // Vietnamese names ("Khối lượng") mean Vietnamese numbers, English ones English numbers.
    const std::string quantity = fold(mains[kQuantity]->text);
    h.style = quantity == "quantity" || quantity == "qty" ? NumberStyle::english
                                                          : NumberStyle::vietnamese;
    return h;
  }
  return std::nullopt;
}

/// x in [from, to] that the fewest `cells` cover, the middle of the widest such stretch: the
/// gutter between two columns whose header cells are centred at from and to. The header
/// cells (`named`) weigh more than any count of body cells: a column's numbers, right-aligned
/// under a wider name, leave a gap under that name which is not a gutter.
[[nodiscard]] inline double gutter(double from, double to, std::span<const Cell> cells,
                                   std::span<const Column> named) {
  constexpr double kStep = 0.5; // points
  const auto steps = static_cast<std::size_t>(std::clamp((to - from) / kStep, 0.0, 4000.0));
  if (steps < 2)
    return (from + to) / 2;
  // Coverage by differences (+w where a cell begins, -w after it ends), summed once: linear in
  // cells and steps however wide the cells (a hostile page may have many).
  std::vector<std::int64_t> cover(steps + 2, 0);
  const auto add = [&](double x0, double x1, std::int64_t weight) {
    if (x1 < from || x0 > to)
      return;
    const auto a = static_cast<std::size_t>(
        std::clamp(std::ceil((x0 - from) / kStep), 0.0, static_cast<double>(steps)));
    const auto b = static_cast<std::size_t>(
        std::clamp(std::floor((x1 - from) / kStep), 0.0, static_cast<double>(steps)));
    if (a > b)
      return;
    cover[a] += weight;
    cover[b + 1] -= weight;
  };
  for (const Cell &c : cells)
    add(c.x0, c.x1, 1);
  for (const Column &c : named)
    add(c.from, c.to, std::int64_t{1} << 32);
  cover.pop_back();
  for (std::size_t i = 1; i < cover.size(); ++i)
    cover[i] += cover[i - 1];
  const std::int64_t least = *std::min_element(cover.begin(), cover.end());
  // Of the stretches the fewest cells cover, the widest with body text on both sides of it
  // (between the two centres): a short last page of a wide column leaves an empty stretch
  // between its names and its centred header that is wider than the gutter, but nothing of
  // the column's own lies beyond it. Without one such, the widest.
  const auto text_beyond = [&](double x, bool left) {
    return std::any_of(cells.begin(), cells.end(), [&](const Cell &c) {
      return left ? c.x1 <= x && c.x1 > from : c.x0 >= x && c.x0 < to;
    });
  };
  std::size_t best_from = 0, best_length = 0;
  bool best_between = false;
  for (std::size_t i = 0; i <= steps;) {
    if (cover[i] != least) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j <= steps && cover[j] == least)
      ++j;
    const double start = from + static_cast<double>(i) * kStep;
    const double end = from + static_cast<double>(j - 1) * kStep;
    const bool between = text_beyond(start, true) && text_beyond(end, false);
    if ((between && !best_between) || (between == best_between && j - i > best_length)) {
      best_from = i;
      best_length = j - i;
      best_between = between;
    }
    i = j;
  }
  return from + (static_cast<double>(best_from) + static_cast<double>(best_length - 1) / 2) * kStep;
}

/// Sets every column's left and right: at a vertical rule between two neighbours' centres
/// when there is one (several: the columns between are unnamed and read by nobody), else at
/// the gutter the body's cells leave between them.
inline void place_columns(std::vector<Column> &columns, std::span<const double> cuts,
                          std::span<const Cell> body) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < columns.size(); ++k) {
    Column &c = columns[k];
    const auto after = std::upper_bound(cuts.begin(), cuts.end(), c.centre);
    if (k == 0)
      c.left = after != cuts.begin() ? *(after - 1) : -inf;
    if (k + 1 == columns.size()) {
      c.right = after != cuts.end() ? *after : inf;
      break;
    }
    Column &next = columns[k + 1];
    if (after != cuts.end() && *after < next.centre) {
      c.right = *after;
      next.left = *(std::upper_bound(cuts.begin(), cuts.end(), next.centre) - 1);
    } else {
      c.right = next.left = gutter(c.centre, next.centre, body, columns);
    }
  }
}

} // namespace detail

/// Reads the ledger rows of a document, page after page, in page order.
class LedgerReader {
public:
  /// Whether `words` (a page's) may hold ledger rows: a table was seen on an earlier page or
  /// has its header here. Only then does the caller need the page's rules.
  [[nodiscard]] bool may_hold_rows(std::span<const Word> words) const {
    if (known_)
      return true;
    const std::vector<detail::Line> lines = detail::lines_of(words);
    std::vector<std::vector<detail::Cell>> cells;
    for (const detail::Line &line : lines)
      cells.push_back(detail::cells_of(line, {}));
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (detail::header_at(lines, cells, i))
        return true;
    return false;
  }

  /// The rows on page `page` (in reading order), given its words in any order and the rules
  /// drawn on it (rules.hpp; none for a table without them).
  [[nodiscard]] std::vector<Row> read_page(std::uint32_t page, std::span<const Word> words,
                                           const Rules &rules = {}) {
    const std::vector<detail::Line> lines = detail::lines_of(words);
    std::vector<double> cuts; // vertical rules' x, for splitting cells
    for (const Segment &v : rules.vertical)
      cuts.push_back(v.pos);
    std::sort(cuts.begin(), cuts.end());
    std::vector<std::vector<detail::Cell>> cells;
    for (const detail::Line &line : lines)
      cells.push_back(detail::cells_of(line, cuts));
    std::vector<Row> rows;
    // The page in stretches: the lines before the first header (a table continued from the
    // page before), then each header's table up to the next header.
    std::size_t begin = 0;
    double table_top = -std::numeric_limits<double>::infinity(); // the header's bottom
    for (std::size_t i = 0; i <= lines.size(); ++i) {
      std::optional<detail::Header> header;
      if (i < lines.size() && (header = detail::header_at(lines, cells, i)) == std::nullopt)
        continue;
      if (known_)
        read_table(page, std::span(lines).subspan(begin, i - begin),
                   std::span(cells).subspan(begin, i - begin), rules, table_top, rows);
      if (!header)
        break;
      columns_ = std::move(header->columns);
      style_ = header->style;
      known_ = true;
      table_top = lines[header->last].y1;
      i = header->last;
      begin = i + 1;
    }
    return rows;
  }

  [[nodiscard]] bool has_layout() const noexcept { return known_; }

  /// What carries over to the next page (the columns, the number convention, how wrapped
  /// cells were aligned), as bytes a restarted reader can take back (restore_layout()).
  [[nodiscard]] std::vector<std::uint8_t> save_layout() const {
    std::vector<std::uint8_t> out;
    if (!known_)
      return out;
    const auto put = [&out](const auto &value) {
      const auto *p = reinterpret_cast<const std::uint8_t *>(&value);
      out.insert(out.end(), p, p + sizeof value);
    };
    out.push_back(kLayoutVersion);
    out.push_back(static_cast<std::uint8_t>(style_));
    put(lines_above_);
    put(lines_below_);
    out.push_back(static_cast<std::uint8_t>(columns_.size()));
    for (const detail::Column &c : columns_) {
      out.push_back(c.slot);
      put(c.centre);
      put(c.from);
      put(c.to);
      put(c.left);
      put(c.right);
    }
    return out;
  }

  /// Takes back what save_layout() gave (of this reader's version): true when it did; false,
  /// changing nothing, for anything else (the bytes come through a peer: untrusted).
  bool restore_layout(std::span<const std::uint8_t> bytes) {
    std::size_t at = 0;
    bool ok = true;
    const auto get = [&](auto &value) {
      if (bytes.size() - at < sizeof value) {
        ok = false;
        return;
      }
      std::memcpy(&value, bytes.data() + at, sizeof value);
      at += sizeof value;
    };
    std::uint8_t version = 0, style = 0, count = 0;
    std::uint32_t above = 0, below = 0;
    get(version);
    get(style);
    get(above);
    get(below);
    get(count);
    if (!ok || version != kLayoutVersion || style > 1 || count == 0 || count > kMaxColumns)
      return false;
    std::vector<detail::Column> columns(count);
    for (detail::Column &c : columns) {
      get(c.slot);
      get(c.centre);
      get(c.from);
      get(c.to);
      get(c.left);
      get(c.right);
      if (!ok || c.slot > detail::kUnknown || !std::isfinite(c.centre) || !std::isfinite(c.from) ||
          !std::isfinite(c.to) || c.from > c.to || std::isnan(c.left) || std::isnan(c.right) ||
          c.left > c.centre || c.right < c.centre)
        return false;
    }
    const auto has = [&columns](int slot) {
      return std::any_of(columns.begin(), columns.end(),
                         [slot](const detail::Column &c) { return c.slot == slot; });
    };
    // A header this reader takes names the row numbers and the quantity at least.
    if (at != bytes.size() || !has(detail::kStt) || !has(detail::kQuantity) ||
        !std::is_sorted(columns.begin(), columns.end(),
                        [](const auto &a, const auto &b) { return a.centre < b.centre; }))
      return false;
    columns_ = std::move(columns);
    style_ = static_cast<NumberStyle>(style);
    lines_above_ = above;
    lines_below_ = below;
    known_ = true;
    return true;
  }

private:
  static constexpr std::uint8_t kLayoutVersion = 1;
  static constexpr std::size_t kMaxColumns = 64;

  /// A row, or a candidate for one: the lines between two row rules of a ruled table, or one
  /// line of an unruled one.
  struct Unit {
    std::size_t first = 0, last = 0;              // lines, inclusive
    bool ruled = false;                           // between two row rules
    double top = 0, bottom = 0;                   // the rules, when ruled
    std::array<std::string, detail::kSlots> text; // per column, over its lines
    std::size_t anchor = 0;                       // the line with the row number (anchors)
    enum Kind : std::uint8_t { anchor_kind, continuation, other } kind = other;
  };

  struct Span {
    std::size_t first, last, anchor; // units, inclusive: a row's, and the one with its number
  };

  void read_table(std::uint32_t page, std::span<const detail::Line> lines,
                  std::span<const std::vector<detail::Cell>> cells, const Rules &rules,
                  double table_top, std::vector<Row> &rows) {
    if (lines.empty())
      return;
    const double top = lines.front().y0, bottom = lines.back().y1;
    // Columns: at the vertical rules that cross this stretch, else at the body's gutters.
    std::vector<double> cuts;
    for (const Segment &v : rules.vertical)
      if (v.to > top && v.from < bottom)
        cuts.push_back(v.pos);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(
        std::unique(cuts.begin(), cuts.end(), [](double a, double b) { return b - a < 1.5; }),
        cuts.end());
    std::vector<detail::Cell> body;
    for (const std::vector<detail::Cell> &line : cells)
      body.insert(body.end(), line.begin(), line.end());
    detail::place_columns(columns_, cuts, body);
    const detail::Column *stt = column(detail::kStt);
    if (stt == nullptr)
      return;

    // Row rules: the horizontal rules across the STT column, in this stretch.
    std::vector<const Segment *> row_rules;
    const double stt_x = std::isfinite(stt->left) && std::isfinite(stt->right)
                             ? (stt->left + stt->right) / 2
                             : stt->centre;
    for (const Segment &h : rules.horizontal)
      if (h.from <= stt_x && stt_x <= h.to && h.pos >= table_top - 1 && h.pos <= bottom + 4 &&
          (row_rules.empty() || h.pos - row_rules.back()->pos > 1.5))
        row_rules.push_back(&h);

    // Units: the lines between two row rules, one per line elsewhere.
    std::vector<Unit> units;
    for (std::size_t i = 0; i < lines.size();) {
      const double centre = lines[i].centre();
      const auto below = std::find_if(row_rules.begin(), row_rules.end(),
                                      [&](const Segment *h) { return h->pos > centre; });
      Unit u;
      u.first = u.last = i;
      if (below != row_rules.begin() && below != row_rules.end()) {
        u.ruled = true;
        u.top = (*(below - 1))->pos;
        u.bottom = (*below)->pos;
        while (u.last + 1 < lines.size() && lines[u.last + 1].centre() < u.bottom)
          ++u.last;
      }
      i = u.last + 1;
      fill(u, lines);
      if (u.ruled && anchors_in(u, lines) > 1) { // no rules between its rows: one unit a line
        for (std::size_t k = u.first; k <= u.last; ++k) {
          Unit one;
          one.first = one.last = k;
          fill(one, lines);
          units.push_back(std::move(one));
        }
      } else {
        units.push_back(std::move(u));
      }
    }
    for (Unit &u : units)
      classify(u, lines);
    // The name column's right edge as rows fill it (a footer or a heading under it may reach
    // further): what may_continue() measures wrapping against.
    name_edge_ = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < units.size(); ++i) {
      const Unit &u = units[i];
      const auto joins = [&](std::size_t j) {
        return units[j].kind != Unit::other &&
               (j < i ? close(units[j], u, lines) : close(u, units[j], lines));
      };
      if (u.kind == Unit::other || (u.kind == Unit::continuation && !(i > 0 && joins(i - 1)) &&
                                    !(i + 1 < units.size() && joins(i + 1))))
        continue; // not part of any row: a footer, a note under the table
      for (std::size_t k = u.first; k <= u.last; ++k)
        for (const Word *w : lines[k].words)
          if (slot_of(*w) == detail::kName)
            name_edge_ = std::max(name_edge_, w->x1);
    }

    // Rows: each anchor with the continuation units assigned to it.
    std::vector<Span> spans;
    std::vector<std::size_t> row_of(units.size(), SIZE_MAX);
    for (std::size_t k = 0; k < units.size(); ++k)
      if (units[k].kind == Unit::anchor_kind) {
        row_of[k] = spans.size();
        spans.push_back({k, k, k});
        if (units[k].ruled) { // evidence of the alignment: lines above and below its number
          lines_above_ += static_cast<std::uint32_t>(units[k].anchor - units[k].first);
          lines_below_ += static_cast<std::uint32_t>(units[k].last - units[k].anchor);
        }
      }
    for (std::size_t k = 0; k < units.size();) {
      if (units[k].kind != Unit::continuation) {
        ++k;
        continue;
      }
      std::size_t end = k;
      while (end + 1 < units.size() && units[end + 1].kind == Unit::continuation)
        ++end;
      assign_run(units, lines, k, end, row_of, spans);
      k = end + 1;
    }
    const std::size_t first_row = rows.size();
    const std::array<double, 2> edges = table_edges(cuts, row_rules);
    for (const Span &s : spans)
      rows.push_back(make_row(page, units, lines, s, edges));
    spread_merged_cells(units, rules.horizontal, spans, std::span(rows).subspan(first_row));
  }

  /// Where a ruled row's evidence begins and ends across: the outermost vertical rules, else
  /// the row rules' ends.
  [[nodiscard]] static std::array<double, 2>
  table_edges(std::span<const double> cuts, std::span<const Segment *const> row_rules) {
    if (cuts.size() >= 2)
      return {cuts.front(), cuts.back()};
    std::array<double, 2> edges{std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity()};
    for (const Segment *h : row_rules) {
      edges[0] = std::min(edges[0], h->from);
      edges[1] = std::max(edges[1], h->to);
    }
    return edges;
  }

  [[nodiscard]] double number(const std::string &text) const {
    return parse_number(text, style_).value_or(std::numeric_limits<double>::quiet_NaN());
  }

  /// The sum of the parts (by Row::parts index) [from, from + 3) that are present, rounded to
  /// the most decimals printed among them (so 0.1 + 0.2 is 0.3, as printed); NaN when none is.
  [[nodiscard]] double sum_of_parts(const std::array<std::string, detail::kSlots> &text,
                                    std::size_t from) const {
    double sum = 0;
    int decimals = 0;
    bool any = false;
    for (std::size_t k = from; k < from + 3; ++k) {
      const std::string &t = text[detail::kPriceMaterial + k];
      const double v = number(t);
      if (std::isnan(v))
        continue;
      sum += v;
      decimals = std::max(decimals, detail::decimals_of(t, style_));
      any = true;
    }
    if (!any)
      return std::numeric_limits<double>::quiet_NaN();
    const double scale = std::pow(10.0, std::min(decimals, 15));
    const double scaled = std::round(sum * scale);
    return std::abs(scaled) < 9e15 ? scaled / scale : sum;
  }

  [[nodiscard]] Row make_row(std::uint32_t page, const std::vector<Unit> &units,
                             std::span<const detail::Line> lines, const Span &s,
                             const std::array<double, 2> &edges) const {
    std::array<std::string, detail::kSlots> text;
    for (std::size_t k = s.first; k <= s.last; ++k)
      for (std::size_t slot = 0; slot < detail::kSlots; ++slot)
        if (!units[k].text[slot].empty()) {
          if (!text[slot].empty())
            text[slot] += ' ';
          text[slot] += units[k].text[slot];
        }
    Row r;
    r.page = page;
    r.stt = std::move(text[detail::kStt]);
    r.code = std::move(text[detail::kCode]);
    r.name = std::move(text[detail::kName]);
    r.unit = std::move(text[detail::kUnit]);
    r.quantity = number(text[detail::kQuantity]);
    const bool split = std::any_of(columns_.begin(), columns_.end(), [](const detail::Column &c) {
      return c.slot >= detail::kPriceMaterial && c.slot < detail::kSlots;
    });
    if (split)
      for (std::size_t k = 0; k < r.parts.size(); ++k)
        r.parts[k] = number(text[detail::kPriceMaterial + k]);
    r.unit_price = has_slot(detail::kUnitPrice) || !split ? number(text[detail::kUnitPrice])
                                                          : sum_of_parts(text, 0);
    r.amount =
        has_slot(detail::kAmount) || !split ? number(text[detail::kAmount]) : sum_of_parts(text, 3);
    const double product = r.quantity * r.unit_price;
    r.adds_up = std::isfinite(product) && std::isfinite(r.amount) &&
                std::abs(r.amount - product) <= std::max(0.5, 1e-6 * std::abs(r.amount));
    // The box: between the row rules and the table's edges when it has them, else around
    // its words.
    r.x0 = r.y0 = std::numeric_limits<double>::infinity();
    r.x1 = r.y1 = -std::numeric_limits<double>::infinity();
    for (std::size_t k = s.first; k <= s.last; ++k) {
      const Unit &u = units[k];
      if (u.ruled && edges[0] < edges[1]) {
        r.x0 = std::min(r.x0, edges[0]);
        r.x1 = std::max(r.x1, edges[1]);
        r.y0 = std::min(r.y0, u.top);
        r.y1 = std::max(r.y1, u.bottom);
        continue;
      }
      for (std::size_t l = u.first; l <= u.last; ++l)
        for (const Word *w : lines[l].words) {
          r.x0 = std::min(r.x0, w->x0);
          r.y0 = std::min(r.y0, w->y0);
          r.x1 = std::max(r.x1, w->x1);
          r.y1 = std::max(r.y1, w->y1);
        }
    }
    return r;
  }

  /// A code or unit printed once in a cell merged across several ruled rows (no rule inside
  /// its column between them) applies to each of them.
  void spread_merged_cells(const std::vector<Unit> &units, std::span<const Segment> horizontal,
                           const std::vector<Span> &spans, std::span<Row> rows) const {
    for (const int slot : {int{detail::kCode}, int{detail::kUnit}}) {
      const detail::Column *c = column(slot);
      if (c == nullptr || !std::isfinite(c->left) || !std::isfinite(c->right))
        continue;
      const auto covered = [&](double y) {
        return std::any_of(horizontal.begin(), horizontal.end(), [&](const Segment &h) {
          const double overlap = std::min(h.to, c->right) - std::max(h.from, c->left);
          return std::abs(h.pos - y) < 1.5 && overlap >= 0.5 * (c->right - c->left);
        });
      };
      // Groups of ruled units joined by an uncovered rule; each group's text goes to every row
      // that lies wholly inside it.
      for (std::size_t k = 0; k < units.size();) {
        std::size_t end = k;
        while (end + 1 < units.size() && units[end].ruled && units[end + 1].ruled &&
               std::abs(units[end].bottom - units[end + 1].top) < 1.5 &&
               !covered(units[end].bottom))
          ++end;
        if (end > k) {
          std::string text;
          for (std::size_t u = k; u <= end; ++u)
            if (!units[u].text[static_cast<std::size_t>(slot)].empty()) {
              if (!text.empty())
                text += ' ';
              text += units[u].text[static_cast<std::size_t>(slot)];
            }
          for (std::size_t r = 0; r < spans.size(); ++r)
            if (spans[r].first >= k && spans[r].last <= end && !text.empty())
              (slot == detail::kCode ? rows[r].code : rows[r].unit) = text;
        }
        k = end + 1;
      }
    }
  }

  [[nodiscard]] const detail::Column *column(int slot) const {
    for (const detail::Column &c : columns_)
      if (c.slot == slot)
        return &c;
    return nullptr;
  }

  [[nodiscard]] bool has_slot(int slot) const { return column(slot) != nullptr; }

  /// The column a word belongs to (by its centre), or kUnknown.
  [[nodiscard]] int slot_of(const Word &w) const {
    const double x = (w.x0 + w.x1) / 2;
    for (const detail::Column &c : columns_)
      if (c.left <= x && x < c.right)
        return c.slot;
    return detail::kUnknown;
  }

  /// The texts of a line, per column.
  [[nodiscard]] std::array<std::string, detail::kSlots> texts_of(const detail::Line &line) const {
    std::array<std::string, detail::kSlots> texts;
    std::array<const Word *, detail::kSlots> previous{};
    for (const Word *w : line.words) {
      const int slot = slot_of(*w);
      if (slot == detail::kUnknown)
        continue;
      const auto s = static_cast<std::size_t>(slot);
      detail::append_word(texts[s], previous[s], *w);
      previous[s] = w;
    }
    return texts;
  }

  void fill(Unit &u, std::span<const detail::Line> lines) const {
    for (std::size_t k = u.first; k <= u.last; ++k) {
      const std::array<std::string, detail::kSlots> texts = texts_of(lines[k]);
      for (std::size_t s = 0; s < detail::kSlots; ++s)
        if (!texts[s].empty()) {
          if (!u.text[s].empty())
            u.text[s] += ' ';
          u.text[s] += texts[s];
        }
    }
  }

  [[nodiscard]] std::size_t anchors_in(const Unit &u, std::span<const detail::Line> lines) const {
    std::size_t n = 0;
    for (std::size_t k = u.first; k <= u.last; ++k)
      n += detail::is_row_number(texts_of(lines[k])[detail::kStt]) ? 1U : 0U;
    return n;
  }

  [[nodiscard]] static bool numbers_in(const Unit &u) {
    for (const int s : {detail::kQuantity, detail::kUnitPrice, detail::kAmount,
                        detail::kPriceMaterial, detail::kPriceLabour, detail::kPriceMachine,
                        detail::kAmountMaterial, detail::kAmountLabour, detail::kAmountMachine})
      if (!u.text[static_cast<std::size_t>(s)].empty())
        return true;
    return false;
  }

  /// An anchor holds a row number and a unit or a quantity (a section heading numbered A or
  /// II holds neither); a continuation holds only more of a name (and perhaps of its code);
  /// anything else (headings, subtotals, titles, page furniture) is neither.
  void classify(Unit &u, std::span<const detail::Line> lines) const {
    const std::string &stt = u.text[detail::kStt];
    if (detail::is_row_number(stt) &&
        (!u.text[detail::kUnit].empty() || !u.text[detail::kQuantity].empty())) {
      u.kind = Unit::anchor_kind;
      u.anchor = u.first;
      for (std::size_t k = u.first; k <= u.last; ++k)
        if (!texts_of(lines[k])[detail::kStt].empty()) {
          u.anchor = k;
          break;
        }
    } else if (stt.empty() && !u.text[detail::kName].empty() && u.text[detail::kUnit].empty() &&
               !numbers_in(u)) {
      u.kind = Unit::continuation;
    } else {
      u.kind = Unit::other;
    }
  }

  /// The distance between the centres of the last line of `a` and the first line of `b`.
  [[nodiscard]] static double pitch(const Unit &a, const Unit &b,
                                    std::span<const detail::Line> lines) {
    return lines[b.first].centre() - lines[a.last].centre();
  }

  /// Whether two neighbouring units are close enough to be parts of one row: rows of one
  /// ruled table are, lines of an unruled one within about two lines of each other.
  [[nodiscard]] static bool close(const Unit &a, const Unit &b,
                                  std::span<const detail::Line> lines) {
    if (a.ruled && b.ruled)
      return std::abs(a.bottom - b.top) < 1.5;
    const double height =
        std::max(lines[a.last].y1 - lines[a.last].y0, lines[b.first].y1 - lines[b.first].y0);
    return pitch(a, b, lines) < 2.2 * height;
  }

  /// Gives the continuation units [first, last] to the anchors around them: by the widest
  /// gap between them when one gap is clearly the widest (rows are padded), else as the
  /// table aligns its wrapped cells (learnt from the rows where the gap told, or from ruled
  /// rows): top-aligned cells continue below their number, bottom-aligned above it, centred
  /// cells as many lines below as above.
  void assign_run(const std::vector<Unit> &units, std::span<const detail::Line> lines,
                  std::size_t first, std::size_t last, const std::vector<std::size_t> &row_of,
                  std::vector<Span> &spans) {
    const bool has_prev = first > 0 && close(units[first - 1], units[first], lines);
    const bool has_next = last + 1 < units.size() && close(units[last], units[last + 1], lines);
    // A break inside the run (a gap of several lines) ends it there.
    for (std::size_t k = first; k < last; ++k)
      if (!close(units[k], units[k + 1], lines)) {
        if (has_prev)
          give(first, k, first - 1, row_of, spans);
        if (has_next)
          give(k + 1, last, last + 1, row_of, spans);
        return;
      }
    const bool prev_row = has_prev && row_of[first - 1] != SIZE_MAX;
    const bool next_row = has_next && row_of[last + 1] != SIZE_MAX;
    if (!prev_row && !next_row)
      return;
    // The pitches between prev, the run and next; the split goes at the one clearly widest.
    std::vector<double> pitches;
    if (has_prev)
      pitches.push_back(pitch(units[first - 1], units[first], lines));
    for (std::size_t k = first; k < last; ++k)
      pitches.push_back(pitch(units[k], units[k + 1], lines));
    if (has_next)
      pitches.push_back(pitch(units[last], units[last + 1], lines));
    const double height = lines[units[first].first].y1 - lines[units[first].first].y0;
    const double widest = *std::max_element(pitches.begin(), pitches.end());
    const double narrowest = *std::min_element(pitches.begin(), pitches.end());
    const auto near_widest = std::count_if(pitches.begin(), pitches.end(),
                                           [&](double p) { return widest - p < 0.15 * height; });
    std::size_t to_prev = 0; // the first to_prev units of the run go to prev, the rest to next
    const std::size_t n = last - first + 1;
    const std::optional<std::size_t> wrapped =
        has_prev && has_next ? only_wrap(units, lines, first, last) : std::nullopt;
    if ((has_prev && has_next && near_widest == 1 && widest - narrowest >= 0.15 * height) ||
        wrapped) {
      to_prev = wrapped && !(near_widest == 1 && widest - narrowest >= 0.15 * height)
                    ? *wrapped
                    : static_cast<std::size_t>(std::max_element(pitches.begin(), pitches.end()) -
                                               pitches.begin());
      if (prev_row)
        lines_below_ += static_cast<std::uint32_t>(to_prev);
      if (next_row)
        lines_above_ += static_cast<std::uint32_t>(n - to_prev);
    } else if (!has_next) {
      to_prev = n;
    } else if (!has_prev) {
      to_prev = 0;
    } else {
      // The alignment the evidence shows, by a clear majority (a few lines placed the other
      // way, by a gap or a wrap that misled, do not turn a top-aligned table around).
      const std::uint64_t above = lines_above_, below = lines_below_;
      if (above * 4 <= above + below) // top-aligned (also with no evidence at all)
        to_prev = n;
      else if (below * 4 <= above + below) // bottom-aligned
        to_prev = 0;
      else // centred: as many lines below the number as above it
        to_prev = prev_row ? std::min(n, lines_above(units, spans[row_of[first - 1]])) : 0;
    }
    if (to_prev > 0 && has_prev)
      give(first, first + to_prev - 1, first - 1, row_of, spans);
    if (to_prev < n && has_next)
      give(first + to_prev, last, last + 1, row_of, spans);
  }

  /// The extent of a unit's name words: the first one's width, the last line's right end.
  struct NameExtent {
    double first_width, right, em;
  };
  [[nodiscard]] std::optional<NameExtent> name_extent(const Unit &u,
                                                      std::span<const detail::Line> lines) const {
    std::optional<NameExtent> out;
    for (std::size_t k = u.first; k <= u.last; ++k) {
      bool on_this_line = false;
      for (const Word *w : lines[k].words) {
        if (slot_of(*w) != detail::kName)
          continue;
        if (!out)
          out = NameExtent{w->x1 - w->x0, w->x1, detail::em(*w)};
        if (!on_this_line) // a later line: its end is the one that counts
          out->right = w->x1;
        on_this_line = true;
        out->right = std::max(out->right, w->x1);
      }
    }
    return out;
  }

  /// Whether the name's line `a` may wrap onto `b`'s first line: wrapping moves a word to the
  /// next line only when it does not fit, so `a` must end too near the column's edge (the
  /// rightmost name on the page, less some slack) for `b`'s first word. Unknown (no name in
  /// one of them): true.
  [[nodiscard]] bool may_continue(const Unit &a, const Unit &b,
                                  std::span<const detail::Line> lines) const {
    const std::optional<NameExtent> x = name_extent(a, lines), y = name_extent(b, lines);
    if (!x || !y)
      return true;
    // Half an em of slack: the program that wrapped the text measured it with its own
    // metrics (LibreOffice's lines end up to a few tenths of a point off the PDF's).
    return x->right + 0.25 * x->em + y->first_width > name_edge_ - 0.5 * x->em;
  }

  /// The one way to split the run [first, last] between the rows around it that lets every
  /// name wrap as text wraps (see may_continue()), if there is exactly one.
  [[nodiscard]] std::optional<std::size_t> only_wrap(const std::vector<Unit> &units,
                                                     std::span<const detail::Line> lines,
                                                     std::size_t first, std::size_t last) const {
    const std::size_t n = last - first + 1;
    // continues[k]: unit first - 1 + k may wrap onto unit first + k (k = 0..n).
    std::vector<bool> continues(n + 1);
    for (std::size_t k = 0; k <= n; ++k)
      continues[k] = may_continue(units[first - 1 + k], units[first + k], lines);
    std::optional<std::size_t> only;
    for (std::size_t j = 0; j <= n; ++j) {
      // The first j go to the row above (links 0..j-1), the rest to the row below (j+1..n).
      bool ok = true;
      for (std::size_t k = 0; k <= n && ok; ++k)
        ok = k == j || continues[k];
      if (!ok)
        continue;
      if (only)
        return std::nullopt;
      only = j;
    }
    return only;
  }

  /// Lines of a row above the line with its number.
  [[nodiscard]] static std::size_t lines_above(const std::vector<Unit> &units, const Span &s) {
    std::size_t n = units[s.anchor].anchor - units[s.anchor].first;
    for (std::size_t k = s.first; k < s.anchor; ++k)
      n += units[k].last - units[k].first + 1;
    return n;
  }

  /// Units [first, last] join the row of unit `owner`, if it has one.
  static void give(std::size_t first, std::size_t last, std::size_t owner,
                   const std::vector<std::size_t> &row_of, std::vector<Span> &spans) {
    if (row_of[owner] == SIZE_MAX)
      return;
    Span &s = spans[row_of[owner]];
    s.first = std::min(s.first, first);
    s.last = std::max(s.last, last);
  }

  bool known_ = false;
  NumberStyle style_ = NumberStyle::vietnamese;
  std::vector<detail::Column> columns_;
  // Lines of wrapped cells seen above and below their row's number: how the table aligns them.
  std::uint32_t lines_above_ = 0, lines_below_ = 0;
  double name_edge_ = 0; // the rightmost end of a name in the stretch being read
};

} // namespace extraction

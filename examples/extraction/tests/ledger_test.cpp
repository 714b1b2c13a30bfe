// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of ledger.hpp on synthetic word boxes: headers in both languages, both number
// conventions, wrapped names, tables continuing without a header, skipped headings and
// subtotals, rows that do not add up, and junk input.
#include "ledger.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace extraction {
namespace {

constexpr double kSize = 9;   // font size, points
constexpr double kChar = 5.0; // advance per character: a rough width is enough

/// Characters (code points) of UTF-8 text.
double width_of(const std::string &text) {
  double n = 0;
  for (const char c : text)
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n * kChar;
}

/// Words of `text` (split at spaces) starting at x on the line whose top is y.
void put(std::vector<Word> &words, const std::string &text, double x, double y) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos)
      end = text.size();
    if (end > start) {
      const double w = width_of(text.substr(start, end - start));
      words.push_back({text.substr(start, end - start), x, y, x + w, y + kSize, kSize, true});
      x += w;
    }
    x += 0.3 * kSize; // a word space
    start = end + 1;
  }
}

/// Right-aligned at `right`.
void put_right(std::vector<Word> &words, const std::string &text, double right, double y) {
  put(words, text, right - width_of(text), y);
}

// Column positions: STT 30, code 70, name 130, unit 330, quantity ..440, price ..530,
// amount ..640 (right edges of the numeric columns).
void header(std::vector<Word> &w, double y, bool vietnamese) {
  put(w, vietnamese ? "STT" : "No.", 30, y);
  put(w, vietnamese ? "Mã hiệu" : "Code", 70, y);
  put(w, vietnamese ? "Tên công việc" : "Description", 130, y);
  put(w, vietnamese ? "Đơn vị" : "Unit", 330, y);
  put_right(w, vietnamese ? "Khối lượng" : "Quantity", 440, y);
  put_right(w, vietnamese ? "Đơn giá" : "Unit price", 530, y);
  put_right(w, vietnamese ? "Thành tiền" : "Amount", 640, y);
}

void row(std::vector<Word> &w, double y, const std::string &stt, const std::string &name,
         const std::string &qty, const std::string &price, const std::string &amount) {
  put(w, stt, 30, y);
  put(w, "AB.1" + stt, 70, y);
  put(w, name, 130, y);
  put(w, "m3", 330, y);
  put_right(w, qty, 440, y);
  put_right(w, price, 530, y);
  put_right(w, amount, 640, y);
}

TEST(LedgerTest, VietnameseHeaderNumbersAndWrappedNames) {
  std::vector<Word> w;
  put(w, "BẢNG DỰ TOÁN", 30, 20);
  header(w, 40, true);
  put(w, "PHẦN 1: MÓNG", 30, 52);
  row(w, 64, "1", "Đào móng băng", "1.234,5", "2.000", "2.469.000");
  row(w, 76, "2", "Bê tông lót móng đá", "10", "1.500,25", "15.002,5");
  put(w, "4x6 mác 100", 130, 88); // wrapped
  put(w, "Cộng phần 1", 130, 100);
  put_right(w, "2.484.002,5", 640, 100);
  LedgerReader reader;
  const std::vector<Row> rows = reader.read_page(0, w);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].stt, "1");
  EXPECT_EQ(rows[0].code, "AB.11");
  EXPECT_EQ(rows[0].name, "Đào móng băng");
  EXPECT_EQ(rows[0].unit, "m3");
  EXPECT_EQ(rows[0].quantity, 1234.5);
  EXPECT_EQ(rows[0].unit_price, 2000);
  EXPECT_EQ(rows[0].amount, 2469000);
  EXPECT_TRUE(rows[0].adds_up);
  EXPECT_EQ(rows[1].name, "Bê tông lót móng đá 4x6 mác 100");
  EXPECT_EQ(rows[1].unit_price, 1500.25);
  EXPECT_TRUE(rows[1].adds_up);
  EXPECT_LT(rows[1].y0, 80);
  EXPECT_GT(rows[1].y1, 88) << "the box covers the wrapped line";
}

TEST(LedgerTest, EnglishTableContinuesOnAPageWithoutHeader) {
  LedgerReader reader;
  std::vector<Word> first;
  header(first, 40, false);
  row(first, 52, "1", "Excavation", "1,234.5", "2,000", "2,469,000");
  ASSERT_EQ(reader.read_page(0, first).size(), 1u);
  std::vector<Word> second;
  put(second, "(continued)", 30, 20);
  row(second, 40, "2", "Formwork", "3", "7.5", "22.5");
  row(second, 52, "3", "Rebar, D10", "2", "1,000", "9,999"); // does not add up
  put(second, "Page 2", 300, 800);
  const std::vector<Row> rows = reader.read_page(1, second);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].page, 1u);
  EXPECT_EQ(rows[0].unit_price, 7.5);
  EXPECT_TRUE(rows[0].adds_up);
  EXPECT_EQ(rows[1].name, "Rebar, D10");
  EXPECT_FALSE(rows[1].adds_up) << "flagged, not dropped";
}

TEST(LedgerTest, NoHeaderNoRows) {
  std::vector<Word> w;
  row(w, 40, "1", "Something", "1", "2", "2");
  LedgerReader reader;
  EXPECT_TRUE(reader.read_page(0, w).empty());
  EXPECT_FALSE(reader.has_layout());
}

TEST(LedgerTest, NumbersInBothConventions) {
  using S = NumberStyle;
  EXPECT_EQ(parse_number("1.234.567,89", S::vietnamese), 1234567.89);
  EXPECT_EQ(parse_number("1,234,567.89", S::english), 1234567.89);
  EXPECT_EQ(parse_number("2.000", S::vietnamese), 2000);
  EXPECT_EQ(parse_number("2.000", S::english), 2.0);
  EXPECT_EQ(parse_number("0,5", S::vietnamese), 0.5);
  EXPECT_EQ(parse_number("-12", S::english), -12);
  for (const char *bad : {"", "-", "1..2", "1.23.456", "12,34.5", ".5", "5.", "1,2,3", "abc",
                          "1 000", "1.2345", "12.3456,7"})
    EXPECT_FALSE(parse_number(bad, S::vietnamese).has_value()) << bad;
  EXPECT_FALSE(parse_number("1,23", S::english).has_value());
  EXPECT_EQ(format_number(2000), "2000");
  EXPECT_EQ(format_number(1234.5), "1234.5");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(1e15), "1000000000000000");
  EXPECT_EQ(format_number(std::numeric_limits<double>::quiet_NaN()), "");
}

TEST(LedgerTest, FoldingForColumnNames) {
  EXPECT_EQ(fold("Thành Tiền"), "thanh tien");
  EXPECT_EQ(fold("ĐƠN GIÁ"), "don gia");
  EXPECT_EQ(fold("Khối lượng"), "khoi luong");
  EXPECT_EQ(fold("Mã hiệu"), "ma hieu");
  EXPECT_EQ(fold("Ưu"), "uu");
  EXPECT_EQ(fold("\xff\xfe"), "??") << "invalid UTF-8 is not a crash";
}

TEST(LedgerTest, JunkWordsAreIgnored) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Word> w;
  header(w, 40, true);
  w.push_back({"", 1, 2, 3, 4, kSize, true});
  w.push_back({"x", nan, 2, 3, 4, kSize, true});
  w.push_back({"x", 1, inf, 3, 4, kSize, true});
  w.push_back({"x", 5, 2, 3, 4, kSize, true}); // x1 < x0
  w.push_back({"x", 1, 2, 3, 4, nan, false});
  w.push_back({"1", 1e300, 2, 1e300, 4, -5, false});
  row(w, 64, "1", "Đào", "1", "2", "2");
  LedgerReader reader;
  const std::vector<Row> rows = reader.read_page(0, w);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "Đào");
}

// The state that carries over to the next page, as bytes: a reader that restores it reads a
// page without a header as the reader that saved it would (the columns and the number
// convention), and a reader before any header saves "no table". Bytes that are not such a
// state are refused, and the reader is left as it was.
TEST(LedgerTest, TheLayoutSavedIsTheLayoutRestored) {
  for (const bool vietnamese : {true, false}) {
    SCOPED_TRACE(vietnamese ? "vi" : "en");
    LedgerReader reader;
    const std::vector<std::uint8_t> none = reader.save_layout();
    ASSERT_EQ(none.size(), 115u);
    EXPECT_EQ(none[0], LedgerReader::kLayoutVersion);
    EXPECT_EQ(none[1], 0);
    std::vector<Word> first;
    header(first, 40, vietnamese);
    row(first, 52, "1", "Excavation", "1", "2", "2");
    ASSERT_EQ(reader.read_page(0, first).size(), 1u);
    const std::vector<std::uint8_t> saved = reader.save_layout();
    ASSERT_EQ(saved.size(), 115u);
    EXPECT_EQ(saved[1], 1);
    EXPECT_EQ(saved[2], vietnamese ? 0 : 1);

    std::vector<Word> second;
    row(second, 40, "2", "Formwork", vietnamese ? "1.234,5" : "1,234.5", "2", "2469");
    LedgerReader restored;
    EXPECT_TRUE(restored.read_page(1, second).empty()) << "no header: no rows";
    ASSERT_TRUE(restored.restore_layout(saved));
    EXPECT_TRUE(restored.has_layout());
    EXPECT_EQ(restored.save_layout(), saved);
    const std::vector<Row> rows = restored.read_page(1, second);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].quantity, 1234.5) << "the number convention came with it";
    EXPECT_EQ(rows[0].name, reader.read_page(1, second)[0].name);

    // Garbage is refused and changes nothing.
    std::vector<std::vector<std::uint8_t>> bad = {{}, {saved.begin(), saved.end() - 1}};
    bad.push_back(saved);
    bad.back().push_back(0);
    for (const std::size_t at : {0u, 1u, 2u}) {
      bad.push_back(saved);
      bad.back()[at] = 2;
    }
    bad.push_back(saved);
    bad.back()[1] = 0; // no table, but columns
    bad.push_back(none);
    bad.back()[1] = 1; // a table without columns
    for (std::size_t edge = 0; edge < 14; ++edge) {
      bad.push_back(saved); // moved by a little: the chain from -inf to +inf breaks
      bad.back()[3 + 8 * edge + 5] ^= 0x10;
    }
    for (const std::vector<std::uint8_t> &bytes : bad) {
      EXPECT_FALSE(restored.restore_layout(bytes)) << bytes.size();
      EXPECT_EQ(restored.save_layout(), saved);
    }
    ASSERT_TRUE(restored.restore_layout(none));
    EXPECT_FALSE(restored.has_layout());
    EXPECT_TRUE(restored.read_page(1, second).empty());
  }
}

} // namespace
} // namespace extraction

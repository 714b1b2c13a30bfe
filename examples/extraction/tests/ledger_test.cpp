// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of ledger.hpp on synthetic word boxes: headers in both languages, both number
// conventions, wrapped names, tables continuing without a header, skipped headings and
// subtotals, rows that do not add up, and junk input.
#include "ledger.hpp"
#include "rules.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
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

/// ledger.hpp's own test of a row number.
bool is_row_number_for_test(const std::string &s) { return detail::is_row_number(s); }

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

/// The rules of a grid over the columns of header() (x 25..645), with row rules at `ys` and
/// the vertical rules between columns; `skip_unit_at` leaves the unit column (325..380) out of
/// the row rule at that y (a merged cell).
Rules grid(const std::vector<double> &ys, double skip_unit_at = -1) {
  Rules r;
  const std::vector<double> xs{25, 65, 125, 325, 380, 445, 535, 645};
  for (const double y : ys) {
    if (y == skip_unit_at) {
      r.horizontal.push_back({y, 25, 325});
      r.horizontal.push_back({y, 380, 645});
    } else {
      r.horizontal.push_back({y, 25, 645});
    }
  }
  for (const double x : xs)
    r.vertical.push_back({x, ys.front(), ys.back()});
  return r;
}

TEST(LedgerTest, RuledRowsWithCentredCellsKeepEveryLineOfTheirNames) {
  // Each row between two rules; the numbers sit on the middle line of a three-line name, or
  // between the two lines of a two-line one: by alignment alone the first line belongs above.
  std::vector<Word> w;
  header(w, 40, true);
  put(w, "Đào móng băng", 130, 62);
  row(w, 74, "1", "bằng máy đào", "10", "2.000", "20.000");
  put(w, "khu nhà điều hành", 130, 86);
  put(w, "Bê tông lót móng", 130, 104);
  row(w, 110, "2", "", "1", "5", "5");
  put(w, "đá 4x6", 130, 116);
  LedgerReader reader;
  const std::vector<Row> rows = reader.read_page(0, w, grid({35, 55, 98, 130}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "Đào móng băng bằng máy đào khu nhà điều hành");
  EXPECT_EQ(rows[1].name, "Bê tông lót móng đá 4x6");
  EXPECT_EQ(rows[0].y0, 55) << "the evidence box follows the row rules";
  EXPECT_EQ(rows[0].y1, 98);
  EXPECT_EQ(rows[0].x0, 25);
  EXPECT_EQ(rows[0].x1, 645);
}

TEST(LedgerTest, UnruledCentredAndBottomAlignedNamesSplitAtTheRowGap) {
  for (const bool bottom : {false, true}) {
    // Rows are padded: the gap between two rows is wider than between the lines of one.
    std::vector<Word> w;
    header(w, 40, false);
    double y = 60;
    for (int i = 1; i <= 3; ++i) {
      const std::string n = std::to_string(i);
      if (bottom) {
        put(w, "Long item " + n, 130, y);
        put(w, "continued " + n, 130, y + 12);
        row(w, y + 24, n, "ends " + n, "2", "3", "6");
      } else {
        put(w, "Long item " + n, 130, y);
        row(w, y + 12, n, "continued " + n, "2", "3", "6");
        put(w, "ends " + n, 130, y + 24);
      }
      y += 42; // three lines and 6 pt of padding above and below
    }
    put(w, "Page 1", 300, 800);
    LedgerReader reader;
    const std::vector<Row> rows = reader.read_page(0, w);
    ASSERT_EQ(rows.size(), 3u) << bottom;
    for (int i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i + 1);
      EXPECT_EQ(rows[static_cast<std::size_t>(i)].name,
                "Long item " + n + " continued " + n + " ends " + n)
          << bottom;
    }
  }
}

TEST(LedgerTest, SectionHeadingsAreNotRowsButHierarchicalItemsAre) {
  std::vector<Word> w;
  header(w, 40, true);
  put(w, "A", 30, 52);
  put(w, "PHẦN MÓNG", 130, 52);
  put(w, "I", 30, 64);
  put(w, "Công tác đất", 130, 64);
  row(w, 76, "1.1", "Đào móng", "1", "2", "2");
  row(w, 88, "a)", "Đào bằng tay", "1", "2", "2");
  row(w, 100, "1.1.2", "Đắp đất", "1", "2", "2");
  put(w, "II", 30, 112);
  put(w, "Kết cấu", 130, 112);
  put_right(w, "6", 640, 112); // a section's subtotal on its heading row
  LedgerReader reader;
  const std::vector<Row> rows = reader.read_page(0, w);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].stt, "1.1");
  EXPECT_EQ(rows[1].stt, "a)");
  EXPECT_EQ(rows[2].stt, "1.1.2");
}

TEST(LedgerTest, ATwoLevelHeaderSplitsPricesIntoParts) {
  std::vector<Word> w;
  put(w, "STT", 30, 40);
  put(w, "Mã hiệu", 70, 40);
  put(w, "Tên công việc", 130, 40);
  put(w, "Đơn vị", 250, 40);
  put(w, "Khối lượng", 290, 40);
  put(w, "Đơn giá", 390, 34);
  put(w, "Thành tiền", 540, 34);
  for (const auto &[x, name] : std::vector<std::pair<double, std::string>>{{350, "Vật liệu"},
                                                                           {400, "Nhân công"},
                                                                           {455, "Máy"},
                                                                           {500, "Vật liệu"},
                                                                           {550, "Nhân công"},
                                                                           {605, "Máy"}})
    put(w, name, x, 46);
  put(w, "1", 30, 64);
  put(w, "AB.1", 70, 64);
  put(w, "Đào móng", 130, 64);
  put(w, "m3", 250, 64);
  put_right(w, "2", 340, 64);
  put_right(w, "1.000,5", 395, 64);
  put_right(w, "200,25", 445, 64);
  // no machine part
  put_right(w, "2.001", 545, 64);
  put_right(w, "400,5", 595, 64);
  LedgerReader reader;
  const std::vector<Row> rows = reader.read_page(0, w);
  ASSERT_EQ(rows.size(), 1u);
  const Row &r = rows[0];
  EXPECT_EQ(r.parts[0], 1000.5);
  EXPECT_EQ(r.parts[1], 200.25);
  EXPECT_TRUE(std::isnan(r.parts[2]));
  EXPECT_EQ(r.parts[3], 2001);
  EXPECT_EQ(r.parts[4], 400.5);
  EXPECT_TRUE(std::isnan(r.parts[5]));
  EXPECT_EQ(r.unit_price, 1200.75) << "the sum of the parts";
  EXPECT_EQ(r.amount, 2401.5);
  EXPECT_TRUE(r.adds_up);
}

TEST(LedgerTest, AUnitInACellMergedOverRuledRowsAppliesToEach) {
  std::vector<Word> w;
  header(w, 40, true);
  put(w, "1", 30, 60);
  put(w, "Đào", 130, 60);
  put_right(w, "1", 440, 60);
  put(w, "m3", 330, 66); // centred in the cell merged over rows 1 and 2
  put(w, "2", 30, 72);
  put(w, "Đắp", 130, 72);
  put_right(w, "2", 440, 72);
  LedgerReader reader;
  const std::vector<Row> rows = reader.read_page(0, w, grid({35, 55, 69, 83}, 69));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].unit, "m3");
  EXPECT_EQ(rows[1].unit, "m3");
}

TEST(LedgerTest, TheLayoutSurvivesARestartAndJunkIsRefused) {
  LedgerReader first;
  std::vector<Word> page0;
  header(page0, 40, false);
  row(page0, 52, "1", "Excavation", "1,234.5", "2,000", "2,469,000");
  ASSERT_EQ(first.read_page(0, page0).size(), 1u);
  const std::vector<std::uint8_t> saved = first.save_layout();
  ASSERT_FALSE(saved.empty());
  LedgerReader second;
  ASSERT_TRUE(second.restore_layout(saved));
  std::vector<Word> page1;
  row(page1, 40, "2", "Formwork", "3", "7.5", "22.5");
  const std::vector<Row> rows = second.read_page(1, page1);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].unit_price, 7.5) << "English numbers carried over";
  for (std::size_t cut = 0; cut < saved.size(); ++cut) {
    LedgerReader r;
    EXPECT_FALSE(r.restore_layout(std::span(saved).first(cut))) << cut;
    EXPECT_FALSE(r.has_layout());
  }
  std::vector<std::uint8_t> bad = saved;
  bad[0] ^= 0xff; // another version
  EXPECT_FALSE(LedgerReader().restore_layout(bad));
}

TEST(LedgerTest, RulesAreFoundInABitmapAndSpecksAndFillsAreNot) {
  constexpr int kW = 600, kH = 400;
  std::vector<std::uint8_t> gray(kW * kH, 255);
  const auto paint = [&](int x0, int y0, int x1, int y1, std::uint8_t v) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x)
        gray[static_cast<std::size_t>(y * kW + x)] = v;
  };
  paint(50, 100, 550, 101, 0);   // a rule
  paint(50, 200, 550, 201, 110); // a lighter one spread over two pixel rows
  paint(50, 201, 550, 202, 110);
  paint(300, 60, 301, 300, 0);  // a vertical rule
  paint(60, 300, 200, 340, 40); // a filled box: not a rule
  paint(400, 320, 410, 330, 0); // a speck
  const Rules r = find_rules(gray.data(), gray.size(), kW, kH, kW, 1, 72);
  ASSERT_EQ(r.horizontal.size(), 2u);
  EXPECT_DOUBLE_EQ(r.horizontal[0].pos, 100.5);
  EXPECT_DOUBLE_EQ(r.horizontal[1].pos, 201);
  EXPECT_DOUBLE_EQ(r.horizontal[0].from, 50);
  EXPECT_DOUBLE_EQ(r.horizontal[0].to, 550);
  ASSERT_EQ(r.vertical.size(), 1u);
  EXPECT_DOUBLE_EQ(r.vertical[0].pos, 300.5);
  // Sizes that do not fit the buffer: nothing is read.
  EXPECT_TRUE(find_rules(gray.data(), gray.size() - 1, kW, kH, kW, 1, 72).empty());
  EXPECT_TRUE(find_rules(gray.data(), gray.size(), kW, kH, kW - 1, 1, 72).empty());
  EXPECT_TRUE(find_rules(gray.data(), gray.size(), kW, kH, kW, 2, 72).empty());
  EXPECT_TRUE(find_rules(nullptr, 0, kW, kH, kW, 1, 72).empty());
}

TEST(LedgerTest, HostileWordsRulesAndLayoutsNeitherCrashNorHang) {
  // Untrusted pages: random words around a real header, random rules, a page of stripes, and
  // random bytes for a saved layout. ASan and UBSan (CI's sanitizer stage) watch the rest.
  std::mt19937_64 rng(17);
  const auto uniform = [&](double a, double b) {
    return std::uniform_real_distribution<double>(a, b)(rng);
  };
  LedgerReader reader;
  for (std::uint32_t page = 0; page < 200; ++page) {
    std::vector<Word> w;
    if (page % 3 == 0)
      header(w, uniform(0, 200), page % 2 == 0);
    const int words = static_cast<int>(rng() % 400);
    for (int i = 0; i < words; ++i) {
      const double x = uniform(-50, 700), y = uniform(-50, 900);
      static const std::array<const char *, 8> kTexts{"1",       "II",  "a)",      "m3",
                                                      "1.234,5", "Máy", "Đơn giá", "x"};
      w.push_back({kTexts[rng() % kTexts.size()], x, y, x + uniform(0, 80), y + uniform(0, 20),
                   uniform(-1, 30), rng() % 2 == 0});
    }
    Rules rules;
    const int segments = static_cast<int>(rng() % 60);
    for (int i = 0; i < segments; ++i) {
      const double a = uniform(-10, 700), b = a + uniform(0, 700);
      (rng() % 2 == 0 ? rules.horizontal : rules.vertical).push_back({uniform(-10, 900), a, b});
    }
    for (auto *list : {&rules.horizontal, &rules.vertical})
      std::sort(list->begin(), list->end(),
                [](const Segment &a, const Segment &b) { return a.pos < b.pos; });
    for (const Row &r : reader.read_page(page, w, rules)) {
      EXPECT_TRUE(is_row_number_for_test(r.stt)) << r.stt;
      EXPECT_LE(r.x0, r.x1);
      EXPECT_LE(r.y0, r.y1);
    }
    std::vector<std::uint8_t> junk(rng() % 300);
    for (std::uint8_t &b : junk)
      b = static_cast<std::uint8_t>(rng());
    LedgerReader restored;
    if (restored.restore_layout(junk))
      static_cast<void>(restored.read_page(page, w, rules));
  }
  // A page of stripes every 4 pixels both ways: hundreds of rules, thousands of runs.
  constexpr int kW = 1240, kH = 1754;
  std::vector<std::uint8_t> stripes(static_cast<std::size_t>(kW) * kH, 255);
  for (int y = 0; y < kH; ++y)
    for (int x = 0; x < kW; ++x)
      if (y % 4 == 0 || x % 4 == 0)
        stripes[static_cast<std::size_t>(y) * kW + static_cast<std::size_t>(x)] = 0;
  const Rules dense = find_rules(stripes.data(), stripes.size(), kW, kH, kW, 1, 150);
  std::vector<Word> w;
  header(w, 40, true);
  for (int i = 0; i < 5000; ++i)
    row(w, 52 + i * 0.15, std::to_string(i + 1), "Đào", "1", "2", "2");
  static_cast<void>(LedgerReader().read_page(0, w, dense));
}

} // namespace
} // namespace extraction

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The ruling lines of a rendered page: where a table draws its rows and columns. The workers
// render each page that holds a table anyway (for the evidence crops); ledger.hpp reads the
// rows from these rules where they exist, because text alignment alone cannot tell where a
// ruled row begins (a centred cell's first line sits above its row number).
#pragma once

// Method: a rule is a long, thin run of dark pixels. Each pixel's darkness is summed with its
// neighbour across the run (the next pixel row for a horizontal rule, the next column for a
// vertical one), so that a line thinner than a pixel, which anti-aliasing spreads over two
// pixels, still counts in full. Runs of 20 pt (horizontal) or 14 pt (vertical) and longer
// survive; glyph strokes are shorter. Runs of neighbouring pixel rows that overlap are one
// rule, placed at the centre of the rows it covers; a stack thicker than 3 pt is a filled box
// or a bar, not a rule, and is dropped. Vertical runs shorter than 36 pt count only when an end
// meets a horizontal rule (a one-row table's column rules), so big glyphs do not.
//
// The bitmap is untrusted in the sense that its size comes from the page: every dimension is
// checked against the buffer the caller passes; nothing is read outside it.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace extraction {

/// A ruling line, in points (top-left origin, y down): at `pos` (y for a horizontal rule, x for
/// a vertical one), from `from` to `to` along it.
struct Segment {
  double pos = 0, from = 0, to = 0;
};

/// The rules of one page, each list sorted by `pos`.
struct Rules {
  std::vector<Segment> horizontal, vertical;
  [[nodiscard]] bool empty() const noexcept { return horizontal.empty() && vertical.empty(); }
};

namespace detail {

inline constexpr double kMinHorizontalPt = 20; // longer than any glyph stroke of body text
inline constexpr double kMinVerticalPt = 14;   // a one-line ruled row is about 18 pt tall
inline constexpr double kLoneVerticalPt = 36;  // a vertical run this long needs no crossing
inline constexpr double kMaxThicknessPt = 3;   // thicker: a filled box, not a rule
inline constexpr int kInk = 128; // darkness (0..255) of a pixel pair: a quarter-point rule at
                                 // 150 dpi gives about 160, a light cell shading about 50

struct Run {
  int line, from, to; // pixel line (row or column) and [from, to) along it
};

/// Runs of ink along each line of `dark` (lines x length, row-major) at least `min_length` long,
/// where a pixel is ink when it and its neighbour on the next line sum to kInk or more.
[[nodiscard]] inline std::vector<Run> ink_runs(const std::vector<std::uint8_t> &dark, int lines,
                                               int length, int min_length) {
  std::vector<Run> runs;
  for (int line = 0; line + 1 < lines; ++line) {
    const std::uint8_t *a =
        dark.data() + static_cast<std::size_t>(line) * static_cast<std::size_t>(length);
    const std::uint8_t *b = a + length;
    int start = -1;
    for (int i = 0; i <= length; ++i) {
      const bool ink = i < length && a[i] + b[i] >= kInk;
      if (ink && start < 0)
        start = i;
      else if (!ink && start >= 0) {
        if (i - start >= min_length)
          runs.push_back({line, start, i});
        start = -1;
      }
    }
  }
  return runs;
}

/// Runs on neighbouring lines that overlap by half the shorter one, merged into segments in
/// points; stacks thicker than kMaxThicknessPt dropped. `runs` come line by line, each line's
/// left to right (as ink_runs() gives them): one sweep over each pair of neighbouring lines
/// joins them, so a hostile page of stripes costs linear time, not quadratic.
[[nodiscard]] inline std::vector<Segment> merge_runs(const std::vector<Run> &runs,
                                                     double pt_per_px) {
  std::vector<std::size_t> parent(runs.size());
  for (std::size_t i = 0; i < parent.size(); ++i)
    parent[i] = i;
  const auto root = [&parent](std::size_t i) {
    while (parent[i] != i)
      i = parent[i] = parent[parent[i]];
    return i;
  };
  // [line_begin, line_end) of the previous line's runs and of this one's.
  std::size_t previous_begin = 0, previous_end = 0;
  for (std::size_t begin = 0; begin < runs.size();) {
    std::size_t end = begin;
    while (end < runs.size() && runs[end].line == runs[begin].line)
      ++end;
    if (previous_end > previous_begin && runs[previous_begin].line + 1 == runs[begin].line) {
      for (std::size_t a = previous_begin, b = begin; a < previous_end && b < end;) {
        const Run &x = runs[a], &y = runs[b];
        const int overlap = std::min(x.to, y.to) - std::max(x.from, y.from);
        if (overlap * 2 >= std::min(x.to - x.from, y.to - y.from))
          parent[root(a)] = root(b);
        if (x.to < y.to)
          ++a;
        else
          ++b;
      }
    }
    previous_begin = begin;
    previous_end = end;
    begin = end;
  }
  struct Stack {
    int first, last, from, to;
  };
  std::vector<Stack> stacks(runs.size(), Stack{-1, -1, 0, 0});
  for (std::size_t i = 0; i < runs.size(); ++i) {
    Stack &s = stacks[root(i)];
    const Run &r = runs[i];
    if (s.first < 0)
      s = {r.line, r.line, r.from, r.to};
    s = {std::min(s.first, r.line), std::max(s.last, r.line), std::min(s.from, r.from),
         std::max(s.to, r.to)};
  }
  std::vector<Segment> out;
  for (const Stack &s : stacks) {
    // A pair line k covers pixel lines k and k+1: the stack covers [first, last + 2).
    if (s.first < 0 || (s.last - s.first + 1) * pt_per_px > kMaxThicknessPt)
      continue;
    out.push_back({(s.first + s.last + 2) / 2.0 * pt_per_px, s.from * pt_per_px, s.to * pt_per_px});
  }
  std::sort(out.begin(), out.end(), [](const Segment &a, const Segment &b) {
    return a.pos != b.pos ? a.pos < b.pos : a.from < b.from;
  });
  return out;
}

} // namespace detail

/// The rules of a rendered page: `pixels` holds `height` rows of `width` pixels, `stride` bytes
/// apart, `channels` bytes a pixel (1 gray, 3 RGB, 4 RGBA or BGRA: the first three are taken
/// as colour, any order), `bytes` in all, rendered at `dpi`. Empty when the sizes do not fit
/// the buffer or make no sense.
[[nodiscard]] inline Rules find_rules(const std::uint8_t *pixels, std::size_t bytes, int width,
                                      int height, std::size_t stride, int channels, double dpi) {
  Rules rules;
  if (pixels == nullptr || width < 2 || height < 2 ||
      (channels != 1 && channels != 3 && channels != 4) || !(dpi >= 18 && dpi <= 2400))
    return rules;
  const auto row_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  if (stride < row_bytes || static_cast<std::size_t>(height - 1) * stride + row_bytes > bytes)
    return rules;
  const auto w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
  // Darkness twice: row-major for horizontal runs, column-major for vertical ones, so both
  // scans read memory in order.
  std::vector<std::uint8_t> rows(w * h), columns(w * h);
  for (std::size_t y = 0; y < h; ++y) {
    const std::uint8_t *p = pixels + y * stride;
    for (std::size_t x = 0; x < w; ++x, p += static_cast<std::size_t>(channels)) {
      // The darkest channel: a coloured rule is as much a rule as a black one.
      const int light = channels == 1 ? p[0] : std::min({p[0], p[1], p[2]});
      const auto dark = static_cast<std::uint8_t>(255 - light);
      rows[y * w + x] = dark;
      columns[x * h + y] = dark;
    }
  }
  const double pt_per_px = 72.0 / dpi;
  const auto px = [&](double pt) {
    return std::max(2, static_cast<int>(std::ceil(pt / pt_per_px)));
  };
  rules.horizontal = detail::merge_runs(
      detail::ink_runs(rows, height, width, px(detail::kMinHorizontalPt)), pt_per_px);
  std::vector<Segment> vertical = detail::merge_runs(
      detail::ink_runs(columns, width, height, px(detail::kMinVerticalPt)), pt_per_px);
  const double near = 2 * pt_per_px + 1; // points: an end that meets a horizontal rule
  for (const Segment &v : vertical) {
    bool meets = v.to - v.from >= detail::kLoneVerticalPt;
    for (const Segment &hr : rules.horizontal) {
      if (meets)
        break;
      const bool across = hr.from - near <= v.pos && v.pos <= hr.to + near;
      meets = across && hr.pos >= v.from - near && hr.pos <= v.to + near;
    }
    if (meets)
      rules.vertical.push_back(v);
  }
  return rules;
}

} // namespace extraction

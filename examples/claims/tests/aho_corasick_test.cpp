// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of the reference matcher (aho_corasick.hpp) against a naive matcher that tries every
// pattern at every position: hand-written cases (overlaps, nesting, whole text, edges,
// duplicates, NUL/0xFF bytes, UTF-8) and randomized dictionaries and texts with fixed seeds.
#include "aho_corasick.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace claims::reference {
namespace {

using namespace std::string_literals;

// O(patterns x text) occurrences, sorted like all_claims().
std::vector<Claim> naive_claims(const std::vector<std::string> &patterns,
                                const std::vector<std::string> &docs) {
  std::vector<Claim> claims;
  for (std::size_t doc = 0; doc < docs.size(); ++doc) {
    const std::string_view text = docs[doc];
    for (std::size_t id = 0; id < patterns.size(); ++id) {
      for (std::size_t at = text.find(patterns[id]); at != std::string_view::npos;
           at = text.find(patterns[id], at + 1)) {
        claims.push_back(Claim{doc, at, patterns[id].size(), static_cast<std::uint32_t>(id)});
      }
    }
  }
  std::sort(claims.begin(), claims.end());
  return claims;
}

// The automaton's matches in one text, as doc 0 claims, sorted.
std::vector<Claim> matches(const std::vector<std::string> &patterns, std::string_view text) {
  const AhoCorasick automaton(patterns);
  std::vector<Claim> claims;
  automaton.for_each_match(text, [&](std::uint32_t id, std::size_t offset, std::size_t length) {
    claims.push_back(Claim{0, offset, length, id});
  });
  std::sort(claims.begin(), claims.end());
  return claims;
}

// Claims in one document 0, given as (pattern, offset, length).
std::vector<Claim> expected(std::vector<Claim> claims) {
  std::sort(claims.begin(), claims.end());
  return claims;
}

Claim at(std::uint32_t pattern_id, std::uint64_t offset, std::uint64_t length) {
  return Claim{0, offset, length, pattern_id};
}

void expect_like_naive(const std::vector<std::string> &patterns, const std::string &text) {
  EXPECT_EQ(matches(patterns, text), naive_claims(patterns, {text}));
}

TEST(AhoCorasick, OverlappingMatches) {
  const std::vector<std::string> patterns{"abc", "bc", "aaa"};
  EXPECT_EQ(matches(patterns, "abcaaaa"),
            expected({at(0, 0, 3), at(1, 1, 2), at(2, 3, 3), at(2, 4, 3)}));
  expect_like_naive(patterns, "abcaaaa");
}

TEST(AhoCorasick, NestedPatterns) {
  const std::vector<std::string> patterns{"he", "she", "his", "hers", "e", "s", "ushers"};
  EXPECT_EQ(matches(patterns, "ushers"),
            expected({at(5, 1, 1), at(1, 1, 3), at(0, 2, 2), at(4, 3, 1), at(3, 2, 4), at(6, 0, 6),
                      at(5, 5, 1)}));
  expect_like_naive(patterns, "ushers");
  expect_like_naive(patterns, "she said his hershey hers ushers");
}

TEST(AhoCorasick, PatternIsWholeText) {
  EXPECT_EQ(matches({"needle"}, "needle"), expected({at(0, 0, 6)}));
  EXPECT_EQ(matches({"x", "needle", "needles"}, "needle"), expected({at(1, 0, 6)}));
  EXPECT_TRUE(matches({"needle"}, "needl").empty());
  EXPECT_TRUE(matches({"needle"}, "").empty());
}

TEST(AhoCorasick, MatchesAtStartAndEnd) {
  const std::vector<std::string> patterns{"ab", "yz", "a", "z"};
  EXPECT_EQ(matches(patterns, "abmnyz"),
            expected({at(2, 0, 1), at(0, 0, 2), at(1, 4, 2), at(3, 5, 1)}));
}

TEST(AhoCorasick, DuplicatePatternsEachReport) {
  const std::vector<std::string> patterns{"cat", "dog", "cat", "at", "cat"};
  EXPECT_EQ(matches(patterns, "a cat"),
            expected({at(0, 2, 3), at(2, 2, 3), at(4, 2, 3), at(3, 3, 2)}));
  expect_like_naive(patterns, "catcatdogcat");
}

TEST(AhoCorasick, NulCarriageReturnAndHighBytes) {
  const std::vector<std::string> patterns{"\0"s, "a\0b"s, "\xff"s, "\xff\xff"s, "\r\n"s, "\x80\0"s};
  const std::string text = "a\0b\xff\xff\xff\r\n\x80\0\0"s;
  EXPECT_EQ(matches(patterns, text),
            expected({at(0, 1, 1), at(1, 0, 3), at(2, 3, 1), at(2, 4, 1), at(2, 5, 1), at(3, 3, 2),
                      at(3, 4, 2), at(4, 6, 2), at(5, 8, 2), at(0, 9, 1), at(0, 10, 1)}));
  expect_like_naive(patterns, text);
}

TEST(AhoCorasick, Utf8MultiByteText) {
  // "日本語 café naïve": 日 本 語 are 3 bytes each, é and ï 2 bytes.
  const std::vector<std::string> patterns{"日本", "本語", "café", "é", "naïve", "\xa9"};
  const std::string text = "日本語 café naïve";
  EXPECT_EQ(matches(patterns, text), expected({at(0, 0, 6), at(1, 3, 6), at(2, 10, 5), at(3, 13, 2),
                                               at(5, 14, 1), at(4, 16, 6)}));
  expect_like_naive(patterns, text);
}

TEST(AhoCorasick, EmptyPatternThrowsNamingIndex) {
  try {
    const AhoCorasick automaton({"a", "b", "", "c"});
    FAIL() << "no exception";
  } catch (const std::invalid_argument &e) {
    EXPECT_NE(std::string(e.what()).find("pattern 2 "), std::string::npos) << e.what();
  }
  EXPECT_THROW(all_claims({""}, {"text"}), std::invalid_argument);
}

TEST(AhoCorasick, NoPatterns) {
  const AhoCorasick automaton({});
  EXPECT_EQ(automaton.states(), 1U);
  EXPECT_TRUE(matches({}, "anything").empty());
}

TEST(AhoCorasick, StateCountIsTrieSize) {
  // root, a, ab, abc, b, bc, aa, aaa; duplicates add nothing.
  EXPECT_EQ(AhoCorasick({"abc", "bc", "aaa"}).states(), 8U);
  EXPECT_EQ(AhoCorasick({"abc", "bc", "aaa", "abc", "ab"}).states(), 8U);
}

TEST(AllClaims, SortedByDocOffsetLengthPattern) {
  const std::vector<std::string> patterns{"bc", "abc", "b", "abc"};
  const std::vector<std::string> docs{"xabc", "", "bcb"};
  const std::vector<Claim> claims = all_claims(patterns, docs);
  const std::vector<Claim> want{
      {0, 1, 3, 1}, {0, 1, 3, 3}, {0, 2, 1, 2}, {0, 2, 2, 0},
      {2, 0, 1, 2}, {2, 0, 2, 0}, {2, 2, 1, 2},
  };
  EXPECT_EQ(claims, want);
  EXPECT_EQ(claims, naive_claims(patterns, docs));
}

TEST(AllClaims, TsvColumnsAreDocPatternOffsetLength) {
  const std::vector<Claim> claims{{0, 1, 3, 7}, {12, 0, 2, 4294967295U}};
  EXPECT_EQ(to_tsv(claims), "0\t7\t1\t3\n12\t4294967295\t0\t2\n");
  EXPECT_EQ(to_tsv({}), "");
}

std::string random_string(std::mt19937 &rng, std::string_view alphabet, std::size_t min_length,
                          std::size_t max_length) {
  std::uniform_int_distribution<std::size_t> length(min_length, max_length);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string s(length(rng), '\0');
  for (char &c : s) {
    c = alphabet[pick(rng)];
  }
  return s;
}

std::string all_bytes() {
  std::string bytes;
  for (int b = 0; b < 256; ++b) {
    bytes += static_cast<char>(b);
  }
  return bytes;
}

// Random dictionaries over alphabet (some patterns cut out of the texts, so that long ones
// match too) against random texts, compared with the naive matcher.
void random_rounds(std::uint32_t seed, std::string_view alphabet, std::size_t max_pattern,
                   std::size_t rounds) {
  std::mt19937 rng(seed);
  for (std::size_t round = 0; round < rounds; ++round) {
    std::vector<std::string> docs;
    for (int d = 0; d < 8; ++d) {
      docs.push_back(random_string(rng, alphabet, 0, 300));
    }
    std::vector<std::string> patterns;
    for (int p = 0; p < 60; ++p) {
      patterns.push_back(random_string(rng, alphabet, 1, max_pattern));
    }
    for (int p = 0; p < 20; ++p) {
      const std::string &doc = docs[rng() % docs.size()];
      if (doc.empty()) {
        continue;
      }
      const std::size_t start = rng() % doc.size();
      const std::size_t length = 1 + rng() % std::min<std::size_t>(40, doc.size() - start);
      patterns.push_back(doc.substr(start, length));
    }
    patterns.push_back(patterns.front()); // a duplicate
    ASSERT_EQ(all_claims(patterns, docs), naive_claims(patterns, docs))
        << "seed " << seed << " round " << round;
  }
}

TEST(AhoCorasickRandom, TwoLetterAlphabet) {
  random_rounds(1, "ab", 12, 40);
  random_rounds(2, "ab", 3, 40);
}

TEST(AhoCorasickRandom, FourLetterAlphabet) { random_rounds(3, "acgt", 8, 40); }

TEST(AhoCorasickRandom, NulAndNewlineAlphabet) { random_rounds(4, "\0\n\r\xff"s, 6, 40); }

TEST(AhoCorasickRandom, AllBytes) {
  random_rounds(5, all_bytes(), 4, 40);
  random_rounds(6, all_bytes(), 1, 10);
}

} // namespace
} // namespace claims::reference

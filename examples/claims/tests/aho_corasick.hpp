// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// A plain Aho-Corasick automaton over bytes: the reference matcher the claim-scanning tests
// use to cross-check Hyperscan. It shares no code and no idea with the program under test, so
// when both agree on every (document, pattern, offset, length) we can believe both. Clarity
// beats speed here; it only has to build a dictionary of ~100k phrases in well under a second.
#pragma once

// The automaton: a trie of the patterns (state 0 is the root), each state's edges kept as a
// vector sorted by byte; failure links (longest proper suffix of the state's string that is
// also a trie state) computed breadth first; and output links (the nearest state along the
// failure chain that ends a pattern), so that reporting costs O(number of matches) rather
// than a walk of the whole failure chain at every byte.

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace claims::reference {

class AhoCorasick {
public:
  // Pattern i gets id i. Every pattern must be non-empty; equal patterns at several ids each
  // report. Throws std::invalid_argument naming the first empty pattern.
  explicit AhoCorasick(const std::vector<std::string> &patterns) {
    if (patterns.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw std::invalid_argument("claims::reference::AhoCorasick: too many patterns");
    }
    states_.emplace_back(); // the root
    lengths_.reserve(patterns.size());
    for (std::size_t id = 0; id < patterns.size(); ++id) {
      const std::string &pattern = patterns[id];
      if (pattern.empty()) {
        throw std::invalid_argument("claims::reference::AhoCorasick: pattern " +
                                    std::to_string(id) + " is empty");
      }
      add_pattern(pattern, static_cast<std::uint32_t>(id));
    }
    link_states();
  }

  // Calls on_match(pattern_id, offset, length) for every occurrence of every pattern in text,
  // overlapping and nested ones included; offset is the byte offset of the occurrence's first
  // byte. Occurrences are reported in order of their end; among those ending at the same
  // byte, longest first.
  template <class F> void for_each_match(std::string_view text, F &&on_match) const {
    std::uint32_t state = kRoot;
    for (std::size_t end = 0; end < text.size(); ++end) {
      state = next_state(state, static_cast<unsigned char>(text[end]));
      std::uint32_t out = states_[state].pattern_ids.empty() ? states_[state].output_link : state;
      while (out != kNone) {
        for (const std::uint32_t id : states_[out].pattern_ids) {
          const std::size_t length = lengths_[id];
          on_match(id, end + 1 - length, length);
        }
        out = states_[out].output_link;
      }
    }
  }

  // Number of trie states, the root included.
  std::size_t states() const noexcept { return states_.size(); }

private:
  static constexpr std::uint32_t kRoot = 0;
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  struct Edge {
    unsigned char byte;
    std::uint32_t child;
  };

  struct State {
    std::vector<Edge> edges;                // sorted by byte
    std::uint32_t fail = kRoot;             // longest proper suffix that is a state
    std::uint32_t output_link = kNone;      // nearest state on the fail chain ending a pattern
    std::vector<std::uint32_t> pattern_ids; // patterns that end exactly here
  };

  // The child of state on byte, or kNone.
  std::uint32_t child(std::uint32_t state, unsigned char byte) const {
    const std::vector<Edge> &edges = states_[state].edges;
    const auto it = std::lower_bound(edges.begin(), edges.end(), byte,
                                     [](const Edge &e, unsigned char b) { return e.byte < b; });
    return (it != edges.end() && it->byte == byte) ? it->child : kNone;
  }

  // The goto function completed by failure links: follow fail until some state has an edge on
  // byte; the root loops to itself.
  std::uint32_t next_state(std::uint32_t state, unsigned char byte) const {
    for (;;) {
      const std::uint32_t next = child(state, byte);
      if (next != kNone) {
        return next;
      }
      if (state == kRoot) {
        return kRoot;
      }
      state = states_[state].fail;
    }
  }

  void add_pattern(const std::string &pattern, std::uint32_t id) {
    std::uint32_t state = kRoot;
    for (const char c : pattern) {
      const auto byte = static_cast<unsigned char>(c);
      std::uint32_t next = child(state, byte);
      if (next == kNone) {
        if (states_.size() >= kNone) {
          throw std::length_error("claims::reference::AhoCorasick: too many states");
        }
        next = static_cast<std::uint32_t>(states_.size());
        std::vector<Edge> &edges = states_[state].edges;
        const auto at = std::lower_bound(edges.begin(), edges.end(), byte,
                                         [](const Edge &e, unsigned char b) { return e.byte < b; });
        edges.insert(at, Edge{byte, next});
        states_.emplace_back(); // invalidates `edges`; not used again
      }
      state = next;
    }
    states_[state].pattern_ids.push_back(id);
    lengths_.push_back(pattern.size());
  }

  // Failure and output links, breadth first so that every state's links are known before its
  // children's are computed.
  void link_states() {
    std::vector<std::uint32_t> queue;
    queue.reserve(states_.size());
    for (const Edge &e : states_[kRoot].edges) {
      queue.push_back(e.child); // depth 1: fail to the root, which ends no pattern
    }
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const std::uint32_t parent = queue[head];
      for (const Edge &e : states_[parent].edges) {
        const std::uint32_t node = e.child;
        std::uint32_t fail = states_[parent].fail;
        while (fail != kRoot && child(fail, e.byte) == kNone) {
          fail = states_[fail].fail;
        }
        const std::uint32_t target = child(fail, e.byte);
        states_[node].fail = target == kNone ? kRoot : target;
        const State &suffix = states_[states_[node].fail];
        states_[node].output_link =
            suffix.pattern_ids.empty() ? suffix.output_link : states_[node].fail;
        queue.push_back(node);
      }
    }
  }

  std::vector<State> states_;
  std::vector<std::size_t> lengths_; // by pattern id
};

// One occurrence of a pattern in a document. Members are declared in sort order: by
// document, then offset, then length, then pattern.
struct Claim {
  std::uint64_t doc_id;
  std::uint64_t offset;
  std::uint64_t length;
  std::uint32_t pattern_id;
  auto operator<=>(const Claim &) const = default;
};

// Every occurrence of every pattern in every document (document i has id i), sorted.
inline std::vector<Claim> all_claims(const std::vector<std::string> &patterns,
                                     const std::vector<std::string> &docs) {
  const AhoCorasick automaton(patterns);
  std::vector<Claim> claims;
  for (std::size_t doc = 0; doc < docs.size(); ++doc) {
    automaton.for_each_match(docs[doc],
                             [&](std::uint32_t pattern_id, std::size_t offset, std::size_t length) {
                               claims.push_back(Claim{doc, offset, length, pattern_id});
                             });
  }
  std::sort(claims.begin(), claims.end());
  return claims;
}

// The claims as claim_scan writes them: one line "doc_id\tpattern_id\toffset\tlength\n" each,
// in the order given.
inline std::string to_tsv(const std::vector<Claim> &claims) {
  std::string out;
  for (const Claim &c : claims) {
    out += std::to_string(c.doc_id);
    out += '\t';
    out += std::to_string(c.pattern_id);
    out += '\t';
    out += std::to_string(c.offset);
    out += '\t';
    out += std::to_string(c.length);
    out += '\n';
  }
  return out;
}

} // namespace claims::reference

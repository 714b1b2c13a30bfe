// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The requests a core awaits, with their deadlines: every call costs the same whether 1 or
// 100,000 requests are in flight.
#pragma once

// Design: a hash map from request id to deadline answers "is it pending?" and settles a
// response in O(1). Deadlines live in a binary min-heap beside it; a request that completes
// stays in the heap ("lazy deletion") and is dropped when it reaches the top, so completing
// costs nothing there. Stale entries are bounded: when they outnumber the live ones (and a
// few dozen), the heap is rebuilt from the map, O(live) once per O(live) completions. A
// request without a deadline never enters the heap, so a core that uses none pays no clock
// read and no heap work at all.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <shmpipe/wait.hpp>

namespace shmpipe::detail {

class RequestTable {
public:
  /// Request `id` (new) is awaited until `deadline` (none, or Deadline::max(): forever).
  void add(std::uint64_t id, std::optional<Deadline> deadline) {
    pending_.emplace(id, deadline.value_or(Deadline::max()));
    // Deadline::max() is stored as "none", so erase() cannot tell it from none: it must not
    // be counted in with_deadline_ either, or the heap's bound grows with each one.
    if (deadline && *deadline != Deadline::max()) {
      heap_.emplace_back(*deadline, id);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
      ++with_deadline_;
    }
  }

  [[nodiscard]] bool contains(std::uint64_t id) const noexcept { return pending_.contains(id); }

  /// Forgets `id` (its final response came, or it needs none); false if it was not pending.
  bool erase(std::uint64_t id) noexcept {
    const auto it = pending_.find(id);
    if (it == pending_.end())
      return false;
    if (it->second != Deadline::max())
      --with_deadline_;
    pending_.erase(it);
    return true;
  }

  [[nodiscard]] std::size_t size() const noexcept { return pending_.size(); }

  /// The earliest deadline of a pending request; Deadline::max() when none has one.
  [[nodiscard]] Deadline earliest() noexcept {
    drop_stale_top();
    return heap_.empty() ? Deadline::max() : heap_.front().first;
  }

  /// A pending request whose deadline is at or before `now`, forgotten as it is returned.
  [[nodiscard]] std::optional<std::uint64_t> take_expired(Deadline now) noexcept {
    drop_stale_top();
    if (heap_.empty() || heap_.front().first > now)
      return std::nullopt;
    const std::uint64_t id = heap_.front().second;
    pop_top();
    erase(id);
    return id;
  }

private:
  using Entry = std::pair<Deadline, std::uint64_t>;

  [[nodiscard]] bool stale(const Entry &entry) const noexcept {
    const auto it = pending_.find(entry.second);
    return it == pending_.end() || it->second != entry.first;
  }

  void pop_top() noexcept {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    heap_.pop_back();
  }

  void drop_stale_top() noexcept {
    if (heap_.size() > 2 * with_deadline_ + 64) {
      // Mostly completed requests: keep the live ones (no allocation, the vector shrinks).
      std::erase_if(heap_, [this](const Entry &entry) { return stale(entry); });
      std::make_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
    while (!heap_.empty() && stale(heap_.front()))
      pop_top();
  }

  std::unordered_map<std::uint64_t, Deadline> pending_; // id -> deadline (max: none)
  std::vector<Entry> heap_;                             // min-heap by deadline; may hold stale ids
  std::size_t with_deadline_ = 0;                       // pending requests that have one
};

} // namespace shmpipe::detail

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of detail/request_table.hpp: what Core::receive() asks of its pending requests, with
// deadlines in any order, requests that complete before their deadline, and none at all.
#include <shmpipe/detail/request_table.hpp>

#include <chrono>
#include <map>
#include <random>
#include <set>

#include <malloc.h>

#include <gtest/gtest.h>

namespace shmpipe::detail {
namespace {

using namespace std::chrono_literals;

TEST(RequestTableTest, NoDeadlineMeansNoExpiry) {
  RequestTable table;
  table.add(1, std::nullopt);
  table.add(2, std::nullopt);
  EXPECT_EQ(table.earliest(), Deadline::max());
  EXPECT_EQ(table.take_expired(Deadline::max()), std::nullopt);
  EXPECT_TRUE(table.erase(1));
  EXPECT_FALSE(table.erase(1));
  EXPECT_EQ(table.size(), 1u);
}

TEST(RequestTableTest, ExpiresInDeadlineOrderAndSkipsCompletedRequests) {
  RequestTable table;
  const Deadline t0{};
  table.add(1, t0 + 30ms);
  table.add(2, t0 + 10ms);
  table.add(3, std::nullopt);
  table.add(4, t0 + 20ms);
  EXPECT_EQ(table.earliest(), t0 + 10ms);
  EXPECT_TRUE(table.erase(2)); // answered in time: never reported
  EXPECT_EQ(table.earliest(), t0 + 20ms);
  EXPECT_EQ(table.take_expired(t0 + 19ms), std::nullopt);
  EXPECT_EQ(table.take_expired(t0 + 40ms), 4u);
  EXPECT_EQ(table.take_expired(t0 + 40ms), 1u);
  EXPECT_EQ(table.take_expired(t0 + 40ms), std::nullopt);
  EXPECT_FALSE(table.contains(1));
  EXPECT_TRUE(table.contains(3));
  EXPECT_EQ(table.size(), 1u);
}

// A deadline of Deadline::max() is no deadline: requests that carry it and complete leave
// nothing behind, whatever else is pending (one request here keeps a live heap top).
TEST(RequestTableTest, CompletedRequestsWithTheLatestDeadlineDoNotAccumulate) {
  RequestTable table;
  const Deadline t0{};
  table.add(0, t0 + 1h);
  const auto in_use = [] {
    const struct mallinfo2 m = ::mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  const std::size_t before = in_use();
  for (std::uint64_t id = 1; id <= 1000000; ++id) {
    table.add(id, Deadline::max());
    ASSERT_TRUE(table.erase(id));
    ASSERT_EQ(table.earliest(), t0 + 1h);
  }
  const std::size_t after = in_use();
  EXPECT_LT(after > before ? after - before : 0, std::size_t{1} << 20) << "bytes kept";
  EXPECT_EQ(table.size(), 1u);
}

// Against a plain model, in random order: each expiry is the pending request with the
// earliest deadline (ties by either), each reported once, none after it completed.
TEST(RequestTableTest, MatchesAModelUnderRandomOperations) {
  std::mt19937_64 random(7);
  RequestTable table;
  std::set<std::pair<Deadline, std::uint64_t>> model; // only requests with a deadline
  std::map<std::uint64_t, Deadline> deadline_of;      // of the entries in `model`
  std::set<std::uint64_t> pending;
  const Deadline t0{};
  std::uint64_t next_id = 1;
  Deadline now = t0;
  for (int step = 0; step < 200000; ++step) {
    const unsigned op = static_cast<unsigned>(random() % 10);
    if (op < 5) {
      const std::uint64_t id = next_id++;
      pending.insert(id);
      if (random() % 4 != 0) {
        const Deadline d = now + std::chrono::microseconds(random() % 5000);
        table.add(id, d);
        model.emplace(d, id);
        deadline_of.emplace(id, d);
      } else {
        table.add(id, std::nullopt);
      }
    } else if (op < 8 && !pending.empty()) {
      auto pick = pending.lower_bound(1 + random() % next_id);
      const std::uint64_t id = pick != pending.end() ? *pick : *pending.begin();
      ASSERT_TRUE(table.erase(id));
      pending.erase(id);
      if (const auto d = deadline_of.find(id); d != deadline_of.end()) {
        model.erase({d->second, id});
        deadline_of.erase(d);
      }
    } else {
      now += std::chrono::microseconds(random() % 300);
      const std::optional<std::uint64_t> got = table.take_expired(now);
      if (model.empty() || model.begin()->first > now) {
        ASSERT_EQ(got, std::nullopt) << "step " << step;
      } else {
        ASSERT_TRUE(got.has_value()) << "step " << step;
        const auto d = deadline_of.find(*got);
        ASSERT_NE(d, deadline_of.end());
        ASSERT_EQ(d->second, model.begin()->first); // an earliest one
        model.erase({d->second, *got});
        deadline_of.erase(d);
        pending.erase(*got);
      }
    }
    ASSERT_EQ(table.size(), pending.size());
    ASSERT_EQ(table.earliest(), model.empty() ? Deadline::max() : model.begin()->first);
  }
}

} // namespace
} // namespace shmpipe::detail

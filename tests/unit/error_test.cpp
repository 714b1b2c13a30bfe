// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of error.hpp: the error category, Error's contents, Status names.
#include <shmpipe/error.hpp>

#include <cerrno>
#include <string>

#include <gtest/gtest.h>

namespace shmpipe {
namespace {

TEST(ErrorTest, CategoryAndStatusNames) {
  EXPECT_STREQ(error_category().name(), "shmpipe");
  EXPECT_EQ(make_error_code(Errc::role_taken).message(), "role already taken by a live process");
  EXPECT_EQ(to_string(Status::corrupt), "corrupt");
  EXPECT_EQ(to_string(Status::peer_dead), "peer_dead");
  const Error e(Errc::segment_missing, "abc", "open failed", ENOENT);
  EXPECT_EQ(e.native_error(), ENOENT);
  EXPECT_TRUE(e.code() == Errc::segment_missing);
  EXPECT_NE(std::string(e.what()).find("segment 'abc'"), std::string::npos);
}

TEST(ErrorTest, EveryStatusHasAName) {
  for (int s = 0; s <= static_cast<int>(Status::invalid_message); ++s)
    EXPECT_NE(to_string(static_cast<Status>(s)), "unknown") << s;
  EXPECT_EQ(to_string(static_cast<Status>(static_cast<int>(Status::invalid_message) + 1)),
            "unknown");
}

TEST(ErrorTest, EveryErrcHasAMessage) {
  for (int e = static_cast<int>(Errc::invalid_name); e <= static_cast<int>(Errc::in_use); ++e)
    EXPECT_NE(make_error_code(static_cast<Errc>(e)).message(), "unknown shmpipe error") << e;
}

} // namespace
} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Tests of the `shmpipe` command (examples/cli/shmpipe_cli.cpp), run as a program: help,
// ls (text and JSON), rm NAME, rm --stale, and hostile entries in /dev/shm. Every run has a
// time limit (`timeout`), so a command that blocks fails instead of hanging the suite, and
// every sweep is limited to this process's own names (--prefix).
#include <shmpipe/inspect.hpp>

#include <string>

#include <sys/stat.h>

#include <gtest/gtest.h>

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define SHMPIPE_HAVE_NLOHMANN_JSON 1
#endif

#include "../support/command.hpp"
#include "../support/shm_entries.hpp"
#include "../support/test_support.hpp"

#ifndef SHMPIPE_CLI
#error "SHMPIPE_CLI must name the shmpipe executable"
#endif

namespace shmpipe {
namespace {

using namespace std::chrono_literals;

std::string own_prefix() { return "shmpipe-test-" + std::to_string(::getpid()) + "-cli-"; }

/// Runs `shmpipe ARGS` with both output streams collected; status 124 means it hung.
test::CommandResult cli(const std::string &args) {
  return test::run_command("timeout 60 " SHMPIPE_CLI " " + args + " 2>&1");
}

/// Runs `shmpipe ARGS`, standard output only.
test::CommandResult cli_stdout(const std::string &args) {
  return test::run_command("timeout 60 " SHMPIPE_CLI " " + args + " 2>/dev/null");
}

bool has(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

constexpr std::uint64_t kSmall = 128 + 384 + 4096; // one 4 KiB ring

TEST(ShmpipeCliTest, HelpPrintsUsageWithDescriptionsToStdout) {
  for (const char *args : {"--help", "-h", "ls --help", "rm --help"}) {
    const test::CommandResult r = cli_stdout(args);
    EXPECT_EQ(r.status, 0) << args;
    for (const char *part : {"usage:", "shmpipe ls", "rm --stale", "--json", "--prefix", "--force",
                             "--dry-run", "remove every stale segment"})
      EXPECT_TRUE(has(r.output, part)) << args << ": no '" << part << "' in\n" << r.output;
  }
}

TEST(ShmpipeCliTest, BadUsageExitsTwoWithUsageOnStderr) {
  for (const char *args : {"", "frobnicate", "ls --frobnicate", "rm", "ls NAME", "rm --prefix"}) {
    const test::CommandResult out = cli_stdout(args);
    EXPECT_EQ(out.status, 2) << args;
    EXPECT_EQ(out.output, "") << args;
    EXPECT_TRUE(has(cli(args).output, "usage:")) << args;
  }
}

TEST(ShmpipeCliTest, LsJsonIsValidJsonWithEverySegment) {
  const std::string prefix = own_prefix() + "json-";
  ScopedRemove live_guard(prefix + "live");
  test::ShmEntry stale(prefix + "stale"), truncated(prefix + "truncated");
  Segment live = Segment::create(live_guard.name(), {.ring_capacity = 4096, .rings = 2});
  detail::SegmentHeader forged = test::valid_header(4096);
  forged.creator_pid = 0xffffffff; // a pid_t of -1
  ASSERT_TRUE(test::forge_segment(stale.name(), forged, kSmall));
  ASSERT_TRUE(test::forge_segment(truncated.name(), test::valid_header(4096), 200));
  const test::CommandResult r = cli_stdout("ls --json --prefix " + prefix);
  ASSERT_EQ(r.status, 0);
#ifdef SHMPIPE_HAVE_NLOHMANN_JSON
  const nlohmann::json doc = nlohmann::json::parse(r.output); // throws if it is not JSON
  const nlohmann::json &segments = doc.at("segments");
  ASSERT_EQ(segments.size(), 3u) << r.output;
  // In name order: live, stale, truncated.
  EXPECT_EQ(segments[0].at("name"), live_guard.name());
  EXPECT_EQ(segments[0].at("creator_pid"), ::getpid());
  EXPECT_EQ(segments[0].at("creator_alive"), true);
  EXPECT_EQ(segments[0].at("stale"), false);
  EXPECT_TRUE(segments[0].at("error").is_null());
  ASSERT_EQ(segments[0].at("rings").size(), 2u);
  EXPECT_EQ(segments[0].at("rings")[0].at("capacity"), 4096);
  EXPECT_EQ(segments[0].at("rings")[0].at("producer").at("pid"), 0);
  EXPECT_EQ(segments[1].at("name"), stale.name());
  EXPECT_EQ(segments[1].at("stale"), true);
  EXPECT_EQ(segments[1].at("creator_pid"), -1);
  EXPECT_EQ(segments[2].at("name"), truncated.name());
  EXPECT_TRUE(segments[2].at("error").is_string());
  EXPECT_EQ(segments[2].at("stale"), false);
  // Everything in /dev/shm, whatever other programs have there, is valid JSON too.
  const test::CommandResult all = cli_stdout("ls --json");
  EXPECT_EQ(all.status, 0);
  EXPECT_TRUE(nlohmann::json::accept(all.output)) << all.output;
#else
  const test::CommandResult check =
      test::run_command("timeout 60 " SHMPIPE_CLI " ls --json --prefix " + prefix +
                        " | python3 -m json.tool >/dev/null && echo valid");
  EXPECT_EQ(check.output, "valid\n");
#endif
}

// A FIFO (opening one for reading blocks until a writer comes), a socket, a symbolic link to a
// valid stale segment and a directory: ls and rm --stale skip them without blocking, and
// rm NAME leaves each alone, saying what it is.
TEST(ShmpipeCliTest, NeverBlocksOnOrRemovesEntriesThatAreNotRegularFiles) {
  const std::string prefix = own_prefix() + "odd-";
  test::ShmEntry fifo(prefix + "fifo"), dir(prefix + "dir"), link(prefix + "link"),
      sock(prefix + "sock");
  const std::string target = "/tmp/" + link.name() + "-target";
  ::unlink(target.c_str());
  ASSERT_EQ(::mkfifo(fifo.path().c_str(), 0666), 0);
  ASSERT_EQ(::mkdir(dir.path().c_str(), 0777), 0);
  ASSERT_TRUE(test::forge_file(target, test::valid_header(4096), kSmall));
  ASSERT_EQ(::symlink(target.c_str(), link.path().c_str()), 0);
  test::ShmSocket socket(sock.name());
  ASSERT_TRUE(socket.bound());

  const test::CommandResult ls = cli("ls --prefix " + prefix);
  EXPECT_EQ(ls.status, 0) << ls.output; // 124: it hung
  EXPECT_EQ(ls.output, "no shmpipe segments in /dev/shm\n");
  // Unfiltered too: the FIFO is in the directory everyone lists.
  EXPECT_EQ(cli_stdout("ls").status, 0);
  EXPECT_EQ(cli_stdout("ls --json").status, 0);
  const test::CommandResult sweep = cli("rm --stale --prefix " + prefix);
  EXPECT_EQ(sweep.status, 0);
  EXPECT_EQ(sweep.output, "");
  const std::pair<const test::ShmEntry *, const char *> cases[] = {{&fifo, "is a FIFO"},
                                                                   {&dir, "is a directory"},
                                                                   {&link, "is a symbolic link"},
                                                                   {&sock, "is a socket"}};
  for (const auto &[entry, kind] : cases) {
    const test::CommandResult rm = cli("rm --force " + entry->name());
    EXPECT_EQ(rm.status, 1) << entry->name();
    EXPECT_TRUE(has(rm.output, kind) && has(rm.output, "left alone")) << rm.output;
    EXPECT_TRUE(entry->exists()) << entry->name();
  }
  EXPECT_EQ(::access(target.c_str(), F_OK), 0);
  ::unlink(target.c_str());
}

// A forged header over a sparse 1 GiB object: ls, ls --json and a dry-run sweep leave its
// pages unallocated (before: every page was faulted in, filling a small /dev/shm).
TEST(ShmpipeCliTest, LsAllocatesNothingForASparseForgedSegment) {
  test::ShmEntry sparse(own_prefix() + "sparse");
  const std::uint64_t capacity = std::uint64_t{1} << 30;
  ASSERT_TRUE(
      test::forge_segment(sparse.name(), test::valid_header(capacity), 128 + 384 + capacity));
  const std::uint64_t before = sparse.blocks();
  ASSERT_LE(before, 64u);
  const test::CommandResult ls = cli_stdout("ls --prefix " + sparse.name());
  EXPECT_EQ(ls.status, 0);
  EXPECT_TRUE(has(ls.output, sparse.name() + ": 1.0 GiB") && has(ls.output, "[stale]"))
      << ls.output;
  EXPECT_EQ(cli_stdout("ls --json").status, 0);
  EXPECT_EQ(cli_stdout("rm --stale --dry-run --prefix " + sparse.name()).output,
            "would remove " + sparse.name() + "\n");
  EXPECT_EQ(sparse.blocks(), before);
}

TEST(ShmpipeCliTest, RmOfALiveSegmentAsksForForce) {
  ScopedRemove guard(own_prefix() + "live");
  Segment segment = Segment::create(guard.name(), {.ring_capacity = 4096});
  const test::CommandResult refused = cli("rm " + guard.name());
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(has(refused.output, "in use by creator pid " + std::to_string(::getpid())))
      << refused.output;
  EXPECT_TRUE(has(refused.output, "--force")) << refused.output;
  EXPECT_EQ(cli("rm --force --dry-run " + guard.name()).output,
            "would remove " + guard.name() + "\n");
  EXPECT_EQ(::access(test::shm_path(guard.name()).c_str(), F_OK), 0);
  const test::CommandResult forced = cli("rm --force " + guard.name());
  EXPECT_EQ(forced.status, 0);
  EXPECT_EQ(forced.output, "removed " + guard.name() + "\n");
  EXPECT_NE(::access(test::shm_path(guard.name()).c_str(), F_OK), 0);
}

TEST(ShmpipeCliTest, RmNosuchSaysNoSuchSegment) {
  const std::string name = own_prefix() + "nosuch";
  const test::CommandResult r = cli("rm " + name);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(has(r.output, "'" + name + "'") && has(r.output, "no such segment")) << r.output;
  EXPECT_EQ(cli_stdout("rm " + name).output, ""); // the message goes to stderr
  // One missing name does not stop the others.
  test::ShmEntry stale(own_prefix() + "stale-after-missing");
  ASSERT_TRUE(test::forge_segment(stale.name(), test::valid_header(4096), kSmall));
  const test::CommandResult both = cli_stdout("rm " + name + " " + stale.name());
  EXPECT_EQ(both.status, 1);
  EXPECT_EQ(both.output, "removed " + stale.name() + "\n");
  EXPECT_FALSE(stale.exists());
}

TEST(ShmpipeCliTest, RmStaleDryRunRemovesNothing) {
  const std::string prefix = own_prefix() + "sweep-";
  test::ShmEntry stale(prefix + "stale");
  ScopedRemove live_guard(prefix + "live");
  Segment live = Segment::create(live_guard.name(), {.ring_capacity = 4096});
  ASSERT_TRUE(test::forge_segment(stale.name(), test::valid_header(4096), kSmall));
  const test::CommandResult dry = cli("rm --stale --dry-run --prefix " + prefix);
  EXPECT_EQ(dry.status, 0);
  EXPECT_EQ(dry.output, "would remove " + stale.name() + "\n");
  EXPECT_TRUE(stale.exists());
  const test::CommandResult swept = cli("rm --stale --prefix " + prefix);
  EXPECT_EQ(swept.status, 0);
  EXPECT_EQ(swept.output, "removed " + stale.name() + "\n");
  EXPECT_FALSE(stale.exists());
  EXPECT_EQ(::access(test::shm_path(live_guard.name()).c_str(), F_OK), 0);
}

// Another program's object is never removed, even with --force; a segment whose size does not
// match its header, or whose header is not written yet, only with --force.
TEST(ShmpipeCliTest, RmLeavesForeignObjectsAndAsksForceForDamagedOnes) {
  test::ShmEntry foreign(own_prefix() + "foreign"), zeros(own_prefix() + "zeros"),
      truncated(own_prefix() + "truncated"), empty(own_prefix() + "empty");
  detail::SegmentHeader wrong = test::valid_header(4096);
  wrong.magic.store(0x1234, std::memory_order_relaxed);
  ASSERT_TRUE(test::forge_segment(foreign.name(), wrong, kSmall));
  detail::SegmentHeader none = test::valid_header(4096);
  none.magic.store(0, std::memory_order_relaxed);
  ASSERT_TRUE(test::forge_segment(zeros.name(), none, 50)); // too small to be one being created
  ASSERT_TRUE(test::forge_segment(truncated.name(), test::valid_header(4096), 600));
  ASSERT_TRUE(test::forge_segment(empty.name(), test::valid_header(4096), 0));
  for (const test::ShmEntry *e : {&foreign, &zeros}) {
    const test::CommandResult r = cli("rm --force " + e->name());
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.output, "not a shmpipe segment")) << r.output;
    EXPECT_TRUE(e->exists());
  }
  for (const test::ShmEntry *e : {&truncated, &empty}) {
    const test::CommandResult r = cli("rm " + e->name());
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(has(r.output, "--force removes it anyway")) << r.output;
    EXPECT_TRUE(e->exists());
    EXPECT_EQ(cli("rm --force " + e->name()).output, "removed " + e->name() + "\n");
    EXPECT_FALSE(e->exists());
  }
  const test::CommandResult ls = cli_stdout("ls --prefix " + own_prefix());
  EXPECT_EQ(ls.output, "no shmpipe segments in /dev/shm\n");
}

// Run as a user that may not read the segment (as root: a child that became nobody).
TEST(ShmpipeCliTest, PermissionErrorsSaySo) {
  const std::string prefix = own_prefix() + "locked";
  test::ShmEntry locked(prefix);
  const mode_t mode = ::geteuid() == 0 ? 0600 : 0000; // a non-root owner cannot read mode 000
  ASSERT_TRUE(test::forge_segment(locked.name(), test::valid_header(4096), kSmall, mode));
  const std::string stale_prefix = own_prefix() + "readable-stale";
  test::ShmEntry stale(stale_prefix);
  const bool readable_stale = ::geteuid() == 0; // a second user exists only for root's tests
  if (readable_stale) {
    ASSERT_TRUE(test::forge_segment(stale.name(), test::valid_header(4096), kSmall, 0644));
  }
  test::Child child([&] {
    if (!test::become_unprivileged() || ::access(SHMPIPE_CLI, X_OK) != 0)
      return 77;
    const test::CommandResult ls = cli("ls --prefix " + prefix);
    if (ls.status != 0 || !has(ls.output, locked.name() + ": unreadable") ||
        !has(ls.output, "permission denied")) {
      std::fprintf(stderr, "ls: %d %s\n", ls.status, ls.output.c_str());
      return 1;
    }
    const test::CommandResult rm = cli("rm --force " + locked.name());
    if (rm.status != 1 || !has(rm.output, "permission denied")) {
      std::fprintf(stderr, "rm: %d %s\n", rm.status, rm.output.c_str());
      return 2;
    }
    if (!cli("rm --stale --prefix " + prefix).output.empty())
      return 3;
    if (readable_stale) { // another user's, readable, stale: judged, but cannot be unlinked
      const test::CommandResult sweep = cli("rm --stale --prefix " + stale_prefix);
      if (sweep.status != 1 || !has(sweep.output, "permission denied")) {
        std::fprintf(stderr, "rm --stale: %d %s\n", sweep.status, sweep.output.c_str());
        return 4;
      }
    }
    return 0;
  });
  const int code = child.wait(120s);
  if (code == 77)
    GTEST_SKIP() << "cannot run the command as a user without access here (root without "
                    "setuid(nobody), or the build directory is not executable by nobody)";
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(locked.exists());
  EXPECT_EQ(stale.exists(), readable_stale);
}

} // namespace
} // namespace shmpipe

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// shm_census: what the test suite leaves in /dev/shm, and which of its processes outlive it.
// ctest runs `shm_census record FILE` before every other test (a FIXTURES_SETUP test) and
// `shm_census check FILE` after all of them (FIXTURES_CLEANUP); check fails naming each
// shmpipe segment that appeared meanwhile and is still there, and each process still running
// with this suite's marker in its environment (every test gets it: tests/dev_shm_fixture.cmake).
//
// A new segment whose creator is alive and is not one of the suite's processes belongs to
// another program running on the machine (another build's tests, say): it is reported but not
// counted. Entries are inspected without trusting them: opened O_NONBLOCK|O_NOFOLLOW (a FIFO or a
// symlink in /dev/shm must not block or redirect us), only regular files, a 128-byte pread.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMagic = 0x31455049504D4853; // "SHMPIPE1", docs/LAYOUT.md
constexpr const char *kMarkerVariable = "SHMPIPE_CTEST_RUN";

struct Entry {
  std::string name;
  std::uint64_t inode = 0;
  bool operator<(const Entry &o) const { return std::tie(name, inode) < std::tie(o.name, o.inode); }
};

struct Header {
  bool shmpipe = false; // the magic is there
  pid_t creator = 0;
  std::uint64_t creator_start = 0;
};

/// The first 128 bytes of /dev/shm/NAME, if it is a regular file; nullopt otherwise.
bool read_header(const std::string &name, Header &header, std::uint64_t &inode) {
  const int fd =
      ::open(("/dev/shm/" + name).c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return false;
  struct stat st {};
  unsigned char bytes[128] = {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const ssize_t n = regular ? ::pread(fd, bytes, sizeof bytes, 0) : -1;
  ::close(fd);
  if (!regular)
    return false;
  inode = st.st_ino;
  if (n == static_cast<ssize_t>(sizeof bytes)) {
    std::uint64_t magic = 0;
    std::uint32_t pid = 0;
    std::memcpy(&magic, bytes, 8);
    std::memcpy(&pid, bytes + 64, 4);
    std::memcpy(&header.creator_start, bytes + 72, 8);
    header.shmpipe = magic == kMagic;
    header.creator = static_cast<pid_t>(pid);
  }
  return true;
}

/// Regular files in /dev/shm that are shmpipe segments (by magic) or named like one.
std::vector<Entry> census() {
  std::vector<Entry> entries;
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    Header header;
    std::uint64_t inode = 0;
    if (read_header(name, header, inode) && (header.shmpipe || name.starts_with("shmpipe")))
      entries.push_back({name, inode});
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

/// Field 22 of /proc/PID/stat (start time in clock ticks); 0 when unreadable.
std::uint64_t start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos)
    return 0;
  std::istringstream fields(stat.substr(paren + 2)); // field 3 onwards
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22)
      return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

/// Whether PID's environment holds the marker `marker` ("SHMPIPE_CTEST_RUN=...").
bool has_marker(pid_t pid, const std::string &marker) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  for (std::string variable; std::getline(in, variable, '\0');)
    if (variable == marker)
      return true;
  return false;
}

std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(line.begin(), line.end(), '\0', ' ');
  return line;
}

struct Findings {
  std::vector<std::string> leaks;  // fail the check
  std::vector<std::string> others; // reported only
};

Findings inspect(const std::set<Entry> &before, const std::string &marker) {
  Findings f;
  for (const Entry &e : census()) {
    if (before.contains(e))
      continue;
    Header header;
    std::uint64_t inode = 0;
    if (!read_header(e.name, header, inode))
      continue; // gone meanwhile
    const bool alive = header.creator > 0 && (::kill(header.creator, 0) == 0 || errno == EPERM) &&
                       start_time(header.creator) == header.creator_start;
    if (alive && !marker.empty() && !has_marker(header.creator, marker)) {
      f.others.push_back(e.name + " (created by pid " + std::to_string(header.creator) +
                         ", a live process outside this test run)");
      continue;
    }
    f.leaks.push_back("/dev/shm/" + e.name +
                      (alive ? " (its creator, pid " + std::to_string(header.creator) +
                                   ", still runs: " + command_line(header.creator) + ")"
                             : std::string(header.shmpipe ? " (its creator is gone)"
                                                          : " (not a complete segment)")));
  }
  if (marker.empty())
    return f;
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (pid != ::getpid() && has_marker(pid, marker))
      f.leaks.push_back("process " + name + " still runs: " + command_line(pid));
  }
  return f;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3 || (std::strcmp(argv[1], "record") != 0 && std::strcmp(argv[1], "check") != 0)) {
    std::fprintf(stderr, "usage: shm_census record|check FILE\n");
    return 2;
  }
  const std::string file = argv[2];
  if (std::strcmp(argv[1], "record") == 0) {
    std::ofstream out(file, std::ios::trunc);
    for (const Entry &e : census())
      out << e.inode << ' ' << e.name << '\n';
    out.close();
    if (!out) {
      std::fprintf(stderr, "shm_census: cannot write %s\n", file.c_str());
      return 1;
    }
    return 0;
  }
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "shm_census: no record %s (run the setup test first)\n", file.c_str());
    return 1;
  }
  std::set<Entry> before;
  for (Entry e; in >> e.inode >> e.name;)
    before.insert(e);
  const char *value = std::getenv("SHMPIPE_CTEST_MARKER"); // what the tests carry
  const std::string marker =
      value != nullptr ? std::string(kMarkerVariable) + "=" + value : std::string();
  // A process killed at the very end of a test may need a moment to exit and release what it
  // holds: look again for up to 5 s before failing.
  Findings f;
  for (int attempt = 0; attempt < 50; ++attempt) {
    f = inspect(before, marker);
    if (f.leaks.empty())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const std::string &o : f.others)
    std::printf("shm_census: not this run's: %s\n", o.c_str());
  for (const std::string &leak : f.leaks)
    std::printf("shm_census: left behind by the tests: %s\n", leak.c_str());
  std::printf("shm_census: %zu entries before, %zu left behind\n", before.size(), f.leaks.size());
  return f.leaks.empty() ? 0 : 1;
}

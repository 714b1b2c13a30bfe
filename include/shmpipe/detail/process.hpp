// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Process identity (pid + start time) and liveness, so that a reused pid is not taken for the
// process that held a role before it.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

namespace shmpipe::detail {

/// Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), or 0 when it
/// cannot be read (no such process, or no /proc).
[[nodiscard]] inline std::uint64_t process_start_time(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::FILE *file = std::fopen(path, "re");
  if (file == nullptr)
    return 0;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, file);
  std::fclose(file);
  buf[n] = '\0';
  // The command name (field 2) may contain spaces and parentheses: fields are counted from the
  // last ')'. After it come field 3 (state) ... field 22 (starttime): 20 fields.
  const char *p = std::strrchr(buf, ')');
  if (p == nullptr)
    return 0;
  ++p;
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p + 1, ' ');
    if (p == nullptr)
      return 0;
  }
  std::uint64_t ticks = 0;
  for (++p; *p >= '0' && *p <= '9'; ++p)
    ticks = ticks * 10 + static_cast<std::uint64_t>(*p - '0');
  return ticks;
}

/// The value a side stores in OwnerLine::owner: pid in the high half, the low 32 bits of its
/// start time in the low half. One word, so that a compare-exchange claims both at once.
[[nodiscard]] inline std::uint64_t make_owner_token(pid_t pid, std::uint64_t start) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 32) |
         (start & 0xffffffffULL);
}

[[nodiscard]] inline std::uint64_t self_owner_token() noexcept {
  const pid_t pid = ::getpid();
  return make_owner_token(pid, process_start_time(pid));
}

[[nodiscard]] inline pid_t owner_pid(std::uint64_t token) noexcept {
  return static_cast<pid_t>(token >> 32);
}

/// Whether the process named by an owner token still runs. Untrusted input: any token,
/// including garbage, gives an answer. Limits: pids are those of this pid namespace.
[[nodiscard]] inline bool owner_alive(std::uint64_t token) noexcept {
  const pid_t pid = owner_pid(token);
  if (pid <= 0)
    return false;
  if (::kill(pid, 0) != 0 && errno != EPERM)
    return false;
  const std::uint64_t start = process_start_time(pid);
  if (start == 0) // exited between kill() and the read, or /proc is absent: trust kill()
    return ::kill(pid, 0) == 0 || errno == EPERM;
  return (start & 0xffffffffULL) == (token & 0xffffffffULL);
}

} // namespace shmpipe::detail

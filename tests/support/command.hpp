// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Test helpers for end-to-end tests of programs: run a shell command, read a file whole.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <sys/wait.h>

namespace shmpipe::test {

struct CommandResult {
  int status = -1;    ///< exit status, or 128 + the signal that ended it
  std::string output; ///< what the command wrote to its stdout (redirect stderr to see it)
};

/// Runs `command` with /bin/sh and collects its standard output.
inline CommandResult run_command(const std::string &command) {
  CommandResult r;
  std::FILE *pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr)
    return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// The bytes of `path`; empty when it cannot be read.
inline std::string read_file(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace shmpipe::test

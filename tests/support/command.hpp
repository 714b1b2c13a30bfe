// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Test helpers for end-to-end tests of programs: run a shell command, read a file whole, run a
// program in the background in a process group of its own and see what it leaves behind.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ; // NOLINT: POSIX

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

/// A program started in the background, in a process group of its own that the processes it
/// starts (workers) join, with stdout and stderr going to `log`. The destructor kills the
/// whole group and reaps the program if it still runs, so a failing test leaves nothing.
class Background {
public:
  /// Runs argv[0] (a path) with `argv` and the environment plus `env` ("NAME=value").
  Background(const std::vector<std::string> &argv, const std::filesystem::path &log,
             const std::vector<std::string> &env = {}) {
    std::vector<std::string> args = argv, environment = env;
    for (char **e = environ; *e != nullptr; ++e)
      environment.emplace_back(*e);
    const auto pointers = [](std::vector<std::string> &strings) {
      std::vector<char *> p;
      for (std::string &s : strings)
        p.push_back(s.data());
      p.push_back(nullptr);
      return p;
    };
    std::vector<char *> argp = pointers(args), envp = pointers(environment);
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0); // a new group: pgid = pid
    if (::posix_spawn(&pid_, argp[0], &actions, &attr, argp.data(), envp.data()) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  Background(const Background &) = delete;
  Background &operator=(const Background &) = delete;
  ~Background() {
    if (pid_ > 0)
      ::kill(-pid_, SIGKILL);
    if (pid_ > 0 && !reaped_)
      ::waitpid(pid_, nullptr, 0);
  }

  /// The program's pid, also its process group; -1 when it could not be started.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  [[nodiscard]] bool running() {
    if (reaped_)
      return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return !reaped_;
  }
  /// Waits for the program to end: its exit status, or 128 + the signal that ended it.
  int wait() {
    if (!reaped_) {
      int status = 0;
      pid_t r = 0;
      do
        r = ::waitpid(pid_, &status, 0);
      while (r < 0 && errno == EINTR);
      reaped_ = true;
      status_ = r != pid_ ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return status_;
  }
  /// Whether any process of the program's group still exists (a worker it did not stop).
  [[nodiscard]] bool group_alive() const { return ::kill(-pid_, 0) == 0; }

private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

/// Polls `done` every 20 ms until it holds or `limit` passes (a generous limit: this only
/// keeps a test from hanging). Returns whether it held.
inline bool wait_until(const std::function<bool()> &done,
                       std::chrono::milliseconds limit = std::chrono::minutes(2)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

/// The names in `dir` that start with `prefix` (hidden ones included).
inline std::vector<std::string> entries_starting_with(const std::filesystem::path &dir,
                                                      std::string_view prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with(prefix))
      names.push_back(std::move(name));
  }
  return names;
}

} // namespace shmpipe::test

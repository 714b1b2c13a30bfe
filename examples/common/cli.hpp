// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// Command-line handling the example programs share: "--flag value" pairs, numbers in a range,
// and one way to fail (UsageError: message and usage line; examples::run_main makes it exit
// status 2 once every destructor has run).
#pragma once

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace examples {

/// `text` as a number in [low, high]; nullopt when it is not all digits or out of range.
template <class T>
[[nodiscard]] std::optional<T> parse_number(std::string_view text, T low, T high) noexcept {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high)
    return std::nullopt;
  return value;
}

/// A bad command line: what() is "program: why", a newline and "usage: ...".
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A program's usage line.
class Usage {
public:
  constexpr Usage(const char *program, const char *synopsis) noexcept
      : program_(program), synopsis_(synopsis) {}

  /// Throws UsageError: "program: why" and the usage line. (Thrown, not exit(): a program
  /// may own a segment or a worker by the time it finds an argument wrong.)
  [[noreturn]] void fail(const std::string &why) const {
    throw UsageError(std::string(program_) + ": " + why + "\nusage: " + synopsis_);
  }

  /// The value of option `what` as a number in [low, high], or fail().
  template <class T> T number(std::string_view text, const char *what, T low, T high) const {
    if (const std::optional<T> value = parse_number(text, low, high))
      return *value;
    fail(std::string(what) + " must be a number from " + std::to_string(low) + " to " +
         std::to_string(high) + ", not '" + std::string(text) + "'");
  }

  /// Calls on_option(flag, value) for each "--flag value" pair of the command line; a flag
  /// without a value fails.
  template <class OnOption> void options(int argc, char **argv, OnOption &&on_option) const {
    options(argc, argv, {}, on_option);
  }

  /// The same, where the flags in `switches` take no value: on_option(flag, "") for each.
  template <class OnOption>
  void options(int argc, char **argv, std::initializer_list<std::string_view> switches,
               OnOption &&on_option) const {
    for (int i = 1; i < argc;) {
      const std::string_view flag(argv[i]);
      if (std::find(switches.begin(), switches.end(), flag) != switches.end()) {
        on_option(flag, std::string_view());
        i += 1;
        continue;
      }
      if (i + 1 >= argc)
        fail("missing value after " + std::string(flag));
      on_option(flag, std::string_view(argv[i + 1]));
      i += 2;
    }
  }

private:
  const char *program_;
  const char *synopsis_;
};

} // namespace examples

// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// The claim scanner's inputs: a pattern file (one pattern per line, id = 0-based line number)
// and a document file (one document per line, id = 0-based line number). Lines are exact
// bytes: only '\n' separates them ('\r' stays part of the line); a final '\n' ends the last
// line rather than starting an empty one.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "hyperscan.hpp"

namespace claims {

/// A file's bytes and its lines (views into the bytes).
class LineFile {
public:
  /// Throws Failure naming the file when it cannot be read.
  static LineFile read(const std::string &path) {
    std::FILE *file = std::fopen(path.c_str(), "rbe");
    if (file == nullptr)
      throw Failure("cannot read '" + path + "': " + std::strerror(errno));
    LineFile f;
    char buffer[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
      f.bytes_.append(buffer, n);
    const bool failed = std::ferror(file) != 0;
    const int error = errno;
    std::fclose(file);
    if (failed)
      throw Failure("cannot read '" + path + "': " + std::strerror(error));
    f.split();
    return f;
  }

  /// From bytes in memory (tests, benchmarks).
  static LineFile from_bytes(std::string bytes) {
    LineFile f;
    f.bytes_ = std::move(bytes);
    f.split();
    return f;
  }

  [[nodiscard]] const std::vector<std::string_view> &lines() const noexcept { return lines_; }
  [[nodiscard]] std::size_t size_bytes() const noexcept { return bytes_.size(); }

  LineFile(LineFile &&) noexcept = default;
  LineFile &operator=(LineFile &&) noexcept = default;
  LineFile(const LineFile &) = delete;
  LineFile &operator=(const LineFile &) = delete;
  ~LineFile() = default;

private:
  LineFile() = default;

  void split() {
    lines_.clear();
    const std::string_view all = bytes_;
    std::size_t begin = 0;
    while (begin < all.size()) {
      std::size_t end = all.find('\n', begin);
      if (end == std::string_view::npos)
        end = all.size();
      lines_.push_back(all.substr(begin, end - begin));
      begin = end + 1;
    }
  }

  std::string bytes_; // lines_ view into it: moving a std::string keeps its heap buffer,
                      // and a short (SSO) string holds at most one tiny line
  std::vector<std::string_view> lines_;
};

/// The pattern dictionary: the patterns, their lengths and the serialized Hyperscan database.
struct Dictionary {
  std::vector<std::string_view> patterns; ///< views into the file's bytes
  std::vector<std::uint32_t> lengths;
  std::string database; ///< hs_serialize_database's bytes

  /// Compiles the patterns of `file`. Throws Failure naming `name` and the line for an empty
  /// line, an empty dictionary, a pattern too long for a 32-bit length, or a pattern Hyperscan
  /// refuses.
  static Dictionary compile(const LineFile &file, const std::string &name) {
    Dictionary d;
    d.patterns = file.lines();
    if (d.patterns.empty())
      throw Failure("the dictionary '" + name + "' is empty: no patterns");
    d.lengths.reserve(d.patterns.size());
    for (std::size_t i = 0; i < d.patterns.size(); ++i) {
      if (d.patterns[i].empty())
        throw Failure("'" + name + "' line " + std::to_string(i + 1) + " (pattern id " +
                      std::to_string(i) + ") is empty: an empty pattern would match everywhere");
      if (d.patterns[i].size() > UINT32_MAX)
        throw Failure("'" + name + "' line " + std::to_string(i + 1) + " is longer than 4 GiB");
      d.lengths.push_back(static_cast<std::uint32_t>(d.patterns[i].size()));
    }
    try {
      d.database = compile_serialized(d.patterns);
    } catch (const RefusedPattern &e) {
      throw Failure("'" + name + "' line " + std::to_string(e.index() + 1) + " (pattern id " +
                    std::to_string(e.index()) + ", " + std::to_string(d.lengths[e.index()]) +
                    " bytes): Hyperscan refuses it: " + e.why());
    } catch (const Failure &e) {
      throw Failure("'" + name + "': " + e.what());
    }
    return d;
  }
};

} // namespace claims

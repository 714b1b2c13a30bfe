// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// `shmpipe`: list shmpipe segments and remove the ones nobody alive uses any more. Built and
// installed with the library (SHMPIPE_BUILD_CLI); uses only the public API of inspect.hpp.
// `shmpipe --help` says what each command and option does.
#include <shmpipe/inspect.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char *kUsage =
    R"(shmpipe: list and clean up shmpipe shared-memory segments in /dev/shm

usage:
  shmpipe ls [--json] [--prefix P]
  shmpipe rm [--force] [--dry-run] NAME...
  shmpipe rm --stale [--prefix P] [--dry-run]
  shmpipe --help

commands:
  ls          list every segment: size, rings and lanes, fill, counters, which
              processes are attached and whether they are alive; [stale] marks a
              segment whose creator and endpoints are all dead
  rm NAME...  remove these segments if no live process uses them (processes that
              still have one mapped keep their mapping)
  rm --stale  remove every stale segment (what kill -9 leaves behind)

options:
  --json      ls: print one JSON document instead, for scripts
  --prefix P  ls, rm --stale: only segments whose name starts with P
  --force     rm NAME: remove it even if it is in use, or if its liveness cannot be
              judged (header not written yet, another layout); never removes an
              object that is not a shmpipe segment
  --dry-run   rm: say what would be removed, remove nothing
  -h, --help  print this help and exit

Looking never blocks and never allocates shared memory: entries that are not regular
files (FIFOs, sockets, links, directories) are skipped, and nothing is mapped.

exit status: 0 done; 1 a name could not be removed (no such segment, in use,
permission denied, ...); 2 bad usage
)";

int usage_error(const std::string &why) {
  std::fprintf(stderr, "shmpipe: %s\n\n%s", why.c_str(), kUsage);
  return 2;
}

std::string bytes(std::uint64_t n) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string endpoint(const char *role, const shmpipe::EndpointInfo &e) {
  if (e.pid == 0)
    return std::string(role) + (e.closed ? " detached" : " none");
  return std::string(role) + " " + std::to_string(e.pid) + (e.alive ? " alive" : " DEAD");
}

void print_side(const char *what, const shmpipe::SideStats &s) {
  std::printf("      %s: %llu records, %s, %llu stalls, %llu sleeps, %llu wakeups\n", what,
              static_cast<unsigned long long>(s.records), bytes(s.bytes).c_str(),
              static_cast<unsigned long long>(s.stalls), static_cast<unsigned long long>(s.sleeps),
              static_cast<unsigned long long>(s.wakeups));
}

void print_text(const std::vector<shmpipe::SegmentInfo> &segments) {
  if (segments.empty())
    std::printf("no shmpipe segments in /dev/shm\n");
  for (const shmpipe::SegmentInfo &s : segments) {
    if (!s.error.empty()) {
      // The message repeats the name ("shmpipe: segment 'NAME': why"): keep the why.
      const std::string lead = "shmpipe: segment '" + s.name + "': ";
      const std::string why = s.error.rfind(lead, 0) == 0 ? s.error.substr(lead.size()) : s.error;
      std::printf("%s: unreadable: %s\n", s.name.c_str(), why.c_str());
      continue;
    }
    std::printf("%s: %s, %zu ring(s), %zu lane(s), creator %d %s%s\n", s.name.c_str(),
                bytes(s.size).c_str(), s.rings.size(), s.lanes.size(), s.creator_pid,
                s.creator_alive ? "alive" : "DEAD", s.stale() ? "  [stale]" : "");
    for (std::size_t i = 0; i < s.rings.size(); ++i) {
      const shmpipe::RingInfo &r = s.rings[i];
      std::printf("  ring %zu: %s, %.1f%% full, %s, %s\n", i, bytes(r.capacity).c_str(),
                  100.0 * r.fill(), endpoint("producer", r.producer).c_str(),
                  endpoint("consumer", r.consumer).c_str());
      print_side("sent", r.stats.producer);
      print_side("read", r.stats.consumer);
    }
    for (std::size_t i = 0; i < s.lanes.size(); ++i) {
      const shmpipe::LaneInfo &l = s.lanes[i];
      std::printf("  lane %zu: %s, %s, %s\n", i, bytes(l.bytes).c_str(),
                  endpoint("producer", l.producer).c_str(),
                  endpoint("consumer", l.consumer).c_str());
    }
  }
}

// A small JSON writer: the values are names, numbers, booleans and error messages.
class Json {
public:
  Json &key(std::string_view k) {
    comma();
    quoted(k);
    out_ += ':';
    fresh_ = true; // the value that follows takes no comma
    return *this;
  }
  Json &string(std::string_view s) {
    comma();
    quoted(s);
    return *this;
  }
  Json &number(std::uint64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  Json &integer(std::int64_t v) { // pids: a forged owner word can make one negative
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  Json &real(double v) {
    comma();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
    return *this;
  }
  Json &boolean(bool v) {
    comma();
    out_ += v ? "true" : "false";
    return *this;
  }
  Json &null() {
    comma();
    out_ += "null";
    return *this;
  }
  Json &open(char bracket) {
    comma();
    out_ += bracket;
    fresh_ = true;
    return *this;
  }
  Json &close(char bracket) {
    out_ += bracket;
    fresh_ = false;
    return *this;
  }
  [[nodiscard]] const std::string &text() const noexcept { return out_; }

private:
  void quoted(std::string_view s) {
    out_ += '"';
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (u < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", u);
        out_ += esc;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  void comma() {
    if (!fresh_)
      out_ += ',';
    fresh_ = false;
  }
  std::string out_;
  bool fresh_ = true;
};

void json_endpoint(Json &j, const char *role, const shmpipe::EndpointInfo &e) {
  j.key(role).open('{');
  j.key("pid").integer(e.pid);
  j.key("alive").boolean(e.alive);
  j.key("closed").boolean(e.closed);
  j.close('}');
}

void json_side(Json &j, const char *role, const shmpipe::SideStats &s) {
  j.key(role).open('{');
  j.key("records").number(s.records);
  j.key("bytes").number(s.bytes);
  j.key("stalls").number(s.stalls);
  j.key("wakeups").number(s.wakeups);
  j.key("sleeps").number(s.sleeps);
  j.key("wraps").number(s.wraps);
  j.key("regrown_or_rejected").number(s.regrown_or_rejected);
  j.key("copied").number(s.copied);
  j.close('}');
}

void json_stats(Json &j, const shmpipe::RingStats &s) {
  j.key("stats").open('{');
  json_side(j, "producer", s.producer);
  json_side(j, "consumer", s.consumer);
  j.close('}');
}

void print_json(const std::vector<shmpipe::SegmentInfo> &segments) {
  Json j;
  j.open('{').key("segments").open('[');
  for (const shmpipe::SegmentInfo &s : segments) {
    j.open('{');
    j.key("name").string(s.name);
    j.key("size").number(s.size);
    j.key("owner_uid").number(s.owner_uid);
    if (s.error.empty())
      j.key("error").null();
    else
      j.key("error").string(s.error);
    j.key("creator_pid").integer(s.creator_pid);
    j.key("creator_alive").boolean(s.creator_alive);
    j.key("stale").boolean(s.stale());
    j.key("rings").open('[');
    for (const shmpipe::RingInfo &r : s.rings) {
      j.open('{');
      j.key("capacity").number(r.capacity);
      j.key("write_index").number(r.write_index);
      j.key("read_index").number(r.read_index);
      j.key("fill").real(r.fill());
      json_endpoint(j, "producer", r.producer);
      json_endpoint(j, "consumer", r.consumer);
      json_stats(j, r.stats);
      j.close('}');
    }
    j.close(']');
    j.key("lanes").open('[');
    for (const shmpipe::LaneInfo &l : s.lanes) {
      j.open('{');
      j.key("bytes").number(l.bytes);
      json_endpoint(j, "producer", l.producer);
      json_endpoint(j, "consumer", l.consumer);
      json_stats(j, l.stats);
      j.close('}');
    }
    j.close(']');
    j.close('}');
  }
  j.close(']').close('}');
  std::printf("%s\n", j.text().c_str());
}

struct Args {
  std::vector<std::string> names;
  std::string prefix;
  bool json = false, stale = false, force = false, dry_run = false, help = false;
  std::string error; // a usage error
};

Args parse(int argc, char **argv) {
  Args a;
  bool options_done = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-') {
      a.names.emplace_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--stale") {
      a.stale = true;
    } else if (arg == "--force") {
      a.force = true;
    } else if (arg == "--dry-run") {
      a.dry_run = true;
    } else if (arg == "-h" || arg == "--help") {
      a.help = true;
    } else if (arg == "--prefix") {
      if (i + 1 == argc) {
        a.error = "--prefix needs a value";
        return a;
      }
      a.prefix = argv[++i];
    } else {
      a.error = "unknown option '" + std::string(arg) + "'";
      return a;
    }
  }
  return a;
}

int list(const Args &a) {
  if (!a.names.empty() || a.stale || a.force || a.dry_run)
    return usage_error("ls takes only --json and --prefix");
  const std::vector<shmpipe::SegmentInfo> segments = shmpipe::list_segments(a.prefix);
  if (a.json)
    print_json(segments);
  else
    print_text(segments);
  return 0;
}

int remove_stale(const Args &a) {
  if (!a.names.empty() || a.force || a.json)
    return usage_error("rm --stale takes only --prefix and --dry-run");
  const shmpipe::SweepResult result =
      shmpipe::remove_stale_segments({.prefix = a.prefix, .dry_run = a.dry_run});
  for (const std::string &name : result.removed)
    std::printf("%s %s\n", a.dry_run ? "would remove" : "removed", name.c_str());
  for (const shmpipe::Error &e : result.failed)
    std::fprintf(stderr, "%s\n", e.what());
  return result.failed.empty() ? 0 : 1;
}

int remove_names(const Args &a) {
  if (a.names.empty())
    return usage_error("rm needs NAME... or --stale");
  if (a.json || !a.prefix.empty())
    return usage_error("rm NAME takes only --force and --dry-run");
  int status = 0;
  for (const std::string &name : a.names) {
    try {
      shmpipe::remove_segment(name, {.force = a.force, .dry_run = a.dry_run});
      std::printf("%s %s\n", a.dry_run ? "would remove" : "removed", name.c_str());
    } catch (const shmpipe::Error &e) {
      const bool forcible =
          e.code() == shmpipe::Errc::in_use || e.code() == shmpipe::Errc::not_ready ||
          e.code() == shmpipe::Errc::layout_mismatch || e.code() == shmpipe::Errc::size_mismatch;
      std::fprintf(stderr, "%s%s\n", e.what(), forcible ? " (--force removes it anyway)" : "");
      status = 1;
    }
  }
  return status;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage_error("no command");
  const std::string_view command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const Args a = parse(argc, argv);
  if (a.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.error.empty())
    return usage_error(a.error);
  try {
    if (command == "ls")
      return list(a);
    if (command == "rm")
      return a.stale ? remove_stale(a) : remove_names(a);
  } catch (const shmpipe::Error &e) { // what() begins with "shmpipe: "
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "shmpipe: %s\n", e.what());
    return 1;
  }
  return usage_error("unknown command '" + std::string(command) + "'");
}

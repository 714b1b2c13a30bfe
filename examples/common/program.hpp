// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the shmpipe authors
// How an example program ends, whatever ends it: every exit path unwinds to main, so the
// destructors that remove segments, stop workers and delete partial output always run.
//
// - A bad command line throws UsageError (cli.hpp): exit status 2.
// - A failure throws any std::exception: "program: what()", exit status 1.
// - SIGINT, SIGTERM and SIGHUP end the program at once (their default) until it calls
//   defer_stop_signals(), just before it creates what must be cleaned up (a session, a worker,
//   a partial file). From then on they only set a flag (the handler does nothing else: it may
//   run in any thread, at any point); the program's loops call throw_if_stopped(), which
//   throws Interrupted; once everything is unwound the signal is raised again with its
//   default action, so the parent sees "killed by SIGINT" as it would without the handler.
//
// std::exit is never called with objects alive: it skips the destructors of locals, and a
// Supervisor that is not destroyed leaves its worker running and its segment in /dev/shm.
#pragma once

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include <signal.h>

#include "common/cli.hpp"

namespace examples {

/// A stop signal arrived; thrown by throw_if_stopped() so that the program unwinds.
class Interrupted : public std::exception {
public:
  explicit Interrupted(int signal) noexcept : signal_(signal) {}
  [[nodiscard]] int signal() const noexcept { return signal_; }
  [[nodiscard]] const char *what() const noexcept override { return "interrupted by a signal"; }

private:
  int signal_;
};

namespace detail {

// Written by the handler, read by the program's threads. A lock-free atomic is safe to store
// in a signal handler; relaxed is enough: the flag carries no data, only "stop".
inline std::atomic<int> stop_signal{0};
inline std::atomic<bool> deferred{false}; // defer_stop_signals() was called
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

extern "C" inline void on_stop_signal(int signal) {
  // seq_cst pairs with defer_stop_signals()'s store: once it returned, no signal kills here.
  if (!deferred.load()) {      // nothing to clean up yet: the default action, now
    ::signal(signal, SIG_DFL); // both async-signal-safe
    ::raise(signal);
    return;
  }
  int none = 0;
  // The first signal wins; later ones (a second Ctrl-C while cleaning up) change nothing:
  // cleanup is bounded (a Supervisor waits a second for its worker, then kills it).
  static_cast<void>(stop_signal.compare_exchange_strong(none, signal, std::memory_order_relaxed));
}

inline constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

} // namespace detail

/// The stop signal that arrived (SIGINT, SIGTERM or SIGHUP), or 0.
[[nodiscard]] inline int stop_signal() noexcept {
  return detail::stop_signal.load(std::memory_order_relaxed);
}

/// Throws Interrupted once a stop signal has arrived. Call it wherever the program waits or
/// loops, at least every second or so.
inline void throw_if_stopped() {
  if (const int signal = stop_signal(); signal != 0)
    throw Interrupted(signal);
}

/// Catches SIGINT, SIGTERM and SIGHUP (see defer_stop_signals). Call it first thing in main, before
/// any thread or child exists: threads share the handler, and a child's exec resets it to the
/// default (the workers keep their usual behaviour).
inline void catch_stop_signals() {
  struct sigaction action {};
  action.sa_handler = detail::on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART; // no EINTR surprises in library calls; the loops poll the flag
  for (const int signal : detail::kStopSignals)
    if (::sigaction(signal, &action, nullptr) != 0)
      throw std::runtime_error("cannot install a handler for signal " + std::to_string(signal));
}

/// From now on a stop signal only sets the flag that throw_if_stopped() reports. Call it before
/// creating anything that a signal's default action would leave behind (a Supervisor and its
/// session, a partial file); before, a signal ends the program at once (a long dictionary
/// compile does not delay Ctrl-C).
inline void defer_stop_signals() noexcept { detail::deferred.store(true); }

/// Runs `body` (returning the exit status) with the stop signals caught, and turns what comes
/// out of it into the program's end: UsageError: 2; any other exception: 1; Interrupted (or
/// any exception once a stop signal came): the signal again, with its default action
/// (128 + signal if that does not end the process).
/// Everything `body` owned has been destroyed by then.
template <class Body> int run_main(const char *program, Body &&body) noexcept {
  int raise_again = 0;
  try {
    catch_stop_signals();
    return body();
  } catch (const UsageError &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const Interrupted &e) {
    raise_again = e.signal();
  } catch (const std::exception &e) {
    // A failure after a stop signal is most likely its doing (Ctrl-C reaches the workers
    // too): the run was stopped, not broken.
    raise_again = stop_signal();
    if (raise_again == 0) {
      std::fprintf(stderr, "%s: %s\n", program, e.what());
      return 1;
    }
  } catch (...) {
    std::fprintf(stderr, "%s: an unknown exception\n", program);
    return 1;
  }
  const char *name = sigabbrev_np(raise_again); // "INT", "TERM", "HUP"
  std::fprintf(stderr, "%s: stopped by SIG%s\n", program, name != nullptr ? name : "?");
  std::fflush(nullptr);
  std::signal(raise_again, SIG_DFL);
  std::raise(raise_again);
  return 128 + raise_again;
}

} // namespace examples

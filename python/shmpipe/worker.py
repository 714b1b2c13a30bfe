# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""The worker contract of a supervised Python worker (seed 003), around :class:`shmpipe.Worker`.

    import shmpipe.worker

    def handle(request, send):
        return build_answer(request.data)     # a finished FlatBuffer: the final reply

    if __name__ == "__main__":
        sys.exit(shmpipe.worker.serve(handle, worker_name="ocr", request_timeout=5.0))

:func:`serve` attaches (to the session in ``SHMPIPE_SESSION``, as a worker a Supervisor
started, or to ``name``), then for each request calls ``handler(request, send)``:

* what the handler **returns** (a bytes-like finished FlatBuffer) is the request's final
  reply; ``send(buffer, type=0)`` sends a partial (not final) reply before that;
* it **raises** :class:`RequestError` ``(code, message)``: the core gets ``Error(code,
  message)``; any other exception: its traceback goes to stderr (a Supervisor can write that
  to a log file) and the core gets ``Error(HANDLER_FAILED, "<type>: <message>")``;
* it runs past ``request_timeout`` seconds: it is interrupted (:class:`RequestTimeout`
  raised inside it from SIGALRM) and the core gets ``Error(TIMED_OUT, "request ran over N
  s")``, TIMED_OUT being the C++ ``SessionError::timed_out`` (3).

So every request gets exactly one final answer, and the worker goes on with the next one.
Each final answer carries the request's duration and peak resident set (``report_work``:
the core reads them as ``Incoming.work_report``).

**Limits of the timeout.** Python runs signal handlers in the main thread between bytecodes:
a handler blocked in C code that does not return to the interpreter (a long numpy or PyMuPDF
call) is interrupted only when that call returns. The Supervisor's own ``request_timeout``
(which kills the worker) is the backstop; set it above this one. RequestTimeout derives from
BaseException so that a handler's ``except Exception`` does not swallow it.

**Memory watchdog.** A thread reads the resident set from /proc/self/statm every
``watch_interval`` seconds. Above the soft limit it sends the core a Warning (code 1) when the
resident set crosses the limit upwards (one warning per excursion, not one per reading), and
calls ``on_soft_limit()`` (default ``gc.collect``; it runs on the watchdog thread) at each
reading. Above the hard limit it sends a Warning (code 2), flushes stderr and ends the
process with ``os._exit(137)`` (the status of an OOM kill, which the Supervisor restarts).
Limits are MiB: the arguments win; an argument left at None takes ``SHMPIPE_RSS_SOFT_MB`` /
``SHMPIPE_RSS_HARD_MB`` from the environment; unset or 0: no limit.

**Stop signals.** SIGTERM and SIGINT end the worker as they end the C++ worker and
extract_worker.py: by that signal. The request in progress, if any, is abandoned without an
answer (the core learns it from the worker's exit: a Supervisor reports it lost or retries
it, per its on_worker_loss); the worker leaves the session (close), then the signal's default
action ends the process. serve() owns SIGALRM, SIGTERM and SIGINT while it runs and must be
called from the main thread.
"""
import gc
import os
import signal
import sys
import threading
import traceback

from . import _shmpipe

__all__ = [
    "HANDLER_FAILED",
    "RSS_HARD",
    "RSS_SOFT",
    "TIMED_OUT",
    "RequestError",
    "RequestTimeout",
    "resident_bytes",
    "serve",
]

TIMED_OUT = 3  # C++ SessionError::timed_out: the request ran over request_timeout
HANDLER_FAILED = 1000  # the handler raised something else than RequestError
RSS_SOFT = 1  # Warning codes (Worker::warn): resident set over the soft limit
RSS_HARD = 2  # ... over the hard limit; the worker exits 137 right after

_PAGE = os.sysconf("SC_PAGE_SIZE")


class RequestError(Exception):
    """Raised by a handler: answer the request with ``Error(code, message)``, no traceback."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = int(code)
        self.message = str(message)


class RequestTimeout(BaseException):
    """Raised inside a handler that ran over ``request_timeout``."""


class _Stopped(BaseException):
    """SIGTERM / SIGINT arrived; carries the signal number."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def resident_bytes():
    """This process's resident set size in bytes (from /proc/self/statm)."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _limit_bytes(argument, variable):
    """The limit in bytes from `argument` (MiB) or else the environment variable; 0: none."""
    if argument is None:
        text = os.environ.get(variable, "").strip()
        if not text:
            return 0
        try:
            argument = float(text)
        except ValueError:
            raise ValueError(f"{variable}={text!r} is not a number of MiB") from None
    if not argument >= 0:  # also NaN
        raise ValueError(f"{variable} (or its argument) must be a number of MiB >= 0, "
                         f"not {argument!r}")
    return int(argument * (1 << 20))


class _Watchdog(threading.Thread):
    """The memory watchdog. It sends its warnings itself, under the serve loop's send lock."""

    def __init__(self, worker, lock, soft, hard, on_soft_limit, interval):
        super().__init__(name="shmpipe-memory-watchdog", daemon=True)
        self.worker, self.lock = worker, lock
        self.soft, self.hard = soft, hard
        self.on_soft_limit, self.interval = on_soft_limit, interval
        self.stopping = threading.Event()
        self.over_soft = False

    def warn(self, code, message, lock_timeout):
        # The lock may be held for one receive slice or one reply (both bounded); past
        # lock_timeout the warning is dropped rather than sent unserialized.
        if not self.lock.acquire(timeout=lock_timeout):
            print(f"shmpipe.worker: warning {code} not sent (the worker is busy sending): "
                  f"{message}", file=sys.stderr)
            return
        try:
            if self.stopping.is_set() and code != RSS_HARD:
                return  # serve() is ending; it closes the worker once this thread is done
            self.worker.warn(code, message, timeout=1.0)
        except _shmpipe.Error as e:  # the core is gone or the ring stays full: say it here
            print(f"shmpipe.worker: warning {code} not sent ({e}): {message}", file=sys.stderr)
        finally:
            self.lock.release()

    def check(self):
        rss = resident_bytes()
        if self.hard and rss > self.hard:
            message = (f"resident {rss >> 20} MiB over the hard limit {self.hard >> 20} MiB: "
                       "exit 137")
            print(f"shmpipe.worker: {message}", file=sys.stderr)
            self.warn(RSS_HARD, message, lock_timeout=2.0)
            sys.stderr.flush()
            os._exit(137)
        if self.soft and rss > self.soft:
            # The warning first: it carries the resident set the callback is about to shrink.
            if not self.over_soft:
                self.over_soft = True
                self.warn(RSS_SOFT, f"resident {rss >> 20} MiB over the soft limit "
                          f"{self.soft >> 20} MiB", lock_timeout=2.0)
            if self.on_soft_limit is not None:
                try:
                    self.on_soft_limit()
                except Exception:  # a broken callback must not end the watchdog
                    traceback.print_exc(file=sys.stderr)
        elif self.over_soft:
            self.over_soft = False

    def run(self):
        while not self.stopping.wait(self.interval):
            self.check()


def serve(handler, *, name=None, request_timeout=None, rss_soft_mb=None, rss_hard_mb=None,
          on_soft_limit=gc.collect, watch_interval=1.0, reply_timeout=10.0, **attach_options):
    """Attach, serve requests with ``handler(request, send)`` until the core asks to shut down
    or leaves, and return the process exit status for it: 0 when the core asked to shut down,
    1 when it went away without asking. See the module doc for the contract.

    `name`: the session (None: ``SHMPIPE_SESSION``, as a supervised worker). `request_timeout`:
    seconds per request (None or 0: none). `rss_soft_mb` / `rss_hard_mb`: MiB (None: from the
    environment). `watch_interval`: seconds between two readings of the resident set.
    `reply_timeout`: how long a reply may wait for room in the ring. Other keyword arguments
    go to Worker.attach (worker_name, capabilities, schema_ids, open_timeout, report_work).
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("shmpipe.worker.serve() runs in the main thread (it uses signals)")
    if not callable(handler):
        raise TypeError("handler must be callable as handler(request, send)")
    if request_timeout is not None and not request_timeout >= 0:
        raise ValueError(f"request_timeout must be None or seconds >= 0, not {request_timeout!r}")
    if not watch_interval > 0:
        raise ValueError(f"watch_interval must be seconds > 0, not {watch_interval!r}")
    soft = _limit_bytes(rss_soft_mb, "SHMPIPE_RSS_SOFT_MB")
    hard = _limit_bytes(rss_hard_mb, "SHMPIPE_RSS_HARD_MB")

    # From here to the end, SIGTERM / SIGINT raise _Stopped in the main thread wherever it is:
    # in a receive or reply slice (the binding checks signals between slices), or in the handler.
    def stop(signum, frame):
        raise _Stopped(signum)

    saved = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    stopped = None
    try:
        attach_options.setdefault("report_work", True)
        if name is None:
            worker = _shmpipe.Worker.attach_supervised(**attach_options)
        else:
            worker = _shmpipe.Worker.attach(name, **attach_options)
        try:
            return _serve(worker, handler, request_timeout or 0.0, soft, hard, on_soft_limit,
                          watch_interval, reply_timeout)
        except _Stopped as e:
            stopped = e.signum
        finally:
            try:
                worker.close()  # releases a request still in hand (a stop before its handler)
            except (BufferError, _shmpipe.Error) as e:
                print(f"shmpipe.worker: close: {e}", file=sys.stderr)
    except _Stopped as e:  # during attach
        stopped = e.signum
    finally:
        for s, previous in saved.items():
            signal.signal(s, previous)
        if stopped is not None:
            # As the C++ worker and extract_worker.py: end by the signal (its default action).
            sys.stderr.flush()
            signal.signal(stopped, signal.SIG_DFL)
            os.kill(os.getpid(), stopped)
    return 128 + stopped  # not reached: the signal's default action ended the process


def _serve(worker, handler, request_timeout, soft, hard, on_soft_limit, watch_interval,
           reply_timeout):
    # The writer of the response ring is single-threaded (SPSC, and the binding refuses two
    # threads in one Worker at a time). Two threads send on it: this one (receive() answers
    # health checks, reply(), error()) and the watchdog (warn()). Handing warnings to this
    # thread cannot work for the hard limit: this thread may be stuck in C code, which is the
    # case the watchdog exists for. So every call on `worker` takes `lock`; it is held for one
    # receive slice (<= slice seconds) or one bounded reply, and never while the handler
    # computes, so the watchdog gets it within about a slice.
    lock = threading.Lock()
    # Without a watchdog nobody else wants the lock: wait for a request without waking up.
    slice_ = min(0.5, watch_interval) if soft or hard else None
    watchdog = None
    if soft or hard:
        watchdog = _Watchdog(worker, lock, soft, hard, on_soft_limit, watch_interval)
        watchdog.start()

    armed = False  # the alarm raises only while the handler runs

    def alarm(signum, frame):
        if armed:
            raise RequestTimeout()

    previous_alarm = signal.signal(signal.SIGALRM, alarm) if request_timeout else None
    try:
        while True:
            try:
                with lock:
                    request = worker.receive(timeout=slice_)
            except _shmpipe.Timeout:
                continue
            except _shmpipe.Closed:
                return 0 if worker.shutdown_requested else 1
            except _shmpipe.Error as e:  # peer_dead: the core died
                print(f"shmpipe.worker: {e}", file=sys.stderr)
                return 1
            rid = request.request_id

            def send(buffer, *, type=0):
                with lock:
                    worker.reply(rid, buffer, final=False, type=type, timeout=reply_timeout)

            answer, error = None, None
            try:
                if request_timeout:
                    armed = True
                    signal.setitimer(signal.ITIMER_REAL, request_timeout)
                try:
                    answer = handler(request, send)
                    armed = False  # an alarm from here on does nothing: the answer stands
                finally:
                    armed = False
                    if request_timeout:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            except RequestTimeout:
                error = (TIMED_OUT, f"request ran over {request_timeout:g} s")
            except RequestError as e:
                error = (e.code, e.message)
            except Exception as e:
                traceback.print_exc(file=sys.stderr)
                error = (HANDLER_FAILED, f"{type(e).__name__}: {e}")
            else:
                if answer is None:
                    error = (HANDLER_FAILED, "the handler returned None (no answer)")
            finally:
                # A view of request.data kept past the handler makes this raise BufferError:
                # views must not outlive the handler (the space goes back to the ring).
                request.release()
            with lock:
                if error is None:
                    worker.reply(rid, answer, final=True, timeout=reply_timeout)
                else:
                    worker.error(rid, error[0], error[1], timeout=reply_timeout)
    finally:
        if previous_alarm is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_alarm)
        if watchdog is not None:
            # Joined before serve() closes the worker (close() is a call on it too). Bounded:
            # a reading, on_soft_limit(), and a warning (lock <= 2 s, send <= 1 s).
            watchdog.stopping.set()
            watchdog.join(timeout=10)

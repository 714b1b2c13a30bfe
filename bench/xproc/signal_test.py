# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
"""shmpipe_bench stopped by a signal mid-run leaves nothing behind.

    signal_test.py SHMPIPE_BENCH SIGNAL {follower|roudi} [--iceoryx]

Starts `shmpipe_bench --quick` on round trips with many repetitions (it would run for minutes),
waits until the harness has a child process and something in /dev/shm to clean up (`roudi`:
until its iox-roudi and both workers run; `follower`: until a shmpipe segment of its own exists),
sends SIGNAL, and checks: the exit status is 128 + SIGNAL, every process it started is gone,
nothing of it is left in /dev/shm or /tmp, and its output files are the ones that were there
before. SIGINT goes to the whole process group, as Ctrl-C in a terminal sends it; SIGTERM and
SIGHUP to the harness only, as `kill` or `pkill` would. `roudi` needs iceoryx (--iceoryx: it
was built in) and falls back to `follower` when iox-roudi is missing or another one is running.
"""
import grp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DEADLINE_START = 60.0  # the harness reaches the awaited state within this (slow, shared CI)
DEADLINE_EXIT = 20.0  # and exits this long after the signal (RouDi gets 5 s, then SIGKILL)
ROUDI_SOCKET = "/tmp/roudi"
ROUDI_FILES = ["/tmp/roudi", "/tmp/roudi.lock", "/tmp/iox-unique-roudi.lock"]


def fail(why):
    print("FAIL:", why)
    sys.exit(1)


def proc_stat(pid):
    """(ppid, starttime, comm) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), comm


def descendants(root):
    """{(pid, starttime): comm} of every process below `root`."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append((int(entry), stat[1], stat[2]))
    out, todo = {}, [root]
    while todo:
        for pid, start, comm in children.get(todo.pop(), []):
            out[(pid, start)] = comm
            todo.append(pid)
    return out


def alive(pid, start):
    stat = proc_stat(pid)
    return stat is not None and stat[1] == start


def roudi_live():
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(ROUDI_SOCKET)
            return True
        except OSError:
            return False


def main():
    bench, signame, wait_for = sys.argv[1], sys.argv[2], sys.argv[3]
    sig = getattr(signal, "SIG" + signame)
    iceoryx = "--iceoryx" in sys.argv[4:]
    if wait_for == "roudi":
        why = None
        if not iceoryx:
            why = "shmpipe_bench was built without iceoryx"
        elif shutil.which("iox-roudi") is None:
            why = "iox-roudi is not on PATH"
        elif roudi_live() or os.path.exists("/dev/shm/iceoryx_mgmt"):
            why = "another iox-roudi is running"
        if why:
            print(f"note: {why}; waiting for a shmpipe follower instead")
            wait_for = "follower"
    peers = "shmpipe,iceoryx" if wait_for == "roudi" else "shmpipe,unix_socket"

    shm_before = set(os.listdir("/dev/shm"))
    roudi_files_before = {p for p in ROUDI_FILES if os.path.lexists(p)}
    out = tempfile.mkdtemp(prefix="shmpipe-signal-test-")
    old = {"results.json": b'{"old": true}\n', "RESULTS.md": b"# the previous run\n"}
    for name, content in old.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(content)
    command = [bench, "--quick", "--reps", "99", "--only", peers, "--scenarios", "rtt_spin",
               "--json", os.path.join(out, "results.json"),
               "--results", os.path.join(out, "RESULTS.md"),
               "--plots", os.path.join(out, "plots")]
    print("running:", " ".join(command))
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    prefix = f"shmpipe-bench-{proc.pid}-"
    seen = {}
    try:
        # Wait for something to clean up: a child, and its segment or its RouDi.
        deadline = time.monotonic() + DEADLINE_START
        while True:
            if proc.poll() is not None:
                fail(f"shmpipe_bench exited ({proc.returncode}) before the signal")
            if time.monotonic() > deadline:
                fail(f"no {wait_for} after {DEADLINE_START:.0f} s")
            seen.update(descendants(proc.pid))
            comms = set(descendants(proc.pid).values())
            ours = [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]
            # RouDi is up and its two workers (forks of the harness) have started.
            if wait_for == "roudi" and {"iox-roudi", "shmpipe_bench"} <= comms and roudi_live():
                break
            if wait_for == "follower" and ours and len(comms) > 0:
                break
            time.sleep(0.01)
        if wait_for == "roudi":
            time.sleep(0.05)  # the workers' runtimes registered with RouDi, usually
        seen.update(descendants(proc.pid))
        at_signal = sorted(set(descendants(proc.pid).values()))
        print(f"sending SIG{signame}; children: {', '.join(at_signal)}; "
              f"/dev/shm: {', '.join(n for n in os.listdir('/dev/shm') if n.startswith(prefix) or n not in shm_before)}")
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        start = time.monotonic()
        try:
            status = proc.wait(timeout=DEADLINE_EXIT)
        except subprocess.TimeoutExpired:
            fail(f"shmpipe_bench still running {DEADLINE_EXIT:.0f} s after SIG{signame}")
        print(f"exit status {status} after {time.monotonic() - start:.2f} s")

        problems = []
        if status not in (128 + sig, -sig):
            problems.append(f"exit status {status}, expected {128 + sig}")
        # Children die with the harness (their parent-death signal) a moment later at worst.
        deadline = time.monotonic() + 2.0
        while True:
            survivors = [f"{comm} (pid {pid})" for (pid, start_), comm in seen.items()
                         if alive(pid, start_)]
            if not survivors or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if survivors:
            problems.append("processes still running: " + ", ".join(survivors))
            for (pid, start_), _ in seen.items():  # before looking for what they leave
                if alive(pid, start_):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        # RouDi's segments: iceoryx_mgmt and one named after the writer group.
        iceoryx_shm = {"iceoryx_mgmt", grp.getgrgid(os.getegid()).gr_name}
        leftovers = [os.path.join("/dev/shm", n) for n in sorted(os.listdir("/dev/shm"))
                     if n.startswith(prefix) or (n in iceoryx_shm and n not in shm_before)]
        leftovers += [os.path.join("/tmp", n) for n in sorted(os.listdir("/tmp"))
                      if n.startswith(prefix)]
        leftovers += [p for p in ROUDI_FILES if os.path.lexists(p) and p not in roudi_files_before]
        if leftovers:
            problems.append("left behind: " + ", ".join(leftovers))
            for path in leftovers:  # this test must not leave them either
                os.unlink(path)
        now = sorted(os.listdir(out))
        if now != sorted(old):
            problems.append(f"output directory holds {now}, expected {sorted(old)}")
        for name, content in old.items():
            path = os.path.join(out, name)
            if os.path.exists(path) and open(path, "rb").read() != content:
                problems.append(f"{name} was changed")
        if problems:
            fail("; ".join(problems))
        print("ok: nothing left behind")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for (pid, start_), _ in seen.items():
            if alive(pid, start_):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()

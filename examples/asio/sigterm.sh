#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
# SIGTERM to asio_consumer mid-stream: it must end by that signal (status 143 in the shell),
# with its producer child reaped and its segment gone from /dev/shm.
#
#   sigterm.sh ASIO_CONSUMER
set -u
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$1" --records 100000 --rate 2000 >"$out" 2>&1 &
consumer=$!
# Its first line names the segment and the producer: "serving NAME, producer pid PID".
tries=0
while ! grep -q 'producer pid' "$out"; do
  tries=$((tries + 1))
  if [ "$tries" -gt 100 ]; then
    echo "sigterm.sh: no start line within 10 s" >&2
    kill -KILL "$consumer"
    exit 1
  fi
  sleep 0.1
done
name=$(sed -n 's/.*serving \([^,]*\), producer pid.*/\1/p' "$out")
producer=$(sed -n 's/.*producer pid \([0-9]*\).*/\1/p' "$out")
sleep 0.5 # mid-stream: 100000 records at 2000/s take 50 s
kill -TERM "$consumer"
wait "$consumer"
status=$?
cat "$out"
failed=0
if [ "$status" -ne 143 ]; then
  echo "sigterm.sh: exit status $status, expected 143 (SIGTERM)" >&2
  failed=1
fi
# Reaped by the consumer: an orphan would still exist (reparented), a zombie too.
if [ -e "/proc/$producer" ]; then
  echo "sigterm.sh: the producer $producer is still there" >&2
  kill -KILL "$producer" 2>/dev/null
  failed=1
fi
if [ -e "/dev/shm/$name" ]; then
  echo "sigterm.sh: /dev/shm/$name is left behind" >&2
  failed=1
fi
if ! grep -q 'stopped by SIGTERM' "$out"; then
  echo "sigterm.sh: no 'stopped by SIGTERM' line" >&2
  failed=1
fi
exit $failed

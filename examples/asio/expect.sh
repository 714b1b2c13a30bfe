#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 the shmpipe authors
# Runs a command that must fail a given way: passes when it exits with STATUS and its output
# (stdout and stderr) matches the extended regular expression REGEX. ctest's own
# PASS_REGULAR_EXPRESSION ignores the exit status, and WILL_FAIL cannot check the output.
#
#   expect.sh STATUS REGEX COMMAND [ARG...]
set -u
want_status=$1
want_output=$2
shift 2
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne "$want_status" ]; then
  echo "expect.sh: exit status $status, expected $want_status" >&2
  exit 1
fi
if ! printf '%s\n' "$output" | grep -Eq -- "$want_output"; then
  echo "expect.sh: no line matches: $want_output" >&2
  exit 1
fi

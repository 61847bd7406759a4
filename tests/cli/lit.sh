#!/usr/bin/env bash
# A small lit/FileCheck-style runner for CLI tests: one .test file holds the
# command and the lines its output must contain, so a test pins what a user
# sees, not only the exit code.
#
#   # RUN: %syncsim decode ff05...        a shell command (may pipe); %syncsim is
#                                          the binary, %vectors tests/vectors,
#                                          %S the test's directory, %t a scratch dir
#   # EXIT: 2                              the command's exit status (default 0)
#   # CHECK: text                          stdout has a line containing text, after
#                                          the line the previous CHECK matched
#   # CHECK-ERR: text                      the same, on stderr
#   # CHECK-ERR-FIRST: text                stderr's first line contains text
#   # CHECK-NOT: text                      no stdout line contains text
#   # REQUIRES: no-sanitizer               skipped in sanitizer builds
#
# Usage: lit.sh SYNCSIM_BINARY VECTORS_DIR TEST_FILE
set -uo pipefail
syncsim=$(realpath "$1") vectors=$(realpath "$2") test=$3
dir=$(cd "$(dirname "$test")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

directive() { sed -n "s/^# $1: \{0,1\}//p" "$test"; }
expand() { local s=$1; s=${s//%syncsim/\"$syncsim\"}; s=${s//%vectors/$vectors}; s=${s//%S/$dir}; s=${s//%t/$scratch}; printf '%s' "$s"; }

# REQUIRES: no-sanitizer skips (exit 77) in ASan/UBSan builds, which
# reserve terabytes of address space and cannot run under ulimit -v.
if [ "$(directive REQUIRES)" = no-sanitizer ] && [ "${SYNCSIM_SANITIZE:-OFF}" = ON ]; then
  echo "skipped: needs a build without sanitizers"; exit 77
fi
run=$(directive RUN)
[ -n "$run" ] || { echo "$test: no RUN line"; exit 1; }
expected_exit=$(directive EXIT); expected_exit=${expected_exit:-0}
cmd=$(expand "$run")
( cd "$scratch" && timeout 120 bash -c "$cmd" ) >"$scratch/.out" 2>"$scratch/.err"
status=$?
fail=0
report() { echo "FAIL: $*"; fail=1; }
[ "$status" = "$expected_exit" ] || report "exit status $status, expected $expected_exit"

# Ordered substring matching, as FileCheck does with CHECK lines.
check_in_order() {
  local file=$1 kind=$2 line=0 want
  while IFS= read -r want; do
    local found
    found=$(tail -n +"$((line + 1))" "$file" | grep -n -F -m1 -- "$want" | cut -d: -f1)
    if [ -z "$found" ]; then report "$kind not found (after line $line): $want"; else line=$((line + found)); fi
  done < <(directive "$kind")
}
check_in_order "$scratch/.out" CHECK
check_in_order "$scratch/.err" CHECK-ERR
first=$(directive CHECK-ERR-FIRST)
if [ -n "$first" ]; then
  head -n1 "$scratch/.err" | grep -q -F -- "$first" || report "first stderr line is not: $first"
fi
while IFS= read -r banned; do
  [ -z "$banned" ] && continue
  grep -q -F -- "$banned" "$scratch/.out" && report "CHECK-NOT matched: $banned"
done < <(directive CHECK-NOT)

if [ $fail -ne 0 ]; then
  echo "--- command: $cmd"
  echo "--- stdout (first 40 lines):"; head -n 40 "$scratch/.out"
  echo "--- stderr (first 40 lines):"; head -n 40 "$scratch/.err"
  exit 1
fi
echo "ok: $(basename "$test")"

#!/bin/sh
# The scripted `check --server` cases against the reference server on real
# sockets (docs/live.md). Two modes:
#   server_cases.sh SYNCSIM bug BUG CASE RULE
#     `syncsim serve --bug BUG` fails case CASE naming RULE (exit 1, a FAIL or
#     TIMEOUT line of RULE and CASE), and a clean `syncsim serve` passes it.
#   server_cases.sh SYNCSIM clean RUNS
#     a clean `syncsim serve` over TCP and over WebSocket passes every case,
#     RUNS times each, with the same verdicts every time.
# Bounded: each server stops by itself (--duration), check bounds each wait.
set -u
SYNCSIM=$1 MODE=$2
shift 2
. "$(dirname "$0")/lib.sh"  # port_of
DIR=$(mktemp -d) || exit 2
# serve() runs in a command substitution (a subshell): it records each
# server's pid in a file, which the cleanup reads.
cleanup() {
  for p in $(cat "$DIR/pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT
SECRET=syncsim-cases-secret

# serve NAME URL [--bug BUG]: starts a server, prints the URL it listens on.
# Its target file $DIR/NAME.yaml holds hooks on its admin port (the purge and
# definition cases, D175), written after the banner: waited for, at most 5 s.
serve() {
  name=$1 url=$2
  shift 2
  "$SYNCSIM" serve --listen "$url" --jwt-secret "$SECRET" --duration 170 --must-only \
    --target-out "$DIR/$name.yaml" "$@" >"$DIR/$name.log" 2>&1 &
  echo $! >>"$DIR/pids"
  i=0
  while [ ! -s "$DIR/$name.yaml" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  case $url in
    ws://*) echo "ws://127.0.0.1:$(port_of "$DIR/$name.log" "listens on ws://127.0.0.1:")/sync" ;;
    *) echo "tcp://127.0.0.1:$(port_of "$DIR/$name.log" "listens on tcp://127.0.0.1:")" ;;
  esac
}

# check NAME URL OUT [options]: runs check --server with NAME's target file
# (its hooks), prints its exit code.
check() {
  name=$1 url=$2 out=$3
  shift 3
  "$SYNCSIM" check --server "$url" --target "$DIR/$name.yaml" "$@" >"$out" 2>&1
  echo $?
}

if [ "$MODE" = bug ]; then
  BUG=$1 CASE=$2 RULE=$3
  URL=$(serve buggy tcp://127.0.0.1:0 --bug "$BUG") || exit 1
  rc=$(check buggy "$URL" "$DIR/buggy.out" --filter "$CASE")
  cat "$DIR/buggy.out"
  [ "$rc" -eq 1 ] || { echo "FAIL: serve --bug $BUG: check exited $rc, not 1"; exit 1; }
  grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]+$RULE[[:space:]]+$CASE[[:space:]]" "$DIR/buggy.out" \
    || { echo "FAIL: serve --bug $BUG: no FAIL/TIMEOUT of $RULE $CASE"; exit 1; }
  URL=$(serve clean tcp://127.0.0.1:0) || exit 1
  rc=$(check clean "$URL" "$DIR/clean.out" --filter "$CASE")
  cat "$DIR/clean.out"
  [ "$rc" -eq 0 ] || { echo "FAIL: the clean server: check exited $rc"; exit 1; }
  grep -Eq "^[[:space:]]*PASS[[:space:]]+$RULE[[:space:]]+$CASE[[:space:]]" "$DIR/clean.out" \
    || { echo "FAIL: the clean server did not PASS $CASE"; exit 1; }
  echo "OK: serve --bug $BUG fails $CASE naming $RULE; the clean server passes it"
  exit 0
fi

RUNS=${1:-3}
for scheme in tcp://127.0.0.1:0 ws://127.0.0.1:0/sync; do
  name="clean$(echo "$scheme" | cut -c1-2)"
  URL=$(serve "$name" "$scheme") || exit 1
  i=1
  while [ $i -le "$RUNS" ]; do
    rc=$(check "$name" "$URL" "$DIR/run$i.out")
    grep -E "^  [A-Z]+ " "$DIR/run$i.out" | awk '{print $1, $2, $3}' >"$DIR/verdicts$i"
    [ "$rc" -eq 0 ] || { cat "$DIR/run$i.out"; echo "FAIL: $URL run $i exited $rc"; exit 1; }
    grep -q "UNSUPPORTED" "$DIR/verdicts$i" && { cat "$DIR/run$i.out"; echo "FAIL: unsupported"; exit 1; }
    cmp -s "$DIR/verdicts1" "$DIR/verdicts$i" || { echo "FAIL: run $i verdicts differ"; exit 1; }
    i=$((i + 1))
  done
  echo "OK: $URL: $(wc -l <"$DIR/verdicts1") cases passed $RUNS times"
done
exit 0

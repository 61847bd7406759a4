#!/bin/sh
# `syncsim run --server`: a short scenario passes live against the reference
# server over TCP and over WebSocket; a scenario needing an operator hook is
# UNSUPPORTED (a <skipped> testcase in JUnit) without a hook, and runs with
# the target file's hooks (serve --admin-port); a failing hook is an error of
# the run. With the faulty server, its purge-no-notice defect is caught live
# through the same hooks, naming PURGE-1.
# Usage: run_server.sh <syncsim> <scenario dir> <workdir> [faulty_server]
set -u
SYNCSIM=$1 SC=$2 DIR=$3 FAULTY=${4:-}
rm -rf "$DIR"
mkdir -p "$DIR"
. "$(dirname "$0")/lib.sh"  # port_of
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
"$SYNCSIM" serve --listen tcp://127.0.0.1:0 --admin-port 0 --duration 90 --must-only \
  >"$DIR/tcp.log" 2>&1 &
pids="$pids $!"
TCP=$(port_of "$DIR/tcp.log" "listens on tcp://127.0.0.1:") || exit 1
ADMIN=$(port_of "$DIR/tcp.log" "admin commands on tcp://127.0.0.1:") || exit 1
"$SYNCSIM" serve --listen ws://127.0.0.1:0/sync --duration 90 --must-only >"$DIR/ws.log" 2>&1 &
pids="$pids $!"
WS=$(port_of "$DIR/ws.log" "listens on ws://127.0.0.1:") || exit 1

for url in "tcp://127.0.0.1:$TCP" "ws://127.0.0.1:$WS/sync"; do
  "$SYNCSIM" run "$SC/live_short.yaml" "$SC/live_needs_hook.yaml" --server "$url" \
    --junit "$DIR/junit.xml" --no-progress >"$DIR/run.log" 2>&1
  rc=$?
  cat "$DIR/run.log"
  [ $rc -eq 0 ] || { echo "FAIL: run --server $url exited $rc"; exit 1; }
  grep -q "PASS   live-short" "$DIR/run.log" || { echo "FAIL: live-short did not pass"; exit 1; }
  grep -q "UNSUP  live-needs-hook .*operator hook \"purge\"" "$DIR/run.log" ||
    { echo "FAIL: no UNSUPPORTED line naming the hook"; exit 1; }
  grep -q "<skipped message=" "$DIR/junit.xml" || { echo "FAIL: no <skipped> in JUnit"; exit 1; }
done

# A target file whose hooks speak the admin line protocol (docs/live.md).
hooks() {  # hooks SERVER_URL ADMIN_PORT
  cat <<EOT
server: $1
hooks:
  purge: "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$2; echo purge \"\$0\" \"\$1\" >&3; read -r a <&3; [ \"\$a\" = ok ]' {tenant} {collection}"
  server_write: "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$2; echo write \"\$0\" \"\$1\" \"\$2\" \"\$3\" >&3; read -r a <&3; [ \"\$a\" = ok ]' {tenant} {collection} {document} {value_hex}"
EOT
}
hooks "tcp://127.0.0.1:$TCP" "$ADMIN" >"$DIR/target.yaml"
"$SYNCSIM" run "$SC/live_hooks.yaml" --target "$DIR/target.yaml" --no-progress >"$DIR/hooks.log" 2>&1
rc=$?
cat "$DIR/hooks.log"
[ $rc -eq 0 ] || { echo "FAIL: live-hooks exited $rc"; exit 1; }
grep -q "PASS   live-hooks" "$DIR/hooks.log" || { echo "FAIL: live-hooks did not pass"; exit 1; }

printf 'server: tcp://127.0.0.1:%s\nhooks:\n  purge: "echo no admin here; exit 3"\n  server_write: "true"\n' \
  "$TCP" >"$DIR/bad.yaml"
"$SYNCSIM" run "$SC/live_hooks.yaml" --target "$DIR/bad.yaml" --no-progress >"$DIR/bad.log" 2>&1
rc=$?
cat "$DIR/bad.log"
[ $rc -eq 1 ] || { echo "FAIL: a failing hook exited $rc, not 1"; exit 1; }
grep -q 'hook "purge" failed (exit 3: no admin here): an error of the run' "$DIR/bad.log" ||
  { echo "FAIL: the failing hook is not named"; exit 1; }

if [ -n "$FAULTY" ]; then
  "$FAULTY" --port 0 --port-file "$DIR/f.port" --admin-port 0 --admin-port-file "$DIR/f.admin" \
    --bug purge-no-notice >"$DIR/faulty.log" 2>&1 &
  pids="$pids $!"
  i=0
  while [ ! -s "$DIR/f.admin" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  hooks "tcp://127.0.0.1:$(cat "$DIR/f.port")" "$(cat "$DIR/f.admin")" >"$DIR/faulty.yaml"
  "$SYNCSIM" run "$SC/live_hooks.yaml" --target "$DIR/faulty.yaml" --no-progress \
    >"$DIR/caught.log" 2>&1
  rc=$?
  cat "$DIR/caught.log"
  [ $rc -eq 1 ] || { echo "FAIL: the faulty server's purge-no-notice exited $rc, not 1"; exit 1; }
  grep -q "PURGE-1" "$DIR/caught.log" || { echo "FAIL: PURGE-1 not named"; exit 1; }
fi
echo "OK"

#!/bin/sh
# hook_error.sh FAULTY_SERVER SYNCSIM
# The purge and definition cases of `check --server` with hooks that cannot
# work (D132, D175): with no hooks declared each is UNSUPPORTED naming the
# hook it needs; a hook that exits 1 and one that hangs past hook_timeout_s
# make the case an ERROR of the run (exit 2), never a FAIL of the target.
# Bounded: about 5 s.
set -u
server=$1 syncsim=$2
dir=$(mktemp -d) || exit 2
"$server" --port 0 --port-file "$dir/port" --jwt-secret hook-secret >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 2' HUP INT TERM
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || { echo "hook_error: no port file" >&2; exit 1; }
url="tcp://127.0.0.1:$(cat "$dir/port")"
status=0

printf 'jwt_secret: "hook-secret"\n' >"$dir/none.yaml"
timeout 30 "$syncsim" check --server "$url" --target "$dir/none.yaml" --filter purge \
  >"$dir/none.out" 2>&1
rc=$?
cat "$dir/none.out"
if [ "$rc" -ne 0 ] ||
  ! grep -Eq '^ +UNSUPPORTED +PURGE-1 +purge-notice-to-tenant-only' "$dir/none.out" ||
  ! grep -q 'needs the operator hook "purge"' "$dir/none.out"; then
  echo "hook_error: without hooks, the purge cases must be UNSUPPORTED naming the hook" >&2
  status=1
fi

cat >"$dir/bad.yaml" <<'YAML'
jwt_secret: "hook-secret"
hooks:
  purge: "echo no such collection; exit 1"
  define: "sleep 30"
hook_timeout_s: 1
YAML
timeout 40 "$syncsim" check --server "$url" --target "$dir/bad.yaml" --filter tenant-only \
  >"$dir/bad.out" 2>&1
rc=$?
cat "$dir/bad.out"
if [ "$rc" -ne 2 ] ||
  ! grep -Eq '^ +ERROR +PURGE-1 +purge-notice-to-tenant-only' "$dir/bad.out" ||
  ! grep -Eq '^ +ERROR +DEF-4 +definition-to-tenant-only' "$dir/bad.out" ||
  ! grep -q 'exit 1: no such collection' "$dir/bad.out" ||
  ! grep -q 'no end within 1' "$dir/bad.out" ||
  grep -Eq '^ +(FAIL|TIMEOUT) ' "$dir/bad.out"; then
  echo "hook_error: failing hooks must be ERRORs of the run (exit 2), not FAILs" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "hook_error: unsupported without hooks, ERROR on a failing or hanging hook"
exit "$status"

#!/bin/sh
# matrix.sh BUILD_DIR [server|client|both] [OUT_DIR]
# Runs today's `syncsim check` against every defect of faulty_server
# (`check --server`, all cases) and faulty_client (`check --client --exec`,
# all cases) and prints one markdown row per defect: side, defect, family,
# rule broken, and the verdict:
#   caught (right rule)  a FAIL/TIMEOUT case of that rule, or a MUST finding
#                        of that rule inside a failing case
#   caught (other: R..)  failing cases, none naming the rule
#   not caught           every case passed
# Raw outputs stay in OUT_DIR (default: a temporary directory, printed).
# Takes about 1 min for the server side and 8 min for the client side.
set -u
build=${1:?usage: matrix.sh BUILD_DIR [server|client|both] [OUT_DIR]}
side=${2:-both}
out=${3:-$(mktemp -d)}
mkdir -p "$out"
syncsim=$build/syncsim
server=$build/tests/faulty/faulty_server
client=$build/tests/faulty/faulty_client
secret=faulty-matrix-secret

classify() {  # FILE RULE
  if grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]+$2[[:space:]]" "$1" ||
    grep -Eq "(finding:|checker found) $2 \(MUST\)" "$1"; then
    echo "caught (right rule)"
  elif grep -Eq "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]" "$1"; then
    others=$(grep -E "^[[:space:]]*(FAIL|TIMEOUT)[[:space:]]" "$1" | awk '{print $2}' | sort -u |
      tr '\n' ' ' | sed 's/ $//')
    echo "caught (other: $others)"
  else
    echo "not caught"
  fi
}

echo "| side | defect | family | rule broken | today's check |"
echo "|---|---|---|---|---|"
if [ "$side" != client ]; then
  "$server" --list-bugs | while read -r bug rule family; do
    rm -f "$out/port" "$out/admin"
    "$server" --port 0 --port-file "$out/port" --bug "$bug" --jwt-secret "$secret" \
      --admin-port 0 --admin-port-file "$out/admin" >/dev/null 2>&1 &
    pid=$!
    tries=0
    while { [ ! -s "$out/port" ] || [ ! -s "$out/admin" ]; } && [ "$tries" -lt 50 ]; do
      tries=$((tries + 1))
      sleep 0.1
    done
    # The target file: the JWT secret (cases minting tokens of two tenants)
    # and hooks reaching the admin port (the purge and definition cases, D175).
    sh "$(dirname "$0")/hook_target.sh" "$syncsim" "$(cat "$out/port")" "$(cat "$out/admin")" \
      "$secret" >"$out/target.$bug.yaml"
    timeout 120 "$syncsim" check --target "$out/target.$bug.yaml" \
      --timeout-ms 1000 --time-scale 0.3 >"$out/server.$bug.out" 2>&1
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "| server | \`$bug\` | $family | $rule | $(classify "$out/server.$bug.out" "$rule") |"
  done
fi
if [ "$side" != server ]; then
  "$client" --list-bugs | while read -r bug rule family; do
    timeout 300 "$syncsim" check --client --listen tcp://127.0.0.1:0 --jwt-secret "$secret" \
      --connect-timeout-ms 5000 --exec "$client --bug $bug" >"$out/client.$bug.out" 2>&1
    echo "| client | \`$bug\` | $family | $rule | $(classify "$out/client.$bug.out" "$rule") |"
  done
fi
echo "raw outputs: $out" >&2

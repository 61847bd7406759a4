#!/bin/sh
# live_faulty.sh FAULTY_SERVER SYNCSIM BUG RULE SCENARIO...
# Starts FAULTY_SERVER with --bug BUG (and an admin port and a JWT secret),
# writes a target file whose hooks reach its admin port through `syncsim
# admin`, and runs the given live scenarios against it over TCP (`syncsim run
# --target`). BUG none must pass them all (exit 0); any other bug must make
# the run exit 1 with a failure or a MUST finding naming RULE. Bounded: it
# never hangs.
set -u
if [ $# -lt 5 ]; then
  echo "usage: $0 FAULTY_SERVER SYNCSIM BUG RULE SCENARIO..." >&2
  exit 2
fi
server=$1 syncsim=$2 bug=$3 rule=$4
shift 4
. "$(dirname "$0")/lib.sh"  # faulty_workdir, start_faulty_server, live_verdict
faulty_workdir

secret=live-faulty-secret
start_faulty_server live_faulty "$server" --bug "$bug" --admin-port 0 \
  --admin-port-file "$dir/admin" --jwt-secret "$secret"
admin="'$syncsim' admin tcp://127.0.0.1:$(cat "$dir/admin")"
cat >"$dir/target.yaml" <<EOT
server: tcp://127.0.0.1:$port
jwt_secret: "$secret"
hooks:
  purge: "$admin purge {tenant} {collection}"
  server_write: "$admin write {tenant} {collection} {document} {value_hex}"
  define: "$admin define {tenant} {type} {name} {action} {json}"
EOT

limit=
if command -v timeout >/dev/null 2>&1; then limit="timeout 400"; fi
$limit "$syncsim" run "$@" --target "$dir/target.yaml" --no-progress >"$dir/run.out" 2>&1
live_verdict live_faulty "$bug" "$rule" $? "$dir/run.out"

#!/bin/bash
# admin_smoke.sh FAULTY_SERVER SYNCSIM
# The clean faulty_server's admin port drives a write, a purge and a
# definition while the reference client (`syncsim client`) is subscribed: the
# client must see them (ShapeDelta 0x22, CollectionPurged 0x14, DefinitionSync
# 0x70 in its trace), every admin line is answered, and the client's checker
# makes no MUST finding (exit 0). Bounded: about 3 s.
set -u
server=$1 syncsim=$2
dir=$(mktemp -d) || exit 2
spid=
cleanup() {
  if [ -n "$spid" ]; then
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
"$server" --port 0 --port-file "$dir/port" --admin-port 0 --admin-port-file "$dir/admin" \
  >"$dir/server.log" 2>&1 &
spid=$!
for _ in $(seq 50); do
  [ -s "$dir/port" ] && break
  sleep 0.1
done
[ -s "$dir/port" ] || { echo "admin_smoke: no port file" >&2; exit 1; }
"$syncsim" client --connect "tcp://127.0.0.1:$(cat "$dir/port")" --shape orders --writes 5 \
  --write-every-ms 50 --duration 3 --trace "$dir/trace" >"$dir/client.out" 2>&1 &
cpid=$!
sleep 1
exec 3<>"/dev/tcp/127.0.0.1/$(cat "$dir/admin")"
printf 'write 0 orders doc-x 0a0b\npurge 0 orders\ndefine 0 function f put {"a":1}\n' >&3
answers=$(timeout 2 head -3 <&3)
exec 3>&-
wait "$cpid"
rc=$?
cat "$dir/client.out"
echo "admin answers: $answers"
status=0
[ "$rc" -eq 0 ] || { echo "admin_smoke: the reference client exited $rc" >&2; status=1; }
[ "$(echo "$answers" | grep -c '^ok$')" -eq 3 ] || { echo "admin_smoke: not 3 ok" >&2; status=1; }
for code in 22 14 70; do
  grep -q "\"from\":\"server\",\"frame_hex\":\"$code" "$dir/trace" ||
    { echo "admin_smoke: no server frame 0x$code reached the client" >&2; status=1; }
done
exit $status

#!/bin/sh
# wireshark.dissector_matches_decode: simulated runs written as pcap
# (`syncsim run --pcap`) and opened by tshark with wireshark/syncsim.lua must
# show every frame's fields exactly as `syncsim decode --flat` prints the
# frames the run's trace says were written -- every field of every message
# type the scenarios send, in order.
# Usage: tshark_matches_decode.sh SYNCSIM SOURCE_DIR WORK_DIR
set -eu
syncsim=$1 src=$2 out=$3
tshark=$(command -v tshark || true)
if [ -z "$tshark" ]; then
  echo "tshark is not installed (scripts/test.sh installs it: apt-get install tshark)" >&2
  exit 1
fi
mkdir -p "$out"
sep=$(printf '\037')
: > "$out/types"
for s in writes-converge constraint-reject resync-checksum-mismatch presence-broadcast-and-leave \
         timeseries-push-ack definition-sync token-refresh-ahead-of-expiry purge-during-pushes \
         throttle-backlog-builds vector-clock-exchange resync-gap-dropped-delta shape-resubscribe \
         rate-limit-reject-hint; do
  "$syncsim" run "$src/scenarios/$s.yaml" --seed 1 --trace "$out/$s.jsonl" --pcap "$out/$s.pcap" >/dev/null
  grep '"frame_hex"' "$out/$s.jsonl" | grep -v '"seen":"received"' > "$out/$s.written.jsonl"
  "$syncsim" decode --flat --no-validate "$out/$s.written.jsonl" > "$out/$s.expected"
  "$tshark" -n -r "$out/$s.pcap" -X lua_script:"$src/wireshark/syncsim.lua" -Y syncsim \
    -T fields -e syncsim.field -E occurrence=a -E aggregator="$sep" 2>"$out/$s.tshark.log" |
    tr "$sep" '\n' | grep -v '^$' > "$out/$s.got" || true
  if [ ! -s "$out/$s.expected" ]; then
    echo "$s: syncsim decode printed nothing" >&2
    exit 1
  fi
  if ! cmp -s "$out/$s.expected" "$out/$s.got"; then
    echo "$s: tshark's fields differ from syncsim decode --flat (< decode, > tshark):" >&2
    diff "$out/$s.expected" "$out/$s.got" | head -20 >&2
    cat "$out/$s.tshark.log" >&2
    exit 1
  fi
  grep '^msg_type=' "$out/$s.expected" >> "$out/types"
done
types=$(sort -u "$out/types" | wc -l)
echo "tshark decoded $(cat "$out"/*.expected | wc -l) fields of $(wc -l < "$out/types") frames, $types message types, as syncsim decode does"
